/**
 * One connection per member (`lib/inbox/member_connections.ts`): a real member's scheduler, and
 * between it and this process a forward that counts and cuts connections as ssh's would.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ServerConnectionError } from "../lib/errors.ts";
import { Inbox } from "../lib/inbox/inbox.ts";
import { askMember } from "../lib/inbox/ask_member.ts";
import { closeMemberConnections } from "../lib/inbox/member_connections.ts";
import { schedulerState } from "../lib/inbox/scheduler_service.ts";
import { Ssh } from "../lib/ssh.ts";
import type { Message } from "../lib/inbox/message.ts";
import { RemoteInbox } from "../lib/inbox/remote_inbox.ts";
import { send, type SendOptions } from "../lib/inbox/send.ts";
import { eventually, LocalMember } from "./helpers/local_member.ts";
import { serverSocketOf, SocketForward } from "./helpers/socket_forward.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const SEND = fileURLToPath(new URL("../lib/inbox/send.ts", import.meta.url));

/**
 * A member with its scheduler running, a sender's home, and a forward in front of the member:
 * routes and RemoteInbox reach the member only through the forward.
 */
async function memberBehindForward() {
  const member = await LocalMember.create({ role: "captain", name: "far" });
  const sender = await LocalMember.create({ role: "captain", name: "near" });
  const front = await tempDir("ohc-conn-front-");
  let scheduler = member.spawnScheduler();
  await member.schedulerAnswers();
  const forward = await SocketForward.inFrontOf(front.path, serverSocketOf(member.home));
  const route = () => Promise.resolve({ destination: front.path, viaDestination: false });
  return {
    member,
    sender,
    forward,
    front: front.path,
    route,
    /** Sends from this process through the forward. */
    to: (command: string, options: SendOptions = {}) =>
      send(member.address, command, { home: sender.home, route, ...options }) as Promise<Message>,
    /** The member's inbox, through the forward. */
    inbox: new RemoteInbox(member.address, front.path),
    /** The member's messages, asked on its own socket (not through the forward). */
    async stored(): Promise<Message[]> {
      return await (await Inbox.open({ home: member.home })).list();
    },
    /** Kills the member's scheduler (and starts none). */
    async stopScheduler(): Promise<void> {
      scheduler.kill("SIGKILL");
      await scheduler.status;
    },
    /** Kills the member's scheduler and starts another. */
    async restartScheduler(): Promise<void> {
      scheduler.kill("SIGKILL");
      await scheduler.status;
      scheduler = member.spawnScheduler();
      await member.schedulerAnswers();
    },
    async [Symbol.asyncDispose]() {
      closeMemberConnections();
      await forward[Symbol.asyncDispose]();
      await front[Symbol.asyncDispose]();
      await sender[Symbol.asyncDispose]();
      await member[Symbol.asyncDispose]();
    },
  };
}

Deno.test("fifty sends at once from one process to one member ride one connection", async () => {
  await using world = await memberBehindForward();
  const sent = await Promise.all(
    Array.from({ length: 50 }, (_, i) => world.to(`echo ${i}`)),
  );
  assert.equal(new Set(sent.map((message) => message.id)).size, 50);
  // The inbox calls ride it too.
  assert.equal((await world.inbox.get(sent[7].id)).command, "echo 7");
  assert.equal((await world.inbox.list({ limit: 100 })).length, 50);
  assert.equal(world.forward.connections, 1, "one connection for every send and call");
  assert.equal(world.forward.seen("deliver").length, 50);
  assert.equal(world.forward.open, 1, "kept open for the next call");
  assert.equal((await world.stored()).length, 50);
});

Deno.test("a delivery whose connection broke is sent again with its id and lands once", async () => {
  await using world = await memberBehindForward();
  await world.to("true"); // the connection is made and kept
  // Cut once the member has stored it and answered: the answer is lost, the message is there.
  world.forward.cutNext("deliver", "after");
  const id = "aaaa000000000021";
  const message = await world.to('echo ran >> "$HOME/ran.log"', { id });
  assert.equal(message.id, id);
  const deliveries = world.forward.seen("deliver").filter((request) => request.args.id === id);
  assert.deepEqual(deliveries.map((request) => request.connection), [1, 2], "sent again, once");
  // Cut before the member saw it: sent again, it is delivered for the first time.
  world.forward.cutNext("deliver", "before");
  const again = await world.to('echo again >> "$HOME/ran.log"', { id: "aaaa000000000022" });
  assert.equal(again.id, "aaaa000000000022");
  assert.equal(world.forward.connections, 3);
  await world.inbox.waitFor(again.id, { timeoutMs: 20_000 });
  await world.inbox.waitFor(id, { timeoutMs: 20_000 });
  const ran = await Deno.readTextFile(join(world.member.home, "ran.log"));
  assert.deepEqual(ran.split("\n").sort(), ["", "again", "ran"], "each ran once");
  const stored = await world.stored();
  assert.equal(stored.filter((m) => m.id === id).length, 1);
  assert.equal(stored.length, 3);
});

