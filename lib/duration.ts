/**
 * Durations as people type them: `90s`, `5m`, `1h30m`, `250ms`, or plain seconds.
 *
 * @module
 */

import { UsageError } from "./errors.ts";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration into milliseconds.
 *
 * @example Parse a few durations
 * ```ts
 * import { parseDuration } from "@smithclay/ohcommodore";
 * parseDuration("1h30m"); // 5_400_000
 * parseDuration("45"); // 45_000 (plain numbers are seconds)
 * ```
 *
 * @param text The duration.
 * @returns Milliseconds, always positive.
 * @throws {UsageError} When the text is not a positive duration.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return positive(text, Number(trimmed) * 1000);
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== trimmed) {
    throw new UsageError(`Invalid duration "${text}": use forms like 30s, 5m, 1h30m or 250ms`);
  }
  return positive(text, parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_MS[unit], 0));
}

function positive(text: string, ms: number): number {
  if (!(ms > 0) || !Number.isFinite(ms)) {
    throw new UsageError(`Invalid duration "${text}": it must be greater than zero`);
  }
  return Math.round(ms);
}

/**
 * Formats milliseconds compactly for messages: `250ms`, `42s`, `5m`, `1h30m`.
 *
 * @param ms Milliseconds.
 * @returns The duration text.
 *
 * @example Format durations for a message
 * ```ts
 * import { formatDuration } from "@smithclay/ohcommodore";
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
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60 + (tenths % 10) / 10;
  return [h ? `${h}h` : "", m ? `${m}m` : "", rest || (!h && !m) ? `${rest}s` : ""].join("");
}
