/**
 * A task's outcome as it comes back: a blank one to fill, what its attempts cost and used in all,
 * the outcome line it printed last, and its outcome from its inbox message (printed when it
 * ended by itself, else what the message says).
 *
 * @module
 */

import type { Message } from "../inbox/message.ts";
import type { TaskOutcome, TaskStatus, TaskUsage } from "./task.ts";
import { printedLine, taskOf } from "./task_command.ts";

/** The type of the outcome line a task prints last. */
export const OUTCOME_TYPE = "ohcommodore_outcome";

/**
 * An outcome that knows nothing yet but where, which and how it stands.
 *
 * @param ship The ship.
 * @param id The task's id.
 * @param status How it stands.
 * @param branch Its branch, if any.
 * @returns The outcome.
 */
export function blankOutcome(
  ship: string,
  id: string,
  status: TaskStatus,
  branch?: string | null,
): TaskOutcome {
  return {
    ship,
    id,
    status,
    exitCode: null,
    result: null,
    isError: false,
    costUsd: null,
    sessionId: null,
    numTurns: null,
    durationMs: null,
    branch: branch ?? null,
    commits: [],
    pr: null,
  };
}

/**
 * What a task's attempts cost and used in all, from each run's result object: Claude Code
 * reports `total_cost_usd` and `usage` per process, so a run resumed after a usage limit
 * reports its own part only.
 *
 * @param results Each attempt's result object, or null where it printed none.
 * @returns The cost (null when no attempt stated one) and the tokens (null when none did).
 */
export function addAttempts(
  results: readonly (Record<string, unknown> | null)[],
): { costUsd: number | null; usage: TaskUsage | null } {
  let costUsd: number | null = null;
  let usage: TaskUsage | null = null;
  const count = (value: unknown) =>
    typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : 0;
  for (const result of results) {
    const cost = result?.total_cost_usd;
    if (typeof cost === "number" && Number.isFinite(cost)) costUsd = (costUsd ?? 0) + cost;
    const used = result?.usage as Record<string, unknown> | undefined;
    if (typeof used !== "object" || used === null) continue;
    usage ??= {
      inputTokens: 0,
      outputTokens: 0,
      cacheCreationInputTokens: 0,
      cacheReadInputTokens: 0,
    };
    usage.inputTokens += count(used.input_tokens);
    usage.outputTokens += count(used.output_tokens);
    usage.cacheCreationInputTokens += count(used.cache_creation_input_tokens);
    usage.cacheReadInputTokens += count(used.cache_read_input_tokens);
  }
  // Dollars add up in floating point: to a millionth of a dollar.
  return { costUsd: costUsd === null ? null : Math.round(costUsd * 1e6) / 1e6, usage };
}

/**
 * The outcome a task printed last, if it did.
 *
 * @param output The task's stdout (its tail).
 * @returns The outcome line, parsed.
 */
export function printedOutcome(output: string | null): Partial<TaskOutcome> | undefined {
  return printedLine(output, OUTCOME_TYPE) as Partial<TaskOutcome> | undefined;
}

/**
 * A task's outcome from its inbox message: what it printed when it ended by itself, else what
 * the message says (timed out, cancelled, still running or queued).
 *
 * @param ship The ship.
 * @param message The task's message.
 * @param stalled Whether the ship flags the running task stalled.
 * @returns The outcome.
 */
export function outcomeOf(ship: string, message: Message, stalled = false): TaskOutcome {
  const spec = taskOf(message.command);
  const base: TaskOutcome = {
    ...blankOutcome(ship, message.id, "error", spec?.branch),
    startedAt: message.startedAt,
    prompt: spec?.prompt.split("\n")[0].slice(0, 200) ?? "",
  };
  if (message.status === "unread" || message.status === "held") {
    return { ...base, status: "queued" };
  }
  if (message.status === "running" || message.status === "pending") {
    return { ...base, status: stalled ? "stalled" : "running" };
  }
  const printed = printedOutcome(message.result);
  if (message.error === "cancelled") {
    return { ...base, ...printed, ship, id: message.id, status: "cancelled", error: "cancelled" };
  }
  if (message.exitCode === 124 && /^timed out/.test(message.error ?? "")) {
    return { ...base, ...printed, ship, id: message.id, status: "timeout", error: message.error! };
  }
  if (printed) return { ...base, ...printed, ship, id: message.id };
  const tail = (message.stderr ?? "").trim().split("\n").slice(-3).join("\n");
  return {
    ...base,
    exitCode: message.exitCode,
    error: message.error ?? (tail || "the task ended without an outcome"),
  };
}