Deno.test("a cancel whose connection broke before its answer is not sent again", async () => {
  await using world = await memberBehindForward();
  const long = await world.to("sleep 30");
  await eventually(
    async () => (await world.inbox.get(long.id)).status === "running" || undefined,
    20_000,
    "the command to start",
  );
  world.forward.cutNext("cancel", "after");
  await assert.rejects(world.inbox.cancel(long.id), ServerConnectionError);
  assert.equal(world.forward.seen("cancel").length, 1, "asked once");
  // It was carried out: the caller looks, as it would after any lost answer.
  const stopped = await world.inbox.get(long.id);
  assert.equal(stopped.status, "error");
  assert.equal(world.forward.connections, 2, "the look-up went on a new connection");
});

Deno.test("a kept connection that broke while idle is made again, even for a cancel", async () => {
  await using world = await memberBehindForward();
  await world.to("sleep 30");
  const queued = await world.to("echo queued");
  await world.restartScheduler(); // the kept connection ends with the old scheduler
  assert.equal(world.forward.open, 0);
  // Nothing was sent on the broken one, so even a call that is never sent twice goes.
  const cancelled = await world.inbox.cancel(queued.id);
  assert.equal(cancelled.message.id, queued.id); // whatever became of it meanwhile
  assert.equal(world.forward.connections, 2);
  assert.equal(world.forward.seen("cancel").length, 1);
});

Deno.test("a call given up on leaves the others on its connection be", async () => {
  await using world = await memberBehindForward();
  const long = await world.to("sleep 30");
  const stop = new AbortController();
  const followed = world.inbox.follow(long.id, () => {}, { signal: stop.signal });
  const waited = world.inbox.waitFor(long.id, { timeoutMs: 60_000 });
  await eventually(
    () => Promise.resolve(world.forward.seen("wait").length === 1 || undefined),
    10_000,
    "the wait to pass the forward",
  );
  assert.equal(world.forward.seen("follow").length, 1);
  stop.abort(new Error("stopped following"));
  await assert.rejects(followed, /stopped following/);
  assert.equal(world.forward.open, 1, "the wait still rides it");
  // New calls go on a new connection; the old one closes once the wait has its answer.
  await world.inbox.cancel(long.id);
  assert.equal((await waited).status, "error");
  assert.equal(world.forward.connections, 2);
  await eventually(
    () => Promise.resolve(world.forward.open === 1 || undefined),
    10_000,
    "the first connection to close",
  );
});

Deno.test("closing the kept connections lets them go; the next send makes a new one", async () => {
  await using world = await memberBehindForward();
  await world.to("true");
  assert.equal(world.forward.open, 1);
  closeMemberConnections();
  await eventually(
    () => Promise.resolve(world.forward.open === 0 || undefined),
    10_000,
    "the kept connection to close",
  );
  await world.to("true");
  assert.equal(world.forward.connections, 2);
});

Deno.test("a process whose kept connection is idle exits by itself", async () => {
  await using world = await memberBehindForward();
  // The script holds the process two seconds with a timer of its own, then ends without
  // closing anything: the kept connection must not hold it until it closes when idle (30 s).
  const script = `
    import { send } from ${JSON.stringify(SEND)};
    const route = () => Promise.resolve({ destination: ${
    JSON.stringify(world.front)
  }, viaDestination: false });
    const message = await send(${JSON.stringify(world.member.address)}, "true", {
      home: ${JSON.stringify(world.sender.home)},
      route,
    });
    console.log(JSON.stringify({ id: message.id, at: Date.now() }));
    setTimeout(() => {}, 2_000);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let printed = "";
  while (!printed.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    printed += value;
  }
  const { at } = JSON.parse(printed);
  assert.equal(world.forward.open, 1, "kept while the process lives");
  await reader.cancel();
  const status = await child.status;
  const exited = Date.now();
  const stderr = await new Response(child.stderr).text();
  assert.equal(status.code, 0, stderr);
  assert.ok(exited - at < 10_000, `exited ${exited - at} ms after its last send`);
  await eventually(
    () => Promise.resolve(world.forward.open === 0 || undefined),
    10_000,
    "the connection to end with the process",
  );
});

Deno.test("a reader's questions ride a kept connection per answer size, apart from sends, and never start a server", async () => {
  await using world = await memberBehindForward();
  const member = { destination: world.front, address: world.member.address };
  const ssh = new Ssh();
  const report = () =>
    askMember(member, ssh, "report", {}, { timeoutMs: 10_000, maxReplyBytes: 1 << 20 });
  for (let i = 0; i < 3; i++) {
    assert.equal((await report())?.value.address, world.member.address);
  }
  assert.equal(world.forward.connections, 1, "three reports, one connection");
  const lastTask = await askMember(member, ssh, "lastTask", {}, {
    timeoutMs: 10_000,
    maxReplyBytes: 4 << 20,
  });
  assert.ok(lastTask, "a question of another size is answered");
  assert.equal(world.forward.connections, 2, "on a connection of its own size");
  await world.to("true");
  assert.equal(world.forward.connections, 3, "a send does not ride a reader's connection");
  assert.equal((await report())?.value.address, world.member.address);
  assert.equal(world.forward.connections, 3, "the report's connection is still kept");
  // The member's scheduler stops: the reader is told nothing (its caller reads the files) and
  // no scheduler is started for it.
  await world.stopScheduler();
  assert.equal(await report(), undefined);
  const state = await schedulerState(await Inbox.open({ home: world.member.home }));
  assert.equal(state.running, false, "no scheduler was started");
});
