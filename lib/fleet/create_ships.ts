/**
 * Creating ships on the flagship: many at once, each set up by init.sh or copied from a ready
 * ship of the same repository (the one asked for, else the repository's template), with the
 * checks of what `ship create` asks.
 *
 * @module
 */

import { join } from "node:path";
import { NotFoundError, OhcommodoreError, UsageError } from "../errors.ts";
import { quote } from "../clip.ts";
import { memberPaths } from "../paths.ts";
import { loadSettings, type Settings } from "../settings.ts";
import { parseWholeNumber } from "../whole_number.ts";
import type { CreateShipsOptions } from "./backend.ts";
import { initScriptText, installedProgram, shipBinOf } from "./artifacts.ts";
import { CreateShipsError } from "./create_ships_error.ts";
import type { FlagshipParts } from "./flagship_parts.ts";
import { makeShip } from "./make_ship.ts";
import { newShipVmNames, parseShipSpec, sameRepository, type ShipSpec } from "./names.ts";
import { matchByPrefix, Registry, type ShipRecord } from "./registry.ts";

// The names of the ships this process is making: a create beside another draws none of them (the
// registry holds a ship's name only once its VM is made).
const BEING_MADE = new Set<string>();

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

/**
 * Creates ships for a repository (or none), in parallel.
 *
 * @param flagship The flagship's means.
 * @param specText `owner/repo`, a git URL or a plain name.
 * @param options Count, settings and progress.
 * @returns The ships, ready.
 * @throws {CreateShipsError} When any failed (the others are kept and listed).
 */
export async function createShips(
  flagship: FlagshipParts,
  specText: string,
  options: CreateShipsOptions,
): Promise<ShipRecord[]> {
  const spec = parseShipSpec(specText);
  const count = checkShipCount(options.count ?? 1);
  checkCopyOptions(options);
  const registry = await Registry.open(flagship.home);
  const ships = await registry.list();
  const from = copySource(spec, options, ships);
  const paths = memberPaths(flagship.home);
  const settings = expandHome({
    ...await loadSettings([join(paths.configDir, ".env")]),
    ...options.settings,
  }, flagship.home);
  const program = await shipBinOf(settings) ?? await installedProgram(flagship.home);
  const initScript = settings.INIT_PATH || settings.INIT_URL
    ? await initScriptText(settings)
    : await Deno.readTextFile(join(paths.configDir, "init.sh"))
      .catch(() => initScriptText(settings));
  const taken = new Set([...ships.map((ship) => ship.name), ...BEING_MADE]);
  const names = newShipVmNames(spec.name, flagship.facts.tag, count, taken);
  for (const name of names) BEING_MADE.add(name);
  // Side by side: the provider bounds its own API calls (exe.dev drops bursts). The merged
  // settings come last: the caller's alone would drop the flagship's own credentials.
  const outcomes = await Promise.allSettled(
    names.map((name) =>
      makeShip(spec, name, {
        ...options,
        facts: flagship.facts,
        provider: flagship.provider,
        keys: flagship.keys,
        registry,
        settings,
        program,
        initScript,
        from: from ?? undefined,
      })
    ),
  ).finally(() => names.forEach((name) => BEING_MADE.delete(name)));
  const created = outcomes.flatMap((o) => o.status === "fulfilled" ? [o.value] : []);
  const failures = outcomes.flatMap((o) => o.status === "rejected" ? [o.reason as Error] : []);
  if (failures.length) throw new CreateShipsError(created, failures);
  return created;
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

/**
 * Checks that a ship is ready, to copy it or make it a template.
 *
 * @param ship The ship.
 * @param doing What is to be done with it, for the message ("copy").
 * @throws {OhcommodoreError} When it is not ready.
 */
export function checkReady(ship: ShipRecord, doing: string): void {
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
