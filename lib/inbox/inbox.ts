/**
 * The inbox of one fleet member: a DuckDB table that any member delivers commands into and the
 * member's scheduler runs them from.
 *
 * @module
 */

import type { DuckDBConnection, DuckDBValue } from "../duckdb.ts";
import { dirname, resolve as resolvePath } from "node:path";
import { parseAddress } from "../address.ts";
import { checkDurationMs, formatDuration, MAX_DURATION_MS, WAIT_MARGIN_MS } from "../duration.ts";
import {
  DeliveryRefusedError,
  NotFoundError,
  registerErrorClass,
  TimeoutError,
  UsageError,
} from "../errors.ts";
import { type Identity, identityAddress, readIdentity } from "../identity.ts";
import { memberPaths } from "../paths.ts";
import { type DatabaseAccess, withDatabase } from "./database.ts";
import { DEFAULT_POLL_INTERVAL_SEC } from "./schema.ts";
import {
  checkLimit,
  DEFAULT_COMMAND_TIMEOUT_MS,
  FINISHED_STATUSES,
  type FinishedMessage,
  type Message,
  MESSAGE_STATUSES,
  type MessageStatus,
  newMessageId,
  parseMessageId,
  parseStatus,
} from "./message.ts";
import { askSchedulerToCancel, FinishListener, wakeScheduler } from "./wake.ts";
import { setLongTimeout } from "../timer.ts";

// Set in Inbox's static block: private access for the scheduler's operations in this module.
let useDatabase: <T>(inbox: Inbox, work: (db: DuckDBConnection) => Promise<T>) => Promise<T>;
let resolveIn: (inbox: Inbox, db: DuckDBConnection, id: string) => Promise<Message>;

/** How long {@link Inbox.next} waits unless told: 10 minutes. */
export const DEFAULT_NEXT_WAIT_MS = 10 * 60_000;

/** The largest command an inbox accepts. */
export const MAX_COMMAND_BYTES = 1024 * 1024;

/** Options for {@link Inbox.open}. */
export interface InboxOptions {
  /** The member's home directory; defaults to `$HOME`. */
  home?: string;
  /**
   * The database file; defaults to `<home>/.local/ship/data.duckdb`. It is kept 0600; its
   * directory is kept 0700 when it is the member's `~/.local/ship`.
   */
  database?: string;
  /** The member's identity; defaults to `<home>/.ohcommodore/identity.json`. */
  identity?: Identity;
  /** How long to wait for the database lock; defaults to 30 seconds. */
  lockTimeoutMs?: number;
}

/** A message as a sender hands it over. */
export interface Delivery {
  /** The command to run with bash. Must not be empty. */
  command: string;
  /** The address it is for, e.g. `captain@ship-web`. */
  recipient: string;
  /** The sender's address. */
  sender?: string;
  /** The id; senders choose it so retries are idempotent. Generated when missing. */
  id?: string;
  /** How long the command may run; defaults to 30 minutes, at most 7 days. */
  timeoutMs?: number;
  /**
   * Whether the address's host part was resolved to this member by an SSH destination or alias
   * rather than by name: then only the role must match.
   */
  viaDestination?: boolean;
}

/** What the scheduler reports when a command ends. */
export interface Outcome {
  /** `done` for exit 0, else `error`. */
  status: "done" | "error";
  /** The exit code (124 for a timeout). */
  exitCode: number | null;
  /** Captured stdout. */
  stdout: string;
  /** Captured stderr. */
  stderr: string;
  /** Why it failed, when it did. */
  error: string | null;
}

/** What {@link startScheduling} found. */
export interface SchedulingStart {
  /** Messages a dead scheduler left running, now `error`. */
  recovered: Message[];
  /** The fallback poll interval from `config`. */
  pollIntervalMs: number;
  /** How many messages are in each status, for the scheduler's report. */
  counts: Record<MessageStatus, number>;
}

const COLUMNS = `id, epoch_us(created_at) AS created_us, status, sender, recipient, command,
  exit_code, result, stderr, error, epoch_us(started_at) AS started_us,
  epoch_us(finished_at) AS finished_us, timeout_sec`;

