/**
 * {@link PlanFileError}: a plan that cannot be run as given, naming the file and the key; and
 * {@link Fail}, how every check of a plan reports what it found.
 *
 * @module
 */

import { type OhcommodoreErrorOptions, UsageError } from "../errors.ts";
import { registerErrorClass } from "../error_data.ts";

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

/** Reports a problem at a key of one plan: throws its {@link PlanFileError}. */
export type Fail = (key: string, problem: string) => never;

/**
 * How the checks of one plan fail.
 *
 * @param source The plan's file, or what it came from.
 * @returns A {@link Fail} that throws a {@link PlanFileError} naming it.
 */
export function failIn(source: string): Fail {
  return (key, problem) => {
    throw new PlanFileError(source, key, problem);
  };
}
