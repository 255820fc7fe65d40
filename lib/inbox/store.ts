/**
 * The inbox's SQL: every query and update of an inbox database, on a connection someone
 * else opened. The scheduler (the inbox server) keeps one connection for its whole life; a
 * process that finds no server opens the file briefly (`database.ts`) and uses the same
 * statements. {@link InboxStore} is the one handle on them; storing deliveries with their
 * senders' quotas (`insert_deliveries.ts`), listings (`message_listing.ts`) and the scheduler's
 * own reads (`scheduler_state.ts`) live in files of their own, and a message's columns in
 * `message_rows.ts`.
 *
 * @module
 */

import type { DuckDBConnection, DuckDBValue } from "../duckdb.ts";
import { type QueryResult, runQuery } from "./query.ts";
import { NotFoundError, UsageError } from "../errors.ts";
import {
  type FinishedMessage,
  type Message,
  type MessageStatus,
  parseMessageId,
} from "./message.ts";
import { isoOfMicros, MESSAGE_COLUMNS, messageOfRow, nowMicros } from "./message_rows.ts";
import { type ListFilter, listMessages } from "./message_listing.ts";
import { PreparedStatements } from "./prepared_statements.ts";
import { type AcceptedDelivery, insertDeliveries, type Insertion } from "./insert_deliveries.ts";
import {
  countByStatus,
  readMaxRunning,
  type SchedulingStart,
  startScheduling,
  writeMaxRunning,
} from "./scheduler_state.ts";

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

/** The statements of one inbox, on one open connection. */
export class InboxStore {
  readonly #sql: PreparedStatements;
  /** The member's address, for error messages. */
  readonly address: string;

  /**
   * Wraps an open connection.
   *
   * @param db The connection.
   * @param address The member's address.
   */
  constructor(db: DuckDBConnection, address: string) {
    this.#sql = new PreparedStatements(db);
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
  insertMany(batch: readonly AcceptedDelivery[]): Promise<Insertion[]> {
    return insertDeliveries(this.#sql, this.address, batch);
  }

  /**
   * The unread messages for this member, oldest first: the order they run in.
   *
   * @returns The messages.
   */
  async unread(): Promise<Message[]> {
    const reader = await this.#sql.read(
      `SELECT ${MESSAGE_COLUMNS} FROM inbox WHERE status = 'unread' AND recipient = $1
       ORDER BY created_at, id`,
      [this.address],
    );
    return reader.getRowObjects().map(messageOfRow);
  }

  /**
   * Claims one unread message and marks it `running`; a message is claimed at most once.
   *
   * @param message The message as it was stored.
   * @returns The claimed message, or undefined when it is no longer unread.
   */
  async claim(message: Message): Promise<Message | undefined> {
    const started = nowMicros();
    const changed = await this.#sql.change(
      `UPDATE inbox SET status = 'running', started_at = make_timestamp($2::BIGINT)
       WHERE id = $1 AND status = 'unread'`,
      [message.id, started],
    );
    return changed
      ? {
        ...message,
        status: "running",
        exitCode: null,
        startedAt: isoOfMicros(started),
      } as Message
      : undefined;
  }

  /**
   * Lists messages, newest first.
   *
   * @param filter Status and row limit.
   * @returns The messages.
   */
  list(filter: ListFilter = {}): Promise<Message[]> {
    return listMessages(this.#sql, filter);
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
    const reader = await this.#sql.read(
      `SELECT ${MESSAGE_COLUMNS} FROM inbox WHERE starts_with(id, $1) ORDER BY id LIMIT 2`,
      [prefix],
    );
    const rows = reader.getRowObjects().map(messageOfRow);
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
    const reader = await this.#sql.read(`SELECT ${MESSAGE_COLUMNS} FROM inbox WHERE id = $1`, [
      id,
    ]);
    const row = reader.getRowObjects()[0];
    return row ? messageOfRow(row) : undefined;
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
    const changed = await this.#sql.change(
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
    await this.#sql.run(`DELETE FROM inbox WHERE id = $1`, [message.id]);
    return message;
  }

  /**
   * Removes a message that has not started yet.
   *
   * @param id The exact id.
   * @returns Whether it was still unread (and is now gone).
   */
  async removeUnread(id: string): Promise<boolean> {
    const reader = await this.#sql.read(
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
    await this.#sql.run(
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
    await this.#sql.run(
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
      finishedAt: isoOfMicros(finished),
    } as FinishedMessage;
  }

  /**
   * Records the process group of a message just started.
   *
   * @param id The message.
   * @param pgid Its process group.
   */
  async recordProcessGroup(id: string, pgid: number): Promise<void> {
    await this.#sql.run(`UPDATE inbox SET pgid = $2 WHERE id = $1`, [id, pgid]);
  }

  /**
   * Readies the inbox for a starting scheduler, in one transaction: messages a scheduler that
   * died left `running` are marked `error` (never re-run: the command may have had effects),
   * and the settings and counts are read.
   *
   * @returns The messages marked, the settings and the counts.
   */
  startScheduling(): Promise<SchedulingStart> {
    return startScheduling(this.#sql);
  }

  /**
   * Sets how many commands may run at once.
   *
   * @param count A whole number from 1 to {@link MAX_RUNNING_LIMIT}.
   */
  setMaxRunning(count: number): Promise<void> {
    return writeMaxRunning(this.#sql, count);
  }

  /**
   * How many commands may run at once (the `MAX_RUNNING` setting; 1 unless set).
   *
   * @returns The number.
   */
  maxRunning(): Promise<number> {
    return readMaxRunning(this.#sql);
  }

  /**
   * How many messages are in each status.
   *
   * @returns A count for every status (zero when none).
   */
  counts(): Promise<Record<MessageStatus, number>> {
    return countByStatus(this.#sql);
  }

  /**
   * Messages that arrived at or after a time, oldest first, optionally from one sender.
   *
   * @param sinceMicros The time, in microseconds since the epoch.
   * @param from The sender's address, or undefined for any.
   * @returns The messages.
   */
  async arrivedSince(sinceMicros: bigint, from?: string): Promise<Message[]> {
    const reader = await this.#sql.read(
      `SELECT ${MESSAGE_COLUMNS} FROM inbox WHERE created_at >= make_timestamp($1::BIGINT)
         AND ($2::TEXT IS NULL OR sender = $2) ORDER BY created_at, id`,
      [sinceMicros, from ?? null],
    );
    return reader.getRowObjects().map(messageOfRow);
  }

  /**
   * Runs one read-only query on this inbox's connection (see {@link runQuery}).
   *
   * @param sql The query.
   * @returns Its columns and up to 10,000 rows.
   */
  query(sql: string): Promise<QueryResult> {
    return runQuery(this.#sql.db, sql);
  }

  async #update(id: string, assignments: string, params: DuckDBValue[]): Promise<Message> {
    const message = await this.get(id);
    await this.#sql.run(`UPDATE inbox SET ${assignments} WHERE id = $1`, [message.id, ...params]);
    return await this.get(message.id);
  }
}
