/**
 * The plan file: a body of work for the fleet, as a person writes it (YAML, or JSON, which is
 * YAML too), checked whole before anything starts. Every problem is a {@link PlanFileError} that
 * names the file, the key (`tasks[1].needs`) and what to do; nothing of a bad plan is run.
 *
 * The file's keys are those of {@link PlanFile}, except that it gives durations as `timeout`,
 * `stall` and `reassignAfter` (`30m`, `90s`, or a number of seconds) where the checked plan has
 * `timeoutMs`, `stallMs` and `reassignAfterMs`. Settings left out stay undefined: the driver applies the defaults.
 *
 * @example Read a plan and list its tasks in an order they can run
 * ```ts
 * import { dependencyOrder, parsePlan } from "@smithclay/ohcommodore/plan";
 *
 * const plan = parsePlan(
 *   `
 * verify: deno task test
 * timeout: 30m
 * tasks:
 *   - id: parser
 *     prompt: Add a parser for the new config format
 *   - id: cli
 *     prompt: Use the parser in the CLI
 *     needs: [parser]
 * `,
 *   "plan.yaml",
 * );
 * console.log(plan.timeoutMs); // 1800000
 * console.log(dependencyOrder(plan.tasks).map((task) => task.id)); // ["parser", "cli"]
 * ```
 *
 * @module
 */

import { checkTaskSpec, MAX_TURNS } from "../agent/task.ts";
import { oneLine, quote, QUOTE_MAX } from "../clip.ts";
import { parseDocument } from "../deps.ts";
import { checkDurationMs, parseDuration } from "../duration.ts";
import { type OhcommodoreErrorOptions, registerErrorClass, UsageError } from "../errors.ts";

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

// A prompt travels in an inbox command, which takes at most 1 MiB: room is left for the rest of
// the task and for the failures handed back to the agent.
const MAX_PROMPT_BYTES = 256 * 1024;
// A larger file is not a plan someone wrote; refused before it is read into memory.
const MAX_FILE_BYTES = 16 * 1024 * 1024;
const NOT_YAML = "not YAML or JSON";
const TASK_ID = /^[a-z0-9][a-z0-9-]{0,39}$/;
const PR_MODES = ["each", "one", "none"] as const;
const TASK_KEYS = ["id", "prompt", "needs", "verify", "issue"];
// The plan's keys before `tasks`; the file gives durations, a value milliseconds.
const SETTINGS = ["verify", "maxAttempts", "budgetUsd", "model", "maxTurns", "permissionMode"];
const FILE_KEYS = [...SETTINGS, "timeout", "stall", "reassignAfter", "integrate", "pr", "tasks"];
const VALUE_KEYS = [
  ...SETTINGS,
  "timeoutMs",
  "stallMs",
  "reassignAfterMs",
  "integrate",
  "pr",
  "tasks",
];

/**
 * A plan that cannot be run as given: its message names the file, the key and what to do, e.g.
 * `plan.yaml: tasks[2].needs: "parserr" names no task (tasks: parser, cli, docs); fix the id or
 * remove it`. Exits 2, as every usage error.
 *
 * @example Say what is wrong with a plan file
 * ```ts
 * import { PlanFileError, readPlanFile } from "@smithclay/ohcommodore/plan";
 *
 * try {
 *   await readPlanFile("plan.yaml");
 * } catch (error) {
 *   if (!(error instanceof PlanFileError)) throw error;
 *   console.error(error.message, error.key);
 * }
 * ```
 */
export class PlanFileError extends UsageError {
  /** The file, as given (or what the plan came from, e.g. `plan`). */
  readonly source: string;
  /** Where in the plan, e.g. `tasks[1].needs`; empty for the file as a whole. */
  readonly key: string;

  /**
   * Creates the error; the message is `<source>: <key>: <problem>`.
   *
   * @param source The file.
   * @param key Where in the plan; empty for the whole file.
   * @param problem What is wrong and what to do, in sentence case without a capital.
   * @param options The `cause`, and the command to run next.
   */
  constructor(source: string, key: string, problem: string, options?: OhcommodoreErrorOptions) {
    super([source, key, problem].filter(Boolean).join(": "), options);
    this.source = source;
    this.key = key;
  }
}

// Read back from data (the flagship's answer), it is itself again.
registerErrorClass(PlanFileError);

/**
 * Parses a plan file's text and checks the plan whole.
 *
 * @example Parse a plan given as JSON
 * ```ts
 * import { parsePlan } from "@smithclay/ohcommodore/plan";
 *
 * const plan = parsePlan('{"tasks": [{"id": "docs", "prompt": "Fix the typos"}]}', "plan.json");
 * console.log(plan.tasks[0].id); // "docs"
 * ```
 *
 * @param text The file's text: YAML, or JSON.
 * @param source The file, as errors name it.
 * @returns The plan, checked; settings the file leaves out are undefined.
 * @throws {PlanFileError} When the text is not YAML, or the plan breaks a rule.
 */
