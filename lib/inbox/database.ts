/**
 * Opening an inbox database, serialized by a lock.
 *
 * DuckDB lets one process at a time open a file for writing; a second one fails with
 * `Could not set lock on file`. The inbox server (the scheduler) holds its database open for its
 * whole life, behind an advisory `flock` on a file beside it; without a server, a process opens
 * the file only for the few milliseconds it needs, behind the same lock: contenders queue on the
 * lock instead of failing. A process that ignores our lock (say, someone's `duckdb` shell) is
 * waited out with retries until the deadline.
 *
 * @module
 */

import type { DuckDBConnection } from "../duckdb.ts";
import { dirname } from "node:path";
import { pRetry } from "../deps.ts";
import { DatabaseError, DiskFullError, isDiskFull, TimeoutError } from "../errors.ts";
import { ensurePrivateDir, tightenFiles } from "../private_files.ts";
import { SCHEMA_STATEMENTS, SET_IDENTITY_SQL } from "./schema.ts";
import { sleep } from "../timer.ts";

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
  /** The member's address, stored in `config` when the inbox schema is first ensured. */
  identity: string;
  /** Statements that make the file's tables, instead of the inbox's (idempotent). */
  schema?: readonly string[];
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

// DuckDB checkpoints after a commit that takes its WAL past this size: never, in effect.
const NO_AUTOMATIC_CHECKPOINT = "SET checkpoint_threshold = '1000TB'";

/** A database held open, with its lock, until disposed. */
export interface OpenDatabase extends Disposable {
  /** The connection. */
  readonly connection: DuckDBConnection;
  /** Another connection to the same open database (closed with it), e.g. for long reads. */
  connect(): Promise<DuckDBConnection>;
}

/**
 * Thrown by {@link openDatabase} when its `giveUp` check says to stop waiting for the lock
 * (an inbox server started meanwhile: ask it instead).
 */
export class GaveUpWaiting extends Error {}

/**
 * Opens a database and holds it, with its lock, until disposed: the inbox server's way, for
 * its whole life. The lock is waited for (short holders queue on it), and `giveUp` is asked
 * while waiting.
 *
 * @param access Which database, as whom, and how long to wait for it.
 * @param giveUp Asked every ~100 ms while waiting; true stops with {@link GaveUpWaiting}.
 * @returns The open database.
 */
export async function openDatabase(
  access: DatabaseAccess,
  giveUp?: () => Promise<boolean>,
): Promise<OpenDatabase> {
  try {
    return await open(access, giveUp);
  } catch (error) {
    throw whenDiskFull(error, `Cannot open inbox database "${access.path}"`, access.path);
  }
}

