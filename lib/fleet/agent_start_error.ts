/**
 * The error of an agent task given to some ships only: it holds the handles of the tasks that
 * were sent, names the ships that failed, and crosses processes as data.
 *
 * @module
 */

import { OhcommodoreError } from "../errors.ts";
import { registerErrorClass } from "../error_data.ts";
import type { AgentTask } from "./agent_task.ts";

/**
 * Some ships could not be given the task; the others have it.
 *
 * @example Keep the handles of the tasks that did start
 * ```ts
 * import { AgentStartError, Fleet } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * const tasks = await fleet.agents.start("fix the build").catch((error) => {
 *   if (!(error instanceof AgentStartError)) throw error;
 *   console.error(error.failures.join("\n"));
 *   return error.started;
 * });
 * console.log(tasks.map((task) => task.id));
 * ```
 */
export class AgentStartError extends OhcommodoreError {
  /** The tasks that were sent. */
  readonly started: AgentTask[];
  /** Why the others were not, a line per ship. */
  readonly failures: string[];

  /**
   * Creates the error.
   *
   * @param started The tasks sent.
   * @param failures A line per ship that failed.
   */
  constructor(started: AgentTask[], failures: string[]) {
    const made = started.length
      ? ` (started: ${started.map((task) => `${task.id} on ${task.ship.name}`).join(", ")})`
      : "";
    super(
      `The task could not be given to ${failures.length} ship(s)${made}:\n  ` +
        failures.join("\n  "),
    );
    this.started = started;
    this.failures = failures;
  }
}

// Read back from data (another process's --json), it is itself again.
registerErrorClass(AgentStartError);
