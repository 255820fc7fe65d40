/**
 * The scheduler as a background service: start it (through its systemd user unit where init.sh
 * installed one, else detached with its log in the ship directory), find out whether it runs,
 * stop it.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { OhcommodoreError, TimeoutError } from "../errors.ts";
import { VERSION } from "../version.ts";
import type { Inbox } from "./inbox.ts";
import { readReportFile } from "./report.ts";
import { readSchedulerFailure, type SchedulerFailure, schedulerPidPathOf } from "./scheduler.ts";
import {
  SCHEDULER_UNIT_LOG,
  schedulerUnitEnabled,
  startSchedulerUnit,
  stopSchedulerUnit,
} from "./scheduler_unit.ts";
import { FinishListener } from "./wake.ts";

/** Whether a scheduler serves a database, and which process it is. */
export interface SchedulerState {
  /** True when its socket answers. */
  running: boolean;
  /** Its process id, when known. */
  pid: number | null;
  /** Its log file. */
  log: string;
  /** The version of the running scheduler, from its report; null when unknown. */
  version: string | null;
  /** When none runs: why the last one could not start, as it recorded it; else null. */
  failure: SchedulerFailure | null;
}

/** What {@link startSchedulerService} did. */
export interface SchedulerStart extends SchedulerState {
  /** `restarted` replaced a scheduler of another version (say, before an upgrade). */
  action: "started" | "already running" | "restarted";
  /** Whether systemd started it (its user unit; the log is then in the journal). */
  systemd: boolean;
}

/**
 * The scheduler's log file for a database.
 *
 * @param database The database file.
 * @returns The log file.
 */
export function schedulerLogOf(database: string): string {
  return join(dirname(database), "scheduler.log");
}

/**
 * Tells whether a scheduler is running for an inbox.
 *
 * @param inbox The inbox.
 * @returns Its state.
 */
export async function schedulerState(inbox: Inbox): Promise<SchedulerState> {
  const listener = await FinishListener.connect(inbox.database);
  listener?.[Symbol.dispose]();
  const pidText = (await Deno.readTextFile(schedulerPidPathOf(inbox.database)).catch(() => ""))
    .trim();
  const pid = listener && /^\d+$/.test(pidText) ? Number(pidText) : null;
  const version = listener ? (await readReportFile(inbox.database))?.version ?? null : null;
  const failure = listener ? null : await readSchedulerFailure(inbox.database);
  const log = schedulerLogOf(inbox.database);
  return { running: listener !== undefined, pid, log, version, failure };
}

/**
 * Makes sure a scheduler of this version serves the inbox, unless one already runs: through
 * systemd where init.sh installed its user unit, else as a detached process running
 * `program _scheduler`; then waits until it answers. One of another version (an upgrade replaced
 * the program under it) is stopped first.
 *
 * @param inbox The inbox to serve.
 * @param program The argv that runs this CLI.
 * @returns Its state and what was done.
 */
export async function startSchedulerService(
  inbox: Inbox,
  program: string[],
): Promise<SchedulerStart> {
  const current = await schedulerState(inbox);
  const unit = await schedulerUnitEnabled(inbox.home);
  if (current.running && current.version === VERSION) {
    return { ...current, action: "already running", systemd: unit };
  }
  if (current.running) await stopSchedulerService(inbox);
  const action = current.running ? "restarted" : "started";
  if (unit) {
    await startSchedulerUnit();
    const state = await untilAnswering(
      inbox,
      () => undefined,
      () => Promise.resolve(`see "${SCHEDULER_UNIT_LOG}"`),
    );
    return { ...state, action, systemd: true };
  }
  const log = schedulerLogOf(inbox.database);
  await Deno.mkdir(dirname(log), { recursive: true, mode: 0o700 });
  // The script is constant; the program and log path travel as argv and environment.
  const child = new Deno.Command("sh", {
    args: ["-c", 'exec "$@" >>"$OHCOMMODORE_LOG" 2>&1', "sh", ...program, "_scheduler"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
    env: { HOME: inbox.home, OHCOMMODORE_LOG: log },
  }).spawn();
  let exited: Deno.CommandStatus | undefined;
  child.status.then((status) => exited = status);
  child.unref();
  const state = await untilAnswering(inbox, () => exited, async () => {
    const tail = (await Deno.readTextFile(log).catch(() => "")).trim().split("\n").slice(-5);
    return `the end of ${log}:\n${tail.join("\n")}`;
  });
  return { ...state, action, systemd: false };
}

/**
 * Waits up to 15 s for a starting scheduler to answer, for its process to exit, or for it to
 * record that it cannot start (under systemd, whose process we do not see).
 */
async function untilAnswering(
  inbox: Inbox,
  exited: () => Deno.CommandStatus | undefined,
  whereToLook: () => Promise<string>,
): Promise<SchedulerState> {
  const since = Date.now();
  const deadline = since + 15_000;
  let failure: SchedulerFailure | null = null;
  while (Date.now() < deadline && !exited()) {
    const state = await schedulerState(inbox);
    if (state.running) return state;
    if (state.failure && Date.parse(state.failure.at) >= since) {
      failure = state.failure;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const status = exited();
  const recorded = failure ?? await readSchedulerFailure(inbox.database);
  const how = status ? `exit code ${status.code}` : failure ? "it gave up" : "no answer in 15s";
  if (recorded && Date.parse(recorded.at) >= since) {
    throw new OhcommodoreError(`The scheduler did not start (${how}): ${recorded.error}`);
  }
  throw new OhcommodoreError(`The scheduler did not start (${how}); ${await whereToLook()}`);
}

/**
 * Asks a running scheduler to stop and waits for it; its running command may finish. Where
 * systemd runs it, systemd is asked, so that the unit is not left thinking it still runs (and
 * does not start it again).
 *
 * @param inbox The inbox.
 * @param timeoutMs How long to wait.
 * @returns Whether one was running.
 */
export async function stopSchedulerService(inbox: Inbox, timeoutMs = 60_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const state = await schedulerState(inbox);
  // Asked even when none answers: systemd may be about to start one again.
  const unitPid = await schedulerUnitEnabled(inbox.home) ? await stopSchedulerUnit() : null;
  if (!state.running) return false;
  if (state.pid === null) {
    throw new OhcommodoreError(
      `A scheduler answers for "${inbox.database}" but its pid is unknown: ` +
        `find it with "pgrep -af _scheduler" and send it SIGTERM`,
    );
  }
  if (state.pid !== unitPid) Deno.kill(state.pid, "SIGTERM"); // one systemd does not know
  while ((await schedulerState(inbox)).running) {
    if (Date.now() > deadline) {
      throw new TimeoutError(
        `The scheduler (pid ${state.pid}) did not stop within ${timeoutMs / 1000}s`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}
