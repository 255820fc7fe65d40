/**
 * How `plan run` runs a plan, checked before anything starts: budgets, attempts, the
 * integration branch, pull requests, and ships all of one repository.
 */

import assert from "node:assert/strict";
import { NotFoundError, UsageError } from "../lib/errors.ts";
import { checkBudget, checkPlanOptions, resolvePlanShips } from "../lib/plan/plan_options.ts";

const fleet = [
  { name: "ship-web-k3f9a1b2", repo: "acme/web" },
  { name: "ship-web-k3f9c4d5", repo: "acme/web" },
  { name: "ship-api-k3f9e6f7", repo: "acme/api" },
  { name: "scratch-k3f9", repo: null },
];

Deno.test("a plan's ships are the ones named (or prefixes), all of one repository", () => {
  const { ships, repo } = resolvePlanShips(fleet, {
    ships: ["ship-web-k3f9a", "ship-web-k3f9c4d5"],
  });
  assert.deepEqual(ships.map((ship) => ship.name), ["ship-web-k3f9a1b2", "ship-web-k3f9c4d5"]);
  assert.equal(repo, "acme/web");
  // A ship named twice is one ship.
  assert.equal(
    resolvePlanShips(fleet, { ships: ["ship-web-k3f9a1b2", "ship-web-k3f9a"] }).ships.length,
    1,
  );
});

Deno.test("ships of two repositories, or of none, are refused naming them", () => {
  assert.throws(
    () => resolvePlanShips(fleet.slice(0, 3), {}),
    (error: Error) =>
      error instanceof UsageError && /ship-api-k3f9e6f7 \(acme\/api\)/.test(error.message) &&
      /--ships/.test((error as UsageError).next ?? ""),
  );
  assert.throws(
    () => resolvePlanShips(fleet, { ships: ["scratch"] }),
    (error: Error) =>
      error instanceof UsageError && /scratch-k3f9 was made for none/.test(error.message),
  );
  assert.throws(
    () => resolvePlanShips([], {}),
    (error: Error) => error instanceof UsageError && /no ships/.test(error.message),
  );
});

Deno.test("a name that matches no ship, or two, is refused as it was given", () => {
  assert.throws(
    () => resolvePlanShips(fleet, { ships: ["ship-db"] }),
    (error: Error) => error instanceof NotFoundError && /No ship "ship-db"/.test(error.message),
  );
  assert.throws(
    () => resolvePlanShips(fleet, { ships: ["ship-web"] }),
    (error: Error) => error instanceof NotFoundError && /ambiguous/.test(error.message),
  );
});

Deno.test("budgets, attempts, branches and PR modes are checked", () => {
  assert.deepEqual(checkPlanOptions({ budgetUsd: 2.5, maxAttempts: 3, pr: "one" }), {
    budgetUsd: 2.5,
    maxAttempts: 3,
    pr: "one",
  });
  for (const bad of [0, -1, Number.NaN, Infinity, 1e12]) {
    assert.throws(() => checkBudget(bad), UsageError, String(bad));
  }
  assert.throws(() => checkPlanOptions({ maxAttempts: 0 }), UsageError);
  assert.throws(() => checkPlanOptions({ maxAttempts: 21 }), UsageError);
  assert.throws(() => checkPlanOptions({ integrate: "a..b" }), /not a branch name/);
  assert.throws(
    () => checkPlanOptions({ pr: "all" as "one" }),
    /--pr is one of each, one, none, not "all"/,
  );
});
