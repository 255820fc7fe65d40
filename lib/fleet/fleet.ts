/**
 * The fleet as its commander sees it: create it (`init`), then create, list, reach, command and
 * destroy ships, and sink it all. The same API works on the laptop, where each call travels to
 * the flagship and comes back as the same values, progress and errors, and on the flagship
 * itself, where it runs in process: one {@link FleetBackend} of two, chosen when the fleet opens.
 *
 * @module
 */

import { Plans } from "../plan/plans.ts";
import { closeMemberConnections } from "../inbox/member_connections.ts";
import { planCaller } from "../plan/plan_caller.ts";
import { FleetAgents } from "./agents.ts";
import { join } from "node:path";
import { quote } from "../clip.ts";
import { NotFoundError, OhcommodoreError, UsageError } from "../errors.ts";
import { readIdentity, writeIdentity } from "../identity.ts";
import { memberPaths } from "../paths.ts";
import { providerFor } from "../providers/factory.ts";
import { keyIdentity, type ProviderKind, type VmProvider } from "../providers/provider.ts";
import { loadSettings, type Settings } from "../settings.ts";
import { Ssh } from "../ssh.ts";
import type { FleetBackend } from "./backend.ts";
import {
  type FleetFacts,
  type LocalConfig,
  readFleetFacts,
  readLocalConfig,
  removeLocalConfig,
} from "./config.ts";
import { execOnShips, type ExecOptions, type ExecResults } from "./exec.ts";
import {
  type CreateShipsOptions,
  type DestroyedShip,
  Flagship,
  type FleetStatus,
  type MemberLocation,
  type SinkReport,
  type TemplateOptions,
} from "./flagship.ts";
import { FlagshipClient } from "./flagship_client.ts";
import { makeFlagship } from "./make_flagship.ts";
import { Member, Ship } from "./member.ts";
import { isShipOfFleet } from "./names.ts";
import type { FleetProgress } from "./progress.ts";
import type { ShipRecord } from "./registry.ts";

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

/**
 * A fleet: a flagship and its ships.
 *
 * @example Create a ship, run a command on it, and destroy it
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * const [record] = await fleet.createShips("denoland/std");
 * const ship = await fleet.ship(record.name);
 * const sent = await ship.send("deno task test");
 * console.log((await sent.wait()).exitCode);
 * await fleet.destroyShip(record.name);
 * ```
 */
export class Fleet implements AsyncDisposable {
  /** The fleet's tag, provider and flagship. */
  readonly facts: FleetFacts;
  readonly #home: string;
  readonly #ssh: Ssh;
  readonly #backend: FleetBackend;
  readonly #config: LocalConfig | null;
  // For a throwaway fleet: what its dispose undoes besides closing connections.
  #throwaway: { stop: () => Promise<void> } | null = null;

