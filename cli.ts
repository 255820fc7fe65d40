/**
 * The ohcommodore command line: `ohcommodore --help` lists the commands.
 *
 * @module
 */

import type { CommanderError } from "./lib/cli/deps.ts";
import { errorText, escapeControls, note, paint } from "./lib/cli/output.ts";
import { shipSideCommand } from "./lib/cli/ship_side_commands.ts";
import { OhcommodoreError, UsageError } from "./lib/errors.ts";
import { type ErrorData, errorToData } from "./lib/error_data.ts";
import { VERSION } from "./lib/version.ts";

export { VERSION };

/**
 * Runs the CLI and returns its exit code: 0 ok, 1 failure, 2 usage, or the code a command sets.
 *
 * @param args The arguments, without the program name.
 * @returns The exit code.
 */
export async function main(args: string[]): Promise<number> {
  // Our own options stand before "--"; what follows is a remote command's (fleet exec).
  const ours = args.includes("--") ? args.slice(0, args.indexOf("--")) : args;
  const verbose = ours.includes("-v") || ours.includes("--verbose");
  // The hidden commands other members run here (agent work, a copy's setup, the scheduler) start
  // without the command tree: its modules are most of a program start.
  const shipSide = shipSideCommand(args);
  // Loaded here, not above: a ship-side command never loads them.
  const { CommanderError } = shipSide
    ? { CommanderError: undefined }
    : await import("./lib/cli/deps.ts");
  try {
    if (shipSide) return await shipSide();
    const { program } = await import("./lib/cli/program.ts");
    await program().parseAsync(args, { from: "user" });
    return typeof Deno.exitCode === "number" ? Deno.exitCode : 0;
  } catch (error) {
    if (CommanderError && error instanceof CommanderError) {
      // Help and version "errors" are successes; the rest are usage errors, already printed,
      // and with --json on the command line also given as data, as every other failure is.
      if (error.exitCode === 0) return 0;
      if (ours.includes("--json")) console.log(JSON.stringify({ error: parseErrorData(error) }));
      return 2;
    }
    // Messages quote what was typed or what a remote member said: shown, not obeyed.
    note(paint("red", "error: ") + escapeControls(errorText(error)));
    if (verbose) printCauses(error);
    // Scripts (and other members reading this one's inbox) get the error as data too.
    if (ours.includes("--json")) console.log(JSON.stringify({ error: errorToData(error) }));
    return error instanceof OhcommodoreError ? error.exitCode : 1;
  }
}

// Commander's words (without its "error: "), as a usage error, with commander's code.
function parseErrorData(error: CommanderError): ErrorData {
  const message = error.message.replace(/^error: /, "");
  return { ...errorToData(new UsageError(message)), fields: { code: error.code } };
}

function printCauses(error: unknown): void {
  if (!(error instanceof OhcommodoreError) && error instanceof Error && error.stack) {
    note(escapeControls(error.stack));
  }
  for (let cause = (error as Error)?.cause; cause; cause = (cause as Error).cause) {
    note(`  caused by: ${escapeControls(errorText(cause))}`);
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
