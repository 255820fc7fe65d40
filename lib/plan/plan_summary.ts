/**
 * A plan as `plan status --json` and `plan list` print it, from the driver's records.
 *
 * @module
 */

import type { PlanRecord, TaskRecord } from "./plan_records.ts";
import type { PlanListing, PlanSummary } from "./plan_types.ts";

/**
 * A plan's record and tasks as `plan status --json` prints them.
 *
 * @param record The plan.
 * @param tasks Its tasks.
 * @returns The summary.
 */
export function summaryOf(record: PlanRecord, tasks: readonly TaskRecord[]): PlanSummary {
  const specs = new Map(record.spec.file.tasks.map((task) => [task.id, task]));
  return {
    id: record.id,
    status: record.status,
    costUsd: record.costUsd,
    budgetUsd: record.budgetUsd,
    tokens: record.tokens,
    repo: record.repo,
    integrate: record.integrate,
    pr: record.pr,
    ships: record.spec.ships,
    createdAt: record.createdAt,
    finishedAt: record.finishedAt,
    note: record.note,
    tasks: [...tasks].sort((a, b) => a.position - b.position).map((task) => ({
      id: task.id,
      status: task.status,
      ship: task.ship,
      attempts: task.attempts,
      costUsd: task.costUsd,
      tokens: task.tokens,
      branch: task.branch,
      pr: task.pr,
      startedAt: task.startedAt,
      finishedAt: task.finishedAt,
      needs: specs.get(task.id)?.needs ?? [],
      error: task.error,
    })),
  };
}

/**
 * A plan's record and tasks as `plan list` shows them: without the tasks' details.
 *
 * @param record The plan.
 * @param tasks Its tasks.
 * @returns The listing.
 */
export function listingOf(record: PlanRecord, tasks: readonly TaskRecord[]): PlanListing {
  const { tasks: _, ...summary } = summaryOf(record, tasks);
  return {
    ...summary,
    tasks: tasks.length,
    tasksDone: tasks.filter((task) => task.status === "done").length,
  };
}
