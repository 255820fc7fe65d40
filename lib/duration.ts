/**
 * Durations as people type them: `90s`, `5m`, `1h30m`, `250ms`, or plain seconds; and the one
 * limit on how long anything may take, {@link MAX_DURATION_MS}.
 *
 * @module
 */

import { quote } from "./clip.ts";
import { UsageError } from "./errors.ts";

const DAY_MS = 86_400_000;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS };

/**
 * The longest a command may run, and the longest wait a person or caller may ask for: 7 days.
 * Timers overflow past 2^31−1 ms (about 24.8 days); a week stays well inside that with the
 * margins added to waits ({@link WAIT_MARGIN_MS}), and is longer than any command a fleet
 * should leave running unattended. Longer durations are refused, not shortened.
 *
 * @example Refuse a timeout before sending it
 * ```ts
 * import { formatDuration, MAX_DURATION_MS } from "@smithclay/ohcommodore/inbox";
 * const timeoutMs = 10 * 86_400_000;
 * if (timeoutMs > MAX_DURATION_MS) console.error(`at most ${formatDuration(MAX_DURATION_MS)}`);
 * ```
 */
export const MAX_DURATION_MS: number = 7 * DAY_MS;

/**
 * How much longer than {@link MAX_DURATION_MS} a wait for a command may be: waits for a command
 * outlive its timeout by a minute, so that its own timeout is what ends it.
 */
export const WAIT_MARGIN_MS: number = 60_000;

/**
 * Checks a duration a caller gave in milliseconds: a number above zero and at most `max`.
 *
 * @param ms The duration.
 * @param name The option's name, for the message, e.g. `timeoutMs`.
 * @param max The longest allowed; defaults to {@link MAX_DURATION_MS}.
 * @returns The duration.
 * @throws {UsageError} When it is not a number, not above zero, or longer than `max`.
 */
export function checkDurationMs(ms: unknown, name: string, max: number = MAX_DURATION_MS): number {
  if (typeof ms !== "number" || !(ms > 0) || !(ms <= max)) {
    throw new UsageError(
      `Invalid ${name} ${quote(ms)}: give milliseconds above 0 and at most ${max} ` +
        `(${formatDuration(max)})`,
    );
  }
  return ms;
}

/**
 * Parses a duration into milliseconds.
 *
 * @example Parse a few durations
 * ```ts
 * import { parseDuration } from "@smithclay/ohcommodore/inbox";
 * parseDuration("1h30m"); // 5_400_000
 * parseDuration("45"); // 45_000 (plain numbers are seconds)
 * ```
 *
 * @param text The duration.
 * @returns Milliseconds, always positive and at most {@link MAX_DURATION_MS}.
 * @throws {UsageError} When the text is not a positive duration, or one longer than 7 days.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return positive(text, Number(trimmed) * 1000);
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== trimmed) {
    throw new UsageError(`Invalid duration ${quote(text)}: use forms like 30s, 5m, 1h30m or 250ms`);
  }
  return positive(text, parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_MS[unit], 0));
}

function positive(text: string, ms: number): number {
  if (!(ms > 0) || !Number.isFinite(ms)) {
    throw new UsageError(`Invalid duration ${quote(text)}: it must be greater than zero`);
  }
  if (ms > MAX_DURATION_MS) {
    throw new UsageError(
      `Invalid duration ${quote(text)}: it must be at most ${formatDuration(MAX_DURATION_MS)}`,
    );
  }
  return Math.round(ms);
}

/**
 * Formats milliseconds compactly for messages: `250ms`, `42s`, `5m`, `1h30m`, `7d`.
 *
 * @param ms Milliseconds.
 * @returns The duration text.
 *
 * @example Format durations for a message
 * ```ts
 * import { formatDuration } from "@smithclay/ohcommodore/inbox";
 *
 * console.log(formatDuration(250)); // "250ms"
 * console.log(formatDuration(90 * 60_000)); // "1h30m"
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  // Whole seconds read best; a wait of 1.5s is said as 1.5s, not rounded to 2s.
  const tenths = Math.round(ms / 100);
  const s = Math.floor(tenths / 10);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60 + (tenths % 10) / 10;
  return [
    d ? `${d}d` : "",
    h ? `${h}h` : "",
    m ? `${m}m` : "",
    rest || (!d && !h && !m) ? `${rest}s` : "",
  ].join("");
}

/**
 * Checks the `timeoutMs` (a command's) and `waitMs` (a wait for it) a caller gave, where given.
 *
 * @param options The caller's options.
 * @throws {UsageError} When either is not a number above zero, or is too long.
 */
export function checkTimeoutAndWait(options: { timeoutMs?: number; waitMs?: number }): void {
  if (options.timeoutMs !== undefined) checkDurationMs(options.timeoutMs, "timeoutMs");
  if (options.waitMs !== undefined) {
    checkDurationMs(options.waitMs, "waitMs", MAX_DURATION_MS + WAIT_MARGIN_MS);
  }
}
