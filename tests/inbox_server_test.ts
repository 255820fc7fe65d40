/**
 * The scheduler as the inbox server: it holds the database, answers on its socket (queries,
 * follows, settings), and runs more than one command at once only when asked.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ServerConnection } from "../lib/inbox/server_connection.ts";
import { type OutputChunk, serverHello } from "../lib/inbox/server_protocol.ts";
import { writeAll } from "../lib/lines.ts";
import { socketPathOf } from "../lib/inbox/socket_path.ts";
import { LocalMember } from "./helpers/local_member.ts";
import type { Inbox } from "../lib/inbox/inbox.ts";
import { tempInbox } from "./helpers/temp_inbox.ts";
import { Scheduler } from "../lib/inbox/scheduler.ts";
import { SentMessage } from "../lib/inbox/sent_message.ts";
import { InboxServer } from "../lib/inbox/server.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const DUCKDB = new URL("../lib/duckdb.ts", import.meta.url).href;

async function serving(work: (inbox: Inbox, scheduler: Scheduler) => Promise<void>) {
  await using inbox = await tempInbox("ohc-server-", { role: "captain", name: "srv" });
  const scheduler = await Scheduler.start(inbox);
  try {
    await work(inbox, scheduler);
  } finally {
    scheduler.stop();
    await scheduler.finished;
  }
}

Deno.test("the server holds the database: its socket is private and a second opener waits", async () => {
  await serving(async (inbox) => {
    assert.equal((await Deno.stat(socketPathOf(inbox.database))).mode! & 0o777, 0o600);
    // Another process (a person's duckdb shell, say) cannot open the file meanwhile.
    const opener = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const { DuckDBInstance } = await import(${JSON.stringify(DUCKDB)});
         await DuckDBInstance.create(${JSON.stringify(inbox.database)});`,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(opener.code, 1);
    assert.match(new TextDecoder().decode(opener.stderr), /Could not set lock on file/);
    // Everything else goes through the server meanwhile.
    const message = await inbox.deliver({ recipient: inbox.address, command: "echo hi" });
    assert.equal((await inbox.waitFor(message.id, { timeoutMs: 20_000 })).result, "hi\n");
  });
});

Deno.test("inbox sql answers read-only queries through the server and refuses changes", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "sql" });
  member.spawnScheduler();
  await member.schedulerAnswers();
  const sent = await member.cli(["inbox", "send", member.address, "echo 1", "--wait"]);
  assert.equal(sent.code, 0, sent.stderr);
  const counted = await member.cli([
    "inbox",
    "sql",
    "SELECT status, count(*) AS n FROM inbox GROUP BY 1",
    "--json",
  ]);
  assert.equal(counted.code, 0, counted.stderr);
  assert.deepEqual(JSON.parse(counted.stdout), {
    columns: ["status", "n"],
    rows: [["done", "1"]],
    truncated: false,
  });
  const table = await member.cli(["inbox", "sql", "SELECT command FROM inbox"]);
  assert.equal(table.stdout, "command\necho 1\n");
  for (
    const [query, why] of [
      ["DELETE FROM inbox", /Only queries are allowed/],
      ["SELECT 1; SELECT 2", /exactly one statement/],
      ["SELECT nope FROM inbox", /nope/],
      ["", /Give a query/],
    ]
  ) {
    const refused = await member.cli(["inbox", "sql", query as string]);
    assert.equal(refused.code, 2, `${query}: ${refused.stderr}`);
    assert.match(refused.stderr, why as RegExp);
  }
  // Refused before DuckDB acts: preparing EXPORT DATABASE alone would make its directory.
  const exported = join(member.home, "exported");
  for (const statement of [`EXPORT DATABASE '${exported}'`, `COPY inbox TO '${exported}.csv'`]) {
    const refused = await member.cli(["inbox", "sql", statement]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /Only queries are allowed/);
  }
  await assert.rejects(Deno.stat(exported), Deno.errors.NotFound);
  await assert.rejects(Deno.stat(`${exported}.csv`), Deno.errors.NotFound);
  const still = await member.cli(["inbox", "list", "--json"]);
  assert.equal(JSON.parse(still.stdout).length, 1, "nothing was deleted");
});

Deno.test("inbox sql works without a scheduler, on the file itself", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "sql-direct" });
  const sent = await member.cli(["inbox", "send", member.address, "true"]);
  assert.equal(sent.code, 0, sent.stderr);
  assert.equal((await member.cli(["scheduler", "stop"])).code, 0);
  const counted = await member.cli(["inbox", "sql", "SELECT count(*) FROM inbox", "--json"]);
  assert.equal(counted.code, 0, counted.stderr);
  assert.equal(JSON.parse(counted.stdout).rows[0][0], "1");
});

Deno.test("follow gives output as it is written; a late follower gets what was kept first", async () => {
  await serving(async (inbox) => {
    const message = await inbox.deliver({
      recipient: inbox.address,
      command: "echo first; echo to-err >&2; sleep 2; echo second; exit 3",
    });
    const heard: { chunk: OutputChunk; at: number }[] = [];
    const following = inbox.follow(message.id, (chunk) => heard.push({ chunk, at: Date.now() }));
    const deadline = Date.now() + 10_000;
    while (!heard.some(({ chunk }) => chunk.text.includes("first")) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const late: OutputChunk[] = [];
    const lateFollowing = inbox.follow(message.id, (chunk) => late.push(chunk));
    const finished = await following;
    const finishedAt = Date.now();
    assert.equal(finished.exitCode, 3);
    const firstAt = heard.find(({ chunk }) => chunk.text.includes("first"))!.at;
    assert.ok(finishedAt - firstAt > 1000, "the first line came while the command still ran");
    const text = (chunks: OutputChunk[], stream: string) =>
      chunks.filter((chunk) => chunk.stream === stream).map((chunk) => chunk.text).join("");
    assert.equal(text(heard.map(({ chunk }) => chunk), "stdout"), "first\nsecond\n");
    assert.equal(text(heard.map(({ chunk }) => chunk), "stderr"), "to-err\n");
    await lateFollowing;
    assert.equal(text(late, "stdout"), "first\nsecond\n", "kept output, then the live rest");
    // After the end, a follower gets the stored output at once.
    const after: OutputChunk[] = [];
    assert.equal((await inbox.follow(message.id, (chunk) => after.push(chunk))).exitCode, 3);
    assert.equal(text(after, "stdout"), "first\nsecond\n");
  });
});

Deno.test("inbox send --follow and inbox follow print output live and exit with its code", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "follower" });
  const run = await member.cli([
    "inbox",
    "send",
    member.address,
    "echo out; echo err >&2; exit 4",
    "--follow",
  ]);
  assert.equal(run.code, 4, run.stderr);
  assert.equal(run.stdout, "out\n");
  assert.match(run.stderr, /^err\n/);
  const id = JSON.parse((await member.cli(["inbox", "list", "--json"])).stdout)[0].id;
  const again = await member.cli(["inbox", "follow", id]);
  assert.equal(again.code, 4);
  assert.equal(again.stdout, "out\n");
  const json = await member.cli(["inbox", "follow", id, "--json"]);
  const lines = json.stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(lines.slice(0, -1), [
    { stream: "stdout", text: "out\n" },
    { stream: "stderr", text: "err\n" },
  ]);
  assert.equal(lines.at(-1).message.exitCode, 4);
  const unknown = await member.cli(["inbox", "follow", "ffffffff"]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^error: Cannot find message "ffffffff"/);
});

Deno.test("one command at a time by default; scheduler concurrency N runs N at once", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "parallel" });
  const startGap = async () => {
    const ids = [];
    for (let i = 0; i < 2; i++) {
      const sent = await member.cli(["inbox", "send", member.address, "sleep 1", "--json"]);
      assert.equal(sent.code, 0, sent.stderr);
      ids.push(JSON.parse(sent.stdout).id);
    }
    for (const id of ids) assert.equal((await member.cli(["inbox", "wait", id])).code, 0);
    const [a, b] = await Promise.all(
      ids.map(async (id) =>
        Date.parse(JSON.parse((await member.cli(["inbox", "show", id, "--json"])).stdout).startedAt)
      ),
    );
    return Math.abs(b - a);
  };
  assert.equal((await member.cli(["scheduler", "concurrency"])).stdout, "1\n");
  assert.ok(await startGap() >= 1000, "the second waited for the first");
  const set = await member.cli(["scheduler", "concurrency", "2", "--json"]);
  assert.deepEqual(JSON.parse(set.stdout), { maxRunning: 2 });
  assert.ok(await startGap() < 900, "both ran at once");
  assert.equal((await member.cli(["scheduler", "stop"])).code, 0);
  assert.equal((await member.cli(["scheduler", "concurrency"])).stdout, "2\n", "it is kept");
  for (const bad of ["0", "65", "two", "1.5"]) {
    const refused = await member.cli(["scheduler", "concurrency", bad]);
    assert.equal(refused.code, 2, bad);
    assert.match(refused.stderr, /give a whole number from 1 to 64/);
  }
});

Deno.test("a long query holds up no delivery, and stops when its client leaves", async () => {
  await serving(async (inbox) => {
    using server = await ServerConnection.connect(socketPathOf(inbox.database), inbox.address);
    assert.ok(server);
    const leave = new AbortController();
    const querying = server.call("query", {
      sql: "SELECT count(*) FROM range(100000000000)",
    }, { signal: leave.signal, timeoutMs: 120_000 }).catch((error) => error);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the query is under way
    const began = Date.now();
    const message = await inbox.deliver({ recipient: inbox.address, command: "true" });
    assert.ok(Date.now() - began < 2000, `a delivery waited ${Date.now() - began} ms`);
    assert.equal((await inbox.waitFor(message.id, { timeoutMs: 20_000 })).exitCode, 0);
    leave.abort();
    await querying;
    // Interrupted, the server's reading connection is free again for the next query.
    const next = await inbox.query("SELECT 42 AS answer");
    assert.deepEqual(next.rows, [[42]]);
  });
});

Deno.test("a SentMessage's output() yields the pieces as written, and the server reports counts", async () => {
  await serving(async (inbox) => {
    const delivered = await inbox.deliver({
      recipient: inbox.address,
      command: "echo one; sleep 0.3; echo two >&2; exit 2",
    });
    const sent = new SentMessage(delivered, inbox);
    const pieces: string[] = [];
    const iterator = sent.output();
    for (let step = await iterator.next();; step = await iterator.next()) {
      if (step.done) {
        assert.equal(step.value.exitCode, 2, "the generator returns the finished message");
        break;
      }
      pieces.push(`${step.value.stream}:${step.value.text}`);
    }
    assert.deepEqual(pieces, ["stdout:one\n", "stderr:two\n"]);
    using server = await ServerConnection.connect(socketPathOf(inbox.database), inbox.address);
    const report = await server!.call("report", {});
    assert.equal(report.address, inbox.address);
    assert.equal(report.schedulerRunning, true);
    assert.equal(report.counts.error, 1);
  });
});

Deno.test("a follower that stops reading is let go; the server goes on serving", async () => {
  await serving(async (inbox) => {
    const message = await inbox.deliver({
      recipient: inbox.address,
      command: "head -c 150000000 /dev/zero | tr '\\0' x",
    });
    // A raw client: asks to follow, then reads nothing while 150 MB of output is written.
    const raw = await Deno.connect({ transport: "unix", path: socketPathOf(inbox.database) });
    const request = { v: 1, id: 1, op: "follow", args: { id: message.id } };
    await raw.write(new TextEncoder().encode(JSON.stringify(request) + "\n"));
    assert.equal((await inbox.waitFor(message.id, { timeoutMs: 120_000 })).exitCode, 0);
    assert.equal((await inbox.counts()).done, 1, "other clients are served");
    // What it left unread ends before the answer: the server hung up on it.
    let tail = "";
    const decoder = new TextDecoder();
    for await (const chunk of raw.readable) tail = (tail + decoder.decode(chunk)).slice(-4096);
    assert.doesNotMatch(tail, /"ok":true/, "the follower was let go, not sent everything");
  });
});

Deno.test("a server holds so many clients and unfinished bytes, and frees them as clients go", async () => {
  await using dir = await tempDir("ohc-limits-");
  const path = join(dir.path, "s.sock");
  using server = InboxServer.listen(
    path,
    { hello: () => Promise.resolve(serverHello("test@limits", 0)) },
    { maxClients: 3, maxLineBytes: 1024 * 1024, maxBufferedBytes: 1024 * 1024 },
  );
  const connect = () => Deno.connect({ transport: "unix", path });
  // Whether the server let go of a connection: its read ends, where a served one waits.
  const letGo = async (conn: Deno.Conn) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ended = await Promise.race([
      conn.read(new Uint8Array(1024)).then((n) => n === null, () => true),
      new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), 500)),
    ]);
    clearTimeout(timer);
    return ended;
  };
  const send = async (conn: Deno.Conn, bytes: Uint8Array) => {
    await writeAll(conn, bytes).catch(() => {}); // a client let go cannot write the rest
    await new Promise((resolve) => setTimeout(resolve, 100)); // the server reads it
  };
  const unfinished = (bytes: number) => new Uint8Array(bytes).fill(120);

  const held = [await connect(), await connect(), await connect()];
  const fourth = await connect();
  assert.equal(await letGo(fourth), true, "a fourth client is turned away");
  fourth.close();
  // 600 KiB unfinished on two clients: the second passes the shared budget and is let go.
  await send(held[0], unfinished(600 * 1024));
  await send(held[1], unfinished(600 * 1024));
  assert.equal(await letGo(held[1]), true, "no room left for a second 600 KiB");
  assert.equal(await letGo(held[0]), false);
  assert.equal(server.clients, 2);
  // A line past the longest request is let go too, whatever the budget.
  held[0].close();
  await new Promise((resolve) => setTimeout(resolve, 100));
  await send(held[2], unfinished(1024 * 1024 + 1));
  assert.equal(await letGo(held[2]), true);
  // Everything those clients held came back: a new one may fill the whole budget, then ask.
  const fresh = await connect();
  await send(fresh, unfinished(1000 * 1024));
  await send(fresh, new TextEncoder().encode(`\n{"v":1,"id":7,"op":"hello"}\n`));
  const reply = new Uint8Array(1024);
  const read = await fresh.read(reply);
  assert.match(new TextDecoder().decode(reply.subarray(0, read ?? 0)), /"id":7,"ok":true/);
  for (const conn of [...held, fresh]) {
    try {
      conn.close();
    } catch {
      // closed by the server
    }
  }
});

Deno.test("a server lets go of a client that leaves more replies unread than its limit", async () => {
  await using dir = await tempDir("ohc-limits-");
  const path = join(dir.path, "s.sock");
  const big = "x".repeat(512 * 1024);
  using server = InboxServer.listen(
    path,
    { hello: () => Promise.resolve({ ...serverHello("test@limits", 0), address: big }) },
    { maxQueuedBytes: 1024 * 1024 },
  );
  const client = await Deno.connect({ transport: "unix", path });
  // Ten answers of half a MiB, never read: past what the socket holds, they queue at the server.
  const asks = Array.from({ length: 10 }, (_, id) => `{"v":1,"id":${id},"op":"hello"}\n`);
  await writeAll(client, new TextEncoder().encode(asks.join("")));
  const deadline = Date.now() + 10_000;
  while (server.clients > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(server.clients, 0, "the client that reads nothing was let go");
  client.close();
});
