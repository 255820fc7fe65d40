/**
 * The options {@link Fleet}'s calls take that are its own (open, init, a throwaway fleet, sink),
 * and what a sink answers.
 *
 * @module
 */

import type { ProviderKind } from "../providers/provider.ts";
import type { Settings } from "../settings.ts";
import type { Ssh } from "../ssh.ts";
import type { SinkReport } from "./backend.ts";
import type { FleetProgress } from "./progress.ts";

/** Options shared by fleet calls. */
export interface FleetOptions {
  /**
   * The home directory of this member.
   *
   * @default {Deno.env.get("HOME")}
   */
  home?: string;
  /**
   * The ssh client.
   *
   * @default {new Ssh()}
   */
  ssh?: Ssh;
}

/** Options for {@link Fleet.init}. */
export interface InitOptions extends FleetOptions {
  /**
   * Where VMs come from.
   *
   * @default {"exedev"}
   */
  provider?: ProviderKind;
  /**
   * For `local`: where sandboxes live.
   *
   * @default {"~/.ohcommodore/sandboxes"}
   */
  localRoot?: string;
  /**
   * Settings.
   *
   * @default {read from the environment and ./.env}
   */
  settings?: Settings;
  /** Progress of the flagship's creation. */
  onProgress?: (progress: FleetProgress) => void;
  /** Stops the creation and removes what it made (Ctrl-C). */
  signal?: AbortSignal;
}

/** Options for {@link Fleet.local}. */
export interface LocalFleetOptions {
  /**
   * Settings for its members (nothing is read from the environment).
   *
   * @default {{}}
   */
  settings?: Settings;
  /** Progress of the flagship's creation. */
  onProgress?: (progress: FleetProgress) => void;
  /** Stops the creation and removes what it made. */
  signal?: AbortSignal;
}

/** Options for {@link Fleet.sink}. */
export interface SinkOptions {
  /**
   * Also destroy the flagship and forget the fleet (laptop only).
   *
   * @default {false}
   */
  scuttle?: boolean;
  /** Progress per VM. */
  onProgress?: (progress: FleetProgress) => void;
}

/** What a sink did, and whether the flagship went too. */
export interface SinkResult extends SinkReport {
  /** True when the flagship was destroyed and the local config removed. */
  scuttled: boolean;
  /** Why the flagship could not sink its ships itself (the provider removed them instead). */
  flagshipUnreachable?: string;
}
