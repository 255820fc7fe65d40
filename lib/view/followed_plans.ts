/**
 * The plans a live view follows: each running plan's events as they happen (its history first),
 * and the tasks of the plans it shows (the running ones and the latest few that ended), read
 * again only when a plan's events or listing say they changed: once per event burst, not once
 * per viewer.
 *
 * @example Follow the fleet's plans for a minute
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * import { FollowedPlans } from "./followed_plans.ts";
 *
 * await using fleet = await Fleet.open();
 * const signal = AbortSignal.timeout(60_000);
 * const plans = new FollowedPlans(fleet, signal, {
 *   onEvent: (event) => console.log(event.plan, event.type, event.text),
 *   onError: console.error,
 *   onEnded: () => {},
 * });
 * const listing = await fleet.plans.list();
 * await plans.update(listing);
 * console.log(plans.tasks(listing));
 * await plans.settled();
 * ```
 *
 * @module
 */

import type { Fleet } from "../fleet/fleet.ts";
import type { PlanEvent, PlanListing, PlanSummary, PlanTaskSummary } from "../plan/plan_types.ts";

// A finished plan's tasks stay on the board for this many plans.
const FINISHED_PLANS_SHOWN = 5;

/** What {@link FollowedPlans} tells its view. */
export interface FollowedPlansListener {
  /** Each plan event as it happens. */
  onEvent: (event: PlanEvent) => void;
  /** Why following a plan stopped, a sentence (not after the signal). */
  onError: (message: string) => void;
  /** A plan's events ended (not after the signal): its end is worth reading at once. */
  onEnded: () => void;
}

/**
 * The plans a view follows, and the tasks of the plans it shows; see the module doc.
 *
 * @example Read the tasks of the plans shown
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * import { FollowedPlans } from "./followed_plans.ts";
 *
 * await using fleet = await Fleet.open();
 * const plans = new FollowedPlans(fleet, AbortSignal.timeout(10_000), {
 *   onEvent: () => {},
 *   onError: () => {},
 *   onEnded: () => {},
 * });
 * const listing = await fleet.plans.list();
 * await plans.update(listing);
 * console.log(Object.keys(plans.tasks(listing)));
 * ```
 */
export class FollowedPlans {
  readonly #fleet: Fleet;
  readonly #signal: AbortSignal;
  readonly #listener: FollowedPlansListener;
  // Plans followed now, by id, each with how far its events were heard.
  readonly #following = new Map<string, Promise<void>>();
  readonly #planSeen = new Map<string, number>();
  readonly #planSummaries = new Map<string, PlanSummary>();
  readonly #staleSummaries = new Set<string>();

  /**
   * Follows no plan yet: {@link FollowedPlans.update} starts.
   *
   * @param fleet The fleet whose plans these are.
   * @param signal Stops following every plan.
   * @param listener Told each event, each failure and each end.
   */
  constructor(fleet: Fleet, signal: AbortSignal, listener: FollowedPlansListener) {
    this.#fleet = fleet;
    this.#signal = signal;
    this.#listener = listener;
  }

  /**
   * Follows each running plan not followed yet (its history first), and reads the summary of
   * each shown plan whose tasks changed.
   *
   * @param plans Every plan, newest first, as last listed.
   */
  async update(plans: PlanListing[]): Promise<void> {
    const shown = new Set(shownPlans(plans).map((plan) => plan.id));
    for (const plan of plans) {
      if (!shown.has(plan.id)) continue;
      const known = this.#planSummaries.get(plan.id);
      if (!known || known.status !== plan.status || known.costUsd !== plan.costUsd) {
        this.#staleSummaries.add(plan.id);
      }
      if (plan.status === "running" && !this.#following.has(plan.id)) this.#follow(plan.id);
    }
    for (const id of this.#planSummaries.keys()) if (!shown.has(id)) this.#planSummaries.delete(id);
    const stale = [...this.#staleSummaries].filter((id) => shown.has(id));
    this.#staleSummaries.clear();
    await Promise.all(stale.map(async (id) => {
      try {
        this.#planSummaries.set(id, await this.#fleet.plans.get(id).status());
      } catch {
        this.#staleSummaries.add(id); // asked again next time
      }
    }));
  }

  /**
   * The tasks of each shown plan whose summary was read, by plan id.
   *
   * @param plans Every plan, as last listed.
   * @returns The tasks by plan id.
   */
  tasks(plans: PlanListing[]): Record<string, PlanTaskSummary[]> {
    const tasks: Record<string, PlanTaskSummary[]> = {};
    for (const plan of shownPlans(plans)) {
      const summary = this.#planSummaries.get(plan.id);
      if (summary) tasks[plan.id] = summary.tasks;
    }
    return tasks;
  }

  /**
   * Resolves once every plan followed now has stopped (after the signal, say).
   */
  async settled(): Promise<void> {
    await Promise.allSettled(this.#following.values());
  }

  #follow(id: string): void {
    const signal = this.#signal;
    const following = this.#fleet.plans.get(id).follow((event) => {
      this.#planSeen.set(id, event.seq);
      this.#staleSummaries.add(id);
      this.#listener.onEvent(event);
    }, { after: this.#planSeen.get(id), signal }).then(
      () => {},
      (error) => {
        if (!signal.aborted) {
          this.#listener.onError(`Stopped following plan ${id}: ${(error as Error).message}`);
        }
      },
    ).finally(() => {
      this.#following.delete(id);
      this.#staleSummaries.add(id);
      // Its end is read at once, not at the next interval.
      if (!signal.aborted) this.#listener.onEnded();
    });
    this.#following.set(id, following);
  }
}

// The running plans and the latest few that ended.
function shownPlans(plans: PlanListing[]): PlanListing[] {
  const running = plans.filter((plan) => plan.status === "running");
  const ended = plans.filter((plan) => plan.status !== "running").slice(0, FINISHED_PLANS_SHOWN);
  return [...running, ...ended];
}
