/**
 * How a problem with a plan is worded: a value shown, ids listed, another module's message read
 * on after a key, and the key a typo most likely meant.
 *
 * @module
 */

import { quote } from "../clip.ts";

/**
 * A value as a message shows it: text quoted, numbers as they are, collections by their kind.
 *
 * @param value Any value from a plan.
 * @returns It, for a message.
 */
export function shown(value: unknown): string {
  if (typeof value === "string") return quote(value);
  if (Array.isArray(value)) return "a list";
  if (value === null || value === undefined) return "an empty value";
  if (typeof value === "object") return "a mapping";
  return quote(value).slice(1, -1);
}

/**
 * Ids for a message: the first few, and how many more.
 *
 * @param ids The ids.
 * @returns Them, for a message.
 */
export function listed(ids: string[]): string {
  const shownIds = ids.slice(0, 10).join(", ");
  return ids.length > 10 ? `${shownIds} and ${ids.length - 10} more` : shownIds;
}

/**
 * Another module's message ("Invalid duration …") read on after a key.
 *
 * @param text The message.
 * @returns It, its first letter small unless it starts a name in capitals.
 */
export function uncapitalised(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text[0].toLowerCase() + text.slice(1) : text;
}

/**
 * The known key a typo most likely meant: one or two letters off, or the start of it.
 *
 * @param name The key as typed.
 * @param known The keys there are.
 * @returns The nearest, if one is near enough.
 */
export function nearest(name: string, known: readonly string[]): string | undefined {
  const typed = name.toLowerCase();
  const allowed = typed.length <= 3 ? 1 : 2;
  let best: { key: string; distance: number } | undefined;
  for (const key of known) {
    const distance = key.toLowerCase().startsWith(typed) && typed.length >= 4
      ? 0
      : editDistance(typed, key.toLowerCase());
    if (distance <= allowed && (!best || distance < best.distance)) best = { key, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const change = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + change);
    }
    previous = row;
  }
  return previous[b.length];
}
