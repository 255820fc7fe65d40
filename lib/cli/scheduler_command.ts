/**
 * `ohcommodore scheduler …` and the hidden `ohcommodore _scheduler` that runs in the foreground.
 *
 * @module
 */

import { Command } from "./deps.ts";
import { Inbox } from "../inbox/inbox.ts";
import { MAX_RUNNING_LIMIT } from "../inbox/scheduler_state.ts";
import {
  schedulerState,
  startSchedulerService,
  stopSchedulerService,
} from "../inbox/scheduler_service.ts";
import { SCHEDULER_UNIT_LOG } from "../inbox/scheduler_unit.ts";
import { VERSION } from "../version.ts";
import { oneLine } from "../clip.ts";
import { wholeNumber } from "./arguments.ts";
import { note, out, printJson } from "./output.ts";
import { runForegroundScheduler } from "./foreground_scheduler.ts";
import { selfCommand } from "../self_command.ts";

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

/**
 * Builds the hidden `_scheduler` command: the scheduler in the foreground, logging to stderr.
 * `cli.ts` runs it without the tree; `--help` finds it here.
 */
export function foregroundSchedulerCommand(): Command {
  return new Command("_scheduler")
    .description("Run the scheduler in the foreground until SIGTERM or SIGINT")
    .action(async () => {
      await runForegroundScheduler();
    });
}
