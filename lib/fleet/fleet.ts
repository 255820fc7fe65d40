/**
 * The fleet as its commander sees it: create it (`init`), then create, list, reach, command and
 * destroy ships, and sink it all. The same API works on the laptop, where each call travels to
 * the flagship and comes back as the same values, progress and errors, and on the flagship
 * itself, where it runs in process: one {@link FleetBackend} of two, chosen when the fleet opens
 * (`open_fleet.ts`). Its options are in `fleet_options.ts`, scuttling in `scuttle.ts`, and the
 * signals that sink throwaway fleets in `throwaway_fleets.ts`.
 *
 * @module
 */

import { Plans } from "../plan/plans.ts";
import { closeMemberConnections } from "../inbox/member_connections.ts";
import { planCaller } from "../plan/plan_caller.ts";
import { FleetAgents } from "./agents.ts";
import { quote } from "../clip.ts";
import { NotFoundError, UsageError } from "../errors.ts";
import { writeIdentity } from "../identity.ts";
import type { Ssh } from "../ssh.ts";
import type {
  CreateShipsOptions,
  DestroyedShip,
  FleetBackend,
  FleetStatus,
  MemberLocation,
  TemplateOptions,
} from "./backend.ts";
import type { FleetFacts, LocalConfig } from "./config.ts";
import { execOnShips, type ExecOptions, type ExecResults } from "./exec.ts";
import { Flagship } from "./flagship.ts";
import type {
  FleetOptions,
  InitOptions,
  LocalFleetOptions,
  SinkOptions,
  SinkResult,
} from "./fleet_options.ts";
import { Member, Ship } from "./member.ts";
import { initFleet, type OpenedFleet, openFleet } from "./open_fleet.ts";
import type { ShipRecord } from "./registry.ts";
import { scuttleFleet } from "./scuttle.ts";
import { keepThrowaway } from "./throwaway_fleets.ts";

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

  private constructor(opened: OpenedFleet) {
    this.facts = opened.facts;
    this.#home = opened.home;
    this.#ssh = opened.ssh;
    this.#backend = opened.backend;
    this.#config = opened.config;
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
    return new Fleet(await initFleet(options));
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
    return new Fleet(await openFleet(options));
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
    fleet.#throwaway = { stop: keepThrowaway(home, () => fleet.sink({ scuttle: true })) };
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
    return await scuttleFleet({
      facts: this.facts,
      home: this.#home,
      ssh: this.#ssh,
      backend: this.#backend,
      config: this.#config,
    }, options);
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
