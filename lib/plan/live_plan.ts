/**
 * A plan the driver works on, in memory (the store holds the same): its record, its tasks, the
 * last place in its history, and its attempts out on ships; and the small steps every part of
 * the driver takes on it.
 *
 * @module
 */

import type { PlanTask } from "./plan_schema.ts";
import type { AttemptRecord, PlanRecord, TaskRecord } from "./plan_store.ts";
import type { PlanEvent, PlanEventType } from "./plan_types.ts";

/** A plan in memory. */
export interface LivePlan {
  /** The plan. */
  record: PlanRecord;
  /** Its tasks, by id, in the order of its file. */
  tasks: Map<string, TaskRecord>;
  /** Its last event's place in its history. */
  seq: number;
  /** Its attempts out on ships, by message id. */
  open: Map<string, AttemptRecord>;
}

/**
 * The next event of a plan's history.
 *
 * @param plan The plan.
 * @param type What happened.
 * @param task The task it concerns, if one.
 * @param ship The ship, if one.
 * @param text What happened, in a sentence.
 * @returns The event, its place taken.
 */
export function planEvent(
  plan: LivePlan,
  type: PlanEventType,
  task: string | null,
  ship: string | null,
  text: string,
): PlanEvent {
  return { plan: plan.record.id, seq: ++plan.seq, at: now(), type, task, ship, text };
}

/**
 * A task as the plan's file gives it.
 *
 * @param plan The plan.
 * @param task The task's record.
 * @returns Its entry in the file.
 */
export function taskSpecOf(plan: LivePlan, task: TaskRecord): PlanTask {
  return plan.record.spec.file.tasks.find((spec) => spec.id === task.id)!;
}

/**
 * The command that verifies a task: its own, else the plan's.
 *
 * @param plan The plan.
 * @param task The task's record.
 * @returns The command, or undefined when the plan verifies nothing.
 */
export function verifyCommandOf(plan: LivePlan, task: TaskRecord): string | undefined {
  return taskSpecOf(plan, task).verify ?? plan.record.spec.file.verify;
}

/**
 * Dollars as they add up: to a millionth.
 *
 * @param usd An amount.
 * @returns It, rounded.
 */
export function round(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

/**
 * This moment.
 *
 * @returns It, ISO 8601.
 */
export function now(): string {
  return new Date().toISOString();
}
