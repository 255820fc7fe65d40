/**
 * Bad input on the command line is refused before anything happens: exit 2, one `error:` line
 * that quotes what was typed (clipped when long) and says what to do, nothing on stdout, no file
 * written, no progress printed, and no flagship asked. The laptop here has a fleet whose
 * flagship cannot be reached, so any command that got as far as the flagship would fail
 * differently.
 */

import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { writeLocalConfig } from "../lib/fleet/config.ts";
import { type CliResult, LocalMember } from "./helpers/local_member.ts";

/** A laptop with a fleet config; its flagship's name resolves nowhere. */
async function laptopWithFleet(): Promise<LocalMember> {
  const laptop = await LocalMember.create({ role: "local", name: "laptop" });
  await writeLocalConfig({
    tag: "k3f9",
    provider: "exedev",
    flagshipVm: "flagship-k3f9",
    flagship: "exedev@flagship-k3f9.ohc-unreachable.invalid",
    createdAt: new Date(0).toISOString(),
  }, laptop.home);
  return laptop;
}

/** Every file and directory under a home, with its size: what a refused command must not change. */
async function filesOf(home: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      const { size } = await Deno.lstat(path);
      found.push(`${relative(home, path)} ${entry.isDirectory ? "dir" : size}`);
      if (entry.isDirectory) await walk(path);
    }
  };
  await walk(home);
  return found.sort();
}

