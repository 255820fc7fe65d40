/**
 * A plan checked whole against its schema (`plan_schema.ts`): its keys, each setting's value, its
 * tasks (each its own id, a prompt) and what they need. The first problem found fails the plan.
 *
 * @module
 */

import { MAX_TURNS } from "../agent/task_check.ts";
import { type Fail, failIn } from "./plan_file_error.ts";
import {
  FILE_KEYS,
  MAX_ATTEMPTS,
  MAX_PLAN_TASKS,
  type PlanFile,
  type PlanTask,
  TASK_KEYS,
  VALUE_KEYS,
} from "./plan_schema.ts";
import {
  budget,
  type Check,
  checkKeys,
  command,
  duration,
  idProblem,
  mapping,
  milliseconds,
  needs,
  prMode,
  prompt,
  taskSetting,
  whole,
} from "./plan_values.ts";
import { checkNeeds } from "./task_needs.ts";
import { shown } from "./plan_wording.ts";

type Settings = Omit<PlanFile, "tasks">;

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
  return checkWholePlan(value, source, "value");
}

/**
 * Checks a plan whole. The file gives durations (`timeout: 30m`), a value milliseconds
 * (`timeoutMs: 1800000`).
 *
 * @param value The plan, as parsed or as given.
 * @param source What it came from, as errors name it.
 * @param form `file` for a parsed file's keys, `value` for {@link PlanFile}'s.
 * @returns A checked copy of it; settings left out are undefined.
 * @throws {PlanFileError} At the first problem.
 */
export function checkWholePlan(value: unknown, source: string, form: "file" | "value"): PlanFile {
  const fail: Fail = failIn(source);
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
  checkNeeds(tasks, index, fail);
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