async function open(
  access: DatabaseAccess,
  giveUp?: () => Promise<boolean>,
): Promise<OpenDatabase> {
  const deadline = Date.now() + (access.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  // The private directory is the database's own (or holds it): one mkdir serves for both.
  if (access.privateDir !== undefined) await ensurePrivateDir(access.privateDir);
  else await Deno.mkdir(dirname(access.path), { recursive: true, mode: 0o700 });
  const lock = await acquireLock(lockPathOf(access.path), deadline, giveUp);
  try {
    const { DuckDBInstance } = await import("../duckdb.ts");
    // One thread: every statement here touches a few rows, and DuckDB's pool of one thread per
    // core costs more to wake than such a statement takes (measured: a command's round 3x).
    const instance = await pRetry(() => DuckDBInstance.create(access.path, { threads: "1" }), {
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
      // DuckDB creates its files under the umask (0644, commonly): tightened once open. A WAL
      // left by a crash is tightened here too; a session's own WAL is removed when it closes.
      await tightenFiles(access.path, `${access.path}.wal`, lockPathOf(access.path));
      const connection = await instance.connect();
      try {
        // No checkpoint after a commit: when one fails (a full disk), DuckDB fails the commit
        // although it is durable, and invalidates the database, so that a stored delivery would
        // seem refused and a claimed message unclaimed. It checkpoints when the database
        // closes; a holder for long (the scheduler) runs CHECKPOINT as a step of its own.
        await connection.run(NO_AUTOMATIC_CHECKPOINT);
        if (!ensuredSchemas.has(access.path)) {
          for (const statement of access.schema ?? SCHEMA_STATEMENTS) {
            await connection.run(statement);
          }
          if (!access.schema) await connection.run(SET_IDENTITY_SQL, [access.identity]);
          // Into the file now: the server holds it open for long, and a WAL that still holds
          // the schema's ALTERs fails DuckDB's replay after a crash (seen after kill -9).
          await connection.run("CHECKPOINT");
          ensuredSchemas.add(access.path);
        }
      } catch (error) {
        connection.closeSync();
        throw error;
      }
      const others: DuckDBConnection[] = [];
      return {
        connection,
        async connect() {
          const other = await instance.connect();
          others.push(other);
          return other;
        },
        [Symbol.dispose]() {
          for (const other of others) other.closeSync();
          connection.closeSync();
          instance.closeSync();
          lock[Symbol.dispose]();
        },
      };
    } catch (error) {
      instance.closeSync();
      throw error;
    }
  } catch (error) {
    lock[Symbol.dispose]();
    throw error;
  }
}

/**
 * Runs `work` with an open connection, holding the database's lock; closes everything after.
 *
 * @param access Which database, as whom, and how long to wait for it.
 * @param work What to do with the connection.
 * @param giveUp Asked while waiting for the lock (see {@link openDatabase}).
 * @returns What `work` returns.
 */
export async function withDatabase<T>(
  access: DatabaseAccess,
  work: (connection: DuckDBConnection) => Promise<T>,
  giveUp?: () => Promise<boolean>,
): Promise<T> {
  using open = await openDatabase(access, giveUp);
  try {
    return await work(open.connection);
  } catch (error) {
    throw whenDiskFull(error, `Cannot write inbox database "${access.path}"`, access.path);
  }
}

/**
 * A step's error, as a {@link DiskFullError} when the disk is full (naming the file DuckDB
 * could not write, when it says which); any other error as it is.
 *
 * @param error What the step threw.
 * @param action What failed, for the message: `Cannot store message "0a1b2c3d"`.
 * @param file The file the step writes (the database, or another beside it).
 * @returns The error to throw.
 */
export function whenDiskFull(error: unknown, action: string, file: string): unknown {
  if (error instanceof DiskFullError) return error;
  const path = diskFullPath(error, file);
  return path === undefined ? error : new DiskFullError(action, path, { cause: error });
}

/**
 * What could not be written when a database step failed for a full disk: the file DuckDB
 * names, else the database.
 *
 * @param error What the step threw.
 * @param database The database file.
 * @returns The path, or undefined when the disk is not full.
 */
export function diskFullPath(error: unknown, database: string): string | undefined {
  if (!isDiskFull(error)) return undefined;
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e instanceof DiskFullError) return e.path;
    const named = /Could not write file "([^"]+)"/.exec(e.message)?.[1];
    if (named) return named;
  }
  return database;
}

// What DuckDB says of a file it cannot read as a database (seen: a file of other bytes, a
// truncated one, a block or WAL entry whose checksum fails).
const DAMAGED =
  /not a valid DuckDB database file|Corrupt (database|WAL) file|does not match stored checksum|Could not read enough bytes from file|Failure while replaying WAL/i;

/**
 * Whether a database failure says the file itself is damaged, so that moving it aside (and
 * starting a new inbox) is the way out. A full disk never is: freeing space is.
 *
 * @param error What opening or using the database threw.
 * @returns True when DuckDB says the file is damaged.
 */
export function isDamagedDatabase(error: unknown): boolean {
  if (isDiskFull(error)) return false;
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (DAMAGED.test(e.message)) return true;
  }
  return false;
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
async function acquireLock(
  path: string,
  deadline: number,
  giveUp?: () => Promise<boolean>,
): Promise<Disposable> {
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  let pause = 1;
  let askedAt = Date.now();
  while (!(await file.tryLock(true))) {
    if (giveUp && Date.now() - askedAt >= 100) {
      askedAt = Date.now();
      if (await giveUp()) {
        file.close();
        throw new GaveUpWaiting();
      }
    }
    if (Date.now() >= deadline) {
      file.close();
      throw new TimeoutError(
        `Timed out waiting for the inbox database lock "${path}": another process holds it; ` +
          `see which with "fuser ${path}", then try again`,
      );
    }
    // Short, jittered pauses: holders keep the lock for milliseconds.
    await sleep(pause + Math.random() * pause);
    pause = Math.min(pause * 2, 16);
  }
  return {
    [Symbol.dispose]() {
      file.close(); // closing the descriptor releases the flock
    },
  };
}
