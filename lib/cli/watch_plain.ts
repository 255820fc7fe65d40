/**
 * `fleet watch` off a terminal (a pipe, a file, a log): a plain line per thing that changed,
 * never a cursor movement. The first snapshot gives a line per member and plan and held message;
 * later ones only the lines that changed (a running time that grows is no change); a plan event
 * is a line of its own. Untrusted text is escaped, as everywhere a person reads.
 *
 * @example Print the lines of each event of a view
 * ```ts
 * import { PlainLog } from "./watch_plain.ts";
 * import type { FleetView } from "../view/fleet_view.ts";
 *
 * declare const view: FleetView;
 * const log = new PlainLog();
 * for (const line of log.lines({ type: "snapshot", snapshot: view.snapshot() })) console.log(line);
 * view.subscribe((event) => log.lines(event).forEach((line) => console.log(line)));
 * ```
 *
 * @module
 */

import { oneLine } from "../clip.ts";
import type { FleetSnapshot, ShipView } from "../view/fleet_snapshot.ts";
import type { ViewEvent } from "../view/fleet_view.ts";
import { escapeControls } from "./output.ts";
import { shownPlans } from "./watch_state.ts";

const safe = (text: unknown) => escapeControls(String(text ?? ""), { inline: true });

/** Turns a view's events into plain lines, remembering what it said of each thing. */
export class PlainLog {
  // What was last said of each member, plan and held message, by key.
  #said = new Map<string, string>();

  /**
   * The lines an event gives: for a snapshot, those that changed since the last; for a plan
   * event, one; for an error, one that starts with `warning:`.
   *
   * @param event The event.
   * @returns The lines, escaped.
   */
  lines(event: ViewEvent): string[] {
    if (event.type === "plan") {
      const { plan, type, task, ship, text } = event.event;
      const who = [task, ship && `on ${ship}`].filter(Boolean).join(" ");
      return [`plan ${safe(plan)} ${safe(type)}${who ? ` ${safe(who)}` : ""}: ${safe(text)}`];
    }
    if (event.type === "error") return [`warning: ${safe(event.message)}`];
    const now = describe(event.snapshot);
    const lines: string[] = [];
    for (const [key, text] of now) {
      if (this.#said.get(key) !== text) lines.push(text);
    }
    for (const [key] of this.#said) {
      if (now.has(key)) continue;
      const [kind, id] = [key.slice(0, key.indexOf(":")), key.slice(key.indexOf(":") + 1)];
      if (kind === "ship") lines.push(`ship ${safe(id)}: gone`);
      if (kind === "held") lines.push(`held ${safe(id)}: no longer held`);
    }
    this.#said = now;
    return lines;
  }
}

// A line for each thing of the snapshot, by key.
function describe(snapshot: FleetSnapshot): Map<string, string> {
  const lines = new Map<string, string>();
  const own = snapshot.flagship;
  lines.set(
    "flagship",
    `flagship ${safe(own.name)}: scheduler ${own.schedulerRunning ? "running" : "STOPPED"}, ` +
      `${own.unread} unread, ${own.running} running, ${own.held} held`,
  );
  for (const ship of snapshot.ships) lines.set(`ship:${ship.name}`, shipLine(ship));
  for (const plan of shownPlans(snapshot)) {
    const budget = plan.budgetUsd === null ? "" : ` of $${plan.budgetUsd.toFixed(2)}`;
    lines.set(
      `plan:${plan.id}`,
      `plan ${safe(plan.id)}: ${safe(plan.status)}, ${plan.tasksDone}/${plan.tasks} done, ` +
        `$${plan.costUsd.toFixed(4)}${budget}, onto ${safe(plan.integrate)}`,
    );
  }
  for (const message of snapshot.held) {
    lines.set(
      `held:${message.id}`,
      `held ${safe(message.id)} from ${safe(message.sender ?? "?")}: ${
        safe(oneLine(message.command, 200))
      } (approve with "ohcommodore inbox approve ${safe(message.id)}")`,
    );
  }
  return lines;
}

// A ship without its running time, which changes every read.
function shipLine(ship: ShipView): string {
  const scheduler = ship.schedulerRunning === null
    ? "?"
    : ship.schedulerRunning
    ? "running"
    : "STOPPED";
  const access = ship.keyless ? `keyless, channel ${safe(ship.channel ?? "?")}` : "trusted";
  const task = ship.task
    ? `, task ${safe(ship.task.id)} ${safe(ship.task.status)}` +
      (ship.task.costUsd === null ? "" : ` $${ship.task.costUsd.toFixed(4)}`) +
      (ship.task.plan ? ` (plan ${safe(ship.task.plan.id)}/${safe(ship.task.plan.task)})` : "")
    : "";
  const problem = ship.problem ? `; ${safe(ship.problem)}` : "";
  return `ship ${safe(ship.name)}: ${access}, scheduler ${scheduler}, ` +
    `${ship.unread ?? "?"} unread, ${ship.running ?? "?"} running${task}${problem}`;
}
