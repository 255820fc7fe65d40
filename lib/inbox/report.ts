/**
 * A member's account of itself (address, program version, scheduler, inbox counts), and the
 * copy of it that the running scheduler keeps beside the database. `fleet status` reads that
 * copy with `cat` instead of starting the program and DuckDB on every ship.
 *
 * @module
 */

import type { MessageStatus } from "./message.ts";
import { VERSION } from "../version.ts";
import { DatabaseError } from "../errors.ts";
import { writePrivateFile } from "../private_files.ts";

/** What a member says about itself. */
export interface MemberReport {
  /** Its address, e.g. `captain@ship-web-k3f9a1b2`. */
  address: string;
  /** The version of its program (of the running scheduler, when the scheduler wrote it). */
  version: string;
  /** Whether its scheduler answers. */
  schedulerRunning: boolean;
  /** Messages per status. */
  counts: Record<MessageStatus, number>;
}

/**
 * Where the running scheduler keeps its report.
 *
 * @param database The database file.
 * @returns The report file.
 */
export function reportPathOf(database: string): string {
  return `${database}.report.json`;
}

/**
 * Replaces the report file in one rename, so a reader never sees half of it.
 *
 * @param database The database the report is about.
 * @param report The report.
 */
export async function writeReportFile(database: string, report: MemberReport): Promise<void> {
  await writePrivateFile(reportPathOf(database), JSON.stringify(report) + "\n");
}

/**
 * Removes the report file, so readers stop trusting it.
 *
 * @param database The database the report is about.
 */
async function removeReportFile(database: string): Promise<void> {
  await Deno.remove(reportPathOf(database)).catch(() => {});
}

/**
 * Reads the report file.
 *
 * @param database The database the report is about.
 * @returns The report, or null when there is none (or it is not a report).
 */
export async function readReportFile(database: string): Promise<MemberReport | null> {
  return parseReport(await Deno.readTextFile(reportPathOf(database)).catch(() => ""));
}

/**
 * Reads a report from its JSON text.
 *
 * @param text What a scheduler wrote or `ohcommodore _status` printed.
 * @returns The report, or null when the text is not one.
 */
export function parseReport(text: string): MemberReport | null {
  try {
    const report = JSON.parse(text) as MemberReport;
    const counts = report?.counts;
    return typeof report?.address === "string" && typeof counts === "object" && counts !== null
      ? report
      : null;
  } catch {
    return null;
  }
}

// How stale the report may get: status readers see a change after at most this (plus a query).
const REPORT_DELAY_MS = 200;

/**
 * The running scheduler's report file, rewritten soon after each change (counts change with
 * every claim, finish and delivery); the short wait lets a burst of changes share one count.
 * It also keeps the counts between changes: a fleet's status asks every ship for them, and a
 * count is a query (measured: 0.5 ms of a scheduler's CPU, against 0.06 for a hello).
 */
export class ReportWriter {
  readonly #database: string;
  readonly #address: string;
  readonly #counts: () => Promise<Record<MessageStatus, number>>;
  readonly #onFailure: (error: Error) => void;
  #writing: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setTimeout> | undefined;
  // A write asked for at once that has not started: later asks share it.
  #queued: Promise<void> | undefined;
  #closed = false;
  // Told with every change; the counts kept are those counted since the last one.
  #changes = 0;
  #kept: { changes: number; counts: Promise<Record<MessageStatus, number>> } | undefined;

  /**
   * A writer for one scheduler.
   *
   * @param where The database and the member's address.
   * @param counts Counts the messages now.
   * @param onFailure Told when the report could not be written (it is removed then).
   */
  constructor(
    where: { database: string; address: string },
    counts: () => Promise<Record<MessageStatus, number>>,
    onFailure: (error: Error) => void,
  ) {
    this.#database = where.database;
    this.#address = where.address;
    this.#counts = counts;
    this.#onFailure = onFailure;
  }

  /**
   * Writes the report now, with counts already known (before the scheduler answers, so that
   * whoever sees it running can also read which version it is).
   *
   * @param counts The counts.
   */
  async write(counts: Record<MessageStatus, number>): Promise<void> {
    try {
      await writeReportFile(this.#database, {
        address: this.#address,
        version: VERSION,
        schedulerRunning: true,
        counts,
      });
    } catch (error) {
      // A stale report is worse than none: without one, readers ask the program instead.
      await removeReportFile(this.#database);
      this.#onFailure(error as Error);
    }
  }

  /**
   * The counts now: counted once after each change, however often asked meanwhile.
   *
   * @returns The counts.
   */
  counts(): Promise<Record<MessageStatus, number>> {
    if (this.#kept?.changes === this.#changes) return this.#kept.counts;
    const kept = { changes: this.#changes, counts: this.#counts() };
    this.#kept = kept;
    kept.counts.catch(() => {
      if (this.#kept === kept) this.#kept = undefined; // asked again, counted again
    });
    return kept.counts;
  }

  /** The messages changed: the counts are counted again, and the report rewritten soon. */
  soon(): void {
    this.#changes++;
    if (this.#timer !== undefined || this.#queued || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#writing = this.#writing.then(() => this.#rewrite());
    }, REPORT_DELAY_MS);
  }

  /**
   * Rewrites the report at once (after a write under way; calls meanwhile share one write), so
   * that whoever hears a message finish and then reads the report sees it counted.
   *
   * @returns Once the report is written.
   */
  now(): Promise<void> {
    this.#changes++;
    if (this.#closed) return Promise.resolve();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#queued) {
      const queued: Promise<void> = this.#writing.then(() => {
        if (this.#queued === queued) this.#queued = undefined;
        return this.#rewrite();
      });
      this.#queued = queued;
      this.#writing = queued;
    }
    return this.#queued;
  }

  async #rewrite(): Promise<void> {
    const counts = await this.counts().catch(() => undefined);
    if (counts) await this.write(counts);
    else this.#onFailure(new DatabaseError("cannot count the messages"));
  }

  /** Stops rewriting and removes the report: the scheduler no longer answers. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#writing;
    await removeReportFile(this.#database);
  }
}
