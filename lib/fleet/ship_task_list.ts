/**
 * A ship's task list as the fleet reads it (`agent _tasks` over the ship's transport): a ship may
 * run anything, so its answer is believed up to a cap, and each outcome field by field.
 *
 * @module
 */

import type { Transport } from "../transport.ts";
import type { Ssh } from "../ssh.ts";
import { askMember } from "../inbox/ask_member.ts";
import { oneLine } from "../clip.ts";
import { OhcommodoreError, RemoteCommandError } from "../errors.ts";
import { REMOTE_PROGRAM } from "../paths.ts";
import { lastLine } from "../process.ts";
import type { TaskOutcome } from "../agent/task.ts";
import { checkedOutcome } from "../agent/checked_outcome.ts";

/**
 * A ship's agent tasks, as it tells them (`ohcommodore agent _tasks` on the ship), newest first,
 * each checked to have an outcome's shape and stamped with the ship asked.
 *
 * @example What a ship's tasks cost, asked from the flagship
 * ```ts
 * import { fetchShipTasks } from "@smithclay/ohcommodore/agent";
 * import { transportFor } from "@smithclay/ohcommodore/ssh";
 * const tasks = await fetchShipTasks(transportFor("ship-web-k3f9a1b2.exe.xyz"), "ship-web-k3f9a1b2");
 * console.log(tasks.reduce((sum, task) => sum + (task.costUsd ?? 0), 0));
 * ```
 *
 * @param transport The ship.
 * @param ship Its name.
 * @param ssh The ssh client, to ask its scheduler on the shared connection's forward first.
 * @returns Its tasks' outcomes.
 * @throws {SshError} When it cannot be reached.
 * @throws {RemoteCommandError} When its `agent _tasks` fails.
 * @throws {OhcommodoreError} When it answers with no list, or past 16 MiB.
 */
export async function fetchShipTasks(
  transport: Transport,
  ship: string,
  ssh?: Ssh,
): Promise<TaskOutcome[]> {
  // Its scheduler answers on the forward when there is one; else the program over exec.
  const member = { destination: transport.destination, address: `captain@${ship}` };
  const limits = { timeoutMs: 60_000, maxReplyBytes: MAX_TASKS_ANSWER_CHARS };
  const asked = ssh && await askMember(member, ssh, "tasks", {}, limits);
  if (asked) return checkedList(ship, asked.value);
  const result = await transport.run(
    [REMOTE_PROGRAM, "agent", "_tasks"],
    { timeoutMs: 60_000, retry: "idempotent", maxOutput: MAX_TASKS_ANSWER_CHARS },
  );
  // A ship may run anything: an answer past the cap was cut off, and is not believed.
  if (Math.max(result.stdout.length, result.stderr.length) > MAX_TASKS_ANSWER_CHARS) {
    throw new OhcommodoreError(
      `${ship} is unreadable: its answer to "agent _tasks" passed ` +
        `${MAX_TASKS_ANSWER_CHARS / 1024 / 1024} MiB`,
    );
  }
  if (result.code !== 0) {
    const tail = lastLine(result.stderr);
    throw new RemoteCommandError(
      transport.destination,
      result.code,
      tail,
      `"agent _tasks" on ${ship} exited ${result.code}: ${JSON.stringify(oneLine(tail, 200))}`,
    );
  }
  let tasks: unknown;
  try {
    tasks = JSON.parse(result.stdout);
  } catch {
    throw new OhcommodoreError(`${ship} answered "agent _tasks" with something other than JSON`);
  }
  return checkedList(ship, tasks);
}

// A ship tells of its own tasks only, in the shape outcomes have: it may run anything.
function checkedList(ship: string, tasks: unknown): TaskOutcome[] {
  if (!Array.isArray(tasks)) {
    throw new OhcommodoreError(`${ship} answered "agent _tasks" with no list`);
  }
  return tasks.flatMap((task) => checkedOutcome(ship, task) ?? []);
}

// The most of a ship's task list that is read: an outcome is its numbers, states and final
// answer, so even a ship with hundreds of tasks says far less.
const MAX_TASKS_ANSWER_CHARS = 16 * 1024 * 1024;
