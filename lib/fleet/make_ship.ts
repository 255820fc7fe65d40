/**
 * Making one ship, as the flagship does for each of a `ship create`: its key (when trusted), its
 * VM, its record, then the program, its `.env` and init.sh on it; or, for a copy of a ready ship
 * (`--from`, or its repository's template), the provider's copy of that VM, made its own by
 * `_setup-copy` instead of init.sh. On failure each step is undone, newest first, so nothing is
 * left behind.
 *
 * @module
 */

import type { VmProvider } from "../providers/provider.ts";
import {
  formatEnvFile,
  type MemberEnv,
  missingCredentials,
  type Settings,
  type ShipCredential,
} from "../settings.ts";
import { type FleetFacts, vmSettings } from "./config.ts";
import { setUpCopyOn } from "./copy_setup.ts";
import { UndoableSteps } from "./undoable_steps.ts";
import type { ShipSpec } from "./names.ts";
import type { FleetProgress } from "./progress.ts";
import { provision } from "./provision.ts";
import type { Registry, ShipRecord } from "./registry.ts";
import type { ShipKeys } from "./ship_keys.ts";
import type { Transport } from "../transport.ts";

// How long a new VM may take to answer over ssh.
const REACH_TIMEOUT_MS = 5 * 60_000;

/** What making a ship needs of the flagship and of the `ship create` it belongs to. */
export interface MakeShipContext {
  /** The fleet. */
  facts: FleetFacts;
  /** Where VMs come from. */
  provider: VmProvider;
  /** Where a trusted ship's key is made and kept. */
  keys: ShipKeys;
  /** The ship registry. */
  registry: Registry;
  /** The settings the ship gets (tokens, dotfiles, …). */
  settings: Settings;
  /** The program put on the ship. */
  program: Uint8Array;
  /** The setup script run on it (not on a copy). */
  initScript: string;
  /** A ready ship to copy instead of setting up a new VM (its repository is the spec's). */
  from?: ShipRecord;
  /** Give it a key of its own. */
  trusted?: boolean;
  /** Told of each step. */
  onProgress?: (progress: FleetProgress) => void;
  /** Stops at the next step, undoing what was made. */
  signal?: AbortSignal;
}

/**
 * Makes one ship, ready, or nothing.
 *
 * @param spec What it is made from (a repository, or a plain name).
 * @param name Its VM name, which no other ship has (`newShipVmNames`).
 * @param context The flagship's side.
 * @returns The ship's record.
 * @throws {ProvisionError} Naming the step that failed, once what was made is removed.
 */
export async function makeShip(
  spec: ShipSpec,
  name: string,
  context: MakeShipContext,
): Promise<ShipRecord> {
  // Where the provider hands out no keys (sandboxes of this user), every ship is trusted.
  const trusted = context.trusted === true || !context.provider.managesKeys;
  // On failure, leave nothing behind: no VM, no key, no record.
  const steps = new UndoableSteps(name, {
    startsAt: "key",
    recovery: "ohcommodore fleet sink",
    onProgress: context.onProgress,
    signal: context.signal,
  });
  try {
    const repo = context.from ? context.from.repo : spec.repo;
    // Checked before anything is paid for: a value .env cannot carry fails here.
    const envFile = formatEnvFile(
      {
        ...vmSettings(context.settings, context.provider),
        ROLE: "captain",
        VM_NAME: name,
        // A copy's clone is its source's, spelled as the source was made with it.
        TARGET_REPO: repo ?? undefined,
        FLAGSHIP_NAME: context.facts.flagshipVm,
        FLAGSHIP_DEST: context.facts.flagship,
        SHIP_KEYLESS: trusted ? undefined : "1",
      } satisfies MemberEnv,
    );
    const missing = missingCredentials(context.settings);
    if (missing.length) {
      context.onProgress?.({ vm: name, step: "warning", message: lackingCredentials(missing) });
    }
    const key = await registerKey(name, trusted, steps, context);
    const vm = await makeVm(name, steps, context);
    const record = {
      name,
      repo,
      destination: vm.destination,
      publicKey: key?.publicKey ?? "",
      trusted,
      status: "provisioning",
      copiedFrom: context.from?.name ?? null,
    };
    await context.registry.add(record);
    const transport = await steps.step(
      "reach",
      () =>
        context.provider.waitUntilReachable(vm, {
          timeoutMs: REACH_TIMEOUT_MS,
          signal: context.signal,
        }),
    );
    const setUp = context.from ? setUpCopy : setUpNew;
    await setUp({ transport, envFile, key, steps, context });
    steps.begin("record", { report: false });
    await context.registry.setStatus(name, "ready");
    // The ship has its key now; the flagship keeps only the public half, to revoke it.
    await Deno.remove(context.keys.path(name)).catch(() => {});
    steps.done();
    return { ...record, status: "ready", template: false, createdAt: new Date().toISOString() };
  } catch (error) {
    throw await steps.fail(error);
  }
}

