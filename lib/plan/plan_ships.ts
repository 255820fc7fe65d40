/**
 * The fleet's ships as the plan driver sees them: as the registry last listed them, which one
 * works on which attempt (one at a time per ship, across plans), and which rest after they did
 * not answer. The driver asks it for an idle ship of a plan.
 *
 * @module
 */

import type { InboxView } from "../inbox/remote_inbox.ts";
import type { LivePlan } from "./live_plan.ts";

/** A ship as the driver uses it: `Ship` handles are these. */
export interface PlanShip {
  /** Its VM name. */
  readonly name: string;
  /** Its repository. */
  readonly repo: string | null;
  /** Its inbox. */
  readonly inbox: InboxView;
  /** Delivers a command (idempotent by id). */
  send(command: string, options: { id?: string; timeoutMs?: number }): Promise<unknown>;
}

/** The driver's ships: listed, busy, resting. */
export class PlanShips {
  readonly #list: () => Promise<PlanShip[]>;
  readonly #rested: (name: string) => void;
  #ships = new Map<string, PlanShip>();
  // Which ship works on which attempt: one at a time per ship, across plans.
  readonly #busy = new Map<string, string>();
  // Ships that did not answer, given no work for now.
  readonly #resting = new Set<string>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();

  /**
   * Creates the ships, none listed yet.
   *
   * @param list The fleet's ships, as the registry has them now.
   * @param rested Told when a ship's rest is over, so that plans may look again.
   */
  constructor(list: () => Promise<PlanShip[]>, rested: (name: string) => void) {
    this.#list = list;
    this.#rested = rested;
  }

  /** Lists the ships again; throws when the registry cannot be read. */
  async refresh(): Promise<void> {
    const ships = await this.#list();
    this.#ships = new Map(ships.map((ship) => [ship.name, ship]));
  }

  /**
   * The ships as last listed.
   *
   * @returns Them.
   */
  all(): PlanShip[] {
    return [...this.#ships.values()];
  }

  /**
   * A ship as last listed.
   *
   * @param name Its name.
   * @returns It, unless it is gone from the fleet.
   */
  get(name: string): PlanShip | undefined {
    return this.#ships.get(name);
  }

  /**
   * Whether a ship was listed last time.
   *
   * @param name Its name.
   * @returns True when it is in the fleet.
   */
  has(name: string): boolean {
    return this.#ships.has(name);
  }

  /**
   * A ship starts work on an attempt.
   *
   * @param name The ship.
   * @param messageId The attempt's message id.
   */
  take(name: string, messageId: string): void {
    this.#busy.set(name, messageId);
  }

  /**
   * A ship's attempt is no longer out: the ship is free, unless it works on another by now.
   *
   * @param name The ship.
   * @param messageId The attempt's message id.
   */
  free(name: string, messageId: string): void {
    if (this.#busy.get(name) === messageId) this.#busy.delete(name);
  }

  /**
   * An idle ship of the plan: the wanted one when it is idle; with `wait`, none while the wanted
   * one is busy but still in the fleet.
   *
   * @param plan The plan.
   * @param wanted The ship it should be, if one.
   * @param options `wait`: hold out for the wanted ship.
   * @returns The ship, or undefined when none is idle.
   */
  idleFor(
    plan: LivePlan,
    wanted: string | null,
    options: { wait?: boolean } = {},
  ): PlanShip | undefined {
    const usable = (name: string) => this.#ships.has(name) && !this.#resting.has(name);
    const idle = (name: string) =>
      plan.record.spec.ships.includes(name) && usable(name) && !this.#busy.has(name);
    if (wanted && idle(wanted)) return this.#ships.get(wanted);
    if (wanted && options.wait && usable(wanted)) return undefined;
    const name = plan.record.spec.ships.find(idle);
    return name ? this.#ships.get(name) : undefined;
  }

  /**
   * A ship that did not answer gets no work for a while; then the `rested` callback is told.
   *
   * @param name The ship.
   * @param ms How long it rests.
   */
  rest(name: string, ms: number): void {
    this.#resting.add(name);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#resting.delete(name);
      this.#rested(name);
    }, ms);
    this.#timers.add(timer);
  }

  /** Ends every rest's timer, telling nobody. */
  stop(): void {
    for (const timer of this.#timers) clearTimeout(timer);
  }
}
