/**
 * End to end over real SSH: two Unix users stand in for two VMs, each with its own home,
 * identity, inbox and scheduler, and the real CLI runs as them.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Message } from "../lib/inbox/message.ts";
import { eventually } from "./helpers/local_member.ts";
import { fixtureUser, run, SshWorld, sshWorldUnavailable } from "./helpers/sshd_world.ts";

const unavailable = sshWorldUnavailable();
if (unavailable) console.error(`skipping end-to-end inbox tests: ${unavailable}`);

async function fleetOfTwo(): Promise<SshWorld> {
  const world = await SshWorld.start({ vms: ["vm-a", "vm-b"] });
  await world.writeIdentity("vm-a", { role: "captain", name: "vm-a" });
  await world.writeIdentity("vm-b", { role: "captain", name: "vm-b" });
  return world;
}

async function show(world: SshWorld, vm: string, id: string): Promise<Message> {
  const run = await world.cli(vm, ["inbox", "show", id, "--json"]);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout);
}

/** `ohcommodore inbox send captain@vm-b <args...>`, run on vm-a. */
function sendToB(world: SshWorld, args: string[], stdin?: string) {
  return world.cli("vm-a", ["inbox", "send", "captain@vm-b", ...args], { stdin });
}

function e2e(name: string, fn: () => Promise<void>) {
  Deno.test({ name, fn, ignore: unavailable !== undefined, sanitizeResources: false });
}

e2e("a vm sends a command to another over ssh and --wait prints its output", async () => {
  await using world = await fleetOfTwo();
  world.spawnCli("vm-b", ["_scheduler"]);
  const run = await sendToB(world, ["whoami; pwd; echo to-stderr >&2; exit 5", "--wait"]);
  assert.equal(run.code, 5, run.stderr);
  assert.equal(run.stdout, `ohc-vm-b\n${world.vm("vm-b").home}\n`);
  assert.match(run.stderr, /to-stderr/);
  const listed = JSON.parse((await world.cli("vm-b", ["inbox", "list", "--json"])).stdout);
  assert.equal(listed.length, 1);
  assert.equal(listed[0].sender, "captain@vm-a");
  assert.equal(listed[0].recipient, "captain@vm-b");
  assert.equal(listed[0].exitCode, 5);
  const own = JSON.parse((await world.cli("vm-a", ["inbox", "list", "--json"])).stdout);
  assert.deepEqual(own, [], "nothing lands in the sender's inbox");
  // The long test home pushes control sockets to the short private fallback directory: one
  // shared connection, with the forward to vm-b's inbox server and what was learnt about it.
  const master = await world.exec("vm-a", ["bash", "-c", 'ls -A "/tmp/ohc-ssh-$(id -u)"']);
  // In any order: ls sorts the 40 hex of the control socket among the others.
  const names = master.stdout.trim().split("\n");
  const key = names.find((name) => /^[0-9a-f]{24}\.inbox\.sock$/.test(name))?.slice(0, 24);
  assert.deepEqual(
    names.filter((name) => !/^[0-9a-f]{40}$/.test(name)).sort(),
    [`${key}.inbox.json`, `${key}.inbox.lock`, `${key}.inbox.sock`],
    `no shared ssh connection with a forward: ${master.stdout}${master.stderr}`,
  );
  assert.equal(names.filter((name) => /^[0-9a-f]{40}$/.test(name)).length, 1, master.stdout);
});

