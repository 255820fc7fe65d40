/**
 * `fleet watch` drawn: a pure function from the state to the screen's lines, one per row, each
 * exactly as wide as the screen. The overview (flagship, ships, plans, agent tasks, held
 * messages, notes, plan events), a plan's board, or a task's transcript; a title row on top and
 * the keys at the bottom.
 *
 * Everything a ship or agent produced (names, repositories, task text, notes, errors) is escaped
 * here before it is styled, and {@link fitLine} escapes what is left: a line never moves the
 * cursor or changes the terminal.
 *
 * @example Draw a state on 100 × 30
 * ```ts
 * import { renderWatch } from "./watch_render.ts";
 * import { initialState } from "./watch_state.ts";
 *
 * const lines = renderWatch(initialState(), { columns: 100, rows: 30 });
 * lines.length; // 30
 * ```
 *
 * @module
 */

import { oneLine } from "../clip.ts";
import { formatDuration } from "../duration.ts";
import type { PlanEvent, PlanListing } from "../plan/plan_types.ts";
import type { FleetSnapshot, ShipView, TaskRow } from "../view/fleet_snapshot.ts";
import { age, escapeControls } from "./output.ts";
import { costText, statusText } from "./limit_text.ts";
import { clipText, fitLine, padText, textWidth } from "./watch_text.ts";
import {
  type FollowPane,
  overviewItems,
  type PlanPane,
  planTasks,
  selectedItem,
  selectedPlanTask,
  shownPlans,
  shownTasks,
  type WatchState,
} from "./watch_state.ts";

/** A terminal's size in cells. */
export interface ScreenSize {
  /** Columns. */
  columns: number;
  /** Rows. */
  rows: number;
}

/** How to draw. */
export interface RenderOptions {
  /**
   * The time now, for running times and ages.
   *
   * @default {Date.now()}
   */
  now?: number;
  /**
   * Colour (off with NO_COLOR); reverse video and bold stay either way.
   *
   * @default {true}
   */
  color?: boolean;
}

/** How many plan events the overview shows, at most. */
export const EVENTS_SHOWN = 8;
/** How many notes the overview shows, at most. */
export const NOTES_SHOWN = 3;

type Colour = "red" | "green" | "yellow" | "cyan" | "dim";
const COLOURS: Record<Colour, [string, string]> = {
  red: ["\x1b[31m", "\x1b[39m"],
  green: ["\x1b[32m", "\x1b[39m"],
  yellow: ["\x1b[33m", "\x1b[39m"],
  cyan: ["\x1b[36m", "\x1b[39m"],
  dim: ["\x1b[2m", "\x1b[22m"],
};
const BOLD = (text: string) => `\x1b[1m${text}\x1b[22m`;
// Left on to the end of the line, which fitLine pads and resets.
const REVERSE_ON = "\x1b[7m";

// Untrusted text as one line of plain characters.
const safe = (text: unknown) => escapeControls(String(text ?? ""), { inline: true });

interface Painter {
  (colour: Colour, text: string): string;
}

// One section of rows to choose from: its cells (already escaped), and which row is chosen.
interface Table {
  headers: string[];
  rows: { cells: string[]; key: string | null; paint?: (cell: number, text: string) => string }[];
}

/**
 * The screen for a state: `size.rows` lines, each `size.columns` cells wide.
 *
 * @param state What to show.
 * @param size The terminal's size.
 * @param options The time now, and colour.
 * @returns The lines, top to bottom.
 */
export function renderWatch(
  state: WatchState,
  size: ScreenSize,
  options: RenderOptions = {},
): string[] {
  const now = options.now ?? Date.now();
  const paint: Painter = options.color === false
    ? (_, text) => text
    : (colour, text) => COLOURS[colour][0] + text + COLOURS[colour][1];
  const rows = Math.max(3, size.rows);
  const pane = state.panes.at(-1);
  const message = state.notice !== null
    ? safe(state.notice)
    : state.error !== null
    ? paint("yellow", `! ${safe(state.error)}`)
    : null;
  const bodyRows = rows - 2 - (message === null ? 0 : 1);
  const page = !state.snapshot
    ? connecting()
    : pane?.kind === "follow"
    ? followPage(state, pane, bodyRows, now, paint)
    : pane?.kind === "plan"
    ? planPage(state, pane, bodyRows, now, paint)
    : overviewPage(state, now, paint);
  const body = window(page.body, page.anchor, bodyRows);
  const lines = [
    // Reversed to the edge: the padding takes the style in force (see fitLine).
    `${REVERSE_ON} ${page.title}`,
    ...body,
    ...Array(bodyRows - body.length).fill(""),
    ...(message === null ? [] : [message]),
    paint("dim", page.keys),
  ];
  return lines.map((line) => fitLine(line, Math.max(1, size.columns)));
}

interface Page {
  title: string;
  body: string[];
  // The row to keep in sight (the chosen one), or "end" for the newest line, or a row from the
  // end (a transcript scrolled up).
  anchor: number | { fromEnd: number };
  keys: string;
}

// The part of a page's body that fits: from the top, moved down only to keep the anchor in sight.
function window(body: string[], anchor: Page["anchor"], rows: number): string[] {
  if (body.length <= rows) return body;
  if (typeof anchor === "object") {
    const end = Math.max(rows, body.length - anchor.fromEnd);
    return body.slice(end - rows, end);
  }
  // One row of context below the chosen one when there is more.
  const start = Math.min(body.length - rows, Math.max(0, anchor - rows + 2));
  return body.slice(start, start + rows);
}

