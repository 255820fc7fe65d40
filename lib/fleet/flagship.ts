/**
 * What the flagship does for its fleet: create ships (bounded in parallel), destroy them, sink
 * the fleet, report on it, and tell members where each other live. Runs on the flagship, or
 * in-process for a library user there; the laptop reaches it through {@link Fleet}.
 *
 * @module
 */

import { join } from "node:path";
import { pLimit } from "../deps.ts";
import { type Transport, transportFor } from "../transport.ts";
import { NotFoundError, OhcommodoreError, registerErrorClass, UsageError } from "../errors.ts";
import { quote } from "../clip.ts";
import { memberPaths } from "../paths.ts";
import { providerFor } from "../providers/factory.ts";
import { keyIdentity, type VmInfo, type VmProvider } from "../providers/provider.ts";
import { loadSettings, type Settings } from "../settings.ts";
import { Ssh } from "../ssh.ts";
import { parseWholeNumber } from "../whole_number.ts";
import { fetchLastTask, summarize } from "../agent/last_task.ts";
import { Plans } from "../plan/plans.ts";
import { planCaller } from "../plan/plan_caller.ts";
import { readChannelStatuses } from "../relay/ship_channels.ts";
import type {
  CreateShipsOptions,
  DestroyedShip,
  FleetBackend,
  FleetStatus,
  MemberLocation,
  ShipStatus,
  ShipTasks,
  SinkReport,
  TemplateOptions,
} from "./backend.ts";
import { initScriptText, installedProgram, shipBinOf } from "./artifacts.ts";
import type { FleetFacts } from "./config.ts";
import { makeShip } from "./make_ship.ts";
import { fetchReport, memberReport } from "./member_status.ts";
import { isShipOfFleet, parseShipSpec, sameRepository, type ShipSpec } from "./names.ts";
import type { FleetProgress } from "./progress.ts";
import { type KeptTask, matchByPrefix, Registry, type ShipRecord } from "./registry.ts";
import { ShipKeys } from "./ship_keys.ts";
import { fetchShipTasks } from "./ship_task_list.ts";

export type {
  CreateShipsOptions,
  DestroyedShip,
  FleetStatus,
  MemberLocation,
  ShipStatus,
  ShipTasks,
  SinkReport,
  TemplateOptions,
};

/** The most ships one `ship create` makes. */
export const MAX_SHIPS_PER_CREATE = 20;

/**
 * Checks a ship count.
 *
 * @param asked How many ships were asked for, as a number or as typed.
 * @returns The count.
 * @throws {UsageError} Unless it is a whole number from 1 to {@link MAX_SHIPS_PER_CREATE}.
 */
export function checkShipCount(asked: number | string): number {
  return parseWholeNumber(asked, "count", { max: MAX_SHIPS_PER_CREATE });
}
/**
 * Checks that a `ship create` asks for a copy or for a fresh ship, not both.
 *
 * @param options The options of `createShips`.
 * @throws {UsageError} When both `from` and `fresh` are given.
 */
export function checkCopyOptions(options: Pick<CreateShipsOptions, "from" | "fresh">): void {
  if (options.from !== undefined && options.fresh) {
    throw new UsageError(
      `Give --from or --fresh, not both: --from copies a ship, --fresh sets new ships up from ` +
        `nothing`,
    );
  }
  if (options.from !== undefined && options.from.trim() === "") {
    throw new UsageError(`--from wants the name of a ready ship to copy`, {
      next: `"ohcommodore fleet status" lists them`,
    });
  }
}

// Status calls go to the ships themselves, not the lobby.
const STATUS_CONCURRENCY = 32;

/**
 * Some ships of a `ship create --count` failed; the others were made.
 *
 * @example Keep the ships that were made when others failed
 * ```ts
 * import { CreateShipsError, Fleet } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * try {
 *   await fleet.createShips("denoland/std", { count: 3 });
 * } catch (error) {
 *   if (!(error instanceof CreateShipsError)) throw error;
 *   console.log(error.created.map((ship) => ship.name), error.failures.length);
 * }
 * ```
 */
