/**
 * The statements of one inbox connection, each prepared once: DuckDB's parse and plan cost more
 * than a point query itself. Every value is a parameter; only placeholders are written into
 * the text.
 *
 * @module
 */

import type {
  DuckDBConnection,
  DuckDBPreparedStatement,
  DuckDBResultReader,
  DuckDBValue,
} from "../duckdb.ts";

/** One open connection and the statements prepared on it. */
export class PreparedStatements {
  /** The connection, for what is not one statement (a transaction, a person's query). */
  readonly db: DuckDBConnection;
  readonly #prepared = new Map<string, Promise<DuckDBPreparedStatement>>();

  /**
   * Wraps an open connection.
   *
   * @param db The connection.
   */
  constructor(db: DuckDBConnection) {
    this.db = db;
  }

  /**
   * Runs a statement.
   *
   * @param sql The statement, with `$1`… placeholders.
   * @param params Their values.
   */
  async run(sql: string, params: DuckDBValue[] = []): Promise<void> {
    // A prepared statement without parameters is not run again: DuckDB (node-api 1.5.6) answers
    // its second run with the rows of the first, or with garbage (tested in inbox_test.ts).
    if (params.length === 0) await this.db.run(sql);
    else await (await this.#statement(sql, params)).run();
  }

  /**
   * Runs a change.
   *
   * @param sql The statement, with `$1`… placeholders.
   * @param params Their values.
   * @returns How many rows it changed.
   */
  async change(sql: string, params: DuckDBValue[]): Promise<number> {
    return Number((await (await this.#statement(sql, params)).run()).rowsChanged);
  }

  /**
   * Runs a statement and reads all it returns.
   *
   * @param sql The statement, with `$1`… placeholders.
   * @param params Their values.
   * @returns The rows.
   */
  async read(sql: string, params: DuckDBValue[] = []): Promise<DuckDBResultReader> {
    // Without parameters, not prepared: see run.
    if (params.length === 0) return await this.db.runAndReadAll(sql);
    return await (await this.#statement(sql, params)).runAndReadAll();
  }

  async #statement(sql: string, params: DuckDBValue[]): Promise<DuckDBPreparedStatement> {
    let prepared = this.#prepared.get(sql);
    if (!prepared) {
      prepared = this.db.prepare(sql);
      this.#prepared.set(sql, prepared);
      prepared.catch(() => this.#prepared.delete(sql));
    }
    const statement = await prepared;
    statement.clearBindings();
    if (params.length) statement.bind(params);
    return statement;
  }
}
