/**
 * The inbox of one fleet member: a DuckDB table that any member delivers commands into and the
 * member's scheduler runs them from. The scheduler holds the database and serves it on its
 * socket; this class asks it, and opens the file itself (behind the database lock) only when no
 * scheduler runs. Waiting on it (`waitFor`, `follow`, `next`) is in `inbox_waits.ts`.
 *
 * @module
 */

import { dirname, resolve as resolvePath } from "node:path";
import { checkDurationMs, MAX_DURATION_MS, WAIT_MARGIN_MS } from "../duration.ts";
import { UsageError } from "../errors.ts";
import { type Identity, identityAddress, readIdentity } from "../identity.ts";
import { memberPaths } from "../paths.ts";
import { type DatabaseAccess, withDatabase } from "./database.ts";
import {
  type Cancellation,
  checkLimit,
  type Delivery,
  type FinishedMessage,
  type Message,
  type MessageStatus,
  newMessageId,
  parseMessageId,
  parseStatus,
  replayOutput,
} from "./message.ts";
import { acceptDelivery, cancelStep, storeDeliveries } from "./operations.ts";
import type { OutputChunk } from "./server_protocol.ts";
import { InboxAccess } from "./inbox_access.ts";
import { nextArrival, untilFinished } from "./inbox_waits.ts";
import type { QueryResult } from "./query.ts";
import type { ListFilter } from "./message_listing.ts";
import { NoSchedulerError } from "./no_scheduler_error.ts";
import { checkMaxRunning } from "./scheduler_state.ts";
import { InboxStore } from "./store.ts";

export { MAX_COMMAND_BYTES } from "./operations.ts";
export type { Cancellation, Delivery } from "./message.ts";
export type { Outcome } from "./store.ts";

// Set in Inbox's static block: how the scheduler opens the database an inbox names.
let accessOf: (inbox: Inbox) => DatabaseAccess;

/** Options for {@link Inbox.open}. */
export interface InboxOptions {
  /**
   * The member's home directory.
   *
   * @default {Deno.env.get("HOME")}
   */
  home?: string;
  /**
   * The database file. It is kept 0600; its directory is kept 0700 when it is the member's
   * `~/.local/ship`.
   *
   * @default {"<home>/.local/ship/data.duckdb"}
   */
  database?: string;
  /**
   * The member's identity.
   *
   * @default {the one in <home>/.ohcommodore/identity.json}
   */
  identity?: Identity;
  /**
   * How long to wait for the database lock.
   *
   * @default {30_000}
   */
  lockTimeoutMs?: number;
}

/**
 * The database an inbox names, as its scheduler opens it. For the scheduler.
 *
 * @param inbox The inbox.
 * @returns How to open its database.
 */
export function databaseAccessOf(inbox: Inbox): DatabaseAccess {
  return accessOf(inbox);
}

/**
 * A member's inbox. Holds no open handle: each call asks the member's scheduler, which holds
 * the database, or opens the file briefly when none runs, so any number of processes (senders,
 * the scheduler, people) share it.
 *
 * @example Deliver a command and wait for the scheduler to run it
 * ```ts
 * import { Inbox } from "@smithclay/ohcommodore";
 * const inbox = await Inbox.open();
 * const message = await inbox.deliver({ recipient: inbox.address, command: "uname -a" });
 * const finished = await inbox.waitFor(message.id, { timeoutMs: 60_000 });
 * console.log(finished.result);
 * ```
 */
export class Inbox {
  /** The member's identity. */
  readonly identity: Identity;
  /** The member's address, `<role>@<name>`. */
  readonly address: string;
  /** The database file. */
  readonly database: string;
  /** The member's home directory. */
  readonly home: string;
  readonly #reach: InboxAccess;

