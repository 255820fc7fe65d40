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
import { eventually } from "./helpers/local_member.ts";
import type { PlanEvent, PlanSummary } from "../lib/plan/plan_types.ts";

const ignore = sshWorldUnavailable() !== undefined;
const env = {
  SKIP_STEPS: "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell",
  GH_TOKEN: "ghp_planTestToken000",
  CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-standinPlanToken",
  // Every member keeps what its hook hears.
  OHCOMMODORE_NOTIFY: 'cat >> "$HOME/notified.jsonl"',
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
    const flagshipName = () => world.lobbyVms().find((vm) => vm.name.startsWith("flagship"))!.name;
    /** The flagship scheduler's log, where its plan driver says what went wrong. */
    const flagshipLog = async () => {
      const log = join(world.vmHome(flagshipName()), ".local/ship/scheduler.log");
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

    await t.step(
      "a verification that fails goes back to the same session, and the fix is done",
      async () => {
        const path = await planFile({
          verify: "test -f .verified",
          tasks: [{ id: "fix", prompt: "fix the build" }],
        });
        const before = new Map(
          await Promise.all(ships.map(async (ship) => [ship, (await calls(ship)).length] as const)),
        );
        const { code, stderr, summary } = await runWait([path, "--ships", ships[0]]);
        assert.equal(code, 0, stderr + await flagshipLog());
        assert.deepEqual(summary!.tasks.map((task) => [task.status, task.attempts]), [["done", 2]]);
        assert.equal(summary!.costUsd, usd(2 * RUN_COST));
        const [first, second, ...more] = (await calls(ships[0])).slice(before.get(ships[0]));
        assert.deepEqual(more, []);
        assert.match(first.prompt, /^fix the build/);
        assert.match(second.prompt, /^Verification failed: `test -f \.verified` exited 1/);
        assert.ok(!first.args.includes("--resume"), "the first run starts a session");
        assert.ok(second.args.includes("--resume"), "the fix continues that session");
        const types = (await events(summary!.id)).map((event) => event.type);
        assert.deepEqual(
          types.filter((type) => type.startsWith("verify")),
          ["verifying", "verify_failed", "verifying", "verify_passed"],
        );
      },
    );

    await t.step(
      "a task out of attempts fails, what needs it is blocked and never runs; exit 1",
      async () => {
        const path = await planFile({
          verify: "false",
          maxAttempts: 1,
          tasks: [
            { id: "base", prompt: "the base [x-base]" },
            { id: "top", prompt: "on top [x-top]", needs: ["base"] },
          ],
        });
        const { code, summary } = await runWait([path]);
        assert.equal(code, 1);
        assert.equal(summary!.status, "failed");
        assert.deepEqual(summary!.tasks.map((task) => [task.id, task.status]), [
          ["base", "failed"],
          ["top", "blocked"],
        ]);
        assert.match(summary!.note!, /not done: base \(failed\), top \(blocked\)/);
        const prompts = [...await calls(ships[0]), ...await calls(ships[1])].map((c) => c.prompt);
        assert.ok(!prompts.some((prompt) => prompt.includes("[x-top]")), "top never ran");
        // The hook runs after the plan's end is told: it is waited for.
        const notified = join(world.vmHome(flagshipName()), "notified.jsonl");
        const heard = await eventually(
          async () => {
            const lines = (await Deno.readTextFile(notified).catch(() => "")).trim().split("\n");
            const ours = lines.filter(Boolean).map((line) => JSON.parse(line))
              .filter((said) => said.plan === summary!.id || said.id === summary!.id);
            return ours.length >= 2 ? ours : undefined;
          },
          15_000,
          "the notify hook",
        );
        assert.deepEqual(heard.map((said) => [said.event, said.task?.id ?? said.status]), [
          ["plan_task_failed", "base"],
          ["plan_ended", "failed"],
        ]);
        const table = await cli(["plan", "status", summary!.id]);
        assert.match(table.stdout, /^top\s+blocked\s+-\s+0\s/m);
      },
    );

    await t.step(
      "two tasks changing one file: the second conflicts, its agent resolves the rebase, both land",
      async () => {
        const path = await planFile({
          tasks: [
            { id: "left", prompt: "left side [conflict shared.txt]" },
            { id: "right", prompt: "right side [conflict shared.txt]" },
          ],
        });
        const { code, stderr, summary } = await runWait([
          path,
          "--integrate",
          "merged",
          "--pr",
          "one",
        ]);
        assert.equal(code, 0, stderr + await flagshipLog());
        assert.deepEqual(summary!.tasks.map((task) => task.status), ["done", "done"]);
        const history = await events(summary!.id);
        const conflict = history.find((event) => event.type === "conflict");
        assert.ok(conflict, "one of them conflicted");
        assert.match(conflict.text, /shared\.txt/);
        const resolved = (await calls(conflict.ship!)).at(-1)!;
        assert.match(resolved.prompt, /rebase onto origin\/merged is in progress/);
        assert.match(summary!.pr ?? "", /\/pull\/\d+$/, "one pull request for the plan");
        const merged = await inOrigin("refs/heads/merged");
        for (const task of summary!.tasks) {
          const branch = await inOrigin(`refs/heads/${task.branch}`);
          assert.ok(await isAncestor(branch!, merged!), `${task.id} is on merged`);
        }
      },
    );

    await t.step(
      "the budget stops new work: running tasks finish, the rest is not started",
      async () => {
        const path = await planFile({
          budgetUsd: 0.01,
          tasks: [
            { id: "one", prompt: "one [slow]" },
            { id: "two", prompt: "two [slow]" },
            { id: "three", prompt: "three [x-three]" },
          ],
        });
        const { code, summary } = await runWait([path]);
        assert.equal(code, 1);
        assert.equal(summary!.status, "budget_exhausted");
        assert.deepEqual(summary!.tasks.map((task) => [task.id, task.status]), [
          ["one", "done"],
          ["two", "done"],
          ["three", "cancelled"],
        ]);
        assert.equal(summary!.costUsd, usd(2 * RUN_COST));
        assert.match(summary!.note!, /not done: three; the budget of \$0\.01 is used up/);
        const prompts = [...await calls(ships[0]), ...await calls(ships[1])].map((c) => c.prompt);
        assert.ok(!prompts.some((prompt) => prompt.includes("[x-three]")));
      },
    );

    await t.step("cancel stops the running task on its ship and starts nothing more", async () => {
      const path = await planFile({
        tasks: [
          { id: "long", prompt: "a long one [stall 60]" },
          { id: "after", prompt: "after [x-after]", needs: ["long"] },
        ],
      });
      const started = await cli(["plan", "run", path, "--ships", ships[0], "--json"]);
      assert.equal(started.code, 0, started.stderr);
      const { id } = JSON.parse(started.stdout);
      await eventually(async () => {
        const status = JSON.parse((await cli(["plan", "status", id, "--json"])).stdout);
        return status.tasks[0].status === "running" ? true : undefined;
      });
      const status = await cli(["fleet", "status", "--json"]);
      assert.equal(status.code, 0, status.stderr);
      const working = JSON.parse(status.stdout).ships.find((ship: { name: string }) =>
        ship.name === ships[0]
      );
      assert.deepEqual(working.plan, { id, task: "long" }, "fleet status names the plan");
      const table = await cli(["fleet", "status"]);
      assert.match(table.stdout, new RegExp(`\\(plan ${id}/long\\)`));
      const cancelled = await cli(["plan", "cancel", id, "--json"]);
      assert.equal(cancelled.code, 0, cancelled.stderr);
      const summary = JSON.parse(cancelled.stdout) as PlanSummary;
      assert.equal(summary.status, "cancelled");
      assert.deepEqual(summary.tasks.map((task) => task.status), ["cancelled", "cancelled"]);
      const listed = await eventually(async () => {
        const tasks = JSON.parse((await cli(["agent", "list", "--json"])).stdout);
        const stopped = tasks.find((task: { prompt: string; status: string }) =>
          task.prompt.startsWith("a long one") && task.status === "cancelled"
        );
        return stopped;
      });
      assert.equal(listed.ship, ships[0]);
      const followed = await cli(["plan", "follow", id]);
      assert.equal(followed.code, 1);
      assert.match(followed.stderr, /cancelled/);
    });

    await t.step(
      "kill -9 of the flagship's scheduler mid-plan: the plan goes on, nothing runs twice",
      async () => {
        const path = await planFile({
          tasks: [
            { id: "k1", prompt: "k1 [stall 3] [x-k1]" },
            { id: "k2", prompt: "k2 [stall 3] [x-k2]" },
            { id: "k3", prompt: "k3 [x-k3]", needs: ["k1"] },
          ],
        });
        const started = await cli(["plan", "run", path, "--json"]);
        assert.equal(started.code, 0, started.stderr);
        const { id } = JSON.parse(started.stdout);
        await eventually(
          async () => {
            const status = JSON.parse((await cli(["plan", "status", id, "--json"])).stdout);
            const running = status.tasks.filter((task: { status: string }) =>
              task.status === "running"
            );
            return running.length === 2 ? true : undefined;
          },
          30_000,
          "both ships at work",
        );
        const flagship = flagshipName();
        const pidFile = join(world.vmHome(flagship), ".local/ship/data.duckdb.scheduler.lock.pid");
        Deno.kill(Number((await Deno.readTextFile(pidFile)).trim()), "SIGKILL");
        const restarted = await world.execAs(world.vmUser(flagship), [
          join(world.vmHome(flagship), ".local/bin/ohcommodore"),
          "scheduler",
          "start",
        ]);
        assert.equal(restarted.code, 0, restarted.stderr);
        const followed = await cli(["plan", "follow", id, "--json"]);
        assert.equal(followed.code, 0, followed.stderr + await flagshipLog());
        const history = followed.stdout.trim().split("\n").map((line) => JSON.parse(line));
        assert.ok(history.every((event, i) => event.seq === i + 1), "no event is missing");
        const dispatched = history.filter((event) => event.type === "dispatched");
        assert.deepEqual(dispatched.map((event) => event.task).sort(), ["k1", "k2", "k3"]);
        const prompts = [...await calls(ships[0]), ...await calls(ships[1])].map((c) => c.prompt);
        for (const mark of ["[x-k1]", "[x-k2]", "[x-k3]"]) {
          assert.equal(prompts.filter((prompt) => prompt.includes(mark)).length, 1, mark);
        }
        const summary = JSON.parse((await cli(["plan", "status", id, "--json"])).stdout);
        assert.equal(summary.status, "done");
      },
    );

    await t.step(
      "--from-issues: a task per open issue, each pull request says which issue it fixes",
      async () => {
        const bin = await Deno.makeTempDir({ dir, prefix: "bin-" });
        await Deno.chmod(bin, 0o755);
        const issues = [
          { number: 12, title: "Add a parser", body: "The config needs one [x-issue12]" },
          { number: 13, title: "Write the docs", body: "" },
        ];
        await Deno.writeTextFile(
          join(bin, "gh"),
          `#!/bin/sh\necho "$@" >> ${join(bin, "calls.log")}\n` +
            `printf '%s' '${JSON.stringify(issues)}'\n`,
          { mode: 0o755 },
        );
        await Deno.writeTextFile(join(bin, "calls.log"), "", { mode: 0o666 });
        const result = await world.cli(
          [
            "plan",
            "run",
            "--from-issues",
            "acme/web",
            "--label",
            "ready",
            "--pr",
            "each",
            "--wait",
            "--json",
          ],
          { env: { ...env, PATH: `${bin}:/usr/local/bin:/usr/bin:/bin` } },
        );
        assert.equal(result.code, 0, result.stderr + await flagshipLog());
        assert.match(await Deno.readTextFile(join(bin, "calls.log")), /--repo=?\s?acme\/web/);
        const summary = JSON.parse(result.stdout) as PlanSummary;
        assert.deepEqual(summary.tasks.map((task) => [task.id, task.status]), [
          ["issue-12", "done"],
          ["issue-13", "done"],
        ]);
        for (const task of summary.tasks) assert.match(task.pr ?? "", /\/pull\/\d+$/);
        const logs = await Promise.all(
          ships.map((ship) =>
            Deno.readTextFile(join(world.vmHome(ship), ".gh-standin/calls.log")).catch(() => "")
          ),
        );
        assert.match(logs.join("\n"), /Fixes #12/);
        assert.match(logs.join("\n"), /Fixes #13/);
      },
    );

    await t.step(
      "a bad plan file exits 2 naming the file and the key; nothing starts",
      async () => {
        const before = JSON.parse((await cli(["plan", "list", "--json"])).stdout).length;
        const typo = await planFile({ tasks: [{ id: "a", prompt: "x", neds: ["b"] }] });
        const cycle = await planFile({
          tasks: [
            { id: "a", prompt: "x", needs: ["b"] },
            { id: "b", prompt: "y", needs: ["a"] },
          ],
        });
        const yaml = join(dir, "broken.yaml");
        await Deno.writeTextFile(yaml, "tasks:\n  - id: a\n    prompt: [unclosed\n", {
          mode: 0o644,
        });
        for (
          const [path, said] of [
            [typo, /tasks\[0\].*"neds".*did you mean "needs"/],
            [cycle, /a → b → a/],
            [yaml, /line \d+/],
          ] as const
        ) {
          const result = await cli(["plan", "run", path]);
          assert.equal(result.code, 2, result.stderr);
          assert.ok(result.stderr.includes(path), result.stderr);
          assert.match(result.stderr, said);
        }
        const nobody = await cli(["plan", "run", typo.replace(/\.json$/, ".missing.json")]);
        assert.equal(nobody.code, 2);
        const after = JSON.parse((await cli(["plan", "list", "--json"])).stdout).length;
        assert.equal(after, before, "no plan was started");
        // Where forwards are refused, the flagship's own program answers a plan call over exec.
        const flagship = flagshipName();
        const planCall = (call: unknown) =>
          world.execAs(world.vmUser(flagship), [
            join(world.vmHome(flagship), ".local/bin/ohcommodore"),
            "plan",
            "_call",
          ], { stdin: JSON.stringify({ call }) });
        const listed = await planCall({ method: "list" });
        assert.equal(listed.code, 0, listed.stderr);
        assert.equal(JSON.parse(listed.stdout.trim().split("\n").at(-1)!).result.length, after);
        const unknown = await planCall({ method: "drop" });
        assert.equal(unknown.code, 2);
        assert.match(JSON.parse(unknown.stdout).error.message, /Unknown plan call "drop"/);
      },
    );

    await t.step("a destroyed ship's task goes to another ship and is done there", async () => {
      const path = await planFile({ tasks: [{ id: "moved", prompt: "moved [stall 6]" }] });
      const started = await cli(["plan", "run", path, "--json"]);
      assert.equal(started.code, 0, started.stderr);
      const { id } = JSON.parse(started.stdout);
      const first = await eventually(
        async () => {
          const status = JSON.parse((await cli(["plan", "status", id, "--json"])).stdout);
          return status.tasks[0].status === "running" ? status.tasks[0].ship as string : undefined;
        },
        30_000,
        "the task to start",
      );
      const destroyed = await cli(["ship", "destroy", first, "--force"]);
      assert.equal(destroyed.code, 0, destroyed.stderr);
      const followed = await cli(["plan", "follow", id, "--json"]);
      assert.equal(followed.code, 0, followed.stderr + await flagshipLog());
      const history = followed.stdout.trim().split("\n").map((line) => JSON.parse(line));
      const reassigned = history.find((event) => event.type === "reassigned");
      assert.ok(reassigned, "the task was reassigned");
      assert.equal(reassigned.ship, first);
      const summary = JSON.parse((await cli(["plan", "status", id, "--json"])).stdout);
      assert.equal(summary.tasks[0].status, "done");
      assert.notEqual(summary.tasks[0].ship, first);
      assert.equal(summary.tasks[0].attempts, 1, "a lost attempt is not counted");
    });
  },
});
