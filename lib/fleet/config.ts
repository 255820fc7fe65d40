/**
 * The fleet's files: the laptop's `~/.ohcommodore/config.json` (where its flagship is), the
 * flagship's `~/.ohcommodore/fleet.json` (the fleet's tag and provider), and the settings a
 * person gives through the environment or a `.env` file.
 *
 * @module
 */

import { join } from "node:path";
import { OhcommodoreError } from "../errors.ts";
import { memberPaths } from "../paths.ts";
import { PROVIDER_KINDS, type ProviderKind, type VmProvider } from "../providers/provider.ts";
import { settingNames, type Settings } from "../settings.ts";
import { checkFleetTag, tagOfFlagship } from "./names.ts";
import { writePrivateFile } from "../private_files.ts";

/** What a fleet is: written on the flagship, mirrored in the laptop's config. */
export interface FleetFacts {
  /** The fleet tag carried by every VM name. */
  tag: string;
  /** Where its VMs come from. */
  provider: ProviderKind;
  /** For the local provider: the directory holding the sandboxes. */
  localRoot?: string;
  /** The flagship's VM name. */
  flagshipVm: string;
  /** The flagship's destination. */
  flagship: string;
  /** When the fleet was created (ISO). */
  createdAt: string;
}

/** The laptop's `config.json`: the fleet it commands, plus the flagship's key to revoke later. */
export interface LocalConfig extends FleetFacts {
  /** The flagship's public key, registered with the provider. */
  flagshipPublicKey?: string;
}

/**
 * The settings a new VM gets in its `.env`: those the settings table puts there, with the
 * provider's host-changing steps added to SKIP_STEPS.
 *
 * @param settings The person's settings.
 * @param provider The provider.
 * @returns Variables for the VM's `.env`.
 */
export function vmSettings(settings: Settings, provider: VmProvider): Settings {
  const skip = [
    ...(settings.SKIP_STEPS ?? "").split(",").map((step) => step.trim()).filter(Boolean),
    ...provider.skippedSteps,
  ];
  // As given, empty values too: formatEnvFile drops only the unset ones.
  const env: Settings = {};
  for (const name of settingNames("inVmEnv")) env[name] = settings[name];
  return { ...env, SKIP_STEPS: skip.length ? [...new Set(skip)].join(",") : undefined };
}

/**
 * The path of the laptop's fleet config.
 *
 * @param home The home directory.
 * @returns `~/.ohcommodore/config.json`.
 */
export function localConfigPath(home?: string): string {
  return join(memberPaths(home).configDir, "config.json");
}

/**
 * The path of the flagship's fleet facts.
 *
 * @param home The home directory.
 * @returns `~/.ohcommodore/fleet.json`.
 */
export function fleetFactsPath(home?: string): string {
  return join(memberPaths(home).configDir, "fleet.json");
}

/**
 * Reads the laptop's config.
 *
 * @param home The home directory.
 * @returns The config, or null when there is no fleet.
 *
 * @example Find this laptop's fleet
 * ```ts
 * import { readLocalConfig } from "@smithclay/ohcommodore/fleet";
 *
 * const config = await readLocalConfig();
 * console.log(config ? `flagship ${config.flagshipVm} at ${config.flagship}` : "no fleet yet");
 * ```
 */
export async function readLocalConfig(home?: string): Promise<LocalConfig | null> {
  const data = await readJson(localConfigPath(home));
  if (data === null) return null;
  return {
    ...checkFacts(data, localConfigPath(home)),
    ...(typeof data.flagship_public_key === "string"
      ? { flagshipPublicKey: data.flagship_public_key }
      : {}),
  };
}

/**
 * Writes the laptop's config (snake_case keys, as the original tool's file), readable only by
 * its owner.
 *
 * @param config The config.
 * @param home The home directory.
 */
export async function writeLocalConfig(config: LocalConfig, home?: string): Promise<void> {
  await writeJson(localConfigPath(home), {
    ...factsOnDisk(config),
    ...(config.flagshipPublicKey ? { flagship_public_key: config.flagshipPublicKey } : {}),
  });
}

/**
 * Reads the flagship's fleet facts.
 *
 * @param home The home directory.
 * @returns The facts, or null when this member is no flagship.
 */
export async function readFleetFacts(home?: string): Promise<FleetFacts | null> {
  const data = await readJson(fleetFactsPath(home));
  return data === null ? null : checkFacts(data, fleetFactsPath(home));
}

/**
 * The fleet facts as the file text written on the flagship.
 *
 * @param facts The facts.
 * @returns JSON text.
 */
export function formatFleetFacts(facts: FleetFacts): string {
  return JSON.stringify(factsOnDisk(facts), null, 2) + "\n";
}

// The facts as both files store them: snake_case keys, as the original tool's config.
function factsOnDisk(facts: FleetFacts): Record<string, string> {
  return {
    flagship: facts.flagship,
    flagship_vm: facts.flagshipVm,
    created_at: facts.createdAt,
    provider: facts.provider,
    tag: facts.tag,
    ...(facts.localRoot ? { local_root: facts.localRoot } : {}),
  };
}

function checkFacts(data: Record<string, unknown>, file: string): FleetFacts {
  const provider = data.provider ?? "exedev";
  if (
    typeof data.flagship !== "string" || typeof data.flagship_vm !== "string" ||
    !PROVIDER_KINDS.includes(provider as ProviderKind)
  ) {
    throw new OhcommodoreError(
      `"${file}" is not a fleet config (needs flagship, flagship_vm, provider): fix or remove it`,
    );
  }
  return {
    tag: checkFleetTag(data.tag ?? tagOfFlagship(data.flagship_vm as string)),
    provider: provider as ProviderKind,
    ...(typeof data.local_root === "string" ? { localRoot: data.local_root } : {}),
    flagshipVm: data.flagship_vm,
    flagship: data.flagship,
    createdAt: typeof data.created_at === "string" ? data.created_at : "",
  };
}

async function readJson(file: string): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  try {
    const data = JSON.parse(text);
    if (data && typeof data === "object" && !Array.isArray(data)) return data;
  } catch {
    // reported below
  }
  throw new OhcommodoreError(`"${file}" is not a JSON object: fix or remove it`);
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await writePrivateFile(file, JSON.stringify(value, null, 2) + "\n");
}

/**
 * Removes the laptop's config (after a scuttle).
 *
 * @param home The home directory.
 */
export async function removeLocalConfig(home?: string): Promise<void> {
  await Deno.remove(localConfigPath(home)).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}
