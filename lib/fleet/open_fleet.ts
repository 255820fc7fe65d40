/**
 * How a fleet opens, and so which of the two backends it holds: on the laptop a client of the
 * flagship, from `~/.ohcommodore/config.json` (written by `init`, which makes the flagship
 * first); on the flagship the flagship itself, from its fleet facts. A ship opens none.
 *
 * @module
 */

import { join } from "node:path";
import { OhcommodoreError, UsageError } from "../errors.ts";
import { readIdentity } from "../identity.ts";
import { memberPaths } from "../paths.ts";
import { loadSettings } from "../settings.ts";
import { Ssh } from "../ssh.ts";
import type { FleetBackend } from "./backend.ts";
import { type FleetFacts, type LocalConfig, readFleetFacts, readLocalConfig } from "./config.ts";
import { Flagship } from "./flagship.ts";
import { FlagshipClient } from "./flagship_client.ts";
import type { FleetOptions, InitOptions } from "./fleet_options.ts";
import { makeFlagship } from "./make_flagship.ts";

/** What an open fleet holds: the backend chosen for where this process runs. */
export interface OpenedFleet {
  /** The fleet's tag, provider and flagship. */
  facts: FleetFacts;
  /** This member's home. */
  home: string;
  /** The ssh client. */
  ssh: Ssh;
  /** The flagship in process, or a client of it. */
  backend: FleetBackend;
  /** The laptop's config; null on the flagship. */
  config: LocalConfig | null;
}

/**
 * Makes a fleet from the laptop: the flagship, then `~/.ohcommodore/config.json`.
 *
 * @param options Provider, settings, progress.
 * @returns The new fleet's parts, reached through a client of its flagship.
 * @throws {UsageError} On a VM, or when a fleet already exists.
 */
export async function initFleet(options: InitOptions): Promise<OpenedFleet> {
  const home = options.home ?? memberPaths().home;
  const identity = await readIdentity(home);
  if (identity.role !== "local") {
    throw new UsageError(
      `"init" runs on your laptop; this machine is the fleet's ${identity.role} ` +
        `(${identity.name})`,
    );
  }
  const existing = await readLocalConfig(home);
  if (existing) {
    throw new UsageError(`A fleet already exists (flagship ${existing.flagshipVm})`, {
      next: `sink it with "ohcommodore fleet sink --scuttle" first, or delete ` +
        `${join(home, ".ohcommodore")}/config.json if that fleet is gone`,
    });
  }
  const ssh = options.ssh ?? new Ssh();
  const provider = options.provider ?? "exedev";
  const config = await makeFlagship({
    home,
    ssh,
    provider,
    localRoot: provider === "local"
      ? options.localRoot ?? join(memberPaths(home).configDir, "sandboxes")
      : undefined,
    settings: options.settings ?? await loadSettings(),
    onProgress: options.onProgress,
    signal: options.signal,
  });
  return { facts: config, home, ssh, backend: new FlagshipClient(config, ssh), config };
}

/**
 * Opens the fleet this member belongs to: on the laptop from its config, on the flagship from
 * its fleet facts.
 *
 * @param options Home and ssh client.
 * @returns The fleet's parts.
 * @throws {UsageError} On a ship, or on a laptop without a fleet.
 */
export async function openFleet(options: FleetOptions): Promise<OpenedFleet> {
  const home = options.home ?? memberPaths().home;
  const ssh = options.ssh ?? new Ssh();
  const identity = await readIdentity(home);
  if (identity.role === "commodore") {
    const flagship = await openFlagship(home, ssh);
    return { facts: flagship.facts, home, ssh, backend: flagship, config: null };
  }
  if (identity.role === "captain") {
    throw new UsageError(
      `This is a ship (${identity.name}); fleet commands run on your laptop or the flagship` +
        (identity.flagship ? ` (${identity.flagship.name})` : ""),
    );
  }
  const config = await readLocalConfig(home);
  if (!config) {
    throw new UsageError(`No fleet yet`, { next: `create one with "ohcommodore init"` });
  }
  return { facts: config, home, ssh, backend: new FlagshipClient(config, ssh), config };
}

/**
 * The flagship's own side of its fleet, for a process running on the flagship.
 *
 * @param home The flagship's home; defaults to `$HOME`.
 * @param ssh The ssh client.
 * @returns The flagship.
 * @throws {UsageError} When this member is not a flagship.
 */
export async function openFlagship(
  home: string = memberPaths().home,
  ssh: Ssh = new Ssh(),
): Promise<Flagship> {
  const identity = await readIdentity(home);
  if (identity.role !== "commodore") {
    throw new UsageError(
      `This member is the fleet's ${identity.role} (${identity.name}), not its flagship`,
    );
  }
  const facts = await readFleetFacts(home);
  if (!facts) {
    throw new OhcommodoreError(
      `This flagship has no ${join(home, ".ohcommodore", "fleet.json")}; recreate the fleet`,
    );
  }
  return new Flagship(facts, home, ssh);
}
