/**
 * What a scheduler reads and sets in its inbox's database: how many commands may run at once
 * (the `MAX_RUNNING` setting in `config`), how many messages are in each status, and, as it
 * starts, the messages a scheduler that died left running.
 *
 * @module
 */

import { parseWholeNumber } from "../whole_number.ts";
import { type Message, MESSAGE_STATUSES, type MessageStatus } from "./message.ts";
import { MESSAGE_COLUMNS, messageOfRow, nowMicros } from "./message_rows.ts";
import type { PreparedStatements } from "./prepared_statements.ts";

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
 * Readies the inbox for a starting scheduler, in one transaction: messages a scheduler that
 * died left `running` are marked `error` (never re-run: the command may have had effects), and
 * the settings and counts are read.
 *
 * @param sql The inbox's statements.
 * @returns The messages marked, the settings and the counts.
 */
export async function startScheduling(sql: PreparedStatements): Promise<SchedulingStart> {
  await sql.db.run("BEGIN TRANSACTION");
  try {
    const reader = await sql.read(
      // Its group is not killed: after a crash that number may be another process's now, so
      // the row says what may still run, for a person to look at. Without a group recorded the
      // command was claimed and perhaps never started (the group is recorded as it starts).
      `UPDATE inbox SET status = 'error', error = CASE WHEN pgid IS NULL
             THEN 'scheduler stopped after claiming it, before its command was seen to start ' ||
               '(it may not have run)'
             ELSE 'scheduler stopped while running; its commands may still run as process ' ||
               'group ' || pgid || ' (kill -- -' || pgid || ' stops them)' END,
         exit_code = coalesce(exit_code, 1),
         finished_at = make_timestamp($1::BIGINT)
       WHERE status = 'running' RETURNING ${MESSAGE_COLUMNS}`,
      [nowMicros()],
    );
    const recovered = reader.getRowObjects().map(messageOfRow);
    const maxRunning = await readMaxRunning(sql);
    const counts = await countByStatus(sql);
    await sql.db.run("COMMIT");
    return { recovered, maxRunning, counts };
  } catch (error) {
    await sql.db.run("ROLLBACK").catch(() => {});
    throw error;
  }
}

/**
 * Sets how many commands may run at once.
 *
 * @param sql The inbox's statements.
 * @param count A whole number from 1 to {@link MAX_RUNNING_LIMIT}.
 * @throws {UsageError} Otherwise.
 */
export async function writeMaxRunning(sql: PreparedStatements, count: number): Promise<void> {
  await sql.run(
    `INSERT INTO config VALUES ('MAX_RUNNING', $1)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    [String(checkMaxRunning(count))],
  );
}

/**
 * How many commands may run at once (the `MAX_RUNNING` setting; 1 unless set).
 *
 * @param sql The inbox's statements.
 * @returns The number.
 */
export async function readMaxRunning(sql: PreparedStatements): Promise<number> {
  const value = await positiveSetting(sql, "MAX_RUNNING") ?? 1;
  return Math.min(MAX_RUNNING_LIMIT, Math.floor(value));
}

/**
 * How many messages are in each status.
 *
 * @param sql The inbox's statements.
 * @returns A count for every status (zero when none).
 */
export async function countByStatus(
  sql: PreparedStatements,
): Promise<Record<MessageStatus, number>> {
  const reader = await sql.read(`SELECT status, count(*)::INTEGER FROM inbox GROUP BY status`);
  const counts = Object.fromEntries(MESSAGE_STATUSES.map((status) => [status, 0]));
  for (const [status, count] of reader.getRows()) counts[String(status)] = Number(count);
  return counts as Record<MessageStatus, number>;
}

async function positiveSetting(sql: PreparedStatements, key: string): Promise<number | undefined> {
  const reader = await sql.read(`SELECT value FROM config WHERE key = $1`, [key]);
  const value = Number(reader.getRows()[0]?.[0]);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}
