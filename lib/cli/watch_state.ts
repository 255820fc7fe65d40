/**
 * What `fleet watch` shows, as data: the latest snapshot of the fleet, what is chosen, and the
 * panes opened over the overview (a plan's board, a task's transcript). Keys change it through
 * {@link applyKey}, a pure function; the loop in `fleet_watch.ts` does what a change asks
 * (follows a transcript, stops following it) and draws the state with `renderWatch`.
 *
 * @example Choose the second ship and follow its task
 * ```ts
 * import { applyKey, initialState, type WatchState } from "./watch_state.ts";
 * import type { FleetSnapshot } from "../view/fleet_snapshot.ts";
 *
 * declare const snapshot: FleetSnapshot;
 * let state: WatchState = { ...initialState(), snapshot };
 * state = applyKey(state, "down", 20).state;
 * const { state: following } = applyKey(state, "enter", 20);
 * following.panes.at(-1); // { kind: "follow", taskId: …, … }
 * ```
 *
 * @module
 */

import type { TaskOutcome } from "../agent/task.ts";
import type { PlanListing, PlanTaskSummary } from "../plan/plan_types.ts";
import type { FleetSnapshot, ShipView, TaskRow } from "../view/fleet_snapshot.ts";

/** A task's transcript, followed as it is written. */
export interface FollowPane {
  /** Always `follow`. */
  kind: "follow";
  /** Tells this pane from another of the same task opened later. */
  serial: number;
  /** The task's id. */
  taskId: string;
  /** The ship it runs on, when known. */
  ship: string | null;
  /** The transcript so far, a line per thing the agent said or did (untrusted text). */
  lines: string[];
  /** How the task ended, once it has. */
  outcome: TaskOutcome | null;
  /** Why following it failed. */
  error: string | null;
  /** Lines scrolled up from the end; 0 keeps the newest line in sight. */
  scroll: number;
}

/** One plan: its tasks to choose from, and its events. */
export interface PlanPane {
  /** Always `plan`. */
  kind: "plan";
  /** Tells this pane from another. */
  serial: number;
  /** The plan's id. */
  planId: string;
  /** The chosen task's id in the plan. */
  selected: string | null;
}

/** A pane over the overview. */
export type Pane = FollowPane | PlanPane;

/** Everything the watch shows. */
export interface WatchState {
  /** The fleet as last read; null until the first read. */
  snapshot: FleetSnapshot | null;
  /** The chosen row of the overview: `ship:<name>`, `plan:<id>` or `task:<id>`. */
  selected: string | null;
  /** The panes opened over the overview, the shown one last. */
  panes: Pane[];
  /** A word for the person (nothing to follow here), until the next key. */
  notice: string | null;
  /** What the view could not read lately (untrusted text). */
  error: string | null;
  /** The serial of the last pane opened. */
  serial: number;
}

/** What a key asks of the loop besides a new state. */
export interface KeyResult {
  /** The new state. */
  state: WatchState;
  /** True when the person asked to quit: `q`, or Ctrl-C (`interrupted`). */
  quit?: "quit" | "interrupted";
}

/** How many ended plans the overview shows below the running ones. */
const ENDED_PLANS_SHOWN = 5;
/** How many agent tasks the overview lists. */
const TASKS_SHOWN = 8;
/** How many lines of a transcript are kept. */
const KEPT_LINES = 5000;

/**
 * The state before the fleet is read.
 *
 * @returns The state.
 */
export function initialState(): WatchState {
  return { snapshot: null, selected: null, panes: [], notice: null, error: null, serial: 0 };
}

/**
 * The plans the overview shows: the running ones, then the latest few that ended.
 *
 * @param snapshot The fleet.
 * @returns The plans, in the order shown.
 */
export function shownPlans(snapshot: FleetSnapshot): PlanListing[] {
  const running = snapshot.plans.filter((plan) => plan.status === "running");
  const ended = snapshot.plans.filter((plan) => plan.status !== "running");
  return [...running, ...ended.slice(0, ENDED_PLANS_SHOWN)];
}

