/**
 * A task's stdout: Claude Code's stream-json passed through line by line, the task's own lines
 * among them, and its outcome last. Lines go out whole, one at a time, so that the outcome a
 * stop prints never lands inside another.
 *
 * @module
 */

import { writeAll } from "../lines.ts";
import type { TaskOutcome } from "./task.ts";
import { OUTCOME_TYPE } from "./task_outcome.ts";

// Lines go out one whole line at a time: the outcome a stop prints never lands inside another.
let passing: Promise<void> = Promise.resolve();

/**
 * Writes a line to stdout once the lines before it are out, whole: Claude Code's stream as it
 * comes, and the task's own lines (waiting, verifying, the outcome).
 *
 * @param line The line, without its newline.
 * @returns When it is written.
 */
export function passThrough(line: string): Promise<void> {
  const bytes = new TextEncoder().encode(line + "\n");
  passing = passing.catch(() => {}).then(() => writeAll(Deno.stdout, bytes));
  return passing;
}

/**
 * Prints the task's outcome as its last line (what `printedOutcome` reads), after the lines
 * before it, or after a second when stdout does not drain.
 *
 * @param outcome The outcome.
 * @returns When it is written.
 */
export async function printOutcome(outcome: TaskOutcome): Promise<void> {
  // A stdout that does not drain does not keep a stop from its last words.
  await within(passing.catch(() => {}), 1000, undefined);
  await passThrough(JSON.stringify({ type: OUTCOME_TYPE, outcome }));
}

/**
 * The promise's value, or the fallback after `ms`: how long a stopping task waits on anything.
 *
 * @param promise What is waited for.
 * @param ms How long.
 * @param fallback The value when it takes longer.
 * @returns Its value or the fallback.
 */
export async function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<T>((resolve) => timer = setTimeout(() => resolve(fallback), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
