/**
 * Agent tasks as inbox messages: what a task asks (the prompt and how to run Claude Code), how
 * that travels (a fixed command whose here-document feeds the task to `ohcommodore agent _task`
 * on stdin, so the prompt is never on a command line), and what comes back (one outcome per
 * task, the last line of its output).
 *
 * @module
 */

import { quote } from "../clip.ts";
import { UsageError } from "../errors.ts";
import { type Message, newMessageId } from "../inbox/message.ts";
import { formatDuration, MAX_DURATION_MS } from "../duration.ts";
import { parseWholeNumber } from "../whole_number.ts";

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

/** The first line of every task's command: how a task is told from other messages. */
export const TASK_MARK = "# ohcommodore agent task";

/** The type of the outcome line a task prints last. */
export const OUTCOME_TYPE = "ohcommodore_outcome";

/** How long a task may be silent before it is flagged `stalled`, by default. */
export const DEFAULT_STALL_MS = 10 * 60_000;

/** The most turns a task may ask Claude Code for (`--max-turns`). */
export const MAX_TURNS = 10_000;

/** The longest branch name a task takes. */
export const MAX_BRANCH_LENGTH = 200;

const MODEL = /^[A-Za-z0-9._:\[\]-]{1,100}$/;
const PERMISSION_MODES = ["default", "acceptEdits", "plan", "bypassPermissions", "dontAsk"];

/**
 * Checks a task's settings as a person gave them.
 *
 * @param spec The task.
 * @returns It, checked.
 * @throws {UsageError} Naming what is wrong and what to give instead.
 */
export function checkTaskSpec(spec: TaskSpec): TaskSpec {
  if (typeof spec.prompt !== "string" || spec.prompt.trim() === "") {
    throw new UsageError(`Give the prompt after "--", e.g. agent run --all -- "fix the tests"`);
  }
  for (const key of ["branch", "startFrom", "rebaseOnto"] as const) {
    const name = spec[key];
    const wrong = name === undefined ? undefined : branchNameProblem(name);
    if (wrong) {
      throw new UsageError(
        `${quote(name)} is not a branch name git takes${key === "branch" ? "" : ` (${key})`}: ` +
          `${wrong}; give one like agent/fix`,
      );
    }
  }
  if ((spec.push || spec.pr) && !spec.branch) {
    throw new UsageError(`--push and --pr need --branch: name the branch the work goes on`);
  }
  if ((spec.startFrom !== undefined || spec.rebaseOnto !== undefined) && !spec.branch) {
    throw new UsageError(
      `startFrom and rebaseOnto need a branch: name the branch the work goes on`,
    );
  }
  if (spec.verify !== undefined && (typeof spec.verify !== "string" || spec.verify.trim() === "")) {
    throw new UsageError(`--verify needs a command, e.g. --verify "deno task test"`);
  }
  checkMs(spec.verifyTimeoutMs, "The verify time");
  if (spec.maxTurns !== undefined) parseWholeNumber(spec.maxTurns, "maxTurns", { max: MAX_TURNS });
  if (spec.model !== undefined && !MODEL.test(spec.model)) {
    throw new UsageError(`${quote(spec.model)} is not a model name (e.g. sonnet, claude-opus-4-1)`);
  }
  if (spec.permissionMode !== undefined && !PERMISSION_MODES.includes(spec.permissionMode)) {
    throw new UsageError(
      `--permission-mode is one of ${PERMISSION_MODES.join(", ")}, not ${
        quote(spec.permissionMode)
      }`,
    );
  }
  if (spec.resume !== undefined && !/^[A-Za-z0-9-]{1,100}$/.test(spec.resume)) {
    throw new UsageError(`${quote(spec.resume)} is not a Claude Code session id`);
  }
  checkMs(spec.stallMs, "The stall time");
  return spec;
}

// A duration a task was given: above 0, at most the longest a timer takes.
function checkMs(ms: number | undefined, what: string): void {
  if (ms !== undefined && !(Number.isFinite(ms) && ms > 0 && ms <= MAX_DURATION_MS)) {
    throw new UsageError(
      `${what} must be above 0 and at most ${formatDuration(MAX_DURATION_MS)}, not ${ms} ms`,
    );
  }
}

