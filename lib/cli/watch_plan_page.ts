/**
 * A plan's board in `fleet watch`: its tasks to choose from (the chosen one's error below them),
 * then the newest of its events that fit; and how a plan event reads as one line, here and in
 * the overview.
 *
 * @example The board of a plan
 * ```ts
 * import type { FleetSnapshot } from "../view/fleet_snapshot.ts";
 * import { painter } from "./watch_paint.ts";
 * import { planPage } from "./watch_plan_page.ts";
 * import { initialState } from "./watch_state.ts";
 *
 * declare const snapshot: FleetSnapshot;
 * const pane = { kind: "plan", serial: 1, planId: "p1", selected: null } as const;
 * const state = { ...initialState(), snapshot, panes: [pane] };
 * const page = planPage(state, pane, 30, Date.now(), painter(true));
 * page.title; // "Plan p1 …"
 * ```
 *
 * @module
 */

import { oneLine } from "../clip.ts";
import type { PlanEvent } from "../plan/plan_types.ts";
import { age } from "./output.ts";
import { drawTable, type Page } from "./watch_page.ts";
import { BOLD, clock, type Painter, paintStatus, safe } from "./watch_paint.ts";
import { type PlanPane, planTasks, selectedPlanTask, type WatchState } from "./watch_state.ts";

/**
 * The board of the plan a pane shows.
 *
 * @param state What to show (its snapshot read).
 * @param pane The plan's pane.
 * @param rows How many rows the body has.
 * @param now The time now, for ages.
 * @param paint The painter.
 * @returns The page.
 */
export function planPage(
  state: WatchState,
  pane: PlanPane,
  rows: number,
  now: number,
  paint: Painter,
): Page {
  const snapshot = state.snapshot!;
  const plan = snapshot.plans.find((plan) => plan.id === pane.planId);
  const tasks = planTasks(snapshot, pane.planId);
  const chosen = selectedPlanTask(state, pane);
  const body: string[] = [""];
  let anchor = 0;
  if (tasks.length === 0) body.push("  Reading the plan's tasks…");
  else {
    const drawn = drawTable({
      headers: ["TASK", "STATUS", "SHIP", "ATTEMPTS", "COST", "STARTED", "NEEDS"],
      rows: tasks.map((task) => ({
        key: task.id,
        cells: [
          safe(task.id),
          paintStatus(safe(task.status), paint),
          safe(task.ship ?? "-"),
          String(task.attempts),
          `$${task.costUsd.toFixed(4)}`,
          age(task.startedAt, now),
          safe(task.needs.join(", ") || "-"),
        ],
      })),
    }, chosen);
    anchor = body.length + (drawn.chosen ?? 0);
    body.push(...drawn.lines);
    const why = tasks.find((task) => task.id === chosen)?.error;
    if (why) body.push("", `  ${safe(chosen)}: ${paint("yellow", safe(why))}`);
  }
  // The newest events that fit below the tasks (at least a few: the tasks scroll then).
  const events = snapshot.planEvents.filter((event) => event.plan === pane.planId);
  const room = Math.max(3, rows - body.length - 2);
  if (events.length) {
    body.push(
      "",
      BOLD(`EVENTS${events.length > room ? ` (the last ${room})` : ""}`),
      ...events.slice(-room).map((event) => eventLine(event, paint, false)),
    );
  }
  const title = plan
    ? `Plan ${safe(plan.id)}   ${safe(plan.status)}   ${plan.tasksDone}/${plan.tasks} done   $${
      plan.costUsd.toFixed(4)
    }${plan.budgetUsd === null ? "" : ` of $${plan.budgetUsd.toFixed(2)}`}   → ${
      safe(plan.integrate)
    }${plan.pr ? `   ${safe(plan.pr)}` : ""}`
    : `Plan ${safe(pane.planId)}`;
  return {
    title,
    body,
    anchor,
    keys: " ↑↓ choose a task   Enter follow its agent   Esc back   q quit",
  };
}

/**
 * A plan event as one line: its time, its plan (in the overview), its type, task and ship, and
 * its text.
 *
 * @param event The event.
 * @param paint The painter.
 * @param withPlan Whether to name its plan.
 * @returns The line.
 */
export function eventLine(event: PlanEvent, paint: Painter, withPlan: boolean): string {
  const who = [event.task, event.ship && `on ${event.ship}`].filter(Boolean).join(" ");
  return `  ${paint("dim", clock(event.at))} ${withPlan ? `${safe(event.plan)} ` : ""}` +
    `${paintStatus(safe(event.type), paint)}${who ? ` ${safe(who)}` : ""}: ${
      safe(oneLine(event.text, 300))
    }`;
}
