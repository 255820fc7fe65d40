/**
 * Run the tests on every ship and report the ones that failed, with why: `fleet.exec` gives one
 * result per ship and never throws for one ship's failure. Three ships here; on one of them the
 * test fails. Run with `deno run -A examples/test_everywhere.ts`; exits 1 when any ship failed.
 *
 * @module
 */

import { Fleet } from "@smithclay/ohcommodore";
import { makeRepo } from "./_repos.ts";

await using fleet = await Fleet.local();
// The test fails on the second ship made: ships differ, as real ones do (a flaky dependency).
const repo = await makeRepo(fleet.home, "app", {
  "test.sh": '#!/bin/sh\n[ -e "$HOME/broken" ] && { echo "1 test failed" >&2; exit 1; }\n' +
    'echo "3 tests passed"\n',
});
const ships = await fleet.createShips(repo, { count: 3 });
await (await fleet.ship(ships[1].name)).$`touch ~/broken`;

const results = await fleet.exec("cd ~/app && ./test.sh", { timeoutMs: 60_000 });
for (const result of results) {
  console.log(`${result.ship}: ${result.ok ? "passed" : "FAILED"} in ${result.durationMs} ms`);
}
for (const failed of results.failed) {
  console.log(`\n${failed.ship} (exit ${failed.exitCode}):\n${failed.stderr.trim()}`);
}
if (results.failed.length) Deno.exitCode = 1;
