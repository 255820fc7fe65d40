/**
 * The plan file: a body of work for the fleet, as a person writes it (YAML, or JSON, which is
 * YAML too), checked whole before anything starts. Every problem is a {@link PlanFileError} that
 * names the file, the key (`tasks[1].needs`) and what to do; nothing of a bad plan is run.
 *
 * The file's keys are those of {@link PlanFile}, except that it gives durations as `timeout`,
 * `stall` and `reassignAfter` (`30m`, `90s`, or a number of seconds) where the checked plan has
 * `timeoutMs`, `stallMs` and `reassignAfterMs`. Settings left out stay undefined: the driver applies the defaults.
 *
 * This module reads and parses the file and is where callers take the plan file's API from; the
 * parts live beside it: what a plan holds (`plan_schema.ts`), the check of a whole plan
 * (`plan_check.ts`) and of each value (`plan_values.ts`), the tasks' needs (`task_needs.ts`),
 * the error (`plan_file_error.ts`) and the wording of its messages (`plan_wording.ts`).
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

import { parseDocument } from "../yaml.ts";
import { checkWholePlan } from "./plan_check.ts";
import { PlanFileError } from "./plan_file_error.ts";
import type { PlanFile } from "./plan_schema.ts";
import { uncapitalised } from "./plan_wording.ts";

export { checkPlan } from "./plan_check.ts";
export { PlanFileError } from "./plan_file_error.ts";
export {
  MAX_ATTEMPTS,
  MAX_BUDGET_USD,
  MAX_PLAN_TASKS,
  type PlanFile,
  type PlanTask,
} from "./plan_schema.ts";
export { dependencyOrder } from "./task_needs.ts";

// A larger file is not a plan someone wrote; refused before it is read into memory.
const MAX_FILE_BYTES = 16 * 1024 * 1024;
const NOT_YAML = "not YAML or JSON";

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
  return checkWholePlan(parseYaml(text, source), source, "file");
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
