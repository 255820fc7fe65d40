/**
 * The fleet as its commander sees it: create it (`init`), then create, list, reach and destroy
 * ships, and sink it all. The same API works on the laptop, where calls travel to the flagship
 * (`ssh -A <flagship> ~/.local/bin/ohcommodore …`, JSON back), and on the flagship itself.
 *
 * @module
 */

import { join } from "node:path";
import { formatAddress } from "../address.ts";
import { type Channel, channelFor } from "../channel.ts";
import { InterruptedError, OhcommodoreError, UsageError } from "../errors.ts";
import { readIdentity } from "../identity.ts";
import type { Message } from "../inbox/message.ts";
import { REMOTE_PROGRAM, send, type SendOptions } from "../inbox/send.ts";
import { memberPaths } from "../paths.ts";
import { providerFor } from "../providers/factory.ts";
import { keyIdentity, type ProviderKind, type VmProvider } from "../providers/provider.ts";
import { pickSettings, type Settings } from "../settings.ts";
import { Ssh } from "../ssh.ts";
import { initScriptText, shipBinOf } from "./artifacts.ts";
import { upload } from "./provision.ts";
import {
  type FleetFacts,
  loadSettings,
  type LocalConfig,
  readFleetFacts,
  readLocalConfig,
  removeLocalConfig,
} from "./config.ts";
import {
  checkShipCount,
  CreateShipsError,
  type CreateShipsOptions,
  Flagship,
  type FleetStatus,
  type Resolved,
  type SinkReport,
} from "./flagship.ts";
import { launchFlagship } from "./launch.ts";
import { isShipOfFleet, parseShipSpec } from "./names.ts";
import type { FleetProgress } from "./progress.ts";
import type { ShipRecord } from "./registry.ts";

/** Options shared by fleet calls. */
export interface FleetOptions {
  /** The home directory of this member; defaults to `$HOME`. */
  home?: string;
  /** The ssh client. */
  ssh?: Ssh;
}

/** Options for {@link Fleet.init}. */
export interface InitOptions extends FleetOptions {
  /** Where VMs come from; default `exedev`. */
  provider?: ProviderKind;
  /** For `local`: where sandboxes live; default `~/.ohcommodore/sandboxes`. */
  localRoot?: string;
  /** Settings; default from the environment and `./.env`. */
  settings?: Settings;
  /** Progress of the flagship's creation. */
  onProgress?: (progress: FleetProgress) => void;
  /** Stops the creation and removes what it made (Ctrl-C). */
  signal?: AbortSignal;
}

/** Options for {@link Fleet.sink}. */
export interface SinkOptions {
  /** Also destroy the flagship and forget the fleet (laptop only). */
  scuttle?: boolean;
  /** Progress per VM. */
  onProgress?: (progress: FleetProgress) => void;
}

/** What a sink did, and whether the flagship went too. */
export interface SinkResult extends SinkReport {
  /** True when the flagship was destroyed and the local config removed. */
  scuttled: boolean;
}

// Where the laptop's own choices of executable and setup script wait on the flagship.
const SHIP_BIN_ON_FLAGSHIP = "~/.local/share/ohcommodore/ship-bin";
const INIT_SCRIPT_ON_FLAGSHIP = "~/.local/share/ohcommodore/init.sh";
// Creating ships runs init.sh (toolchains) on each; everything else is quick.
const LONG_PROXY_MS = 3 * 60 * 60_000;
const SHORT_PROXY_MS = 5 * 60_000;

/**
 * A fleet: a flagship and its ships.
 *
 * @example Create a ship, run a command on it, and destroy it
 * ```ts
 * import { Fleet } from "./fleet.ts";
 * const fleet = await Fleet.open();
 * const [record] = await fleet.createShips("denoland/std");
 * const ship = await fleet.ship(record.name);
 * const message = await ship.send("deno task test", { wait: true });
 * console.log(message.exitCode);
 * await fleet.destroyShip(record.name);
 * ```
 */
export class Fleet {
  /** The fleet's tag, provider and flagship. */
  readonly facts: FleetFacts;
  readonly #home: string;
  readonly #ssh: Ssh;
  readonly #flagship: Flagship | null;
  readonly #config: LocalConfig | null;

  private constructor(
    facts: FleetFacts,
    home: string,
    ssh: Ssh,
    flagship: Flagship | null,
    config: LocalConfig | null,
  ) {
    this.facts = facts;
    this.#home = home;
    this.#ssh = ssh;
    this.#flagship = flagship;
    this.#config = config;
  }

