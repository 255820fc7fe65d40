/**
 * Continuing a ship's last task (`agent resume`): when it can be (it has ended, and has a Claude
 * Code session), and the error that says why not and what to do instead.
 *
 * @module
 */

import { oneLine } from "../clip.ts";
import { OhcommodoreError } from "../errors.ts";
import { registerErrorClass } from "../error_data.ts";
import { hasNotEnded, type TaskOutcome } from "../agent/task.ts";

/**
 * Whether a ship's last task can be continued: it has ended, and it has a Claude Code session.
 *
 * @param task The last task.
 * @returns True when `resume` may continue it (its session is known then).
 */
export function canResume(task: TaskOutcome): task is TaskOutcome & { sessionId: string } {
  return !hasNotEnded(task.status) && Boolean(task.sessionId);
}

/**
 * A ship's last task cannot be continued with `resume`: it has not ended, or it has no Claude
 * Code session (it ended before Claude Code started). Its outcome says which.
 *
 * @example Wait for the last task when it still runs, then resume
 * ```ts
 * import { Fleet, ResumeRefusedError } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * const task = await fleet.agents.resume("web", "now the tests").catch(async (error) => {
 *   if (!(error instanceof ResumeRefusedError) || error.task.sessionId === null) throw error;
 *   await (await fleet.agents.task(error.task.id)).wait();
 *   return await fleet.agents.resume("web", "now the tests");
 * });
 * console.log(task.id);
 * ```
 */
export class ResumeRefusedError extends OhcommodoreError {
  /** The ship. */
  readonly ship: string;
  /** Its last task, which was not continued. */
  readonly task: TaskOutcome;

  /**
   * Creates the error; the message says why, `next` what to do.
   *
   * @param ship The ship.
   * @param task Its last task.
   */
  constructor(ship: string, task: TaskOutcome) {
    const open = hasNotEnded(task.status);
    super(
      open
        ? `The last task of ${ship}, "${task.id}", is ${task.status}`
        : `The last task of ${ship}, "${task.id}" (${task.status}), has no Claude Code session ` +
          `to continue: it ended before Claude Code started` +
          `${task.error ? ` (${JSON.stringify(oneLine(task.error, 200))})` : ""}`,
      {
        next: open
          ? `wait for it ("ohcommodore agent follow ${task.id}") or cancel it ` +
            `("ohcommodore agent cancel ${task.id}"), then resume`
          : `start a new task with "ohcommodore agent run --ships ${ship} -- <prompt>"`,
      },
    );
    this.ship = ship;
    this.task = task;
  }
}

// Read back from data (another process's --json), it is itself again.
registerErrorClass(ResumeRefusedError);
