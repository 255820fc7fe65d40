import assert from "node:assert/strict";
import { join } from "node:path";
import { schedulerPidPathOf } from "../lib/inbox/scheduler_files.ts";
import { memberPaths } from "../lib/paths.ts";
import { VERSION } from "../lib/version.ts";
import { fileURLToPath } from "node:url";
import { eventually, LocalMember } from "./helpers/local_member.ts";

const OLDER_SCHEDULER = fileURLToPath(new URL("./helpers/older_scheduler.ts", import.meta.url));

Deno.test("inbox send --wait to this member prints the output and exits with the command's code", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "solo" });
  member.spawnScheduler();
  await member.schedulerAnswers();
  const command = `echo "it's \${HOME}"; echo oops >&2; exit 3`;
  const run = await member.cli(["inbox", "send", "captain@solo", command, "--wait"]);
  assert.equal(run.code, 3, run.stderr);
  assert.equal(run.stdout, `it's ${member.home}\n`);
  assert.match(run.stderr, /oops\n/);
  assert.match(run.stderr, /exit code 3/);
});

Deno.test("inbox send reads the command from stdin with -", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "solo" });
  const command = "printf '%s' \"$(echo piped)\"\n# second line";
  const sent = await member.cli(["inbox", "send", "captain@solo", "-", "--json"], {
    stdin: command,
  });
  assert.equal(sent.code, 0, sent.stderr);
  const shown = await member.cli(["inbox", "show", JSON.parse(sent.stdout).id, "--json"]);
  assert.equal(JSON.parse(shown.stdout).command, command);
});

Deno.test("inbox list, read, done, error and delete work on this member's inbox", async () => {
  await using member = await LocalMember.create({ role: "commodore", name: "flag" });
  // The send starts a scheduler; a long first command keeps the second one unread meanwhile.
  const busy = (await member.cli(["inbox", "send", "commodore@flag", "sleep 60"])).stdout.trim();
  const id = (await member.cli(["inbox", "send", "commodore@flag", "make deploy"])).stdout.trim();
  assert.match(id, /^[0-9a-f]{16}$/);
  const listed = await member.cli(["inbox", "list"]);
  assert.match(listed.stdout, /^ID\s+STATUS\s+CREATED\s+SENDER\s+EXIT\s+COMMAND\n/);
  assert.match(listed.stdout, new RegExp(`${id}\\s+unread .*commodore@flag\\s+-\\s+make deploy`));
  const read = await member.cli(["inbox", "read", id.slice(0, 6)]);
  assert.equal(read.stdout, "make deploy\n");
  const pending = await member.cli(["inbox", "list", "--status", "pending", "--json"]);
  assert.deepEqual(JSON.parse(pending.stdout).map((m: { id: string }) => m.id), [id]);
  assert.equal((await member.cli(["inbox", "error", id, "disk full"])).code, 0);
  const shown = JSON.parse((await member.cli(["inbox", "show", id, "--json"])).stdout);
  assert.equal(shown.status, "error");
  assert.equal(shown.error, "disk full");
  assert.equal((await member.cli(["inbox", "done", id])).code, 0);
  assert.equal((await member.cli(["inbox", "delete", id])).code, 0);
  const left = await member.cli(["inbox", "list", "--json"]);
  assert.deepEqual(JSON.parse(left.stdout).map((m: { id: string }) => m.id), [busy]);
});

Deno.test("inbox identity prints the address from identity.json", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "ship-web-a1f3" });
  assert.equal((await member.cli(["inbox", "identity"])).stdout, "captain@ship-web-a1f3\n");
  const json = JSON.parse((await member.cli(["inbox", "identity", "--json"])).stdout);
  assert.equal(json.address, "captain@ship-web-a1f3");
  assert.equal(json.database, `${member.home}/.local/ship/data.duckdb`);
});

