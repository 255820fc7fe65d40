/**
 * A pushing dispatch and the other ships of its repository: a branch one of their unfinished
 * tasks works on is refused before anything is sent, and so is one a ship of the repository that
 * cannot be asked might hold. The end-to-end case, over real ships, is in agent_git_test.ts.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FleetAgents } from "../lib/fleet/agents.ts";
import { branchInUse, BranchInUseError } from "../lib/fleet/branch_in_use.ts";
import { Ship } from "../lib/fleet/member.ts";
import { Ssh } from "../lib/ssh.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const web = "acme/web";

Deno.test("an unfinished task of another ship of the repository holds its branch", () => {
  const dispatch = [{ name: "ship-web-a", repo: web, branch: "deps" }];
  const others = [
    { name: "ship-web-b", repo: "https://github.com/Acme/web.git" },
    { name: "ship-api-c", repo: "acme/api" },
  ];
  const task = (ship: string, status: "running" | "done" | "queued", branch: string) => ({
    ship,
    id: `${ship}-task`,
    status,
    branch,
  });
  // Ended, another branch, or another repository: free.
  assert.equal(
    branchInUse(dispatch, others, [
      task("ship-web-b", "done", "deps"),
      task("ship-web-b", "running", "other"),
      task("ship-api-c", "running", "deps"),
    ], [{ ship: "ship-api-c", error: "gone" }]),
    null,
  );
  const held = branchInUse(dispatch, others, [task("ship-web-b", "queued", "deps")], []);
  assert.ok(held instanceof BranchInUseError);
  assert.equal(held.exitCode, 2);
  assert.equal(held.ship, "ship-web-b");
  assert.equal(held.task?.id, "ship-web-b-task");
  assert.equal(
    held.message,
    `Branch "deps" is in use: ship-web-b, of the same repository, has task "ship-web-b-task" on ` +
      `it (queued), and a second ship pushing it would have its push rejected after a paid run`,
  );
  assert.match(held.next ?? "", /agent cancel ship-web-b-task"\), or choose another --branch$/);
});

Deno.test("a pushing dispatch is refused when a ship of the repository cannot be asked", async () => {
  await using busy = await tempDir("ohc-branch-");
  await using silent = await tempDir("ohc-branch-");
  await using idle = await tempDir("ohc-branch-");
  const task = { ship: "ship-web-b", id: "3f9a07c2b1d4e856", status: "running", branch: "deps" };
  const ships = [
    await shipAnswering(busy.path, "ship-web-b", `echo '${JSON.stringify([task])}'`),
    await shipAnswering(silent.path, "ship-web-c", "echo 'no such command' >&2; exit 3"),
    await shipAnswering(idle.path, "ship-web-a", "echo '[]'"),
  ];
  const agents = new FleetAgents({ ships: () => Promise.resolve(ships), ssh: new Ssh() });
  const refused = await agents.start("go", { ships: ["ship-web-a"], branch: "deps", push: true })
    .then(() => assert.fail("the dispatch went ahead"), (error) => error);
  assert.ok(refused instanceof BranchInUseError, String(refused));
  assert.equal(refused.task?.id, task.id);
  // Without ship-web-b, ship-web-c is the one that might hold the branch.
  const withoutBusy = new FleetAgents({
    ships: () => Promise.resolve(ships.slice(1)),
    ssh: new Ssh(),
  });
  const unknown = await withoutBusy.start("go", { ships: ["ship-web-a"], branch: "deps", pr: true })
    .then(() => assert.fail("the dispatch went ahead"), (error) => error);
  assert.ok(unknown instanceof BranchInUseError, String(unknown));
  assert.equal(unknown.ship, "ship-web-c");
  assert.equal(unknown.task, null);
  assert.match(
    unknown.message,
    /^Cannot tell whether branch "deps" is free: ship-web-c, .*exited 3/,
  );
  assert.match(unknown.next ?? "", /ship destroy ship-web-c"\), or choose another --branch$/);
});

/** A sandbox ship of acme/web whose program answers every call with `script`. */
async function shipAnswering(home: string, name: string, script: string): Promise<Ship> {
  const bin = join(home, ".local", "bin");
  await Deno.mkdir(bin, { recursive: true });
  await Deno.writeTextFile(join(bin, "ohcommodore"), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  return new Ship({ name, destination: home, repo: web });
}
