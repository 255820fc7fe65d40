/**
 * The scheduler: claims the oldest unread message, runs it, stores the outcome, one at a time.
 *
 * @module
 */

import { setLongTimeout } from "../timer.ts";
import { dirname, join } from "node:path";
import { DatabaseError, OhcommodoreError } from "../errors.ts";
import { commandCredentials } from "../member_env.ts";
import { shellQuote } from "../ssh.ts";
import { VERSION } from "../version.ts";
import { isTransientDatabaseError } from "./database.ts";
import { claimNext, finish, type Inbox, recordProcessGroup, startScheduling } from "./inbox.ts";
import type { Message, MessageStatus } from "./message.ts";
import { removeReportFile, writeReportFile } from "./report.ts";
import { runCommand } from "./run_command.ts";
import { Doorbell } from "./wake.ts";

/** What the scheduler reports as it works. */
export type SchedulerEvent =
  | { type: "started"; address: string; database: string }
  | { type: "recovered"; message: Message }
  | { type: "running"; message: Message }
  | { type: "finished"; message: Message }
  | { type: "retrying"; error: Error }
  | { type: "reportFailed"; error: Error }
  | { type: "stopping" };

// How stale the report may get: status readers see a change after at most this (plus a query).
const REPORT_DELAY_MS = 200;

/** Options for {@link Scheduler.start}. */
export interface SchedulerOptions {
  /** Called for every event; the library never prints. */
  onEvent?: (event: SchedulerEvent) => void;
  /** Overrides the fallback poll interval from `config`. */
  pollIntervalMs?: number;
  /** Overrides the output cap per stream. */
  outputCapBytes?: number;
  /** Time between SIGTERM and SIGKILL when a command times out. */
  killGraceMs?: number;
}

/**
 * Where the single-scheduler lock of a database lives.
 *
 * @param database The database file.
 * @returns The lock file.
 */
export function schedulerLockPathOf(database: string): string {
  return `${database}.scheduler.lock`;
}

/**
 * Where the scheduler holding a database's lock records its process id (for `scheduler stop`).
 *
 * @param database The database it serves.
 * @returns The pid file.
 */
export function schedulerPidPathOf(database: string): string {
  return `${schedulerLockPathOf(database)}.pid`;
}

/** Why the last scheduler of a database could not start, as it recorded it. */
export interface SchedulerFailure {
  /** The error, with what to do about it. */
  error: string;
  /** When it failed (ISO time). */
  at: string;
  /** The process that failed. */
  pid: number;
}

/**
 * Where a scheduler that could not start records why (removed when one starts).
 *
 * @param database The database it was to serve.
 * @returns The file.
 */
export function schedulerFailurePathOf(database: string): string {
  return `${schedulerLockPathOf(database)}.failed.json`;
}

/**
 * Reads why the last scheduler of a database could not start.
 *
 * @param database The database.
 * @returns The failure, or null when the last one started (or none ever failed).
 */
export async function readSchedulerFailure(database: string): Promise<SchedulerFailure | null> {
  try {
    const data = JSON.parse(await Deno.readTextFile(schedulerFailurePathOf(database)));
    return typeof data?.error === "string" ? data : null;
  } catch {
    return null;
  }
}

/**
 * Runs the commands delivered to one inbox. Only one scheduler runs per database.
 *
 * @example Run a scheduler until SIGTERM
 * ```ts
 * import { Inbox, Scheduler } from "@smithclay/ohcommodore";
 * const scheduler = await Scheduler.start(await Inbox.open());
 * Deno.addSignalListener("SIGTERM", () => scheduler.stop());
 * await scheduler.finished;
 * ```
 */
export class Scheduler {
  /** Resolves once the scheduler has stopped and its running command has ended. */
  readonly finished: Promise<void>;
  readonly #inbox: Inbox;
  readonly #options: SchedulerOptions;
  #stopping = false;
  // The message running now: its process group once known, and whether it is to be stopped.
  #current: { id: string; pgid?: number; cancelled: boolean } | null = null;
  #rung = false;
  #wakeUp: () => void = () => {};
  #reporting: Promise<void> = Promise.resolve();
  #reportTimer: ReturnType<typeof setTimeout> | undefined;
  #reportClosed = false;

  private constructor(
    inbox: Inbox,
    options: SchedulerOptions,
    lock: Deno.FsFile,
    pollMs: number,
  ) {
    this.#inbox = inbox;
    this.#options = options;
    this.finished = this.#run(lock, pollMs);
  }

