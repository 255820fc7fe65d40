/**
 * Listing an inbox's messages: the filter a listing takes, and the clipping that keeps any
 * listing small enough to answer (a message's whole command and output come with `get`).
 *
 * @module
 */

import type { DuckDBValue } from "../duckdb.ts";
import { UsageError } from "../errors.ts";
import { checkLimit, type Message, type MessageStatus, parseStatus } from "./message.ts";
import { MESSAGE_COLUMNS, messageOfRow } from "./message_rows.ts";
import type { PreparedStatements } from "./prepared_statements.ts";

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

// The message's columns, with the command's head and the outputs' tails (where a run ends) only.
const CLIPPED_COLUMNS = MESSAGE_COLUMNS
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

/**
 * Lists messages, newest first.
 *
 * @param sql The inbox's statements.
 * @param filter Status, row limit, command prefix, and whether whole.
 * @returns The messages.
 * @throws {UsageError} For an unknown status, a limit that is not a whole number of at least 1,
 *   or a command prefix that is not a string of at most 1000 characters.
 */
export async function listMessages(
  sql: PreparedStatements,
  filter: ListFilter = {},
): Promise<Message[]> {
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
  const reader = await sql.read(
    `SELECT ${filter.full ? MESSAGE_COLUMNS : CLIPPED_COLUMNS} FROM inbox ${where}
       ORDER BY created_at DESC, id DESC ${limit}`,
    params,
  );
  return reader.getRowObjects().map(messageOfRow);
}
