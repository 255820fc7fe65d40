/**
 * The scheduler: claims the oldest unread message, runs it, stores the outcome, one at a time.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { OhcommodoreError } from "../errors.ts";
import { commandCredentials } from "../member_env.ts";
import type { Inbox } from "./inbox.ts";
import type { Message } from "./message.ts";
import { runCommand } from "./run_command.ts";
import { Doorbell } from "./wake.ts";

/** What the scheduler reports as it works. */
export type SchedulerEvent =
  | { type: "started"; address: string; database: string }
  | { type: "recovered"; message: Message }
  | { type: "running"; message: Message }
  | { type: "finished"; message: Message }
  | { type: "retrying"; error: Error }
  | { type: "stopping" };

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
 * Runs the commands delivered to one inbox. Only one scheduler runs per database.
 *
 * @example Run a scheduler until SIGTERM
 * ```ts
 * import { Inbox, Scheduler } from "../../mod.ts";
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
  #rung = false;
  #wakeUp: () => void = () => {};

  private constructor(inbox: Inbox, options: SchedulerOptions, lock: Deno.FsFile) {
    this.#inbox = inbox;
    this.#options = options;
    this.finished = this.#run(lock);
  }

  /**
   * Takes the database's scheduler lock, marks commands a dead scheduler left running as
   * `error`, and starts running the inbox.
   *
   * @param inbox The inbox to serve.
   * @param options Event callback and tuning.
   * @returns The running scheduler.
   * @throws {OhcommodoreError} When another scheduler already serves this database.
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
    return new Scheduler(inbox, options, lock);
  }

  /** Stops claiming messages; the running command finishes or times out first. */
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#options.onEvent?.({ type: "stopping" });
    this.#wakeUp();
  }

  async #run(lock: Deno.FsFile): Promise<void> {
    const emit = this.#options.onEvent ?? (() => {});
    using _lock = lock;
    using doorbell = Doorbell.listen(this.#inbox.database, () => this.#ring());
    for (const message of await this.#persist(() => this.#inbox.recoverInterrupted())) {
      emit({ type: "recovered", message });
    }
    const pollMs = this.#options.pollIntervalMs ??
      await this.#persist(() => this.#inbox.pollIntervalMs());
    emit({ type: "started", address: this.#inbox.address, database: this.#inbox.database });
    while (!this.#stopping) {
      this.#rung = false;
      const message = await this.#persist(() => this.#inbox.claimNext());
      if (!message) {
        // Checked in the same tick as the sleep begins, so a ring or stop() is never lost.
        if (!this.#rung && !this.#stopping) await this.#sleep(pollMs);
        continue;
      }
      emit({ type: "running", message });
      const outcome = await runCommand(message.command, {
        cwd: await this.#workdir(),
        scratchDir: join(dirname(this.#inbox.database), "run"),
        timeoutMs: message.timeoutSec * 1000,
        capBytes: this.#options.outputCapBytes,
        killGraceMs: this.#options.killGraceMs,
        env: {
          ...await commandCredentials(this.#inbox.home),
          OHCOMMODORE_MESSAGE_ID: message.id,
          OHCOMMODORE_SENDER: message.sender ?? "",
          OHCOMMODORE_ADDRESS: this.#inbox.address,
        },
      });
      const finished = await this.#persist(() => this.#inbox.finish(message.id, outcome));
      emit({ type: "finished", message: finished });
      doorbell.announceFinished(finished.id);
    }
  }

  #ring(): void {
    this.#rung = true;
    this.#wakeUp();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Retries a database step until it succeeds: an outcome must never be dropped. */
  async #persist<T>(step: () => Promise<T>): Promise<T> {
    for (let pause = 100;; pause = Math.min(pause * 2, 5000)) {
      try {
        return await step();
      } catch (error) {
        this.#options.onEvent?.({ type: "retrying", error: error as Error });
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
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
