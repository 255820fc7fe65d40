/**
 * `--json` wherever the CLI prints something a script might read.
 */

import assert from "node:assert/strict";
import type { CommandUnknownOpts } from "../lib/cli/deps.ts";
import { program } from "../lib/cli/program.ts";
import { LocalMember } from "./helpers/local_member.ts";

// Leaves that print nothing to parse: an interactive shell, a script for a shell, help.
const WITHOUT_JSON = new Set(["ship ssh", "completions", "help"]);

function leaves(command: CommandUnknownOpts, path: string[] = []): [string, CommandUnknownOpts][] {
  const help = command.createHelp();
  const subs = help.visibleCommands(command).filter((sub) => !sub.name().startsWith("_"));
  if (subs.length === 0) return [[path.join(" "), command]];
  return subs.flatMap((sub) => leaves(sub, [...path, sub.name()]));
}

Deno.test("every command that prints data has --json", () => {
  const missing = leaves(program())
    .filter(([path]) => !WITHOUT_JSON.has(path) && !path.endsWith(" help"))
    .filter(([, command]) => !command.options.some((option) => option.long === "--json"))
    .map(([path]) => path);
  assert.deepEqual(missing, []);
});

Deno.test("scheduler stop --json tells whether a scheduler was stopped", async () => {
  await using member = await LocalMember.create({ role: "captain", name: "solo" });
  const idle = await member.cli(["scheduler", "stop", "--json"]);
  assert.equal(idle.code, 0, idle.stderr);
  assert.deepEqual(JSON.parse(idle.stdout), { stopped: false });
  member.spawnScheduler();
  await member.schedulerAnswers();
  const stopped = await member.cli(["scheduler", "stop", "--json"]);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.deepEqual(JSON.parse(stopped.stdout), { stopped: true });
});
