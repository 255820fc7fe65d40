/**
 * `ohcommodore ship …`: create, enter and destroy ships.
 *
 * @module
 */

import { Argument, Command, type CommandUnknownOpts, Option } from "./deps.ts";
import { Fleet } from "../fleet/fleet.ts";
import { checkCopyOptions, MAX_SHIPS_PER_CREATE } from "../fleet/create_ships.ts";
import { CreateShipsError } from "../fleet/create_ships_error.ts";
import { parseShipSpec } from "../fleet/names.ts";
import type { ShipRecord } from "../fleet/registry.ts";
import { wholeNumber } from "./arguments.ts";
import { completeWith } from "./completions.ts";
import { confirmTyped, notKept, warnOfUnendedTasks } from "./destroy_check.ts";
import { listenForInterruption } from "./interrupt.ts";
import { withBoard } from "./live_board.ts";
import { note, out, paint, printJson, progressOn } from "./output.ts";
import { refreshShipNames, updateShipNames } from "./ship_names_cache.ts";

/** Builds the `ship` command group. */
export function shipCommand(): Command {
  const ship = new Command("ship").description("Create, enter or destroy ships");

  ship.addCommand(createCommand());
  ship.addCommand(templateCommand());
  ship.addCommand(sshCommand());
  ship.addCommand(destroyCommand());

  return ship;
}

function shipName(): Argument<"<name>"> {
  return completeWith(new Argument("<name>", "the ship's name or a unique prefix"), "ship");
}

// `ship create`.
function createCommand(): CommandUnknownOpts {
  return new Command("create")
    .description(
      "Create ship VMs named ship-<name>-<suffix>, each with the repository cloned and a " +
        "scheduler: set up from nothing by init.sh, or copied from a ready ship of the same " +
        'repository (--from, or the repository\'s template; see "ship template") and made its ' +
        "own: a new name and identity, an empty inbox and task history, its own channel or key, " +
        "settings written afresh, origin fetched and its default branch checked out clean",
    )
    .argument("<repo>", "owner/repo (GitHub), a git URL, or a plain name for a ship without a repo")
    .option(
      "-n, --count <n>",
      `how many ships (1-${MAX_SHIPS_PER_CREATE}, made in parallel)`,
      wholeNumber("--count", { max: MAX_SHIPS_PER_CREATE }),
      1,
    )
    .option(
      "--trusted",
      "give each ship its own key, registered with the provider, so ships reach each other " +
        "directly (by default ships hold no key and reach the fleet only through the flagship)",
    )
    .addOption(
      completeWith(
        new Option(
          "--from <ship>",
          "copy this ready ship (name or unique prefix) of the same repository: its " +
            "toolchains, caches and clone, without init.sh",
        ),
        "ship",
      ),
    )
    .addOption(
      new Option(
        "--fresh",
        "set each ship up from nothing (init.sh) even when the repository " +
          "has a template",
      ).conflicts("from"),
    )
    .option("--json", "print the ships as JSON (on failure: the error, with the ships made)")
    .action(async (repo, options) => {
      // Refused before the fleet is opened or a word of progress is printed.
      parseShipSpec(repo);
      checkCopyOptions(options);
      const count = options.count;
      const fleet = await Fleet.open();
      if (!fleet.onFlagship) {
        const how = options.from ? `Copying ${options.from} into` : `Creating`;
        note(`${how} ${count} ship(s) through ${fleet.facts.flagshipVm}…`);
      }
      using interruption = listenForInterruption(`run "ohcommodore fleet sink"`);
      let ships: ShipRecord[];
      try {
        ships = await withBoard((board) =>
          fleet.createShips(repo, {
            count,
            trusted: options.trusted === true,
            from: options.from,
            fresh: options.fresh === true,
            onProgress: progressOn(board),
            signal: interruption.signal,
          })
        );
      } catch (error) {
        // The ships that were made are data too (with --json they are in the error's fields).
        if (error instanceof CreateShipsError && !options.json) {
          for (const made of error.created) out(made.name);
        }
        throw error;
      }
      await refreshShipNames(() => updateShipNames({ add: ships.map((made) => made.name) }));
      if (options.json) return printJson(ships);
      for (const made of ships) out(made.name);
      note(
        paint("green", `${ships.length} ship(s) ready`) +
          `; send work with: ohcommodore inbox send captain@${ships[0].name} '<command>'`,
      );
    });
}

