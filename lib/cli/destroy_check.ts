/**
 * Before ships are destroyed (`ship destroy`, `fleet sink`): the agent tasks that have not ended
 * on them, said as warnings, and a typed confirmation. Asking is best effort: a ship (or a
 * flagship) that cannot be asked is named, and never keeps a ship from being destroyed.
 *
 * @module
 */

import { hasNotEnded, type TaskOutcome } from "../agent/task.ts";
import { quote } from "../clip.ts";
import { UsageError } from "../errors.ts";
import type { Fleet } from "../fleet/fleet.ts";
import type { Ship } from "../fleet/member.ts";
import { ask, errorText, escapeControls, note, paint } from "./output.ts";

/**
 * Asks ships for their agent tasks that have not ended, and warns of each ship that has some.
 *
 * @param fleet The fleet.
 * @param ships These ships; default every ship.
 * @returns The tasks that have not ended.
 */
export async function warnOfUnendedTasks(
  fleet: Fleet,
  ships?: readonly Ship[],
): Promise<TaskOutcome[]> {
  let listed: Awaited<ReturnType<Fleet["agents"]["list"]>>;
  try {
    listed = await fleet.agents.list(ships ? { ships } : {});
  } catch (error) {
    warn(`Could not ask the ships for running agent tasks: ${errorText(error)}`);
    return [];
  }
  for (const { ship, error } of listed.unreachable) {
    warn(`Could not ask ${ship} for running agent tasks: ${error}`);
  }
  const unended = listed.tasks.filter((task) => hasNotEnded(task.status));
  const byShip = Map.groupBy(unended, (task) => task.ship);
  for (const [ship, tasks] of byShip) {
    const which = tasks.map((task) => `${task.id} (${task.status})`).join(", ");
    warn(
      `${ship} has agent task(s) that have not ended: ${which}. Destroying it stops them: ` +
        `what they did and did not push is lost, and what a running one spent is not counted ` +
        `by "ohcommodore fleet costs". Wait for them ("ohcommodore agent follow ` +
        `${tasks[0].id}") or cancel them ("ohcommodore agent cancel ${tasks[0].id}") first`,
    );
  }
  return unended;
}

/**
 * Asks a person to type a word before something is destroyed.
 *
 * @param word The word to type, e.g. `sink`.
 * @param question What is about to happen (the prompt goes on `Type "<word>" to confirm:`).
 * @param withoutTerminal The refusal when there is no terminal to ask on (say: use --force).
 * @throws {UsageError} Without a terminal, or when the answer is not the word.
 */
export async function confirmTyped(
  word: string,
  question: string,
  withoutTerminal: string,
): Promise<void> {
  if (!Deno.stdin.isTerminal()) throw new UsageError(withoutTerminal);
  const answer = await ask(`${question} Type "${word}" to confirm: `);
  if (answer.trim() !== word) {
    throw new UsageError(
      `Not confirmed (${quote(answer.trim())} is not "${word}"): nothing was destroyed`,
    );
  }
}

function warn(text: string): void {
  // Ship and task words come from the ships: shown, never obeyed by the terminal.
  note(paint("yellow", `warning: ${escapeControls(text, { inline: true })}`));
}

/**
 * Says that a destroyed ship's agent tasks could not be kept.
 *
 * @param ship The ship.
 * @param why Why the flagship could not ask it.
 * @returns The line.
 */
export function notKept(ship: string, why: string): string {
  return `warning: the flagship could not keep the agent tasks of ${ship} before destroying it ` +
    `(${escapeControls(why, { inline: true })}): "ohcommodore fleet costs" does not count them`;
}
