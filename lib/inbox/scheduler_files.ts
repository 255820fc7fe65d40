/**
 * The files beside a database that say which scheduler serves it: the lock only one scheduler
 * holds, the pid file that names it while it answers, and the record of why the last one could
 * not start. `scheduler status`, `scheduler stop` and the tests read them; the scheduler writes
 * them.
 *
 * @module
 */

import { dirname } from "node:path";
import { DatabaseError, DiskFullError, OhcommodoreError } from "../errors.ts";
import { shellQuote } from "../ssh.ts";
import { diskFullPath, isDamagedDatabase, whenDiskFull } from "./database.ts";

/**
 * Where the single-scheduler lock of a database lives.
 *
 * @param database The database file.
 * @returns The lock file.
 */
export function schedulerLockPathOf(database: string): string {
  return `${database}.scheduler.lock`;
}

/**
 * Where the scheduler holding a database's lock records its process id (for `scheduler stop`).
 *
 * @param database The database it serves.
 * @returns The pid file.
 */
export function schedulerPidPathOf(database: string): string {
  return `${schedulerLockPathOf(database)}.pid`;
}

/** Why the last scheduler of a database could not start, as it recorded it. */
export interface SchedulerFailure {
  /** The error. */
  error: string;
  /** The command a person runs next (the error's `next`), when it names one. */
  next?: string;
  /** When it failed (ISO time). */
  at: string;
  /** The process that failed. */
  pid: number;
}

/**
 * Where a scheduler that could not start records why (removed when one starts).
 *
 * @param database The database it was to serve.
 * @returns The file.
 */
export function schedulerFailurePathOf(database: string): string {
  return `${schedulerLockPathOf(database)}.failed.json`;
}

/**
 * Reads why the last scheduler of a database could not start.
 *
 * @param database The database.
 * @returns The failure, or null when the last one started (or none ever failed).
 */
export async function readSchedulerFailure(database: string): Promise<SchedulerFailure | null> {
  try {
    const data = JSON.parse(await Deno.readTextFile(schedulerFailurePathOf(database)));
    return typeof data?.error === "string" ? data : null;
  } catch {
    return null;
  }
}

/**
 * Takes a database's scheduler lock and records this process's pid under it (written before
 * the socket answers, removed after it stops answering: whenever a scheduler answers, the pid
 * file names it).
 *
 * @param database The database to serve.
 * @returns The held lock; closing it releases it.
 * @throws {OhcommodoreError} When another scheduler holds it.
 * @throws {DiskFullError} When the pid file does not fit.
 */
export async function takeSchedulerLock(database: string): Promise<Deno.FsFile> {
  const lockPath = schedulerLockPathOf(database);
  await Deno.mkdir(dirname(lockPath), { recursive: true, mode: 0o700 });
  const lock = await Deno.open(lockPath, { read: true, write: true, create: true, mode: 0o600 });
  if (!(await lock.tryLock(true))) {
    lock.close();
    throw new OhcommodoreError(`Another scheduler is already running for "${database}"`, {
      next: `check it with "ohcommodore scheduler status", stop it with ` +
        `"ohcommodore scheduler stop"`,
    });
  }
  const pidPath = schedulerPidPathOf(database);
  await Deno.writeTextFile(pidPath, `${Deno.pid}\n`, { mode: 0o600 }).catch((error) => {
    lock.close();
    throw whenDiskFull(error, "The scheduler cannot start", pidPath);
  });
  return lock;
}

/**
 * Records why a scheduler could not use its database (for `scheduler status`), lets go of the
 * pid file and the lock, and says how to recover: moving the file aside only when DuckDB says
 * it is damaged (on a full disk that would only lose the inbox).
 *
 * @param database The database.
 * @param lock The lock from {@link takeSchedulerLock}.
 * @param error What went wrong.
 * @returns The error to throw.
 */
export async function recordCannotStart(
  database: string,
  lock: Deno.FsFile,
  error: Error,
): Promise<OhcommodoreError> {
  const failure = cannotStart(database, error);
  const record: SchedulerFailure = {
    error: failure.message,
    ...failure.next === undefined ? {} : { next: failure.next },
    at: new Date().toISOString(),
    pid: Deno.pid,
  };
  await Deno.writeTextFile(schedulerFailurePathOf(database), JSON.stringify(record), {
    mode: 0o600,
  }).catch(() => {});
  await Deno.remove(schedulerPidPathOf(database)).catch(() => {});
  lock.close();
  return failure;
}

function cannotStart(database: string, error: Error): OhcommodoreError {
  const again = `run "ohcommodore scheduler start" again`;
  const full = diskFullPath(error, database);
  if (full !== undefined) {
    return new DiskFullError("The scheduler cannot start", full, { cause: error });
  }
  if (!isDamagedDatabase(error)) {
    return new DatabaseError(`The scheduler cannot start: ${error.message}`, {
      cause: error,
      next: `fix that and ${again}`,
    });
  }
  const aside = `mv ${shellQuote(database)} ${shellQuote(`${database}.broken`)}`;
  return new DatabaseError(
    `The scheduler cannot start: ${error.message}; the file is damaged: move it aside with ` +
      `"${aside}" (starting again makes a new, empty inbox; the moved file keeps the old ` +
      `messages)`,
    { cause: error, next: `then ${again}` },
  );
}