// Sandboxes are entered directly; a trusted VM gets a key of its own, registered first. A
// keyless one is entered with the flagship's key (the provider gives new VMs the account's
// keys) and holds none.
async function registerKey(
  name: string,
  trusted: boolean,
  steps: UndoableSteps,
  context: MakeShipContext,
): Promise<ShipKey | null> {
  if (!trusted || !context.provider.managesKeys) return null;
  const key = await context.keys.make(name);
  steps.onUndo(() => context.keys.forget(name));
  await steps.step(
    "key",
    () => context.provider.addKey(key.publicKey),
    () => context.provider.removeKey(key.publicKey),
  );
  return key;
}

// A new VM, or a copy of the ship to copy. Either way, the record goes only once the VM is
// gone, so a VM that refuses to go stays findable.
async function makeVm(name: string, steps: UndoableSteps, context: MakeShipContext) {
  const undo = async () => {
    await context.provider.remove([name]);
    await context.registry.remove(name);
  };
  const from = context.from;
  if (!from) return await steps.step("create", () => context.provider.create(name), undo);
  return await steps.step("copy", () => context.provider.copy(from.name, name), undo, {
    message: `copying ${from.name}`,
  });
}

/** A ship's own key pair. */
type ShipKey = Awaited<ReturnType<ShipKeys["make"]>>;

/** A VM made for a ship, reachable, to be set up. */
interface SetUpPlan {
  transport: Transport;
  envFile: string;
  key: ShipKey | null;
  steps: UndoableSteps;
  context: MakeShipContext;
}

// A new VM: the program, the .env and keys, and init.sh.
async function setUpNew({ transport, envFile, key, steps, context }: SetUpPlan): Promise<void> {
  await provision(transport, {
    vm: steps.vm,
    program: context.program,
    initScript: context.initScript,
    files: [
      { path: "~/.ohcommodore/.env", data: envFile, mode: 0o600 },
      ...(key
        ? [
          { path: "~/.ssh/id_ed25519", data: key.privateKey, mode: 0o600 },
          { path: "~/.ssh/id_ed25519.pub", data: key.publicKey + "\n", mode: 0o644 },
        ]
        : []),
    ],
    // The new key's registration needs the key file on the ship, not init.sh.
    alongsideInit: key
      ? { step: "key", run: () => context.provider.activateKey(transport, context.signal) }
      : undefined,
    onStep: (step) => steps.begin(step),
    signal: context.signal,
  });
}

// A copy: instead of init.sh, it forgets its source and takes its own name, settings and key.
async function setUpCopy({ transport, envFile, key, steps, context }: SetUpPlan): Promise<void> {
  const made = await setUpCopyOn(transport, {
    vm: steps.vm,
    setup: {
      name: steps.vm,
      source: context.from!.name,
      flagship: { name: context.facts.flagshipVm, destination: context.facts.flagship },
      keyless: key === null && context.provider.managesKeys,
      env: envFile,
      key: key ? { privateKey: key.privateKey, publicKey: key.publicKey } : null,
    },
    program: context.program,
    onStep: (step) => steps.begin(step),
    signal: context.signal,
  });
  for (const warning of made.warnings) {
    context.onProgress?.({ vm: steps.vm, step: "warning", message: warning });
  }
  if (key) await steps.step("key", () => context.provider.activateKey(transport, context.signal));
}

// What a new ship lacks, what it cannot do without it, and where to set it.
function lackingCredentials(missing: readonly ShipCredential[]): string {
  const lacks = missing.map((credential) =>
    `no ${credential.kind} credential (${credential.names.join(" or ")}): ${credential.without}`
  );
  const names = missing.map((credential) => credential.names[0]).join(" and ");
  const what = missing.length > 1 ? "them" : "it";
  return `${lacks.join("; ").replace(/^n/, "N")}; export ${names} where you run ` +
    `"ohcommodore ship create" (or pass ${what} in settings), or put ${what} in the ` +
    `flagship's ~/.ohcommodore/.env for every ship it makes`;
}
