/**
 * `ohcommodore fleet …`: see the whole fleet, sink it.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "./deps.ts";
import { OhcommodoreError, UsageError } from "../errors.ts";
import { formatDuration } from "../duration.ts";
import { Fleet } from "../fleet/fleet.ts";
import { openFlagship } from "../fleet/open_fleet.ts";
import { quote } from "../clip.ts";
import { DEFAULT_EXEC_CONCURRENCY, MAX_EXEC_CONCURRENCY } from "../fleet/exec.ts";
import { timeoutOption, wholeNumber } from "./arguments.ts";
import { shipsOption } from "./completions.ts";
import { resetText } from "./limit_text.ts";
import { describeOutcome, formatExecSummary } from "./exec_report.ts";
import { listenForInterruption } from "./interrupt.ts";
import { confirmTyped, notKept, warnOfUnendedTasks } from "./destroy_check.ts";
import { serveFleetCall } from "../fleet/fleet_call.ts";
import type { FleetStatus, ShipStatus } from "../fleet/backend.ts";
import { VERSION } from "../version.ts";
import { withBoard, writeAll } from "./live_board.ts";
import { escapeControls, formatTable, note, out, paint, printJson, progressOn } from "./output.ts";
import { refreshShipNames, updateShipNames, writeShipNames } from "./ship_names_cache.ts";
import { watchCommand } from "./watch_command.ts";

/** Builds the `fleet` command group. */
export function fleetCommand(): Command {
  const fleet = new Command("fleet").description("See or sink the whole fleet");

  fleet.addCommand(statusCommand());
  fleet.addCommand(watchCommand());
  fleet.addCommand(costsCommand());
  fleet.addCommand(sinkCommand());
  fleet.addCommand(execCommand());
  fleet.addCommand(hiddenCallCommand(), { hidden: true });

  return fleet;
}

async function confirm(fleet: Fleet, scuttle: boolean): Promise<void> {
  const what = scuttle ? `every ship AND the flagship ${fleet.facts.flagshipVm}` : "every ship";
  await confirmTyped(
    "sink",
    `This destroys ${what} of fleet ${fleet.facts.tag}.`,
    `Sinking asks you to type "sink" on a terminal; use --force in scripts`,
  );
}

function printStatus(status: FleetStatus): void {
  const own = status.flagship.report;
  out(
    `Flagship ${status.flagship.name} (${status.flagship.destination}, ${status.flagship.provider})` +
      `  scheduler ${own.schedulerRunning ? "running" : "STOPPED"}  unread ${own.counts.unread}` +
      `  running ${own.counts.running}  version ${own.version}`,
  );
  if (own.version !== VERSION) {
    note(paint("yellow", `The flagship runs ${own.version}, this program ${VERSION}`));
  }
  if (status.ships.length === 0) {
    out("No ships. Create one with: ohcommodore ship create <owner/repo>");
  } else {
    const rows = status.ships.map((ship) => [
      ship.name,
      ship.template ? `${ship.repo} (template)` : ship.repo ?? "-",
      ship.destination,
      ship.status === "ready" ? ship.vmStatus : `${ship.status}/${ship.vmStatus}`,
      accessOf(ship),
      ship.report ? (ship.report.schedulerRunning ? "running" : "STOPPED") : "?",
      String(ship.report?.counts.unread ?? "?"),
      String(ship.report?.counts.running ?? "?"),
      ship.report?.version ?? "?",
      escapeControls(taskOf(ship), { inline: true }), // the ship's own words
    ]);
    out(formatTable(
      [
        "SHIP",
        "REPO",
        "DESTINATION",
        "VM",
        "ACCESS",
        "SCHEDULER",
        "UNREAD",
        "RUNNING",
        "VERSION",
        "TASK",
      ],
      rows,
    ));
    for (const ship of status.ships) {
      if (ship.problem) {
        note(paint("yellow", escapeControls(`${ship.name}: ${ship.problem}`, { inline: true })));
      }
    }
  }
  for (const orphan of status.orphans) {
    note(paint("yellow", `Unrecorded VM of this fleet: ${orphan.name} ("fleet sink" removes it)`));
  }
}