e2e(
  "commands with quotes, $, backticks, newlines, unicode and 100 KB arrive byte-identical",
  async () => {
    await using world = await fleetOfTwo();
    world.spawnCli("vm-b", ["_scheduler"]);
    const awkward = `printf '%s|' 'single' "double" '$HOME' '\`date\`' 'a;b' "ünïcödé ⚓"\n` +
      `echo "line two: $((6 * 7))"`;
    const viaArgv = await sendToB(world, [awkward, "--wait"]);
    assert.equal(viaArgv.code, 0, viaArgv.stderr);
    assert.equal(viaArgv.stdout, "single|double|$HOME|`date`|a;b|ünïcödé ⚓|line two: 42\n");
    const big = `cat <<'EOF' | wc -c\n${"0123456789abcdef".repeat(6400)}\nEOF`;
    const viaStdin = await sendToB(world, ["-", "--json"], big);
    assert.equal(viaStdin.code, 0, viaStdin.stderr);
    const stored = await show(world, "vm-b", JSON.parse(viaStdin.stdout).id);
    assert.equal(stored.command, big);
    const ran = await world.cli("vm-b", ["inbox", "send", "captain@vm-b", "true", "--wait"]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal((await show(world, "vm-b", stored.id)).result?.trim(), String(16 * 6400 + 1));
  },
);

e2e("the recipient refuses a message addressed to another role", async () => {
  await using world = await fleetOfTwo();
  const run = await world.cli("vm-a", ["inbox", "send", "commodore@vm-b", "true"]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^error: captain@vm-b refused a message for "commodore@vm-b"/);
  const listed = JSON.parse((await world.cli("vm-b", ["inbox", "list", "--json"])).stdout);
  assert.deepEqual(listed, []);
});

e2e("an unreachable host is named in one error line, without a stack trace", async () => {
  await using world = await fleetOfTwo();
  const run = await world.cli("vm-a", ["inbox", "send", "captain@nowhere.invalid", "true"]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^error: Cannot reach "nowhere.invalid" over ssh: .*nowhere\.invalid/);
  assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
});

e2e("a command that outlives --timeout ends with exit 124 and says so", async () => {
  await using world = await fleetOfTwo();
  world.spawnCli("vm-b", ["_scheduler"]);
  const run = await sendToB(world, ["sleep 20", "--timeout", "1s", "--wait"]);
  assert.equal(run.code, 124, run.stderr);
  assert.match(run.stderr, /timed out after 1s; its process group was killed/);
});

e2e(
  "20 concurrent senders x 10 messages during a busy scheduler all land and run once",
  async () => {
    await using world = await fleetOfTwo();
    world.spawnCli("vm-b", ["_scheduler"]);
    const busy = await sendToB(world, ["sleep 3"]);
    assert.equal(busy.code, 0, busy.stderr);
    // Each sender is one process on vm-a that sends its ten messages one after another.
    const sender = (n: number) =>
      world.exec("vm-a", [
        "bash",
        "-c",
        `for i in $(seq 1 10); do
         ohcommodore inbox send captain@vm-b "echo s${n}-m$i >> ~/ran.log" || exit 1
       done`,
      ], { timeoutMs: 300_000 });
    const results = await Promise.all(Array.from({ length: 20 }, (_, n) => sender(n)));
    for (const result of results) {
      assert.equal(result.code, 0, result.stderr);
      assert.doesNotMatch(result.stderr, /lock/i);
    }
    const drained = await eventually(
      async () => {
        const run = await world.cli("vm-b", ["inbox", "list", "--json"]);
        const messages: Message[] = JSON.parse(run.stdout);
        return messages.length === 201 && messages.every((m) => m.status === "done")
          ? messages
          : undefined;
      },
      180_000,
      "all 201 messages to run",
    );
    assert.equal(new Set(drained.map((m) => m.id)).size, 201);
    const ran = (await world.exec("vm-b", ["cat", join(world.vm("vm-b").home, "ran.log")])).stdout;
    const lines = ran.trim().split("\n");
    assert.equal(lines.length, 200, "every command ran exactly once");
    const expected = Array.from({ length: 20 }, (_, n) => n).flatMap((n) =>
      Array.from({ length: 10 }, (_, i) => `s${n}-m${i + 1}`)
    );
    assert.deepEqual([...lines].sort(), expected.sort());
    assert.doesNotMatch(await Deno.readTextFile(world.logOf("vm-b")), /Could not set lock/);
  },
);

e2e("kill -9 of the scheduler mid-command loses nothing and re-runs nothing", async () => {
  await using world = await fleetOfTwo();
  const first = world.spawnCli("vm-b", ["_scheduler"]);
  const long = (await sendToB(world, ["sleep 30"])).stdout
    .trim();
  const queued = (await sendToB(world, ["echo after"])).stdout
    .trim();
  await eventually(
    async () => (await show(world, "vm-b", long)).status === "running" || undefined,
    30_000,
    "the long command to start",
  );
  await world.exec("vm-b", ["pkill", "-KILL", "-f", "_scheduler"]);
  await first.status;
  assert.equal((await show(world, "vm-b", queued)).status, "unread");
  world.spawnCli("vm-b", ["_scheduler"]);
  const finished = await eventually(
    async () => {
      const message = await show(world, "vm-b", queued);
      return message.status === "done" ? message : undefined;
    },
    30_000,
    "the queued message to run after the restart",
  );
  assert.equal(finished.result, "after\n");
  const interrupted = await show(world, "vm-b", long);
  assert.equal(interrupted.status, "error");
  // With the group named when the kill came after it was recorded (scheduler_test waits for
  // that; here the kill may come first).
  assert.match(
    interrupted.error ?? "",
    /^scheduler stopped (while running; its commands may still run as process group \d+ .*|after claiming it, before its command was seen to start \(it may not have run\))$/,
  );
});

e2e(
  "a delivery to a vm whose scheduler is down starts one there, and the command runs",
  async () => {
    await using world = await fleetOfTwo();
    const sent = await sendToB(world, ["echo started by a delivery"]);
    assert.equal(sent.code, 0, sent.stderr);
    const id = sent.stdout.trim();
    const ran = await eventually(
      async () => {
        const message = await show(world, "vm-b", id);
        return message.status === "done" ? message : undefined;
      },
      30_000,
      "the message to run",
    );
    assert.equal(ran.result, "started by a delivery\n");
    const status = await world.cli("vm-b", ["scheduler", "status"]);
    assert.match(status.stdout, /^running \(pid \d+/, status.stderr);
    const log = await Deno.readTextFile(join(world.vm("vm-b").home, ".local/ship/scheduler.log"));
    assert.match(log, /scheduler for captain@vm-b started/);
  },
);

e2e("a sender whose ssh is killed during --wait looks the id up and never resends", async () => {
  await using world = await fleetOfTwo();
  world.spawnCli("vm-b", ["_scheduler"]);
  const started = join(world.vm("vm-b").home, "started");
  const sending = sendToB(world, [
    `touch ${started}; echo ran >> ~/ran.log; sleep 5; echo finished`,
    "--wait",
  ]);
  await eventually(
    async () => (await world.exec("vm-b", ["test", "-e", started])).code === 0 || undefined,
    30_000,
    "the command to start",
  );
  // Every ssh of vm-a's user: the client waiting for the answer and the shared connection.
  await world.exec("vm-a", ["pkill", "-KILL", "-x", "ssh"]);
  const run = await sending;
  assert.doesNotMatch(run.stderr, /Cannot deliver/);
  if (run.code === 0) {
    assert.equal(run.stdout, "finished\n", "a retry of the same id waited for it");
  } else {
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      /^error: The connection to captain@vm-b .* broke .*was delivered and is running: do not send it again; wait for it there with "ohcommodore inbox wait [0-9a-f]{16}"/,
    );
  }
  const listed: Message[] = JSON.parse(
    (await world.cli("vm-b", ["inbox", "list", "--json"])).stdout,
  );
  assert.equal(listed.length, 1);
  await world.cli("vm-b", ["inbox", "wait", listed[0].id]);
  const ran = await world.exec("vm-b", ["cat", join(world.vm("vm-b").home, "ran.log")]);
  assert.equal(ran.stdout, "ran\n", "it ran once");
});

e2e("deliveries and follows ride a socket forward on the shared connection, not exec", async () => {
  await using world = await fleetOfTwo();
  world.spawnCli("vm-b", ["_scheduler"]);
  const first = await sendToB(world, ["echo one", "--wait"]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, "one\n");
  // From now on vm-b's program cannot be started over ssh: only its server, through the
  // forward, can answer.
  const program = join(world.vm("vm-b").home, ".local/bin/ohcommodore");
  await Deno.chmod(program, 0o000);
  try {
    const followed = await sendToB(world, ["echo two; echo err >&2; exit 3", "--follow"]);
    assert.equal(followed.code, 3, followed.stderr);
    assert.equal(followed.stdout, "two\n");
    assert.match(followed.stderr, /^err\n/);
    const json = await sendToB(world, ["true", "--json"]);
    assert.equal(json.code, 0, json.stderr);
  } finally {
    await Deno.chmod(program, 0o755);
  }
});

e2e(
  "a script's sends at once ride one connection through the forward; it exits by itself",
  async () => {
    await using world = await fleetOfTwo();
    world.spawnCli("vm-b", ["_scheduler"]);
    // Counted at the forward: the connections its ssh master accepted on the local socket that
    // are open (state 03 in /proc/net/unix), the most at any time while fifty sends go at once.
    const source = `
    import { send } from "@smithclay/ohcommodore";
    import { Ssh } from "@smithclay/ohcommodore/ssh";
    const first = await send("captain@vm-b", "echo first"); // the forward is set up here
    const dir = new Ssh().controlDirectory();
    const forward = [...Deno.readDirSync(dir)].find((entry) => entry.name.endsWith(".inbox.sock"));
    const path = dir + "/" + forward.name;
    const open = () => Deno.readTextFileSync("/proc/net/unix").split("\\n")
      .map((line) => line.trim().split(/\\s+/))
      .filter((fields) => fields[7] === path && fields[5] === "03").length;
    let most = open();
    const sampling = setInterval(() => most = Math.max(most, open()), 1);
    const sent = await Promise.all(
      Array.from({ length: 49 }, (_, i) => send("captain@vm-b", "echo " + i)),
    );
    clearInterval(sampling);
    most = Math.max(most, open());
    const ids = new Set([first, ...sent].map((m) => m.id)).size;
    console.log(JSON.stringify({ ids, most, after: open(), at: Date.now() }));
  `;
    let printed: { ids: number; most: number; after: number; at: number } | undefined;
    const run = await world.script("vm-a", source, [], {
      onLine: (line) => void (printed = JSON.parse(line)),
      timeoutMs: 120_000,
    });
    const exited = Date.now();
    assert.equal(run.code, 0, run.stderr);
    assert.ok(printed, run.stdout);
    assert.equal(printed.ids, 50);
    assert.equal(printed.most, 1, "one connection through the forward for fifty sends");
    assert.equal(printed.after, 1, "kept for the next send");
    // It ends without closing anything: its kept connection (closed after 30 s idle) holds nothing.
    assert.ok(exited - printed.at < 10_000, `exited ${exited - printed.at} ms after its sends`);
    const listed: Message[] = JSON.parse(
      (await world.cli("vm-b", ["inbox", "list", "--json", "--limit", "100"])).stdout,
    );
    assert.equal(listed.length, 50);
  },
);

e2e(
  "where sshd refuses socket forwarding, deliveries fall back to exec and remember it",
  async () => {
    await using world = await SshWorld.start({
      vms: ["vm-a", "vm-b"],
      sshd: { extra: ["AllowStreamLocalForwarding no"] },
    });
    await world.writeIdentity("vm-a", { role: "captain", name: "vm-a" });
    await world.writeIdentity("vm-b", { role: "captain", name: "vm-b" });
    world.spawnCli("vm-b", ["_scheduler"]);
    for (const n of [1, 2]) {
      const sent = await sendToB(world, [`echo round ${n}`, "--wait"]);
      assert.equal(sent.code, 0, sent.stderr);
      assert.equal(sent.stdout, `round ${n}\n`);
    }
    const memo = await world.exec("vm-a", [
      "bash",
      "-c",
      'cat "/tmp/ohc-ssh-$(id -u)"/*.inbox.json',
    ]);
    assert.ok(JSON.parse(memo.stdout).refusedAt > 0, `refusal not remembered: ${memo.stdout}`);
    // Live output over exec too: the recipient's "inbox follow --json" streams it.
    const followed = await sendToB(world, ["echo live; echo err >&2; exit 5", "--follow"]);
    assert.equal(followed.code, 5, followed.stderr);
    assert.equal(followed.stdout, "live\n");
    assert.match(followed.stderr, /^err\n/);
  },
);

Deno.test("a world refuses a VM name that is no fixture user, before it makes anything", async () => {
  // Only FIXTURE_VMS are kept between runs (.ci/run makes them first); any other name would
  // leave a new Unix user behind, which the leftover check fails.
  await assert.rejects(() => fixtureUser("vm-z"), RangeError);
  assert.equal((await run(["id", "-u", "ohc-vm-z"], true)).code, 1);
});
