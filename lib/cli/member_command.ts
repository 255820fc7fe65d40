/**
 * Hidden commands other members (and init.sh) run on this one: `_setup` makes it a fleet member,
 * `_setup-copy` makes a copy of a ship a ship of its own, `_status` reports on it.
 *
 * @module
 */

import { Command, Option } from "./deps.ts";
import { ROLES } from "../address.ts";
import { quote } from "../clip.ts";
import { UsageError } from "../errors.ts";
import { bindIdentity, type Identity, writeIdentity } from "../identity.ts";
import { homeDir } from "../paths.ts";
import { memberReport } from "../fleet/member_status.ts";
import { VM_NAME } from "../fleet/names.ts";
import { Registry } from "../fleet/registry.ts";
import { printJson } from "./output.ts";
import { setupCopy } from "./ship_side_commands.ts";

/** Builds `_setup`: identity, and on a flagship its inbox tables and registry. */
export function setupCommand(): Command {
  return new Command("_setup")
    .description("Make this machine a fleet member (run by cloudinit/init.sh)")
    .addOption(
      new Option("--role <role>", "commodore or captain").choices(ROLES).makeOptionMandatory(),
    )
    .requiredOption("--name <vm>", "this VM's name")
    .option("--workdir <dir>", "where commands run (the cloned repository)")
    .option("--flagship-name <vm>", "the flagship's VM name (ships)")
    .option("--flagship-dest <destination>", "the flagship's destination (ships)")
    .option("--keyless", "a ship without a key: it reaches the fleet through the flagship")
    .action(async (options) => {
      if (options.role === "local") {
        throw new UsageError(`_setup is for VMs: "local" is the laptop's role`);
      }
      if (!VM_NAME.test(options.name)) {
        throw new UsageError(
          `${quote(options.name)} is not a VM name (lowercase letters, digits, -)`,
        );
      }
      if (Boolean(options.flagshipName) !== Boolean(options.flagshipDest)) {
        throw new UsageError(`Give both --flagship-name and --flagship-dest, or neither`);
      }
      if (options.keyless && (options.role !== "captain" || !options.flagshipName)) {
        throw new UsageError(`--keyless is for a ship: give --role captain and its flagship`);
      }
      const identity: Identity = {
        role: options.role,
        name: options.name,
        ...(options.workdir ? { workdir: options.workdir } : {}),
        ...(options.flagshipName && options.flagshipDest
          ? { flagship: { name: options.flagshipName, destination: options.flagshipDest } }
          : {}),
        ...(options.keyless ? { keyless: true } : {}),
      };
      // Bound to this home (and a VM's host), so a copy of this VM does not pass for it.
      await writeIdentity(bindIdentity(identity, homeDir()));
      // A ship's inbox tables are made by its scheduler before it serves anything, which
      // spares every new ship a DuckDB start here; the flagship needs its registry now (its
      // first session also makes the inbox tables beside it).
      if (identity.role === "commodore") await (await Registry.open()).ensure();
      printJson(identity);
    });
}

/**
 * Builds `_setup-copy`: the flagship runs it on a new copy of a ship, with what the copy is to
 * be as JSON on stdin (secrets included, so never on argv); it answers with one JSON line.
 */
export function setupCopyCommand(): Command {
  return new Command("_setup-copy")
    .description(
      "Make this copy of a ship a ship of its own: forget its source's inbox, tasks, channel, " +
        "key and settings, write its own, check out origin's default branch, start its " +
        "scheduler (run by the flagship, with what it is to be as JSON on stdin)",
    )
    .action(async () => {
      Deno.exitCode = await setupCopy();
    });
}

/** Builds `_status`: this member's report as JSON. */
export function statusCommand(): Command {
  return new Command("_status")
    .description("Print this member's version, scheduler state and inbox counts as JSON")
    .action(async () => printJson(await memberReport()));
}
