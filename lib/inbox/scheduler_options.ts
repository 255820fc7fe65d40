/**
 * What a scheduler is told and tells: its options and its events. A leaf, so that the scheduler
 * and its command runner share them without importing each other.
 *
 * @module
 */

import type { Message } from "./message.ts";
import type { OperationHandlers } from "./server.ts";

/** What the scheduler reports as it works. */
export type SchedulerEvent =
  | { type: "started"; address: string; database: string }
  | { type: "recovered"; message: Message }
  | { type: "running"; message: Message }
  | { type: "finished"; message: Message }
  | { type: "retrying"; error: Error }
  | { type: "reportFailed"; error: Error }
  | { type: "stopping" };

/** Options for `Scheduler.start`. */
export interface SchedulerOptions {
  /**
   * Called for every event; the library never prints. What it throws is ignored: a log that
   * cannot be written (on a full disk) does not stop the scheduler.
   */
  onEvent?: (event: SchedulerEvent) => void;
  /**
   * Overrides how many commands may run at once.
   *
   * @default {the inbox's MAX_RUNNING, itself 1 unless set}
   */
  maxRunning?: number;
  /**
   * Overrides the output cap per stream, in bytes.
   *
   * @default {OUTPUT_CAP_BYTES}
   */
  outputCapBytes?: number;
  /**
   * Operations the scheduler's server answers besides the inbox's own (the flagship's `plan`);
   * they cannot replace an inbox operation.
   */
  handlers?: OperationHandlers;
  /**
   * Time between SIGTERM and SIGKILL when a command times out.
   *
   * @default {5_000}
   */
  killGraceMs?: number;
}
