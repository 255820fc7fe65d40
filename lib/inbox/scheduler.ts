/**
 * The scheduler: the inbox server of one member. It holds the database, answers the inbox
 * protocol on its socket, claims unread messages, runs them and stores their outcomes.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { parseAddress } from "../address.ts";
import type { DuckDBConnection } from "../duckdb.ts";
import { checkDurationMs, formatDuration, MAX_DURATION_MS, WAIT_MARGIN_MS } from "../duration.ts";
import {
  DatabaseError,
  DiskFullError,
  NotFoundError,
  OhcommodoreError,
  TimeoutError,
  UsageError,
} from "../errors.ts";
import { commandCredentials } from "../member_env.ts";
import { shellQuote } from "../ssh.ts";
import { setLongTimeout } from "../timer.ts";
import { VERSION } from "../version.ts";
import {
  diskFullPath,
  isDamagedDatabase,
  isTransientDatabaseError,
  type OpenDatabase,
  openDatabase,
  whenDiskFull,
} from "./database.ts";
import { type Cancellation, databaseAccessOf, type Delivery, type Inbox } from "./inbox.ts";
import {
  type FinishedMessage,
  isFinished,
  type Message,
  type MessageStatus,
  noteNeverFinishes,
} from "./message.ts";
import {
  acceptDelivery,
  cancelStep,
  isStoreOperation,
  STORE_OPERATIONS,
  storeDeliveries,
} from "./operations.ts";
import { OutputLog } from "./output_log.ts";
import { type MemberReport, removeReportFile, writeReportFile } from "./report.ts";
import { notStarted, OUTPUT_CAP_BYTES, runCommand, signalGroup } from "./run_command.ts";
import { InboxServer, type RequestHandler } from "./server.ts";
import {
  type OperationName,
  type OutputChunk,
  SERVER_PROTOCOL_VERSION,
  type ServerHello,
  type ServerOperations,
} from "./server_protocol.ts";
import {
  type AcceptedDelivery,
  checkMaxRunning,
  InboxStore,
  type Outcome,
  type QueryResult,
  type SchedulingStart,
} from "./store.ts";
import { socketPathOf } from "./socket_path.ts";
import { Waiters } from "./waiters.ts";

/** What the scheduler reports as it works. */
export type SchedulerEvent =
  | { type: "started"; address: string; database: string }
  | { type: "recovered"; message: Message }
  | { type: "running"; message: Message }
  | { type: "finished"; message: Message }
  | { type: "retrying"; error: Error }
  | { type: "reportFailed"; error: Error }
  | { type: "stopping" };

// The key of next() waits for a message from anyone (no address has a space).
const ANY_SENDER = "any sender";

// How long a person's query may run.
const QUERY_TIMEOUT_MS = 30_000;

// How stale the report may get: status readers see a change after at most this (plus a query).
const REPORT_DELAY_MS = 200;