/**
 * The agent tasks the overview lists: the newest.
 *
 * @param snapshot The fleet.
 * @returns The tasks.
 */
export function shownTasks(snapshot: FleetSnapshot): TaskRow[] {
  return snapshot.tasks.slice(0, TASKS_SHOWN);
}

/**
 * The rows of the overview that can be chosen, in the order shown: ships, plans, tasks.
 *
 * @param snapshot The fleet.
 * @returns Their keys.
 */
export function overviewItems(snapshot: FleetSnapshot | null): string[] {
  if (!snapshot) return [];
  return [
    ...snapshot.ships.map((ship) => `ship:${ship.name}`),
    ...shownPlans(snapshot).map((plan) => `plan:${plan.id}`),
    ...shownTasks(snapshot).map((task) => `task:${task.id}`),
  ];
}

/**
 * The chosen row of the overview: the one chosen while it is there, else the first.
 *
 * @param state The state.
 * @returns Its key, or null when there is nothing to choose.
 */
export function selectedItem(state: WatchState): string | null {
  const items = overviewItems(state.snapshot);
  return state.selected !== null && items.includes(state.selected)
    ? state.selected
    : items[0] ?? null;
}

/**
 * A plan's tasks as last read.
 *
 * @param snapshot The fleet.
 * @param planId The plan.
 * @returns Its tasks; none until read.
 */
export function planTasks(snapshot: FleetSnapshot | null, planId: string): PlanTaskSummary[] {
  return snapshot?.planTasks[planId] ?? [];
}

/**
 * The chosen task of a plan pane: the one chosen while it is there, else the first.
 *
 * @param state The state.
 * @param pane The pane.
 * @returns The task's id in the plan, or null.
 */
export function selectedPlanTask(state: WatchState, pane: PlanPane): string | null {
  const ids = planTasks(state.snapshot, pane.planId).map((task) => task.id);
  return pane.selected !== null && ids.includes(pane.selected) ? pane.selected : ids[0] ?? null;
}

/**
 * The state after a key.
 *
 * On the overview: ↑/↓ (or k/j), PgUp/PgDn, Home/End choose a row; Enter opens it (a ship's
 * current task, a plan's board, a task's transcript). On a plan: the same choose its tasks,
 * Enter follows the agent at work on one. On a transcript: the same scroll. Esc (or ←,
 * Backspace) goes back; `q` quits, and so does Ctrl-C.
 *
 * @param state The state.
 * @param key The key (see `parseKeys`).
 * @param pageRows How many rows a page is (for PgUp, PgDn).
 * @returns The new state, and whether to quit.
 */
export function applyKey(state: WatchState, key: string, pageRows: number): KeyResult {
  if (key === "q" || key === "Q") return { state, quit: "quit" };
  if (key === "ctrl-c") return { state, quit: "interrupted" };
  state = { ...state, notice: null };
  const pane = state.panes.at(-1);
  if (key === "escape" || key === "left" || key === "backspace") {
    return { state: { ...state, panes: state.panes.slice(0, -1) } };
  }
  const step = stepOf(key, pageRows);
  if (!pane) {
    if (step !== null) {
      return {
        state: {
          ...state,
          selected: moved(overviewItems(state.snapshot), selectedItem(state), step),
        },
      };
    }
    if (key === "enter") return { state: openItem(state) };
  } else if (pane.kind === "plan") {
    const ids = planTasks(state.snapshot, pane.planId).map((task) => task.id);
    if (step !== null) {
      const selected = moved(ids, selectedPlanTask(state, pane), step);
      return { state: replaceTop(state, { ...pane, selected }) };
    }
    if (key === "enter") return { state: followPlanTask(state, pane) };
  } else if (step !== null) {
    // On a transcript ↑ goes back in it: up is further from the end.
    const most = Math.max(0, pane.lines.length - pageRows);
    const scroll = Math.min(most, Math.max(0, pane.scroll - step));
    return { state: replaceTop(state, { ...pane, scroll }) };
  }
  return { state };
}

/**
 * The state with a line added to a transcript pane (a pane scrolled up stays where it was).
 *
 * @param state The state.
 * @param serial The pane's serial.
 * @param line The line.
 * @returns The new state.
 */