Deno.test("bad input gets one clear error line and a non-zero exit", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "solo" });
  const cases: [string[], number, RegExp][] = [
    [
      ["inbox", "show", "ffffffff"],
      1,
      /^error: Cannot find message "ffffffff" in the inbox of captain@solo/,
    ],
    [["inbox", "send", "nobody", "true"], 2, /^error: Invalid address "nobody": expected <role>@/],
    [["inbox", "send", "captain@solo", "  "], 2, /^error: Cannot send an empty command/],
    [
      ["inbox", "list", "--status", "finished"],
      2,
      /argument 'finished' is invalid. Allowed choices are unread, pending/,
    ],
    [
      ["inbox", "send", "captain@solo", "true", "--timeout", "soon"],
      2,
      /^error: Invalid duration "soon"/,
    ],
    [
      ["inbox", "send", "commodore@solo", "true"],
      1,
      /^error: captain@solo refused a message for "commodore@solo"/,
    ],
    [["inbox", "error", "abc", ""], 2, /^error: Give a reason/],
    [["inbox", "frobnicate"], 2, /unknown command 'frobnicate'/],
  ];
  for (const [args, code, pattern] of cases) {
    const run = await member.cli(args);
    assert.equal(run.code, code, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, pattern, args.join(" "));
    assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace");
  }
});

Deno.test("the CLI prints a library error's next step after its message; --json keeps it a field", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "solo" });
  const next = 'list messages with "ohcommodore inbox list"';
  const shown = await member.cli(["inbox", "show", "ffffffff"]);
  assert.equal(shown.code, 1);
  assert.equal(
    shown.stderr,
    `error: Cannot find message "ffffffff" in the inbox of captain@solo; ${next}\n`,
  );
  const json = await member.cli(["inbox", "show", "ffffffff", "--json"]);
  const { error } = JSON.parse(json.stdout);
  assert.equal(error.name, "NotFoundError");
  assert.equal(error.message, 'Cannot find message "ffffffff" in the inbox of captain@solo');
  assert.deepEqual(error.fields, { query: "ffffffff", next });
});

Deno.test("a send to a member whose scheduler is down starts one, as scheduler start does", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "idle" });
  assert.equal((await member.cli(["scheduler", "status"])).stdout, "stopped\n");
  const sent = await member.cli(["inbox", "send", "captain@idle", "echo picked up"]);
  assert.equal(sent.code, 0, sent.stderr);
  const id = sent.stdout.trim();
  const status = await member.cli(["scheduler", "status"]);
  assert.match(status.stdout, /^running \(pid \d+/, "the send left a scheduler running");
  const waited = await member.cli(["inbox", "wait", id]);
  assert.equal(waited.stdout, "picked up\n", waited.stderr);
  const log = await Deno.readTextFile(join(member.home, ".local/ship/scheduler.log"));
  assert.match(log, /scheduler for captain@idle started/, "detached, logging where start logs");
  assert.equal((await member.cli(["scheduler", "stop"])).code, 0);
  const again = await member.cli(["inbox", "send", "captain@idle", "echo waited", "--wait"]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, "waited\n", "--wait starts one too");
});

Deno.test("a send to a member whose scheduler cannot be started says so, with the id and what to run", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "wedged" });
  // A wedged scheduler: it holds the scheduler lock but never answers.
  const database = memberPaths(member.home).database;
  await Deno.mkdir(join(member.home, ".local/ship"), { recursive: true });
  using lock = await Deno.open(`${database}.scheduler.lock`, { create: true, write: true });
  await lock.lock(true);
  const run = await member.cli(["inbox", "send", "captain@wedged", "echo never", "--json"]);
  assert.equal(run.code, 1, run.stderr);
  const id = run.stderr.match(/Message "([0-9a-f]{16})"/)?.[1];
  assert.ok(id, run.stderr);
  assert.match(
    run.stderr,
    /^error: Message "[0-9a-f]{16}" is unread on captain@wedged, but no scheduler runs there and none could be started/,
  );
  assert.match(run.stderr, /Another scheduler is already running/, "why, from its log");
  assert.match(run.stderr, /run "ohcommodore scheduler start" there/);
  const shown = JSON.parse((await member.cli(["inbox", "show", id, "--json"])).stdout);
  assert.equal(shown.status, "unread", "delivered all the same");
});

