/**
 * The hidden commands other members run here with JSON on stdin: the `agent` commands a
 * scheduler runs for agent work (`_task`, `_integrate`, `_pr`) and `_setup-copy`, which the
 * flagship runs on a new copy of a ship; and `_scheduler`, which reads nothing. Each returns its
 * exit code. `cli.ts` starts them without building the command tree, whose modules take most of a
 * program start (measured: about 90 ms of 150 before Claude Code starts, 30 ms of a scheduler's);
 * the tree's hidden commands call the same functions.
 *
 * @module
 */

import type { TaskSpec } from "../agent/task.ts";
// Loaded with cli.ts anyway: every failure it reports is one of these.
import { UsageError } from "../errors.ts";
import type { CopySetup } from "../fleet/copy_setup.ts";

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
 * `_setup-copy`: makes this copy of a ship a ship of its own, from what the flagship says it is
 * to be (secrets included, so never on argv), and prints what was made as one JSON line.
 *
 * @returns Its exit code.
 * @throws {UsageError} When the JSON is not what the flagship sends.
 */
export async function setupCopy(): Promise<number> {
  const [{ setUpCopy }, { VM_NAME }, { homeDir }, { selfCommand }] = await Promise.all([
    import("../fleet/copy_setup.ts"),
    import("../fleet/names.ts"),
    import("../paths.ts"),
    import("../self_command.ts"),
  ]);
  const setup = await stdinJson<CopySetup>().catch(() => {
    throw new UsageError(`_setup-copy wants what the copy is to be as JSON on stdin`);
  });
  if (typeof setup?.name !== "string" || !VM_NAME.test(setup.name)) {
    throw new UsageError(`_setup-copy was given no VM name to take`);
  }
  if (typeof setup.env !== "string" || typeof setup.flagship?.destination !== "string") {
    throw new UsageError(`_setup-copy was given no settings or no flagship`);
  }
  console.log(JSON.stringify(await setUpCopy(setup, homeDir(), selfCommand())));
  return 0;
}

// `_scheduler`: the scheduler in the foreground (every member's, started detached or by systemd).
async function foregroundScheduler(): Promise<number> {
  const { runForegroundScheduler } = await import("./foreground_scheduler.ts");
  return await runForegroundScheduler();
}

/**
 * The hidden command `args` name, when they name one and nothing else.
 *
 * @param args The program's arguments.
 * @returns Its work, or undefined for anything else.
 */
export function shipSideCommand(args: readonly string[]): ShipSideCommand | undefined {
  if (args.length === 1 && args[0] === "_setup-copy") return setupCopy;
  if (args.length === 1 && args[0] === "_scheduler") return foregroundScheduler;
  if (args.length !== 2 || args[0] !== "agent" || !Object.hasOwn(SHIP_SIDE_COMMANDS, args[1])) {
    return undefined;
  }
  return SHIP_SIDE_COMMANDS[args[1]];
}

// The input a hidden command reads, parsed; the command checks its shape.
async function stdinJson<T>(): Promise<T> {
  return JSON.parse(await new Response(Deno.stdin.readable).text()) as T;
}
