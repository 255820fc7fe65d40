/**
 * What the driver keeps of a plan, in memory and in `plans.duckdb` (`plan_store.ts`): the plan
 * and how it runs, its tasks and what the driver remembers of each between attempts, the
 * attempts sent to ships, and the changes written together. Types only.
 *
 * @module
 */

import type { TaskUsage } from "../agent/task.ts";
import type { PlanFile } from "./plan_schema.ts";
import type { PlanEvent, PlanStatus, PlanTaskSummary } from "./plan_types.ts";

/** How a plan runs: its file, with what `plan run` chose. */
export interface PlanSpec {
  /** The plan file, checked. */
  file: PlanFile;
  /** The ships it may use. */
  ships: string[];
  /** Agent runs per task. */
  maxAttempts: number;
  /** Pull requests. */
  pr: "each" | "one" | "none";
  /** The plan's own pull request was asked for (`pr: "one"`). */
  prAsked?: boolean;
}

/** A plan as the driver keeps it. */
export interface PlanRecord {
  id: string;
  status: PlanStatus;
  repo: string;
  integrate: string;
  costUsd: number;
  budgetUsd: number | null;
  tokens: TaskUsage;
  pr: string | null;
  note: string | null;
  createdAt: string;
  finishedAt: string | null;
  spec: PlanSpec;
}

/** What the driver remembers of a task between attempts. */
export interface TaskMemory {
  /** The Claude Code session of its last agent run, and the ship that has it. */
  sessionId?: string | null;
  sessionShip?: string | null;
  /** The prompt of its next attempt, when it is a retry (what failed, to fix). */
  feedback?: string | null;
  /** The next attempt starts by rebasing onto the plan's branch (a conflict to resolve). */
  rebase?: boolean;
  /** When its work was verified: integrations go in this order. */
  verifiedAt?: string | null;
  /** Integrations that failed for a reason of their own (not a conflict or a verification). */
  integrationErrors?: number;
  /** Its pull request was asked for (`--pr each`). */
  prAsked?: boolean;
}

/**
 * A task of a plan as the driver keeps it: the fields `plan status` shows of it (but its needs,
 * which the plan's file holds), and its plan, its place in the file and what the driver remembers.
 */
export interface TaskRecord extends Omit<PlanTaskSummary, "needs" | "error"> {
  /** Its plan. */
  plan: string;
  /** Its place in the plan's file, from 0. */
  position: number;
  /** Why it did not end `done`, in a sentence. */
  error: string | null;
  /** What the driver remembers of it between attempts. */
  memory: TaskMemory;
}

/** What an attempt does on its ship. */
export type AttemptKind = "agent" | "integrate" | "pr";

/** One message sent to a ship for a plan. */
export interface AttemptRecord {
  /** The inbox message's id, chosen before it is sent. */
  messageId: string;
  plan: string;
  /** The task; for the plan's own pull request, the empty string. */
  task: string;
  kind: AttemptKind;
  ship: string;
  /** `sent` until its outcome is taken in (`ended`), or its ship is given up on (`lost`). */
  status: "sent" | "ended" | "lost";
  costUsd: number | null;
  sentAt: string;
  endedAt: string | null;
  /** Its outcome as the ship printed it, JSON. */
  outcome: string | null;
}

/** Changes written together. */
export interface PlanChanges {
  plan?: PlanRecord;
  tasks?: TaskRecord[];
  attempts?: AttemptRecord[];
  events?: PlanEvent[];
}