Deno.test("scheduler start, status and stop manage a background scheduler", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "bg" });
  assert.equal((await member.cli(["scheduler", "status"])).code, 1);
  const started = await member.cli(["scheduler", "start", "--json"]);
  assert.equal(started.code, 0, started.stderr);
  assert.equal(JSON.parse(started.stdout).running, true);
  try {
    const ran = await member.cli(["inbox", "send", "captain@bg", "echo background", "--wait"]);
    assert.equal(ran.stdout, "background\n");
    const status = await member.cli(["scheduler", "status", "--this-version"]);
    assert.match(status.stdout, /^running \(pid \d+, version \d+\.\d+\.\d+\)\n$/);
    assert.equal(status.code, 0);
  } finally {
    assert.equal((await member.cli(["scheduler", "stop"])).code, 0);
  }
  assert.equal((await member.cli(["scheduler", "status"])).stdout, "stopped\n");
});

Deno.test("scheduler start keeps a scheduler of this version and restarts one of another", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "upgraded" });
  const pidOf = (text: string) => Number(text.match(/\(pid (\d+)/)?.[1]);
  const first = await member.cli(["scheduler", "start"]);
  assert.match(first.stdout, /^started \(pid \d+, version /, first.stderr);
  const again = await member.cli(["scheduler", "start"]);
  assert.match(again.stdout, /^already running /);
  assert.equal(pidOf(again.stdout), pidOf(first.stdout));
  assert.equal((await member.cli(["scheduler", "stop"])).code, 0);
  // What an upgrade leaves behind: a scheduler of an older version, still answering.
  const older = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", OLDER_SCHEDULER, member.home],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    await eventually(async () =>
      (await member.cli(["scheduler", "status"])).stdout.includes("0.0.1-old") || undefined
    );
    const stale = await member.cli(["scheduler", "status", "--this-version"]);
    assert.equal(stale.code, 1);
    assert.match(stale.stdout, /version 0\.0\.1-old; this program is .*scheduler start/);
    assert.equal((await member.cli(["scheduler", "status"])).code, 0, "running is running");
    const restarted = await member.cli(["scheduler", "start"]);
    assert.match(restarted.stdout, /^restarted \(pid \d+, version /, restarted.stderr);
    assert.notEqual(pidOf(restarted.stdout), older.pid);
    assert.equal((await older.status).code, 0, "the older one was asked to stop");
    const report = join(member.home, ".local/ship/data.duckdb.report.json");
    assert.equal(JSON.parse(await Deno.readTextFile(report)).version, VERSION);
  } finally {
    try {
      older.kill("SIGKILL");
    } catch {
      // stopped already
    }
    await older.status;
    assert.equal((await member.cli(["scheduler", "stop"])).code, 0);
  }
  const gone = await Deno.stat(join(member.home, ".local/ship/data.duckdb.report.json"))
    .catch(() => null);
  assert.equal(gone, null, "a stopped scheduler leaves no report to trust");
});

Deno.test("scheduler start and stop go through systemctl where init.sh installed the unit", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "unit" });
  const unitDir = join(member.home, ".config/systemd/user");
  await Deno.mkdir(unitDir, { recursive: true });
  await Deno.writeTextFile(join(unitDir, "ohcommodore-scheduler.service"), "[Service]\n");
  // A fake systemctl: "start" runs the scheduler as the unit's ExecStart would, "stop" ends it.
  const bin = join(member.home, "bin");
  await Deno.mkdir(bin);
  const pidFile = schedulerPidPathOf(memberPaths(member.home).database);
  await Deno.writeTextFile(
    join(bin, "systemctl"),
    `#!/bin/sh
echo "$*" >>"$HOME/systemctl.log"
case "$*" in
  "--user is-enabled --quiet ohcommodore-scheduler.service") exit 0 ;;
  "--user start ohcommodore-scheduler.service")
    "$FAKE_DENO" run -A --quiet "$FAKE_CLI" _scheduler </dev/null >/dev/null 2>&1 & ;;
  "--user show --property=MainPID --value ohcommodore-scheduler.service") cat '${pidFile}' ;;
  "--user stop --no-block ohcommodore-scheduler.service") kill "$(cat '${pidFile}')" ;;
  *) exit 1 ;;
esac
`,
    { mode: 0o755 },
  );
  const env = {
    PATH: `${bin}:${Deno.env.get("PATH")}`,
    FAKE_DENO: Deno.execPath(),
    FAKE_CLI: new URL("../cli.ts", import.meta.url).pathname,
  };
  try {
    const started = await member.cli(["scheduler", "start"], { env });
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /^started \(pid \d+, .*log: journalctl --user -u ohcommodore-s/);
    const again = await member.cli(["scheduler", "start"], { env });
    assert.match(again.stdout, /^already running .*log: journalctl/);
    const ran = await member.cli(["inbox", "send", "captain@unit", "echo by systemd", "--wait"]);
    assert.equal(ran.stdout, "by systemd\n");
  } finally {
    const stopped = await member.cli(["scheduler", "stop"], { env });
    assert.equal(stopped.code, 0, stopped.stderr);
  }
  assert.equal((await member.cli(["scheduler", "status"])).stdout, "stopped\n");
  const calls = await Deno.readTextFile(join(member.home, "systemctl.log"));
  assert.match(calls, /^--user start ohcommodore-scheduler\.service$/m);
  assert.match(calls, /^--user stop --no-block ohcommodore-scheduler\.service$/m);
});

