/**
 * Scuttling a fleet from the laptop: the flagship sinks its ships; then the provider removes
 * what it left and the flagship itself, the fleet's keys are revoked, and the laptop forgets
 * the fleet. An unreachable flagship never keeps paid VMs alive.
 *
 * @module
 */

import type { Ssh } from "../ssh.ts";
import { providerFor } from "../providers/factory.ts";
import { keyIdentity, type VmProvider } from "../providers/provider.ts";
import type { FleetBackend, SinkReport } from "./backend.ts";
import { type FleetFacts, type LocalConfig, removeLocalConfig } from "./config.ts";
import type { SinkOptions, SinkResult } from "./fleet_options.ts";
import { isShipOfFleet } from "./names.ts";

/** What scuttling needs of an open fleet. */
export interface ScuttledFleet {
  /** The fleet. */
  facts: FleetFacts;
  /** The laptop's home, whose config goes. */
  home: string;
  /** The ssh client. */
  ssh: Ssh;
  /** The flagship, asked to sink its ships first. */
  backend: FleetBackend;
  /** The laptop's config: it names the flagship's key. */
  config: LocalConfig | null;
}

/**
 * Destroys every ship, the flagship and the fleet's keys, and removes the local config.
 *
 * @param fleet The fleet.
 * @param options Progress.
 * @returns What was destroyed, and why the flagship could not sink its ships if it could not.
 */
export async function scuttleFleet(
  fleet: ScuttledFleet,
  options: SinkOptions,
): Promise<SinkResult> {
  let report: SinkReport = { destroyed: [], orphans: [], failed: [], tasksNotKept: [] };
  let flagshipUnreachable: string | undefined;
  try {
    report = await fleet.backend.sink(options.onProgress);
  } catch (error) {
    // An unreachable flagship must not keep paid VMs alive: the provider lists them below.
    flagshipUnreachable = (error as Error).message;
  }
  const provider = providerFor(fleet.facts, fleet.ssh);
  const leftovers = (await provider.list())
    .filter((vm) => isShipOfFleet(vm.name, fleet.facts.tag))
    .map((vm) => vm.name);
  const flagship = fleet.facts.flagshipVm;
  for (const vm of [...leftovers, flagship]) options.onProgress?.({ vm, step: "destroy" });
  // One request for the ships the flagship left and the flagship itself.
  await provider.remove([...leftovers, flagship]);
  report.orphans.push(...leftovers);
  report.failed = report.failed.filter((failure) => !leftovers.includes(failure.name));
  if (provider.managesKeys) report.failed.push(...await revokeFleetKeys(fleet, provider));
  await removeLocalConfig(fleet.home);
  return { ...report, scuttled: true, ...(flagshipUnreachable ? { flagshipUnreachable } : {}) };
}

// The flagship's key, and any ship key it could not revoke itself (say it was unreachable):
// the keys ohcommodore makes carry their VM's name as comment. Best effort, key by key: the
// VMs are gone already, and what could not be revoked is reported.
async function revokeFleetKeys(
  fleet: ScuttledFleet,
  provider: VmProvider,
): Promise<SinkReport["failed"]> {
  const failed: SinkReport["failed"] = [];
  const keys = new Map<string, string>(); // key → the VM it belongs to
  const flagshipKey = fleet.config?.flagshipPublicKey;
  if (flagshipKey) keys.set(keyIdentity(flagshipKey), fleet.facts.flagshipVm);
  try {
    for (const { key, comment } of await provider.listKeys() ?? []) {
      if (comment === fleet.facts.flagshipVm || isShipOfFleet(comment, fleet.facts.tag)) {
        keys.set(key, comment);
      }
    }
  } catch (error) {
    failed.push({ name: "ssh keys", error: `cannot list them: ${(error as Error).message}` });
  }
  for (const [key, name] of keys) {
    await provider.removeKey(key).catch((error) =>
      failed.push({ name, error: `key not revoked: ${(error as Error).message}` })
    );
  }
  return failed;
}