/**
 * A member's inbox. Holds no open handle: every call opens the database briefly, so any number
 * of processes (senders, the scheduler, people) share it.
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
  readonly #lockTimeoutMs?: number;
  // The member's ship directory when the database is in it: kept 0700 (a database elsewhere is
  // the caller's, in a directory that may be shared).
  readonly #privateDir?: string;

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
    this.#lockTimeoutMs = lockTimeoutMs;
    this.#privateDir = privateDir;
  }

  static {
    // The scheduler's own operations (below the class) reach the database as the class does.
    useDatabase = (inbox, work) => inbox.#use(work);
    resolveIn = (inbox, db, id) => inbox.#resolve(db, id);
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
   * Accepts a message into this inbox and wakes the scheduler. Delivering the same id twice
   * stores it once, so a sender may retry a delivery whose answer it never heard.
   *
   * @param delivery The message.
   * @returns The stored message.
   * @throws {DeliveryRefusedError} When it is addressed to another member or malformed.
   */
  async deliver(delivery: Delivery): Promise<Message> {
    const accepted = this.#accept(delivery);
    const stored = await this.#use(async (db) => {
      await db.run(
        `INSERT INTO inbox (id, created_at, status, sender, recipient, command, timeout_sec)
         VALUES ($1, make_timestamp($2::BIGINT), 'unread', $3, $4, $5, $6)
         ON CONFLICT DO NOTHING`,
        [
          accepted.id,
          nowMicros(),
          accepted.sender,
          this.address,
          accepted.command,
          accepted.timeoutSec,
        ],
      );
      return await this.#find(db, accepted.id);
    });
    if (!stored || stored.command !== accepted.command || stored.sender !== accepted.sender) {
      throw new DeliveryRefusedError(
        `${this.address} refused message "${accepted.id}": another message has that id`,
      );
    }
    await wakeScheduler(this.database);
    return stored;
  }

  #accept(delivery: Delivery) {
    const refuse = (why: string) => new DeliveryRefusedError(`${this.address} refused ${why}`);
    if (typeof delivery.command !== "string" || delivery.command.trim() === "") {
      throw refuse("an empty command: give the shell command to run");
    }
    if (new TextEncoder().encode(delivery.command).length > MAX_COMMAND_BYTES) {
      throw refuse(`a command larger than ${MAX_COMMAND_BYTES} bytes`);
    }
    const to = parseAddress(String(delivery.recipient));
    const byName = !delivery.viaDestination || to.host === this.identity.name;
    if (to.role !== this.identity.role || (byName && to.host !== this.identity.name)) {
      throw refuse(`a message for "${delivery.recipient}": this member is ${this.address}`);
    }
    if (delivery.sender !== undefined) {
      if (typeof delivery.sender !== "string") {
        throw refuse(
          `a sender that is not an address (${JSON.stringify(delivery.sender)}): give one like ` +
            `local@laptop`,
        );
      }
      parseAddress(delivery.sender);
    }
    const id = delivery.id === undefined ? newMessageId() : parseMessageId(delivery.id);
    const timeoutMs = delivery.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    // Checked here too, for senders elsewhere: their JSON must not reach DuckDB unchecked.
    if (typeof timeoutMs !== "number" || !(timeoutMs > 0) || !(timeoutMs <= MAX_DURATION_MS)) {
      throw refuse(
        `a timeout of "${String(timeoutMs)}" ms: give milliseconds above 0 and at most ` +
          `${MAX_DURATION_MS} (${formatDuration(MAX_DURATION_MS)})`,
      );
    }
    return {
      id,
      command: delivery.command,
      sender: delivery.sender ?? null,
      timeoutSec: Math.max(1, Math.ceil(timeoutMs / 1000)),
    };
  }

  /**
   * Lists messages, newest first.
   *
   * @param filter Optional status filter and row limit (a whole number of at least 1).
   * @returns The messages.
   * @throws {UsageError} When the status is unknown or the limit is not a whole number of at
   *   least 1.
   */
  async list(filter: { status?: MessageStatus; limit?: number } = {}): Promise<Message[]> {
    // Checked before DuckDB sees them: its conversion errors say nothing a caller can act on.
    if (filter.status !== undefined) parseStatus(filter.status);
    const limit = filter.limit === undefined ? "" : `LIMIT ${checkLimit(filter.limit)}`;
    return await this.#use(async (db) => {
      const where = filter.status ? "WHERE status = $1" : "";
      const params: DuckDBValue[] = filter.status ? [filter.status] : [];
      const reader = await db.runAndReadAll(
        `SELECT ${COLUMNS} FROM inbox ${where} ORDER BY created_at DESC, id DESC ${limit}`,
        params,
      );
      return reader.getRowObjects().map(toMessage);
    });
  }

  /**
   * Gets one message by id or unique id prefix.
   *
   * @param id The id or a prefix of it.
   * @returns The message.
   * @throws {NotFoundError} When no message, or more than one, matches.
   */
  get(id: string): Promise<Message> {
    return this.#use((db) => this.#resolve(db, id));
  }

  /**
   * Marks a message `pending`: a person or agent took it by hand, so the scheduler leaves it.
   *
   * @param id The id or a unique prefix.
   * @returns The updated message.
   */
  markRead(id: string): Promise<Message> {
    return this.#update(id, `status = 'pending'`, []);
  }

  /**
   * Marks a message `done`.
   *
   * @param id The id or a unique prefix.
   * @returns The updated message.
   */
  markDone(id: string): Promise<Message> {
    return this.#update(
      id,
      `status = 'done', exit_code = coalesce(exit_code, 0),
      finished_at = make_timestamp($2::BIGINT)`,
      [
        nowMicros(),
      ],
    );
  }

  /**
   * Marks a message `error` with a reason.
   *
   * @param id The id or a unique prefix.
   * @param reason Why it failed.
   * @returns The updated message.
   */
  markError(id: string, reason: string): Promise<Message> {
    if (!reason.trim()) throw new UsageError('Give a reason for the error, e.g. "tests failed"');
    return this.#update(
      id,
      // A message that failed by hand has no command's exit code: 1 stands for "failed".
      `status = 'error', error = $2, exit_code = coalesce(nullif(exit_code, 0), 1),
       finished_at = make_timestamp($3::BIGINT)`,
      [reason, nowMicros()],
    );
  }

  /**
   * Deletes a message.
   *
   * @param id The id or a unique prefix.
   * @returns The message as it was.
   */
  async delete(id: string): Promise<Message> {
    const deleted = await this.#use(async (db) => {
      const message = await this.#resolve(db, id);
      await db.run(`DELETE FROM inbox WHERE id = $1`, [message.id]);
      return message;
    });
    await wakeScheduler(this.database); // its report counts messages by status
    return deleted;
  }

  /**
   * Waits until a message is `done` or `error`, listening to the scheduler rather than polling.
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
    // Listen before looking, so a finish between the two is not missed.
    using listener = await FinishListener.connect(this.database);
    let message = await this.get(id);
    const timeoutMs = options.timeoutMs ?? message.timeoutSec * 1000 + WAIT_MARGIN_MS;
    const deadline = Date.now() + timeoutMs;
    while (!FINISHED_STATUSES.includes(message.status)) {
      if (!listener) throw new NoSchedulerError(this.address, message);
      let cancel = () => {};
      const expired = new Promise<"expired">((resolve) => {
        cancel = setLongTimeout(() => resolve("expired"), deadline - Date.now());
      });
      const finished = await Promise.race([listener.next(), expired]).finally(() => cancel());
      if (finished === "expired") {
        // Said as it is now, not as it was when the wait began: it may have started meanwhile.
        message = await this.get(message.id);
        if (FINISHED_STATUSES.includes(message.status)) break;
        throw new TimeoutError(
          `Gave up waiting after ${formatDuration(timeoutMs)}: message "${message.id}" is still ` +
            `${message.status} on ${this.address}; check it later with "inbox show ${message.id}"`,
          { messageId: message.id, status: message.status },
        );
      }
      if (finished === undefined) {
        message = await this.get(message.id);
        if (FINISHED_STATUSES.includes(message.status)) break;
        throw new NoSchedulerError(this.address, message);
      }
      if (finished === message.id) message = await this.get(message.id);
    }
    return message as FinishedMessage;
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
    const found = await this.#use(async (db) => {
      const message = await this.#resolve(db, id);
      if (message.status === "pending") {
        throw new UsageError(
          `Message "${message.id}" was taken by hand ("inbox read"), so nothing runs it: mark ` +
            `it with "inbox done" or "inbox error", or delete it`,
        );
      }
      if (message.status === "unread") {
        const reader = await db.runAndReadAll(
          `DELETE FROM inbox WHERE id = $1 AND status = 'unread' RETURNING id`,
          [message.id],
        );
        if (reader.getRows().length) return { outcome: "removed" as const, message };
        return { outcome: "retry" as const, message }; // claimed meanwhile
      }
      if (message.status !== "running") return { outcome: "finished" as const, message };
      await db.run(
        `UPDATE inbox SET cancelled_at = make_timestamp($2::BIGINT)
         WHERE id = $1 AND status = 'running'`,
        [message.id, nowMicros()],
      );
      return { outcome: "stopping" as const, message };
    });
    if (found.outcome === "retry") return await this.cancel(found.message.id, options);
    if (found.outcome === "removed") {
      await wakeScheduler(this.database);
      return { outcome: "removed", message: found.message };
    }
    if (found.outcome === "finished") return { outcome: "finished", message: found.message };
    // The scheduler owns the group, so it does the stopping; a running row with no scheduler
    // is a crash's leftover, whose group may be anyone's by now.
    if (!await askSchedulerToCancel(this.database, found.message.id)) {
      throw new NoSchedulerError(this.address, found.message);
    }
    const message = await this.waitFor(found.message.id, {
      timeoutMs: options.timeoutMs ?? 20_000,
    });
    return { outcome: "stopped", message };
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
   * const report = await inbox.next({ from: "captain@ship-web-1f2e", timeoutMs: 600_000 });
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
    const since = nowMicros();
    if (options.from !== undefined) parseAddress(options.from);
    if (options.timeoutMs !== undefined) checkDurationMs(options.timeoutMs, "timeoutMs");
    const timeoutMs = options.timeoutMs ?? DEFAULT_NEXT_WAIT_MS;
    const deadline = Date.now() + timeoutMs;
    let listener = await FinishListener.connect(this.database);
    try {
      // Arrivals in the very millisecond of the call count; those already there by then do not.
      const arrivedSince = (db: DuckDBConnection) =>
        db.runAndReadAll(
          `SELECT ${COLUMNS} FROM inbox WHERE created_at >= make_timestamp($1::BIGINT)
             AND ($2::TEXT IS NULL OR sender = $2) ORDER BY created_at, id`,
          [since, options.from ?? null],
        ).then((reader) => reader.getRowObjects().map(toMessage));
      const before = new Set((await this.#use(arrivedSince)).map((message) => message.id));
      // Wait, then look: what came before the first wait is in `before`, and the listener,
      // connected already, hears anything after it.
      for (;;) {
        const left = deadline - Date.now();
        // The scheduler says when anything changes; without one, look again every half second.
        if (
          left > 0 && !await this.#changeOrPause(listener, listener ? left : Math.min(left, 500))
        ) {
          listener?.[Symbol.dispose](); // the scheduler went away: poll from now on
          listener = undefined;
        }
        const arrived = (await this.#use(arrivedSince)).find((m) => !before.has(m.id));
        if (arrived) return arrived;
        if (Date.now() >= deadline) {
          throw new TimeoutError(
            `No message arrived in the inbox of ${this.address}` +
              (options.from ? ` from ${options.from}` : "") +
              ` within ${formatDuration(timeoutMs)}; wait longer with a larger timeout, or see ` +
              `what came with "ohcommodore inbox list"`,
          );
        }
      }
    } finally {
      listener?.[Symbol.dispose]();
    }
  }

  // False when the listener's scheduler went away; true on a change or when the pause ends.
  async #changeOrPause(listener: FinishListener | undefined, ms: number): Promise<boolean> {
    let cancel = () => {};
    const paused = new Promise<boolean>((resolve) => {
      cancel = setLongTimeout(() => resolve(true), ms);
    });
    return await Promise.race([listener?.changed() ?? paused, paused]).finally(() => cancel());
  }

  async #update(id: string, assignments: string, params: DuckDBValue[]): Promise<Message> {
    const updated = await this.#use(async (db) => {
      const message = await this.#resolve(db, id);
      await db.run(`UPDATE inbox SET ${assignments} WHERE id = $1`, [message.id, ...params]);
      return await this.#resolve(db, message.id);
    });
    await wakeScheduler(this.database); // its report counts messages by status
    return updated;
  }

  /**
   * How many messages are in each status.
   *
   * @returns A count for every status (zero when none).
   */
  counts(): Promise<Record<MessageStatus, number>> {
    return this.#use(countsIn);
  }

  async #resolve(db: DuckDBConnection, id: string): Promise<Message> {
    const prefix = parseMessageId(id);
    const reader = await db.runAndReadAll(
      `SELECT ${COLUMNS} FROM inbox WHERE starts_with(id, $1) ORDER BY id LIMIT 2`,
      [prefix],
    );
    const rows = reader.getRowObjects().map(toMessage);
    const exact = rows.find((row) => row.id === prefix);
    if (exact) return exact;
    if (rows.length === 0) {
      throw new NotFoundError(
        `Cannot find message "${id}" in the inbox of ${this.address}: ` +
          `list messages with "ohcommodore inbox list"`,
        { query: id },
      );
    }
    if (rows.length > 1) {
      throw new NotFoundError(
        `Message id "${id}" is ambiguous in the inbox of ${this.address}: type more characters`,
        { query: id },
      );
    }
    return rows[0];
  }

  async #find(db: DuckDBConnection, id: string): Promise<Message | undefined> {
    const reader = await db.runAndReadAll(`SELECT ${COLUMNS} FROM inbox WHERE id = $1`, [id]);
    const row = reader.getRowObjects()[0];
    return row ? toMessage(row) : undefined;
  }

  #use<T>(work: (db: DuckDBConnection) => Promise<T>): Promise<T> {
    const access: DatabaseAccess = {
      path: this.database,
      identity: this.address,
      lockTimeoutMs: this.#lockTimeoutMs,
      privateDir: this.#privateDir,
    };
    return withDatabase(access, work);
  }
}

