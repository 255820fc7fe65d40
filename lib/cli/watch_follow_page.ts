/**
 * A task's transcript in `fleet watch`: the agent's lines as they are written, scrolled from the
 * end, the task's status or outcome in the title and, once it ends, how it ended.
 *
 * @example The transcript of a task, followed so far
 * ```ts
 * import type { FleetSnapshot } from "../view/fleet_snapshot.ts";
 * import { followPage } from "./watch_follow_page.ts";
 * import { painter } from "./watch_paint.ts";
 * import { type FollowPane, initialState } from "./watch_state.ts";
 *
 * declare const snapshot: FleetSnapshot;
 * const pane: FollowPane = {
 *   kind: "follow",
 *   serial: 1,
 *   taskId: "3f9a07c2",
 *   ship: "web",
 *   lines: ["Reading the tests"],
 *   outcome: null,
 *   error: null,
 *   scroll: 0,
 * };
 * const page = followPage({ ...initialState(), snapshot }, pane, 30, Date.now(), painter(true));
 * page.body; // ["  Reading the tests"]
 * ```
 *
 * @module
 */

import { oneLine } from "../clip.ts";
import { formatDuration } from "../duration.ts";
import { costText, statusText } from "./limit_text.ts";
import type { Page } from "./watch_page.ts";
import { type Painter, safe } from "./watch_paint.ts";
import { shipTask } from "./watch_overview.ts";
import type { FollowPane, WatchState } from "./watch_state.ts";

/**
 * The transcript of the task a pane follows.
 *
 * @param state What to show (its snapshot read).
 * @param pane The task's pane.
 * @param rows How many rows the body has.
 * @param now The time now, for running times.
 * @param paint The painter.
 * @returns The page.
 */
export function followPage(
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