/**
 * What git refuses in a branch name (`git check-ref-format --branch`, as refs/heads/<name>),
 * said in words. Checked before a task is queued, so that a bad name is refused then rather than
 * failing on the ship.
 *
 * @param name The name.
 * @returns The problem, or undefined when git takes the name.
 */
export function branchNameProblem(name: string): string | undefined {
  if (typeof name !== "string") return "it is not text";
  if (name === "") return "it is empty";
  if (name.length > MAX_BRANCH_LENGTH) {
    return `it has ${name.length} characters, at most ${MAX_BRANCH_LENGTH} are taken`;
  }
  if (name.startsWith("-")) return 'it starts with "-"';
  if (name === "@" || name === "HEAD") return `git keeps "${name}" for the current commit`;
  // ASCII controls, space, DEL, and what revision syntax and globs use.
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  const bad = /[\x00-\x20\x7f~^:?*[\\]/.exec(name)?.[0];
  if (bad === " ") return "it has a space";
  if (bad !== undefined) {
    return bad < " " || bad === "\x7f" ? "it has a control character" : `it has "${bad}"`;
  }
  for (const sequence of ["..", "@{", "//"]) {
    if (name.includes(sequence)) return `it has "${sequence}"`;
  }
  if (name.startsWith("/")) return 'it starts with "/"';
  if (name.endsWith("/")) return 'it ends with "/"';
  if (name.endsWith(".")) return 'it ends with "."';
  for (const part of name.split("/")) {
    if (part.startsWith(".")) return 'a part of it starts with "."';
    if (part.endsWith(".lock")) return 'a part of it ends with ".lock"';
  }
  return undefined;
}

/**
 * The inbox command that runs a task: the program reads the task from a here-document, so the
 * prompt reaches it on stdin (it is kept in the inbox row, as every command is).
 *
 * @param spec The task.
 * @returns The command.
 */
export function taskCommand(spec: TaskSpec): string {
  return stdinCommand(TASK_MARK, "_task", checkTaskSpec(spec));
}

/**
 * An inbox command that runs `ohcommodore agent <subcommand>` with its input as JSON in a
 * here-document: the input reaches the program on stdin, never on a command line. The mark, its
 * first line, tells which kind of command it is; {@link commandInput} reads the input back.
 *
 * @param mark The first line, a shell comment.
 * @param subcommand The hidden `agent` subcommand.
 * @param input What it reads on stdin.
 * @returns The command.
 */
export function stdinCommand(mark: string, subcommand: string, input: unknown): string {
  const json = JSON.stringify(input);
  // A delimiter the text cannot hold: JSON puts no raw newline inside, so it is on no line.
  let delimiter: string;
  do delimiter = `OHC_TASK_${newMessageId()}`; while (json.includes(delimiter));
  return `${mark}\nexec "$HOME/.local/bin/ohcommodore" agent ${subcommand} <<'${delimiter}'\n` +
    `${json}\n${delimiter}\n`;
}

/**
 * The input of a command {@link stdinCommand} made with this mark.
 *
 * @param command An inbox message's command.
 * @param mark The mark it should start with.
 * @returns The input, parsed; undefined for other commands.
 */
export function commandInput(command: string, mark: string): unknown {
  if (!command.startsWith(`${mark}\n`)) return undefined;
  try {
    return JSON.parse(command.split("\n")[2]);
  } catch {
    return undefined;
  }
}

/**
 * The task a command runs, when it is a task's.
 *
 * @param command An inbox message's command.
 * @returns The task, or undefined for other commands.
 */
export function taskOf(command: string): TaskSpec | undefined {
  const spec = commandInput(command, TASK_MARK) as TaskSpec | undefined;
  return typeof spec?.prompt === "string" ? spec : undefined;
}

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
 * The `outcome` of a `{"type": type, "outcome": …}` line among the last lines a command
 * printed: how every agent command says how it ended.
 *
 * @param output The command's stdout (its tail).
 * @param type The line's type.
 * @returns The outcome, parsed; undefined when no such line ends the output.
 */
export function printedLine(output: string | null, type: string): unknown {
  const lines = (output ?? "").trimEnd().split("\n");
  for (let i = lines.length - 1; i >= 0 && i >= lines.length - 3; i--) {
    try {
      const value = JSON.parse(lines[i]);
      if (value?.type === type) return value.outcome;
    } catch {
      // not ours
    }
  }
  return undefined;
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
