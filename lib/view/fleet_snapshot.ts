/**
 * The fleet at one moment, as the live views see it: what a {@link FleetSnapshot} holds (the
 * flagship's counts, a {@link ShipView} per ship, a {@link TaskRow} per agent task, plans,
 * messages, plan events), and how the fleet's status and agent tasks become its rows.
 *
 * Everything here is data, kept exactly as it came; escaping is the renderer's job.
 *
 * @example A ship's status as a view shows it
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * import { shipView } from "./fleet_snapshot.ts";
 *
 * await using fleet = await Fleet.open();
 * const { ships } = await fleet.status();
 * console.log(ships.map(shipView));
 * ```
 *
 * @module
 */

import { hasNotEnded, type TaskOutcome } from "../agent/task.ts";
import type { Message } from "../inbox/message.ts";
import type { FleetCosts } from "../fleet/fleet_costs.ts";
import type { ShipStatus } from "../fleet/backend.ts";
import type { PlanEvent, PlanListing, PlanTaskSummary } from "../plan/plan_types.ts";

/** One ship as a view shows it. */
export interface ShipView {
  /** Its VM name. */
  name: string;
  /** Its repository, or null. */
  repo: string | null;
  /** True for a ship without a key of its own (it reaches the fleet through its channel). */
  keyless: boolean;
  /** A keyless ship's channel to the flagship: `forward`, `poll` or `down`; else null. */
  channel: string | null;
  /** Whether its scheduler answers; null when the ship could not be asked. */
  schedulerRunning: boolean | null;
  /** Messages waiting in its inbox; null when unknown. */
  unread: number | null;
  /** Messages running there; null when unknown. */
  running: number | null;
  /** Its current or last agent task, with the plan it works for. */
  task: {
    id: string;
    status: string;
    runningMs: number;
    costUsd: number | null;
    plan: { id: string; task: string } | null;
  } | null;
  /** Why it could not be asked, or what is wrong with its VM; null when all is well. */
  problem: string | null;
}

/** An agent task as the views list it (newest first); what the cost chart is drawn from. */
export interface TaskRow {
  /** Its id. */
  id: string;
  /** The ship it ran on. */
  ship: string;
  /** Its status (`running`, `done`, `error`, …). */
  status: string;
  /** When it started (ISO 8601), when known. */
  startedAt: string | null;
  /** When it ended (ISO 8601), once it has. */
  endedAt: string | null;
  /** What it cost, once it ended. */
  costUsd: number | null;
  /** Its prompt, as given. */
  prompt: string;
}

/** The whole fleet at one moment. */
export interface FleetSnapshot {
  /** When it was read (ISO 8601). */
  at: string;
  /** The flagship: its scheduler and inbox counts. */
  flagship: {
    name: string;
    schedulerRunning: boolean;
    unread: number;
    running: number;
    held: number;
  };
  /** Every ship. */
  ships: ShipView[];
  /** Every plan, newest first. */
  plans: PlanListing[];
  /** Recorded agent costs (read less often than the rest); null until read. */
  costs: FleetCosts | null;
  /** Commands from ships held on the flagship until a person approves them. */
  held: Message[];
  /** The flagship's recent messages, newest first. */
  recent: Message[];
  /** Notes sent to the flagship, newest first. */
  notes: Message[];
  /** The tasks of each plan that runs or ran lately, by plan id. */
  planTasks: Record<string, PlanTaskSummary[]>;
  /** The latest plan events, oldest first (at most {@link KEPT_PLAN_EVENTS}). */
  planEvents: PlanEvent[];
  /** Agent tasks of the fleet, newest first (read with the costs); empty until read. */
  tasks: TaskRow[];
  /** What the last poll could not read, a sentence each. */
  problems: string[];
}

/** How many plan events a snapshot keeps. */
export const KEPT_PLAN_EVENTS = 200;
const KEPT_TASKS = 200;

/**
 * A ship's status as a view shows it.
 *
 * @param status The ship's status, as `fleet.status()` gives it.
 * @returns The view of it.
 */
export function shipView(status: ShipStatus): ShipView {
  const task = status.task;
  const vmProblem = status.vmStatus === "missing"
    ? "its VM is missing"
    : status.status !== "ready"
    ? `it is ${status.status}`
    : null;
  return {
    name: status.name,
    repo: status.repo,
    keyless: !status.trusted,
    channel: status.channel,
    schedulerRunning: status.report?.schedulerRunning ?? null,
    unread: status.report?.counts.unread ?? null,
    running: status.report?.counts.running ?? null,
    task: task
      ? {
        id: task.id,
        status: task.status,
        runningMs: task.runningMs,
        costUsd: task.costUsd,
        plan: status.plan ?? null,
      }
      : null,
    problem: status.problem ?? vmProblem,
  };
}

/**
 * Agent tasks as the views list them: newest first, at most 200, each with when
 * it ended once it has.
 *
 * @param tasks The tasks' outcomes, as `fleet.agents.list()` gives them.
 * @returns The rows.
 */
export function taskRows(tasks: TaskOutcome[]): TaskRow[] {
  const rows = tasks.map((task): TaskRow => {
    const startedAt = task.startedAt ?? null;
    const endedAt = startedAt && task.durationMs !== null && !hasNotEnded(task.status)
      ? new Date(Date.parse(startedAt) + task.durationMs).toISOString()
      : null;
    return {
      id: task.id,
      ship: task.ship,
      status: task.status,
      startedAt,
      endedAt,
      costUsd: task.costUsd,
      prompt: task.prompt ?? "",
    };
  });
  const time = (row: TaskRow) => Date.parse(row.startedAt ?? "") || 0;
  return rows.sort((a, b) => time(b) - time(a)).slice(0, KEPT_TASKS);
}

/**
 * A snapshot of a fleet not read yet: its flagship's name, nothing else.
 *
 * @param flagship The flagship's VM name.
 * @returns The snapshot.
 */
export function emptySnapshot(flagship: string): FleetSnapshot {
  return {
    at: new Date().toISOString(),
    flagship: { name: flagship, schedulerRunning: false, unread: 0, running: 0, held: 0 },
    ships: [],
    plans: [],
    costs: null,
    held: [],
    recent: [],
    notes: [],
    planTasks: {},
    planEvents: [],
    tasks: [],
    problems: [],
  };
}
