/**
 * Text from commands, their output and senders is shown to people with its control characters
 * escaped: `inbox list`, `inbox show`, the `fleet exec` summary, the scheduler's log and error
 * lines. `--json` stays exact.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { formatExecSummary } from "../lib/cli/exec_report.ts";
import { escapeControls } from "../lib/cli/output.ts";
import type { ExecResult } from "../lib/fleet/exec.ts";
import { memberPaths } from "../lib/paths.ts";
import { LocalMember } from "./helpers/local_member.ts";

const ESC = "\x1b";
// Clears the screen, retitles the window, turns text red, then reorders what follows.
const HOSTILE = `${ESC}[2J${ESC}]0;pwned\x07${ESC}[31mred\u202e!`;
const SHOWN = String.raw`\x1b[2J\x1b]0;pwned\x07\x1b[31mred\u202e!`;

Deno.test("escapeControls shows control characters as escapes and keeps newlines and tabs", () => {
  assert.equal(escapeControls(HOSTILE), SHOWN);
  assert.equal(escapeControls("a\n\tb\r\n"), "a\n\tb\\r\n");
  assert.equal(escapeControls("a\n\tb", { inline: true }), String.raw`a\n\tb`);
  assert.equal(escapeControls("\x00\x7f\x9b\ufeff"), String.raw`\x00\x7f\x9b\ufeff`);
  assert.equal(
    escapeControls("plain: é, 日本, ✓ and \\x1b typed"),
    "plain: é, 日本, ✓ and \\x1b typed",
  );
});

Deno.test("inbox list and show escape a command's and its output's control characters; --json is exact", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "solo" });
  member.spawnScheduler();
  await member.schedulerAnswers();
  const command = `printf '%s\\n\\tindented\\n' '${HOSTILE}' # ${HOSTILE}`;
  const sent = await member.cli(["inbox", "send", "captain@solo", "-", "--wait", "--json"], {
    stdin: command,
  });
  assert.equal(sent.code, 0, sent.stderr);
  const id = JSON.parse(sent.stdout).id;
  const listed = await member.cli(["inbox", "list"]);
  assert.ok(!listed.stdout.includes(ESC), listed.stdout);
  assert.ok(listed.stdout.includes(SHOWN), listed.stdout);
  const shown = await member.cli(["inbox", "show", id]);
  for (const raw of [ESC, "\x07", "\u202e"]) assert.ok(!shown.stdout.includes(raw), shown.stdout);
  assert.ok(shown.stdout.includes(`stdout (last 256 KiB kept)\n  ${SHOWN}\n  \tindented\n`));
  assert.ok(shown.stdout.includes(`command\n  printf '%s\\n\\tindented\\n' '${SHOWN}'`));
  const json = JSON.parse((await member.cli(["inbox", "show", id, "--json"])).stdout);
  assert.equal(json.command, command);
  assert.equal(json.result, `${HOSTILE}\n\tindented\n`);
  const listedJson = JSON.parse((await member.cli(["inbox", "list", "--json"])).stdout);
  assert.equal(listedJson[0].command, command);
});

Deno.test("an error line quoting what was typed shows its control characters escaped", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "solo" });
  const run = await member.cli(["inbox", "show", `${ESC}[2J`]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /^error: Invalid message id "\\x1b\[2J"/);
});

Deno.test("the fleet exec summary escapes control characters in output and errors", () => {
  const result: ExecResult = {
    ship: "web",
    ok: false,
    status: "error",
    exitCode: 3,
    stdout: `${HOSTILE}\n\tnext\n`,
    stderr: `${ESC}[1Aup\n`,
    startedAt: new Date(0).toISOString(),
    durationMs: 5,
    messageId: "abc",
    error: `it said ${ESC}[31m`,
  };
  const summary = formatExecSummary([result]);
  assert.ok(!summary.includes(ESC), summary);
  assert.match(summary, /\(1\): error \(exit 3\)\n/);
  assert.ok(summary.includes(`${SHOWN}\n\tnext\n! \\x1b[1Aup\n  it said \\x1b[31m\n`), summary);
});

Deno.test("the scheduler's log shows a command's control characters escaped", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "logged" });
  const started = await member.cli(["scheduler", "start"]);
  assert.equal(started.code, 0, started.stderr);
  try {
    const ran = await member.cli([
      "inbox",
      "send",
      "captain@logged",
      `true '${HOSTILE}'`,
      "--wait",
    ]);
    assert.equal(ran.code, 0, ran.stderr);
  } finally {
    assert.equal((await member.cli(["scheduler", "stop"])).code, 0);
  }
  const log = await Deno.readTextFile(join(memberPaths(member.home).shipDir, "scheduler.log"));
  assert.ok(!log.includes(ESC), log);
  assert.match(log, /running from captain@logged: true '\\x1b\[2J\\x1b\]0;pwned\\x07/);
});