function connecting(): Page {
  return {
    title: "ohcommodore fleet watch",
    body: ["", "  Reading the fleet…"],
    anchor: 0,
    keys: " q quit",
  };
}

function overviewPage(state: WatchState, now: number, paint: Painter): Page {
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

// A ship's current or last task: status, running time, cost and plan; then its problem.
function shipTask(ship: ShipView, elapsed: number, paint: Painter): string {
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

// A table as lines: a dim header, then a row each, the chosen one marked and reversed.
function drawTable(
  table: Table,
  chosen: string | null,
): { lines: string[]; chosen: number | null } {
  const widths = table.headers.map((header, column) =>
    Math.max(textWidth(header), ...table.rows.map((row) => textWidth(row.cells[column])))
  );
  const join = (cells: string[]) =>
    cells.map((cell, column) => column === cells.length - 1 ? cell : padText(cell, widths[column]))
      .join("  ");
  const lines = [`  \x1b[2m${join(table.headers)}\x1b[22m`];
  let at: number | null = null;
  for (const row of table.rows) {
    const cells = row.cells.map((cell, column) => row.paint?.(column, cell) ?? cell);
    if (row.key !== null && row.key === chosen) {
      at = lines.length;
      lines.push(`${REVERSE_ON}> ${join(cells)}`);
    } else lines.push(`  ${join(cells)}`);
  }
  return { lines, chosen: at };
}

function planPage(
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

function followPage(
  state: WatchState,
  pane: FollowPane,
  rows: number,
  now: number,
  paint: Painter,
): Page {
  const snapshot = state.snapshot!;
  const ship = snapshot.ships.find((ship) => ship.task?.id === pane.taskId);
  const row = snapshot.tasks.find((task) => task.id === pane.taskId);
  const where = pane.ship ?? ship?.name ?? row?.ship;
  let title = `Task ${safe(pane.taskId)}${where ? ` on ${safe(where)}` : ""}`;
  if (pane.outcome) {
    title += `   ${safe(statusText(pane.outcome, now))}   ${safe(costText(pane.outcome))}`;
  } else if (ship?.task) {
    const elapsed = Math.max(0, now - (Date.parse(snapshot.at) || now));
    title += `   ${shipTask({ ...ship, problem: null }, elapsed, (_, text) => text)}`;
  } else if (row) title += `   ${safe(row.status)}`;
  const body = pane.lines.map((line) => `  ${safe(line)}`);
  if (pane.outcome) body.push("", `  ${outcomeLine(pane.outcome, paint)}`);
  if (pane.error) body.push("", `  ${paint("red", `! ${safe(pane.error)}`)}`);
  if (body.length === 0) body.push("  Waiting for the agent's first words…");
  const below = Math.min(pane.scroll, Math.max(0, body.length - rows));
  return {
    title,
    body,
    anchor: { fromEnd: below },
    keys: ` Esc back   ↑↓ PgUp PgDn Home End scroll   q quit   ${
      below ? `${below} line(s) below` : pane.outcome || pane.error ? "ended" : "following"
    }`,
  };
}

function outcomeLine(outcome: FollowPane["outcome"] & object, paint: Painter): string {
  const turns = outcome.numTurns === null ? "" : `, ${outcome.numTurns} turn(s)`;
  const took = outcome.durationMs === null ? "" : ` in ${formatDuration(outcome.durationMs)}`;
  const commits = `, ${outcome.commits.length} commit(s)`;
  const why = outcome.error ?? outcome.prError ?? (outcome.pr ? `pull request ${outcome.pr}` : "");
  const text = `${safe(outcome.status)}${took}, ${safe(costText(outcome))}${turns}${commits}` +
    (why ? `: ${safe(oneLine(why, 300))}` : "");
  return outcome.status === "done" ? paint("green", text) : paint("red", text);
}

function eventLine(event: PlanEvent, paint: Painter, withPlan: boolean): string {
  const who = [event.task, event.ship && `on ${event.ship}`].filter(Boolean).join(" ");
  return `  ${paint("dim", clock(event.at))} ${withPlan ? `${safe(event.plan)} ` : ""}` +
    `${paintStatus(safe(event.type), paint)}${who ? ` ${safe(who)}` : ""}: ${
      safe(oneLine(event.text, 300))
    }`;
}

function paintStatus(status: string, paint: Painter): string {
  if (/^(done|integrated|verify_passed|ended)$/.test(status)) return paint("green", status);
  if (
    /^(error|failed|verify_failed|attempt_failed|conflict|blocked|stalled|timeout)/.test(status)
  ) {
    return paint("red", status);
  }
  if (/^(running|dispatched|verifying|integrating|started)$/.test(status)) {
    return paint("cyan", status);
  }
  if (/^(rate_limited|budget_exhausted|cancelled|waiting|queued|reassigned)$/.test(status)) {
    return paint("yellow", status);
  }
  return status;
}

// Done out of all, in eight cells.
function bar(done: number, all: number): string {
  const cells = 8;
  const full = all > 0 ? Math.round((done / all) * cells) : 0;
  return `[${"#".repeat(full)}${"-".repeat(cells - full)}]`;
}

// The local time of an ISO moment, as HH:MM:SS.
function clock(iso: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "--:--:--";
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`;
}
