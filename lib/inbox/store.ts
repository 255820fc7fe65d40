/**
 * The inbox's SQL: every query and update of an inbox database, on a connection someone else
 * opened. The scheduler (the inbox server) keeps one connection for its whole life; a process
 * that finds no server opens the file briefly (`database.ts`) and uses the same statements.
 *
 * @module
 */

import type {
  DuckDBConnection,
  DuckDBPreparedStatement,
  DuckDBResultReader,
  DuckDBValue,
} from "../duckdb.ts";
import { type QueryResult, runQuery } from "./query.ts";
import { NotFoundError, UsageError } from "../errors.ts";
import { parseWholeNumber } from "../whole_number.ts";
import {
  checkLimit,
  DEFAULT_COMMAND_TIMEOUT_MS,
  type FinishedMessage,
  type Message,
  MESSAGE_STATUSES,
  type MessageStatus,
  parseMessageId,
  parseStatus,
  type SenderQuota,
} from "./message.ts";

/** A message the inbox has checked and will store. */
export interface AcceptedDelivery {
  /** Its id. */
  id: string;
  /** The command. */
  command: string;
  /** The sender's address, or null. */
  sender: string | null;
  /** Its timeout in whole seconds. */
  timeoutSec: number;
  /** How it is stored: `unread` to run, `held` until approved, `note` never to run. */
  status: "unread" | "held" | "note";
  /** Refuse it when its sender has this much waiting already. */
  quota?: SenderQuota;
}

/** What became of one delivery in {@link InboxStore.insertMany}. */
export type Insertion =
  | { message: Message; created: boolean }
  | { refused: "taken" }
  | { refused: "quota"; waiting: { messages: number; bytes: number } };

/** Which messages a listing shows. */
export interface ListFilter {
  /** Only this status. */
  status?: MessageStatus;
  /** At most this many, newest first. */
  limit?: number;
  /** Only commands that start with this text (agent tasks start with a mark line). */
  commandPrefix?: string;
  /**
   * Whole messages. By default a listing clips each command to its first, and each output to
   * its last, {@link LIST_CLIP_CHARS} characters (marked with "…"), so that no inbox, however
   * full, makes a listing too large to answer; `get` always gives the whole message.
   *
   * @default {false}
   */
  full?: boolean;
}

/** How much of a command, and of each output, a listing shows unless asked for `full`. */
export const LIST_CLIP_CHARS = 4096;

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
  /** Whether it ended because it was cancelled. */
  cancelled?: boolean;
}

/** What a starting scheduler finds. */
export interface SchedulingStart {
  /** Messages a dead scheduler left running, now `error`. */
  recovered: Message[];
  /** How many commands may run at once, from `config` (`MAX_RUNNING`). */
  maxRunning: number;
  /** How many messages are in each status, for the scheduler's report. */
  counts: Record<MessageStatus, number>;
}

/** The most commands a member may run at once. */
export const MAX_RUNNING_LIMIT = 64;

const COLUMNS = `id, epoch_us(created_at) AS created_us, status, sender, recipient, command,
  exit_code, result, stderr, error, epoch_us(started_at) AS started_us,
  epoch_us(finished_at) AS finished_us, timeout_sec`;

// The same, with the command's head and the outputs' tails (where a run ends) only.
const CLIPPED_COLUMNS = COLUMNS
  .replace(
    "command,",
    `CASE WHEN length(command) > ${LIST_CLIP_CHARS} THEN left(command, ${LIST_CLIP_CHARS - 1}) ` +
      `|| '…' ELSE command END AS command,`,
  )
  .replace(
    /\b(result|stderr),/g,
    (_, column) =>
      `CASE WHEN length(${column}) > ${LIST_CLIP_CHARS} THEN '…' || ` +
      `right(${column}, ${LIST_CLIP_CHARS - 1}) ELSE ${column} END AS ${column},`,
  );

/** The statements of one inbox, on one open connection. */
export class InboxStore {
  readonly #db: DuckDBConnection;
  // Prepared once per statement: DuckDB's parse and plan cost more than a point query itself.
  readonly #prepared = new Map<string, Promise<DuckDBPreparedStatement>>();
  /** The member's address, for error messages. */
  readonly address: string;

