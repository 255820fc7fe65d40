/**
 * Agent work as inbox messages: a fixed command whose here-document feeds its input to
 * `ohcommodore agent <subcommand>` on stdin, so that a prompt is never on a command line (a
 * task's, {@link taskCommand}; integrate.ts and open_pr.ts make theirs the same way), reading
 * that input back, and the line such a command prints last to say how it ended.
 *
 * @module
 */

import { newMessageId } from "../inbox/message.ts";
import type { TaskSpec } from "./task.ts";
import { checkTaskSpec } from "./task_check.ts";

/** The first line of every task's command: how a task is told from other messages. */
export const TASK_MARK = "# ohcommodore agent task";

/**
 * The inbox command that runs a task: the program reads the task from a here-document, so the
 * prompt reaches it on stdin (it is kept in the inbox row, as every command is).
 *
 * @param spec The task.
 * @returns The command.
 */
export function taskCommand(spec: TaskSpec): string {
  return stdinCommand(TASK_MARK, "_task", checkTaskSpec(spec));
}

/**
 * An inbox command that runs `ohcommodore agent <subcommand>` with its input as JSON in a
 * here-document: the input reaches the program on stdin, never on a command line. The mark, its
 * first line, tells which kind of command it is; {@link commandInput} reads the input back.
 *
 * @param mark The first line, a shell comment.
 * @param subcommand The hidden `agent` subcommand.
 * @param input What it reads on stdin.
 * @returns The command.
 */
export function stdinCommand(mark: string, subcommand: string, input: unknown): string {
  const json = JSON.stringify(input);
  // A delimiter the text cannot hold: JSON puts no raw newline inside, so it is on no line.
  let delimiter: string;
  do delimiter = `OHC_TASK_${newMessageId()}`; while (json.includes(delimiter));
  return `${mark}\nexec "$HOME/.local/bin/ohcommodore" agent ${subcommand} <<'${delimiter}'\n` +
    `${json}\n${delimiter}\n`;
}

/**
 * The input of a command {@link stdinCommand} made with this mark.
 *
 * @param command An inbox message's command.
 * @param mark The mark it should start with.
 * @returns The input, parsed; undefined for other commands.
 */
export function commandInput(command: string, mark: string): unknown {
  if (!command.startsWith(`${mark}\n`)) return undefined;
  try {
    return JSON.parse(command.split("\n")[2]);
  } catch {
    return undefined;
  }
}

/**
 * The task a command runs, when it is a task's.
 *
 * @param command An inbox message's command.
 * @returns The task, or undefined for other commands.
 */
export function taskOf(command: string): TaskSpec | undefined {
  const spec = commandInput(command, TASK_MARK) as TaskSpec | undefined;
  return typeof spec?.prompt === "string" ? spec : undefined;
}

/**
 * The `outcome` of a `{"type": type, "outcome": …}` line among the last lines a command
 * printed: how every agent command says how it ended.
 *
 * @param output The command's stdout (its tail).
 * @param type The line's type.
 * @returns The outcome, parsed; undefined when no such line ends the output.
 */
export function printedLine(output: string | null, type: string): unknown {
  const lines = (output ?? "").trimEnd().split("\n");
  for (let i = lines.length - 1; i >= 0 && i >= lines.length - 3; i--) {
    try {
      const value = JSON.parse(lines[i]);
      if (value?.type === type) return value.outcome;
    } catch {
      // not ours
    }
  }
  return undefined;
}
