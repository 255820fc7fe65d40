/**
 * `ohcommodore fleet watch`: its options and help. The watch itself (`fleet_watch.ts`, with the
 * view it draws) loads only when the command runs, so `--help` and completion stay quick.
 *
 * @module
 */

import { Command, type CommandUnknownOpts, Option } from "./deps.ts";
import { parseDuration } from "../duration.ts";

/**
 * Builds `fleet watch`.
 *
 * @example Add it to the fleet group
 * ```ts
 * import { Command } from "npm:@commander-js/extra-typings@15.1.0";
 * import { watchCommand } from "./watch_command.ts";
 *
 * new Command("fleet").addCommand(watchCommand());
 * ```
 *
 * @returns The command.
 */
export function watchCommand(): CommandUnknownOpts {
  return new Command("watch")
    .description(
      "Watch the fleet live: ships, their tasks, plans and held messages, updated in place; " +
        "follow an agent's transcript",
    )
    .addOption(
      new Option("--interval <duration>", "how often the fleet is read (default 2s)")
        .argParser(parseDuration),
    )
    .option("--json", "print each event (snapshot, plan event, error) as a JSON line")
    .addHelpText(
      "after",
      `\nOn a terminal, full screen: ↑/↓ (or j/k) choose a ship, plan or task, Enter opens it ` +
        `(a ship's current task, a plan's tasks), Esc goes back, q quits.\n` +
        `Elsewhere (a pipe, a file), a plain line per change until Ctrl-C.`,
    )
    .action(async (options) => {
      const { watchFleet } = await import("./fleet_watch.ts");
      Deno.exitCode = await watchFleet({ json: options.json, intervalMs: options.interval });
    });
}
