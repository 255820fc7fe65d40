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

/**
 * Puts the stand-in claude on a local sandbox's PATH (a ship of the local provider: the same
 * user), with a credential it only checks is there.
 *
 * @param home The sandbox's home.
 */
export async function installLocalStandin(home: string): Promise<void> {
  const bin = join(home, ".local", "bin");
  await Deno.mkdir(bin, { recursive: true });
  await Deno.writeTextFile(
    join(bin, "claude"),
    `#!/bin/sh\nexport CLAUDE_CODE_OAUTH_TOKEN=stand-in\n` +
      `exec "${Deno.execPath()}" run -A --quiet --no-config "${STANDIN}" "$@"\n`,
    { mode: 0o755 },
  );
}

/** A fleet ready for agent tasks: see {@link agentFleet}. */
export interface AgentFleet {
  /** Runs the laptop's CLI with the fleet's environment. */
  cli: (args: string[]) => ReturnType<FleetWorld["cli"]>;
  /** The bare repository the ships cloned, which they may push to. */
  origin: string;
  /** The ships' VM names, sorted. */
  ships: string[];
}

/**
 * A flagship and `count` ships of one repository that every ship may push to (and add to what
 * another pushed), with the stand-ins installed: the start of every agent test.
 *
 * @param world The world.
 * @param env The environment the CLI runs with (tokens, SKIP_STEPS).
 * @param count How many ships.
 * @returns The CLI, the origin's path and the ships.
 */
export async function agentFleet(
  world: FleetWorld,
  env: Record<string, string>,
  count = 2,
): Promise<AgentFleet> {
  const cli = (args: string[]) => world.cli(args, { env });
  const init = await cli(["init"]);
  if (init.code !== 0) throw new Error(`the fixture's init failed: ${init.stderr}`);
  const origin = fileURLToPath(await world.bareRepo("web"));
  await run(["chmod", "-R", "a+rwX", origin]);
  await run(["git", "--git-dir", origin, "config", "core.sharedRepository", "0777"]);
  // Two ships pushing at once may both need a new loose-object folder; one makes it (mode 0755
  // until git widens it) while the other's link into it fails. Pushes kept as packs land in
  // objects/pack, which exists already.
  await run(["git", "--git-dir", origin, "config", "receive.unpackLimit", "1"]);
  const made = await cli(["ship", "create", `file://${origin}`, "--count", String(count)]);
  if (made.code !== 0) throw new Error(`the fixture's ship create failed: ${made.stderr}`);
  const ships = made.stdout.trim().split("\n").sort();
  await installAgentStandins(world, ships);
  return { cli, origin, ships };
}
