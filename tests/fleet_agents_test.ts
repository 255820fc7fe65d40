/**
 * What the fleet's agents believe of a ship's answers: a ship may run anything, so what it says
 * is read only up to a limit.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FleetAgents } from "../lib/fleet/agents.ts";
import { Ship } from "../lib/fleet/member.ts";
import { Ssh } from "../lib/ssh.ts";
import { tempDir } from "./helpers/temp_dir.ts";

/** A sandbox ship whose program answers every call with `script`. */
async function shipAnswering(home: string, name: string, script: string): Promise<Ship> {
  const bin = join(home, ".local", "bin");
  await Deno.mkdir(bin, { recursive: true });
  await Deno.writeTextFile(join(bin, "ohcommodore"), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  return new Ship({ name, destination: home });
}

Deno.test("a ship whose task list is too long is unreadable; the others are listed", async () => {
  await using flooding = await tempDir("ohc-agents-");
  await using honest = await tempDir("ohc-agents-");
  const ships = [
    // 32 MiB of one endless JSON string, on stdout and on stderr.
    await shipAnswering(
      flooding.path,
      "ship-big-a1b2c3d4",
      `head -c 33554432 /dev/zero | tr '\\0' x >&2; printf '["'; head -c 33554432 /dev/zero | tr '\\0' x`,
    ),
    await shipAnswering(honest.path, "ship-ok-a1b2c3d4", "echo '[]'"),
  ];
  const agents = new FleetAgents({ ships: () => Promise.resolve(ships), ssh: new Ssh() });
  const { tasks, unreachable } = await agents.list();
  assert.deepEqual(tasks, []);
  assert.equal(unreachable.length, 1);
  assert.equal(unreachable[0].ship, "ship-big-a1b2c3d4");
  assert.match(unreachable[0].error, /is unreadable: its answer to "agent _tasks" passed 16 MiB/);
});