/** Options for {@link Scheduler.start}. */
export interface SchedulerOptions {
  /**
   * Called for every event; the library never prints. What it throws is ignored: a log that
   * cannot be written (on a full disk) does not stop the scheduler.
   */
  onEvent?: (event: SchedulerEvent) => void;
  /** Overrides how many commands may run at once (the inbox's `MAX_RUNNING`, default 1). */
  maxRunning?: number;
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

/** A message the scheduler runs now. */
interface Running {
  message: Message;
  pgid?: number;
  cancelled: boolean;
  output: OutputLog;
}

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
  #store: InboxStore;
  #database: OpenDatabase;
  // DuckDB invalidated the open database (a checkpoint failed): closed, to be opened again.
  #databaseLost = false;
  // No checkpoint before this time (one failed: the disk is full).
  #checkpointAfter = 0;
  #reader: Promise<DuckDBConnection> | undefined;
  #reading: Promise<unknown> = Promise.resolve();
  #maxRunning: number;
  #stopping = false;
  readonly #running = new Map<string, Running>();
  // Database work, one step at a time: one connection, and transactions must not interleave.
  #steps: Promise<unknown> = Promise.resolve();
  // Unread messages in the order they run: the database is the truth (a claim checks the row
  // is still unread), this saves looking for the oldest each time.
  readonly #unread: Message[] = [];
  #deliveries: {
    accepted: AcceptedDelivery;
    resolve: (message: Message) => void;
    reject: (error: unknown) => void;
  }[] = [];
  #pumping = false;
  #pumpAgain = false;
  #idle: () => void = () => {};
  readonly #idled: Promise<void>;
  // Waits for a message to finish, by its id; for one to arrive, by its sender.
  readonly #finishes = new Waiters<Message>();
  readonly #arrivals = new Waiters<Message>();
  // Followers of messages that have not started yet, handed to their log when they do.
  readonly #earlyFollowers = new Map<string, Set<(chunk: OutputChunk) => void>>();
  #reporting: Promise<void> = Promise.resolve();
  #reportTimer: ReturnType<typeof setTimeout> | undefined;
  #reportClosed = false;

  private constructor(
    inbox: Inbox,
    options: SchedulerOptions,
    database: OpenDatabase,
    lock: Deno.FsFile,
    maxRunning: number,
  ) {
    this.#inbox = inbox;
    this.#options = options;
    this.#emit = guarded(options.onEvent);
    this.#store = new InboxStore(database.connection, inbox.address);
    this.#database = database;
    this.#maxRunning = options.maxRunning ?? maxRunning;
    this.#idled = new Promise((resolve) => this.#idle = resolve);
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
    // Written under the lock and before the socket answers, removed after it stops answering:
    // whenever a scheduler answers, this file names it.
    const pidPath = schedulerPidPathOf(inbox.database);
    await Deno.writeTextFile(pidPath, `${Deno.pid}\n`, { mode: 0o600 }).catch((error) => {
      lock.close();
      throw whenDiskFull(error, "The scheduler cannot start", pidPath);
    });
    const emit = guarded(options.onEvent);
    let database: OpenDatabase;
    let start: SchedulingStart;
    try {
      // Only a busy database is waited for: retrying a damaged one would go on unseen forever.
      [database, start] = await persist(
        async () => {
          const open = await openDatabase(databaseAccessOf(inbox));
          try {
            return [open, await new InboxStore(open.connection, inbox.address).startScheduling()];
          } catch (error) {
            open[Symbol.dispose]();
            throw error;
          }
        },
        emit,
        isTransientDatabaseError,
      );
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
    // The report exists before the socket answers: whoever sees this scheduler running can
    // also read which version it is.
    const failure = await writeReport(inbox, start.counts);
    if (failure) emit({ type: "reportFailed", error: failure });
    return new Scheduler(inbox, options, database, lock, start.maxRunning);
  }

  /** How many commands it runs at once, at most. */
  get maxRunning(): number {
    return this.#maxRunning;
  }

  /** Stops starting messages; the running commands finish or time out first. */
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#emit({ type: "stopping" });
    // A claim under way ends the pump first, which then says it is idle.
    if (this.#running.size === 0 && !this.#pumping) this.#idle();
  }

  async #serve(lock: Deno.FsFile): Promise<void> {
    using _lock = lock; // released last
    using _database = { [Symbol.dispose]: () => this.#closeDatabase() };
    try {
      using _server = InboxServer.listen(socketPathOf(this.#inbox.database), this.#handle);
      this.#emit({ type: "started", address: this.#inbox.address, database: this.#inbox.database });
      this.#unread.push(...await this.#persist(() => this.#step((store) => store.unread())));
      this.#pump();
      await this.#idled;
      // Steps queued by requests that came in meanwhile end before the database closes.
      await this.#steps.catch(() => {});
      await this.#reading;
    } finally {
      await Deno.remove(schedulerPidPathOf(this.#inbox.database)).catch(() => {});
      this.#reportClosed = true;
      clearTimeout(this.#reportTimer);
      await this.#reporting;
      await removeReportFile(this.#inbox.database);
    }
  }

  // Carries out one request of the inbox protocol.
  #handle: RequestHandler = async (op, args, context) => {
    const value = await this.#operation(op, args as never, context as never);
    return value as never;
  };

  async #operation<K extends OperationName>(
    op: K,
    args: ServerOperations[K]["args"],
    context: { emit: (event: OutputChunk) => void; signal: AbortSignal },
  ): Promise<unknown> {
    if (op === "query") {
      return await this.#query(String((args as { sql: unknown }).sql ?? ""), context.signal);
    }
    if (isStoreOperation(op)) {
      const operation = STORE_OPERATIONS[op] as {
        run: (store: InboxStore, args: unknown) => Promise<unknown>;
        changes: boolean;
      };
      const value = await this.#step((store) => operation.run(store, args));
      if (operation.changes) this.#report();
      return value;
    }
    const a = args as Record<string, unknown>;
    switch (op as OperationName) {
      case "hello":
        return {
          protocol: SERVER_PROTOCOL_VERSION,
          address: this.#inbox.address,
          version: VERSION,
          pid: Deno.pid,
          maxRunning: this.#maxRunning,
        } satisfies ServerHello;
      case "deliver":
        return await this.#deliver(args as Delivery);
      case "report":
        return {
          address: this.#inbox.address,
          version: VERSION,
          schedulerRunning: true,
          counts: await this.#step((store) => store.counts()),
        } satisfies MemberReport;
      case "maxRunning": {
        if (a.count === undefined) return this.#maxRunning;
        const count = checkMaxRunning(a.count);
        await this.#step((store) => store.setMaxRunning(count));
        this.#maxRunning = count;
        this.#pump();
        return count;
      }
      case "wait":
        return await this.#wait(String(a.id), optionalMs(a.timeoutMs), context.signal);
      case "cancel":
        return await this.#cancel(String(a.id), optionalMs(a.timeoutMs), context.signal);
      case "next":
        return await this.#next(
          a.from === undefined ? undefined : String(a.from),
          checkDurationMs(a.timeoutMs, "timeoutMs"),
          context.signal,
        );
      case "follow":
        return await this.#follow(String(a.id), context.emit, context.signal);
      case "approve": {
        const approved = await this.#step((store) => store.approve(String(a.id)));
        this.#unread.push(approved);
        this.#report();
        this.#pump();
        return approved;
      }
    }
    throw new UsageError(`Unknown inbox operation "${op}"`);
  }

  // Deliveries that arrive while the database is busy are stored together, in one step.
  #deliver(delivery: Delivery): Promise<Message> {
    const accepted = acceptDelivery(this.#inbox.identity, delivery);
    return new Promise((resolve, reject) => {
      this.#deliveries.push({ accepted, resolve, reject });
      if (this.#deliveries.length === 1) {
        this.#step((store) => this.#storeDeliveries(store)).catch(() => {});
      }
    });
  }

  async #storeDeliveries(store: InboxStore): Promise<void> {
    const batch = this.#deliveries.splice(0);
    let results;
    try {
      results = await storeDeliveries(store, batch.map(({ accepted }) => accepted));
    } catch (error) {
      if (isInvalidated(error)) this.#closeDatabase();
      // Refused to each sender with the cause; nothing was stored.
      for (const { accepted, reject } of batch) {
        const action = `Cannot store message "${accepted.id}" in the inbox of ${store.address}`;
        reject(whenDiskFull(error, action, this.#inbox.database));
      }
      return;
    }
    let created = false;
    results.forEach((result, i) => {
      const { resolve, reject } = batch[i];
      if (result instanceof Error) return reject(result);
      resolve(result.message);
      if (!result.created) return;
      created = true;
      if (result.message.status === "unread") this.#unread.push(result.message);
      this.#arrivals.tell(ANY_SENDER, result.message);
      if (result.message.sender) this.#arrivals.tell(result.message.sender, result.message);
    });
    if (created) {
      this.#report();
      queueMicrotask(() => this.#pump());
    }
  }

  async #wait(id: string, timeoutMs: number | undefined, signal: AbortSignal) {
    if (timeoutMs !== undefined) {
      checkDurationMs(timeoutMs, "timeoutMs", MAX_DURATION_MS + WAIT_MARGIN_MS);
    }
    const message = await this.#step((store) => store.resolve(id));
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
      const now = await this.#step((store) => store.find(message.id));
      if (!now) throw this.#gone(message.id);
      if (now.status === "note") throw noteNeverFinishes(now.id);
      return isFinished(now) ? now : undefined;
    });
    if (ended === "left") throw new OhcommodoreError("the client went away");
    if (ended !== "expired") return ended as FinishedMessage;
    const current = await this.#step((store) => store.find(message.id));
    if (current && isFinished(current)) return current;
    throw new TimeoutError(
      `Gave up waiting after ${formatDuration(timeoutMs)}: message "${message.id}" is still ` +
        `${current?.status ?? "gone"} on ${this.#inbox.address}; check it later with ` +
        `"inbox show ${message.id}"`,
      { messageId: message.id, status: current?.status ?? "gone" },
    );
  }

  #gone(id: string): NotFoundError {
    return new NotFoundError(
      `Message "${id}" is no longer in the inbox of ${this.#inbox.address} (deleted or ` +
        `cancelled); see what is there with "ohcommodore inbox list"`,
      { query: id },
    );
  }

  async #cancel(id: string, timeoutMs: number | undefined, signal: AbortSignal) {
    const step = await this.#step((store) => cancelStep(store, id));
    if (step.outcome !== "running") {
      if (step.outcome === "removed") this.#report();
      return step satisfies Cancellation;
    }
    const running = this.#running.get(step.message.id);
    if (running) this.#stopGroup(running);
    const message = await this.#untilFinished(step.message, timeoutMs ?? 20_000, signal);
    return { outcome: "stopped", message } satisfies Cancellation;
  }

  async #next(from: string | undefined, timeoutMs: number, signal: AbortSignal) {
    if (from !== undefined) parseAddress(from);
    const ended = await this.#arrivals.wait(from ?? ANY_SENDER, timeoutMs, signal);
    if (ended === "left") throw new OhcommodoreError("the client went away");
    if (ended === "expired") {
      throw new TimeoutError(
        `No message arrived in the inbox of ${this.#inbox.address}` +
          (from ? ` from ${from}` : "") +
          ` within ${formatDuration(timeoutMs)}; wait longer with a larger timeout, or see ` +
          `what came with "ohcommodore inbox list"`,
      );
    }
    return ended;
  }

  async #follow(id: string, emit: (chunk: OutputChunk) => void, signal: AbortSignal) {
    const message = await this.#step((store) => store.resolve(id));
    if (message.status === "pending") {
      throw new UsageError(
        `Message "${message.id}" was taken by hand ("inbox read"): nothing runs it, so it has ` +
          `no output to follow`,
      );
    }
    if (isFinished(message)) {
      if (message.result) emit({ stream: "stdout", text: message.result });
      if (message.stderr) emit({ stream: "stderr", text: message.stderr });
      return message;
    }
    let stop = () => {};
    const running = this.#running.get(message.id);
    if (running) stop = running.output.follow(emit);
    else {
      const early = this.#earlyFollowers.get(message.id) ?? new Set();
      this.#earlyFollowers.set(message.id, early);
      early.add(emit);
      stop = () => {
        early.delete(emit);
        if (early.size === 0) this.#earlyFollowers.delete(message.id);
      };
    }
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

  // A person's query: on a connection of its own, so that it holds up no delivery, and
  // interrupted at its deadline or when its client leaves.
  async #query(sql: string, signal: AbortSignal): Promise<QueryResult> {
    if (this.#databaseLost) await this.#step(() => Promise.resolve()); // opens it again
    this.#reader ??= this.#database.connect();
    const connection = await this.#reader;
    const run = this.#reading.then(async () => {
      let late = false;
      const stop = () => connection.interrupt();
      const timer = setTimeout(() => {
        late = true;
        stop();
      }, QUERY_TIMEOUT_MS);
      signal.addEventListener("abort", stop, { once: true });
      try {
        return await new InboxStore(connection, this.#inbox.address).query(sql);
      } catch (error) {
        if (!late) throw error;
        throw new UsageError(
          `The query ran longer than ${QUERY_TIMEOUT_MS / 1000}s and was stopped: narrow it ` +
            `(a WHERE, a LIMIT)`,
        );
      } finally {
        clearTimeout(timer);
        signal.removeEventListener("abort", stop);
      }
    });
    this.#reading = run.catch(() => {});
    return await run;
  }

  // Starts unread messages while there is room. One pump at a time; a call during one makes
  // it look again, so that no delivery waits for the next.
  async #pump(): Promise<void> {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        while (!this.#stopping && this.#running.size < this.#maxRunning) {
          // Registered as running in the claim's own step: a cancel queued behind the claim
          // finds it there.
          const next = this.#unread.shift();
          if (next === undefined) break;
          const running = await this.#persist(() =>
            this.#step(async (store) => {
              // Stopped while this step waited: the message stays unread for the next one.
              if (this.#stopping) return undefined;
              const message = await store.claim(next);
              return message ? this.#register(message) : undefined;
            })
          );
          if (running) this.#run(running); // else cancelled, deleted or taken by hand meanwhile
        }
      } while (this.#pumpAgain && !this.#stopping);
    } finally {
      this.#pumping = false;
      if (this.#stopping && this.#running.size === 0) this.#idle();
    }
  }

  #register(message: Message): Running {
    const capBytes = this.#options.outputCapBytes ?? OUTPUT_CAP_BYTES;
    const running: Running = { message, cancelled: false, output: new OutputLog(capBytes) };
    this.#running.set(message.id, running);
    for (const follower of this.#earlyFollowers.get(message.id) ?? []) {
      running.output.follow(follower);
    }
    this.#earlyFollowers.delete(message.id);
    return running;
  }

  async #run(running: Running): Promise<void> {
    const message = running.message;
    this.#report();
    this.#emit({ type: "running", message });
    // Cancelled between its claim and now: it never starts. One that cannot start (its script
    // cannot be written on a full disk, say) fails alone, with why; the scheduler goes on.
    const outcome = running.cancelled
      ? NOT_STARTED
      : await this.#start(running).catch((error) => notStarted(error));
    // Cancelled is what it was when a cancel stopped it, not a timeout, its own exit, or a
    // start that failed.
    const cancelled = running.cancelled && outcome.status === "error" &&
      outcome.exitCode !== 124 && outcome.exitCode !== null;
    const finished = await this.#persist(() =>
      this.#step((store) => store.finish(message, { ...outcome, cancelled }))
    );
    this.#running.delete(message.id);
    this.#finishes.tell(message.id, finished);
    this.#report();
    this.#emit({ type: "finished", message: finished });
    if (this.#stopping && this.#running.size === 0) this.#idle();
    else this.#pump();
  }

  async #start(running: Running): Promise<Outcome> {
    const message = running.message;
    return await runCommand(message.command, {
      cwd: await this.#workdir(),
      scratchDir: join(dirname(this.#inbox.database), "run"),
      timeoutMs: message.timeoutSec * 1000,
      capBytes: this.#options.outputCapBytes ?? OUTPUT_CAP_BYTES,
      killGraceMs: this.#options.killGraceMs,
      onSpawn: (pgid) => {
        running.pgid = pgid;
        if (running.cancelled) this.#stopGroup(running, true); // cancelled before it started
        // Not waited for: steps run in order, so it is written before the outcome is.
        this.#persist(() => this.#step((store) => store.recordProcessGroup(message.id, pgid)));
      },
      onOutput: (stream, bytes) => running.output.write(stream, bytes),
      env: {
        ...await commandCredentials(this.#inbox.home),
        OHCOMMODORE_MESSAGE_ID: message.id,
        OHCOMMODORE_SENDER: message.sender ?? "",
        OHCOMMODORE_ADDRESS: this.#inbox.address,
        // So a command can tell its timeout from a cancel when SIGTERM comes.
        OHCOMMODORE_TIMEOUT_SEC: String(message.timeoutSec),
      },
    });
  }

  // Stops a running message's process group: TERM, then KILL after the grace.
  #stopGroup(running: Running, again = false): void {
    if (running.cancelled && !again) return;
    running.cancelled = true;
    const signal = (name: Deno.Signal) => {
      if (!this.#running.has(running.message.id) || running.pgid === undefined) return;
      signalGroup(running.pgid, name);
    };
    signal("SIGTERM");
    setLongTimeout(() => signal("SIGKILL"), this.#options.killGraceMs ?? 5000);
  }

  /**
   * Rewrites the report file soon (counts change with every claim, finish and delivery). The
   * short wait lets a burst of changes share one query.
   */
  #report(): void {
    if (this.#reportTimer !== undefined || this.#reportClosed) return;
    this.#reportTimer = setTimeout(() => {
      this.#reportTimer = undefined;
      this.#reporting = this.#reporting.then(async () => {
        const counts = await this.#step((store) => store.counts()).catch(() => undefined);
        const failure = counts
          ? await writeReport(this.#inbox, counts)
          : new DatabaseError("cannot count the messages");
        if (failure) this.#emit({ type: "reportFailed", error: failure });
      });
    }, REPORT_DELAY_MS);
  }

  // Runs a database step after those queued before it. A full disk fails it as DiskFullError.
  #step<T>(work: (store: InboxStore) => Promise<T>): Promise<T> {
    const { address, database } = this.#inbox;
    const result = this.#steps.then(async () => {
      if (this.#databaseLost) await this.#reopen();
      let value: T;
      try {
        value = await work(this.#store);
      } catch (error) {
        if (isInvalidated(error)) this.#closeDatabase();
        throw error;
      }
      await this.#checkpointWhenDue();
      return value;
    }).catch((error) => {
      throw whenDiskFull(error, `Cannot write the inbox of ${address}`, database);
    });
    this.#steps = result.catch(() => {});
    return result;
  }

  // DuckDB checkpoints by itself only when the database closes (see openDatabase): the
  // scheduler, which holds it open, checkpoints as a step of its own, failing no other step.
  async #checkpointWhenDue(): Promise<void> {
    const wal = await Deno.stat(`${this.#inbox.database}.wal`).catch(() => undefined);
    if (!wal || wal.size < CHECKPOINT_WAL_BYTES || Date.now() < this.#checkpointAfter) return;
    try {
      await this.#database.connection.run("CHECKPOINT");
    } catch (error) {
      // Each attempt on a full disk costs opening the database again: not at every step.
      this.#checkpointAfter = Date.now() + CHECKPOINT_PAUSE_MS;
      if (isInvalidated(error)) this.#closeDatabase();
      const failure = whenDiskFull(error, "Cannot checkpoint the inbox", this.#inbox.database);
      this.#emit({ type: "retrying", error: failure as Error });
    }
  }

  // Opens the database again (it replays its WAL); throws, as a DiskFullError while the disk
  // is still full, and the next step tries again.
  async #reopen(): Promise<void> {
    const database = await openDatabase(databaseAccessOf(this.#inbox));
    this.#database = database;
    this.#store = new InboxStore(database.connection, this.#inbox.address);
    this.#reader = undefined;
    this.#databaseLost = false;
  }

  // Closes the database once; the next step opens it again. Once DuckDB has invalidated a
  // database, every statement fails until then.
  #closeDatabase(): void {
    if (this.#databaseLost) return;
    this.#databaseLost = true;
    try {
      this.#database[Symbol.dispose]();
    } catch {
      // an invalidated database may fail to close cleanly; its lock is released all the same
    }
  }

  #persist<T>(step: () => Promise<T>): Promise<T> {
    return persist(step, this.#emit);
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

// The outcome of a message cancelled before its command started.
const NOT_STARTED: Outcome = {
  status: "error",
  exitCode: 130,
  stdout: "",
  stderr: "",
  error: "cancelled before it started",
};

function optionalMs(value: unknown): number | undefined {
  return value === undefined || value === null ? undefined : Number(value);
}

// How large the WAL may grow before the scheduler checkpoints (DuckDB's own default).
const CHECKPOINT_WAL_BYTES = 16 * 1024 * 1024;
// How long after a failed checkpoint the next is tried.
const CHECKPOINT_PAUSE_MS = 10_000;

// DuckDB invalidates a database after a fatal error; every statement says so afterwards.
function isInvalidated(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (/^FATAL Error|database has been invalidated/.test(e.message)) return true;
  }
  return false;
}

/**
 * The error of a scheduler that cannot use its database, with how to recover: moving the file
 * aside only when DuckDB says it is damaged (on a full disk that would only lose the inbox).
 */
function cannotStart(database: string, error: Error): OhcommodoreError {
  const again = `run "ohcommodore scheduler start" again`;
  const full = diskFullPath(error, database);
  if (full !== undefined) {
    return new DiskFullError("The scheduler cannot start", full, { cause: error });
  }
  if (!isDamagedDatabase(error)) {
    const message = `The scheduler cannot start: ${error.message}; fix that and ${again}`;
    return new DatabaseError(message, { cause: error });
  }
  const aside = `mv ${shellQuote(database)} ${shellQuote(`${database}.broken`)}`;
  return new DatabaseError(
    `The scheduler cannot start: ${error.message}; the file is damaged: move it aside with ` +
      `"${aside}" and ${again} (it makes a new, empty inbox; the moved file keeps the old ` +
      `messages)`,
    { cause: error },
  );
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
 * @param counts The counts.
 * @returns Why it could not, or null.
 */
async function writeReport(
  inbox: Inbox,
  counts: Record<MessageStatus, number>,
): Promise<Error | null> {
  try {
    await writeReportFile(inbox.database, {
      address: inbox.address,
      version: VERSION,
      schedulerRunning: true,
      counts,
    });
    return null;
  } catch (error) {
    // A stale report is worse than none: without one, readers ask the program instead.
    await removeReportFile(inbox.database);
    return error as Error;
  }
}
