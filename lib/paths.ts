/**
 * Where ohcommodore keeps its files. Everything derives from a home directory so that tests,
 * sandboxes and library users can point a whole member at another directory.
 *
 * @module
 */

import { join } from "node:path";
import { OhcommodoreError } from "./errors.ts";

/** The files of one fleet member, all below its home directory. */
export interface MemberPaths {
  /** The home directory everything else lives under. */
  home: string;
  /** `~/.ohcommodore`: identity and local configuration. */
  configDir: string;
  /** `~/.ohcommodore/identity.json`: this member's role and name. */
  identityFile: string;
  /** `~/.local/ship`: the inbox database and the scheduler's runtime files. */
  shipDir: string;
  /** `~/.local/ship/data.duckdb`: the inbox database. */
  database: string;
  /** `~/.local/ship/fleet.duckdb`: the flagship's record of its ships. */
  fleetDatabase: string;
  /** `~/.local/ship/plans.duckdb`: the flagship's plans, held by its scheduler's plan driver. */
  plansDatabase: string;
  /** `~/.local/bin/ohcommodore`: the program other members run over SSH. */
  program: string;
  /** `~/.ohcommodore/completion/ships`: ship names for shell completion, one a line. */
  shipNamesCache: string;
}

/**
 * The home directory of the current process: `$HOME`, which tests and sandboxes override.
 *
 * @returns The home directory.
 */
export function homeDir(): string {
  const home = Deno.env.get("HOME");
  if (!home) throw new OhcommodoreError("Cannot find the home directory: HOME is not set");
  return home;
}

/**
 * Computes the paths of a member whose home is `home`.
 *
 * @example Find a member's database
 * ```ts
 * import { memberPaths } from "@smithclay/ohcommodore/inbox";
 * console.log(memberPaths().database); // ~/.local/ship/data.duckdb
 * ```
 *
 * @param home The member's home directory; defaults to `$HOME`.
 * @returns The member's paths.
 */
export function memberPaths(home: string = homeDir()): MemberPaths {
  const shipDir = join(home, ".local", "ship");
  const configDir = join(home, ".ohcommodore");
  return {
    home,
    configDir,
    identityFile: join(configDir, "identity.json"),
    shipDir,
    database: join(shipDir, "data.duckdb"),
    fleetDatabase: join(shipDir, "fleet.duckdb"),
    plansDatabase: join(shipDir, "plans.duckdb"),
    program: join(home, ".local", "bin", "ohcommodore"),
    shipNamesCache: join(configDir, "completion", "ships"),
  };
}

/** The path of the program on every member, relative to its home (as another member runs it). */
export const REMOTE_PROGRAM = "~/.local/bin/ohcommodore";
