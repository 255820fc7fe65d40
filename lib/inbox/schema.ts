/**
 * The inbox schema: the original tool's `config` and `inbox` tables, plus columns for timing,
 * stderr and per-message timeouts. Every statement is idempotent so any process may run it.
 *
 * @module
 */

/**
 * The original tool's poll interval, kept in `config` for it; the inbox server needs no poll
 * (it is the only writer, so it sees every delivery).
 */
export const DEFAULT_POLL_INTERVAL_SEC = 10;

/** Statements that create or upgrade the schema, in order. */
export const SCHEMA_STATEMENTS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS config (key TEXT PRIMARY KEY, value TEXT)`,
  `CREATE TABLE IF NOT EXISTS inbox (
    id TEXT PRIMARY KEY,
    created_at TIMESTAMP DEFAULT current_timestamp,
    status TEXT DEFAULT 'unread',
    sender TEXT,
    recipient TEXT NOT NULL,
    command TEXT,
    exit_code INTEGER,
    result TEXT,
    error TEXT
  )`,
  `ALTER TABLE inbox ADD COLUMN IF NOT EXISTS stderr TEXT`,
  `ALTER TABLE inbox ADD COLUMN IF NOT EXISTS started_at TIMESTAMP`,
  `ALTER TABLE inbox ADD COLUMN IF NOT EXISTS finished_at TIMESTAMP`,
  `ALTER TABLE inbox ADD COLUMN IF NOT EXISTS timeout_sec INTEGER`,
  // The running command's process group, so a cancel can stop it from another process.
  `ALTER TABLE inbox ADD COLUMN IF NOT EXISTS pgid INTEGER`,
  `ALTER TABLE inbox ADD COLUMN IF NOT EXISTS cancelled_at TIMESTAMP`,
  `INSERT INTO config VALUES ('POLL_INTERVAL_SEC', '${DEFAULT_POLL_INTERVAL_SEC}')
    ON CONFLICT DO NOTHING`,
];

/** Stores this member's address in `config`, as the original tool does. */
export const SET_IDENTITY_SQL =
  `INSERT INTO config VALUES ('IDENTITY', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
