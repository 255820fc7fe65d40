/**
 * Checking a task's settings as a person gave them, before it is queued: a bad branch name, model
 * or duration is refused then, in words, rather than failing on the ship.
 *
 * @module
 */

import { quote } from "../clip.ts";
import { UsageError } from "../errors.ts";
import { formatDuration, MAX_DURATION_MS } from "../duration.ts";
import { parseWholeNumber } from "../whole_number.ts";
import type { TaskSpec } from "./task.ts";

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