  /**
   * Wraps an open connection.
   *
   * @param db The connection.
   * @param address The member's address.
   */
  constructor(db: DuckDBConnection, address: string) {
    this.#db = db;
    this.address = address;
  }

  /**
   * Stores many messages in two statements (a look-up and one insert), each unless one with
   * its id is there already: the inbox server's way with deliveries that arrive together.
   *
   * @param batch The checked deliveries.
   * @returns For each, in order: the stored message and whether this call stored it, or why
   *   it was refused: its id is another message's, or its sender is over its quota.
   */
  async insertMany(batch: readonly AcceptedDelivery[]): Promise<Insertion[]> {
    const { listValue } = await import("../duckdb.ts");
    const reader = await this.#read(
      `SELECT ${COLUMNS} FROM inbox WHERE list_contains($1::VARCHAR[], id)`,
      [listValue(batch.map((accepted) => accepted.id))],
    );
    const known = new Map(reader.getRowObjects().map(toMessage).map((m) => [m.id, m]));
    const waiting = await this.#waitingFrom(
      batch.filter((accepted) => accepted.quota && !known.has(accepted.id)),
    );
    const created = nowMicros();
    const fresh: AcceptedDelivery[] = [];
    const results = batch.map((accepted): Insertion => {
      const stored = known.get(accepted.id);
      if (stored) {
        // A held message that was approved since is the same message: its repeat is a repeat.
        const same = stored.command === accepted.command && stored.sender === accepted.sender &&
          (stored.status === "note") === (accepted.status === "note");
        return same ? { message: stored, created: false } : { refused: "taken" };
      }
      if (accepted.quota) {
        const sent = waiting.get(accepted.sender)!;
        const bytes = new TextEncoder().encode(accepted.command).length;
        if (
          sent.messages + 1 > accepted.quota.messages || sent.bytes + bytes > accepted.quota.bytes
        ) return { refused: "quota", waiting: { ...sent } };
        sent.messages++;
        sent.bytes += bytes;
      }
      const message = this.#newMessage(accepted, created);
      known.set(accepted.id, message); // the same id twice in one batch is stored once
      fresh.push(accepted);
      return { message, created: true };
    });
    for (let start = 0; start < fresh.length; start += 100) {
      const rows = fresh.slice(start, start + 100);
      // Only placeholders are written into the text; every value is a parameter.
      const values = rows.map((_, i) =>
        `($${i * 7 + 1}, make_timestamp($${i * 7 + 2}::BIGINT), $${i * 7 + 3}, ` +
        `$${i * 7 + 4}, $${i * 7 + 5}, $${i * 7 + 6}, $${i * 7 + 7})`
      );
      await this.#run(
        `INSERT INTO inbox (id, created_at, status, sender, recipient, command, timeout_sec)
         VALUES ${values.join(", ")}`,
        rows.flatMap((a) => [
          a.id,
          created,
          a.status,
          a.sender,
          this.address,
          a.command,
          a.timeoutSec,
        ]),
      );
    }
    return results;
  }

  // What each sender of these deliveries has waiting: messages unread, held or kept as notes.
  async #waitingFrom(
    batch: readonly AcceptedDelivery[],
  ): Promise<Map<string | null, { messages: number; bytes: number }>> {
    const waiting = new Map(
      batch.map((accepted) => [accepted.sender, { messages: 0, bytes: 0 }]),
    );
    const senders = [...waiting.keys()].filter((sender) => sender !== null);
    if (senders.length === 0) return waiting;
    const { listValue } = await import("../duckdb.ts");
    const reader = await this.#read(
      `SELECT sender, count(*)::INTEGER AS messages, sum(octet_length(encode(command)))::BIGINT
         AS bytes FROM inbox WHERE status IN ('unread', 'held', 'note')
         AND list_contains($1::VARCHAR[], sender) GROUP BY sender`,
      [listValue(senders)],
    );
    for (const row of reader.getRowObjects()) {
      waiting.set(String(row.sender), { messages: Number(row.messages), bytes: Number(row.bytes) });
    }
    return waiting;
  }

  #newMessage(accepted: AcceptedDelivery, createdMicros: bigint): Message {
    return {
      id: accepted.id,
      createdAt: iso(createdMicros) ?? "",
      status: accepted.status,
      sender: accepted.sender,
      recipient: this.address,
      command: accepted.command,
      exitCode: null,
      result: null,
      stderr: null,
      error: null,
      startedAt: null,
      finishedAt: null,
      timeoutSec: accepted.timeoutSec,
    };
  }

  /**
   * The unread messages for this member, oldest first: the order they run in.
   *
   * @returns The messages.
   */
  async unread(): Promise<Message[]> {
    const reader = await this.#read(
      `SELECT ${COLUMNS} FROM inbox WHERE status = 'unread' AND recipient = $1
       ORDER BY created_at, id`,
      [this.address],
    );
    return reader.getRowObjects().map(toMessage);
  }

  /**
   * Claims one unread message and marks it `running`; a message is claimed at most once.
   *
   * @param message The message as it was stored.
   * @returns The claimed message, or undefined when it is no longer unread.
   */
  async claim(message: Message): Promise<Message | undefined> {
    const started = nowMicros();
    const changed = await this.#change(
      `UPDATE inbox SET status = 'running', started_at = make_timestamp($2::BIGINT)
       WHERE id = $1 AND status = 'unread'`,
      [message.id, started],
    );
    return changed
      ? { ...message, status: "running", exitCode: null, startedAt: iso(started) } as Message
      : undefined;
  }

  /**
   * Lists messages, newest first.
   *
   * @param filter Status and row limit.
   * @returns The messages.
   */
  async list(filter: ListFilter = {}): Promise<Message[]> {
    // Checked before DuckDB sees them: its conversion errors say nothing a caller can act on.
    if (filter.status !== undefined) parseStatus(filter.status);
    const prefix = filter.commandPrefix;
    if (prefix !== undefined && (typeof prefix !== "string" || prefix.length > 1000)) {
      throw new UsageError(`A command prefix is a string of at most 1000 characters`);
    }
    const limit = filter.limit === undefined ? "" : `LIMIT ${checkLimit(filter.limit)}`;
    // Only placeholders are written into the text; the values are parameters.
    const conditions: string[] = [];
    const params: DuckDBValue[] = [];
    if (filter.status) conditions.push(`status = $${params.push(filter.status)}`);
    if (prefix !== undefined) conditions.push(`starts_with(command, $${params.push(prefix)})`);
    const where = conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
    const reader = await this.#read(
      `SELECT ${filter.full ? COLUMNS : CLIPPED_COLUMNS} FROM inbox ${where}
         ORDER BY created_at DESC, id DESC ${limit}`,
      params,
    );
    return reader.getRowObjects().map(toMessage);
  }

  /**
   * One message by id or unique prefix.
   *
   * @param id The id or a prefix.
   * @returns The message.
   * @throws {NotFoundError} When none, or more than one, matches.
   */
  async get(id: string): Promise<Message> {
    const prefix = parseMessageId(id);
    const reader = await this.#read(
      `SELECT ${COLUMNS} FROM inbox WHERE starts_with(id, $1) ORDER BY id LIMIT 2`,
      [prefix],
    );
    const rows = reader.getRowObjects().map(toMessage);
    const exact = rows.find((row) => row.id === prefix);
    if (exact) return exact;
    if (rows.length === 0) {
      throw new NotFoundError(`Cannot find message "${id}" in the inbox of ${this.address}`, {
        query: id,
        next: `list messages with "ohcommodore inbox list"`,
      });
    }
    if (rows.length > 1) {
      throw new NotFoundError(
        `Message id "${id}" is ambiguous in the inbox of ${this.address}: type more characters`,
        { query: id },
      );
    }
    return rows[0];
  }

  /**
   * One message by its exact id.
   *
   * @param id The id.
   * @returns The message, or undefined.
   */
  async find(id: string): Promise<Message | undefined> {
    const reader = await this.#read(`SELECT ${COLUMNS} FROM inbox WHERE id = $1`, [
      id,
    ]);
    const row = reader.getRowObjects()[0];
    return row ? toMessage(row) : undefined;
  }

  /**
   * Approves a held message: it becomes `unread`, and runs in its turn.
   *
   * @param id The id or a unique prefix.
   * @returns The message, now unread.
   * @throws {UsageError} When it is not held.
   */
  async approve(id: string): Promise<Message> {
    const message = await this.get(id);
    const changed = await this.#change(
      `UPDATE inbox SET status = 'unread' WHERE id = $1 AND status = 'held'`,
      [message.id],
    );
    if (!changed) {
      throw new UsageError(
        `Message "${message.id}" is ${message.status}, not held: only a held message is approved`,
      );
    }
    return { ...message, status: "unread", exitCode: null };
  }

  /**
   * Marks a message `pending` (taken by hand).
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
      `status = 'done', exit_code = coalesce(exit_code, 0), finished_at = make_timestamp($2::BIGINT)`,
      [nowMicros()],
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
    if (typeof reason !== "string" || !reason.trim()) {
      throw new UsageError('Give a reason for the error, e.g. "tests failed"');
    }
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
    const message = await this.get(id);
    await this.#run(`DELETE FROM inbox WHERE id = $1`, [message.id]);
    return message;
  }

  /**
   * Removes a message that has not started yet.
   *
   * @param id The exact id.
   * @returns Whether it was still unread (and is now gone).
   */
  async removeUnread(id: string): Promise<boolean> {
    const reader = await this.#read(
      `DELETE FROM inbox WHERE id = $1 AND status = 'unread' RETURNING id`,
      [id],
    );
    return reader.getRows().length > 0;
  }

  /**
   * Records that a running message is to be stopped.
   *
   * @param id The exact id.
   */
  async markCancelled(id: string): Promise<void> {
    await this.#run(
      `UPDATE inbox SET cancelled_at = make_timestamp($2::BIGINT)
       WHERE id = $1 AND status = 'running'`,
      [id, nowMicros()],
    );
  }

  /**
   * Stores the outcome of a claimed message.
   *
   * @param message The message as it was claimed.
   * @param outcome How the command ended.
   * @returns The finished message.
   */
  async finish(message: Message, outcome: Outcome): Promise<FinishedMessage> {
    const finished = nowMicros();
    const error = outcome.cancelled ? "cancelled" : outcome.error;
    await this.#run(
      `UPDATE inbox SET status = $2, exit_code = $3, result = $4, stderr = $5, error = $6,
         finished_at = make_timestamp($7::BIGINT)
       WHERE id = $1`,
      [
        message.id,
        outcome.status,
        outcome.exitCode,
        outcome.stdout,
        outcome.stderr,
        error,
        finished,
      ],
    );
    return {
      ...message,
      status: outcome.status,
      exitCode: outcome.exitCode ?? (outcome.status === "done" ? 0 : 1),
      result: outcome.stdout,
      stderr: outcome.stderr,
      error,
      finishedAt: iso(finished),
    } as FinishedMessage;
  }

  /**
   * Records the process group of a message just started.
   *
   * @param id The message.
   * @param pgid Its process group.
   */
  async recordProcessGroup(id: string, pgid: number): Promise<void> {
    await this.#run(`UPDATE inbox SET pgid = $2 WHERE id = $1`, [id, pgid]);
  }

  /**
   * Readies the inbox for a starting scheduler, in one transaction: messages a scheduler that
   * died left `running` are marked `error` (never re-run: the command may have had effects),
   * and the settings and counts are read.
   *
   * @returns The messages marked, the settings and the counts.
   */
  async startScheduling(): Promise<SchedulingStart> {
    await this.#db.run("BEGIN TRANSACTION");
    try {
      const reader = await this.#read(
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
      const maxRunning = await this.maxRunning();
      const counts = await this.counts();
      await this.#db.run("COMMIT");
      return { recovered, maxRunning, counts };
    } catch (error) {
      await this.#db.run("ROLLBACK").catch(() => {});
      throw error;
    }
  }

  /**
   * Sets how many commands may run at once.
   *
   * @param count A whole number from 1 to {@link MAX_RUNNING_LIMIT}.
   */
  async setMaxRunning(count: number): Promise<void> {
    await this.#run(
      `INSERT INTO config VALUES ('MAX_RUNNING', $1)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [String(checkMaxRunning(count))],
    );
  }

  /**
   * How many commands may run at once (the `MAX_RUNNING` setting; 1 unless set).
   *
   * @returns The number.
   */
  async maxRunning(): Promise<number> {
    const value = await this.#positiveSetting("MAX_RUNNING") ?? 1;
    return Math.min(MAX_RUNNING_LIMIT, Math.floor(value));
  }

  async #positiveSetting(key: string): Promise<number | undefined> {
    const reader = await this.#read(`SELECT value FROM config WHERE key = $1`, [key]);
    const value = Number(reader.getRows()[0]?.[0]);
    return Number.isFinite(value) && value > 0 ? value : undefined;
  }

  /**
   * How many messages are in each status.
   *
   * @returns A count for every status (zero when none).
   */
  async counts(): Promise<Record<MessageStatus, number>> {
    const reader = await this.#read(
      `SELECT status, count(*)::INTEGER FROM inbox GROUP BY status`,
    );
    const counts = Object.fromEntries(MESSAGE_STATUSES.map((status) => [status, 0]));
    for (const [status, count] of reader.getRows()) counts[String(status)] = Number(count);
    return counts as Record<MessageStatus, number>;
  }

  /**
   * Messages that arrived at or after a time, oldest first, optionally from one sender.
   *
   * @param sinceMicros The time, in microseconds since the epoch.
   * @param from The sender's address, or undefined for any.
   * @returns The messages.
   */
  async arrivedSince(sinceMicros: bigint, from?: string): Promise<Message[]> {
    const reader = await this.#read(
      `SELECT ${COLUMNS} FROM inbox WHERE created_at >= make_timestamp($1::BIGINT)
         AND ($2::TEXT IS NULL OR sender = $2) ORDER BY created_at, id`,
      [sinceMicros, from ?? null],
    );
    return reader.getRowObjects().map(toMessage);
  }

  /**
   * Runs one read-only query on this inbox's connection (see {@link runQuery}).
   *
   * @param sql The query.
   * @returns Its columns and up to 10,000 rows.
   */
  query(sql: string): Promise<QueryResult> {
    return runQuery(this.#db, sql);
  }

  async #statement(sql: string, params: DuckDBValue[]): Promise<DuckDBPreparedStatement> {
    let prepared = this.#prepared.get(sql);
    if (!prepared) {
      prepared = this.#db.prepare(sql);
      this.#prepared.set(sql, prepared);
      prepared.catch(() => this.#prepared.delete(sql));
    }
    const statement = await prepared;
    statement.clearBindings();
    if (params.length) statement.bind(params);
    return statement;
  }

  // A prepared statement without parameters is not run again: DuckDB (node-api 1.5.6) answers
  // its second run with the rows of the first, or with garbage (tested in store_test.ts).
  async #run(sql: string, params: DuckDBValue[] = []): Promise<void> {
    if (params.length === 0) await this.#db.run(sql);
    else await (await this.#statement(sql, params)).run();
  }

  // Runs a change; says how many rows it changed.
  async #change(sql: string, params: DuckDBValue[]): Promise<number> {
    return Number((await (await this.#statement(sql, params)).run()).rowsChanged);
  }

  async #read(sql: string, params: DuckDBValue[] = []): Promise<DuckDBResultReader> {
    if (params.length === 0) return await this.#db.runAndReadAll(sql);
    return await (await this.#statement(sql, params)).runAndReadAll();
  }

  async #update(id: string, assignments: string, params: DuckDBValue[]): Promise<Message> {
    const message = await this.get(id);
    await this.#run(`UPDATE inbox SET ${assignments} WHERE id = $1`, [message.id, ...params]);
    return await this.get(message.id);
  }
}

/**
 * Checks a number of commands to run at once.
 *
 * @param count The number.
 * @returns It, when it is a whole number from 1 to {@link MAX_RUNNING_LIMIT}.
 * @throws {UsageError} Otherwise.
 */
export function checkMaxRunning(count: unknown): number {
  return parseWholeNumber(count, "number of commands at once", { max: MAX_RUNNING_LIMIT });
}

/**
 * Now, in the microseconds DuckDB's timestamps take.
 *
 * @returns Microseconds since the epoch.
 */
export function nowMicros(): bigint {
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
