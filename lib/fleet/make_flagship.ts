/**
 * `init` from the laptop: create the flagship VM, give it its own key, the program, its
 * settings and the fleet's facts, run its setup, and only then write the local config. A failed
 * step removes what the earlier ones made.
 *
 * @module
 */

import type { Ssh } from "../ssh.ts";
import { providerFor } from "../providers/factory.ts";
import type { ProviderKind, VmInfo } from "../providers/provider.ts";
import { OhcommodoreError, UsageError } from "../errors.ts";
import { initScriptText, programFor, shipBinOf } from "./artifacts.ts";
import { formatEnvFile, type MemberEnv, type Settings } from "../settings.ts";
import {
  type FleetFacts,
  formatFleetFacts,
  type LocalConfig,
  removeLocalConfig,
  vmSettings,
  writeLocalConfig,
} from "./config.ts";
import { UndoableSteps } from "./undoable_steps.ts";
import { flagshipVmName, newFleetTag } from "./names.ts";
import type { FleetProgress } from "./progress.ts";
import { provision } from "./provision.ts";

/** What {@link makeFlagship} needs. */
export interface MakeFlagshipOptions {
  /** The laptop's home. */
  home: string;
  /** The ssh client. */
  ssh: Ssh;
  /** Where VMs come from. */
  provider: ProviderKind;
  /** For `local`: the sandbox directory. */
  localRoot?: string;
  /** The person's settings. */
  settings: Settings;
  /** Progress. */
  onProgress?: (progress: FleetProgress) => void;
  /** Stops the launch and removes what it made (Ctrl-C). */
  signal?: AbortSignal;
}

// Made on the flagship, so its private key never travels.
const KEYGEN_SCRIPT = 'set -e; umask 077; mkdir -p "$HOME/.ssh"; ' +
  '[ -f "$HOME/.ssh/id_ed25519" ] || ssh-keygen -q -t ed25519 -N "" -C "$1" ' +
  '-f "$HOME/.ssh/id_ed25519"; cat "$HOME/.ssh/id_ed25519.pub"';

/**
 * Creates and sets up the flagship, then writes the laptop's config.
 *
 * @param options Where, how and with what.
 * @returns The config written.
 * @throws {ProvisionError} Naming the step that failed; nothing is left behind.
 */
export async function makeFlagship(options: MakeFlagshipOptions): Promise<LocalConfig> {
  const tag = newFleetTag();
  const name = flagshipVmName(tag);
  // Known before the VM exists but for its destination; written first (below), so a crash at
  // any later point leaves a fleet "fleet sink --scuttle" can find.
  let facts: FleetFacts = {
    tag,
    provider: options.provider,
    ...(options.localRoot ? { localRoot: options.localRoot } : {}),
    flagshipVm: name,
    flagship: "",
    createdAt: new Date().toISOString(),
  };
  const provider = providerFor(facts, options.ssh);
  // Checked before anything is paid for.
  if (options.provider === "exedev" && !options.settings.GH_TOKEN) {
    throw new UsageError(
      `init needs GH_TOKEN (ships clone through GitHub with it): set it in the environment ` +
        `or in ./.env`,
    );
  }
  const envFile = formatEnvFile(
    {
      ...vmSettings(options.settings, provider),
      ROLE: "commodore",
      VM_NAME: name,
    } satisfies MemberEnv,
  );
  const initScript = await initScriptText(options.settings);
  const shipBin = await shipBinOf(options.settings);
  const signal = options.signal;
  const steps = new UndoableSteps(name, {
    startsAt: "create",
    recovery: "ohcommodore fleet sink --scuttle",
    onProgress: options.onProgress,
    signal,
  });
  await writeLocalConfig(facts, options.home);
  steps.onUndo(() => removeLocalConfig(options.home));
  try {
    const vm: VmInfo = await steps.step(
      "create",
      () => provider.create(name),
      () => provider.remove([name]), // harmless when it was never made
    );
    facts = { ...facts, flagship: vm.destination };
    await writeLocalConfig(facts, options.home);
    const transport = await steps.step(
      "reach",
      () => provider.waitUntilReachable(vm, { timeoutMs: 5 * 60_000, signal }),
    );
    let publicKey: string | undefined;
    if (provider.managesKeys) {
      steps.begin("key");
      const keygen = await transport.run(["sh", "-c", KEYGEN_SCRIPT, "sh", name], {
        timeoutMs: 60_000,
        signal,
      });
      if (keygen.code !== 0) throw new OhcommodoreError(`ssh-keygen failed: ${keygen.stderr}`);
      const key = keygen.stdout.trim();
      steps.onUndo(() => provider.removeKey(key)); // before adding: an add may fail after it took
      await provider.addKey(key);
      publicKey = key;
      await provider.activateKey(transport, signal);
    }
    await provision(transport, {
      vm: name,
      program: shipBin ?? await programFor(transport),
      initScript,
      files: [
        { path: "~/.ohcommodore/.env", data: envFile, mode: 0o600 },
        { path: "~/.ohcommodore/fleet.json", data: formatFleetFacts(facts), mode: 0o600 },
      ],
      onStep: (step) => steps.begin(step),
      signal,
    });
    steps.begin("record", { report: false });
    const config: LocalConfig = {
      ...facts,
      ...(publicKey ? { flagshipPublicKey: publicKey } : {}),
    };
    await writeLocalConfig(config, options.home);
    steps.done();
    return config;
  } catch (error) {
    throw await steps.fail(error);
  }
}