  /**
   * Creates a fleet from the laptop: the flagship VM, its key, program, setup and scheduler,
   * then `~/.ohcommodore/config.json`. Nothing is left behind when a step fails.
   *
   * @param options Provider, settings, progress.
   * @returns The new fleet.
   * @throws {UsageError} On a VM, or when a fleet already exists.
   */
  static async init(options: InitOptions = {}): Promise<Fleet> {
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
      throw new UsageError(
        `A fleet already exists (flagship ${existing.flagshipVm}): sink it with ` +
          `"ohcommodore fleet sink --scuttle" first, or delete ${join(home, ".ohcommodore")}` +
          `/config.json if that fleet is gone`,
      );
    }
    const ssh = options.ssh ?? new Ssh();
    const provider = options.provider ?? "exedev";
    const config = await launchFlagship({
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
    return new Fleet(config, home, ssh, null, config);
  }

  /**
   * Opens the fleet this member belongs to: on the laptop from its config, on the flagship
   * from its fleet facts.
   *
   * @param options Home and ssh client.
   * @returns The fleet.
   * @throws {UsageError} On a ship, or on a laptop without a fleet.
   */
  static async open(options: FleetOptions = {}): Promise<Fleet> {
    const home = options.home ?? memberPaths().home;
    const ssh = options.ssh ?? new Ssh();
    const identity = await readIdentity(home);
    if (identity.role === "captain") {
      throw new UsageError(
        `This is a ship (${identity.name}); fleet commands run on your laptop or the flagship` +
          (identity.flagship ? ` (${identity.flagship.name})` : ""),
      );
    }
    if (identity.role === "commodore") {
      const facts = await readFleetFacts(home);
      if (!facts) {
        throw new OhcommodoreError(
          `This flagship has no ${join(home, ".ohcommodore", "fleet.json")}; recreate the fleet`,
        );
      }
      return new Fleet(facts, home, ssh, new Flagship(facts, home, ssh), null);
    }
    const config = await readLocalConfig(home);
    if (!config) {
      throw new UsageError(`No fleet yet: create one with "ohcommodore init"`);
    }
    return new Fleet(config, home, ssh, null, config);
  }

  /** True when this process runs on the flagship. */
  get onFlagship(): boolean {
    return this.#flagship !== null;
  }

  /** The flagship and every ship, each asked in parallel. */
  async status(): Promise<FleetStatus> {
    if (this.#flagship) return await this.#flagship.status();
    return await this.#proxy<FleetStatus>(["fleet", "status", "--json"], { readOnly: true });
  }

  /**
   * Creates ships (see {@link Flagship.createShips}). From the laptop, the settings it has
   * (tokens, dotfiles, SKIP_STEPS, INIT_PATH/INIT_URL, OHCOMMODORE_SHIP_BIN) go along.
   *
   * @param spec `owner/repo`, a git URL or a plain name.
   * @param options Count, settings and progress.
   * @returns The ships.
   * @throws {CreateShipsError} When some failed: `.created` lists the ships that were made.
   */
  async createShips(spec: string, options: CreateShipsOptions = {}): Promise<ShipRecord[]> {
    if (this.#flagship) return await this.#flagship.createShips(spec, options);
    // Bad input fails here, before any round trip to the flagship.
    parseShipSpec(spec);
    const count = checkShipCount(options.count ?? 1);
    const settings = { ...await loadSettings(), ...options.settings };
    const forwarded = pickSettings(settings, "forwardedToFlagship");
    const flagship = this.#flagshipChannel();
    if (settings.INIT_PATH || settings.INIT_URL) {
      const data = await initScriptText(settings);
      const file = { path: INIT_SCRIPT_ON_FLAGSHIP, data, mode: 0o600 };
      await upload(flagship, file, options.signal);
      forwarded.INIT_PATH = INIT_SCRIPT_ON_FLAGSHIP;
    }
    const shipBin = await shipBinOf(settings);
    if (shipBin) {
      const file = { path: SHIP_BIN_ON_FLAGSHIP, data: shipBin, mode: 0o755 };
      await upload(flagship, file, options.signal);
      forwarded.OHCOMMODORE_SHIP_BIN = SHIP_BIN_ON_FLAGSHIP;
    }
    const args = ["ship", "create", spec, "--count", String(count), "--json"];
    return await this.#proxy<ShipRecord[]>([...args, "--settings-stdin"], {
      stdin: JSON.stringify(forwarded),
      long: true,
      // The flagship does not hear that we stopped listening: it finishes what it started.
      signal: options.signal,
      interrupted: `the flagship ${this.facts.flagshipVm} carries on with the ships it ` +
        `started: see them with "ohcommodore fleet status", remove them with ` +
        `"ohcommodore ship destroy <name>"`,
      failure: CreateShipsError.fromJSON,
    });
  }

  /**
   * Destroys a ship: VM, key and record.
   *
   * @param prefix Its name or a unique prefix.
   * @returns The ship as it was.
   */
  async destroyShip(prefix: string): Promise<ShipRecord> {
    if (this.#flagship) return await this.#flagship.destroyShip(prefix);
    return await this.#proxy<ShipRecord>(["ship", "destroy", prefix, "--json"]);
  }

  /**
   * Destroys every ship (and lost VMs of this fleet); with `scuttle`, from the laptop, also the
   * flagship and the local config.
   *
   * @param options Scuttle and progress.
   * @returns What was destroyed.
   */
  async sink(options: SinkOptions = {}): Promise<SinkResult> {
    if (this.#flagship) {
      if (options.scuttle) {
        throw new UsageError(
          `--scuttle destroys the flagship, so it runs from your laptop, not on the flagship`,
        );
      }
      return { ...await this.#flagship.sink(options.onProgress), scuttled: false };
    }
    if (!options.scuttle) {
      return {
        ...await this.#proxy<SinkReport>(["fleet", "sink", "--force", "--json"], { long: true }),
        scuttled: false,
      };
    }
    return await this.#scuttle(options);
  }

  async #scuttle(options: SinkOptions): Promise<SinkResult> {
    let report: SinkReport = { destroyed: [], orphans: [], failed: [] };
    try {
      report = await this.#proxy<SinkReport>(["fleet", "sink", "--force", "--json"], {
        long: true,
      });
    } catch (error) {
      // An unreachable flagship must not keep paid VMs alive: the provider lists them below.
      report.failed.push({ name: this.facts.flagshipVm, error: (error as Error).message });
    }
    const provider = providerFor(this.facts, this.#ssh);
    const leftovers = (await provider.list())
      .filter((vm) => isShipOfFleet(vm.name, this.facts.tag))
      .map((vm) => vm.name);
    const flagship = this.facts.flagshipVm;
    for (const vm of [...leftovers, flagship]) options.onProgress?.({ vm, step: "destroy" });
    // One request for the ships the flagship left and the flagship itself.
    await provider.remove([...leftovers, flagship]);
    report.orphans.push(...leftovers);
    report.failed = report.failed.filter((failure) =>
      failure.name !== flagship && !leftovers.includes(failure.name)
    );
    if (provider.managesKeys) report.failed.push(...await this.#revokeFleetKeys(provider));
    await removeLocalConfig(this.#home);
    return { ...report, scuttled: true };
  }

  // The flagship's key, and any ship key it could not revoke itself (say it was unreachable):
  // the keys ohcommodore makes carry their VM's name as comment. Best effort, key by key: the
  // VMs are gone already, and what could not be revoked is reported.
  async #revokeFleetKeys(provider: VmProvider): Promise<SinkReport["failed"]> {
    const failed: SinkReport["failed"] = [];
    const keys = new Map<string, string>(); // key → the VM it belongs to
    const flagshipKey = this.#config?.flagshipPublicKey;
    if (flagshipKey) keys.set(keyIdentity(flagshipKey), this.facts.flagshipVm);
    try {
      for (const { key, comment } of await provider.listKeys() ?? []) {
        if (comment === this.facts.flagshipVm || isShipOfFleet(comment, this.facts.tag)) {
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

  /**
   * Where a member lives.
   *
   * @param name A VM name (or, with `prefix`, a unique prefix of a ship's).
   * @param prefix Whether a unique prefix will do.
   * @returns The member, or null when the fleet has none by that name.
   */
  async resolve(name: string, prefix = false): Promise<Resolved | null> {
    if (this.#flagship) return await this.#flagship.resolve(name, prefix);
    if (name === this.facts.flagshipVm) return { name, destination: this.facts.flagship };
    const args = ["fleet", "_resolve", name, ...(prefix ? ["--prefix"] : [])];
    return await this.#proxy<Resolved | null>(args, { readOnly: true });
  }

  /**
   * A ship, by name or unique prefix.
   *
   * @param prefix The name or a unique prefix.
   * @returns The ship.
   */
  async ship(prefix: string): Promise<Ship> {
    const found = await this.resolve(prefix, true);
    if (!found) {
      throw new OhcommodoreError(`No ship matches "${prefix}"; see "ohcommodore fleet status"`);
    }
    return new Ship(found, this.#ssh, this.#home);
  }

  #flagshipChannel(): Channel {
    return channelFor(this.facts.flagship, this.#ssh);
  }

  // Runs the same command on the flagship; its progress (stderr) shows here, its JSON returns.
  // `failure` turns the JSON a failed command printed into the error it stands for.
  async #proxy<T>(
    args: string[],
    options: {
      stdin?: string;
      long?: boolean;
      readOnly?: boolean;
      failure?: (answer: unknown) => Error | undefined;
      signal?: AbortSignal;
      interrupted?: string;
    } = {},
  ): Promise<T> {
    // Commands that change the fleet forward the agent (as the original's `ssh -A`) on an
    // unshared session, where -A really applies; reads ride the shared connection.
    const ssh = options.readOnly ? this.#ssh : this.#ssh.with({ multiplex: false });
    const result = await channelFor(this.facts.flagship, ssh).run([REMOTE_PROGRAM, ...args], {
      stdin: options.stdin,
      timeoutMs: options.long ? LONG_PROXY_MS : SHORT_PROXY_MS,
      passStderr: true,
      sshFlags: options.readOnly ? [] : ["-A"],
      // Reading twice is harmless; changing the fleet twice is not.
      retry: options.readOnly ? "idempotent" : "connect",
      signal: options.signal,
    }).catch((error) => {
      if (!(error instanceof InterruptedError) || !options.interrupted) throw error;
      throw new InterruptedError(`${error.message}; ${options.interrupted}`);
    });
    if (result.code !== 0) {
      const answer = parseJson(result.stdout);
      const relayed = answer === undefined ? undefined : options.failure?.(answer);
      throw relayed ?? new FlagshipError(this.facts.flagshipVm, args, result.code);
    }
    const answer = parseJson(result.stdout);
    if (answer === undefined) {
      throw new OhcommodoreError(
        `The flagship answered "${args.slice(0, 2).join(" ")}" with something other than JSON; ` +
          `is it running another ohcommodore version? See "ohcommodore fleet status"`,
      );
    }
    return answer as T;
  }
}

// undefined when the text is not JSON (`null` is an answer).
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A command proxied to the flagship failed there (its message was shown as it happened). */
export class FlagshipError extends OhcommodoreError {
  /** The flagship's exit code. */
  override readonly exitCode: number;

  /**
   * Creates the error.
   *
   * @param flagship The flagship's name.
   * @param args The command.
   * @param code Its exit code.
   */
  constructor(flagship: string, args: string[], code: number) {
    super(`"${args.slice(0, 2).join(" ")}" failed on the flagship ${flagship} (exit ${code})`);
    this.exitCode = code === 255 ? 1 : code;
  }
}

/** One ship: send it work, log into it. */
export class Ship {
  /** Its VM name. */
  readonly name: string;
  /** Where it lives. */
  readonly destination: string;
  readonly #ssh: Ssh;
  readonly #home?: string;

  /**
   * A ship at a known destination.
   *
   * @param where The ship's name and destination.
   * @param ssh The ssh client.
   * @param home The sender's home.
   */
  constructor(where: Resolved, ssh: Ssh = new Ssh(), home?: string) {
    this.name = where.name;
    this.destination = where.destination;
    this.#ssh = ssh;
    this.#home = home;
  }

  /** The ship's inbox address. */
  get address(): string {
    return formatAddress({ role: "captain", host: this.name });
  }

  /**
   * Delivers a command to the ship's inbox.
   *
   * @param command The shell command.
   * @param options Timeout and waiting.
   * @returns The message.
   */
  send(command: string, options: Omit<SendOptions, "resolve" | "ssh"> = {}): Promise<Message> {
    return send(this.address, command, {
      home: this.#home,
      ...options,
      ssh: this.#ssh,
      resolve: () => Promise.resolve({ destination: this.destination, viaDestination: false }),
    });
  }

  /**
   * Opens a login shell on the ship on this terminal, with agent forwarding.
   *
   * @returns The session's exit code.
   */
  ssh(): Promise<number> {
    return channelFor(this.destination, this.#ssh).interactive([], { agent: true });
  }
}
