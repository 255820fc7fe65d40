/**
 * The scheduler: the inbox server of one member. It holds the database, answers the inbox
 * protocol on its socket, claims unread messages, runs them and stores their outcomes.
 *
 * @module
 */

import { parseAddress } from "../address.ts";
import { checkDurationMs, formatDuration, MAX_DURATION_MS, WAIT_MARGIN_MS } from "../duration.ts";
import { NotFoundError, OhcommodoreError, TimeoutError, UsageError } from "../errors.ts";
import { whenDiskFull } from "./database.ts";
import { CommandRunner } from "./command_runner.ts";
import { HeldDatabase } from "./held_database.ts";
import type { Cancellation, Delivery, Inbox } from "./inbox.ts";
import {
  type FinishedMessage,
  isFinished,
  type Message,
  noteNeverFinishes,
  replayOutput,
} from "./message.ts";
import { acceptDelivery, cancelStep, storeDeliveries } from "./operations.ts";
import { ReportWriter } from "./report.ts";
import {
  recordCannotStart,
  schedulerFailurePathOf,
  schedulerPidPathOf,
  takeSchedulerLock,
} from "./scheduler_files.ts";
import { schedulerHandlers, type ServedInbox } from "./scheduler_requests.ts";
import { InboxServer } from "./server.ts";
import type { OutputChunk } from "./server_protocol.ts";
import type { AcceptedDelivery } from "./insert_deliveries.ts";
import type { InboxStore } from "./store.ts";
import { socketPathOf } from "./socket_path.ts";
import { Waiters } from "./waiters.ts";
import type { SchedulerEvent, SchedulerOptions } from "./scheduler_options.ts";

export type { SchedulerEvent, SchedulerOptions } from "./scheduler_options.ts";

// The key of next() waits for a message from anyone (no address has a space).
const ANY_SENDER = "any sender";