// The scheduler's side of the inbox: not part of the library's surface (mod.ts).

/**
 * Claims the oldest unread message for this member and marks it `running`.
 * For the scheduler; a message is claimed at most once.
 *
 * @param inbox The inbox.
 * @returns The claimed message, or undefined when there is none.
 */
export function claimNext(inbox: Inbox): Promise<Message | undefined> {
  return useDatabase(inbox, async (db) => {
    const reader = await db.runAndReadAll(
      `UPDATE inbox SET status = 'running', started_at = make_timestamp($2::BIGINT)
       WHERE id = (SELECT id FROM inbox WHERE status = 'unread' AND recipient = $1
                   ORDER BY created_at, id LIMIT 1)
       RETURNING ${COLUMNS}`,
      [inbox.address, nowMicros()],
    );
    const row = reader.getRowObjects()[0];
    return row ? toMessage(row) : undefined;
  });
}

/**
 * Stores the outcome of a claimed message.
 *
 * @param inbox The inbox.
 * @param id The message id.
 * @param outcome How the command ended.
 * @returns The finished message.
 */
export function finish(inbox: Inbox, id: string, outcome: Outcome): Promise<Message> {
  return useDatabase(inbox, async (db) => {
    await db.run(
      `UPDATE inbox SET status = $2, exit_code = $3, result = $4, stderr = $5,
         error = CASE WHEN cancelled_at IS NOT NULL AND $8 THEN 'cancelled' ELSE $6 END,
         finished_at = make_timestamp($7::BIGINT)
       WHERE id = $1`,
      [
        id,
        outcome.status,
        outcome.exitCode,
        outcome.stdout,
        outcome.stderr,
        outcome.error,
        nowMicros(),
        // Cancelled is what it was only when a signal ended it, not a timeout or its own exit.
        outcome.status === "error" && /^killed by /.test(outcome.error ?? ""),
      ],
    );
    return await resolveIn(inbox, db, id);
  });
}

