/**
 * What a plan sends its idle ships next, and each attempt recorded before it goes out. Waiting
 * tasks whose needs are done become ready ({@link settleNeeds}); then, in this order, the next
 * verified task is brought onto the plan's branch (one integration at a time, in the order the
 * tasks were verified), done tasks get their pull requests (`pr: each`), and ready tasks go to
 * agents while the budget lasts, a retry to the ship that has its session ({@link sendNext}).
 *
 * @module
 */

import { newMessageId } from "../inbox/message.ts";
import { type LivePlan, now, planEvent, taskSpecOf } from "./live_plan.ts";
import type { PlanShip, PlanShips } from "./plan_ships.ts";
import type { AttemptKind, AttemptRecord, PlanChanges, TaskRecord } from "./plan_records.ts";

/**
 * Waiting tasks whose needs are done become ready; those whose needs cannot be, blocked.
 *
 * @param plan The plan.
 * @param changes Where the changes and events go.
 */
export function settleNeeds(plan: LivePlan, changes: PlanChanges): void {
  let moved = true;
  while (moved) {
    moved = false;
    for (const task of plan.tasks.values()) {
      if (task.status !== "waiting" && task.status !== "ready") continue;
      const needs = taskSpecOf(plan, task).needs ?? [];
      const states = needs.map((id) => plan.tasks.get(id)?.status);
      const stuck = needs.filter((_, i) => ["failed", "blocked", "cancelled"].includes(states[i]!));
      if (stuck.length) {
        Object.assign(task, {
          status: "blocked",
          finishedAt: now(),
          error: `needs ${stuck.map((id) => `"${id}"`).join(", ")}, which did not get done`,
        });
        changes.tasks!.push(task);
        changes.events!.push(planEvent(plan, "blocked", task.id, null, task.error!));
        moved = true;
      } else if (task.status === "waiting" && states.every((state) => state === "done")) {
        task.status = "ready";
        changes.tasks!.push(task);
      }
    }
  }
}

/**
 * Sends what can go to the plan's idle ships now, one attempt at a time.
 *
 * @param plan The plan.
 * @param ships The driver's ships.
 * @param budgetLeft Whether new agent runs may start.
 * @param send Records an attempt and sends it; the ship is busy from then on.
 */
export async function sendNext(
  plan: LivePlan,
  ships: PlanShips,
  budgetLeft: boolean,
  send: (task: TaskRecord, ship: PlanShip, kind: AttemptKind) => Promise<void>,
): Promise<void> {
  const open = [...plan.open.values()];
  // One integration at a time per plan: its branch moves one task at a time.
  if (!open.some((attempt) => attempt.kind === "integrate")) {
    const next = [...plan.tasks.values()]
      .filter((task) => task.status === "integrating" && !hasOpen(plan, task.id))
      .sort((a, b) => (a.memory.verifiedAt ?? "").localeCompare(b.memory.verifiedAt ?? ""))[0];
    const ship = next && ships.idleFor(plan, next.ship);
    if (next && ship) await send(next, ship, "integrate");
  }
  if (plan.record.spec.pr === "each") {
    for (const task of plan.tasks.values()) {
      if (task.status !== "done" || task.memory.prAsked) continue;
      const ship = ships.idleFor(plan, task.ship);
      if (ship) await send(task, ship, "pr");
    }
  }
  if (budgetLeft) {
    for (const task of plan.tasks.values()) {
      if (task.status !== "ready" || hasOpen(plan, task.id)) continue;
      // A retry goes back to the session it continues, on the ship that has it.
      const wanted = task.memory.feedback ? task.memory.sessionShip ?? null : null;
      const ship = ships.idleFor(plan, wanted, { wait: wanted !== null });
      if (ship) await send(task, ship, "agent");
    }
  }
}

/**
 * An attempt of a task about to go out, recorded: the task's new state, the event that tells
 * it, and the attempt among the plan's open ones.
 *
 * @param plan The plan.
 * @param task The task.
 * @param ship The ship it goes to.
 * @param kind What it does there.
 * @param changes Where the changes and events go.
 * @returns The attempt, its message id chosen.
 */
export function recordAttempt(
  plan: LivePlan,
  task: TaskRecord,
  ship: string,
  kind: AttemptKind,
  changes: PlanChanges,
): AttemptRecord {
  const attempt = newAttempt(plan, task.id, kind, ship);
  const { maxAttempts } = plan.record.spec;
  let text: string;
  if (kind === "agent") {
    task.attempts++;
    task.status = "running";
    task.ship = ship;
    task.startedAt ??= attempt.sentAt;
    const how = task.memory.feedback
      ? task.memory.rebase ? "to resolve conflicts" : "to fix what failed"
      : "";
    text = `attempt ${task.attempts} of ${maxAttempts}${how ? ` ${how}` : ""}`;
  } else if (kind === "integrate") {
    text = `bringing ${task.branch} onto ${plan.record.integrate}`;
    task.ship = ship;
  } else {
    task.memory.prAsked = true;
    text = `opening a pull request for ${task.branch}`;
  }
  changes.tasks!.push(task);
  changes.attempts = [...changes.attempts ?? [], attempt];
  changes.events!.push(
    planEvent(plan, kind === "integrate" ? "integrating" : "dispatched", task.id, ship, text),
  );
  plan.open.set(attempt.messageId, attempt);
  return attempt;
}

/**
 * The plan's own pull request (`pr: one`) about to go out, recorded like an attempt with no task.
 *
 * @param plan The plan.
 * @param ship The ship it goes to.
 * @returns The attempt, and the changes to save before it is sent.
 */
export function recordPlanPr(
  plan: LivePlan,
  ship: string,
): { attempt: AttemptRecord; changes: PlanChanges } {
  const attempt = newAttempt(plan, "", "pr", ship);
  plan.record.spec.prAsked = true;
  const event = planEvent(
    plan,
    "dispatched",
    null,
    ship,
    `opening a pull request for ${plan.record.integrate}`,
  );
  plan.open.set(attempt.messageId, attempt);
  return { attempt, changes: { plan: plan.record, attempts: [attempt], events: [event] } };
}

// An attempt about to go out, its message id chosen now (it is stored before it is sent).
function newAttempt(
  plan: LivePlan,
  task: string,
  kind: AttemptKind,
  ship: string,
): AttemptRecord {
  return {
    messageId: newMessageId(),
    plan: plan.record.id,
    task,
    kind,
    ship,
    status: "sent",
    costUsd: null,
    sentAt: now(),
    endedAt: null,
    outcome: null,
  };
}

function hasOpen(plan: LivePlan, task: string): boolean {
  for (const attempt of plan.open.values()) if (attempt.task === task) return true;
  return false;
}
