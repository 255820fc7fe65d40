/**
 * The hidden `agent` commands a scheduler runs for agent work (`_task`, `_integrate`, `_pr`):
 * each reads its JSON on stdin and returns its exit code. `cli.ts` starts them without building
 * the command tree, whose modules take most of a program start (measured: about 90 ms of 150
 * before Claude Code starts); the tree's hidden commands call the same functions.
 *
 * @module
 */

import type { TaskSpec } from "../agent/task.ts";

/** A hidden command's work: its input on stdin, its exit code back. */
export type ShipSideCommand = () => Promise<number>;

/** The hidden `agent` commands, by name; each loads only what it runs. */
export const SHIP_SIDE_COMMANDS: Readonly<Record<string, ShipSideCommand>> = {
  async _task() {
    // The task is read while its modules load: Claude Code starts the sooner.
    const [{ runTask }, { checkTaskSpec }, spec] = await Promise.all([
      import("../agent/task_runner.ts"),
      import("../agent/task_check.ts"),
      stdinJson<TaskSpec>(),
    ]);
    return await runTask(checkTaskSpec(spec));
  },
  async _integrate() {
    const { runIntegration } = await import("../agent/integrate.ts");
    // A bad spec is an outcome too: the flagship reads the last line.
    return await runIntegration(await stdinJson());
  },
  async _pr() {
    const { runOpenPr } = await import("../agent/open_pr.ts");
    return await runOpenPr(await stdinJson());
  },
};

/**
 * The hidden command `args` name, when they name one and nothing else.
 *
 * @param args The program's arguments.
 * @returns Its work, or undefined for anything else.
 */
export function shipSideCommand(args: readonly string[]): ShipSideCommand | undefined {
  if (args.length !== 2 || args[0] !== "agent" || !Object.hasOwn(SHIP_SIDE_COMMANDS, args[1])) {
    return undefined;
  }
  return SHIP_SIDE_COMMANDS[args[1]];
}

// The input a hidden command reads, parsed; the command checks its shape.
async function stdinJson<T>(): Promise<T> {
  return JSON.parse(await new Response(Deno.stdin.readable).text()) as T;
}
