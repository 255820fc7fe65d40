/**
 * The fleet on the local provider through the real CLI: sandboxes on this machine, no SSH.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { schedulerPidPathOf } from "../lib/inbox/scheduler_files.ts";
import { memberPaths } from "../lib/paths.ts";
import { LocalMember } from "./helpers/local_member.ts";
import { localBareRepo } from "./helpers/local_repo.ts";

// A zombie is dead too: this machine's PID 1 reaps orphans slowly.
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

Deno.test("local fleet: init, ships, sends, status, destroy, failure cleanup, scuttle", async (t) => {
  await using laptop = await LocalMember.create({ role: "local", name: "laptop" });
  const sandboxes = join(laptop.home, ".ohcommodore", "sandboxes");
  const repo = await localBareRepo(laptop.home, "tools");
  const schedulerPids: number[] = [];
  let ships: string[] = [];

  await t.step("init makes a flagship sandbox with a running scheduler", async () => {
    // The laptop's own settings must not leak into a sandbox's setup: a TARGET_REPO in its
    // environment would make the flagship clone, a SKIP_STEPS would undo the provider's.
    const result = await laptop.cli(["init", "--provider", "local", "--json"], {
      env: { TARGET_REPO: "file:///nonexistent.git", SKIP_STEPS: "rustup" },
    });
    assert.equal(result.code, 0, result.stderr);
    const facts = JSON.parse(result.stdout);
    assert.equal(facts.provider, "local");
    assert.equal(facts.flagship, join(sandboxes, facts.flagshipVm));
  });

  await t.step("ship create clones the repository into each sandbox", async () => {
    const result = await laptop.cli(["ship", "create", repo, "--count", "2", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    ships = JSON.parse(result.stdout).map((ship: { name: string }) => ship.name);
    assert.equal(ships.length, 2);
    for (const ship of ships) {
      assert.equal(await Deno.readTextFile(join(sandboxes, ship, "tools", "README.md")), "tools\n");
    }
  });

  await t.step("status reports every member with a live scheduler", async () => {
    const result = await laptop.cli(["fleet", "status", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const status = JSON.parse(result.stdout);
    assert.equal(status.flagship.report.schedulerRunning, true);
    assert.deepEqual(status.ships.map((s: { name: string }) => s.name).sort(), [...ships].sort());
    for (const ship of status.ships) {
      assert.equal(ship.report.schedulerRunning, true);
      assert.equal(ship.keyRegistered, null, "sandboxes have no keys");
    }
    for (const member of [status.flagship.name, ...ships]) {
      const pidFile = schedulerPidPathOf(memberPaths(join(sandboxes, member)).database);
      schedulerPids.push(Number((await Deno.readTextFile(pidFile)).trim()));
    }
  });

  await t.step("the laptop sends to a ship by name; the command runs in its clone", async () => {
    const result = await laptop.cli(["inbox", "send", `captain@${ships[0]}`, "ls", "--wait"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "README.md\n");
  });

  await t.step(
    "ship ssh opens the sandbox with the program on PATH; addresses take prefixes",
    async () => {
      const prefix = ships[0].slice(0, -1);
      const shell = await laptop.cli(["ship", "ssh", prefix], {
        stdin: 'echo "$HOME"; command -v ohcommodore; ohcommodore inbox identity\n',
      });
      assert.equal(shell.code, 0, shell.stderr);
      const home = join(sandboxes, ships[0]);
      assert.equal(
        shell.stdout,
        `${home}\n${join(home, ".local/bin/ohcommodore")}\ncaptain@${ships[0]}\n`,
      );
      // The same unique prefixes as the ship commands, the whole name stored.
      const sent = await laptop.cli(["inbox", "send", `captain@${prefix}`, "pwd", "--json", "-w"]);
      assert.equal(sent.code, 0, sent.stderr);
      assert.equal(JSON.parse(sent.stdout).recipient, `captain@${ships[0]}`);
      assert.equal(JSON.parse(sent.stdout).result, `${join(home, "tools")}\n`);
      const both = await laptop.cli(["inbox", "send", "captain@tools", "true"]);
      assert.equal(both.code, 2, both.stderr);
      assert.match(both.stderr, new RegExp(`matches 2 ships \\(.*${ships[1]}`));
    },
  );

  await t.step("a bad repository fails at step repo and leaves no sandbox or record", async () => {
    const result = await laptop.cli(["ship", "create", `file://${laptop.home}/missing.git`]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /step repo failed/);
    const left = [...Deno.readDirSync(sandboxes)].map((entry) => entry.name);
    assert.equal(left.filter((name) => name.startsWith("ship-missing")).length, 0);
    const status = JSON.parse((await laptop.cli(["fleet", "status", "--json"])).stdout);
    assert.equal(status.ships.length, 2);
  });

  await t.step("destroy refuses an empty name", async () => {
    const result = await laptop.cli(["ship", "destroy", ""]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Give a ship's name/);
  });

  await t.step("destroy removes the sandbox and stops its scheduler", async () => {
    const result = await laptop.cli(["ship", "destroy", ships[1], "--json"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).name, ships[1]);
    await assert.rejects(Deno.stat(join(sandboxes, ships[1])));
    assert.equal(alive(schedulerPids[2]), false);
  });

  await t.step("sink --scuttle removes everything and stops every scheduler", async () => {
    const result = await laptop.cli(["fleet", "sink", "--scuttle", "--force", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout).destroyed, [ships[0]]);
    assert.deepEqual([...Deno.readDirSync(sandboxes)], []);
    await assert.rejects(Deno.stat(join(laptop.home, ".ohcommodore", "config.json")));
    for (const pid of schedulerPids) assert.equal(alive(pid), false, `scheduler ${pid} stopped`);
  });
});