/** Runs the CLI and checks it refused as a usage error and changed nothing; returns the line. */
async function refused(member: LocalMember, args: string[]): Promise<string> {
  const before = await filesOf(member.home);
  const run: CliResult = await member.cli(args);
  const what = `${args.map((arg) => arg.slice(0, 40)).join(" ")}: ${run.stderr}`;
  assert.equal(run.code, 2, what);
  assert.equal(run.stdout, "", what);
  assert.match(run.stderr, /^error: [A-Z"][^\n]*\n$/, `one error line in sentence case; ${what}`);
  assert.ok(run.stderr.length < 300, `the line is short: ${what.slice(0, 400)}`);
  assert.deepEqual(await filesOf(member.home), before, `nothing changed: ${what}`);
  return run.stderr.slice("error: ".length, -1);
}

Deno.test("agent run refuses a branch name git refuses, before the task is queued", async () => {
  await using laptop = await laptopWithFleet();
  const cases: [string, RegExp][] = [
    ["/lead", /it starts with "\/"/],
    ["x.lock", /a part of it ends with "\.lock"/],
    ["a/.hidden", /a part of it starts with "\."/],
    ["a..b", /it has "\.\."/],
    ["fix me", /it has a space/],
  ];
  for (const [branch, why] of cases) {
    const line = await refused(laptop, ["agent", "run", "--all", "--branch", branch, "--", "x"]);
    assert.ok(line.startsWith(`"${branch}" is not a branch name git takes: `), line);
    assert.match(line, why);
    assert.match(line, /give one like agent\/fix$/);
  }
});

Deno.test("whole numbers past 2^53 or past their option's range are refused as typed, not rounded", async () => {
  await using laptop = await laptopWithFleet();
  const huge = "9007199254740993";
  const cases: [string[], string][] = [
    [
      ["agent", "run", "--all", "--max-turns", huge, "--", "x"],
      `Invalid --max-turns "${huge}": give a whole number from 1 to 10000`,
    ],
    [
      ["agent", "resume", "web", "--max-turns", "10001", "--", "x"],
      `Invalid --max-turns "10001": give a whole number from 1 to 10000`,
    ],
    [
      ["scheduler", "concurrency", huge],
      `Invalid count "${huge}": give a whole number from 1 to 64`,
    ],
    [["scheduler", "concurrency", "65"], `Invalid count "65": give a whole number from 1 to 64`],
    [
      ["ship", "create", "web", "--count", huge],
      `Invalid --count "${huge}": give a whole number from 1 to 20`,
    ],
    [
      ["fleet", "exec", "--concurrency", huge, "--", "true"],
      `Invalid --concurrency "${huge}": give a whole number from 1 to 1000`,
    ],
    [
      ["inbox", "list", "--limit", huge],
      `Invalid count "${huge}": give a whole number from 1 to 9007199254740991`,
    ],
  ];
  for (const [args, expected] of cases) assert.equal(await refused(laptop, args), expected);
});

Deno.test("conflicting options are usage errors: agent run --all --ships, inbox send --wait --follow", async () => {
  await using laptop = await laptopWithFleet();
  for (
    const args of [
      ["agent", "run", "--all", "--ships", "web", "--", "x"],
      ["agent", "run", "--ships", "web", "--all", "--", "x"],
    ]
  ) {
    assert.equal(
      await refused(laptop, args),
      `Option '--all' cannot be used with option '--ships <names>': give one or the other`,
    );
  }
  for (
    const args of [
      ["inbox", "send", "captain@ship-web", "true", "--wait", "--follow"],
      ["inbox", "send", "-wf", "captain@ship-web", "true"],
    ]
  ) {
    assert.equal(
      await refused(laptop, args),
      `Option '-f, --follow' cannot be used with option '-w, --wait': give one or the other`,
    );
  }
});

Deno.test("ship create refuses a long, empty or non-ASCII name before printing any progress", async () => {
  await using laptop = await laptopWithFleet();
  const long = "a".repeat(10_000);
  const line = await refused(laptop, ["ship", "create", long]);
  assert.match(
    line,
    /^Cannot make a ship named "a{59}…": it has 10000 characters, give a name of at most 20$/,
  );
  assert.match(
    await refused(laptop, ["ship", "create", `owner/${long}`]),
    /^Cannot make a ship from "owner\/a+…": it has 10006 characters, at most 300 are taken$/,
  );
  for (const spec of ["", "ünïcode"]) {
    const said = await refused(laptop, ["ship", "create", spec]);
    assert.ok(said.startsWith(`Cannot make a ship from "${spec}": give owner/repo`), said);
  }
});

Deno.test("an empty id is a usage error for every command that takes a message or task id", async () => {
  await using laptop = await laptopWithFleet();
  for (const command of ["show", "follow", "cancel"]) {
    assert.equal(
      await refused(laptop, ["agent", command, ""]),
      `Invalid task id "": give the id or a unique prefix of it`,
    );
  }
  const inbox = ["show", "read", "done", "delete", "wait", "cancel", "follow", "approve"];
  for (const args of [...inbox.map((command) => [command, " "]), ["error", "", "why"]]) {
    assert.equal(
      await refused(laptop, ["inbox", ...args]),
      `Invalid message id "": give the id or a unique prefix of it`,
    );
  }
});

Deno.test("typed input is quoted back clipped: a 10,000-character address, id or ship name", async () => {
  await using laptop = await laptopWithFleet();
  const long = "a".repeat(10_000);
  assert.equal(
    await refused(laptop, ["inbox", "send", `captain@${long}`, "true"]),
    `Invalid address "captain@${"a".repeat(51)}…": its name has 10000 characters, at most 253`,
  );
  assert.match(
    await refused(laptop, ["inbox", "send", `captain@${long}!`, "true"]),
    /^Invalid address "captain@a+…": its name has 10001 characters/,
  );
  assert.match(
    await refused(laptop, ["inbox", "show", `${long}!`]),
    /^Invalid message id "a{59}…": ids are hex/,
  );
  assert.match(
    await refused(laptop, ["agent", "run", "--all", "--branch", `${long}`, "--", "x"]),
    /^"a{59}…" is not a branch name git takes: it has 10000 characters, at most 200 are taken/,
  );
  assert.match(
    await refused(laptop, ["inbox", "send", "captain@ship-web", "true", "-t", long]),
    /^Invalid duration "a{59}…": use forms like 30s/,
  );
});

Deno.test("plan run refuses bad options and a missing plan before asking the flagship", async () => {
  await using laptop = await laptopWithFleet();
  const plan = join(laptop.home, "plan.json");
  await Deno.writeTextFile(plan, JSON.stringify({ tasks: [{ id: "a", prompt: "x" }] }));
  const cases: [string[], RegExp][] = [
    [["plan", "run"], /^Give a plan file, or --from-issues <owner\/repo>/],
    [
      ["plan", "run", plan, "--from-issues", "acme/web"],
      /^Give a plan file or --from-issues, not both/,
    ],
    [["plan", "run", plan, "--label", "ready"], /^The --label option goes with --from-issues/],
    [
      ["plan", "run", plan, "--budget", "lots"],
      /^The budget \(--budget\) is in US dollars, e\.g\. 25 or 2\.50, not "lots"/,
    ],
    [["plan", "run", plan, "--budget", "0"], /^The budget is a number of US dollars above 0/],
    [["plan", "run", plan, "--integrate", "a..b"], /^"a\.\.b" is not a branch name git takes/],
    [["plan", "run", plan, "--max-attempts", "21"], /--max-attempts/],
    [["plan", "status", "not-hex!"], /^Invalid plan id/],
  ];
  for (const [args, said] of cases) {
    const line = await refused(laptop, args);
    assert.match(line, said, args.join(" "));
  }
});

Deno.test("_setup-copy, started without the command tree, refuses JSON that is not a copy's setup", async () => {
  await using ship = await LocalMember.create({ role: "captain", name: "ship-web-0a1b2c3d" });
  const cases: [string, RegExp][] = [
    ["{not json", /^error: _setup-copy wants what the copy is to be as JSON on stdin\n$/],
    ['{"name": "Not A Name"}', /^error: _setup-copy was given no VM name to take\n$/],
    ['{"name": "ship-web-1"}', /^error: _setup-copy was given no settings or no flagship\n$/],
  ];
  for (const [stdin, expected] of cases) {
    const before = await filesOf(ship.home);
    const run = await ship.cli(["_setup-copy"], { stdin });
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stdout, "");
    assert.match(run.stderr, expected);
    assert.deepEqual(await filesOf(ship.home), before, "nothing changed");
  }
});
