/**
 * One ship per repository of a list: the ships are made side by side, each with its repository
 * cloned, then each says which commit it has. Run on the local provider (a throwaway fleet of
 * sandboxes on this machine) with `deno run -A examples/ship_per_repo.ts [repo URL...]`; without
 * arguments it makes two small repositories to clone.
 *
 * @module
 */

import { Fleet, type FleetProgress } from "@smithclay/ohcommodore";
import { makeRepo } from "./_repos.ts";

await using fleet = await Fleet.local({
  onProgress: (p: FleetProgress) => console.error(`  ${p.vm}: ${p.step}`),
});
const repos = Deno.args.length
  ? Deno.args
  : [await makeRepo(fleet.home, "web"), await makeRepo(fleet.home, "api")];

// Side by side; one repository that fails to clone does not stop the others.
const made = await Promise.allSettled(repos.map((repo) => fleet.createShips(repo)));
for (const [i, outcome] of made.entries()) {
  if (outcome.status === "rejected") console.log(`${repos[i]}: ${outcome.reason.message}`);
}

for (const ship of await fleet.ships()) {
  const repo = ship.repo!.replace(/\.git$/, "").split("/").at(-1);
  const head = await ship.$`git -C ~/${repo} log --oneline -1`.text();
  console.log(`${ship.name} (${ship.repo}): ${head}`);
}
