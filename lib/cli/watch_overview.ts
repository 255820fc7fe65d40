/**
 * The overview of `fleet watch`: what waits for a person first (held commands), then the ships,
 * the plans, the agent tasks, the notes and the latest plan events; the flagship in the title.
 * Ships, plans and tasks are rows to choose from.
 *
 * @example The overview of a state with a snapshot
 * ```ts
 * import type { FleetSnapshot } from "../view/fleet_snapshot.ts";
 * import { overviewPage } from "./watch_overview.ts";
 * import { painter } from "./watch_paint.ts";
 * import { initialState } from "./watch_state.ts";
 *
 * declare const snapshot: FleetSnapshot;
 * const page = overviewPage({ ...initialState(), snapshot }, Date.now(), painter(true));
 * page.title; // "Flagship …"
 * ```
 *
 * @module
 */

import { oneLine } from "../clip.ts";
import { formatDuration } from "../duration.ts";
import type { PlanListing } from "../plan/plan_types.ts";
import type { FleetSnapshot, ShipView, TaskRow } from "../view/fleet_snapshot.ts";
import { age } from "./output.ts";
import { drawTable, type Page, type Table } from "./watch_page.ts";
import { bar, BOLD, clock, type Painter, paintStatus, safe } from "./watch_paint.ts";
import { eventLine } from "./watch_plan_page.ts";
import { clipText } from "./watch_text.ts";
import {
  overviewItems,
  selectedItem,
  shownPlans,
  shownTasks,
  type WatchState,
} from "./watch_state.ts";

/** How many plan events the overview shows, at most. */
export const EVENTS_SHOWN = 8;
/** How many notes the overview shows, at most. */
const NOTES_SHOWN = 3;

/**
 * The overview page of a state that has a snapshot.
 *
 * @param state What to show (its snapshot read).
 * @param now The time now, for running times and ages.
 * @param paint The painter.
 * @returns The page.
 */
export function overviewPage(state: WatchState, now: number, paint: Painter): Page {
  const snapshot = state.snapshot!;
  const chosen = selectedItem(state);
  const body: string[] = [];
  let anchor = 0;
  const add = (title: string, table: Table | string[]) => {
    body.push("", BOLD(title));
    if (Array.isArray(table)) return body.push(...table);
    const drawn = drawTable(table, chosen);
    if (drawn.chosen !== null) anchor = body.length + drawn.chosen;
    body.push(...drawn.lines);
  };
  // What waits for a person first.
  if (snapshot.held.length) {
    add(
      `HELD (${snapshot.held.length}): approve with "ohcommodore inbox approve <id>"`,
      snapshot.held.map((message) =>
        `  ${paint("yellow", safe(message.id))}  ${safe(message.sender ?? "?")}: ${
          safe(oneLine(message.command, 200))
        }`
      ),
    );
  }
  add(
    `SHIPS (${snapshot.ships.length})`,
    snapshot.ships.length
      ? shipTable(snapshot, now, paint)
      : ['  No ships: create one with "ohcommodore ship create <owner/repo>"'],
  );
  const plans = shownPlans(snapshot);
  if (plans.length) add(`PLANS (${snapshot.plans.length})`, planTable(plans, paint));
  const tasks = shownTasks(snapshot);
  if (tasks.length) add("AGENT TASKS", taskTable(tasks, now, paint));
  if (snapshot.notes.length) {
    add(
      "NOTES",
      snapshot.notes.slice(0, NOTES_SHOWN).map((note) =>
        `  ${paint("dim", age(note.createdAt, now).padEnd(8))} ${safe(note.sender ?? "?")}: ${
          safe(oneLine(note.command, 200))
        }`
      ),
    );
  }
  const events = snapshot.planEvents.slice(-EVENTS_SHOWN);
  if (events.length) add("PLAN EVENTS", events.map((event) => eventLine(event, paint, true)));
  // On the last row to choose, the rest of the page comes into sight too.
  const items = overviewItems(snapshot);
  const last = items.length > 0 && chosen === items.at(-1);
  return {
    title: flagshipTitle(snapshot),
    body,
    anchor: last ? body.length - 1 : anchor,
    keys: " ↑↓ choose   Enter open   Esc back   q quit",
  };
}

