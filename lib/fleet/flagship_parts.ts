/**
 * What the flagship's work is done with, for the files that do it (`create_ships.ts`,
 * `sink_ships.ts`, `fleet_status.ts`): the fleet, the flagship's home, its ssh client, the
 * provider and the ship keys; and how many ships it asks at once.
 *
 * @module
 */

import type { VmProvider } from "../providers/provider.ts";
import type { Ssh } from "../ssh.ts";
import type { FleetFacts } from "./config.ts";
import type { ShipKeys } from "./ship_keys.ts";

/** The flagship's means, as `Flagship` holds them. */
export interface FlagshipParts {
  /** The fleet. */
  facts: FleetFacts;
  /** The flagship's home. */
  home: string;
  /** The ssh client. */
  ssh: Ssh;
  /** Where the fleet's VMs come from. */
  provider: VmProvider;
  /** The ships' keys the flagship keeps. */
  keys: ShipKeys;
}

/** How many ships the flagship asks at once: status calls go to the ships, not the lobby. */
export const STATUS_CONCURRENCY = 32;
