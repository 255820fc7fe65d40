/**
 * How `fleet watch` styles its text: colours (off with NO_COLOR) through a {@link Painter},
 * bold and reverse video, a status in the colour its meaning earns, untrusted text made one line
 * of plain characters, a progress bar and a clock.
 *
 * @example A task's status, coloured, and the same without colour
 * ```ts
 * import { painter, paintStatus, safe } from "./watch_paint.ts";
 *
 * paintStatus(safe("done"), painter(true)); // "\x1b[32mdone\x1b[39m"
 * paintStatus(safe("done"), painter(false)); // "done"
 * ```
 *
 * @module
 */

import { escapeControls } from "./output.ts";

/** A colour the watch uses. */
export type Colour = "red" | "green" | "yellow" | "cyan" | "dim";

const COLOURS: Record<Colour, [string, string]> = {
  red: ["\x1b[31m", "\x1b[39m"],
  green: ["\x1b[32m", "\x1b[39m"],
  yellow: ["\x1b[33m", "\x1b[39m"],
  cyan: ["\x1b[36m", "\x1b[39m"],
  dim: ["\x1b[2m", "\x1b[22m"],
};

/**
 * Bold text.
 *
 * @param text The text (already escaped).
 * @returns It, bold.
 */
export const BOLD = (text: string): string => `\x1b[1m${text}\x1b[22m`;

/** Reverse video, left on to the end of the line, which `fitLine` pads and resets. */
export const REVERSE_ON = "\x1b[7m";

/**
 * Untrusted text as one line of plain characters.
 *
 * @param text The text (anything; null and undefined are empty).
 * @returns It, its controls escaped.
 */
export const safe = (text: unknown): string => escapeControls(String(text ?? ""), { inline: true });

/** Colours a text, or leaves it as it is when colour is off. */
export interface Painter {
  (colour: Colour, text: string): string;
}

/**
 * The painter for a screen.
 *
 * @param color Whether to colour (false with NO_COLOR).
 * @returns The painter.
 */
export function painter(color: boolean): Painter {
  return color
    ? (colour, text) => COLOURS[colour][0] + text + COLOURS[colour][1]
    : (_, text) => text;
}

/**
 * A status (a task's, a plan's, a plan event's type) in the colour its meaning earns: green
 * done, red failed, cyan at work, yellow waiting or stopped.
 *
 * @param status The status, already escaped.
 * @param paint The painter.
 * @returns It, painted.
 */
export function paintStatus(status: string, paint: Painter): string {
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

/**
 * Done out of all, in eight cells: `[###-----]`.
 *
 * @param done How many are done.
 * @param all How many there are.
 * @returns The bar.
 */
export function bar(done: number, all: number): string {
  const cells = 8;
  const full = all > 0 ? Math.round((done / all) * cells) : 0;
  return `[${"#".repeat(full)}${"-".repeat(cells - full)}]`;
}

/**
 * The local time of an ISO moment, as HH:MM:SS (`--:--:--` when it is not one).
 *
 * @param iso The moment.
 * @returns The time.
 */
export function clock(iso: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "--:--:--";
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`;
}