  private constructor(
    facts: FleetFacts,
    home: string,
    ssh: Ssh,
    backend: FleetBackend,
    config: LocalConfig | null,
  ) {
    this.facts = facts;
    this.#home = home;
    this.#ssh = ssh;
    this.#backend = backend;
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
    return new Fleet(config, home, ssh, new FlagshipClient(config, ssh), config);
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
    if (identity.role === "commodore") {
      const flagship = await openFlagship(home, ssh);
      return new Fleet(flagship.facts, home, ssh, flagship, null);
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
    return new Fleet(config, home, ssh, new FlagshipClient(config, ssh), config);
  }

  /**
   * A throwaway fleet on this machine (the local provider, in a temporary home) for scripts
   * and tests: disposing it sinks every ship and the flagship and removes the home, and so does
   * Ctrl-C or SIGTERM, which then goes on to end the process as it would have (unless the
   * script listens for that signal itself: then its own listener decides).
   *
   * @example A fleet that lives as long as a block
   * ```ts
   * import { Fleet } from "@smithclay/ohcommodore";
   * await using fleet = await Fleet.local();
   * const [made] = await fleet.createShips("scratch");
   * console.log(await (await fleet.ship(made.name)).$`uname -s`.text());
   * ```
   *
   * @param options Settings for its members, progress, and a signal that stops its creation.
   * @returns The fleet.
   */
  static async local(options: LocalFleetOptions = {}): Promise<Fleet> {
    const home = await Deno.makeTempDir({ prefix: "ohcommodore-local-" });
    let fleet: Fleet;
    try {
      await writeIdentity({ role: "local", name: "laptop" }, home);
      fleet = await Fleet.init({
        home,
        provider: "local",
        settings: options.settings ?? {},
        onProgress: options.onProgress,
        signal: options.signal,
      });
    } catch (error) {
      await Deno.remove(home, { recursive: true }).catch(() => {});
      throw error;
    }
    let stopping: Promise<void> | undefined;
    const stop = () =>
      stopping ??= (async () => {
        try {
          await fleet.sink({ scuttle: true });
        } finally {
          await Deno.remove(home, { recursive: true }).catch(() => {});
          forgetThrowaway(stop);
        }
      })();
    fleet.#throwaway = { stop };
    throwAwayOnSignal(stop);
    return fleet;
  }

  /** This member's home: the laptop's, the flagship's, or a throwaway fleet's own. */
  get home(): string {
    return this.#home;
  }

  /** True when this process runs on the flagship. */
  get onFlagship(): boolean {
    return this.#backend instanceof Flagship;
  }

  /** The fleet's agents: Claude Code tasks on ships, their outcomes and costs. */
  get agents(): FleetAgents {
    return new FleetAgents({
      ships: () => this.ships(),
      ssh: this.#ssh,
      keptTasks: () => this.#backend.keptTasks(),
      shipTasks: async () => {
        const { ships, tasks, unreachable } = await this.#backend.shipTasks();
        return { ships: ships.map((ship) => this.#shipOf(ship)), tasks, unreachable };
      },
    });
  }

  /**
   * The fleet's plans: bodies of work the flagship drives over its ships (see {@link Plans}).
   */
  get plans(): Plans {
    const flagship = this.flagship;
    // On the flagship its own socket answers; elsewhere the forwarded one (or exec).
    const destination = this.onFlagship ? this.#home : flagship.destination;
    return new Plans(planCaller({ destination, address: flagship.address }, this.#ssh));
  }

  /** The flagship as a member: its inbox, commands to it. */
  get flagship(): Member {
    const where = { name: this.facts.flagshipVm, destination: this.facts.flagship };
    return new Member("commodore", where, this.#memberContext(this.onFlagship));
  }

  /**
   * The flagship and every ship, each asked in parallel.
   *
   * @returns The fleet's status.
   */
  status(): Promise<FleetStatus> {
    return this.#backend.status();
  }

  /**
   * Every ship, as handles, from one look at the flagship's registry.
   *
   * @returns The ships.
   */
  async ships(): Promise<Ship[]> {
    return (await this.#backend.ships()).map((record) => this.#shipOf(record));
  }

  /**
   * Creates ships (see {@link Flagship.createShips}). From the laptop, the settings it has
   * (tokens, dotfiles, SKIP_STEPS, INIT_PATH/INIT_URL, OHCOMMODORE_SHIP_BIN) go along. With
   * `from`, each ship is a copy of that ready ship of the same repository, made its own instead
   * of set up by init.sh; without it, a repository's template (see {@link templateShip}) is
   * copied, unless `fresh`.
   *
   * @param spec `owner/repo`, a git URL or a plain name.
   * @param options Count, settings, the ship to copy (or `fresh`), progress.
   * @returns The ships.
   * @throws {CreateShipsError} When some failed: `.created` lists the ships that were made.
   */
  createShips(spec: string, options: CreateShipsOptions = {}): Promise<ShipRecord[]> {
    return this.#backend.createShips(spec, options);
  }

  /**
   * Makes a ready ship its repository's template: `createShips` for that repository then copies
   * it (its toolchains, caches and clone, made its own) instead of setting a VM up from nothing,
   * unless told `fresh`. A repository has one template; marking another replaces it, and
   * destroying the template leaves the repository with none.
   *
   * @example Make new ships of a repository by copying a warm one
   * ```ts
   * import { Fleet } from "@smithclay/ohcommodore";
   * await using fleet = await Fleet.open();
   * const [warm] = await fleet.createShips("denoland/std");
   * await fleet.templateShip(warm.name);
   * const copies = await fleet.createShips("denoland/std", { count: 5 }); // copies of warm
   * console.log(copies.map((ship) => `${ship.name} (from ${ship.copiedFrom})`));
   * ```
   *
   * @param prefix Its name or a unique prefix.
   * @param options `unset`: make it no longer the template.
   * @returns Its record.
   * @throws {UsageError} For a ship without a repository.
   * @throws {NotFoundError} When no ship matches.
   */
  templateShip(prefix: string, options: TemplateOptions = {}): Promise<ShipRecord> {
    return this.#backend.templateShip(prefix, options);
  }

  /**
   * Destroys a ship: VM, key and record. The flagship keeps its agent tasks' outcomes and costs
   * first (`fleet.agents.costs()` counts them after); a ship that cannot be asked goes anyway,
   * and `tasksNotKept` says why.
   *
   * @param prefix Its name or a unique prefix.
   * @returns The ship as it was, and whether its tasks were kept.
   * @throws {NotFoundError} When no ship matches.
   * @throws {AmbiguousNameError} When several do.
   */
  destroyShip(prefix: string): Promise<DestroyedShip> {
    return this.#backend.destroyShip(prefix);
  }

  /**
   * Destroys every ship (and lost VMs of this fleet); with `scuttle`, from the laptop, also the
   * flagship and the local config.
   *
   * @param options Scuttle and progress.
   * @returns What was destroyed.
   */
  async sink(options: SinkOptions = {}): Promise<SinkResult> {
    if (options.scuttle && this.onFlagship) {
      throw new UsageError(
        `--scuttle destroys the flagship, so it runs from your laptop, not on the flagship`,
      );
    }
    if (!options.scuttle) {
      return { ...await this.#backend.sink(options.onProgress), scuttled: false };
    }
    return await this.#scuttle(options);
  }

  /**
   * Runs one command on many ships at once and returns one result per ship: an unreachable
   * ship or a failed command is a result, never a throw. From the laptop, the ships'
   * destinations come from one call to the flagship, and each ship is reached directly.
   *
   * @example Run the tests everywhere and list the ships where they failed
   * ```ts
   * import { Fleet } from "@smithclay/ohcommodore";
   * await using fleet = await Fleet.open();
   * const results = await fleet.exec("cd ~/web && deno task test", { timeoutMs: 600_000 });
   * for (const failed of results.failed) console.log(failed.ship, failed.exitCode, failed.error);
   * ```
   *
   * @param command The shell command (bash).
   * @param options Which ships, timeout, concurrency, cancellation, progress.
   * @returns The results, in the order of the ships.
   * @throws {NotFoundError} When a name in `ships` matches no ship (nothing is sent then).
   */
  async exec(command: string, options: ExecOptions = {}): Promise<ExecResults> {
    if (command.trim() === "") {
      throw new UsageError(`Give the shell command to run on the ships`);
    }
    return await execOnShips(await this.ships(), command, options, {
      ssh: this.#ssh,
      home: this.#home,
    });
  }

  async #scuttle(options: SinkOptions): Promise<SinkResult> {
    let report: SinkReport = { destroyed: [], orphans: [], failed: [], tasksNotKept: [] };
    let flagshipUnreachable: string | undefined;
    try {
      report = await this.#backend.sink(options.onProgress);
    } catch (error) {
      // An unreachable flagship must not keep paid VMs alive: the provider lists them below.
      flagshipUnreachable = (error as Error).message;
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
    report.failed = report.failed.filter((failure) => !leftovers.includes(failure.name));
    if (provider.managesKeys) report.failed.push(...await this.#revokeFleetKeys(provider));
    await removeLocalConfig(this.#home);
    return { ...report, scuttled: true, ...(flagshipUnreachable ? { flagshipUnreachable } : {}) };
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
   * @throws {NotFoundError} With `prefix`, when no ship matches.
   * @throws {AmbiguousNameError} With `prefix`, when several do.
   */
  locate(name: string, prefix = false): Promise<MemberLocation | null> {
    return this.#backend.locate(name, prefix);
  }

  /**
   * A ship, by name or unique prefix.
   *
   * @param prefix The name or a unique prefix.
   * @returns The ship.
   * @throws {NotFoundError} When no ship matches.
   * @throws {AmbiguousNameError} When several do.
   */
  async ship(prefix: string): Promise<Ship> {
    const found = await this.locate(prefix, true);
    if (!found) {
      throw new NotFoundError(`No ship matches ${quote(prefix)}`, {
        query: prefix,
        next: `see "ohcommodore fleet status"`,
      });
    }
    return this.#shipOf(found);
  }

  /**
   * Sinks a throwaway fleet ({@link Fleet.local}) and removes its home, and lets this process's
   * kept connections to members' inbox servers go (each once its calls are answered). Shared ssh
   * connections close by themselves when idle: other processes may be using them.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.#throwaway?.stop();
    } finally {
      // Each closes once the calls waiting on it are answered: other users are not cut off.
      closeMemberConnections();
    }
  }

  #shipOf(where: MemberLocation & { repo?: string | null }): Ship {
    return new Ship(where, this.#memberContext(false));
  }

  #memberContext(self: boolean) {
    return { ssh: this.#ssh, home: this.#home, self };
  }
}

// Every throwaway fleet still afloat; a signal sinks them all, then goes on as it would have.
const THROWAWAY_FLEETS = new Set<() => Promise<void>>();
const SINK_ON: Record<"SIGINT" | "SIGTERM", () => void> = {
  SIGINT: () => sinkAllThenResignal("SIGINT"),
  SIGTERM: () => sinkAllThenResignal("SIGTERM"),
};
let sinking: Promise<unknown> | undefined;

// Listening stays on while fleets sink: a second Ctrl-C waits for the same cleanup. Then the
// signal is raised again without our listeners: it ends the process as it would have without
// a fleet, or reaches the script's own listener, which decides. The library never exits.
function sinkAllThenResignal(signal: Deno.Signal): void {
  sinking ??= Promise.allSettled([...THROWAWAY_FLEETS].map((sink) => sink())).finally(() => {
    sinking = undefined;
    stopListening();
    Deno.kill(Deno.pid, signal);
  });
}

function throwAwayOnSignal(stop: () => Promise<void>): void {
  if (THROWAWAY_FLEETS.size === 0) {
    for (const [signal, listener] of Object.entries(SINK_ON)) {
      Deno.addSignalListener(signal as Deno.Signal, listener);
    }
  }
  THROWAWAY_FLEETS.add(stop);
}

// The last one gone, the listeners go too, so the process can end by itself.
function forgetThrowaway(stop: () => Promise<void>): void {
  if (!THROWAWAY_FLEETS.delete(stop) || THROWAWAY_FLEETS.size > 0 || sinking) return;
  stopListening();
}

function stopListening(): void {
  for (const [signal, listener] of Object.entries(SINK_ON)) {
    Deno.removeSignalListener(signal as Deno.Signal, listener);
  }
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
