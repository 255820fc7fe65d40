/**
 * `ohcommodore init`: create the fleet's flagship from the laptop.
 *
 * @module
 */

import { Command, Option } from "./deps.ts";
import { Fleet } from "../fleet/fleet.ts";
import { PROVIDER_KINDS } from "../providers/provider.ts";
import { SETTING_NAMES } from "../settings.ts";
import { listenForInterruption } from "./interrupt.ts";
import { withBoard } from "./live_board.ts";
import { note, paint, printJson, progressOn } from "./output.ts";

/** Builds the `init` command. */
export function initCommand(): Command {
  return new Command("init")
    .summary("Create a fleet: its flagship VM")
    .description(
      "Create a fleet: its flagship VM, with ohcommodore, an SSH key, an inbox and a scheduler.\n" +
        `Reads ${SETTING_NAMES.join(", ")} from the environment or ./.env.`,
    )
    .addOption(
      new Option("--provider <provider>", "where VMs come from (local: sandboxes on this machine)")
        .choices(PROVIDER_KINDS).default("exedev" as const),
    )
    .option("--local-root <dir>", "for --provider local: where sandboxes live")
    .option("--json", "print the fleet as JSON")
    .action(async (options) => {
      note(`Creating the flagship (${options.provider})…`);
      using interruption = listenForInterruption(`run "ohcommodore fleet sink --scuttle"`);
      const fleet = await withBoard((board) =>
        Fleet.init({
          provider: options.provider,
          localRoot: options.localRoot,
          onProgress: progressOn(board),
          signal: interruption.signal,
        })
      );
      if (options.json) return printJson(fleet.facts);
      note(
        paint("green", `Flagship ${fleet.facts.flagshipVm} is ready`) +
          ` (${fleet.facts.flagship})`,
      );
      note(`Next: ohcommodore ship create <owner/repo>`);
    });
}