/**
 * Runs the commands delivered to one inbox, and serves that inbox: it holds the database open
 * for its whole life (DuckDB allows one writer) and answers the inbox protocol on its socket
 * (`server_protocol.ts`), so that deliveries, reads and waits on this member go through it.
 * Only one scheduler runs per database. Commands run one at a time unless the inbox's
 * `MAX_RUNNING` setting allows more.
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
  /** Resolves once the scheduler has stopped and its running commands have ended. */
  readonly finished: Promise<void>;
  readonly #inbox: Inbox;
  readonly #options: SchedulerOptions;
  readonly #emit: (event: SchedulerEvent) => void;
  readonly #database: HeldDatabase;
  readonly #reports: ReportWriter;
  readonly #runner: CommandRunner;
  #stopping = false;
  #deliveries: {
    accepted: AcceptedDelivery;
    resolve: (message: Message) => void;
    reject: (error: unknown) => void;
  }[] = [];
  // Waits for a message to finish, by its id; for one to arrive, by its sender.
  readonly #finishes = new Waiters<Message>();
  readonly #arrivals = new Waiters<Message>();

  private constructor(
    inbox: Inbox,
    options: SchedulerOptions,
    database: HeldDatabase,
    reports: ReportWriter,
    lock: Deno.FsFile,
    maxRunning: number,
  ) {
    this.#inbox = inbox;
    this.#options = options;
    this.#emit = guarded(options.onEvent);
    this.#database = database;
    this.#reports = reports;
    this.#runner = new CommandRunner({
      inbox,
      options,
      database,
      emit: this.#emit,
      changed: () => this.#changed(),
      // Counted in the report before anyone hears it finish: a status read next sees it.
      finished: (message) =>
        void this.#reports.now().finally(() => this.#finishes.tell(message.id, message)),
    }, options.maxRunning ?? maxRunning);
    this.finished = this.#serve(lock);
  }

  /**
   * Takes the database's scheduler lock, records its pid, opens the database (holding it),
   * marks commands a dead scheduler left running as `error`, writes its report, and starts
   * serving and running the inbox. Once this resolves, deliveries reach it and
   * `scheduler status` sees it.
   *
   * @param inbox The inbox to serve.
   * @param options Event callback and tuning.
   * @returns The running scheduler.
   * @throws {OhcommodoreError} When another scheduler already serves this database.
   * @throws {DatabaseError} When the database cannot be used for a reason that does not pass by
   *   itself (a damaged file, no permission): with DuckDB's error and what to do (moving the
   *   file aside only when DuckDB says it is damaged). The reason is also recorded for
   *   `scheduler status` ({@link readSchedulerFailure}).
   * @throws {DiskFullError} When the disk that holds the database is full.
   */
  static async start(inbox: Inbox, options: SchedulerOptions = {}): Promise<Scheduler> {
    const lock = await takeSchedulerLock(inbox.database);
    const emit = guarded(options.onEvent);
    const retrying = (error: Error) => emit({ type: "retrying", error });
    let opened: Awaited<ReturnType<typeof HeldDatabase.open>>;
    try {
      opened = await HeldDatabase.open(inbox, retrying);
    } catch (error) {
      throw await recordCannotStart(inbox.database, lock, error as Error);
    }
    const [database, start] = opened;
    await Deno.remove(schedulerFailurePathOf(inbox.database)).catch(() => {});
    for (const message of start.recovered) emit({ type: "recovered", message });
    const reports = new ReportWriter(
      inbox,
      () => database.step((store) => store.counts()),
      (error) => emit({ type: "reportFailed", error }),
    );
    // The report exists before the socket answers: whoever sees this scheduler running can
    // also read which version it is.
    await reports.write(start.counts);
    return new Scheduler(inbox, options, database, reports, lock, start.maxRunning);
  }

  /** How many commands it runs at once, at most. */
  get maxRunning(): number {
    return this.#runner.maxRunning;
  }

  /** Stops starting messages; the running commands finish or time out first. */
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#emit({ type: "stopping" });
    this.#runner.stop();
  }

  async #serve(lock: Deno.FsFile): Promise<void> {
    using _lock = lock; // released last
    using _database = this.#database;
    try {
      const socket = socketPathOf(this.#inbox.database);
      using _server = InboxServer.listen(socket, {
        ...this.#options.handlers,
        ...schedulerHandlers(this.#served()),
      });
      this.#emit({ type: "started", address: this.#inbox.address, database: this.#inbox.database });
      this.#runner.enqueue(await this.#database.stepUntilDone((store) => store.unread()));
      await this.#runner.idle;
      // Steps queued by requests that came in meanwhile end before the database closes.
      await this.#database.settled();
    } finally {
      await Deno.remove(schedulerPidPathOf(this.#inbox.database)).catch(() => {});
      await this.#reports.close();
    }
  }

  // What the scheduler does for the requests its server answers.
  #served(): ServedInbox {
    return {
      address: this.#inbox.address,
      maxRunning: () => this.#runner.maxRunning,
      step: (work) => this.#database.step(work),
      changed: () => this.#changed(),
      counts: () => this.#reports.counts(),
      deliver: (delivery) => this.#deliver(delivery),
      approve: (id) => this.#approve(id),
      setMaxRunning: (count) => this.#setMaxRunning(count),
      waitFor: (id, timeoutMs, signal) => this.#waitFor(id, timeoutMs, signal),
      cancel: (id, timeoutMs, signal) => this.#cancel(id, timeoutMs, signal),
      next: (from, timeoutMs, signal) => this.#next(from, timeoutMs, signal),
      follow: (id, emit, signal) => this.#follow(id, emit, signal),
      query: (sql, signal) => this.#database.query(sql, signal),
    };
  }

  // The messages changed: the report is rewritten soon.
  #changed(): void {
    this.#reports.soon();
  }

  // Sets how many commands run at once, at most (kept in the inbox).
  async #setMaxRunning(count: number): Promise<number> {
    await this.#database.step((store) => store.setMaxRunning(count));
    this.#runner.maxRunning = count;
    return count;
  }

  // Lets a held message run: it becomes unread, and runs in its turn.
  async #approve(id: string): Promise<Message> {
    const approved = await this.#database.step((store) => store.approve(id));
    this.#changed();
    this.#runner.enqueue([approved]);
    return approved;
  }

  // Stores a delivery and runs it in turn. Deliveries that arrive while the database is busy
  // are stored together, in one step.
  #deliver(delivery: Delivery): Promise<Message> {
    const accepted = acceptDelivery(this.#inbox.identity, delivery);
    return new Promise((resolve, reject) => {
      this.#deliveries.push({ accepted, resolve, reject });
      if (this.#deliveries.length === 1) {
        this.#database.step((store) => this.#storeDeliveries(store)).catch(() => {});
      }
    });
  }

  async #storeDeliveries(store: InboxStore): Promise<void> {
    const batch = this.#deliveries.splice(0);
    let results;
    try {
      results = await storeDeliveries(store, batch.map(({ accepted }) => accepted));
    } catch (error) {
      // Refused to each sender with the cause; nothing was stored.
      for (const { accepted, reject } of batch) {
        const action = `Cannot store message "${accepted.id}" in the inbox of ${store.address}`;
        reject(whenDiskFull(error, action, this.#inbox.database));
      }
      throw error; // the step closes a database DuckDB invalidated
    }
    let created = false;
    const unread: Message[] = [];
    results.forEach((result, i) => {
      const { resolve, reject } = batch[i];
      if (result instanceof Error) return reject(result);
      resolve(result.message);
      if (!result.created) return;
      created = true;
      if (result.message.status === "unread") unread.push(result.message);
      this.#arrivals.tell(ANY_SENDER, result.message);
      if (result.message.sender) this.#arrivals.tell(result.message.sender, result.message);
    });
    if (created) {
      this.#changed();
      this.#runner.enqueue(unread, true); // the replies go first
    }
  }

  // Waits for a message to finish (by default for its own timeout plus a margin).
  async #waitFor(
    id: string,
    timeoutMs: number | undefined,
    signal: AbortSignal,
  ): Promise<FinishedMessage> {
    if (timeoutMs !== undefined) {
      checkDurationMs(timeoutMs, "timeoutMs", MAX_DURATION_MS + WAIT_MARGIN_MS);
    }
    const message = await this.#database.step((store) => store.get(id));
    return await this.#untilFinished(
      message,
      timeoutMs ?? message.timeoutSec * 1000 + WAIT_MARGIN_MS,
      signal,
    );
  }

  // Waits for a message (found by its exact id) to finish; says its status now when it does not.
  async #untilFinished(
    message: Message,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<FinishedMessage> {
    const ended = await this.#finishes.wait(message.id, timeoutMs, signal, async () => {
      const now = await this.#database.step((store) => store.find(message.id));
      if (!now) throw this.#gone(message.id);
      if (now.status === "note") throw noteNeverFinishes(now.id);
      return isFinished(now) ? now : undefined;
    });
    if (ended === "left") throw new OhcommodoreError("the client went away");
    if (ended !== "expired") return ended as FinishedMessage;
    const current = await this.#database.step((store) => store.find(message.id));
    if (current && isFinished(current)) return current;
    throw new TimeoutError(
      `Gave up waiting after ${formatDuration(timeoutMs)}: message "${message.id}" is still ` +
        `${current?.status ?? "gone"} on ${this.#inbox.address}`,
      {
        messageId: message.id,
        status: current?.status ?? "gone",
        next: `check it later with "ohcommodore inbox show ${message.id}"`,
      },
    );
  }

  #gone(id: string): NotFoundError {
    return new NotFoundError(
      `Message "${id}" is no longer in the inbox of ${this.#inbox.address} (deleted or ` +
        `cancelled)`,
      { query: id, next: `see what is there with "ohcommodore inbox list"` },
    );
  }

  // Removes an unread message, or stops a running one and waits for it to end (20 s unless
  // told).
  async #cancel(
    id: string,
    timeoutMs: number | undefined,
    signal: AbortSignal,
  ): Promise<Cancellation> {
    const step = await this.#database.step((store) => cancelStep(store, id));
    if (step.outcome !== "running") {
      if (step.outcome === "removed") this.#changed();
      return step satisfies Cancellation;
    }
    this.#runner.cancel(step.message.id);
    const message = await this.#untilFinished(step.message, timeoutMs ?? 20_000, signal);
    return { outcome: "stopped", message } satisfies Cancellation;
  }

  // Waits for the next message to arrive, optionally from one sender.
  async #next(from: string | undefined, timeoutMs: number, signal: AbortSignal): Promise<Message> {
    if (from !== undefined) parseAddress(from);
    const ended = await this.#arrivals.wait(from ?? ANY_SENDER, timeoutMs, signal);
    if (ended === "left") throw new OhcommodoreError("the client went away");
    if (ended === "expired") {
      throw new TimeoutError(
        `No message arrived in the inbox of ${this.#inbox.address}` +
          (from ? ` from ${from}` : "") + ` within ${formatDuration(timeoutMs)}`,
        {
          next: `wait longer with a larger timeout, or see what came with ` +
            `"ohcommodore inbox list"`,
        },
      );
    }
    return ended;
  }

  // Streams a message's output, kept then live, until it finishes.
  async #follow(
    id: string,
    emit: (chunk: OutputChunk) => void,
    signal: AbortSignal,
  ): Promise<FinishedMessage> {
    const message = await this.#database.step((store) => store.get(id));
    if (message.status === "pending") {
      throw new UsageError(
        `Message "${message.id}" was taken by hand ("inbox read"): nothing runs it, so it has ` +
          `no output to follow`,
      );
    }
    if (isFinished(message)) {
      replayOutput(message, emit);
      return message;
    }
    const stop = this.#runner.follow(message.id, emit);
    try {
      return await this.#untilFinished(
        message,
        message.timeoutSec * 1000 + WAIT_MARGIN_MS,
        signal,
      );
    } finally {
      stop();
    }
  }
}

// A listener that fails (its log is on the full disk, say) must not stop the scheduler.
function guarded(onEvent?: (event: SchedulerEvent) => void): (event: SchedulerEvent) => void {
  return (event) => {
    try {
      onEvent?.(event);
    } catch {
      // the listener's failure is its own
    }
  };
}