/**
 * Readies the inbox for a starting scheduler, in one database session: messages a scheduler
 * that died left `running` are marked `error` (never re-run: the command may have had
 * effects), and the poll interval and the counts for its first report are read.
 *
 * @param inbox The inbox.
 * @returns The messages marked, the fallback poll interval and the counts.
 */
export function startScheduling(inbox: Inbox): Promise<SchedulingStart> {
  // One transaction: when a later query fails, the marking is undone too, and the retry
  // reports the same messages instead of none.
  return useDatabase(inbox, async (db) => {
    await db.run("BEGIN TRANSACTION");
    try {
      const reader = await db.runAndReadAll(
        // Its group is not killed: after a crash that number may be another process's now, so
        // the row says what may still run, for a person to look at.
        `UPDATE inbox SET status = 'error', error = 'scheduler stopped while running' ||
             CASE WHEN pgid IS NULL THEN '' ELSE '; its commands may still run as process ' ||
               'group ' || pgid || ' (kill -- -' || pgid || ' stops them)' END,
           exit_code = coalesce(exit_code, 1),
           finished_at = make_timestamp($1::BIGINT)
         WHERE status = 'running' RETURNING ${COLUMNS}`,
        [nowMicros()],
      );
      const recovered = reader.getRowObjects().map(toMessage);
      const config = await db.runAndReadAll(
        `SELECT value FROM config WHERE key = 'POLL_INTERVAL_SEC'`,
      );
      const seconds = Number(config.getRows()[0]?.[0]);
      const pollSeconds = Number.isFinite(seconds) && seconds > 0
        ? seconds
        : DEFAULT_POLL_INTERVAL_SEC;
      const counts = await countsIn(db);
      await db.run("COMMIT");
      return { recovered, pollIntervalMs: pollSeconds * 1000, counts };
    } catch (error) {
      await db.run("ROLLBACK").catch(() => {});
      throw error;
    }
  });
}

