/**
 * What the flagship does for its fleet: create ships (bounded in parallel), destroy them, sink
 * the fleet, report on it, and tell members where each other live. Runs on the flagship, or
 * in-process for a library user there; the laptop reaches it through {@link Fleet}. The work
 * itself is in a file per job: `create_ships.ts`, `sink_ships.ts`, `fleet_status.ts`.
 *
 * @module
 */

import { pLimit } from "../deps.ts";
import { type Transport, transportFor } from "../transport.ts";
import { UsageError } from "../errors.ts";
import { providerFor } from "../providers/factory.ts";
import type { VmProvider } from "../providers/provider.ts";
import { Ssh } from "../ssh.ts";
import type {
  CreateShipsOptions,
  DestroyedShip,
  FleetBackend,
  FleetStatus,
  MemberLocation,
  ShipTasks,
  SinkReport,
  TemplateOptions,
} from "./backend.ts";
import type { FleetFacts } from "./config.ts";
import { checkReady, createShips } from "./create_ships.ts";
import { type FlagshipParts, STATUS_CONCURRENCY } from "./flagship_parts.ts";
import { fleetStatus } from "./fleet_status.ts";
import type { FleetProgress } from "./progress.ts";
import { type KeptTask, Registry, type ShipRecord } from "./registry.ts";
import { ShipKeys } from "./ship_keys.ts";
import { fetchShipTasks } from "./ship_task_list.ts";
import { destroyShip, sinkShips } from "./sink_ships.ts";

/** The flagship's side of the fleet, in process. */
export class Flagship implements FleetBackend {
  /** The fleet. */
  readonly facts: FleetFacts;
  readonly #home: string;
  readonly #ssh: Ssh;
  readonly #provider: VmProvider;
  readonly #keys: ShipKeys;

  /**
   * The flagship of a fleet.
   *
   * @param facts The fleet (from `~/.ohcommodore/fleet.json`).
   * @param home The flagship's home.
   * @param ssh The ssh client.
   */
  constructor(facts: FleetFacts, home: string, ssh: Ssh = new Ssh()) {
    this.facts = facts;
    this.#home = home;
    this.#ssh = ssh;
    this.#provider = providerFor(facts, ssh);
    this.#keys = new ShipKeys(home);
  }

  /** The ship registry. */
  registry(): Promise<Registry> {
    return Registry.open(this.#home);
  }

  /**
   * Every recorded ship, from the registry alone.
   *
   * @returns The ships.
   */
  async ships(): Promise<ShipRecord[]> {
    return await (await this.registry()).list();
  }

  /**
   * Creates ships for a repository (or none), in parallel.
   *
   * @param specText `owner/repo`, a git URL or a plain name.
   * @param options Count, settings and progress.
   * @returns The ships, ready.
   * @throws {CreateShipsError} When any failed (the others are kept and listed).
   */
  createShips(specText: string, options: CreateShipsOptions = {}): Promise<ShipRecord[]> {
    return createShips(this.#parts(), specText, options);
  }

  /**
   * Makes a ready ship with a repository that repository's template (the one before, if any,
   * is no longer), or with `unset` no longer a template. `createShips` for the repository then
   * copies it, unless told `fresh`.
   *
   * @param prefix The ship's name or a unique prefix of it.
   * @param options `unset` to take the mark away.
   * @returns The ship's record, as it is now.
   * @throws {UsageError} For a ship without a repository.
   * @throws {NotFoundError} When no ship matches.
   */
  async templateShip(prefix: string, options: TemplateOptions = {}): Promise<ShipRecord> {
    const registry = await this.registry();
    const ship = await registry.find(prefix);
    if (!options.unset) {
      if (ship.repo === null) {
        throw new UsageError(
          `${ship.name} has no repository, so it cannot be a template: a template is copied ` +
            `for the new ships of its repository`,
          { next: `make a ship with "ohcommodore ship create owner/repo" and mark that one` },
        );
      }
      checkReady(ship, "make a template of");
    }
    await registry.setTemplate(ship.name, !options.unset);
    return (await registry.list()).find((record) => record.name === ship.name) ?? ship;
  }

  /**
   * Destroys a ship: its VM, its key and its record. Its agent tasks' outcomes and costs are
   * kept first (see {@link keptTasks}); a ship that cannot be asked goes all the same.
   *
   * @param prefix The ship's name or a unique prefix of it.
   * @returns The ship as it was recorded, and whether its tasks were kept.
   */
  destroyShip(prefix: string): Promise<DestroyedShip> {
    return destroyShip(this.#parts(), prefix);
  }

  /**
   * Every ship's agent tasks, asked in parallel over the flagship's connections to its ships
   * (kept warm in its scheduler, which answers this for the laptop). A ship that cannot be asked
   * is named in `unreachable`, never a throw that hides the others.
   *
   * @returns The ships, their tasks, and those that did not answer.
   */
  async shipTasks(): Promise<ShipTasks> {
    const ships = (await (await this.registry()).list()).filter((ship) => ship.status === "ready");
    const limit = pLimit(STATUS_CONCURRENCY);
    const unreachable: ShipTasks["unreachable"] = [];
    const perShip = await Promise.all(
      ships.map((ship) =>
        limit(() =>
          fetchShipTasks(this.#transport(ship.destination), ship.name, this.#ssh).catch((error) => {
            unreachable.push({ ship: ship.name, error: (error as Error).message });
            return [];
          })
        )
      ),
    );
    return { ships, tasks: perShip.flat(), unreachable };
  }

  /**
   * The agent tasks of destroyed ships: what each ship told of its tasks just before it went.
   *
   * @returns The tasks, oldest kept first.
   */
  async keptTasks(): Promise<KeptTask[]> {
    return await (await this.registry()).keptTasks();
  }

  /**
   * Destroys every ship, and VMs of this fleet that the registry lost. Never the flagship.
   * Each ship's agent tasks are kept first, as {@link destroyShip} does.
   *
   * @param onProgress Called as each ship goes.
   * @returns What was destroyed and what could not be.
   */
  sink(onProgress?: (progress: FleetProgress) => void): Promise<SinkReport> {
    return sinkShips(this.#parts(), onProgress);
  }

  /**
   * Reports on the flagship and every ship, asking them in parallel.
   *
   * @returns The fleet's status.
   */
  status(): Promise<FleetStatus> {
    return fleetStatus(this.#parts());
  }

  /**
   * Where a member lives: the flagship itself or a recorded ship.
   *
   * @param name The exact VM name (`prefix` allows a unique prefix).
   * @param prefix Whether a unique prefix will do.
   * @returns The member, or null when the fleet has none by that name.
   */
  async locate(name: string, prefix = false): Promise<MemberLocation | null> {
    if (name === this.facts.flagshipVm) {
      return { name, destination: this.facts.flagship };
    }
    const registry = await this.registry();
    if (prefix) {
      const ship = await registry.find(name);
      return { name: ship.name, destination: ship.destination };
    }
    const ship = (await registry.list()).find((ship) => ship.name === name);
    return ship ? { name: ship.name, destination: ship.destination } : null;
  }

  #parts(): FlagshipParts {
    return {
      facts: this.facts,
      home: this.#home,
      ssh: this.#ssh,
      provider: this.#provider,
      keys: this.#keys,
    };
  }

  #transport(destination: string): Transport {
    return transportFor(destination, this.#ssh);
  }
}