function flagshipTitle(snapshot: FleetSnapshot): string {
  const own = snapshot.flagship;
  const cost = snapshot.costs ? `   cost $${snapshot.costs.totalUsd.toFixed(4)}` : "";
  return `Flagship ${safe(own.name)}   scheduler ${own.schedulerRunning ? "running" : "STOPPED"}` +
    `   unread ${own.unread}   running ${own.running}   held ${own.held}${cost}` +
    `   at ${clock(snapshot.at)}`;
}

function shipTable(snapshot: FleetSnapshot, now: number, paint: Painter): Table {
  const elapsed = Math.max(0, now - (Date.parse(snapshot.at) || now));
  return {
    headers: ["SHIP", "REPO", "ACCESS", "CHANNEL", "SCHEDULER", "QUEUE", "TASK"],
    rows: snapshot.ships.map((ship) => ({
      key: `ship:${ship.name}`,
      cells: [
        safe(ship.name),
        clipText(safe(ship.repo ?? "-"), 24),
        ship.keyless ? "keyless" : "trusted",
        safe(ship.channel ?? "-"),
        ship.schedulerRunning === null ? "?" : ship.schedulerRunning ? "running" : "STOPPED",
        `${ship.unread ?? "?"} unread, ${ship.running ?? "?"} running`,
        shipTask(ship, elapsed, paint),
      ],
      paint: (cell, text) =>
        cell === 4 && ship.schedulerRunning === false
          ? paint("red", text)
          : cell === 3 && ship.channel === "down"
          ? paint("red", text)
          : text,
    })),
  };
}

/**
 * A ship's current or last task: status, running time, cost and plan; then its problem.
 *
 * @param ship The ship.
 * @param elapsed How long since the snapshot was read (a running task's time grows by it).
 * @param paint The painter.
 * @returns The text, or `-` when there is nothing to say.
 */
export function shipTask(ship: ShipView, elapsed: number, paint: Painter): string {
  const task = ship.task;
  const parts: string[] = [];
  if (task) {
    const running = task.status === "running";
    // Whole seconds: tenths that change at every read would only flicker.
    const ms = Math.max(0, task.runningMs + (running ? elapsed : 0));
    const time = formatDuration(ms < 1000 ? ms : Math.floor(ms / 1000) * 1000);
    const cost = task.costUsd === null ? "" : `  $${task.costUsd.toFixed(4)}`;
    const plan = task.plan ? `  plan ${safe(task.plan.id)}/${safe(task.plan.task)}` : "";
    parts.push(`${paintStatus(safe(task.status), paint)} ${time}${cost}${plan}`);
  }
  if (ship.problem) parts.push(paint("yellow", `! ${safe(ship.problem)}`));
  return parts.join("  ") || "-";
}

function planTable(plans: PlanListing[], paint: Painter): Table {
  return {
    headers: ["PLAN", "STATUS", "PROGRESS", "COST", "BRANCH", "NOTE"],
    rows: plans.map((plan) => ({
      key: `plan:${plan.id}`,
      cells: [
        safe(plan.id),
        paintStatus(safe(plan.status), paint),
        `${bar(plan.tasksDone, plan.tasks)} ${plan.tasksDone}/${plan.tasks}`,
        `$${plan.costUsd.toFixed(4)}${
          plan.budgetUsd === null ? "" : ` of $${plan.budgetUsd.toFixed(2)}`
        }`,
        safe(plan.integrate),
        safe(oneLine(plan.pr ?? plan.note ?? "", 120)),
      ],
    })),
  };
}

function taskTable(tasks: TaskRow[], now: number, paint: Painter): Table {
  return {
    headers: ["TASK", "SHIP", "STATUS", "STARTED", "COST", "PROMPT"],
    rows: tasks.map((task) => ({
      key: `task:${task.id}`,
      cells: [
        safe(task.id),
        safe(task.ship),
        paintStatus(safe(task.status), paint),
        age(task.startedAt, now),
        task.costUsd === null ? "-" : `$${task.costUsd.toFixed(4)}`,
        safe(oneLine(task.prompt, 200)),
      ],
    })),
  };
}