/**
 * Records the process group of a message the scheduler just started. For the scheduler.
 *
 * @param inbox The inbox.
 * @param id The message.
 * @param pgid Its process group.
 * @returns `"kill"` when the message was cancelled before its group was known.
 */
export function recordProcessGroup(inbox: Inbox, id: string, pgid: number): Promise<"kill" | void> {
  return useDatabase(inbox, async (db) => {
    const reader = await db.runAndReadAll(
      `UPDATE inbox SET pgid = $2 WHERE id = $1 RETURNING cancelled_at IS NOT NULL`,
      [id, pgid],
    );
    return reader.getRows()[0]?.[0] === true ? "kill" : undefined;
  });
}

/** What {@link Inbox.cancel} did. */
export interface Cancellation {
  /** `removed` (it had not started), `stopped` (it ran and was stopped) or `finished` (too late). */
  outcome: "removed" | "stopped" | "finished";
  /** The message as it ended (for `removed`, as it was). */
  message: Message;
}

/**
 * A message waits in an inbox whose scheduler is not running.
 *
 * @example Start the scheduler a message waits for
 * ```ts
 * import { NoSchedulerError, send } from "@smithclay/ohcommodore";
 * await send("captain@ship-web-1f2e", "make", { wait: true }).catch((error) => {
 *   if (error instanceof NoSchedulerError) console.error(`${error.waiting.id} waits`);
 *   else throw error;
 * });
 * ```
 */
