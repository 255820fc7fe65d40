/**
 * What a fleet can be asked, wherever the asking happens. Two implementations: the flagship
 * itself (`Flagship`, in process) and the laptop's client that sends each call to the
 * flagship (`FlagshipClient`). `Fleet` holds one, chosen once when it opens.
 *
 * @module
 */

import type { TaskOutcome } from "../agent/task.ts";
import type { TaskSummary } from "../agent/last_task.ts";
import type { MemberReport } from "../inbox/report.ts";
import type { VmInfo } from "../providers/provider.ts";
import type { Settings } from "../settings.ts";
import type { FleetProgress } from "./progress.ts";
import type { KeptTask, ShipRecord } from "./registry.ts";

/** The flagship's side of every fleet call. */
export interface FleetBackend {
  /** The flagship and every ship, each asked in parallel. */
  status(): Promise<FleetStatus>;
  /** Every recorded ship, from the registry alone (no ship is asked). */
  ships(): Promise<ShipRecord[]>;
  /** Creates ships; throws `CreateShipsError` naming the ones made when some failed. */
  createShips(spec: string, options: CreateShipsOptions): Promise<ShipRecord[]>;
  /**
   * Makes a ready ship (name or unique prefix) its repository's template, which `createShips`
   * then copies for that repository (or, with `unset`, no longer); returns its record.
   */
  templateShip(prefix: string, options?: TemplateOptions): Promise<ShipRecord>;
  /** Destroys a ship by name or unique prefix, keeping its agent tasks first. */
  destroyShip(prefix: string): Promise<DestroyedShip>;
  /** Destroys every ship and lost VM of the fleet, never the flagship. */
  sink(onProgress?: (progress: FleetProgress) => void): Promise<SinkReport>;
  /** The agent tasks of destroyed ships, as the flagship kept them. */
  keptTasks(): Promise<KeptTask[]>;
  /** Every ship's agent tasks, each ship asked by the flagship (those it could not ask named). */
  shipTasks(): Promise<ShipTasks>;
  /** Where a member lives; with `prefix`, a unique prefix of a ship's name will do. */
  locate(name: string, prefix?: boolean): Promise<MemberLocation | null>;
}

/** The fleet's ships and what each said of its agent tasks. */
export interface ShipTasks {
  /** The ships asked. */
  ships: ShipRecord[];
  /** Their tasks' outcomes, newest first per ship. */
  tasks: TaskOutcome[];
  /** Ships that could not be asked, and why. */
  unreachable: { ship: string; error: string }[];
}

/** Options for {@link Flagship.createShips}. */
export interface CreateShipsOptions {
  /**
   * How many ships; at most 20 (`MAX_SHIPS_PER_CREATE`).
   *
   * @default {1}
   */
  count?: number;
  /** Settings that override the flagship's own (e.g. from the laptop). */
  settings?: Settings;
  /**
   * Give each ship a key of its own, registered with the provider, as the original tool did:
   * ships then reach each other (and, on exe.dev, the account) directly. Without it, ships
   * hold no key and reach the fleet only through the flagship's channel (see the README's
   * security model).
   *
   * @default {false}
   */
  trusted?: boolean;
  /**
   * A ready ship (name or unique prefix) of the same repository to copy: each new ship is a copy
   * of its VM, made its own (identity, empty inbox, settings, key, checkout of origin's default
   * branch, scheduler) instead of running init.sh. Without it, a repository's template (see
   * {@link FleetBackend.templateShip}) is copied when it has one.
   */
  from?: string;
  /**
   * Set each ship up from nothing (init.sh), even when its repository has a template.
   *
   * @default {false}
   */
  fresh?: boolean;
  /** Called as each ship moves through its steps. */
  onProgress?: (progress: FleetProgress) => void;
  /** Stops every ship being made and removes what it made (Ctrl-C); made ones stay. */
  signal?: AbortSignal;
}

/** Options for {@link FleetBackend.templateShip}. */
export interface TemplateOptions {
  /**
   * Make the ship no longer its repository's template.
   *
   * @default {false}
   */
  unset?: boolean;
}

/** One ship in a fleet report. */
export interface ShipStatus extends ShipRecord {
  /** The provider's state of the VM, or `missing` when the provider has no such VM. */
  vmStatus: string;
  /**
   * Whether its key is registered with the provider; null when the provider has no keys or the
   * ship has none (keyless).
   */
  keyRegistered: boolean | null;
  /**
   * For a keyless ship, how its channel to the flagship stands: `forward`, `poll` (the flagship
   * collects its outbox), or `down` (being opened again); null for a trusted ship, or when the
   * flagship's scheduler keeps no channels.
   */
  channel: "forward" | "poll" | "down" | null;
  /** The ship's current or last agent task, when it ran one. */
  task?: TaskSummary | null;
  /** The plan it works for now, and the task, when it does. */
  plan?: { id: string; task: string } | null;
  /** What the ship says about itself, or null when it could not be asked. */
  report: MemberReport | null;
  /** Why it could not be asked. */
  problem?: string;
}

/** The whole fleet at a glance. */
export interface FleetStatus {
  /** The flagship. */
  flagship: {
    name: string;
    destination: string;
    provider: string;
    report: MemberReport;
  };
  /** Every recorded ship. */
  ships: ShipStatus[];
  /** VMs named like this fleet's ships that the registry does not know. */
  orphans: VmInfo[];
}

/** A destroyed ship, and what became of the record of its agent tasks. */
export interface DestroyedShip extends ShipRecord {
  /** How many of its agent tasks the flagship kept (outcomes and costs), just before. */
  tasksKept: number;
  /** Why its tasks could not be kept (it could not be asked); absent when they were. */
  tasksNotKept?: string;
}

/** What a sink did. */
export interface SinkReport {
  /** Recorded ships destroyed. */
  destroyed: string[];
  /** Unrecorded VMs of this fleet destroyed. */
  orphans: string[];
  /** Ships that could not be destroyed, with why. */
  failed: { name: string; error: string }[];
  /**
   * Destroyed ships whose agent tasks the flagship could not keep first (they could not be
   * asked), with why: `fleet costs` does not count them.
   */
  tasksNotKept: { name: string; error: string }[];
}

/** Where a member name leads. */
export interface MemberLocation {
  /** The VM name. */
  name: string;
  /** Its destination. */
  destination: string;
}
