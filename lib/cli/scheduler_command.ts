/**
 * `ohcommodore scheduler …` and the hidden `ohcommodore _scheduler` that runs in the foreground.
 *
 * @module
 */

import { Command } from "./deps.ts";
import { Inbox } from "../inbox/inbox.ts";
import { MAX_RUNNING_LIMIT } from "../inbox/scheduler_state.ts";
import { Scheduler, type SchedulerEvent } from "../inbox/scheduler.ts";
import {
  schedulerState,
  startSchedulerService,
  stopSchedulerService,
} from "../inbox/scheduler_service.ts";
import { SCHEDULER_UNIT_LOG } from "../inbox/scheduler_unit.ts";
import { VERSION } from "../version.ts";
import { oneLine } from "../clip.ts";
import { wholeNumber } from "./arguments.ts";
import { escapeControls, note, out, printJson } from "./output.ts";
import { selfCommand } from "../self_command.ts";
import { readFleetFacts } from "../fleet/config.ts";
import { homeDir } from "../paths.ts";
import { ShipChannels } from "../relay/ship_channels.ts";
import { Registry } from "../fleet/registry.ts";
import { startFlagshipService } from "../fleet/flagship_service.ts";
import { agentHandlers } from "../agent/ship_service.ts";

/** Builds the `scheduler` command group. */
export function schedulerCommand(): Command {
  const scheduler = new Command("scheduler")
    .description("Run, check or stop this member's scheduler, which runs delivered commands");

  scheduler.command("start")
    .description(
      "Start the scheduler in the background (through its systemd user unit where init.sh " +
        "installed one, else detached with its log in ~/.local/ship/scheduler.log); one of " +
        "another version is restarted, one of this version is left running",
    )
    .option("--json", "print the state as JSON")
    .action(async (options) => {
      const state = await startSchedulerService(await Inbox.open(), selfCommand());
      if (options.json) return printJson(state);
      const log = state.systemd ? `${SCHEDULER_UNIT_LOG} (systemd user unit)` : state.log;
      out(`${state.action} (pid ${state.pid ?? "?"}, version ${VERSION}), log: ${log}`);
    });

  scheduler.command("status")
    .description(
      "Tell whether the scheduler runs (or why it could not start); exits 1 when it does not",
    )
    .option("--json", "print the state as JSON")
    .option("--this-version", "also exit 1 when it runs another version than this program")
    .action(async (options) => {
      const state = await schedulerState(await Inbox.open());
      const current = state.running && (!options.thisVersion || state.version === VERSION);
      if (options.json) printJson(state);
      else if (!state.running && state.failure) {
        const { error, next, at } = state.failure;
        out(`failed: ${oneLine(next ? `${error}; ${next}` : error, 2000)} (at ${at})`);
      } else if (!state.running) out("stopped");
      else {
        const other = state.version === VERSION
          ? ""
          : `; this program is ${VERSION}: restart it with "ohcommodore scheduler start"`;
        out(`running (pid ${state.pid ?? "?"}, version ${state.version ?? "unknown"}${other})`);
      }
      if (!current) Deno.exitCode = 1;
    });

  scheduler.command("stop")
    .description(
      "Stop the scheduler (through systemctl where systemd runs it); a running command " +
        "finishes or times out first",
    )
    .option("--json", 'print {"stopped": true | false} as JSON')
    .action(async (options) => {
      const stopped = await stopSchedulerService(await Inbox.open());
      if (options.json) return printJson({ stopped });
      note(stopped ? "Scheduler stopped" : "No scheduler was running");
    });

  scheduler.command("concurrency")
    .description(
      "Show or set how many commands run at once, at most (default 1, as the original tool; " +
        "a running scheduler takes a new value at once)",
    )
    .argument(
      "[count]",
      `a whole number from 1 to ${MAX_RUNNING_LIMIT}`,
      wholeNumber("count", { max: MAX_RUNNING_LIMIT }),
    )
    .option("--json", 'print {"maxRunning": N} as JSON')
    .action(async (count, options) => {
      const maxRunning = await (await Inbox.open()).maxRunning(count);
      if (options.json) return printJson({ maxRunning });
      out(String(maxRunning));
    });

  return scheduler;
}

/** Builds the hidden `_scheduler` command: the scheduler in the foreground, logging to stderr. */
export function foregroundSchedulerCommand(): Command {
  return new Command("_scheduler")
    .description("Run the scheduler in the foreground until SIGTERM or SIGINT")
    .action(async () => {
      const inbox = await Inbox.open();
      const facts = inbox.identity.role === "commodore" ? await readFleetFacts() : null;
      // The flagship's scheduler also answers fleet calls that read, and drives its plans.
      const service = facts
        ? await startFlagshipService({ facts, home: homeDir(), log: logLine })
        : undefined;
      const scheduler = await Scheduler.start(inbox, {
        onEvent: logEvent,
        handlers: { ...agentHandlers(), ...service?.handlers },
      }).catch(async (error) => {
        await service?.stop();
        throw error;
      });
      // It also keeps the channels of its keyless ships (a local fleet's sandboxes share one
      // user: none of them is keyless).
      const keyless = facts?.provider === "exedev";
      const channels = facts && keyless
        ? ShipChannels.start({
          home: homeDir(),
          flagship: facts.flagshipVm,
          ships: async () => await (await Registry.open(homeDir())).list(),
          log: logLine,
        })
        : undefined;
      const stop = () => scheduler.stop();
      Deno.addSignalListener("SIGTERM", stop);
      Deno.addSignalListener("SIGINT", stop);
      try {
        await scheduler.finished;
      } finally {
        Deno.removeSignalListener("SIGTERM", stop);
        Deno.removeSignalListener("SIGINT", stop);
        await channels?.stop();
        // Fleet changes under way finish before the process ends (the lock is free already,
        // so a new scheduler may start meanwhile).
        await service?.stop();
      }
    });
}

function logEvent(event: SchedulerEvent): void {
  const line = (() => {
    switch (event.type) {
      case "started":
        return `scheduler for ${event.address} started (pid ${Deno.pid}, ${event.database})`;
      case "recovered":
        return `${event.message.id} was running when a scheduler stopped: marked error`;
      case "running":
        return `${event.message.id} running from ${event.message.sender ?? "?"}: ` +
          oneLine(event.message.command, 80);
      case "finished":
        return `${event.message.id} ${event.message.status} (exit ${event.message.exitCode})`;
      case "reportFailed":
        return `could not update the status report (readers will ask the program): ` +
          event.error.message;
      case "retrying":
        return `database busy or failing, retrying: ${event.error.message}`;
      case "stopping":
        return "stopping: no new messages will start";
    }
  })();
  logLine(line);
}

// A command's first line goes into the log: its escape sequences must not reach whoever reads
// the log on a terminal.
function logLine(line: string): void {
  console.error(`${new Date().toISOString()} ${escapeControls(line)}`);
}