export class NoSchedulerError extends DeliveryRefusedError {
  /** The message as it is now. */
  readonly waiting: Message;

  /**
   * Creates the error.
   *
   * @param address The inbox's address.
   * @param message The waiting message.
   */
  constructor(address: string, message: Message) {
    super(
      `Message "${message.id}" is ${message.status} on ${address}, but no scheduler is running ` +
        `there: start one with "ohcommodore scheduler start", then check "inbox show ${message.id}"`,
    );
    this.waiting = message;
  }
}

function nowMicros(): bigint {
  return BigInt(Date.now()) * 1000n;
}

function iso(micros: DuckDBValue): string | null {
  return micros === null ? null : new Date(Number(BigInt(micros as bigint) / 1000n)).toISOString();
}

function toMessage(row: Record<string, DuckDBValue>): Message {
  const text = (value: DuckDBValue) => value === null ? null : String(value);
  const status = String(row.status) as MessageStatus;
  const finished = status === "done" || status === "error";
  // Rows from before exit codes were always kept: done means 0, error means failed.
  const exitCode = row.exit_code === null
    ? (finished ? (status === "done" ? 0 : 1) : null)
    : Number(row.exit_code);
  return {
    id: String(row.id),
    createdAt: iso(row.created_us) ?? "",
    status,
    sender: text(row.sender),
    recipient: String(row.recipient),
    command: String(row.command ?? ""),
    exitCode,
    result: text(row.result),
    stderr: text(row.stderr),
    error: text(row.error),
    startedAt: iso(row.started_us),
    finishedAt: iso(row.finished_us),
    timeoutSec: row.timeout_sec === null
      ? DEFAULT_COMMAND_TIMEOUT_MS / 1000
      : Number(row.timeout_sec),
  } as Message;
}

async function countsIn(db: DuckDBConnection): Promise<Record<MessageStatus, number>> {
  const reader = await db.runAndReadAll(
    `SELECT status, count(*)::INTEGER FROM inbox GROUP BY status`,
  );
  const counts = Object.fromEntries(MESSAGE_STATUSES.map((status) => [status, 0]));
  for (const [status, count] of reader.getRows()) counts[String(status)] = Number(count);
  return counts as Record<MessageStatus, number>;
}

// It crosses from the flagship to the laptop as data and comes back as itself.
registerErrorClass(NoSchedulerError);
