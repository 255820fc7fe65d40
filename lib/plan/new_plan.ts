/**
 * A plan as it starts: its id, its records (the options of `plan run` over the file's settings
 * over the defaults), each task `ready` or `waiting` for what it needs on a branch of its own,
 * and the event that starts its history.
 *
 * @module
 */

import { newMessageId } from "../inbox/message.ts";
import { type LivePlan, now, planEvent } from "./live_plan.ts";
import type { PlanRunOptions } from "./plan_options.ts";
import type { PlanFile } from "./plan_schema.ts";
import type { PlanRecord, TaskRecord } from "./plan_records.ts";
import { noTokens, type PlanEvent } from "./plan_types.ts";

/**
 * A new plan, in memory: nothing of it is stored yet.
 *
 * @param file The plan, checked.
 * @param options How it runs, checked.
 * @param ships The ships it may use.
 * @param repo Their repository.
 * @returns The plan, its history empty.
 */
export function newPlan(
  file: PlanFile,
  options: PlanRunOptions,
  ships: readonly string[],
  repo: string,
): LivePlan {
  const id = newMessageId().slice(0, 8);
  const record: PlanRecord = {
    id,
    status: "running",
    repo,
    integrate: options.integrate ?? file.integrate ?? `plan-${id}`,
    costUsd: 0,
    budgetUsd: options.budgetUsd ?? file.budgetUsd ?? null,
    tokens: noTokens(),
    pr: null,
    note: null,
    createdAt: now(),
    finishedAt: null,
    spec: {
      file,
      ships: [...ships],
      maxAttempts: options.maxAttempts ?? file.maxAttempts ?? 2,
      pr: options.pr ?? file.pr ?? "none",
    },
  };
  const tasks = file.tasks.map((task, position): TaskRecord => ({
    plan: id,
    id: task.id,
    position,
    status: task.needs?.length ? "waiting" : "ready",
    ship: null,
    attempts: 0,
    costUsd: 0,
    tokens: noTokens(),
    branch: `plan/${id}/${task.id}`,
    pr: null,
    startedAt: null,
    finishedAt: null,
    error: null,
    memory: {},
  }));
  return { record, tasks: new Map(tasks.map((task) => [task.id, task])), seq: 0, open: new Map() };
}

/**
 * The first event of a plan's history: what it works on, where, and within what.
 *
 * @param plan The new plan.
 * @returns The event, its place taken.
 */
export function startedEvent(plan: LivePlan): PlanEvent {
  const { record } = plan;
  return planEvent(
    plan,
    "started",
    null,
    null,
    [
      `${plan.tasks.size} task(s) in ${record.repo} on ${record.spec.ships.join(", ")}`,
      `onto ${record.integrate}`,
      record.budgetUsd === null ? "no budget" : `budget $${record.budgetUsd}`,
      `${record.spec.maxAttempts} attempt(s) per task`,
    ].join("; "),
  );
}
