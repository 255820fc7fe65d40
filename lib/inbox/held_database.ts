/**
 * The database as the scheduler holds it for its whole life: work on it goes one step at a
 * time (one connection, and transactions must not interleave), a full disk fails a step as
 * {@link DiskFullError}, a database DuckDB invalidated is opened again at the next step, the WAL
 * is checkpointed as a step of its own, and a person's query runs on a connection of its own.
 *
 * @module
 */

import type { DuckDBConnection } from "../duckdb.ts";
import { pRetry } from "../deps.ts";
import { DatabaseError, UsageError } from "../errors.ts";
import {
  isTransientDatabaseError,
  type OpenDatabase,
  openDatabase,
  whenDiskFull,
} from "./database.ts";
import { databaseAccessOf, type Inbox } from "./inbox.ts";
import { type QueryResult, runQuery } from "./query.ts";
import type { SchedulingStart } from "./scheduler_state.ts";
import { InboxStore } from "./store.ts";

// How long a person's query may run.
const QUERY_TIMEOUT_MS = 30_000;
// How large the WAL may grow before the scheduler checkpoints (DuckDB's own default).
const CHECKPOINT_WAL_BYTES = 16 * 1024 * 1024;
// How long after a failed checkpoint the next is tried.
const CHECKPOINT_PAUSE_MS = 10_000;

/** The database a scheduler holds. */
export class HeldDatabase implements Disposable {
  readonly #inbox: Inbox;
  readonly #onRetry: (error: Error) => void;
  #database: OpenDatabase;
  #store: InboxStore;
  // DuckDB invalidated the open database (a checkpoint failed): closed, to be opened again.
  #lost = false;
  // No checkpoint before this time (one failed: the disk is full).
  #checkpointAfter = 0;
  #steps: Promise<unknown> = Promise.resolve();
  #reader: Promise<DuckDBConnection> | undefined;
  #reading: Promise<unknown> = Promise.resolve();

  private constructor(inbox: Inbox, database: OpenDatabase, onRetry: (error: Error) => void) {
    this.#inbox = inbox;
    this.#database = database;
    this.#store = new InboxStore(database.connection, inbox.address);
    this.#onRetry = onRetry;
  }

  /**
   * Opens an inbox's database to hold it, and readies it for scheduling (messages a dead
   * scheduler left running become `error`). Only a busy database is waited for: retrying a
   * damaged one would go on unseen forever.
   *
   * @param inbox The inbox.
   * @param onRetry Told each time a busy database is tried again.
   * @returns The held database and what scheduling starts from.
   */
  static async open(
    inbox: Inbox,
    onRetry: (error: Error) => void,
  ): Promise<[HeldDatabase, SchedulingStart]> {
    return await keepTrying(
      async () => {
        const open = await openDatabase(databaseAccessOf(inbox));
        try {
          const start = await new InboxStore(open.connection, inbox.address).startScheduling();
          return [new HeldDatabase(inbox, open, onRetry), start];
        } catch (error) {
          open[Symbol.dispose]();
          throw error;
        }
      },
      onRetry,
      isTransientDatabaseError,
    );
  }

  /**
   * Runs database work after the steps queued before it.
   *
   * @param work What to do with the inbox's statements.
   * @returns What `work` returns.
   * @throws {DiskFullError} When the disk is full.
   */
  step<T>(work: (store: InboxStore) => Promise<T>): Promise<T> {
    const { address, database } = this.#inbox;
    const result = this.#steps.then(async () => {
      if (this.#lost) await this.#reopen();
      let value: T;
      try {
        value = await work(this.#store);
      } catch (error) {
        if (isInvalidated(error)) this.#close();
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

  /**
   * A step retried until it succeeds: for what must never be dropped (an outcome, a claim).
   *
   * @param work What to do with the inbox's statements.
   * @returns What `work` returns.
   */
  stepUntilDone<T>(work: (store: InboxStore) => Promise<T>): Promise<T> {
    return keepTrying(() => this.step(work), this.#onRetry);
  }

  /**
   * A person's query: on a connection of its own, so that it holds up no delivery, and
   * interrupted at its deadline or when its client leaves.
   *
   * @param sql The query.
   * @param signal Aborts when the client leaves.
   * @returns The rows.
   */
  async query(sql: string, signal: AbortSignal): Promise<QueryResult> {
    if (this.#lost) await this.step(() => Promise.resolve()); // opens it again
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
        return await runQuery(connection, sql);
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

  /** Resolves once the steps and queries queued so far have ended. */
  async settled(): Promise<void> {
    await this.#steps.catch(() => {});
    await this.#reading;
  }

  /** Closes the database. */
  [Symbol.dispose](): void {
    this.#close();
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
      if (isInvalidated(error)) this.#close();
      this.#onRetry(
        whenDiskFull(error, "Cannot checkpoint the inbox", this.#inbox.database) as Error,
      );
    }
  }

  // Opens the database again (it replays its WAL); throws, as a DiskFullError while the disk
  // is still full, and the next step tries again.
  async #reopen(): Promise<void> {
    const database = await openDatabase(databaseAccessOf(this.#inbox));
    this.#database = database;
    this.#store = new InboxStore(database.connection, this.#inbox.address);
    this.#reader = undefined;
    this.#lost = false;
  }

  // Closes the database once; the next step opens it again. Once DuckDB has invalidated a
  // database, every statement fails until then.
  #close(): void {
    if (this.#lost) return;
    this.#lost = true;
    try {
      this.#database[Symbol.dispose]();
    } catch {
      // an invalidated database may fail to close cleanly; its lock is released all the same
    }
  }
}

// Whether DuckDB invalidated the database (after a fatal error every statement says so).
function isInvalidated(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (/^FATAL Error|database has been invalidated/.test(e.message)) return true;
  }
  return false;
}

// Retries a step until it succeeds, or until it fails in a way `retryIf` says will not pass.
function keepTrying<T>(
  step: () => Promise<T>,
  onRetry: (error: Error) => void,
  retryIf: (error: unknown) => boolean = () => true,
): Promise<T> {
  // p-retry gives up at once on a TypeError or a thrown non-Error: as data for it, those are
  // retried as any failure is (what must be stored is never dropped).
  const attempt = () =>
    step().catch((error) => {
      if (error instanceof Error && !(error instanceof TypeError)) throw error;
      throw new DatabaseError(String((error as Error)?.message ?? error), { cause: error });
    });
  return pRetry(attempt, {
    retries: Infinity,
    minTimeout: 100,
    maxTimeout: 5000,
    shouldRetry: ({ error }) => {
      const again = retryIf(error);
      if (again) onRetry(error);
      return again;
    },
  });
}
