/**
 * A plan the driver works on, in memory (the store holds the same): its record, its tasks, the
 * last place in its history, and its attempts out on ships; the plans the driver holds, found by
 * id or unique prefix ({@link LivePlans}); and the small steps every part of the driver takes on
 * a plan.
 *
 * @module
 */

import { NotFoundError } from "../errors.ts";
import { checkPlanId } from "./plan_options.ts";
import type { PlanTask } from "./plan_schema.ts";
import type { AttemptRecord, PlanRecord, TaskRecord } from "./plan_records.ts";
import type { PlanStore } from "./plan_store.ts";
import type { PlanEvent, PlanEventType } from "./plan_types.ts";

/** A plan in memory. */
export interface LivePlan {
  /** The plan. */
  record: PlanRecord;
  /** Its tasks, by id, in the order of its file. */
  tasks: Map<string, TaskRecord>;
  /** Its last event's place in its history. */
  seq: number;
  /** Its attempts out on ships, by message id. */
  open: Map<string, AttemptRecord>;
}

/** The plans the driver holds: the running ones, and ended ones while they are asked about. */
export class LivePlans {
  readonly #store: PlanStore;
  readonly #plans = new Map<string, LivePlan>();

  /**
   * Holds no plan yet.
   *
   * @param store The plans database.
   */
  constructor(store: PlanStore) {
    this.#store = store;
  }

  /**
   * Takes up the plans that were running when a driver stopped, with their attempts out.
   *
   * @returns Them.
   */
  async loadRunning(): Promise<LivePlan[]> {
    const loaded: LivePlan[] = [];
    for (const record of await this.#store.plans("running")) {
      const plan = await this.#load(record);
      for (const attempt of await this.#store.openAttempts(record.id)) {
        plan.open.set(attempt.messageId, attempt);
      }
      loaded.push(plan);
    }
    return loaded;
  }

  /**
   * Holds a new plan.
   *
   * @param plan The plan, saved.
   */
  add(plan: LivePlan): void {
    this.#plans.set(plan.record.id, plan);
  }

  /**
   * A plan held.
   *
   * @param id Its id.
   * @returns It, unless it is not held.
   */
  get(id: string): LivePlan | undefined {
    return this.#plans.get(id);
  }

  /**
   * Every plan held.
   *
   * @returns Them, oldest first.
   */
  all(): LivePlan[] {
    return [...this.#plans.values()];
  }

  /**
   * A plan, held or stored, by its id or a unique prefix; a stored one is held from then on.
   *
   * @param id Its id or a unique prefix.
   * @returns The plan.
   * @throws {NotFoundError} When no plan has that id, or more than one starts with it.
   */
  async find(id: string): Promise<LivePlan> {
    const wanted = checkPlanId(id);
    const live = this.all().filter((plan) => plan.record.id.startsWith(wanted));
    const stored = (await this.#store.plans()).filter((plan) => plan.id.startsWith(wanted));
    const ids = [...new Set([...live.map((plan) => plan.record.id), ...stored.map((p) => p.id)])];
    if (ids.length !== 1) {
      throw new NotFoundError(
        ids.length ? `Plan id "${wanted}" is ambiguous: ${ids.join(", ")}` : `No plan "${wanted}"`,
        { query: id, next: `"ohcommodore plan list" shows them` },
      );
    }
    // Ended plans stay in memory while they are asked about; there are few.
    return this.#plans.get(ids[0]) ?? await this.#load(stored[0]);
  }

  // A stored plan, held again, with no attempt out.
  async #load(record: PlanRecord): Promise<LivePlan> {
    const tasks = await this.#store.tasks(record.id);
    const plan: LivePlan = {
      record,
      tasks: new Map(tasks.map((task) => [task.id, task])),
      seq: await this.#store.lastSeq(record.id),
      open: new Map(),
    };
    this.#plans.set(record.id, plan);
    return plan;
  }
}

/**
 * The next event of a plan's history.
 *
 * @param plan The plan.
 * @param type What happened.
 * @param task The task it concerns, if one.
 * @param ship The ship, if one.
 * @param text What happened, in a sentence.
 * @returns The event, its place taken.
 */
export function planEvent(
  plan: LivePlan,
  type: PlanEventType,
  task: string | null,
  ship: string | null,
  text: string,
): PlanEvent {
  return { plan: plan.record.id, seq: ++plan.seq, at: now(), type, task, ship, text };
}

/**
 * A task as the plan's file gives it.
 *
 * @param plan The plan.
 * @param task The task's record.
 * @returns Its entry in the file.
 */
export function taskSpecOf(plan: LivePlan, task: TaskRecord): PlanTask {
  return plan.record.spec.file.tasks.find((spec) => spec.id === task.id)!;
}

/**
 * The command that verifies a task: its own, else the plan's.
 *
 * @param plan The plan.
 * @param task The task's record.
 * @returns The command, or undefined when the plan verifies nothing.
 */
export function verifyCommandOf(plan: LivePlan, task: TaskRecord): string | undefined {
  return taskSpecOf(plan, task).verify ?? plan.record.spec.file.verify;
}

/**
 * Whether new agent runs of a plan may start.
 *
 * @param plan The plan.
 * @returns True while it has no budget, or its cost is below it.
 */
export function hasBudgetLeft(plan: LivePlan): boolean {
  return plan.record.budgetUsd === null || plan.record.costUsd < plan.record.budgetUsd;
}

/**
 * Dollars as they add up: to a millionth.
 *
 * @param usd An amount.
 * @returns It, rounded.
 */
export function round(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

/**
 * This moment.
 *
 * @returns It, ISO 8601.
 */
export function now(): string {
  return new Date().toISOString();
}
