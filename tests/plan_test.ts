/**
 * Plans end to end: the real CLI on the laptop, a flagship whose scheduler drives the plan, keyless
 * ships of one repository behind the fixture lobby over real SSH, the stand-in `claude`
 * (tests/helpers/claude_standin.ts) scripted by words in each task's prompt, and a bare
 * repository as `origin`. Each step checks what a person sees: `plan` output and exit codes, the
 * plan's JSON, origin's branches and files, and what the stand-in was asked.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { agentFleet } from "./helpers/agent_standins.ts";
import { FleetWorld } from "./helpers/fleet_world.ts";
import { run, sshWorldUnavailable } from "./helpers/sshd_world.ts";
import type { PlanEvent, PlanSummary } from "../lib/plan/plan_types.ts";

const ignore = sshWorldUnavailable() !== undefined;
const env = {
  SKIP_STEPS: "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell",
  GH_TOKEN: "ghp_planTestToken000",
  CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-standinPlanToken",
};
const RUN_COST = 0.0125;

/** Dollars as the fleet adds them up: to the millionth. */
function usd(amount: number): number {
  return Math.round(amount * 1e6) / 1e6;
}

/** One call of the stand-in claude, as it records it on its ship. */
interface Call {
  args: string[];
  cwd: string;
  prompt: string;
}

Deno.test({
  name: "plans on two ships: dependencies, verification, integration, budget, cancel",
  ignore,
  sanitizeResources: false,
  async fn(t) {
    await using world = await FleetWorld.start();
    const { cli, origin, ships } = await agentFleet(world, env);
    // The laptop's user reads the plan files.
    const dir = await Deno.makeTempDir({ dir: world.dir, prefix: "plans-" });
    await Deno.chmod(dir, 0o755);
    let files = 0;
    const planFile = async (plan: unknown) => {
      const path = join(dir, `plan-${++files}.json`);
      await Deno.writeTextFile(path, JSON.stringify(plan), { mode: 0o644 });
      return path;
    };
    const runWait = async (args: string[]) => {
      const result = await cli(["plan", "run", "--wait", "--json", ...args]);
      const summary = result.stdout.trim() ? JSON.parse(result.stdout) as PlanSummary : undefined;
      return { ...result, summary };
    };
    const events = async (id: string): Promise<PlanEvent[]> => {
      const followed = await cli(["plan", "follow", id, "--json"]);
      return followed.stdout.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
    };
    /** Git on origin: a ref's commit, or null. */
    const inOrigin = async (ref: string) => {
      const result = await run(
        ["git", "--git-dir", origin, "rev-parse", "--verify", "--quiet", `${ref}^{commit}`],
        true,
      );
      return result.code === 0 ? result.stdout.trim() : null;
    };
    const isAncestor = async (older: string, newer: string) =>
      (await run(["git", "--git-dir", origin, "merge-base", "--is-ancestor", older, newer], true))
        .code === 0;
    /** The flagship scheduler's log, where its plan driver says what went wrong. */
    const flagshipLog = async () => {
      const flagship = world.lobbyVms().find((vm) => vm.name.startsWith("flagship"))!;
      const log = join(world.vmHome(flagship.name), ".local/ship/scheduler.log");
      return `\nflagship log:\n${await Deno.readTextFile(log).catch((e) => e.message)}`;
    };
    const calls = async (ship: string): Promise<Call[]> => {
      const text = await Deno.readTextFile(join(world.vmHome(ship), ".claude-standin/calls.jsonl"))
        .catch(() => "");
      return text.split("\n").filter(Boolean).map((line) => JSON.parse(line));
    };

    await t.step(
      "three tasks, one needing another: each verified, brought onto the branch, in order",
      async () => {
        const path = await planFile({
          verify: "test -f README.md",
          tasks: [
            { id: "parser", prompt: "add the parser" },
            { id: "docs", prompt: "write the docs" },
            { id: "cli", prompt: "use the parser in the CLI", needs: ["parser"] },
          ],
        });
        const { code, stderr, summary } = await runWait([path, "--integrate", "release"]);
        assert.equal(code, 0, stderr + await flagshipLog());
        assert.ok(summary);
        assert.equal(summary.status, "done", summary.note ?? "");
        assert.deepEqual(summary.tasks.map((task) => [task.id, task.status, task.attempts]), [
          ["parser", "done", 1],
          ["docs", "done", 1],
          ["cli", "done", 1],
        ]);
        assert.equal(summary.costUsd, usd(3 * RUN_COST));
        assert.equal(summary.tokens.inputTokens, 300);
        assert.deepEqual(summary.tasks.find((task) => task.id === "cli")!.needs, ["parser"]);
        const release = await inOrigin("refs/heads/release");
        assert.ok(release, "origin has the integration branch");
        for (const task of summary.tasks) {
          assert.ok(task.ship && ships.includes(task.ship));
          const branch = await inOrigin(`refs/heads/${task.branch}`);
          assert.ok(branch, `origin has ${task.branch}`);
          assert.ok(await isAncestor(branch, release), `${task.id} is on release`);
        }
        // The dependent task started from the branch with its need's work on it.
        const parser = await inOrigin(`refs/heads/${summary.tasks[0].branch}`);
        const cli = await inOrigin(`refs/heads/${summary.tasks[2].branch}`);
        assert.ok(await isAncestor(parser!, cli!), "cli was built on parser's work");
        const history = await events(summary.id);
        const order = history.filter((event) => event.type === "integrated").map((e) => e.task);
        assert.equal(order.indexOf("cli") > order.indexOf("parser"), true);
        assert.equal(history.at(-1)?.type, "ended");
        assert.ok(history.every((event, i) => event.seq === i + 1), "no event is missing");
        const prompts = [...await calls(ships[0]), ...await calls(ships[1])].map((c) => c.prompt);
        assert.ok(prompts.some((prompt) => prompt.startsWith("use the parser in the CLI")));
      },
    );
  },
});
