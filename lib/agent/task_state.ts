/**
 * What a ship keeps about its tasks, beside the inbox: each task's state while it runs (running
 * or stalled, when it last spoke, its session) and its outcome once it ends, in
 * `~/.ohcommodore/tasks/<id>.json`, plus `last.json` for `fleet status`.
 *
 * @module
 */

import { join } from "node:path";
import { memberPaths } from "../paths.ts";
import type { TaskOutcome, TaskStatus } from "./task.ts";
import { writePrivateFile } from "../private_files.ts";

/** A task's state on its ship. */
export interface TaskState {
  /** The task's id. */
  id: string;
  /**
   * While it runs: `waiting` for its checkout or for a usage limit to reset (`resetAt`),
   * `running` or `stalled`; then how it ended.
   */
  status: TaskStatus;
  /** When it started (ISO 8601). */
  startedAt: string;
  /** When Claude Code last printed a line (ISO 8601). */
  lastOutputAt: string;
  /** The Claude Code session, once known. */
  sessionId: string | null;
  /** While it waits out a usage limit: when the limit resets (ISO 8601). */
  resetAt?: string | null;
  /** The outcome, once it ended. */
  outcome?: TaskOutcome;
}

/**
 * The directory of a member's task states.
 *
 * @param home The member's home.
 * @returns The directory.
 */
export function tasksDir(home?: string): string {
  return join(memberPaths(home).configDir, "tasks");
}

/**
 * Records a task's state (and outcome), written aside and renamed.
 *
 * @param state The state.
 * @param home The member's home.
 * @param outcome The outcome, when it ended.
 */
export async function writeTaskState(
  state: TaskState,
  home?: string,
  outcome?: TaskOutcome,
): Promise<void> {
  const text = JSON.stringify(outcome ? { ...state, outcome } : state) + "\n";
  // The stall timer and the output may write at the same moment: each write has its own part.
  // Both files at once: the first write comes before Claude Code starts.
  await Promise.all(
    [`${state.id}.json`, "last.json"].map((name) =>
      writePrivateFile(join(tasksDir(home), name), text)
    ),
  );
}

/**
 * A task's state, if the ship has one.
 *
 * @param id The task's id, or `last`.
 * @param home The member's home.
 * @returns The state, or undefined.
 */
export async function readTaskState(id: string, home?: string): Promise<TaskState | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(join(tasksDir(home), `${id}.json`)));
  } catch {
    return undefined;
  }
}
