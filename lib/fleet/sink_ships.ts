/**
 * Destroying ships on the flagship: one (`destroyShip`) or every one and the VMs of the fleet
 * that the registry lost (`sinkShips`), never the flagship. Each ship's agent tasks are kept
 * first: their outcomes and costs go into the registry's database, which outlives the ship.
 *
 * @module
 */

import { pLimit } from "../deps.ts";
import { transportFor } from "../transport.ts";
import type { VmInfo } from "../providers/provider.ts";
import type { DestroyedShip, SinkReport } from "./backend.ts";
import type { FleetFacts } from "./config.ts";
import { type FlagshipParts, STATUS_CONCURRENCY } from "./flagship_parts.ts";
import { isShipOfFleet } from "./names.ts";
import type { FleetProgress } from "./progress.ts";
import { Registry, type ShipRecord } from "./registry.ts";
import { fetchShipTasks } from "./ship_task_list.ts";

/**
 * Destroys a ship: its VM, its key and its record, its agent tasks kept first; a ship that
 * cannot be asked goes all the same.
 *
 * @param flagship The flagship's means.
 * @param prefix The ship's name or a unique prefix of it.
 * @returns The ship as it was recorded, and whether its tasks were kept.
 * @throws {NotFoundError} When no ship matches.
 */
export async function destroyShip(flagship: FlagshipParts, prefix: string): Promise<DestroyedShip> {
  const registry = await Registry.open(flagship.home);
  const ship = await registry.find(prefix);
  const kept = await keepTasks(flagship, ship, registry);
  await flagship.provider.remove([ship.name]);
  await forget(flagship, ship.name, ship.publicKey, registry);
  return { ...ship, ...kept };
}

/**
 * Destroys every ship, and VMs of this fleet that the registry lost. Never the flagship. Each
 * ship's agent tasks are kept first, as {@link destroyShip} does.
 *
 * @param flagship The flagship's means.
 * @param onProgress Called as each ship goes.
 * @returns What was destroyed and what could not be.
 */
export async function sinkShips(
  flagship: FlagshipParts,
  onProgress?: (progress: FleetProgress) => void,
): Promise<SinkReport> {
  const registry = await Registry.open(flagship.home);
  const [ships, vms] = await Promise.all([registry.list(), flagship.provider.list()]);
  const orphans = orphansAmong(flagship.facts, vms, ships);
  const keys = new Map(ships.map((ship) => [ship.name, ship.publicKey]));
  const report: SinkReport = { destroyed: [], orphans: [], failed: [], tasksNotKept: [] };
  const names = [...ships.map((ship) => ship.name), ...orphans.map((vm) => vm.name)];
  for (const name of names) onProgress?.({ vm: name, step: "destroy" });
  const limit = pLimit(STATUS_CONCURRENCY);
  await Promise.all(ships.map((ship) =>
    limit(async () => {
      const { tasksNotKept } = await keepTasks(flagship, ship, registry);
      if (tasksNotKept) report.tasksNotKept.push({ name: ship.name, error: tasksNotKept });
    })
  ));
  try {
    await flagship.provider.remove(names); // one call for the whole fleet
  } catch (error) {
    report.failed = names.map((name) => ({ name, error: (error as Error).message }));
    return report;
  }
  await Promise.all(names.map(async (name) => {
    try {
      const publicKey = keys.get(name) || await flagship.keys.keptPublicKey(name);
      await forget(flagship, name, publicKey, registry);
      (keys.has(name) ? report.destroyed : report.orphans).push(name);
    } catch (error) {
      report.failed.push({ name, error: (error as Error).message });
    }
  }));
  return report;
}

/**
 * VMs named like this fleet's ships that the registry does not know.
 *
 * @param facts The fleet.
 * @param vms The provider's VMs.
 * @param ships The registry's ships.
 * @returns The lost VMs.
 */
export function orphansAmong(facts: FleetFacts, vms: VmInfo[], ships: ShipRecord[]): VmInfo[] {
  const known = new Set(ships.map((ship) => ship.name));
  return vms.filter((vm) => isShipOfFleet(vm.name, facts.tag) && !known.has(vm.name));
}

// Just before a ship goes, its tasks' outcomes and costs go into the registry's database,
// which outlives it: "fleet costs" counts them after. Here, so nothing depends on the laptop.
async function keepTasks(
  flagship: FlagshipParts,
  ship: ShipRecord,
  registry: Registry,
): Promise<{ tasksKept: number; tasksNotKept?: string }> {
  // A ship never made ready ran no task (and may have no program to ask).
  if (ship.status !== "ready") return { tasksKept: 0 };
  try {
    const transport = transportFor(ship.destination, flagship.ssh);
    const tasks = await fetchShipTasks(transport, ship.name, flagship.ssh);
    await registry.keepTasks(ship.name, tasks);
    return { tasksKept: tasks.length };
  } catch (error) {
    return { tasksKept: 0, tasksNotKept: (error as Error).message };
  }
}

// After its VM is gone: its key, its record, its key file.
async function forget(
  flagship: FlagshipParts,
  name: string,
  publicKey: string | null,
  registry: Registry,
): Promise<void> {
  if (publicKey && flagship.provider.managesKeys) await flagship.provider.removeKey(publicKey);
  await registry.remove(name);
  await flagship.keys.forget(name);
}