export function parsePlan(text: string, source: string): PlanFile {
  return checkWhole(parseYaml(text, source), source, "file");
}

/**
 * Checks a plan given as a value, by the rules of the file, with durations in milliseconds
 * (`timeoutMs`, `stallMs`): what the library takes.
 *
 * @example Check a plan built in code
 * ```ts
 * import { checkPlan } from "@smithclay/ohcommodore/plan";
 *
 * const plan = checkPlan({ timeoutMs: 60_000, tasks: [{ id: "docs", prompt: "Fix the typos" }] });
 * ```
 *
 * @param value The plan.
 * @param source What it came from, as errors name it.
 * @returns A checked copy of it.
 * @throws {PlanFileError} When it breaks a rule.
 */
export function checkPlan(value: unknown, source: string = "plan"): PlanFile {
  return checkWhole(value, source, "value");
}

/**
 * Reads a plan file and checks it whole.
 *
 * @example Read a plan file
 * ```ts
 * import { readPlanFile } from "@smithclay/ohcommodore/plan";
 *
 * const plan = await readPlanFile("plan.yaml");
 * console.log(`${plan.tasks.length} tasks`);
 * ```
 *
 * @param path The file: YAML, or JSON.
 * @returns The plan, checked.
 * @throws {PlanFileError} When the file cannot be read, is not YAML, or the plan breaks a rule.
 */
export async function readPlanFile(path: string): Promise<PlanFile> {
  let text: string;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) {
      throw new PlanFileError(path, "", "it is not a file; give the path of a plan file");
    }
    if (info.size > MAX_FILE_BYTES) {
      throw new PlanFileError(
        path,
        "",
        `the file has ${info.size} bytes, at most ${MAX_FILE_BYTES} are taken; give a plan file`,
      );
    }
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof PlanFileError) throw error;
    const why = error instanceof Deno.errors.NotFound
      ? "there is no such file"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new PlanFileError(path, "", `cannot read the plan: ${why}; check the path`, {
      cause: error,
    });
  }
  return parsePlan(text, path);
}

/**
 * The tasks in an order where each comes after the tasks it needs, otherwise in the plan's
 * order. Meant for a checked plan: needs that name no task are passed over, and a cycle does
 * not loop.
 *
 * @example Order tasks by what they need
 * ```ts
 * import { dependencyOrder } from "@smithclay/ohcommodore/plan";
 *
 * const order = dependencyOrder([
 *   { id: "cli", prompt: "Use the parser", needs: ["parser"] },
 *   { id: "parser", prompt: "Add a parser" },
 * ]);
 * console.log(order.map((task) => task.id)); // ["parser", "cli"]
 * ```
 *
 * @param tasks The plan's tasks.
 * @returns The same tasks, reordered.
 */
export function dependencyOrder(tasks: readonly PlanTask[]): PlanTask[] {
  const byId = new Map(tasks.map((task) => [task.id, task]));
  const seen = new Set<string>();
  const order: PlanTask[] = [];
  const place = (task: PlanTask) => {
    if (seen.has(task.id)) return;
    seen.add(task.id);
    for (const need of task.needs ?? []) {
      const needed = byId.get(need);
      if (needed) place(needed);
    }
    order.push(task);
  };
  tasks.forEach(place);
  return order;
}

type Fail = (key: string, problem: string) => never;

// The YAML document as plain values; a syntax error says where it is.
function parseYaml(text: string, source: string): unknown {
  const document = parseDocument(text, { prettyErrors: false });
  const error = document.errors[0];
  if (error) {
    const before = text.slice(0, error.pos[0]);
    const line = before.split("\n").length;
    const column = before.length - before.lastIndexOf("\n");
    const problem = error.code === "MULTIPLE_DOCS"
      ? `the file holds more than one document; keep one plan per file`
      : `${uncapitalised(error.message.split("\n")[0])}; fix the file there`;
    throw new PlanFileError(source, "", `line ${line}, column ${column}: ${NOT_YAML}: ${problem}`);
  }
  try {
    // Aliases are expanded: a few may stand for a great many values, which is refused.
    return document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    const problem = uncapitalised(error instanceof Error ? error.message : String(error));
    throw new PlanFileError(source, "", `${NOT_YAML}: ${problem}; fix the file`, { cause: error });
  }
}

