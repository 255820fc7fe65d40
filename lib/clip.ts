/**
 * Text shortened for people: a first line of at most so many characters, and a value someone
 * typed quoted back in a message without echoing all of it.
 *
 * @example Quote a long value back in an error
 * ```ts
 * import { quote } from "./clip.ts";
 *
 * const name = "x".repeat(10_000);
 * console.error(`Invalid name ${quote(name)}: give at most 20`); // Invalid name "xx…x…": …
 * ```
 *
 * @module
 */

/** How many characters of a typed value an error message quotes, at most. */
export const QUOTE_MAX = 60;

/**
 * Shortens text to its first line and at most `max` characters; "…" marks what was left out.
 *
 * @example Keep a table cell to one short line
 * ```ts
 * import { oneLine } from "./clip.ts";
 *
 * console.log(oneLine("make test\nmake deploy", 40)); // "make test…"
 * console.log(oneLine("a".repeat(100), 10)); // "aaaaaaaaa…"
 * ```
 *
 * @param text The text.
 * @param max The most characters to keep, "…" included (at least 1).
 * @returns The first line, shortened when it had to be.
 */
export function oneLine(text: string, max: number): string {
  const first = text.split("\n", 1)[0];
  // Code points, not UTF-16 units: a cut never splits a character in two. A code point takes
  // at most two units, so twice `max` units hold more than enough of them.
  const chars = Array.from(first.slice(0, 2 * max + 2));
  const more = first !== text || first.length > 2 * max + 2 || chars.length > max;
  return more ? chars.slice(0, Math.max(0, max - 1)).join("") + "…" : first;
}

/**
 * Quotes a value a person or caller gave, for an error message: in double quotes, one line, at
 * most {@link QUOTE_MAX} characters of it. A message then stays one line however long the input.
 *
 * @example Say which value was wrong
 * ```ts
 * import { quote } from "./clip.ts";
 *
 * console.log(`Invalid address ${quote("nobody")}`); // Invalid address "nobody"
 * ```
 *
 * @param value The value (shown as `String(value)`).
 * @param max The most characters to quote.
 * @returns The quoted value.
 */
export function quote(value: unknown, max: number = QUOTE_MAX): string {
  return `"${oneLine(String(value), max)}"`;
}

/**
 * The first line of a text, trimmed: DuckDB's error without its caret diagram, a description's
 * summary.
 *
 * @example The first line of an error
 * ```ts
 * import { firstLine } from "./clip.ts";
 *
 * console.log(firstLine("Parser Error: syntax error\nLINE 1: SELEC")); // "Parser Error: syntax error"
 * ```
 *
 * @param text The text.
 * @returns Its first line.
 */
export function firstLine(text: string): string {
  return text.split("\n", 1)[0].trim();
}
