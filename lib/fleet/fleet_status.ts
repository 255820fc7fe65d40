/**
 * The fleet's status as the flagship sees it: the flagship's own report, and each ship's VM,
 * key, channel, plan, report and last task, the ships asked in parallel. A ship that cannot be
 * asked has a `problem`, never a throw that hides the others.
 *
 * @module
 */

import { pLimit } from "../deps.ts";
import { transportFor } from "../transport.ts";
import { keyIdentity } from "../providers/provider.ts";
import { fetchLastTask, summarize } from "../agent/last_task.ts";
import { Plans } from "../plan/plans.ts";
import { planCaller } from "../plan/plan_caller.ts";
import { readChannelStatuses } from "../relay/ship_channels.ts";
import type { FleetStatus, ShipStatus } from "./backend.ts";
import { type FlagshipParts, STATUS_CONCURRENCY } from "./flagship_parts.ts";
import { fetchReport, memberReport } from "./member_status.ts";
import { Registry } from "./registry.ts";
import { orphansAmong } from "./sink_ships.ts";

/**
 * Reports on the flagship and every ship, asking them in parallel.
 *
 * @param flagship The flagship's means.
 * @returns The fleet's status.
 */
export async function fleetStatus(flagship: FlagshipParts): Promise<FleetStatus> {
  const registry = await Registry.open(flagship.home);
  const [ships, vms, keys, own, channels, assignments] = await Promise.all([
    registry.list(),
    flagship.provider.list(),
    flagship.provider.managesKeys ? flagship.provider.listKeys() : Promise.resolve(null),
    memberReport(flagship.home),
    readChannelStatuses(flagship.home),
    // The plan driver lives in the scheduler: a status without it has no plans to show.
    flagshipPlans(flagship).assignments().catch(() => []),
  ]);
  const planOf = new Map(assignments.map((work) => [work.ship, work]));
  const channelOf = new Map(channels.map((channel) => [channel.ship, channel.state]));
  const vmByName = new Map(vms.map((vm) => [vm.name, vm]));
  const limit = pLimit(STATUS_CONCURRENCY);
  const shipStatuses = await Promise.all(
    ships.map((ship) =>
      limit(async (): Promise<ShipStatus> => {
        const vm = vmByName.get(ship.name);
        const base = {
          ...ship,
          vmStatus: vm?.status ?? "missing",
          keyRegistered: keys && ship.publicKey
            ? keys.some((entry) => entry.key === keyIdentity(ship.publicKey))
            : null,
          channel: ship.trusted ? null : channelOf.get(ship.name) ?? null,
          plan: planOf.has(ship.name)
            ? { id: planOf.get(ship.name)!.plan, task: planOf.get(ship.name)!.task }
            : null,
        };
        if (!vm) return { ...base, report: null, problem: "the provider has no such VM" };
        try {
          const transport = transportFor(ship.destination, flagship.ssh);
          const [report, task] = await Promise.all([
            fetchReport(transport, { vm: ship.name, timeoutMs: 30_000, ssh: flagship.ssh }),
            fetchLastTask(transport, { ssh: flagship.ssh, address: `captain@${ship.name}` }),
          ]);
          return { ...base, report, task: summarize(task, report) };
        } catch (error) {
          return { ...base, report: null, problem: (error as Error).message };
        }
      })
    ),
  );
  return {
    flagship: {
      name: flagship.facts.flagshipVm,
      destination: flagship.facts.flagship,
      provider: flagship.facts.provider,
      report: own,
    },
    ships: shipStatuses,
    orphans: orphansAmong(flagship.facts, vms, ships),
  };
}

// The plans its scheduler drives, asked on its own socket.
function flagshipPlans(flagship: FlagshipParts): Plans {
  const address = `commodore@${flagship.facts.flagshipVm}`;
  return new Plans(planCaller({ destination: flagship.home, address }, flagship.ssh));
}