export class CreateShipsError extends OhcommodoreError {
  /** The ships that were made. */
  readonly created: ShipRecord[];
  /** Why the others failed. */
  readonly failures: Error[];
  /** 130 when they were interrupted, else 1. */
  override readonly exitCode: number = 1;

  /**
   * Creates the error.
   *
   * @param created The ships made.
   * @param failures The errors of the others; what they say to run next is said once.
   */
  constructor(created: ShipRecord[], failures: Error[]) {
    const made = created.length ? ` (made: ${created.map((ship) => ship.name).join(", ")})` : "";
    const next = [...new Set(failures.flatMap((error) => (error as OhcommodoreError).next ?? []))];
    super(
      failures.length === 1
        ? failures[0].message + made
        : `${failures.length} ships failed${made}:\n` +
          failures.map((error) => `  ${error.message}`).join("\n"),
      { next: next.length ? next.join("; ") : undefined },
    );
    this.created = created;
    this.failures = failures;
    if (failures.some((failure) => (failure as OhcommodoreError).exitCode === 130)) {
      this.exitCode = 130;
    }
  }

  /**
   * The error as data (`--json` prints it; the laptop reads it back with {@link fromJSON}).
   *
   * @returns The ships made and why the others failed.
   */
  toJSON(): { created: ShipRecord[]; failures: string[] } {
    return { created: this.created, failures: this.failures.map((failure) => failure.message) };
  }