// The file gives durations (`timeout: 30m`), a value milliseconds (`timeoutMs: 1800000`).
function checkWhole(value: unknown, source: string, form: "file" | "value"): PlanFile {
  const fail: Fail = (key, problem) => {
    throw new PlanFileError(source, key, problem);
  };
  if (value === null || value === undefined) {
    fail("", "the plan is empty; give at least its tasks, each with an id and a prompt");
  }
  const top = mapping(value, "", "the plan", fail);
  checkKeys(top, form === "file" ? FILE_KEYS : VALUE_KEYS, "", "a plan", fail);
  const settings: Settings = {};
  const setting = <K extends keyof Settings>(
    name: K,
    check: Check<Settings[K]>,
    key: string = name,
  ) => {
    if (top[key] !== undefined) settings[name] = check(top[key], key, fail);
  };
  setting("verify", command);
  setting("maxAttempts", (v, k, f) => whole(v, k, f, MAX_ATTEMPTS));
  setting("budgetUsd", budget);
  setting("model", taskSetting("model", "model: sonnet"));
  setting("maxTurns", (v, k, f) => whole(v, k, f, MAX_TURNS));
  setting("permissionMode", taskSetting("permissionMode", "permissionMode: acceptEdits"));
  const durations = form === "file";
  setting("timeoutMs", durations ? duration : milliseconds, durations ? "timeout" : "timeoutMs");
  setting("stallMs", durations ? duration : milliseconds, durations ? "stall" : "stallMs");
  setting(
    "reassignAfterMs",
    durations ? duration : milliseconds,
    durations ? "reassignAfter" : "reassignAfterMs",
  );
  setting("integrate", taskSetting("branch", "integrate: plan/release"));
  setting("pr", prMode);
  return { ...settings, tasks: checkTasks(top.tasks, fail) };
}

type Settings = Omit<PlanFile, "tasks">;

function checkTasks(value: unknown, fail: Fail): PlanTask[] {
  const example = "each with an id and a prompt";
  if (value === undefined) fail("tasks", `the plan has no tasks; give a list of tasks, ${example}`);
  if (!Array.isArray(value)) fail("tasks", `${shown(value)} is not a list; give tasks, ${example}`);
  if (value.length === 0) fail("tasks", `the list is empty; give at least one task, ${example}`);
  if (value.length > MAX_PLAN_TASKS) {
    fail(
      "tasks",
      `the plan has ${value.length} tasks, at most ${MAX_PLAN_TASKS} are taken; split it into ` +
        `plans that run one after another`,
    );
  }
  const tasks = value.map((item, i) => checkTask(item, `tasks[${i}]`, fail));
  const index = new Map<string, number>();
  tasks.forEach((task, i) => {
    const first = index.get(task.id);
    if (first !== undefined) {
      fail(
        `tasks[${i}].id`,
        `"${task.id}" is the id of tasks[${first}] too; give each task its own`,
      );
    }
    index.set(task.id, i);
  });
  tasks.forEach((task, i) => {
    for (const need of task.needs ?? []) {
      if (need === task.id) {
        fail(
          `tasks[${i}].needs`,
          `task "${need}" needs itself (${need} → ${need}); remove "${need}" from its needs`,
        );
      }
      if (!index.has(need)) {
        fail(
          `tasks[${i}].needs`,
          `${quote(need)} names no task (tasks: ${listed([...index.keys()])}); fix the id or ` +
            `remove it`,
        );
      }
    }
  });
  const cycle = cycleOf(tasks);
  if (cycle) {
    fail(
      `tasks[${index.get(cycle[0])}].needs`,
      `the tasks need each other in a cycle, ${cycle.join(" → ")}, so none of them can start; ` +
        `remove one of these needs`,
    );
  }
  return tasks;
}

function checkTask(value: unknown, key: string, fail: Fail): PlanTask {
  const item = mapping(value, key, "a task", fail);
  checkKeys(item, TASK_KEYS, key, "a task", fail);
  if (item.id === undefined) fail(`${key}.id`, "the task has no id; give it one, e.g. id: parser");
  const wrongId = idProblem(item.id);
  if (wrongId) fail(`${key}.id`, wrongId);
  const task: PlanTask = {
    id: item.id as string,
    prompt: prompt(item.prompt, `${key}.prompt`, fail),
  };
  if (item.needs !== undefined) task.needs = needs(item.needs, `${key}.needs`, fail);
  if (item.verify !== undefined) task.verify = command(item.verify, `${key}.verify`, fail);
  if (item.issue !== undefined) {
    task.issue = whole(item.issue, `${key}.issue`, fail, Number.MAX_SAFE_INTEGER);
  }
  return task;
}

type Check<T> = (value: unknown, key: string, fail: Fail) => T;

function mapping(value: unknown, key: string, what: string, fail: Fail): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const needed = key ? "an id and a prompt" : "a list of tasks";
    fail(key, `${shown(value)} is not ${what}; give a mapping of keys, with ${needed}`);
  }
  return value as Record<string, unknown>;
}

