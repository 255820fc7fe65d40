/**
 * What a plan is while it runs, as scripts and the CLI see it: its status, its tasks' and the
 * events of its history. The flagship's driver keeps these; `plan status --json` prints them.
 *
 * @module
 */

import type { TaskUsage } from "../agent/task.ts";

/** How a plan stands: `running` until every task has ended. */
export type PlanStatus = "running" | "done" | "failed" | "cancelled" | "budget_exhausted";

/**
 * How a task of a plan stands: `waiting` for what it needs, `ready` to go to an idle ship,
 * `running` an agent there, `verifying` its work, `integrating` it onto the plan's branch, then
 * `done`; or `failed` after its attempts, `blocked` by a task it needs that failed, `cancelled`.
 */
export type PlanTaskStatus =
  | "waiting"
  | "ready"
  | "running"
  | "verifying"
  | "integrating"
  | "done"
  | "failed"
  | "blocked"
  | "cancelled";

/** Statuses a task does not leave. */
export const FINAL_TASK_STATUSES: readonly PlanTaskStatus[] = [
  "done",
  "failed",
  "blocked",
  "cancelled",
];

/** One task of a plan, as `plan status --json` prints it. */
export interface PlanTaskSummary {
  /** Its id in the plan file. */
  id: string;
  /** How it stands. */
  status: PlanTaskStatus;
  /** The ship working on it (or that last did). */
  ship: string | null;
  /** Agent runs so far. */
  attempts: number;
  /** What its agent runs cost. */
  costUsd: number;
  /** The tokens they used. */
  tokens: TaskUsage;
  /** Its branch, `plan/<plan>/<task>`. */
  branch: string;
  /** Its pull request, with `--pr each`. */
  pr: string | null;
  /** When its first attempt started (ISO 8601). */
  startedAt: string | null;
  /** When it ended (ISO 8601). */
  finishedAt: string | null;
  /** The tasks it needs. */
  needs: string[];
  /** Why it did not end `done`, in a sentence. */
  error?: string | null;
}

/** A plan, as `plan status --json` and `plan run --wait --json` print it. */
export interface PlanSummary {
  /** Its id. */
  id: string;
  /** How it stands. */
  status: PlanStatus;
  /** What its agent runs cost in all. */
  costUsd: number;
  /** Its budget, if it has one. */
  budgetUsd: number | null;
  /** The tokens its agent runs used. */
  tokens: TaskUsage;
  /** The repository its ships work in. */
  repo: string;
  /** The branch its tasks are brought onto. */
  integrate: string;
  /** Its pull request, with `--pr one`. */
  pr: string | null;
  /** The ships it may use. */
  ships: string[];
  /** When it was handed to the flagship (ISO 8601). */
  createdAt: string;
  /** When it ended (ISO 8601). */
  finishedAt: string | null;
  /** What its end says: what was not done, and why. */
  note: string | null;
  /** Its tasks, in the order of the plan file. */
  tasks: PlanTaskSummary[];
}

/** What happens to a plan, in order. */
export type PlanEventType =
  | "started"
  | "dispatched"
  | "verifying"
  | "verify_passed"
  | "verify_failed"
  | "attempt_failed"
  | "integrating"
  | "integrated"
  | "conflict"
  | "reassigned"
  | "pr"
  | "done"
  | "failed"
  | "blocked"
  | "cancelled"
  | "budget_exhausted"
  | "ended";

/** One event of a plan's history. */
export interface PlanEvent {
  /** The plan. */
  plan: string;
  /** Its place in the plan's history, from 1. */
  seq: number;
  /** When (ISO 8601). */
  at: string;
  /** What happened. */
  type: PlanEventType;
  /** The task it concerns, if one. */
  task: string | null;
  /** The ship, if one. */
  ship: string | null;
  /** What happened, in a sentence. */
  text: string;
}

/** Which ship works for which plan: `fleet status` shows it. */
export interface PlanAssignment {
  /** The ship. */
  ship: string;
  /** The plan. */
  plan: string;
  /** The task (empty for the plan's own pull request). */
  task: string;
  /** What the ship does for it: the agent, an integration, a pull request. */
  kind: "agent" | "integrate" | "pr";
}

/** A plan as `plan list` shows it. */
export type PlanListing = Omit<PlanSummary, "tasks"> & { tasks: number; tasksDone: number };

/** Tokens none yet. */
export function noTokens(): TaskUsage {
  return { inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 };
}

/**
 * Two token counts added up.
 *
 * @param a One.
 * @param b The other (missing: none).
 * @returns Their sum.
 */
export function addTokens(a: TaskUsage, b: TaskUsage | null | undefined): TaskUsage {
  if (!b) return a;
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheCreationInputTokens: a.cacheCreationInputTokens + b.cacheCreationInputTokens,
    cacheReadInputTokens: a.cacheReadInputTokens + b.cacheReadInputTokens,
  };
}
