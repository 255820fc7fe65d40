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

import { followPage } from "./watch_follow_page.ts";
import { overviewPage } from "./watch_overview.ts";
import type { Page } from "./watch_page.ts";
import { painter, REVERSE_ON, safe } from "./watch_paint.ts";
import { planPage } from "./watch_plan_page.ts";
import { fitLine } from "./watch_text.ts";
import type { WatchState } from "./watch_state.ts";

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
  const paint = painter(options.color !== false);
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
