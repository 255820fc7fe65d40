/**
 * What a plan holds: {@link PlanFile} and {@link PlanTask}, the keys a plan file and a plan given
 * as a value take, and the limits on their values. Data only: `plan_check.ts` checks a plan
 * against it, and every other module that needs a limit or a key list takes it from here.
 *
 * @module
 */

/** A plan as its file gives it (YAML or JSON), checked. */
export interface PlanFile {
  /**
   * Shell command that verifies a task in the ship's checkout (exit 0 = verified); the default
   * for every task.
   */
  verify?: string;
  /**
   * Agent runs per task, verification retries included: a whole number from 1 to
   * {@link MAX_ATTEMPTS}.
   *
   * @default {2}
   */
  maxAttempts?: number;
  /** The plan's budget in US dollars: above 0, at most {@link MAX_BUDGET_USD}. */
  budgetUsd?: number;
  /** Claude Code's `--model`, as in `agent run`. */
  model?: string;
  /** Claude Code's `--max-turns`, as in `agent run`. */
  maxTurns?: number;
  /** Claude Code's `--permission-mode`, as in `agent run`. */
  permissionMode?: string;
  /** How long one attempt may run (the file's `timeout`). */
  timeoutMs?: number;
  /** How long an attempt may be silent before it is stalled (the file's `stall`). */
  stallMs?: number;
  /**
   * How long a ship may be unreachable before its attempt goes to another ship (the file's
   * `reassignAfter`; the driver's default is 2 minutes).
   */
  reassignAfterMs?: number;
  /** The integration branch: a branch name git takes, as `agent run --branch`. */
  integrate?: string;
  /** Pull requests: one per task, one for the plan, or none (push only). */
  pr?: "each" | "one" | "none";
  /** The tasks, in the file's order: 1 to {@link MAX_PLAN_TASKS}. */
  tasks: PlanTask[];
}

/** One task of a plan. */
export interface PlanTask {
  /**
   * 1 to 40 lowercase letters, digits and "-", starting with a letter or digit: it becomes part
   * of the task's branch, `plan/<plan>/<task>`.
   */
  id: string;
  /** What the agent is asked to do, kept as written. */
  prompt: string;
  /** The ids of the tasks it needs done first. */
  needs?: string[];
  /** Its verify command, in place of the plan's. */
  verify?: string;
  /** The GitHub issue it fixes: its pull request says `Fixes #N`. */
  issue?: number;
}

/** The most tasks a plan takes. */
export const MAX_PLAN_TASKS = 200;

/** The most agent runs a task may be given (`maxAttempts`). */
export const MAX_ATTEMPTS = 20;

/** The largest budget a plan takes, in US dollars. */
export const MAX_BUDGET_USD = 100_000;

/**
 * The largest prompt a task takes, in bytes. A prompt travels in an inbox command, which takes at
 * most 1 MiB: room is left for the rest of the task and for the failures handed back to the agent.
 */
export const MAX_PROMPT_BYTES = 256 * 1024;

/** What a task id looks like: it becomes part of a branch name. */
export const TASK_ID: RegExp = /^[a-z0-9][a-z0-9-]{0,39}$/;

/** The pull request modes a plan takes (`pr`). */
export const PR_MODES = ["each", "one", "none"] as const;

/** The keys of a task. */
export const TASK_KEYS: readonly string[] = ["id", "prompt", "needs", "verify", "issue"];

// The plan's keys before `tasks`; the file gives durations, a value milliseconds.
const SETTINGS = ["verify", "maxAttempts", "budgetUsd", "model", "maxTurns", "permissionMode"];

/** The keys of a plan file: durations as `timeout`, `stall` and `reassignAfter`. */
export const FILE_KEYS: readonly string[] = [
  ...SETTINGS,
  "timeout",
  "stall",
  "reassignAfter",
  "integrate",
  "pr",
  "tasks",
];

/** The keys of a plan given as a value: durations in milliseconds, as {@link PlanFile} has them. */
export const VALUE_KEYS: readonly string[] = [
  ...SETTINGS,
  "timeoutMs",
  "stallMs",
  "reassignAfterMs",
  "integrate",
  "pr",
  "tasks",
];