  /**
   * Takes the database's scheduler lock, records its pid, marks commands a dead scheduler left
   * running as `error`, writes its report and starts running the inbox. Once this resolves,
   * deliveries wake it and `scheduler status` sees it.
   *
   * @param inbox The inbox to serve.
   * @param options Event callback and tuning.
   * @returns The running scheduler.
   * @throws {OhcommodoreError} When another scheduler already serves this database.
   * @throws {DatabaseError} When the database cannot be used for a reason that does not pass by
   *   itself (a damaged file, no permission): with DuckDB's error and what to do. The reason is
   *   also recorded for `scheduler status` ({@link readSchedulerFailure}).
   */
  static async start(inbox: Inbox, options: SchedulerOptions = {}): Promise<Scheduler> {
    const lockPath = schedulerLockPathOf(inbox.database);
    await Deno.mkdir(dirname(lockPath), { recursive: true, mode: 0o700 });
    const lock = await Deno.open(lockPath, { read: true, write: true, create: true, mode: 0o600 });
    if (!(await lock.tryLock(true))) {
      lock.close();
      throw new OhcommodoreError(
        `Another scheduler is already running for "${inbox.database}": ` +
          `check it with "ohcommodore scheduler status", stop it with "ohcommodore scheduler stop"`,
      );
    }
    // Written under the lock and before the doorbell answers, removed after it stops answering:
    // whenever a scheduler answers, this file names it.
    await Deno.writeTextFile(schedulerPidPathOf(inbox.database), `${Deno.pid}\n`, { mode: 0o600 })
      .catch((error) => {
        lock.close();
        throw error;
      });
    const emit = options.onEvent ?? (() => {});
    let start: Awaited<ReturnType<typeof startScheduling>>;
    try {
      // Only a busy database is waited for: retrying a damaged one would go on unseen forever.
      start = await persist(() => startScheduling(inbox), emit, isTransientDatabaseError);
    } catch (error) {
      const failure = cannotStart(inbox.database, error as Error);
      const record: SchedulerFailure = {
        error: failure.message,
        at: new Date().toISOString(),
        pid: Deno.pid,
      };
      await Deno.writeTextFile(schedulerFailurePathOf(inbox.database), JSON.stringify(record), {
        mode: 0o600,
      }).catch(() => {});
      await Deno.remove(schedulerPidPathOf(inbox.database)).catch(() => {});
      lock.close();
      throw failure;
    }
    await Deno.remove(schedulerFailurePathOf(inbox.database)).catch(() => {});
    for (const message of start.recovered) emit({ type: "recovered", message });
    // The report exists before the doorbell answers: whoever sees this scheduler running can
    // also read which version it is.
    const failure = await writeReport(inbox, start.counts);
    if (failure) emit({ type: "reportFailed", error: failure });
    return new Scheduler(inbox, options, lock, options.pollIntervalMs ?? start.pollIntervalMs);
  }

