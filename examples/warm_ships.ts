/**
 * Warm ships: one ship of a repository is set up from nothing, made the repository's template,
 * and the next ships are copies of it, each made a ship of its own (its name, an empty inbox,
 * origin's default branch checked out) instead of running init.sh again. Run on the local
 * provider (a throwaway fleet of sandboxes on this machine) with
 * `deno run -A examples/warm_ships.ts [repo URL]`; without an argument it makes a small
 * repository to clone.
 *
 * @module
 */

import { Fleet, type FleetProgress } from "@smithclay/ohcommodore";
import { makeRepo } from "./_repos.ts";

await using fleet = await Fleet.local({
  onProgress: (p: FleetProgress) => console.error(`  ${p.vm}: ${p.message ?? p.step}`),
});
const repo = Deno.args[0] ?? await makeRepo(fleet.home, "web");

const [first] = await fleet.createShips(repo); // init.sh: toolchains, clone, scheduler
await fleet.templateShip(first.name);
const copies = await fleet.createShips(repo, { count: 3 }); // copies of the template

for (const record of [first, ...copies]) {
  const ship = await fleet.ship(record.name);
  const address = await ship.$`ohcommodore inbox identity`.text();
  const head = await ship.$`git -C ~/web rev-parse --short HEAD`.text();
  const from = record.copiedFrom ? `a copy of ${record.copiedFrom}` : "set up from nothing";
  console.log(`${record.name}: ${from}; answers as ${address}; at ${head}`);
}