  private constructor(
    identity: Identity,
    database: string,
    home: string,
    lockTimeoutMs?: number,
    privateDir?: string,
  ) {
    this.identity = identity;
    this.address = identityAddress(identity);
    this.database = database;
    this.home = home;
    // The member's ship directory when the database is in it is kept 0700 (a database
    // elsewhere is the caller's, in a directory that may be shared).
    this.#reach = new InboxAccess(this.address, {
      path: database,
      identity: this.address,
      lockTimeoutMs,
      privateDir,
    });
  }

  static {
    accessOf = (inbox) => inbox.#reach.database;
  }

  /**
   * Opens the inbox of a member (the current user by default). Does not touch the database yet.
   *
   * @param options Where the member lives and who it is.
   * @returns The inbox.
   */
  static async open(options: InboxOptions = {}): Promise<Inbox> {
    const paths = memberPaths(options.home);
    const identity = options.identity ?? await readIdentity(paths.home);
    const database = options.database ?? paths.database;
    return new Inbox(
      identity,
      database,
      paths.home,
      options.lockTimeoutMs,
      resolvePath(dirname(database)) === resolvePath(paths.shipDir) ? paths.shipDir : undefined,
    );
  }

  /**
   * Accepts a message into this inbox; the scheduler, when one runs, starts it in turn.
   * Delivering the same id twice stores it once, so a sender may retry a delivery whose answer
   * it never heard.
   *
   * @param delivery The message.
   * @returns The stored message.
   * @throws {DeliveryRefusedError} When it is addressed to another member or malformed.
   */
  async deliver(delivery: Delivery): Promise<Message> {
    // The id is chosen here, so that asking again after a lost answer stores it once.
    const request = { ...delivery, id: delivery.id ?? newMessageId() };
    const accepted = acceptDelivery(this.identity, request); // refused here, without a round trip
    return await this.#reach.call("deliver", request, async (store) => {
      const [stored] = await storeDeliveries(store, [accepted]);
      if (stored instanceof Error) throw stored;
      return stored.message;
    }, { retryLostAnswer: true });
  }

  /**
   * Lists messages, newest first.
   *
   * @param filter Optional status, row limit (a whole number of at least 1) and command prefix.
   * @returns The messages.
   * @throws {UsageError} When the status is unknown or the limit is not a whole number of at
   *   least 1.
   */
  async list(filter: ListFilter = {}): Promise<Message[]> {
    if (filter.status !== undefined) parseStatus(filter.status);
    if (filter.limit !== undefined) checkLimit(filter.limit);
    return await this.#reach.simple("list", filter);
  }

  /**
   * Gets one message by id or unique id prefix.
   *
   * @param id The id or a prefix of it.
   * @returns The message.
   * @throws {NotFoundError} When no message, or more than one, matches.
   */
  async get(id: string): Promise<Message> {
    return await this.#reach.simple("get", { id: parseMessageId(id) });
  }

  /**
   * Marks a message `pending`: a person or agent took it by hand, so the scheduler leaves it.
   *
   * @param id The id or a unique prefix.
   * @returns The updated message.
   */
  async markRead(id: string): Promise<Message> {
    return await this.#reach.simple("markRead", { id: parseMessageId(id) });
  }

  /**
   * Approves a held message (one a ship sent the flagship): it becomes `unread` and runs in
   * its turn.
   *
   * @param id The id or a unique prefix.
   * @returns The message, now unread.
   * @throws {UsageError} When it is not held.
   */
  async approve(id: string): Promise<Message> {
    const args = { id: parseMessageId(id) };
    return await this.#reach.call("approve", args, (store) => store.approve(args.id));
  }

  /**
   * Marks a message `done`.
   *
   * @param id The id or a unique prefix.
   * @returns The updated message.
   */
  async markDone(id: string): Promise<Message> {
    return await this.#reach.simple("markDone", { id: parseMessageId(id) });
  }

  /**
   * Marks a message `error` with a reason.
   *
   * @param id The id or a unique prefix.
   * @param reason Why it failed.
   * @returns The updated message.
   */
  async markError(id: string, reason: string): Promise<Message> {
    if (!reason.trim()) throw new UsageError('Give a reason for the error, e.g. "tests failed"');
    return await this.#reach.simple("markError", { id: parseMessageId(id), reason });
  }

  /**
   * Deletes a message.
   *
   * @param id The id or a unique prefix.
   * @returns The message as it was.
   */
  async delete(id: string): Promise<Message> {
    return await this.#reach.simple("delete", { id: parseMessageId(id) });
  }

  /**
   * How many messages are in each status.
   *
   * @returns A count for every status (zero when none).
   */
  async counts(): Promise<Record<MessageStatus, number>> {
    return await this.#reach.simple("counts", {});
  }

  /**
   * Runs one read-only SQL query on the inbox database (tables `inbox` and `config`): the way
   * to ask it anything while the scheduler holds the file, where a `duckdb` shell cannot open it.
   *
   * @example Count messages by sender
   * ```ts
   * import { Inbox } from "@smithclay/ohcommodore";
   * const inbox = await Inbox.open();
   * const { rows } = await inbox.query("SELECT sender, count(*) FROM inbox GROUP BY 1");
   * console.log(rows);
   * ```
   *
   * @param sql One query (`SELECT`, `WITH …`, `FROM …`).
   * @returns Its columns and rows (at most 10,000).
   * @throws {UsageError} For anything but one query, or a query DuckDB refuses.
   */
  async query(sql: string): Promise<QueryResult> {
    return await this.#reach.simple("query", { sql });
  }

  /**
   * How many commands this member runs at once, at most (1 unless set, as the original tool);
   * sets it when a count is given. A running scheduler uses a new value at once.
   *
   * @param count A whole number from 1 to 64, to set it.
   * @returns The number in force.
   * @throws {UsageError} For a count out of range.
   */
  async maxRunning(count?: number): Promise<number> {
    if (count !== undefined) checkMaxRunning(count);
    return await this.#reach.call(
      "maxRunning",
      count === undefined ? {} : { count },
      async (store) => {
        if (count !== undefined) await store.setMaxRunning(count);
        return await store.maxRunning();
      },
    );
  }

  /**
   * Waits until a message is `done` or `error`; the scheduler says when.
   *
   * @param id The id or a unique prefix.
   * @param options `timeoutMs` (default: the message's own timeout plus a minute; at most
   *   {@link MAX_DURATION_MS} plus a minute).
   * @returns The finished message.
   * @throws {UsageError} When `timeoutMs` is not above zero, or too long.
   * @throws {TimeoutError} When it does not finish in time.
   * @throws {NoSchedulerError} When no scheduler is running to finish it.
   */
  async waitFor(id: string, options: { timeoutMs?: number } = {}): Promise<FinishedMessage> {
    if (options.timeoutMs !== undefined) {
      checkDurationMs(options.timeoutMs, "timeoutMs", MAX_DURATION_MS + WAIT_MARGIN_MS);
    }
    return await untilFinished(
      this.#reach,
      "wait",
      { id: parseMessageId(id), timeoutMs: options.timeoutMs },
      options.timeoutMs,
    );
  }

  /**
   * Follows a message's output as it is written: `onOutput` hears what was kept so far, then
   * each new piece, until the message finishes (a finished message's stored output comes at
   * once).
   *
   * @example Print a command's output as it runs
   * ```ts
   * import { Inbox } from "@smithclay/ohcommodore";
   * const inbox = await Inbox.open();
   * const message = await inbox.deliver({ recipient: inbox.address, command: "make test" });
   * const finished = await inbox.follow(message.id, (chunk) => console.log(chunk.text));
   * console.log("exit", finished.exitCode);
   * ```
   *
   * @param id The id or a unique prefix.
   * @param onOutput Told each piece of output.
   * @param options `signal` stops following (the command goes on).
   * @returns The finished message.
   * @throws {NoSchedulerError} When it has not finished and no scheduler runs to finish it.
   */
  async follow(
    id: string,
    onOutput: (chunk: OutputChunk) => void,
    options: { signal?: AbortSignal } = {},
  ): Promise<FinishedMessage> {
    return await untilFinished(this.#reach, "follow", { id: parseMessageId(id) }, undefined, {
      onEvent: onOutput,
      signal: options.signal,
    }, (message) => replayOutput(message, onOutput));
  }

  /**
   * Cancels a message: removes it when it has not started, has its scheduler stop its process
   * group when it runs, and leaves it be when it has finished.
   *
   * @param id The id or a unique prefix.
   * @param options How long to wait for a running command to stop (default 20 s; the
   *   scheduler sends TERM, then KILL after its grace).
   * @returns What happened, and the message as it ended.
   */
  async cancel(id: string, options: { timeoutMs?: number } = {}): Promise<Cancellation> {
    const args = { id: parseMessageId(id), timeoutMs: options.timeoutMs };
    return await this.#reach.call("cancel", args, async (store) => {
      const step = await cancelStep(store, args.id);
      // A running row with no scheduler is a crash's leftover, whose group may be anyone's.
      if (step.outcome === "running") throw new NoSchedulerError(this.address, step.message);
      return step;
    }, { timeoutMs: (options.timeoutMs ?? 20_000) + WAIT_MARGIN_MS });
  }

  /**
   * Waits for the next message to arrive in this inbox after the call, optionally from one
   * sender, and returns it as it is then (it may already run: wait for it with
   * {@link Inbox.waitFor}).
   *
   * @example Wait for a ship's report
   * ```ts
   * import { Inbox } from "@smithclay/ohcommodore";
   * const inbox = await Inbox.open();
   * const report = await inbox.next({ from: "captain@ship-web-k3f9a1b2", timeoutMs: 600_000 });
   * console.log(report.command);
   * ```
   *
   * @param options `from`: the sender's address; `timeoutMs`: how long to wait (default 10 min,
   *   at most {@link MAX_DURATION_MS}).
   * @returns The message.
   * @throws {UsageError} When `timeoutMs` is not above zero, or too long.
   * @throws {TimeoutError} When none arrives in time.
   */
  async next(options: { from?: string; timeoutMs?: number } = {}): Promise<Message> {
    return await nextArrival(this.#reach, options);
  }
}

/**
 * Runs database work on an inbox's file directly, behind its lock, whether or not a scheduler
 * runs (tests and repairs; anything else goes through {@link Inbox}).
 *
 * @param inbox The inbox.
 * @param work What to do with its statements.
 * @returns What `work` returns.
 */
export function withStore<T>(inbox: Inbox, work: (store: InboxStore) => Promise<T>): Promise<T> {
  return withDatabase(accessOf(inbox), (db) => work(new InboxStore(db, inbox.address)));
}
