/**
 * With `--json` on the command line, every failure is `{"error": …}` on stdout, the argument
 * parser's own too: a missing argument, an unknown option, an unknown command. People still get
 * the one `error:` line on stderr, and the exit code stays 2.
 */

import assert from "node:assert/strict";
import { LocalMember } from "./helpers/local_member.ts";

Deno.test("parse errors with --json print the error as JSON on stdout and exit 2", async () => {
  await using laptop = await LocalMember.create({ role: "local", name: "laptop" });
  const cases: [string[], string, RegExp][] = [
    [["agent", "run", "--all", "--json"], "commander.missingArgument", /missing required argument/],
    [["agent", "run", "--json", "--bogus", "--", "x"], "commander.unknownOption", /'--bogus'/],
    [["agent", "bogus", "--json"], "commander.unknownCommand", /unknown command 'bogus'/],
    [["ship", "ssh", "web", "--json"], "commander.unknownOption", /'--json'/],
    [
      ["agent", "run", "--ships", "a", "--all", "--json", "--", "x"],
      "commander.conflictingOption",
      /give one or the other/,
    ],
  ];
  for (const [args, code, message] of cases) {
    const result = await laptop.cli(args);
    const what = `${args.join(" ")}: ${result.stderr}`;
    assert.equal(result.code, 2, what);
    assert.match(result.stderr, /^error: /, what);
    const { error } = JSON.parse(result.stdout);
    assert.equal(error.name, "UsageError", what);
    assert.equal(error.exitCode, 2, what);
    assert.equal(error.fields.code, code, what);
    assert.match(error.message, message, what);
    assert.doesNotMatch(error.message, /^error: /, what);
  }
});

Deno.test("parse errors without --json, or with it only in the prompt, print no JSON", async () => {
  await using laptop = await LocalMember.create({ role: "local", name: "laptop" });
  for (const args of [["agent", "run", "--all"], ["agent", "run", "--bogus", "--", "--json"]]) {
    const result = await laptop.cli(args);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, "", args.join(" "));
  }
});

Deno.test("help and version with --json stay a success", async () => {
  await using laptop = await LocalMember.create({ role: "local", name: "laptop" });
  const help = await laptop.cli(["agent", "run", "--help", "--json"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: ohcommodore agent run/);
});
