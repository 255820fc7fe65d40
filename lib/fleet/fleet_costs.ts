/**
 * What the fleet's agents cost: per ship and in all, from what the ships say of their tasks and
 * what the flagship kept of destroyed ships' tasks.
 *
 * @module
 */

import type { TaskOutcome } from "../agent/task.ts";
import type { KeptTask } from "./registry.ts";

/** The fleet's recorded costs. */
export interface FleetCosts {
  /**
   * Per ship: its tasks and what they cost. `destroyed` marks a ship that is gone: its tasks are
   * the ones the flagship kept when it was destroyed (a task that still ran then has no cost).
   */
  ships: { name: string; tasks: number; costUsd: number; destroyed: boolean }[];
  /** The fleet's total. */
  totalUsd: number;
  /** Ships that could not be asked: their costs are not in the totals. */
  unreachable: { ship: string; error: string }[];
}

/**
 * The costs of a fleet's tasks: a row for every ship of the fleet (none for a ship without
 * tasks), and for each destroyed ship whose tasks the flagship kept; in dollars to a millionth.
 *
 * @param fleet The names of the fleet's ships.
 * @param tasks Their tasks.
 * @param kept The tasks the flagship kept of destroyed ships.
 * @param unreachable The ships that could not be asked.
 * @returns The costs.
 */
export function fleetCosts(
  fleet: readonly string[],
  tasks: readonly TaskOutcome[],
  kept: readonly Pick<KeptTask, "outcome">[],
  unreachable: { ship: string; error: string }[],
): FleetCosts {
  const ships = new Map<string, FleetCosts["ships"][number]>();
  const add = (task: TaskOutcome, destroyed: boolean) => {
    const entry = ships.get(task.ship) ?? { name: task.ship, tasks: 0, costUsd: 0, destroyed };
    entry.tasks++;
    entry.costUsd += task.costUsd ?? 0;
    ships.set(task.ship, entry);
  };
  for (const name of fleet) {
    ships.set(name, { name, tasks: 0, costUsd: 0, destroyed: false });
  }
  for (const task of tasks) add(task, false);
  // A ship whose VM would not go is still in the fleet, and answers for itself.
  for (const { outcome } of kept) {
    if (!fleet.includes(outcome.ship)) add(outcome, true);
  }
  const list = [...ships.values()].map((ship) => ({ ...ship, costUsd: round(ship.costUsd) }));
  const totalUsd = round(list.reduce((sum, ship) => sum + ship.costUsd, 0));
  return { ships: list, totalUsd, unreachable };
}

// Costs add up in floating point: cents and below to a millionth of a dollar.
function round(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}