// `ship template`.
function templateCommand(): CommandUnknownOpts {
  return new Command("template")
    .description(
      'Make a ready ship its repository\'s template: "ship create <repo>" then copies it ' +
        "(made its own) instead of setting a VM up from nothing, unless --fresh. A repository " +
        "has one template; marking another replaces it, destroying it leaves none",
    )
    .addArgument(shipName())
    .option("--unset", "make the ship no longer its repository's template")
    .option("--json", "print the ship's record as JSON")
    .action(async (name, options) => {
      const fleet = await Fleet.open();
      const ship = await fleet.templateShip(name, { unset: options.unset === true });
      if (options.json) return printJson(ship);
      note(
        options.unset
          ? `${ship.name} is no longer the template of ${ship.repo ?? "its repository"}`
          : `${ship.name} is the template of ${ship.repo}: "ohcommodore ship create ` +
            `${ship.repo}" copies it (--fresh sets a ship up from nothing)`,
      );
    });
}

// `ship ssh`.
function sshCommand(): CommandUnknownOpts {
  return new Command("ssh")
    .description(
      "Open a shell on a ship (by name or unique prefix); your SSH agent stays on this machine",
    )
    .addArgument(shipName())
    .option(
      "--forward-agent",
      "lend the ship your SSH agent for this session: code on the ship can then use every key " +
        "it holds (an exe.dev key opens the lobby and every VM of the account)",
    )
    .action(async (name, options) => {
      const found = await (await Fleet.open()).ship(name);
      const agent = options.forwardAgent === true;
      if (agent) {
        note(paint(
          "yellow",
          `warning: forwarding your SSH agent to ${found.name}: while this session is open, code ` +
            `on the ship can use every key your agent holds (with an exe.dev key: the lobby, ` +
            `every VM of the account, the flagship and its GitHub token)`,
        ));
      }
      note(`Connecting to ${found.name} (${found.destination})…`);
      Deno.exitCode = await found.ssh({ agent });
    });
}

// `ship destroy`.
function destroyCommand(): CommandUnknownOpts {
  return new Command("destroy")
    .description(
      "Destroy a ship: its VM, its SSH key and its record (the flagship keeps its agent tasks' " +
        'outcomes and costs; asks you to type "destroy" when tasks have not ended, unless ' +
        "--force)",
    )
    .addArgument(shipName())
    .option("--force", "do not ask, even when agent tasks on the ship have not ended")
    .option("--json", "print the destroyed ship as JSON")
    .action(async (name, options) => {
      const fleet = await Fleet.open();
      const found = await fleet.ship(name);
      const unended = await warnOfUnendedTasks(fleet, [found]);
      if (unended.length && !options.force) {
        await confirmTyped(
          "destroy",
          `This destroys ${found.name} and stops its agent task(s).`,
          `${found.name} has agent task(s) that have not ended (${
            unended.map((task) => task.id).join(", ")
          }): ` +
            `wait for them or cancel them, or give --force to destroy it anyway`,
        );
      }
      const gone = await fleet.destroyShip(found.name);
      await refreshShipNames(() => updateShipNames({ remove: [gone.name] }));
      if (gone.tasksNotKept) note(paint("yellow", notKept(gone.name, gone.tasksNotKept)));
      if (options.json) return printJson(gone);
      note(
        `Destroyed ${gone.name}` +
          (gone.tasksKept
            ? `; the flagship keeps its ${gone.tasksKept} agent task(s) for ` +
              `"ohcommodore fleet costs"`
            : ""),
      );
    });
}
