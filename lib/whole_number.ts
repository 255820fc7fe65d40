/**
 * Whole numbers, as a person types them (`--max-turns 30`) and as a caller passes them: digits
 * only, within a range, never past `Number.MAX_SAFE_INTEGER` (a longer number of digits is no
 * longer whole once JavaScript reads it: `9007199254740993` becomes `…992`). A number out of
 * range is refused, quoted as it was given, never rounded, clamped or cut.
 *
 * @example Read a count typed on the command line
 * ```ts
 * import { parseWholeNumber } from "./whole_number.ts";
 *
 * parseWholeNumber("30", "--max-turns", { max: 10_000 }); // 30
 * parseWholeNumber("9007199254740993", "--max-turns"); // throws UsageError
 * ```
 *
 * @module
 */

import { quote } from "./clip.ts";
import { UsageError } from "./errors.ts";

/** The range a whole number must be in. */
export interface WholeNumberRange {
  /**
   * The least allowed.
   *
   * @default {1}
   */
  min?: number;
  /**
   * The most allowed; never more than `Number.MAX_SAFE_INTEGER`.
   *
   * @default {Number.MAX_SAFE_INTEGER}
   */
  max?: number;
}

/**
 * Reads a whole number a person typed (digits, spaces around them allowed), or checks one a
 * caller passed as a number.
 *
 * @example Check a count before using it
 * ```ts
 * import { parseWholeNumber } from "./whole_number.ts";
 *
 * const concurrency = parseWholeNumber(" 8 ", "--concurrency", { max: 1000 }); // 8
 * ```
 *
 * @param value The text as typed, or a number.
 * @param name What the number is, for the message: an option (`--count`) or a field (`limit`).
 * @param range The least and the most allowed.
 * @returns The number.
 * @throws {UsageError} `Invalid <name> "<value as given>": give a whole number from <min> to
 *   <max>`, when it is not digits, not a whole number, or out of the range.
 */
export function parseWholeNumber(
  value: unknown,
  name: string,
  range: WholeNumberRange = {},
): number {
  const min = range.min ?? 1;
  const max = Math.min(range.max ?? Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const number = typeof value === "number"
    ? value
    : typeof value === "string" && /^\s*\d+\s*$/.test(value)
    ? Number(value)
    : NaN;
  // Past MAX_SAFE_INTEGER the digits were rounded when read: refused, however large the max.
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw new UsageError(
      `Invalid ${name} ${quote(value)}: give a whole number from ${min} to ${max}`,
    );
  }
  return number;
}
