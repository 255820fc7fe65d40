/**
 * When and how a plan ends: once nothing of it is out on a ship and every task has ended (its
 * pull requests asked for first), or when what is left cannot start (the budget is used up, or
 * no ship of the plan is left), or when it is cancelled. What is not done is said in its note.
 *
 * @module
 */

import { type LivePlan, now, planEvent } from "./live_plan.ts";
import type { PlanShip, PlanShips } from "./plan_ships.ts";
import type { PlanChanges } from "./plan_records.ts";
import { FINAL_TASK_STATUSES, type PlanStatus } from "./plan_types.ts";

/** What a plan with nothing out does next: ask for its pull request, or end. */
export type PlanEnding =
  | { prOn: PlanShip }
  | { status: PlanStatus; note: string; changes: PlanChanges };

/**
 * Whether a plan ends now, and how; tasks that cannot start are cancelled in its changes.
 *
 * @param plan The plan.
 * @param budgetLeft Whether new agent runs may start.
 * @param ships The driver's ships.
 * @returns Its pull request's ship, or its end; undefined while it goes on or waits for a ship.
 */
export function endingOf(
  plan: LivePlan,
  budgetLeft: boolean,
  ships: PlanShips,
): PlanEnding | undefined {
  if (plan.record.status !== "running" || plan.open.size > 0) return;
  const tasks = [...plan.tasks.values()];
  const unfinished = tasks.filter((task) => !FINAL_TASK_STATUSES.includes(task.status));
  const changes: PlanChanges = { tasks: [], events: [] };
  const shipsLeft = plan.record.spec.ships.some((name) => ships.has(name));
  if (unfinished.length === 0) {
    const done = tasks.filter((task) => task.status === "done");
    // Pull requests are asked for before the plan ends, once a ship of it is idle (it may
    // work for another plan meanwhile); with no ship left, the plan ends without them.
    const prsWanted = plan.record.spec.pr === "each"
      ? done.some((task) => !task.memory.prAsked)
      : plan.record.spec.pr === "one" && done.length > 0 && !plan.record.spec.prAsked;
    if (prsWanted && plan.record.spec.pr === "one") {
      const ship = ships.idleFor(plan, done.at(-1)!.ship);
      if (ship) return { prOn: ship };
    }
    if (prsWanted && shipsLeft) return;
    const status: PlanStatus = done.length === tasks.length ? "done" : "failed";
    const notDone = tasks.filter((task) => task.status !== "done");
    const note = notDone.length
      ? `not done: ${notDone.map((task) => `${task.id} (${task.status})`).join(", ")}`
      : `all ${tasks.length} task(s) done, on ${plan.record.integrate}`;
    return { status, note, changes };
  }
  // Waiting on work that cannot start: the budget is used up, or no ship of the plan is left.
  const integrating = unfinished.some((task) => task.status === "integrating");
  if ((budgetLeft && shipsLeft) || (integrating && shipsLeft)) return;
  const reason = budgetLeft
    ? `no ship of the plan is left (${plan.record.spec.ships.join(", ")})`
    : `the budget of $${plan.record.budgetUsd} is used up ($${plan.record.costUsd})`;
  for (const task of unfinished) {
    Object.assign(task, { status: "cancelled", finishedAt: now(), error: `not run: ${reason}` });
    changes.tasks!.push(task);
  }
  const note = `not done: ${unfinished.map((task) => task.id).join(", ")}; ${reason}`;
  if (!budgetLeft) {
    changes.events!.push(planEvent(plan, "budget_exhausted", null, null, note));
  }
  return { status: budgetLeft ? "failed" : "budget_exhausted", note, changes };
}

/**
 * A running plan cancelled: its unfinished tasks cancelled, and the event that tells it.
 *
 * @param plan The plan.
 * @returns The changes; the plan is ended with them.
 */
export function cancelTasks(plan: LivePlan): PlanChanges {
  const changes: PlanChanges = { tasks: [], events: [] };
  for (const task of plan.tasks.values()) {
    if (FINAL_TASK_STATUSES.includes(task.status)) continue;
    Object.assign(task, { status: "cancelled", finishedAt: now(), error: "cancelled" });
    changes.tasks!.push(task);
  }
  changes.events!.push(planEvent(plan, "cancelled", null, null, "the plan was cancelled"));
  return changes;
}

/**
 * A plan ended: its status and note recorded, and its last event, `ended`.
 *
 * @param plan The plan.
 * @param status How it ended.
 * @param note What its end says.
 * @param changes Where the changes and events go.
 */
export function endPlan(
  plan: LivePlan,
  status: PlanStatus,
  note: string,
  changes: PlanChanges,
): void {
  Object.assign(plan.record, { status, note, finishedAt: now() });
  changes.plan = plan.record;
  changes.events = [
    ...changes.events ?? [],
    planEvent(plan, "ended", null, null, `${status}: ${note}`),
  ];
}
