/**
 * Puts the stand-in `claude` and `gh` (claude_standin.ts, gh_standin.sh) on ships' PATH
 * (`~/.local/bin`), for tests and benches of agent tasks.
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FleetWorld } from "./fleet_world.ts";
import { run } from "./sshd_world.ts";

const STANDIN = fileURLToPath(new URL("./claude_standin.ts", import.meta.url));
const GH_STANDIN = fileURLToPath(new URL("./gh_standin.sh", import.meta.url));

/**
 * Installs the stand-ins on each ship.
 *
 * @param world The world.
 * @param ships The ships' VM names.
 */
export async function installAgentStandins(world: FleetWorld, ships: readonly string[]) {
  // In the world's directory, which every user of it can read.
  const standin = join(world.dir, "claude_standin.ts");
  await Deno.copyFile(STANDIN, standin);
  await Deno.chmod(standin, 0o644);
  for (const ship of ships) {
    const bin = join(world.vmHome(ship), ".local/bin");
    const claude = join(bin, "claude");
    const gh = join(bin, "gh");
    await Deno.writeTextFile(
      claude,
      `#!/bin/sh\nexec ${Deno.execPath()} run -A --quiet --no-config ${standin} "$@"\n`,
    );
    await Deno.copyFile(GH_STANDIN, gh);
    await run(["chmod", "755", claude, gh]);
    await run(["chown", `${world.vmUser(ship)}:`, claude, gh]);
  }
}