  /**
   * Reads the error back from {@link toJSON}'s shape.
   *
   * @param answer Parsed JSON.
   * @returns The error, or undefined when the JSON is not one.
   */
  static fromJSON(answer: unknown): CreateShipsError | undefined {
    const { created, failures } = (answer ?? {}) as { created?: unknown; failures?: unknown };
    if (!Array.isArray(created) || !Array.isArray(failures)) return undefined;
    return new CreateShipsError(
      created as ShipRecord[],
      failures.map((text) => new OhcommodoreError(String(text))),
    );
  }
}

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
  async createShips(specText: string, options: CreateShipsOptions = {}): Promise<ShipRecord[]> {
    const spec = parseShipSpec(specText);
    const count = checkShipCount(options.count ?? 1);
    checkCopyOptions(options);
    const registry = await this.registry();
    const from = copySource(spec, options, await registry.list());
    const paths = memberPaths(this.#home);
    const settings = expandHome({
      ...await loadSettings([join(paths.configDir, ".env")]),
      ...options.settings,
    }, this.#home);
    const program = await shipBinOf(settings) ?? await installedProgram(this.#home);
    const initScript = settings.INIT_PATH || settings.INIT_URL
      ? await initScriptText(settings)
      : await Deno.readTextFile(join(paths.configDir, "init.sh"))
        .catch(() => initScriptText(settings));
    // Side by side: the provider bounds its own API calls (exe.dev drops bursts). The merged
    // settings come last: the caller's alone would drop the flagship's own credentials.
    const outcomes = await Promise.allSettled(
      Array.from(
        { length: count },
        () =>
          makeShip(spec, {
            ...options,
            facts: this.facts,
            provider: this.#provider,
            keys: this.#keys,
            registry,
            settings,
            program,
            initScript,
            from: from ?? undefined,
          }),
      ),
    );
    const created = outcomes.flatMap((o) => o.status === "fulfilled" ? [o.value] : []);
    const failures = outcomes.flatMap((o) => o.status === "rejected" ? [o.reason as Error] : []);
    if (failures.length) throw new CreateShipsError(created, failures);
    return created;
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
  async destroyShip(prefix: string): Promise<DestroyedShip> {
    const registry = await this.registry();
    const ship = await registry.find(prefix);
    const kept = await this.#keepTasks(ship, registry);
    await this.#destroy(ship.name, ship.publicKey, registry);
    return { ...ship, ...kept };
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

  // Just before a ship goes, its tasks' outcomes and costs go into the registry's database,
  // which outlives it: "fleet costs" counts them after. Here, so nothing depends on the laptop.
  async #keepTasks(
    ship: ShipRecord,
    registry: Registry,
  ): Promise<{ tasksKept: number; tasksNotKept?: string }> {
    // A ship never made ready ran no task (and may have no program to ask).
    if (ship.status !== "ready") return { tasksKept: 0 };
    try {
      const tasks = await fetchShipTasks(this.#transport(ship.destination), ship.name, this.#ssh);
      await registry.keepTasks(ship.name, tasks);
      return { tasksKept: tasks.length };
    } catch (error) {
      return { tasksKept: 0, tasksNotKept: (error as Error).message };
    }
  }

  async #destroy(name: string, publicKey: string | null, registry: Registry): Promise<void> {
    await this.#provider.remove([name]);
    await this.#forget(name, publicKey, registry);
  }

  // After its VM is gone: its key, its record, its key file.
  async #forget(name: string, publicKey: string | null, registry: Registry): Promise<void> {
    if (publicKey && this.#provider.managesKeys) await this.#provider.removeKey(publicKey);
    await registry.remove(name);
    await this.#keys.forget(name);
  }

  /**
   * Destroys every ship, and VMs of this fleet that the registry lost. Never the flagship.
   * Each ship's agent tasks are kept first, as {@link destroyShip} does.
   *
   * @param onProgress Called as each ship goes.
   * @returns What was destroyed and what could not be.
   */
  async sink(onProgress?: (progress: FleetProgress) => void): Promise<SinkReport> {
    const registry = await this.registry();
    const [ships, vms] = await Promise.all([registry.list(), this.#provider.list()]);
    const orphans = this.#orphansAmong(vms, ships);
    const keys = new Map(ships.map((ship) => [ship.name, ship.publicKey]));
    const report: SinkReport = { destroyed: [], orphans: [], failed: [], tasksNotKept: [] };
    const names = [...ships.map((ship) => ship.name), ...orphans.map((vm) => vm.name)];
    for (const name of names) onProgress?.({ vm: name, step: "destroy" });
    const limit = pLimit(STATUS_CONCURRENCY);
    await Promise.all(ships.map((ship) =>
      limit(async () => {
        const { tasksNotKept } = await this.#keepTasks(ship, registry);
        if (tasksNotKept) report.tasksNotKept.push({ name: ship.name, error: tasksNotKept });
      })
    ));
    try {
      await this.#provider.remove(names); // one call for the whole fleet
    } catch (error) {
      report.failed = names.map((name) => ({ name, error: (error as Error).message }));
      return report;
    }
    await Promise.all(names.map(async (name) => {
      try {
        const publicKey = keys.get(name) || await this.#keys.keptPublicKey(name);
        await this.#forget(name, publicKey, registry);
        (keys.has(name) ? report.destroyed : report.orphans).push(name);
      } catch (error) {
        report.failed.push({ name, error: (error as Error).message });
      }
    }));
    return report;
  }

  /**
   * Reports on the flagship and every ship, asking them in parallel.
   *
   * @returns The fleet's status.
   */
  async status(): Promise<FleetStatus> {
    const registry = await this.registry();
    const [ships, vms, keys, own, channels, assignments] = await Promise.all([
      registry.list(),
      this.#provider.list(),
      this.#provider.managesKeys ? this.#provider.listKeys() : Promise.resolve(null),
      memberReport(this.#home),
      readChannelStatuses(this.#home),
      // The plan driver lives in the scheduler: a status without it has no plans to show.
      this.#plans().assignments().catch(() => []),
    ]);
    const planOf = new Map(assignments.map((work) => [work.ship, work]));
    const channelOf = new Map(channels.map((channel) => [channel.ship, channel.state]));
    const vmByName = new Map(vms.map((vm) => [vm.name, vm]));
    const limit = pLimit(STATUS_CONCURRENCY);
    const shipStatuses = await Promise.all(
      ships.map((ship) =>
        limit(async (): Promise<ShipStatus> => {
          const vm = vmByName.get(ship.name);
          const base = {
            ...ship,
            vmStatus: vm?.status ?? "missing",
            keyRegistered: keys && ship.publicKey
              ? keys.some((entry) => entry.key === keyIdentity(ship.publicKey))
              : null,
            channel: ship.trusted ? null : channelOf.get(ship.name) ?? null,
            plan: planOf.has(ship.name)
              ? { id: planOf.get(ship.name)!.plan, task: planOf.get(ship.name)!.task }
              : null,
          };
          if (!vm) return { ...base, report: null, problem: "the provider has no such VM" };
          try {
            const transport = this.#transport(ship.destination);
            const [report, task] = await Promise.all([
              fetchReport(transport, { vm: ship.name, timeoutMs: 30_000, ssh: this.#ssh }),
              fetchLastTask(transport, { ssh: this.#ssh, address: `captain@${ship.name}` }),
            ]);
            return { ...base, report, task: summarize(task, report) };
          } catch (error) {
            return { ...base, report: null, problem: (error as Error).message };
          }
        })
      ),
    );
    return {
      flagship: {
        name: this.facts.flagshipVm,
        destination: this.facts.flagship,
        provider: this.facts.provider,
        report: own,
      },
      ships: shipStatuses,
      orphans: this.#orphansAmong(vms, ships),
    };
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

  // VMs named like this fleet's ships that the registry does not know.
  #orphansAmong(vms: VmInfo[], ships: ShipRecord[]): VmInfo[] {
    const known = new Set(ships.map((ship) => ship.name));
    return vms.filter((vm) => isShipOfFleet(vm.name, this.facts.tag) && !known.has(vm.name));
  }

  // The plans its scheduler drives, asked on its own socket.
  #plans(): Plans {
    const address = `commodore@${this.facts.flagshipVm}`;
    return new Plans(planCaller({ destination: this.#home, address }, this.#ssh));
  }

  #transport(destination: string): Transport {
    return transportFor(destination, this.#ssh);
  }
}

// The ship new ships are copied from: the one asked for, checked; else the repository's template
// (unless a fresh ship is asked for); else none.
function copySource(
  spec: ShipSpec,
  options: CreateShipsOptions,
  ships: ShipRecord[],
): ShipRecord | null {
  if (options.fresh) return null;
  if (options.from === undefined) {
    const repo = spec.repo;
    if (repo === null) return null;
    return ships.find((ship) =>
      ship.template && ship.status === "ready" && ship.repo !== null &&
      sameRepository(ship.repo, repo)
    ) ?? null;
  }
  let source: ShipRecord;
  try {
    source = matchByPrefix(ships, options.from);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    throw new NotFoundError(`Cannot copy ${quote(options.from)} (--from): ${error.message}`, {
      query: options.from,
      next: error.next,
    });
  }
  checkReady(source, "copy");
  const same = source.repo === null || spec.repo === null
    ? source.repo === spec.repo
    : sameRepository(source.repo, spec.repo);
  if (!same) {
    throw new UsageError(
      `Cannot make ships of ${quote(spec.repo ?? spec.name)} from ${source.name}: it holds ` +
        `${source.repo === null ? "no repository" : quote(source.repo)}`,
      {
        next: source.repo === null
          ? `give a plain name (e.g. "ohcommodore ship create scratch --from ${source.name}")`
          : `give its repository ("ohcommodore ship create ${source.repo} --from ` +
            `${source.name}"), or leave --from out`,
      },
    );
  }
  return source;
}

function checkReady(ship: ShipRecord, doing: string): void {
  if (ship.status === "ready") return;
  throw new OhcommodoreError(
    `Cannot ${doing} ${ship.name}: it is ${ship.status}, not ready`,
    { next: `wait until "ohcommodore fleet status" shows it ready, or pick a ready ship` },
  );
}

// Paths the laptop placed on the flagship arrive as "~/…".
function expandHome(settings: Settings, home: string): Settings {
  const expanded = { ...settings };
  for (const name of ["INIT_PATH", "OHCOMMODORE_SHIP_BIN"] as const) {
    const value = expanded[name];
    if (value?.startsWith("~/")) expanded[name] = join(home, value.slice(2));
  }
  return expanded;
}

// It crosses from the flagship to the laptop as data and comes back as itself.
registerErrorClass(CreateShipsError);
