/**
 * The checks of a plan's values, one per kind: a mapping and its keys, a task id, a prompt,
 * needs, a command, a whole number, a budget, a pull request mode, a duration, and the settings
 * `agent run` checks by its own rules. Each is a {@link Check}: it returns the value, or fails at
 * its key with what to do.
 *
 * @module
 */

import { oneLine, quote, QUOTE_MAX } from "../clip.ts";
import { checkTaskSpec } from "../agent/task_check.ts";
import { checkDurationMs, parseDuration } from "../duration.ts";
import { UsageError } from "../errors.ts";
import type { Fail } from "./plan_file_error.ts";
import { MAX_BUDGET_USD, MAX_PROMPT_BYTES, PR_MODES, TASK_ID } from "./plan_schema.ts";
import { nearest, shown, uncapitalised } from "./plan_wording.ts";

/** A check of one value at its key: the value as the plan takes it, or a failure. */
export type Check<T> = (value: unknown, key: string, fail: Fail) => T;

/**
 * A mapping of keys (the plan, or a task).
 *
 * @param value The value.
 * @param key Its key; empty for the plan.
 * @param what What it should be, e.g. `a task`.
 * @param fail How the plan fails.
 * @returns It, as a record.
 */
export function mapping(
  value: unknown,
  key: string,
  what: string,
  fail: Fail,
): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const needed = key ? "an id and a prompt" : "a list of tasks";
    fail(key, `${shown(value)} is not ${what}; give a mapping of keys, with ${needed}`);
  }
  return value as Record<string, unknown>;
}

/**
 * Fails at the first key that is not one of `known`, naming the key it most likely meant.
 *
 * @param object The mapping.
 * @param known Its keys.
 * @param key Where it is; empty for the plan.
 * @param what What it is, e.g. `a task`.
 * @param fail How the plan fails.
 */
export function checkKeys(
  object: Record<string, unknown>,
  known: readonly string[],
  key: string,
  what: string,
  fail: Fail,
): void {
  for (const name of Object.keys(object)) {
    if (known.includes(name)) continue;
    const near = nearest(name, known);
    const fix = near ? `did you mean "${near}"?` : "remove it";
    const where = oneLine(name, QUOTE_MAX);
    fail(
      key ? `${key}.${where}` : where,
      `${quote(name)} is not a key of ${what}: ${fix} (${what}'s keys are ${known.join(", ")})`,
    );
  }
}

/**
 * What is wrong with a task id, if anything.
 *
 * @param id The id as given.
 * @returns The problem and its fix, or undefined for a good id.
 */
export function idProblem(id: unknown): string | undefined {
  const rule = `use 1 to 40 lowercase letters, digits and "-", starting with a letter or digit ` +
    `(e.g. fix-parser)`;
  if (typeof id === "number" && TASK_ID.test(String(id))) {
    return `${id} is a number, not text; quote it: "${id}"`;
  }
  if (typeof id !== "string") return `${shown(id)} is not a task id; ${rule}`;
  if (!TASK_ID.test(id)) return `${quote(id)} is not a task id; ${rule}`;
  return undefined;
}

/** A task's prompt: text, not empty, at most {@link MAX_PROMPT_BYTES}. */
export function prompt(value: unknown, key: string, fail: Fail): string {
  if (value === undefined) {
    fail(key, "the task has no prompt; say what the agent should do, e.g. prompt: Fix the parser");
  }
  if (typeof value !== "string") fail(key, `${shown(value)} is not text; give the prompt as text`);
  if (value.trim() === "") fail(key, "the prompt is empty; say what the agent should do");
  const bytes = new TextEncoder().encode(value).length;
  if (bytes > MAX_PROMPT_BYTES) {
    fail(
      key,
      `the prompt has ${bytes} bytes, at most ${MAX_PROMPT_BYTES} are taken; shorten it, or put ` +
        `the details in a file of the repository and name the file`,
    );
  }
  return value;
}

/** A task's needs: a list of task ids (that they name tasks is the graph's check). */
export function needs(value: unknown, key: string, fail: Fail): string[] {
  if (!Array.isArray(value) || !value.every((need) => typeof need === "string")) {
    fail(key, `${shown(value)} is not a list of task ids; give e.g. needs: [parser]`);
  }
  return [...value];
}

/** A shell command (`verify`). */
export function command(value: unknown, key: string, fail: Fail): string {
  if (typeof value !== "string" || value.trim() === "" || value.includes("\0")) {
    fail(
      key,
      `${shown(value)} is not a command; give a shell command, e.g. verify: deno task test`,
    );
  }
  return value;
}

/**
 * A whole number from 1 to `max`.
 *
 * @param value The value.
 * @param key Its key.
 * @param fail How the plan fails.
 * @param max The largest it may be.
 * @returns It.
 */
export function whole(value: unknown, key: string, fail: Fail, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > max) {
    const name = key.split(".").at(-1);
    fail(key, `${shown(value)} is not a whole number from 1 to ${max}; give e.g. ${name}: 2`);
  }
  return value;
}

/** A budget in US dollars: above 0, at most {@link MAX_BUDGET_USD}. */
export function budget(value: unknown, key: string, fail: Fail): number {
  if (typeof value !== "number" || !(value > 0) || !(value <= MAX_BUDGET_USD)) {
    fail(
      key,
      `${shown(value)} is not a budget; give US dollars above 0 and at most ${MAX_BUDGET_USD}, ` +
        `e.g. budgetUsd: 25`,
    );
  }
  return value;
}

/** A pull request mode: one of {@link PR_MODES}. */
export function prMode(value: unknown, key: string, fail: Fail): typeof PR_MODES[number] {
  if (!(PR_MODES as readonly unknown[]).includes(value)) {
    fail(key, `${shown(value)} is not a pull request mode; give one of ${PR_MODES.join(", ")}`);
  }
  return value as typeof PR_MODES[number];
}

/** A duration as the file gives it: "30m", "90s", or a number of seconds; in milliseconds. */
export function duration(value: unknown, key: string, fail: Fail): number {
  if (typeof value !== "string" && typeof value !== "number") {
    fail(key, `${shown(value)} is not a duration; give e.g. ${key}: 30m, or a number of seconds`);
  }
  return rephrased(key, fail, () => parseDuration(String(value)));
}

/** A duration as a value gives it: milliseconds. */
export function milliseconds(value: unknown, key: string, fail: Fail): number {
  return rephrased(key, fail, () => checkDurationMs(value, key));
}

/**
 * A setting that means what `agent run`'s does, checked by its rules.
 *
 * @param field The task's field it is.
 * @param example The setting as a plan would give it, for the message.
 * @returns Its check.
 */
export function taskSetting(
  field: "model" | "permissionMode" | "branch",
  example: string,
): Check<string> {
  return (value: unknown, key: string, fail: Fail): string => {
    if (typeof value !== "string") fail(key, `${shown(value)} is not text; give e.g. ${example}`);
    rephrased(key, fail, () => checkTaskSpec({ prompt: "-", [field]: value }));
    return value;
  };
}

// Another module's UsageError, said as a problem with this key.
function rephrased<T>(key: string, fail: Fail, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof UsageError) fail(key, uncapitalised(error.message));
    throw error;
  }
}
