/**
 * A member's account of itself (address, program version, scheduler, inbox counts), and the
 * copy of it that the running scheduler keeps beside the database. `fleet status` reads that
 * copy with `cat` instead of starting the program and DuckDB on every ship.
 *
 * @module
 */

import type { MessageStatus } from "./message.ts";
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
export async function removeReportFile(database: string): Promise<void> {
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
