/**
 * How `fleet exec` shows its results: ships whose output and exit code are the same are shown
 * once, under the list of their names (as `clush -b` does), so twenty ships that agree read as
 * one block and the odd one out stands apart.
 *
 * @module
 */

import type { ExecResult } from "../fleet/exec.ts";
import { escapeControls } from "./output.ts";

/** Ships that ended alike, and how. */
interface ExecGroup {
  /** The ships' names. */
  ships: string[];
  /** What they share. */
  result: Pick<ExecResult, "ok" | "status" | "exitCode" | "stdout" | "stderr" | "error">;
}

/**
 * Groups results whose status, exit code and output are identical, in the order first seen.
 *
 * @param results One per ship.
 * @returns The groups.
 */
function groupResults(results: readonly ExecResult[]): ExecGroup[] {
  const groups = new Map<string, ExecGroup>();
  for (const result of results) {
    // An unreachable ship's error names its host; reasons of the same kind still differ.
    const key = JSON.stringify([
      result.status,
      result.exitCode,
      result.stdout,
      result.stderr,
      result.ok ? "" : result.error,
    ]);
    const group = groups.get(key);
    if (group) group.ships.push(result.ship);
    else groups.set(key, { ships: [result.ship], result });
  }
  return [...groups.values()];
}

/**
 * How one ship's run ended, in a few words: `ok`, `error (exit 3)`, `unreachable`.
 *
 * @param result The ship's result.
 * @returns The words.
 */
export function describeOutcome(result: Pick<ExecResult, "ok" | "status" | "exitCode">): string {
  if (result.ok) return "ok";
  return `${result.status}${result.exitCode === null ? "" : ` (exit ${result.exitCode})`}`;
}

/**
 * The text of the grouped summary, with control characters in output shown escaped.
 *
 * @param results One per ship.
 * @returns Lines for stdout.
 */
export function formatExecSummary(results: readonly ExecResult[]): string {
  const blocks = groupResults(results).map(({ ships, result }) => {
    const how = describeOutcome(result);
    const lines = [`---------------- ${[...ships].sort().join(",")} (${ships.length}): ${how}`];
    // Output is shown, not obeyed: a ship's escape sequences reach the terminal as text.
    if (result.stdout) lines.push(escapeControls(result.stdout.replace(/\n$/, "")));
    if (result.stderr) {
      const stderr = escapeControls(result.stderr.replace(/\n$/, ""));
      lines.push(...stderr.split("\n").map((l) => `! ${l}`));
    }
    // "exit code 5" says nothing the heading does not.
    if (!result.ok && result.error && result.error !== `exit code ${result.exitCode}`) {
      lines.push(`  ${escapeControls(result.error)}`);
    }
    return lines.join("\n");
  });
  const failed = results.filter((result) => !result.ok).length;
  blocks.push(`${results.length - failed} of ${results.length} ship(s) succeeded`);
  return blocks.join("\n");
}
