/**
 * Destroying ships that work, and what they cost: `ship destroy` and `fleet sink` warn of agent
 * tasks that have not ended (and `ship destroy` asks, unless --force); the flagship keeps each
 * ship's task outcomes and costs just before it destroys it, so `fleet costs` still counts a
 * destroyed ship, marked as such. Over real ships with the stand-in claude.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { agentFleet } from "./helpers/agent_standins.ts";
import { FleetWorld } from "./helpers/fleet_world.ts";
import { eventually } from "./helpers/local_member.ts";
import { run, sshWorldUnavailable } from "./helpers/sshd_world.ts";
import { Terminal } from "./helpers/terminal.ts";
import type { FleetCosts } from "../lib/fleet/fleet_costs.ts";
import type { TaskOutcome } from "../lib/agent/task.ts";

const ignore = sshWorldUnavailable() !== undefined;
const env = {
  SKIP_STEPS: "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell",
  GH_TOKEN: "ghp_costsTest000",
  CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-costsTest111",
};
// What the stand-in claude reports for a run.
const RUN_COST = 0.0125;

Deno.test({
  name: "destroyed ships' tasks are warned of, kept by the flagship and counted by fleet costs",
  ignore,
  sanitizeResources: false,
  async fn(t) {
    await using world = await FleetWorld.start();
    const { cli, ships: [a, b] } = await agentFleet(world, env);
    const costs = async (): Promise<FleetCosts> => {
      const result = await cli(["fleet", "costs", "--json"]);
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout);
    };
    const startLong = async (ship: string): Promise<string> => {
      const started = await cli(["agent", "run", "--ships", ship, "--json", "--", "[stall 60] x"]);
      assert.equal(started.code, 0, started.stderr);
      const [{ id }] = JSON.parse(started.stdout);
      await eventually(
        async () => {
          const shown = await cli(["agent", "show", id, "--json"]);
          return (JSON.parse(shown.stdout) as TaskOutcome).status === "running" || undefined;
        },
        20_000,
        "the task to start",
      );
      return id;
    };

    const done = await cli(["agent", "run", "--all", "--wait", "--json", "--", "work"]);
    assert.equal(done.code, 0, done.stderr);
    const long = await startLong(a);

    await t.step(
      "ship destroy with a running task warns, and refuses without a terminal",
      async () => {
        const refused = await cli(["ship", "destroy", a]);
        assert.equal(refused.code, 2, refused.stderr);
        assert.match(
          refused.stderr,
          new RegExp(
            `warning: ${a} has agent task\\(s\\) that have not ended: ${long} \\(running\\)`,
          ),
        );
        assert.match(
          refused.stderr,
          new RegExp(
            `error: ${a} has agent task\\(s\\) that have not ended \\(${long}\\): .*--force`,
          ),
        );
        assert.ok(world.lobbyVms().some((vm) => vm.name === a), "the ship is still there");
      },
    );

    await t.step('on a terminal it asks for "destroy"; another answer keeps the ship', async () => {
      const program = join(world.laptop.home, ".local/bin/ohcommodore");
      const user = world.laptop.user;
      await using terminal = await Terminal.start(
        [
          "setpriv",
          "--reuid",
          user,
          "--regid",
          user,
          "--init-groups",
          "--",
          program,
          "ship",
          "destroy",
          a,
        ],
        {
          HOME: world.laptop.home,
          USER: user,
          PATH: "/usr/local/bin:/usr/bin:/bin",
          NO_COLOR: "1",
          OHCOMMODORE_SHIP_BIN: world.shipBin,
        },
        { cwd: world.laptop.home },
      );
      await terminal.waitFor(
        new RegExp(
          `This destroys ${a} and stops its agent task\\(s\\)\\. Type "destroy" to confirm: $`,
          "m",
        ),
      );
      await terminal.type("keep");
      await terminal.press("Enter");
      const screen = await terminal.waitFor(/\[exited \d+\]/);
      assert.match(screen, /Not confirmed \("keep" is not "destroy"\): nothing was destroyed/);
      assert.match(screen, /\[exited 2\]/);
      assert.ok(world.lobbyVms().some((vm) => vm.name === a), "the ship is still there");
    });

    await t.step("--force destroys it; the flagship keeps its tasks and their costs", async () => {
      const gone = await cli(["ship", "destroy", a, "--force", "--json"]);
      assert.equal(gone.code, 0, gone.stderr);
      assert.match(gone.stderr, new RegExp(`warning: ${a} has agent task\\(s\\).*${long}`));
      const record = JSON.parse(gone.stdout);
      assert.equal(record.name, a);
      assert.equal(record.tasksKept, 2, "the finished task and the running one");
      assert.equal(record.tasksNotKept, undefined);
      assert.ok(!world.lobbyVms().some((vm) => vm.name === a));
      const after = await costs();
      assert.deepEqual(
        after.ships.map((ship) => [ship.name, ship.tasks, ship.costUsd, ship.destroyed]).sort(),
        [[a, 2, RUN_COST, true], [b, 1, RUN_COST, false]],
      );
      assert.equal(after.totalUsd, 2 * RUN_COST);
      const table = await cli(["fleet", "costs"]);
      assert.match(table.stdout, new RegExp(`^${a} \\(destroyed\\)\\s+2\\s+\\$0\\.0125$`, "m"));
      assert.match(table.stdout, new RegExp(`^${b}\\s+1\\s+\\$0\\.0125$`, "m"));
      assert.match(table.stdout, /^total\s+3\s+\$0\.0250$/m);
    });

    await t.step("fleet sink --force warns of running tasks; the costs stay counted", async () => {
      const busy = await startLong(b);
      const sunk = await cli(["fleet", "sink", "--force", "--json"]);
      assert.equal(sunk.code, 0, sunk.stderr);
      assert.match(sunk.stderr, new RegExp(`warning: ${b} has agent task\\(s\\).*${busy}`));
      const report = JSON.parse(sunk.stdout);
      assert.deepEqual(report.destroyed, [b]);
      assert.deepEqual(report.tasksNotKept, []);
      const after = await costs();
      assert.deepEqual(
        after.ships.map((ship) => [ship.name, ship.tasks, ship.costUsd, ship.destroyed]).sort(),
        [[a, 2, RUN_COST, true], [b, 2, RUN_COST, true]],
      );
      assert.equal(after.totalUsd, 2 * RUN_COST, "not $0 after a sink");
    });

    await t.step("a ship that cannot be asked is destroyed all the same, and named", async () => {
      const spare = (await cli(["ship", "create", "spare"])).stdout.trim();
      // sshd refuses it now; the flagship's shared connection to it goes too.
      await run(["usermod", "--lock", world.vmUser(spare)]);
      const flagship = world.lobbyVms().find((vm) => vm.name.startsWith("flagship-"))!;
      await run(["pkill", "-u", world.vmUser(flagship.name), "-x", "ssh"], true);
      const gone = await cli(["ship", "destroy", spare, "--json"]);
      assert.equal(gone.code, 0, gone.stderr);
      assert.match(gone.stderr, new RegExp(`Could not ask ${spare} for running agent tasks`));
      assert.match(gone.stderr, new RegExp(`could not keep the agent tasks of ${spare}`));
      assert.equal(typeof JSON.parse(gone.stdout).tasksNotKept, "string");
      assert.ok(!world.lobbyVms().some((vm) => vm.name === spare));
    });
  },
});
