/**
 * Usage limits as a person reads them: when a limit resets, in the local time of the one who
 * reads (`resets 14:05 (in 3h20m)`), never Claude Code's `…limit reached|1796598422`; and what a
 * task's attempts cost.
 *
 * @module
 */

import { formatDuration } from "../duration.ts";
import type { TaskOutcome } from "../agent/task.ts";

/**
 * When a limit resets, in local time: the time alone today, else with its date; and how long
 * until then.
 *
 * @example
 * ```ts
 * import { resetText } from "./limit_text.ts";
 * const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
 * console.log(resetText(inAnHour)); // "resets 15:05 (in 1h)", in the reader's time zone
 * ```
 *
 * @param resetAt When it resets (ISO 8601).
 * @param now The time now.
 * @returns The words, or "" for a time that is not one.
 */
export function resetText(resetAt: string, now: number = Date.now()): string {
  const at = Date.parse(resetAt);
  if (!Number.isFinite(at)) return "";
  const left = at - now;
  if (left <= 0) return `reset at ${localTime(at, now)}`;
  // To the second under a minute, to the minute above.
  const rounded = left < 60_000
    ? Math.max(1000, Math.round(left / 1000) * 1000)
    : Math.round(left / 60_000) * 60_000;
  return `resets ${localTime(at, now)} (in ${formatDuration(rounded)})`;
}

/**
 * A time as `HH:MM` in the local time zone when it is today, else `YYYY-MM-DD HH:MM`.
 *
 * @param at The time (epoch milliseconds).
 * @param now The time now, for what today is.
 * @returns The text.
 */
export function localTime(at: number, now: number = Date.now()): string {
  const date = new Date(at);
  const today = new Date(now);
  const two = (n: number) => String(n).padStart(2, "0");
  const time = `${two(date.getHours())}:${two(date.getMinutes())}`;
  const sameDay = date.getFullYear() === today.getFullYear() &&
    date.getMonth() === today.getMonth() && date.getDate() === today.getDate();
  return sameDay
    ? time
    : `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${time}`;
}

/**
 * A task's status with the reset of its limit, when it has one: `rate_limited, resets 14:05
 * (in 3h20m)`.
 *
 * @param outcome The task.
 * @param now The time now.
 * @returns The text.
 */
export function statusText(
  outcome: Pick<TaskOutcome, "status" | "resetAt">,
  now: number = Date.now(),
): string {
  const reset = outcome.resetAt ? resetText(outcome.resetAt, now) : "";
  return reset ? `${outcome.status}, ${reset}` : outcome.status;
}

/**
 * Claude Code's own words with a limit's reset moment in local time: `Claude AI usage limit
 * reached|1796598422` reads `Claude AI usage limit reached; resets 14:05 (in 3h20m)`.
 *
 * @param text What Claude Code said.
 * @param now The time now.
 * @returns The text.
 */
export function readableResult(text: string, now: number = Date.now()): string {
  return text.replace(
    /(limit reached)\|(\d{9,11})\b/gi,
    (_, words: string, epoch: string) =>
      `${words}; ${resetText(new Date(Number(epoch) * 1000).toISOString(), now)}`,
  );
}

/**
 * A task's cost, and its attempts when there were more than one: `$0.0135 (2 attempts)`.
 *
 * @param outcome The task.
 * @returns The text, `-` when no cost is known.
 */
export function costText(outcome: Pick<TaskOutcome, "costUsd" | "attempts">): string {
  if (outcome.costUsd === null) return "-";
  const attempts = (outcome.attempts ?? 1) > 1 ? ` (${outcome.attempts} attempts)` : "";
  return `$${outcome.costUsd.toFixed(4)}${attempts}`;
}