// The ship's current or last agent task: its status, how long it ran, what it cost, and when
// the usage limit it ended on, or waits out, resets.
function taskOf(ship: ShipStatus): string {
  const task = ship.task;
  if (!task) return "-";
  const cost = task.costUsd === null ? "" : ` $${task.costUsd.toFixed(4)}`;
  const reset = task.resetAt ? `, ${resetText(task.resetAt)}` : "";
  const plan = ship.plan
    ? ` (plan ${ship.plan.id}${ship.plan.task ? `/${ship.plan.task}` : ""})`
    : "";
  return `${task.status} ${formatDuration(Math.max(task.runningMs, 0))}${cost}${reset}${plan}`;
}

// How a ship reaches the fleet: its own key (trusted), or the flagship's channel (keyless).
function accessOf(ship: ShipStatus): string {
  if (!ship.trusted) return `keyless, channel ${ship.channel ?? "?"}`;
  return ship.keyRegistered === false ? "trusted, key NOT registered" : "trusted";
}

// `fleet status`.
function statusCommand(): CommandUnknownOpts {
  return new Command("status")
    .description("Show the flagship and every ship: reachability, scheduler, inbox, version")
    .option("--json", "print the status as JSON")
    .action(async (options) => {
      const status = await (await Fleet.open()).status();
      await refreshShipNames(() => writeShipNames(status.ships.map((ship) => ship.name)));
      if (options.json) return printJson(status);
      printStatus(status);
    });
}

// `fleet costs`.
function costsCommand(): CommandUnknownOpts {
  return new Command("costs")
    .description(
      "Total the recorded costs of agent tasks, per ship and for the fleet, destroyed ships too",
    )
    .option(
      "--json",
      'print {"ships": [{"name", "tasks", "costUsd", "destroyed"}], "totalUsd"} as JSON',
    )
    .action(async (options) => {
      await using fleet = await Fleet.open();
      const costs = await fleet.agents.costs();
      for (const ship of costs.unreachable) {
        const said = `${ship.ship} could not be asked (not counted): ${ship.error}`;
        note(paint("yellow", escapeControls(said, { inline: true })));
      }
      if (options.json) return printJson(costs);
      out(formatTable(
        ["SHIP", "TASKS", "COST"],
        [
          ...costs.ships.map((ship) => [
            ship.destroyed ? `${ship.name} (destroyed)` : ship.name,
            String(ship.tasks),
            `$${ship.costUsd.toFixed(4)}`,
          ]),
          [
            "total",
            String(costs.ships.reduce((sum, ship) => sum + ship.tasks, 0)),
            `$${costs.totalUsd.toFixed(4)}`,
          ],
        ],
      ));
    });
}

// `fleet sink`.
function sinkCommand(): CommandUnknownOpts {
  return new Command("sink")
    .description('Destroy every ship (asks you to type "sink" unless --force)')
    .option("--force", "do not ask")
    .option("--scuttle", "also destroy the flagship and forget the fleet (from the laptop only)")
    .option("--json", "print what was destroyed as JSON")
    .action(async (options) => {
      const opened = await Fleet.open();
      await warnOfUnendedTasks(opened);
      if (!options.force) await confirm(opened, Boolean(options.scuttle));
      const result = await withBoard(async (board) => {
        const shown = new Set<string>();
        const show = progressOn(board);
        const result = await opened.sink({
          scuttle: options.scuttle,
          onProgress: (progress) => {
            shown.add(progress.vm);
            show(progress);
          },
        });
        // The outcome goes on the lines this board shows (a proxied sink shows its own).
        const flagship = result.scuttled ? [opened.facts.flagshipVm] : [];
        for (const name of [...result.destroyed, ...result.orphans, ...flagship]) {
          if (shown.has(name)) board.done(name, "destroyed");
        }
        for (const failure of result.failed) {
          board.done(failure.name, paint("red", `failed: ${failure.error}`));
        }
        return result;
      });
      for (const ship of result.tasksNotKept) {
        note(paint("yellow", notKept(ship.name, ship.error)));
      }
      if (result.flagshipUnreachable) {
        note(
          paint(
            "yellow",
            `The flagship could not sink its ships (${result.flagshipUnreachable}); the provider removed them`,
          ),
        );
      }
      const gone = [...result.destroyed, ...result.orphans];
      await refreshShipNames(() =>
        options.scuttle ? writeShipNames([]) : updateShipNames({ remove: gone })
      );
      if (options.json) printJson(result);
      else {
        note(
          `Sank ${gone.length} ship(s)${
            result.orphans.length ? ` (${result.orphans.length} unrecorded)` : ""
          }` +
            (result.scuttled ? ` and the flagship ${opened.facts.flagshipVm}` : ""),
        );
      }
      if (result.failed.length) {
        const why = `${result.failed.length} VM(s) could not be destroyed; ` +
          `run "ohcommodore fleet sink" again`;
        // With --json the failures are in the JSON; a second document would break it.
        if (!options.json) throw new OhcommodoreError(why);
        note(paint("red", "error: ") + why);
        Deno.exitCode = 1;
      }
    });
}

