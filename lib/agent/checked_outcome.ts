/**
 * An agent task's outcome as a ship told it, believed field by field: a ship may run anything,
 * so each field has its type or is dropped, amounts are not negative, and texts are clipped
 * before another member keeps them, adds them up or shows them.
 *
 * @module
 */

import type { TaskOutcome, TaskUsage } from "./task.ts";
import { blankOutcome } from "./task_outcome.ts";

// The most of each text kept from a ship's outcome: an answer, an error or a verification's tail
// says what it needs well within these.
const MAX_RESULT_CHARS = 64 * 1024;
const MAX_TEXT_CHARS = 4096;
const MAX_COMMITS = 1000;

/**
 * An outcome as a ship told it, or undefined when it is not one.
 *
 * @param ship The ship asked (the outcome is stamped with it, whatever it says).
 * @param value What it said.
 * @returns The outcome, checked.
 */
export function checkedOutcome(ship: string, value: unknown): TaskOutcome | undefined {
  const task = value as Partial<TaskOutcome> | null;
  if (typeof task?.id !== "string" || typeof task.status !== "string") return undefined;
  const text = (x: unknown, max = MAX_TEXT_CHARS) => typeof x === "string" ? x.slice(0, max) : null;
  const commits = Array.isArray(task.commits) ? task.commits.slice(0, MAX_COMMITS) : [];
  return {
    ...blankOutcome(
      ship,
      text(task.id, 64)!,
      task.status as TaskOutcome["status"],
      text(task.branch),
    ),
    exitCode: number(task.exitCode),
    result: text(task.result, MAX_RESULT_CHARS),
    isError: task.isError === true,
    costUsd: amount(task.costUsd),
    ...(number(task.attempts) !== null ? { attempts: number(task.attempts)! } : {}),
    ...(task.usage !== undefined ? { usage: checkedUsage(task.usage) } : {}),
    sessionId: text(task.sessionId, 200),
    numTurns: number(task.numTurns),
    durationMs: number(task.durationMs),
    commits: commits
      .filter((c) => typeof c?.sha === "string" && typeof c?.subject === "string")
      .map((c) => ({ sha: c.sha.slice(0, 64), subject: c.subject.slice(0, 500) })),
    pr: text(task.pr, 500),
    startedAt: text(task.startedAt, 64),
    prompt: text(task.prompt, 200) ?? "",
    ...(text(task.resetAt, 64) ? { resetAt: text(task.resetAt, 64) } : {}),
    ...(text(task.error) ? { error: text(task.error)! } : {}),
    ...(text(task.prError) ? { prError: text(task.prError)! } : {}),
    ...(task.verify !== undefined ? { verify: checkedVerify(task.verify) } : {}),
  };
}

/**
 * How a verification went, as a ship told it, or null when it is not that.
 *
 * @param value What it said.
 * @returns The verification, checked.
 */
export function checkedVerify(value: unknown): TaskOutcome["verify"] {
  const verify = value as Record<string, unknown> | null;
  if (typeof verify !== "object" || verify === null) return null;
  if (typeof verify.command !== "string" || typeof verify.output !== "string") return null;
  return {
    command: verify.command.slice(0, MAX_TEXT_CHARS),
    passed: verify.passed === true,
    exitCode: number(verify.exitCode),
    // The tail: where a failure says why.
    output: verify.output.slice(-MAX_TEXT_CHARS),
    durationMs: amount(verify.durationMs) ?? 0,
  };
}

// Token counts as a ship told them, or null.
function checkedUsage(value: unknown): TaskUsage | null {
  const usage = value as Partial<TaskUsage> | null;
  if (typeof usage !== "object" || usage === null) return null;
  const count = (x: unknown) => amount(x) ?? 0;
  return {
    inputTokens: count(usage.inputTokens),
    outputTokens: count(usage.outputTokens),
    cacheCreationInputTokens: count(usage.cacheCreationInputTokens),
    cacheReadInputTokens: count(usage.cacheReadInputTokens),
  };
}

function number(x: unknown): number | null {
  return typeof x === "number" && Number.isFinite(x) ? x : null;
}

// A cost, a count or a duration: a finite number, not below zero.
function amount(x: unknown): number | null {
  const value = number(x);
  return value !== null && value >= 0 ? value : null;
}
