/**
 * The scheduler as a background service: start it (through its systemd user unit where init.sh
 * installed one, else detached with its log in the ship directory), find out whether it runs,
 * stop it.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { OhcommodoreError, TimeoutError } from "../errors.ts";
import { registerErrorClass } from "../error_data.ts";
import { ensurePrivateFile } from "../private_files.ts";
import { selfCommand } from "../self_command.ts";
import { VERSION } from "../version.ts";
import type { Inbox } from "./inbox.ts";
import { NoSchedulerError } from "./no_scheduler_error.ts";
import type { Message } from "./message.ts";
import {
  readSchedulerFailure,
  type SchedulerFailure,
  schedulerLockPathOf,
  schedulerPidPathOf,
} from "./scheduler_files.ts";
import {
  SCHEDULER_UNIT_LOG,
  schedulerUnitEnabled,
  startSchedulerUnit,
  stopSchedulerUnit,
} from "./scheduler_unit.ts";
import { ServerConnection } from "./server_connection.ts";
import { socketPathOf } from "./socket_path.ts";
import { sleep } from "../timer.ts";

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
  const log = schedulerLogOf(inbox.database);
  const server = await ServerConnection.connect(socketPathOf(inbox.database), inbox.address);
  if (!server) {
    return {
      running: false,
      pid: null,
      log,
      version: null,
      failure: await readSchedulerFailure(inbox.database),
    };
  }
  try {
    const hello = await server.call("hello", {}, { timeoutMs: 5_000 });
    return { running: true, pid: hello.pid, log, version: hello.version, failure: null };
  } catch {
    // It listens but does not speak this protocol: an older scheduler, to be replaced.
    const pidText = (await Deno.readTextFile(schedulerPidPathOf(inbox.database)).catch(() => ""))
      .trim();
    const pid = /^\d+$/.test(pidText) ? Number(pidText) : null;
    return { running: true, pid, log, version: null, failure: null };
  } finally {
    server.close();
  }
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
  await ensurePrivateFile(log); // 0600 before sh appends to it, also when it exists
  // The script is constant; the program and log path travel as argv and environment.
  // NO_COLOR: the log is a file, and Deno colours what it prints itself (an uncaught error)
  // even there. Its commands inherit it: their output is stored, not shown on a terminal.
  const child = new Deno.Command("sh", {
    args: ["-c", 'exec "$@" >>"$OHCOMMODORE_LOG" 2>&1', "sh", ...program, "_scheduler"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
    env: { HOME: inbox.home, OHCOMMODORE_LOG: log, NO_COLOR: "1" },
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

// How often a starting scheduler is asked: a new ship is ready only once its scheduler answers,
// and until it listens asking costs a refused connect and a small file read.
const ANSWER_POLL_MS = 10;

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
  while (Date.now() < deadline) {
    const state = await schedulerState(inbox);
    if (state.running) return state;
    if (state.failure && Date.parse(state.failure.at) >= since) {
      failure = state.failure;
      break;
    }
    // Ours gave up, but another may be starting (two deliveries started one each): it holds
    // the scheduler lock until it answers or fails.
    if (exited() && !(await schedulerLockHeld(inbox.database))) break;
    await sleep(ANSWER_POLL_MS);
  }
  const status = exited();
  const recorded = failure ?? await readSchedulerFailure(inbox.database);
  const how = status ? `exit code ${status.code}` : failure ? "it gave up" : "no answer in 15s";
  if (recorded && Date.parse(recorded.at) >= since) {
    throw new OhcommodoreError(`The scheduler did not start (${how}): ${recorded.error}`, {
      next: recorded.next,
    });
  }
  throw new OhcommodoreError(`The scheduler did not start (${how}); ${await whereToLook()}`);
}

/** Whether some process holds a database's scheduler lock (a scheduler runs or starts). */
async function schedulerLockHeld(database: string): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(schedulerLockPathOf(database), { read: true, write: true });
  } catch {
    return false; // no scheduler ever ran here
  }
  try {
    if (!(await file.tryLock(true))) return true;
    await file.unlock();
    return false;
  } finally {
    file.close();
  }
}

/**
 * Makes sure a scheduler will run a message that waits in an inbox: when none answers, starts
 * one as `ohcommodore scheduler start` does (through systemd where init.sh installed its unit,
 * else detached). A delivery calls it, so that a member whose scheduler died (and that no
 * supervisor restarts) does not take messages that nothing will run.
 *
 * @example Deliver by hand and make sure it runs
 * ```ts
 * import { Inbox } from "@smithclay/ohcommodore";
 * import { ensureScheduler } from "@smithclay/ohcommodore/inbox";
 * const inbox = await Inbox.open();
 * const message = await inbox.deliver({ recipient: inbox.address, command: "make" });
 * await ensureScheduler(inbox, message);
 * ```
 *
 * @param inbox The inbox.
 * @param message The message that waits (named in the error).
 * @param program The argv that runs this CLI (default: this program).
 * @throws {SchedulerNotStartedError} When none answers and none could be started.
 */
export async function ensureScheduler(
  inbox: Inbox,
  message: Message,
  program: string[] = selfCommand(),
): Promise<void> {
  if ((await schedulerState(inbox)).running) return;
  try {
    await startSchedulerService(inbox, program);
  } catch (error) {
    throw new SchedulerNotStartedError(inbox.address, message, error as Error);
  }
}

/**
 * A message waits in an inbox whose scheduler is not running, and starting one failed: the
 * message is stored, but nothing will run it until someone fixes that.
 *
 * @example Tell a sender that its message waits
 * ```ts
 * import { SchedulerNotStartedError, send } from "@smithclay/ohcommodore";
 * await send("captain@ship-web-k3f9a1b2", "make").catch((error) => {
 *   if (!(error instanceof SchedulerNotStartedError)) throw error;
 *   console.error(`${error.waiting.id} waits: ${error.reason}`);
 * });
 * ```
 */
export class SchedulerNotStartedError extends NoSchedulerError {
  /** Why the scheduler could not be started. */
  readonly reason: string;

  /**
   * Creates the error.
   *
   * @param address The inbox's address.
   * @param message The waiting message.
   * @param reason Why starting a scheduler failed.
   */
  constructor(address: string, message: Message, reason: Error) {
    super(address, message);
    this.message = `Message "${message.id}" is ${message.status} on ${address}, but no ` +
      `scheduler runs there and none could be started: ${reason.message}; nothing will run it ` +
      `until one does`;
    this.next = `fix that, run "ohcommodore scheduler start" there, then check ` +
      `"ohcommodore inbox show ${message.id}"`;
    this.reason = reason.message;
  }
}

// It crosses from the recipient to the sender as data and comes back as itself.
registerErrorClass(SchedulerNotStartedError);

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
    await sleep(100);
  }
  return true;
}
