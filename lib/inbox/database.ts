/**
 * Short-lived, serialized access to an inbox database.
 *
 * DuckDB lets one process at a time open a file for writing; a second one fails with
 * `Could not set lock on file`. The scheduler and every delivery are separate processes, so each
 * opens the database only for the few milliseconds it needs, behind an advisory `flock` on a file
 * beside it: contenders queue on the lock instead of failing. A process that ignores our lock
 * (say, someone's `duckdb` shell) is waited out with retries until the deadline.
 *
 * @module
 */

import type { DuckDBConnection } from "../duckdb.ts";
import { dirname } from "node:path";
import { pRetry } from "../deps.ts";
import { DatabaseError, TimeoutError } from "../errors.ts";
import { ensurePrivateDir, tightenFiles } from "../private_files.ts";
import { SCHEMA_STATEMENTS, SET_IDENTITY_SQL } from "./schema.ts";

/** How long to wait for the database by default before giving up. */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

/**
 * Where the advisory lock of a database lives.
 *
 * @param database The database file.
 * @returns The lock file.
 */
export function lockPathOf(database: string): string {
  return `${database}.lock`;
}

/** Options for {@link withDatabase}. */
export interface DatabaseAccess {
  /** Path of the DuckDB file; its directory is created when missing. */
  path: string;
  /** The member's address, stored in `config` when the schema is first ensured. */
  identity: string;
  /** Deadline for getting the lock and opening the file. */
  lockTimeoutMs?: number;
  /**
   * A directory to keep 0700, created or tightened (the member's `~/.local/ship`). Without it
   * the database's directory is created 0700 when missing and otherwise left as it is: it may
   * be a caller's shared one.
   */
  privateDir?: string;
}

const ensuredSchemas = new Set<string>();

/**
 * Runs `work` with an open connection, holding the database's lock; closes everything after.
 *
 * @param access Which database, as whom, and how long to wait for it.
 * @param work What to do with the connection.
 * @returns What `work` returns.
 */
export async function withDatabase<T>(
  access: DatabaseAccess,
  work: (connection: DuckDBConnection) => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + (access.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  // The private directory is the database's own (or holds it): one mkdir serves for both.
  if (access.privateDir !== undefined) await ensurePrivateDir(access.privateDir);
  else await Deno.mkdir(dirname(access.path), { recursive: true, mode: 0o700 });
  using _lock = await acquireLock(lockPathOf(access.path), deadline);
  const { DuckDBInstance } = await import("../duckdb.ts");
  const instance = await pRetry(() => DuckDBInstance.create(access.path), {
    retries: Infinity,
    minTimeout: 20,
    maxTimeout: 500,
    maxRetryTime: Math.max(0, deadline - Date.now()),
    shouldRetry: ({ error }) => isFileLockConflict(error),
  }).catch((error) => {
    throw new DatabaseError(`Cannot open inbox database "${access.path}": ${error.message}`, {
      cause: error,
    });
  });
  try {
    // DuckDB creates its files under the umask (0644, commonly): tightened once open. A WAL left
    // by a crash is tightened here too; a session's own WAL is removed when it closes.
    await tightenFiles(access.path, `${access.path}.wal`, lockPathOf(access.path));
    const connection = await instance.connect();
    try {
      if (!ensuredSchemas.has(access.path)) {
        for (const statement of SCHEMA_STATEMENTS) await connection.run(statement);
        await connection.run(SET_IDENTITY_SQL, [access.identity]);
        ensuredSchemas.add(access.path);
      }
      return await work(connection);
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

function isFileLockConflict(error: unknown): boolean {
  return error instanceof Error &&
    /Could not set lock on file|Conflicting lock/i.test(error.message);
}

/**
 * Whether a database failure may pass by itself: another process holds the file or its lock.
 * Anything else (a damaged file, a full disk, no permission) stays until a person acts.
 *
 * @param error What a database step threw.
 * @returns True when retrying can help.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  if (error instanceof TimeoutError) return true;
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (isFileLockConflict(e)) return true;
  }
  return false;
}

/** An exclusive advisory lock, released when disposed (or by the kernel if we die). */
async function acquireLock(path: string, deadline: number): Promise<Disposable> {
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  let pause = 1;
  while (!(await file.tryLock(true))) {
    if (Date.now() >= deadline) {
      file.close();
      throw new TimeoutError(
        `Timed out waiting for the inbox database lock "${path}": another process holds it; ` +
          `see which with "fuser ${path}", then try again`,
      );
    }
    // Short, jittered pauses: holders keep the lock for milliseconds.
    await new Promise((resolve) => setTimeout(resolve, pause + Math.random() * pause));
    pause = Math.min(pause * 2, 16);
  }
  return {
    [Symbol.dispose]() {
      file.close(); // closing the descriptor releases the flock
    },
  };
}