  /** Stops claiming messages; the running command finishes or times out first. */
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#options.onEvent?.({ type: "stopping" });
    this.#wakeUp();
  }

  async #run(lock: Deno.FsFile, pollMs: number): Promise<void> {
    using _lock = lock; // released last
    try {
      await this.#serve(pollMs);
    } finally {
      await Deno.remove(schedulerPidPathOf(this.#inbox.database)).catch(() => {});
    }
  }

  async #serve(pollMs: number): Promise<void> {
    const emit = this.#options.onEvent ?? (() => {});
    using doorbell = Doorbell.listen(
      this.#inbox.database,
      () => this.#ring(),
      (id) => this.#cancel(id),
    );
    emit({ type: "started", address: this.#inbox.address, database: this.#inbox.database });
    try {
      while (!this.#stopping) {
        this.#rung = false;
        const message = await this.#persist(() => claimNext(this.#inbox));
        if (!message) {
          // Checked in the same tick as the sleep begins, so a ring or stop() is never lost.
          if (!this.#rung && !this.#stopping) await this.#sleep(pollMs);
          continue;
        }
        this.#current = { id: message.id, cancelled: false };
        this.#report();
        emit({ type: "running", message });
        const outcome = await runCommand(message.command, {
          cwd: await this.#workdir(),
          scratchDir: join(dirname(this.#inbox.database), "run"),
          timeoutMs: message.timeoutSec * 1000,
          capBytes: this.#options.outputCapBytes,
          killGraceMs: this.#options.killGraceMs,
          onSpawn: async (pgid) => {
            const current = this.#current;
            if (current?.id === message.id) current.pgid = pgid;
            const verdict = await this.#persist(() =>
              recordProcessGroup(this.#inbox, message.id, pgid)
            );
            return verdict === "kill" || current?.cancelled ? "kill" : undefined;
          },
          env: {
            ...await commandCredentials(this.#inbox.home),
            OHCOMMODORE_MESSAGE_ID: message.id,
            OHCOMMODORE_SENDER: message.sender ?? "",
            OHCOMMODORE_ADDRESS: this.#inbox.address,
          },
        });
        this.#current = null;
        const finished = await this.#persist(() => finish(this.#inbox, message.id, outcome));
        this.#report();
        emit({ type: "finished", message: finished });
        doorbell.announceFinished(finished.id);
      }
    } finally {
      this.#reportClosed = true;
      clearTimeout(this.#reportTimer);
      await this.#reporting;
      await removeReportFile(this.#inbox.database);
    }
  }

  /**
   * Rewrites the report file soon (counts change with every claim, finish and delivery). The
   * short wait lets a burst of changes share one query, and keeps the query out of the way of
   * the claim a delivery has just set off.
   */
  #report(): void {
    if (this.#reportTimer !== undefined || this.#reportClosed) return;
    this.#reportTimer = setTimeout(() => {
      this.#reportTimer = undefined;
      this.#reporting = this.#reporting.then(async () => {
        const failure = await writeReport(this.#inbox);
        if (failure) this.#options.onEvent?.({ type: "reportFailed", error: failure });
      });
    }, REPORT_DELAY_MS);
  }

  // Stops the running message's process group: TERM, then KILL after the grace.
  #cancel(id: string): void {
    const current = this.#current;
    if (current?.id !== id || current.cancelled) return;
    current.cancelled = true;
    const signal = (name: Deno.Signal) => {
      if (this.#current !== current || current.pgid === undefined) return;
      try {
        Deno.kill(-current.pgid, name);
      } catch {
        // already gone
      }
    };
    signal("SIGTERM");
    setLongTimeout(() => signal("SIGKILL"), this.#options.killGraceMs ?? 5000);
  }

  #ring(): void {
    this.#rung = true;
    this.#report(); // a delivery or a change made by hand
    this.#wakeUp();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      // POLL_INTERVAL_SEC comes from the database: a huge one must not fire at once and spin.
      const cancel = setLongTimeout(resolve, ms);
      this.#wakeUp = () => {
        cancel();
        resolve();
      };
    });
  }

  #persist<T>(step: () => Promise<T>): Promise<T> {
    return persist(step, this.#options.onEvent ?? (() => {}));
  }

  async #workdir(): Promise<string> {
    const candidate = this.#inbox.identity.workdir;
    if (candidate) {
      const info = await Deno.stat(candidate).catch(() => undefined);
      if (info?.isDirectory) return candidate;
    }
    return this.#inbox.home;
  }
}

/** The error of a scheduler that cannot use its database, with how to recover. */
function cannotStart(database: string, error: Error): DatabaseError {
  const aside = `mv ${shellQuote(database)} ${shellQuote(`${database}.broken`)}`;
  return new DatabaseError(
    `The scheduler cannot start: ${error.message}; if that file is damaged, move it aside with ` +
      `"${aside}" and run "ohcommodore scheduler start" again (it makes a new, empty inbox; ` +
      `the moved file keeps the old messages)`,
    { cause: error },
  );
}

/**
 * Retries a database step until it succeeds (an outcome must never be dropped), or until it
 * fails in a way `retryIf` says will not pass.
 */
async function persist<T>(
  step: () => Promise<T>,
  emit: (event: SchedulerEvent) => void,
  retryIf: (error: unknown) => boolean = () => true,
): Promise<T> {
  for (let pause = 100;; pause = Math.min(pause * 2, 5000)) {
    try {
      return await step();
    } catch (error) {
      if (!retryIf(error)) throw error;
      emit({ type: "retrying", error: error as Error });
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

/**
 * Rewrites an inbox's report file.
 *
 * @param counts The counts when just read, else they are read from the database.
 * @returns Why it could not, or null.
 */
async function writeReport(
  inbox: Inbox,
  counts?: Record<MessageStatus, number>,
): Promise<Error | null> {
  try {
    await writeReportFile(inbox.database, {
      address: inbox.address,
      version: VERSION,
      schedulerRunning: true,
      counts: counts ?? await inbox.counts(),
    });
    return null;
  } catch (error) {
    // A stale report is worse than none: without one, readers ask the program instead.
    await removeReportFile(inbox.database);
    return error as Error;
  }
}
