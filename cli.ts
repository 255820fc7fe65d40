/**
 * The ohcommodore command line: `ohcommodore --help` lists the commands.
 *
 * @module
 */

import { Command, CommanderError } from "./lib/cli/deps.ts";
import { completionsCommand } from "./lib/cli/completions_command.ts";
import { fleetCommand } from "./lib/cli/fleet_command.ts";
import { inboxCommand } from "./lib/cli/inbox_command.ts";
import { initCommand } from "./lib/cli/init_command.ts";
import { setupCommand, statusCommand } from "./lib/cli/member_command.ts";
import { shipCommand } from "./lib/cli/ship_command.ts";
import { note, paint } from "./lib/cli/output.ts";
import { foregroundSchedulerCommand, schedulerCommand } from "./lib/cli/scheduler_command.ts";
import { errorToData, OhcommodoreError } from "./lib/errors.ts";
import { VERSION } from "./lib/version.ts";

export { VERSION };

/**
 * Builds the command tree (shell completion is generated from it).
 *
 * @returns The root command.
 */
export function program(): Command {
  const root = new Command("ohcommodore")
    .description("Manage and coordinate a fleet of Claude Code–enabled VMs over SSH")
    .version(VERSION, "-V, --version")
    .option("-v, --verbose", "show the cause chain of errors")
    .showSuggestionAfterError()
    .configureOutput({ outputError: (text, write) => write(paint("red", text)) });
  root.addCommand(initCommand());
  root.addCommand(shipCommand());
  root.addCommand(fleetCommand());
  root.addCommand(inboxCommand());
  root.addCommand(schedulerCommand());
  root.addCommand(completionsCommand());
  root.addCommand(foregroundSchedulerCommand(), { hidden: true });
  root.addCommand(setupCommand(), { hidden: true });
  root.addCommand(statusCommand(), { hidden: true });
  // Usage errors anywhere in the tree throw instead of exiting, so main() picks the exit code.
  const subcommands = root.commands.flatMap((group) => group.commands);
  for (const command of [root, ...root.commands, ...subcommands]) command.exitOverride();
  return root;
}

/**
 * Runs the CLI and returns its exit code: 0 ok, 1 failure, 2 usage, or the code a command sets.
 *
 * @param args The arguments, without the program name.
 * @returns The exit code.
 */
export async function main(args: string[]): Promise<number> {
  const verbose = args.includes("-v") || args.includes("--verbose");
  try {
    await program().parseAsync(args, { from: "user" });
    return typeof Deno.exitCode === "number" ? Deno.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version "errors" are successes; the rest are usage errors, already printed.
      return error.exitCode === 0 ? 0 : 2;
    }
    note(paint("red", "error: ") + messageOf(error));
    if (verbose) printCauses(error);
    // Scripts (and other members reading this one's inbox) get the error as data too.
    if (args.includes("--json")) console.log(JSON.stringify({ error: errorToData(error) }));
    return error instanceof OhcommodoreError ? error.exitCode : 1;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function printCauses(error: unknown): void {
  if (!(error instanceof OhcommodoreError) && error instanceof Error && error.stack) {
    note(error.stack);
  }
  for (let cause = (error as Error)?.cause; cause; cause = (cause as Error).cause) {
    note(`  caused by: ${messageOf(cause)}`);
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
