/**
 * What a member's scheduler answers about its agent tasks, beside its inbox: its tasks with
 * their outcomes (`tasks`) and its current or last task's state (`lastTask`), so that the
 * fleet's lists and status cost a request on an open connection, not a program start there.
 *
 * @module
 */

import type { OperationHandlers } from "../inbox/server.ts";
import { ownTasks } from "./ship_tasks.ts";
import { readTaskState } from "./task_state.ts";

/**
 * The handlers of the `tasks` and `lastTask` operations.
 *
 * @param home The member's home.
 * @returns The handlers.
 */
export function agentHandlers(home?: string): OperationHandlers {
  return {
    tasks: () => ownTasks(home),
    lastTask: async () => await readTaskState("last", home) ?? null,
  };
}