Deno.test("--help and --version exit 0", async () => {
  await using member = await LocalMember.create();
  const help = await member.cli(["inbox", "send", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Deliver a shell command/);
  const version = await member.cli(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
});

Deno.test("a scheduler on a corrupt database exits with DuckDB's error and a recovery hint", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "corrupt" });
  const database = memberPaths(member.home).database;
  await Deno.mkdir(join(member.home, ".local/ship"), { recursive: true });
  await Deno.writeFile(database, crypto.getRandomValues(new Uint8Array(16_384)));
  const began = Date.now();
  const started = await member.cli(["scheduler", "start"]);
  assert.equal(started.code, 1, started.stdout);
  assert.ok(Date.now() - began < 14_000, "start says it failed rather than waiting for an answer");
  assert.match(started.stderr, /^error: The scheduler did not start/);
  assert.match(started.stderr, /not a valid DuckDB database file/);
  assert.match(started.stderr, new RegExp(`mv '?${database}'? '?${database}\\.broken'?`));
  const foreground = await member.cli(["_scheduler"]);
  assert.equal(foreground.code, 1, "the foreground scheduler exits rather than retrying");
  assert.match(foreground.stderr, /not a valid DuckDB database file.*mv /s);
  const status = await member.cli(["scheduler", "status"]);
  assert.equal(status.code, 1);
  assert.match(status.stdout, /^failed: .*not a valid DuckDB database file/);
  const json = JSON.parse((await member.cli(["scheduler", "status", "--json"])).stdout);
  assert.equal(json.running, false);
  assert.match(json.failure.error, /not a valid DuckDB database file/);
  const stop = await member.cli(["scheduler", "stop"]);
  assert.equal(stop.code, 0);
  assert.match(stop.stderr, /No scheduler was running/);
  await assert.rejects(Deno.stat(schedulerPidPathOf(database)), Deno.errors.NotFound);
});

Deno.test("a command that sends to its own member with --wait is refused instead of waiting for itself", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "selfish" });
  member.spawnScheduler();
  await member.schedulerAnswers();
  const cli = new URL("../cli.ts", import.meta.url).pathname;
  const inner = `'${Deno.execPath()}' run -A --quiet '${cli}' inbox send ` +
    `"$OHCOMMODORE_ADDRESS" 'echo inner' --wait`;
  const began = Date.now();
  const run = await member.cli(["inbox", "send", member.address, inner, "--wait", "-t", "20s"]);
  assert.ok(Date.now() - began < 15_000, "refused at once, not after the command's timeout");
  assert.equal(run.code, 2, run.stderr);
  assert.match(
    run.stderr,
    /^error: Cannot wait for a message to captain@selfish from inside its own scheduler/m,
  );
  assert.match(run.stderr, /send it without --wait/);
  const messages = JSON.parse((await member.cli(["inbox", "list", "--json"])).stdout);
  assert.equal(messages.length, 1, "the refused message was not delivered");
});
