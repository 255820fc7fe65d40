/**
 * A message as a row of the `inbox` table: the columns every read selects and the row read back
 * as a {@link Message}; and time in the microseconds DuckDB's timestamps take.
 *
 * @module
 */

import type { DuckDBValue } from "../duckdb.ts";
import { DEFAULT_COMMAND_TIMEOUT_MS, type Message, type MessageStatus } from "./message.ts";

/** The columns a message is read from, as {@link messageOfRow} reads them. */
export const MESSAGE_COLUMNS =
  `id, epoch_us(created_at) AS created_us, status, sender, recipient, command,
  exit_code, result, stderr, error, epoch_us(started_at) AS started_us,
  epoch_us(finished_at) AS finished_us, timeout_sec`;

/**
 * Now, in the microseconds DuckDB's timestamps take.
 *
 * @returns Microseconds since the epoch.
 */
export function nowMicros(): bigint {
  return BigInt(Date.now()) * 1000n;
}

/**
 * A time in microseconds as an ISO string.
 *
 * @param micros Microseconds since the epoch, or null.
 * @returns The ISO string, or null for null.
 */
export function isoOfMicros(micros: DuckDBValue): string | null {
  return micros === null ? null : new Date(Number(BigInt(micros as bigint) / 1000n)).toISOString();
}

/**
 * A row selected with {@link MESSAGE_COLUMNS} as a message.
 *
 * @param row The row, by column name.
 * @returns The message.
 */
export function messageOfRow(row: Record<string, DuckDBValue>): Message {
  const text = (value: DuckDBValue) => value === null ? null : String(value);
  const status = String(row.status) as MessageStatus;
  const finished = status === "done" || status === "error";
  // Rows from before exit codes were always kept: done means 0, error means failed.
  const exitCode = row.exit_code === null
    ? (finished ? (status === "done" ? 0 : 1) : null)
    : Number(row.exit_code);
  return {
    id: String(row.id),
    createdAt: isoOfMicros(row.created_us) ?? "",
    status,
    sender: text(row.sender),
    recipient: String(row.recipient),
    command: String(row.command ?? ""),
    exitCode,
    result: text(row.result),
    stderr: text(row.stderr),
    error: text(row.error),
    startedAt: isoOfMicros(row.started_us),
    finishedAt: isoOfMicros(row.finished_us),
    timeoutSec: row.timeout_sec === null
      ? DEFAULT_COMMAND_TIMEOUT_MS / 1000
      : Number(row.timeout_sec),
  } as Message;
}
