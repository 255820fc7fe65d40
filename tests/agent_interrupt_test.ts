/**
 * Ctrl-C of `agent run --wait` and `agent resume --wait` stops the waiting, not the task: each
 * task's id is said as it starts, and the interruption says that the tasks carry on and how to
 * follow them (exit 130; with --json the error, with the tasks, on stdout). Over a real ship with
 * the stand-in claude.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { agentFleet } from "./helpers/agent_standins.ts";
import { FleetWorld } from "./helpers/fleet_world.ts";
import { eventually } from "./helpers/local_member.ts";
import { sshWorldUnavailable } from "./helpers/sshd_world.ts";
import { hasNotEnded, type TaskOutcome } from "../lib/agent/task.ts";

const ignore = sshWorldUnavailable() !== undefined;
const env = {
  SKIP_STEPS: "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell",
  GH_TOKEN: "ghp_interruptTest000",
  CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-interruptTest111",
};

/** Runs the CLI as the laptop, sends its process group SIGINT once stderr matches `when`. */
async function interruptAt(world: FleetWorld, args: string[], when: RegExp) {
  const program = join(world.laptop.home, ".local/bin/ohcommodore");
  const child = world.spawnAs(world.laptop.user, [program, ...args], {
    env: { ...env, OHCOMMODORE_SHIP_BIN: world.shipBin },
  });
  const stdout = new Response(child.stdout).text();
  let stderr = "";
  const reading = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  let exited = false;
  child.status.then(() => exited = true);
  try {
    const deadline = Date.now() + 60_000;
    while (!when.test(stderr)) {
      // A command that ended (refused, failed) before the moment looked for says why at once.
      if (exited || Date.now() > deadline) {
        if (exited) await reading;
        throw new Error(`no ${when} in:\n${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    // The whole group, as a terminal does (unless it is gone already).
    if (!exited) Deno.kill(-child.pid, "SIGINT");
  }
  const { code } = await child.status;
  await reading;
  return { code, stdout: await stdout, stderr };
}

Deno.test({
  name: "Ctrl-C of agent run --wait or agent resume --wait says the task carries on and how to " +
    "follow it",
  ignore,
  sanitizeResources: false,
  async fn(t) {
    await using world = await FleetWorld.start();
    const { cli, ships: [ship] } = await agentFleet(world, env, 1);
    const statusOf = async (id: string) =>
      (JSON.parse((await cli(["agent", "show", id, "--json"])).stdout) as TaskOutcome).status;
    const started = new RegExp(`${ship}: started ([0-9a-f]+)\\n`);
    const everyTaskEnded = () =>
      eventually(
        async () => {
          const tasks = JSON.parse((await cli(["agent", "list", "--json"])).stdout);
          return tasks.every((task: TaskOutcome) => !hasNotEnded(task.status)) || undefined;
        },
        30_000,
        "every task to end",
      );
    // Ctrl-C of a waiting command: exit 130, the id and how to follow it said, the task left
    // running (then cancelled, for the next step).
    const interruptedWait = async (args: string[]) => {
      const result = await interruptAt(world, args, started);
      assert.equal(result.code, 130, result.stderr);
      const id = result.stderr.match(started)![1];
      assert.match(
        result.stderr,
        new RegExp(
          `error: Stopped waiting \\(interrupted by SIGINT\\); the task\\(s\\) carry on: ` +
            `${id} on ${ship}; follow one with "ohcommodore agent follow ${id}"`,
        ),
      );
      assert.equal(result.stdout, "");
      assert.equal(await statusOf(id), "running", `${args[1]}: the task runs on`);
      assert.equal((await cli(["agent", "cancel", id])).code, 0);
    };

    await t.step("the id is said at the start; Ctrl-C says it goes on, exit 130", async () => {
      await interruptedWait(["agent", "run", "--ships", ship, "--wait", "--", "[stall 30] long"]);
    });

    await t.step("with --json the error and the tasks are data on stdout", async () => {
      await everyTaskEnded();
      const result = await interruptAt(
        world,
        ["agent", "run", "--ships", ship, "--wait", "--json", "--", "[stall 30] long"],
        started,
      );
      assert.equal(result.code, 130, result.stderr);
      const id = result.stderr.match(started)![1];
      const { error } = JSON.parse(result.stdout);
      assert.equal(error.name, "InterruptedError");
      assert.equal(error.exitCode, 130);
      assert.deepEqual(error.fields.tasks, [{ ship, id }]);
      assert.equal(await statusOf(id), "running");
      assert.equal((await cli(["agent", "cancel", id])).code, 0);
    });

    await t.step("agent resume --wait says its id too, and Ctrl-C leaves it running", async () => {
      // A last task that had its session when it was cancelled: resume continues it. (Made
      // here: an earlier step's task may be cancelled before Claude Code gave it a session.)
      await everyTaskEnded();
      const sent = await cli(["agent", "run", "--ships", ship, "--json", "--", "[stall 30] first"]);
      assert.equal(sent.code, 0, sent.stderr);
      const [{ id: first }] = JSON.parse(sent.stdout);
      await eventually(
        async () => {
          const shown = JSON.parse((await cli(["agent", "show", first, "--json"])).stdout);
          return (shown as TaskOutcome).sessionId ?? undefined;
        },
        30_000,
        "the task's session",
      );
      assert.equal((await cli(["agent", "cancel", first])).code, 0);
      await everyTaskEnded();
      await interruptedWait(["agent", "resume", ship, "--wait", "--", "[stall 30] more"]);
    });
  },
});
