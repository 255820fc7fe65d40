/**
 * The hidden `ohcommodore _scheduler`: this member's scheduler in the foreground until SIGTERM or
 * SIGINT, logging to stderr. `cli.ts` starts it without the command tree (about 30 ms of every
 * scheduler's start, measured here: a new ship waits for it); on the flagship it also serves fleet
 * calls and plans and keeps its keyless ships' channels, whose modules only the flagship loads.
 *
 * @module
 */

import { Inbox } from "../inbox/inbox.ts";
import { Scheduler, type SchedulerEvent } from "../inbox/scheduler.ts";
import { agentHandlers } from "../agent/ship_service.ts";
import { readFleetFacts } from "../fleet/config.ts";
import { homeDir } from "../paths.ts";
import { oneLine } from "../clip.ts";
import { escapeControls } from "./output.ts";

/**
 * Runs the scheduler until it is stopped and its running commands have ended.
 *
 * @returns Its exit code, 0.
 * @throws {OhcommodoreError} When it cannot start (another holds the inbox, a damaged database).
 */
export async function runForegroundScheduler(): Promise<number> {
  const inbox = await Inbox.open();
  const facts = inbox.identity.role === "commodore" ? await readFleetFacts() : null;
  // Loaded before the scheduler starts: from its start on, a SIGTERM must find it listening.
  // It also keeps the channels of its keyless ships (a local fleet's sandboxes share one
  // user: none of them is keyless).
  const keepChannels = facts?.provider === "exedev"
    ? await shipChannelsKeeper(facts.flagshipVm)
    : undefined;
  // The flagship's scheduler also answers fleet calls that read, and drives its plans.
  const service = facts
    ? await (await import("../fleet/flagship_service.ts")).startFlagshipService({
      facts,
      home: homeDir(),
      log: logLine,
    })
    : undefined;
  const scheduler = await Scheduler.start(inbox, {
    onEvent: logEvent,
    handlers: { ...agentHandlers(), ...service?.handlers },
  }).catch(async (error) => {
    await service?.stop();
    throw error;
  });
  const channels = keepChannels?.();
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
  return 0;
}

// What starts the flagship's channels to its keyless ships, its modules loaded.
async function shipChannelsKeeper(flagship: string) {
  const [{ ShipChannels }, { Registry }] = await Promise.all([
    import("../relay/ship_channels.ts"),
    import("../fleet/registry.ts"),
  ]);
  return () =>
    ShipChannels.start({
      home: homeDir(),
      flagship,
      ships: async () => await (await Registry.open(homeDir())).list(),
      log: logLine,
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
