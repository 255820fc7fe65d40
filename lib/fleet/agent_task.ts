/**
 * A handle on one agent task on one ship: follow what the agent says, wait for the outcome, or
 * stop it.
 *
 * @module
 */

import { lineSplitter } from "../lines.ts";
import type { TaskOutcome } from "../agent/task.ts";
import { outcomeOf } from "../agent/task_outcome.ts";
import type { Ship } from "./member.ts";

/**
 * One task on one ship: its id, and ways to follow, wait for and cancel it.
 *
 * @example Start a task and follow what the agent says
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * const [task] = await fleet.agents.start("fix the failing test", { ships: ["web"] });
 * const outcome = await task.follow((line) => console.log(line));
 * console.log(outcome.status, outcome.costUsd);
 * ```
 */
export class AgentTask {
  /** The ship it runs on. */
  readonly ship: Ship;
  /** The task's id (its inbox message's). */
  readonly id: string;

  /**
   * A handle on a task that was sent.
   *
   * @param ship Its ship.
   * @param id Its id.
   */
  constructor(ship: Ship, id: string) {
    this.ship = ship;
    this.id = id;
  }

  /**
   * Waits for the task to end.
   *
   * @param options How long to wait at most (default: its own timeout plus a minute).
   * @returns Its outcome.
   */
  async wait(options: { timeoutMs?: number } = {}): Promise<TaskOutcome> {
    const message = await this.ship.inbox.waitFor(this.id, options);
    return outcomeOf(this.ship.name, message);
  }

  /**
   * Follows the task as it works: each line Claude Code prints (stream-json), as it comes.
   *
   * @param onLine Told each line.
   * @param options `signal` stops following (the task goes on).
   * @returns Its outcome, once it ends.
   */
  async follow(
    onLine: (line: string) => void,
    options: { signal?: AbortSignal } = {},
  ): Promise<TaskOutcome> {
    const lines = lineSplitter(onLine);
    const message = await this.ship.inbox.follow(this.id, (chunk) => {
      if (chunk.stream === "stdout") lines.push(chunk.text);
    }, options);
    lines.end();
    return outcomeOf(this.ship.name, message);
  }

  /**
   * Stops the task (removes it when it has not started).
   *
   * @returns What the cancel did.
   */
  async cancel(): Promise<"removed" | "stopped" | "finished"> {
    return (await this.ship.inbox.cancel(this.id)).outcome;
  }
}
