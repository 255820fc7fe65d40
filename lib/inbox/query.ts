/**
 * A person's SQL on an inbox (`inbox sql`): one read-only query, judged before DuckDB acts on
 * it, its rows capped. Everything else the inbox runs is the store's own SQL (`store.ts`).
 *
 * @module
 */

import { firstLine } from "../clip.ts";
import type { DuckDBConnection } from "../duckdb.ts";
import { UsageError } from "../errors.ts";

/** The answer to a read-only query: column names and rows of JSON values. */
export interface QueryResult {
  /** Column names, in order. */
  columns: string[];
  /** The rows, each value as JSON (big integers as numbers or, beyond 2^53, strings). */
  rows: unknown[][];
  /** Whether rows were cut off at the limit. */
  truncated: boolean;
}

/** Rows a read-only query returns at most. */
export const MAX_QUERY_ROWS = 10_000;

/**
 * Runs one read-only query (a single `SELECT`, `WITH … SELECT` or similar): anything that
 * would change the database is refused before it runs.
 *
 * @param db The connection.
 * @param sql The query.
 * @returns Its columns and up to {@link MAX_QUERY_ROWS} rows.
 * @throws {UsageError} For more than one statement, or one that is not a query.
 */
export async function runQuery(db: DuckDBConnection, sql: string): Promise<QueryResult> {
  if (typeof sql !== "string" || sql.trim() === "") {
    throw new UsageError('Give a query, e.g. "SELECT status, count(*) FROM inbox GROUP BY 1"');
  }
  const extracted = await db.extractStatements(sql).catch((error) => {
    throw new UsageError(`Cannot read that query: ${error.message}`);
  });
  if (extracted.count !== 1) {
    throw new UsageError(`Give exactly one statement (this has ${extracted.count})`);
  }
  // Judged on the parse alone: DuckDB acts on some statements while preparing them (EXPORT
  // DATABASE makes its directory), so preparing first would act before refusing.
  const parsed = await db.runAndReadAll("SELECT json_serialize_sql($1::VARCHAR)", [sql]);
  const { error } = JSON.parse(String(parsed.getRows()[0][0])) as { error?: boolean };
  const onlyQueries = new UsageError(
    "Only queries are allowed (SELECT, WITH … SELECT, FROM …): the inbox is changed " +
      'through its commands ("inbox done", "inbox delete", …)',
  );
  if (error) throw onlyQueries;
  const statement = await extracted.prepare(0).catch((error) => {
    throw new UsageError(`Cannot run that query: ${firstLine(error.message)}`);
  });
  const { StatementType } = await import("../duckdb.ts");
  if (statement.statementType !== StatementType.SELECT) throw onlyQueries;
  const reader = await statement.runAndReadUntil(MAX_QUERY_ROWS + 1).catch((error) => {
    throw new UsageError(`The query failed: ${firstLine(error.message)}`);
  });
  const rows = reader.getRowsJson().slice(0, MAX_QUERY_ROWS) as unknown[][];
  return {
    columns: reader.columnNames(),
    rows,
    truncated: reader.currentRowCount > MAX_QUERY_ROWS,
  };
}
