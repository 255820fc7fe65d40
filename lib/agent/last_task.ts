/**
 * A ship's current or last agent task for `fleet status`: the state its task runner keeps in
 * `~/.ohcommodore/tasks/last.json`, asked of its scheduler on the forward (else read with `cat`
 * over the shared connection: no program start either way), and told in a few fields.
 *
 * @module
 */

import type { Transport } from "../transport.ts";
import type { Ssh } from "../ssh.ts";
import { askMember } from "../inbox/ask_member.ts";
import type { MemberReport } from "../inbox/report.ts";
import type { TaskState } from "./task_state.ts";

/** A ship's current or last agent task, as `fleet status` shows it. */
export interface TaskSummary {
  /** The task's id. */
  id: string;
  /** Its status; `stopped` for one that ended without an outcome (timed out or cancelled). */
  status: string;
  /** When it started (ISO 8601). */
  startedAt: string;
  /** How long it ran, or has run so far. */
  runningMs: number;
  /** What it cost, once it ended. */
  costUsd: number | null;
  /**
   * When the usage limit it ended on, or waits out to resume, resets (ISO 8601), when Claude
   * said.
   */
  resetAt?: string;
}

const READ_LAST = 'cat "$HOME/.ohcommodore/tasks/last.json" 2>/dev/null || true';
// A task's state is a few kilobytes (its answer is kept in the inbox); more is not believed.
const MAX_STATE_BYTES = 4 * 1024 * 1024;

/**
 * Reads a member's last task state.
 *
 * @param transport The member.
 * @returns The state, or null when it ran no task (or the file is unreadable).
 */
export async function fetchLastTask(
  transport: Transport,
  server?: { ssh: Ssh; address: string },
): Promise<TaskState | null> {
  // Its scheduler answers on the forward when there is one; else a `cat`.
  const asked = server &&
    await askMember(
      { destination: transport.destination, address: server.address },
      server.ssh,
      "lastTask",
      {},
      { timeoutMs: 30_000, maxReplyBytes: MAX_STATE_BYTES },
    );
  if (asked) return checkedState(asked.value);
  const result = await transport.run(["sh", "-c", READ_LAST], {
    timeoutMs: 30_000,
    maxOutput: MAX_STATE_BYTES,
  });
  try {
    return checkedState(JSON.parse(result.stdout));
  } catch {
    return null;
  }
}

// A state as a member told it, when it has a state's shape.
function checkedState(value: unknown): TaskState | null {
  const state = value as Partial<TaskState> | null;
  return typeof state?.id === "string" && typeof state?.startedAt === "string"
    ? state as TaskState
    : null;
}

/**
 * The task in a few fields.
 *
 * @param state The runner's state.
 * @param report The member's report (a task that says it runs while nothing runs was stopped).
 * @returns The summary, or null.
 */
export function summarize(state: TaskState | null, report: MemberReport): TaskSummary | null {
  if (!state) return null;
  // Running, stalled or waiting: no outcome yet.
  const open = state.outcome === undefined;
  const stopped = open && report.counts.running === 0;
  const resetAt = open ? state.resetAt : state.outcome?.resetAt;
  const ended = state.outcome?.durationMs;
  return {
    id: state.id,
    status: stopped ? "stopped" : String(state.status),
    startedAt: state.startedAt,
    runningMs: open && !stopped
      ? Date.now() - Date.parse(state.startedAt)
      : typeof ended === "number"
      ? ended
      : 0,
    costUsd: typeof state.outcome?.costUsd === "number" ? state.outcome.costUsd : null,
    ...(!stopped && typeof resetAt === "string" ? { resetAt } : {}),
  };
}
