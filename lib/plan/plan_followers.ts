/**
 * Who follows a plan's events: each is told the events after the last one it saw, stored ones
 * first, then each as the driver tells it, in order and once, until the plan ends.
 *
 * @module
 */

import type { LivePlan } from "./live_plan.ts";
import type { PlanEvent } from "./plan_types.ts";

/** The followers of every plan. */
export class PlanFollowers {
  readonly #listeners = new Map<string, Set<(event: PlanEvent) => void>>();

  /**
   * Tells each plan's followers its new events.
   *
   * @param events The events, as they were saved.
   */
  tell(events: readonly PlanEvent[]): void {
    for (const event of events) {
      for (const listener of this.#listeners.get(event.plan) ?? []) {
        try {
          listener(event);
        } catch {
          // a follower that fails is its own problem
        }
      }
    }
  }

  /**
   * Follows a plan: its stored events after `after`, then each as it is told, until the plan
   * ends or the signal stops following; then `last`, while still following.
   *
   * @param plan The plan.
   * @param stored Its stored events after a place in its history.
   * @param onEvent Told each event.
   * @param options `after`: the last event already seen; `signal` stops following.
   * @param last What to answer once following ends.
   * @returns What `last` returns.
   */
  async follow<T>(
    plan: LivePlan,
    stored: (after: number) => Promise<PlanEvent[]>,
    onEvent: (event: PlanEvent) => void,
    options: { after?: number; signal?: AbortSignal },
    last: () => Promise<T>,
  ): Promise<T> {
    const planId = plan.record.id;
    let seen = options.after ?? 0;
    const ended = Promise.withResolvers<void>();
    const pending: PlanEvent[] = [];
    let replaying = true;
    const take = (event: PlanEvent) => {
      if (event.seq <= seen) return;
      seen = event.seq;
      onEvent(event);
      if (event.type === "ended") ended.resolve();
    };
    const listener = (event: PlanEvent) => replaying ? pending.push(event) : take(event);
    const listeners = this.#listeners.get(planId) ?? new Set();
    listeners.add(listener);
    this.#listeners.set(planId, listeners);
    const onAbort = () => ended.resolve();
    options.signal?.addEventListener("abort", onAbort);
    try {
      for (const event of await stored(seen)) take(event);
      replaying = false;
      for (const event of pending.splice(0)) take(event);
      if (plan.record.status !== "running" && seen >= plan.seq) ended.resolve();
      await ended.promise;
      return await last();
    } finally {
      listeners.delete(listener);
      options.signal?.removeEventListener("abort", onAbort);
    }
  }
}