function checkKeys(
  object: Record<string, unknown>,
  known: string[],
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

function idProblem(id: unknown): string | undefined {
  const rule = `use 1 to 40 lowercase letters, digits and "-", starting with a letter or digit ` +
    `(e.g. fix-parser)`;
  if (typeof id === "number" && TASK_ID.test(String(id))) {
    return `${id} is a number, not text; quote it: "${id}"`;
  }
  if (typeof id !== "string") return `${shown(id)} is not a task id; ${rule}`;
  if (!TASK_ID.test(id)) return `${quote(id)} is not a task id; ${rule}`;
  return undefined;
}

function prompt(value: unknown, key: string, fail: Fail): string {
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

function needs(value: unknown, key: string, fail: Fail): string[] {
  if (!Array.isArray(value) || !value.every((need) => typeof need === "string")) {
    fail(key, `${shown(value)} is not a list of task ids; give e.g. needs: [parser]`);
  }
  return [...value];
}

function command(value: unknown, key: string, fail: Fail): string {
  if (typeof value !== "string" || value.trim() === "" || value.includes("\0")) {
    fail(
      key,
      `${shown(value)} is not a command; give a shell command, e.g. verify: deno task test`,
    );
  }
  return value;
}

function whole(value: unknown, key: string, fail: Fail, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > max) {
    const name = key.split(".").at(-1);
    fail(key, `${shown(value)} is not a whole number from 1 to ${max}; give e.g. ${name}: 2`);
  }
  return value;
}

function budget(value: unknown, key: string, fail: Fail): number {
  if (typeof value !== "number" || !(value > 0) || !(value <= MAX_BUDGET_USD)) {
    fail(
      key,
      `${shown(value)} is not a budget; give US dollars above 0 and at most ${MAX_BUDGET_USD}, ` +
        `e.g. budgetUsd: 25`,
    );
  }
  return value;
}

function prMode(value: unknown, key: string, fail: Fail): PlanFile["pr"] {
  if (!(PR_MODES as readonly unknown[]).includes(value)) {
    fail(key, `${shown(value)} is not a pull request mode; give one of ${PR_MODES.join(", ")}`);
  }
  return value as PlanFile["pr"];
}

// The file's durations: "30m", "90s", or a number of seconds.
function duration(value: unknown, key: string, fail: Fail): number {
  if (typeof value !== "string" && typeof value !== "number") {
    fail(key, `${shown(value)} is not a duration; give e.g. ${key}: 30m, or a number of seconds`);
  }
  return rephrased(key, fail, () => parseDuration(String(value)));
}

function milliseconds(value: unknown, key: string, fail: Fail): number {
  return rephrased(key, fail, () => checkDurationMs(value, key));
}

// Settings that mean what `agent run`'s do are checked by its rules.
function taskSetting(field: "model" | "permissionMode" | "branch", example: string): Check<string> {
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

// The tasks' needs as a path that closes on itself (`a → b → a`), if they have a cycle.
function cycleOf(tasks: readonly PlanTask[]): string[] | undefined {
  const byId = new Map(tasks.map((task) => [task.id, task]));
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (path.includes(id)) return [...path.slice(path.indexOf(id)), id];
    if (done.has(id)) return undefined;
    path.push(id);
    for (const need of byId.get(id)?.needs ?? []) {
      const cycle = visit(need);
      if (cycle) return cycle;
    }
    path.pop();
    done.add(id);
    return undefined;
  };
  for (const task of tasks) {
    const cycle = visit(task.id);
    if (cycle) return cycle;
  }
  return undefined;
}

// The known key a typo most likely meant: one or two letters off, or the start of it.
function nearest(name: string, known: readonly string[]): string | undefined {
  const typed = name.toLowerCase();
  const allowed = typed.length <= 3 ? 1 : 2;
  let best: { key: string; distance: number } | undefined;
  for (const key of known) {
    const distance = key.toLowerCase().startsWith(typed) && typed.length >= 4
      ? 0
      : editDistance(typed, key.toLowerCase());
    if (distance <= allowed && (!best || distance < best.distance)) best = { key, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const change = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + change);
    }
    previous = row;
  }
  return previous[b.length];
}

// A value as a message shows it: text quoted, numbers as they are, collections by their kind.
function shown(value: unknown): string {
  if (typeof value === "string") return quote(value);
  if (Array.isArray(value)) return "a list";
  if (value === null || value === undefined) return "an empty value";
  if (typeof value === "object") return "a mapping";
  return quote(value).slice(1, -1);
}

// Ids for a message: the first few, and how many more.
function listed(ids: string[]): string {
  const shownIds = ids.slice(0, 10).join(", ");
  return ids.length > 10 ? `${shownIds} and ${ids.length - 10} more` : shownIds;
}

// Another module's message ("Invalid duration …") read on after a key.
function uncapitalised(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text[0].toLowerCase() + text.slice(1) : text;
}
