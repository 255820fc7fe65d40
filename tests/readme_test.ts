/**
 * The README's "Every command" list against the CLI's own command tree, so that neither can
 * change without the other: every visible command has a line, every option of a command stands
 * in its lines (long and short form), and every option a line shows exists.
 */

import assert from "node:assert/strict";
import { program } from "../lib/cli/program.ts";

const README = new URL("../README.md", import.meta.url);

interface Listed {
  path: string;
  options: Set<string>;
}

// Every visible command that does something, with its options as help shows them.
function commandsOf(): Listed[] {
  const listed: Listed[] = [];
  const walk = (command: ReturnType<typeof program>, path: string[]) => {
    const help = command.createHelp();
    const children = help.visibleCommands(command).filter((child) => child.name() !== "help");
    for (const child of children) {
      walk(child as ReturnType<typeof program>, [...path, child.name()]);
    }
    if (children.length > 0 || path.length === 0) return;
    const options = new Set<string>();
    for (const option of help.visibleOptions(command)) {
      if (option.long === "--help") continue;
      if (option.long) options.add(option.long);
      if (option.short) options.add(option.short);
    }
    listed.push({ path: path.join(" "), options });
  };
  walk(program(), []);
  return listed;
}

// The README's command lines, continuation lines joined, comments dropped.
async function readmeLines(): Promise<string[]> {
  const text = await Deno.readTextFile(README);
  const block = /## Every command\n+```sh\n([\s\S]*?)```/.exec(text);
  assert.ok(block, `README.md has no "## Every command" sh block`);
  const lines: string[] = [];
  for (const raw of block[1].split("\n")) {
    const line = raw.replace(/\s+#.*$/, "");
    if (/^\s+\S/.test(line) && lines.length) lines[lines.length - 1] += " " + line.trim();
    else if (line.startsWith("ohcommodore ")) lines.push(line);
  }
  return lines;
}

// The commands a line speaks of: `inbox list|show` is two, `scheduler start|status|stop` three;
// the words after a command (`completions bash|zsh|fish`) are its arguments.
function pathsOf(line: string, known: Set<string>): string[] {
  const words = line.split(/\s+/).slice(1);
  let paths = [[] as string[]];
  for (const word of words) {
    if (!/^[a-z_][a-z_|-]*$/.test(word) || paths.every((path) => known.has(path.join(" ")))) break;
    paths = paths.flatMap((path) => word.split("|").map((name) => [...path, name]));
  }
  return paths.map((path) => path.join(" "));
}

Deno.test("the README lists every command with its options, and no option the CLI lacks", async () => {
  const commands = commandsOf();
  const known = new Set(commands.map((command) => command.path));
  const lines = await readmeLines();
  const problems: string[] = [];
  for (const command of commands) {
    const mine = lines.filter((line) => pathsOf(line, known).includes(command.path));
    if (mine.length === 0) {
      problems.push(`"${command.path}" has no line`);
      continue;
    }
    const shown = new Set(mine.flatMap((line) => line.match(/(?<![\w-])--?[a-zA-Z][\w-]*/g) ?? []));
    for (const option of command.options) {
      if (!shown.has(option)) problems.push(`"${command.path}" does not show ${option}`);
    }
    for (const option of shown) {
      if (option !== "--" && !command.options.has(option)) {
        problems.push(`"${command.path}" shows ${option}, which it does not take`);
      }
    }
  }
  for (const line of lines) {
    for (const path of pathsOf(line, known)) {
      if (!known.has(path)) problems.push(`the README lists "${path}", which is no command`);
    }
  }
  assert.deepEqual(problems, []);
});
