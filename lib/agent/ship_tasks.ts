/**
 * A ship's own tasks, as it tells them (`ohcommodore agent _tasks`): its inbox's task messages,
 * each with its outcome; a running one as its runner says it stands (`stalled` when silent too
 * long, `waiting` for the checkout or, with `resetAt`, for a usage limit to reset).
 *
 * @module
 */

import { Inbox } from "../inbox/inbox.ts";
import type { TaskOutcome, TaskStatus } from "./task.ts";
import { TASK_MARK, taskOf } from "./task_command.ts";
import { outcomeOf } from "./task_outcome.ts";
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
    const outcome = outcomeOf(inbox.identity.name, message);
    const running = message.status === "running";
    // A task's state file says how a running one stands, and keeps the session of one that
    // ended without printing it (killed past its grace, or from an older version).
    if (!running && (outcome.status === "queued" || outcome.sessionId !== null)) return outcome;
    const state = await readTaskState(message.id, home);
    if (!state) return outcome;
    if (!running) return { ...outcome, sessionId: state.sessionId ?? null };
    return {
      ...outcome,
      ...(LIVE.includes(state.status) ? { status: state.status } : {}),
      ...(state.status === "waiting" && state.resetAt ? { resetAt: state.resetAt } : {}),
      sessionId: state.sessionId ?? null,
    };
  }));
}

// How a running task may stand, as its runner says.
const LIVE: TaskStatus[] = ["stalled", "waiting"];
