/**
 * What a fleet can be asked, wherever the asking happens. Two implementations: the flagship
 * itself ({@link Flagship}, in process) and the laptop's client that sends each call to the
 * flagship ({@link FlagshipClient}). `Fleet` holds one, chosen once when it opens.
 *
 * @module
 */

import type { CreateShipsOptions, FleetStatus, Resolved, SinkReport } from "./flagship.ts";
import type { FleetProgress } from "./progress.ts";
import type { ShipRecord } from "./registry.ts";

/** The flagship's side of every fleet call. */
export interface FleetBackend {
  /** The flagship and every ship, each asked in parallel. */
  status(): Promise<FleetStatus>;
  /** Every recorded ship, from the registry alone (no ship is asked). */
  ships(): Promise<ShipRecord[]>;
  /** Creates ships; throws `CreateShipsError` naming the ones made when some failed. */
  createShips(spec: string, options: CreateShipsOptions): Promise<ShipRecord[]>;
  /** Destroys a ship by name or unique prefix. */
  destroyShip(prefix: string): Promise<ShipRecord>;
  /** Destroys every ship and lost VM of the fleet, never the flagship. */
  sink(onProgress?: (progress: FleetProgress) => void): Promise<SinkReport>;
  /** Where a member lives; with `prefix`, a unique prefix of a ship's name will do. */
  resolve(name: string, prefix?: boolean): Promise<Resolved | null>;
}
