/**
 * Makes the Unix users that SshWorld reuses from run to run (FIXTURE_VMS), so that a machine
 * that never ran the tests has them before `.ci/no_leftovers` starts counting: they are fixtures,
 * installed like packages, not leftovers of a run. A world makes a missing one itself, so
 * `deno task test` works without this too. Needs root.
 *
 *   deno run -A tests/helpers/fixture_users.ts
 */

import { FIXTURE_VMS, fixtureUser } from "./sshd_world.ts";

for (const name of FIXTURE_VMS) console.log(`fixture user: ${await fixtureUser(name)}`);
