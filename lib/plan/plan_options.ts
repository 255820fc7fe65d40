/**
 * How `plan run` runs a plan — its ships, budget, attempts, integration branch and pull requests
 * — checked before anything starts, and the ships chosen: all of one repository.
 *
 * @module
 */

import { NotFoundError, UsageError } from "../errors.ts";
import { quote } from "../clip.ts";
import { checkTaskSpec } from "../agent/task_check.ts";
import { parseWholeNumber } from "../whole_number.ts";
import { MAX_ATTEMPTS, MAX_BUDGET_USD, PR_MODES } from "./plan_schema.ts";

/** How a plan runs, beside its file (which these override). */
export interface PlanRunOptions {
  /**
   * The ships it may use: names or unique prefixes.
   *
   * @default {every ship}
   */
  ships?: readonly string[];
  /** Its budget in US dollars: no new attempt starts once its cost reaches it. */
  budgetUsd?: number;
  /**
   * Agent runs per task, verification retries included.
   *
   * @default {2}
   */
  maxAttempts?: number;
  /**
   * The branch verified work is brought onto, made from the default branch when missing.
   *
   * @default {"plan-<id>"}
   */
  integrate?: string;
  /**
   * Pull requests: one per task, one for the plan's branch when the plan ends, or none.
   *
   * @default {"none"}
   */
  pr?: "each" | "one" | "none";
}

/**
 * Checks the options as a person or a script gave them.
 *
 * @param options The options.
 * @returns Them, checked.
 * @throws {UsageError} Naming what is wrong.
 */
export function checkPlanOptions(options: PlanRunOptions): PlanRunOptions {
  const { budgetUsd, maxAttempts, integrate, pr, ships } = options;
  if (budgetUsd !== undefined) checkBudget(budgetUsd);
  if (maxAttempts !== undefined) {
    parseWholeNumber(maxAttempts, "maxAttempts", { max: MAX_ATTEMPTS });
  }
  if (integrate !== undefined) checkTaskSpec({ prompt: "-", branch: integrate });
  if (pr !== undefined && !PR_MODES.includes(pr)) {
    throw new UsageError(`--pr is one of ${PR_MODES.join(", ")}, not ${quote(String(pr))}`);
  }
  if (ships !== undefined && (!Array.isArray(ships) || ships.some((s) => typeof s !== "string"))) {
    throw new UsageError(`ships is a list of ship names`);
  }
  return options;
}

/**
 * Checks a budget.
 *
 * @param usd The budget, in US dollars.
 * @returns It.
 * @throws {UsageError} Unless it is a number above 0 and at most {@link MAX_BUDGET_USD}.
 */
export function checkBudget(usd: number): number {
  if (typeof usd !== "number" || !Number.isFinite(usd) || usd <= 0 || usd > MAX_BUDGET_USD) {
    throw new UsageError(
      `The budget is a number of US dollars above 0 and at most ${MAX_BUDGET_USD}, not ` +
        quote(String(usd)),
    );
  }
  return usd;
}

/**
 * The ships a plan uses, and their repository: the ones named, or every ship; all of one
 * repository.
 *
 * @param fleet The fleet's ships.
 * @param options The ships asked for.
 * @returns The ships and their repository.
 * @throws {NotFoundError} When a name matches no ship, or two.
 * @throws {UsageError} When the fleet has no ships, or they work in more than one repository.
 */
export function resolvePlanShips<S extends { name: string; repo: string | null }>(
  fleet: readonly S[],
  options: Pick<PlanRunOptions, "ships">,
): { ships: S[]; repo: string } {
  const chosen = options.ships?.length
    ? [...new Set(options.ships.map((name) => shipNamed(fleet, name)))]
    : [...fleet];
  if (chosen.length === 0) {
    throw new UsageError(`The fleet has no ships to work on a plan`, {
      next: `make some with "ohcommodore ship create <owner/repo> --count 2"`,
    });
  }
  const without = chosen.filter((ship) => !ship.repo).map((ship) => ship.name);
  if (without.length) {
    throw new UsageError(
      `A plan works in a repository, and ${without.join(", ")} ${
        without.length > 1 ? "were" : "was"
      } made for none`,
      { next: `choose ships made for a repository with --ships` },
    );
  }
  const repos = new Map<string, string[]>();
  for (const ship of chosen) repos.set(ship.repo!, [...repos.get(ship.repo!) ?? [], ship.name]);
  if (repos.size > 1) {
    const [first, ...others] = [...repos.entries()].sort((a, b) => b[1].length - a[1].length);
    throw new UsageError(
      `A plan works in one repository; these ships work in another: ` +
        others.map(([repo, names]) => `${names.join(", ")} (${repo})`).join("; "),
      { next: `choose ships of one repository with --ships (${first[0]}: ${first[1].join(",")})` },
    );
  }
  return { ships: chosen, repo: [...repos.keys()][0] };
}

function shipNamed<S extends { name: string }>(fleet: readonly S[], name: string): S {
  const exact = fleet.find((ship) => ship.name === name);
  if (exact) return exact;
  const found = fleet.filter((ship) => ship.name.startsWith(name));
  if (found.length === 1 && name !== "") return found[0];
  throw new NotFoundError(
    found.length > 1
      ? `Ship name ${quote(name)} is ambiguous: ${found.map((ship) => ship.name).join(", ")}`
      : `No ship ${quote(name)} in the fleet`,
    { query: name, next: `"ohcommodore fleet status" lists the ships` },
  );
}

/**
 * Checks a plan's id (or a prefix of it) as a person typed it.
 *
 * @param id The id.
 * @returns It, trimmed and lowercased.
 * @throws {UsageError} Unless it is 1 to 16 hex digits.
 */
export function checkPlanId(id: string): string {
  const wanted = String(id).trim().toLowerCase();
  if (!/^[0-9a-f]{1,16}$/.test(wanted)) {
    throw new UsageError(
      `Invalid plan id ${quote(String(id))}: plan ids are hex, e.g. 3f9a07c2`,
      { next: `"ohcommodore plan list" shows them` },
    );
  }
  return wanted;
}
