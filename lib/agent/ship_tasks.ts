/**
 * A ship's own tasks, as it tells them (`ohcommodore agent _tasks`): its inbox's task messages,
 * each with its outcome, and `stalled` for a running one that has been silent too long.
 *
 * @module
 */

import { Inbox } from "../inbox/inbox.ts";
import { outcomeOf, TASK_MARK, taskOf, type TaskOutcome } from "./task.ts";
import { readTaskState } from "./task_state.ts";

/**
 * This member's tasks, newest first.
 *
 * @param home The member's home.
 * @returns Their outcomes.
 */
export async function ownTasks(home?: string): Promise<TaskOutcome[]> {
  const inbox = await Inbox.open({ home });
  // Whole: the prompt is in the command, the outcome on the output's last line.
  const marked = await inbox.list({ commandPrefix: `${TASK_MARK}\n`, full: true });
  const messages = marked.filter((message) => taskOf(message.command));
  return await Promise.all(messages.map(async (message) => {
    const state = message.status === "running" ? await readTaskState(message.id, home) : undefined;
    return outcomeOf(inbox.identity.name, message, state?.status === "stalled");
  }));
}
