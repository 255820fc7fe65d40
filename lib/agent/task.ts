/**
 * Agent tasks: what a task asks of a ship ({@link TaskSpec}) and what it comes to
 * ({@link TaskOutcome}, {@link TaskStatus}). Beside it: checking a task's settings
 * (task_check.ts), the inbox command that carries it (task_command.ts), and reading its outcome
 * back (task_outcome.ts).
 *
 * @module
 */

/** What a task asks of a ship. */
export interface TaskSpec {
  /** The prompt for Claude Code. */
  prompt: string;
  /**
   * Work on this branch: carried on from origin's when origin has it, else made from the default
   * branch when the ship lacks it.
   */
  branch?: string;
  /**
   * Push the branch to `origin` when the run ends. Checked before Claude Code starts (a remote,
   * a trial push), so a run is never paid for only to be refused.
   *
   * @default {false}
   */
  push?: boolean;
  /**
   * Open a pull request for the branch with `gh` (pushing it first), and record its URL; gh and
   * its sign-in are checked before Claude Code starts.
   *
   * @default {false}
   */
  pr?: boolean;
  /** `--max-turns`. */
  maxTurns?: number;
  /** `--model`. */
  model?: string;
  /** `--permission-mode`; without it the run skips permissions (a ship is a sandbox). */
  permissionMode?: string;
  /** Continue this Claude Code session (`--resume`). */
  resume?: string;
  /**
   * When the run ends on a usage limit with a stated reset, resume it after the reset.
   *
   * @default {false}
   */
  retryOnLimit?: boolean;
  /**
   * How long without output before the task is flagged `stalled`.
   *
   * @default {10 * 60_000}
   */
  stallMs?: number;
  /**
   * A shell command run in the checkout after Claude Code ends well (`bash -c`, with the PATH
   * claude has, for the task's remaining time or at most `verifyTimeoutMs`). The task is `done`
   * only when it exits 0; otherwise the outcome is `error`, with `verify` saying why, and nothing
   * is pushed or opened (the session and commits stay, for a resume that fixes it).
   */
  verify?: string;
  /**
   * How long `verify` may run.
   *
   * @default {10 * 60_000}
   */
  verifyTimeoutMs?: number;
  /**
   * A branch that neither origin nor the ship has is made from `origin/<startFrom>` when origin
   * has that branch, else from the default branch as without it. Needs `branch`.
   */
  startFrom?: string;
  /**
   * Before Claude Code starts (once the branch is ready): fetch, and `git rebase
   * origin/<rebaseOnto>` (origin's default branch when origin lacks it). Conflicts are left in
   * the checkout for the agent to resolve, and its prompt says so. A rebase still in progress
   * when Claude Code ends is aborted, and the task is `error`. Needs `branch`.
   */
  rebaseOnto?: string;
  /**
   * Push with `--force-with-lease`: the branch is the task's own, and rebases rewrite it. A copy
   * on the ship that diverged from origin's is then worked on rather than refused.
   *
   * @default {false}
   */
  forcePush?: boolean;
}

/** How a task ended, or stands. */
export type TaskStatus =
  | "running"
  | "queued"
  | "waiting"
  | "done"
  | "error"
  | "timeout"
  | "rate_limited"
  | "stalled"
  | "cancelled";

/** The statuses of a task that has not ended: it holds its ship's checkout, or will. */
export const UNENDED_STATUSES: readonly TaskStatus[] = ["queued", "waiting", "running", "stalled"];

/**
 * Whether a task with this status has not ended yet.
 *
 * @param status The task's status.
 * @returns True while it is queued, waiting, running or stalled.
 */
export function hasNotEnded(status: TaskStatus): boolean {
  return UNENDED_STATUSES.includes(status);
}

/** The tokens a task used, in all its attempts, as Claude Code counted them. */
export interface TaskUsage {
  /** Input tokens. */
  inputTokens: number;
  /** Output tokens. */
  outputTokens: number;
  /** Input tokens written to the prompt cache. */
  cacheCreationInputTokens: number;
  /** Input tokens read from the prompt cache. */
  cacheReadInputTokens: number;
}

/** A commit the task made. */
export interface TaskCommit {
  /** Its full hash. */
  sha: string;
  /** Its subject line. */
  subject: string;
}

/** What one ship's task came to: the fields a script acts on. */
export interface TaskOutcome {
  /** The ship. */
  ship: string;
  /** The task's id (its inbox message's). */
  id: string;
  /**
   * How it ended; while it has not: `queued`, `waiting` (for the ship's checkout, or with
   * `resetAt` for a usage limit to reset), `running` or `stalled`.
   */
  status: TaskStatus;
  /** Claude Code's exit code, or null when it did not end by itself. */
  exitCode: number | null;
  /** The final answer's text. */
  result: string | null;
  /** Claude Code's own `is_error`. */
  isError: boolean;
  /** What the run cost, as Claude Code reported it: every attempt's, added up. */
  costUsd: number | null;
  /** How many times Claude Code ran: more than 1 when it was resumed after a usage limit. */
  attempts?: number;
  /** The tokens every attempt used, added up, when Claude Code said. */
  usage?: TaskUsage | null;
  /** The session, for `agent resume`. */
  sessionId: string | null;
  /** Turns taken. */
  numTurns: number | null;
  /** How long it ran. */
  durationMs: number | null;
  /** The branch worked on, if any. */
  branch: string | null;
  /** The commits made during the run, oldest first. */
  commits: TaskCommit[];
  /** The pull request's URL, when one was opened. */
  pr: string | null;
  /**
   * With `pr`: why the pull request could not be opened after the branch was pushed (the task
   * is still `done`: its work is on origin).
   */
  prError?: string;
  /** When it started on the ship (ISO 8601), once it has. */
  startedAt?: string | null;
  /** The prompt's first line, for lists. */
  prompt?: string;
  /**
   * For `rate_limited`, or `waiting` to resume after a limit: when the limit resets (ISO 8601),
   * when Claude said.
   */
  resetAt?: string | null;
  /** Why it did not succeed, in a sentence. */
  error?: string;
  /**
   * With `verify`: how verification went (`output` is the tail of its stdout and stderr
   * together, at most 4 KiB); null when it did not run (the run failed first).
   */
  verify?: {
    command: string;
    passed: boolean;
    exitCode: number | null;
    output: string;
    durationMs: number;
  } | null;
}

/** How long a task may be silent before it is flagged `stalled`, by default. */
export const DEFAULT_STALL_MS = 10 * 60_000;