// `fleet exec`.
function execCommand(): CommandUnknownOpts {
  return new Command("exec")
    .description(
      "Run one shell command on many ships at once; ships with the same output are shown once",
    )
    .argument("<command...>", "the command (after --, so its options stay its own)")
    .addOption(shipsOption("only these ships: names or unique prefixes, comma-separated"))
    .addOption(timeoutOption("how long the command may run on each ship", "30m"))
    .option(
      "-c, --concurrency <n>",
      `how many ships at once (1-${MAX_EXEC_CONCURRENCY})`,
      wholeNumber("--concurrency", { max: MAX_EXEC_CONCURRENCY }),
      DEFAULT_EXEC_CONCURRENCY,
    )
    .option("--json", "print one result per ship as JSON")
    .addHelpText(
      "after",
      `\nExit code: 0 when every ship succeeded, 1 when any failed or could not be reached.\n` +
        `\nExamples:\n  ohcommodore fleet exec -- 'cd ~/web && git pull --ff-only'\n` +
        `  ohcommodore fleet exec --ships web,api --timeout 10m --json -- deno task test`,
    )
    .action(async (words, options) => {
      // One word is a whole command line; several are joined as a shell would have split them.
      const command = words.join(" ");
      const ships = options.ships?.split(",").map((name) => name.trim()).filter(Boolean);
      if (ships?.length === 0) {
        throw new UsageError(
          `--ships ${quote(options.ships)} names no ship: give names or prefixes, comma-separated`,
        );
      }
      await using opened = await Fleet.open();
      using interruption = listenForInterruption(
        `commands may still run on ships that did not hear the cancel; see "ohcommodore inbox"`,
      );
      // One line per ship: "running", then how it ended (in place on a terminal).
      const results = await withBoard((board) =>
        opened.exec(command, {
          ships,
          timeoutMs: options.timeout,
          concurrency: options.concurrency,
          signal: interruption.signal,
          onProgress: (event) => {
            if (event.phase === "running") return board.set(event.ship, "running");
            const { result } = event;
            const took = formatDuration(result.durationMs);
            board.done(
              event.ship,
              result.ok
                ? paint("green", `ok in ${took}`)
                : paint("red", `${describeOutcome(result)} after ${took}`),
            );
          },
        })
      );
      if (options.json) printJson(results);
      else out(formatExecSummary(results));
      if (results.failed.length) Deno.exitCode = 1;
    });
}

// `fleet _call`.
function hiddenCallCommand(): CommandUnknownOpts {
  return new Command("_call")
    .description("Answer one fleet call from the laptop: JSON on stdin, JSON lines on stdout")
    .action(async () => {
      const input = await new Response(Deno.stdin.readable).text();
      Deno.exitCode = await serveFleetCall(
        input,
        () => openFlagship(),
        (line) => writeAll(Deno.stdout, line + "\n"),
      );
    });
}
