/**
 * DuckDB's npm package, the one place its version is written (see `deps.ts` for why the full
 * `npm:` specifier).
 *
 * Import types from here with `import type`, and values with `await import("…/duckdb.ts")`:
 * loading it loads DuckDB's native addon, which commands that never open a database (`--help`,
 * `fleet status` from the laptop) should not pay for.
 *
 * @module
 */

export {
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBPreparedStatement,
  type DuckDBResultReader,
  type DuckDBValue,
  listValue,
  StatementType,
} from "npm:@duckdb/node-api@1.5.6-r.1";