export function addLine(state: WatchState, serial: number, line: string): WatchState {
  return updatePane(state, serial, (pane) => ({
    ...pane,
    lines: [...pane.lines.slice(-(KEPT_LINES - 1)), line],
    scroll: pane.scroll > 0 ? pane.scroll + 1 : 0,
  }));
}

/**
 * The state with a transcript's end: the task's outcome, or why it could not be followed.
 *
 * @param state The state.
 * @param serial The pane's serial.
 * @param end The outcome or the error.
 * @returns The new state.
 */
export function endFollow(
  state: WatchState,
  serial: number,
  end: { outcome: TaskOutcome } | { error: string },
): WatchState {
  return updatePane(state, serial, (pane) => ({
    ...pane,
    outcome: "outcome" in end ? end.outcome : null,
    error: "error" in end ? end.error : null,
  }));
}

function updatePane(
  state: WatchState,
  serial: number,
  change: (pane: FollowPane) => FollowPane,
): WatchState {
  const panes = state.panes.map((pane) =>
    pane.kind === "follow" && pane.serial === serial ? change(pane) : pane
  );
  return { ...state, panes };
}

// How far a key moves the choice: rows, a page, or to either end.
function stepOf(key: string, pageRows: number): number | null {
  switch (key) {
    case "up":
    case "k":
      return -1;
    case "down":
    case "j":
      return 1;
    case "pageup":
      return -Math.max(1, pageRows - 1);
    case "pagedown":
      return Math.max(1, pageRows - 1);
    case "home":
    case "g":
      return -Infinity;
    case "end":
    case "G":
      return Infinity;
    default:
      return null;
  }
}

function moved(items: string[], current: string | null, step: number): string | null {
  if (items.length === 0) return null;
  const at = Math.max(0, current === null ? 0 : items.indexOf(current));
  // A step of ±Infinity (Home, End) lands on either end.
  return items[Math.min(items.length - 1, Math.max(0, at + step))];
}

function replaceTop(state: WatchState, pane: Pane): WatchState {
  return { ...state, panes: [...state.panes.slice(0, -1), pane] };
}

function push(state: WatchState, pane: Omit<FollowPane, "serial"> | Omit<PlanPane, "serial">) {
  const serial = state.serial + 1;
  return { ...state, serial, panes: [...state.panes, { ...pane, serial } as Pane] };
}

function follow(state: WatchState, taskId: string, ship: string | null): WatchState {
  return push(state, {
    kind: "follow",
    taskId,
    ship,
    lines: [],
    outcome: null,
    error: null,
    scroll: 0,
  });
}

// Enter on the overview.
function openItem(state: WatchState): WatchState {
  const snapshot = state.snapshot;
  const item = selectedItem(state);
  if (!snapshot || !item) return state;
  const [kind, id] = [item.slice(0, item.indexOf(":")), item.slice(item.indexOf(":") + 1)];
  if (kind === "ship") {
    const ship = snapshot.ships.find((ship) => ship.name === id) as ShipView;
    if (!ship.task) return { ...state, notice: `${ship.name} has no agent task to follow` };
    return follow(state, ship.task.id, ship.name);
  }
  if (kind === "plan") return push(state, { kind: "plan", planId: id, selected: null });
  const task = snapshot.tasks.find((task) => task.id === id);
  return follow(state, id, task?.ship ?? null);
}

// Enter on a plan's task: the agent at work on it, when a ship says it is.
function followPlanTask(state: WatchState, pane: PlanPane): WatchState {
  const taskId = selectedPlanTask(state, pane);
  if (!taskId) return state;
  const ship = state.snapshot?.ships.find((ship) =>
    ship.task?.plan?.id === pane.planId && ship.task.plan.task === taskId
  );
  if (!ship?.task) {
    const status = planTasks(state.snapshot, pane.planId).find((task) => task.id === taskId)
      ?.status;
    return {
      ...state,
      notice: `No ship works on ${taskId} now${status ? ` (it is ${status})` : ""}`,
    };
  }
  return follow(state, ship.task.id, ship.name);
}
