/**
 * Issue 19's flows one after another on one fleet, end to end: the real CLI on the laptop, a
 * flagship and two keyless ships of one repository behind the fixture lobby over real SSH, the
 * stand-in `claude` (tests/helpers/claude_standin.ts) and `gh` on their PATH, and a bare
 * repository as `origin` that both ships push to. Two runs on one branch; a cancel followed by a
 * resume; a run limited and retried; a destroyed ship's costs. Each outcome, branch and cost is
 * checked against origin (git on the bare repository) and the ships (their checkouts and the
 * stand-in's record of its calls). Each step makes the state it needs from the fixture alone, so
 * one failing step fails alone.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { agentFleet } from "./helpers/agent_standins.ts";
import { FleetWorld } from "./helpers/fleet_world.ts";
import { eventually } from "./helpers/local_member.ts";
import { run, type RunResult, sshWorldUnavailable } from "./helpers/sshd_world.ts";
import type { TaskOutcome } from "../lib/agent/task.ts";

const ignore = sshWorldUnavailable() !== undefined;
const env = {
  SKIP_STEPS: "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell",
  GH_TOKEN: "ghp_agentFlowsToken000",
  CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-standinFlowsToken",
};
// What the stand-in claude reports: a run that ends well, and one that hits a usage limit.
const RUN_COST = 0.0125;
const LIMIT_COST = 0.001;

/** `fleet costs --json`, as the README gives it. */
interface Costs {
  ships: { name: string; tasks: number; costUsd: number; destroyed: boolean }[];
  totalUsd: number;
  unreachable: { ship: string; error: string }[];
}

/** One call of the stand-in claude, as it records it on its ship. */
interface Call {
  args: string[];
  cwd: string;
  prompt: string;
}

/** Dollars as the fleet adds them up (to the millionth), so sums compare exactly. */
function usd(amounts: readonly (number | null | undefined)[]): number {
  return Math.round(amounts.reduce<number>((sum, amount) => sum + (amount ?? 0), 0) * 1e6) / 1e6;
}

Deno.test({
  name: "issue 19's flows on two ships: one branch twice, cancel then resume, a limited run " +
    "retried, a destroyed ship's costs; each outcome, branch and cost as origin and ships have it",
  ignore,
  sanitizeResources: false,
  async fn(t) {
    await using world = await FleetWorld.start();
    // Both ships push to origin, and each may add to what the other pushed.
    const { cli, origin, ships: [a, b] } = await agentFleet(world, env);
    const main = (await run(["git", "--git-dir", origin, "rev-parse", "main"])).stdout.trim();

    // Every task the flows start, with its cost once an outcome has shown it.
    const seen = new Map<string, number | null | undefined>();
    const note = (outcomes: TaskOutcome[]) => {
      for (const outcome of outcomes) seen.set(outcome.id, outcome.costUsd);
      return outcomes;
    };
    const outcomesOf = (result: RunResult): TaskOutcome[] =>
      note(result.stdout ? JSON.parse(result.stdout) : []);
    const runWait = async (args: string[]) => {
      const result = await cli(["agent", "run", "--wait", "--json", ...args]);
      return { ...result, outcomes: outcomesOf(result) };
    };
    const show = async (id: string): Promise<TaskOutcome> => {
      const shown = await cli(["agent", "show", id, "--json"]);
      assert.equal(shown.code, 0, shown.stderr);
      return note([JSON.parse(shown.stdout)])[0];
    };
    const costs = async (): Promise<Costs> => {
      const result = await cli(["fleet", "costs", "--json"]);
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout);
    };

    /** Git on origin, the bare repository: a branch's commit, or null when origin lacks it. */
    const inOrigin = async (ref: string): Promise<string | null> => {
      const found = await run(
        ["git", "--git-dir", origin, "rev-parse", "--verify", "--quiet", `${ref}^{commit}`],
        true,
      );
      return found.code === 0 ? found.stdout.trim() : null;
    };
    const originBranches = async () =>
      (await run(["git", "--git-dir", origin, "branch", "--format=%(refname:short)"])).stdout
        .trim().split("\n").sort();
    /** A commit's files and their text in origin. */
    const filesInOrigin = async (sha: string): Promise<Map<string, string>> => {
      const names = (await run([
        "git",
        "--git-dir",
        origin,
        "diff-tree",
        "--no-commit-id",
        "--name-only",
        "-r",
        sha,
      ])).stdout.trim().split("\n").filter(Boolean);
      const files = new Map<string, string>();
      for (const name of names) {
        files.set(name, (await run(["git", "--git-dir", origin, "show", `${sha}:${name}`])).stdout);
      }
      return files;
    };

    const checkout = (ship: string) => join(world.vmHome(ship), "web");
    /** Git in a ship's checkout (read only, as root: any directory is safe to read). */
    const shipGit = async (ship: string, ...args: string[]) =>
      (await run(["git", "-c", "safe.directory=*", "-C", checkout(ship), ...args])).stdout.trim();
    /** Each call of the stand-in claude on the ship, oldest first. */
    const calls = async (ship: string): Promise<Call[]> =>
      (await Deno.readTextFile(join(world.vmHome(ship), ".claude-standin/calls.jsonl"))
        .catch(() => "")).split("\n").filter(Boolean).map((line) => JSON.parse(line));
    const resumed = (call: Call) =>
      call.args.includes("--resume") ? call.args[call.args.indexOf("--resume") + 1] : undefined;

    /**
     * A done outcome with one commit on `branch`, of the prompt the stand-in was given: that
     * commit is origin's branch, on `parent`, holds one file with the prompt, and is the ship's
     * branch, checked out, with the file in its checkout.
     */
    const deliveredOn = async (
      outcome: TaskOutcome,
      branch: string,
      parent: string,
      prompt: string,
    ) => {
      assert.equal(outcome.status, "done", outcome.error);
      assert.equal(outcome.branch, branch);
      assert.equal(outcome.commits.length, 1, JSON.stringify(outcome.commits));
      const [{ sha, subject }] = outcome.commits;
      assert.equal(subject, `Stand-in: ${prompt}`);
      assert.equal(await inOrigin(`refs/heads/${branch}`), sha, `origin's ${branch}`);
      assert.equal(await inOrigin(`${sha}^`), parent, `the commit on ${branch} follows ${parent}`);
      const files = [...await filesInOrigin(sha)];
      assert.equal(files.length, 1);
      const [[file, text]] = files;
      assert.match(file, /^standin-\d+-[0-9a-f]{8}\.txt$/);
      assert.equal(text, prompt);
      assert.equal(await shipGit(outcome.ship, "rev-parse", `refs/heads/${branch}`), sha);
      assert.equal(await shipGit(outcome.ship, "symbolic-ref", "--short", "HEAD"), branch);
      assert.equal(await Deno.readTextFile(join(checkout(outcome.ship), file)), prompt);
      return sha;
    };

    await t.step(
      "two runs on one branch: both ships push their own, then one carries the other's on",
      async () => {
        const both = await runWait([
          "--ships",
          `${a},${b}`,
          "--branch",
          "flow",
          "--push",
          "--",
          "one",
        ]);
        assert.equal(both.code, 0, both.outcomes.map((outcome) => outcome.error).join("\n"));
        assert.deepEqual(both.outcomes.map((outcome) => outcome.ship).sort(), [a, b]);
        const pushed = new Map<string, string>();
        for (const outcome of both.outcomes) {
          assert.equal(outcome.costUsd, RUN_COST);
          assert.equal(outcome.attempts, 1);
          pushed.set(
            outcome.ship,
            await deliveredOn(outcome, `flow-${outcome.ship}`, main, "one"),
          );
        }
        assert.notEqual(pushed.get(a), pushed.get(b));
        assert.deepEqual(
          (await originBranches()).filter((name) => name.startsWith("flow")),
          [`flow-${a}`, `flow-${b}`],
          "each ship's own, and not the branch as given",
        );

        // b has never had a's branch: it carries it on from origin's, and pushes it on.
        const again = await runWait(["--ships", b, "--branch", `flow-${a}`, "--push", "--", "two"]);
        assert.equal(again.code, 0, again.outcomes[0]?.error ?? again.stderr);
        const [outcome] = again.outcomes;
        assert.equal(outcome.ship, b);
        assert.equal(outcome.costUsd, RUN_COST);
        const carried = await deliveredOn(outcome, `flow-${a}`, pushed.get(a)!, "two");
        assert.equal(await inOrigin(`refs/heads/flow-${b}`), pushed.get(b), "b's own is as it was");
        // a's work is in b's checkout too, under b's commit.
        assert.equal(
          await shipGit(b, "rev-list", `${main}..HEAD`),
          [carried, pushed.get(a)].join("\n"),
        );
        assert.equal(await shipGit(b, "status", "--porcelain"), "", "nothing left uncommitted");
      },
    );

    await t.step(
      "a cancel followed by a resume: each ship's session and own branch are kept; resume " +
        "continues one on its branch and pushes it",
      async () => {
        // Both ships, one branch to push: each works on its own, and each is cancelled.
        const started = await cli([
          "agent",
          "run",
          "--ships",
          `${a},${b}`,
          "--branch",
          "paused",
          "--push",
          "--json",
          "--",
          "[stall 60] paused",
        ]);
        assert.equal(started.code, 0, started.stderr);
        const ids = new Map(
          (JSON.parse(started.stdout) as { id: string; ship: string }[])
            .map(({ id, ship }) => [ship, id]),
        );
        assert.deepEqual([...ids.keys()].sort(), [a, b]);
        for (const id of ids.values()) seen.set(id, undefined);
        try {
          const sessions = new Map<string, string>();
          for (const [ship, id] of ids) {
            const taskFile = join(world.vmHome(ship), ".ohcommodore/tasks", `${id}.json`);
            sessions.set(
              ship,
              await eventually(
                async () =>
                  (JSON.parse(await Deno.readTextFile(taskFile).catch(() => "{}"))
                    .sessionId as string) ?? undefined,
                30_000,
                `the Claude Code session of ${ship}'s task`,
              ),
            );
          }
          assert.notEqual(sessions.get(a), sessions.get(b));
          for (const [ship, id] of ids) {
            const cancelled = await cli(["agent", "cancel", id, "--json"]);
            assert.equal(cancelled.code, 0, cancelled.stderr);
            assert.equal(JSON.parse(cancelled.stdout).ship, ship);
          }
          for (const [ship, id] of ids) {
            const stopped = await show(id);
            assert.equal(stopped.status, "cancelled");
            assert.equal(stopped.sessionId, sessions.get(ship), "the session its task file holds");
            assert.equal(stopped.branch, `paused-${ship}`);
            assert.deepEqual(stopped.commits, []);
            assert.equal(stopped.costUsd, null, "Claude Code never reported a cost");
            assert.equal(await shipGit(ship, "symbolic-ref", "--short", "HEAD"), `paused-${ship}`);
          }
          assert.deepEqual(
            (await originBranches()).filter((name) => name.startsWith("paused")),
            [],
            "nothing pushed when cancelled",
          );
          const id = ids.get(a)!;
          const session = sessions.get(a);

          const before = (await calls(a)).length;
          const resume = await cli([
            "agent",
            "resume",
            a,
            "--push",
            "--wait",
            "--json",
            "--",
            "on",
          ]);
          assert.equal(resume.code, 0, resume.stdout + resume.stderr);
          const [outcome] = outcomesOf(resume);
          assert.notEqual(outcome.id, id, "a task of its own");
          assert.equal(outcome.sessionId, session);
          assert.equal(outcome.costUsd, RUN_COST);
          await deliveredOn(outcome, `paused-${a}`, main, "on");
          assert.equal(await inOrigin(`refs/heads/paused-${b}`), null, "b's was not resumed");
          const after = (await calls(a)).slice(before);
          assert.equal(after.length, 1);
          assert.equal(resumed(after[0]), session, "Claude Code was given the cancelled session");
          assert.equal(after[0].cwd, checkout(a));
        } catch (error) {
          // No stalled task is left to hold a checkout for the steps after this one.
          for (const id of ids.values()) await cli(["agent", "cancel", id]);
          throw error;
        }
      },
    );

    await t.step(
      "a run limited and retried: done after 2 attempts, costing both, each ship's branch pushed",
      async () => {
        // Both ships, one branch to push: each is limited, resumes by itself and pushes its own.
        const before = new Map([[a, (await calls(a)).length], [b, (await calls(b)).length]]);
        const retried = await runWait([
          "--ships",
          `${a},${b}`,
          "--branch",
          "limited",
          "--push",
          "--retry-on-limit",
          "--",
          "[limit] heavy",
        ]);
        assert.equal(retried.code, 0, retried.outcomes.map((outcome) => outcome.error).join("\n"));
        assert.deepEqual(retried.outcomes.map((outcome) => outcome.ship).sort(), [a, b]);
        for (const outcome of retried.outcomes) {
          assert.equal(outcome.attempts, 2);
          assert.equal(outcome.costUsd, usd([LIMIT_COST, RUN_COST]), "both attempts' cost");
          assert.equal(outcome.resetAt ?? null, null, "the limit is behind it");
          // The stand-in ran twice: limited, then resumed in the same session after the reset,
          // and only that second run made the commit.
          const [first, second, ...more] = (await calls(outcome.ship))
            .slice(before.get(outcome.ship));
          assert.deepEqual(more, []);
          assert.equal(first.prompt, "[limit] heavy");
          assert.equal(resumed(first), undefined);
          assert.ok(second, "Claude Code ran a second time");
          assert.equal(resumed(second), outcome.sessionId);
          assert.equal(second.prompt, "Continue where you left off.");
          await deliveredOn(outcome, `limited-${outcome.ship}`, main, second.prompt);
          const shown = await cli(["agent", "show", outcome.id]);
          assert.match(shown.stdout, /done\s+\$0\.0135 \(2 attempts\)/);
        }
      },
    );

    await t.step(
      "a destroyed ship's costs: fleet costs still counts its tasks, and the total is every " +
        "outcome's cost",
      async () => {
        // A task of its own on the ship that goes, so it has a cost to keep whatever ran before.
        const last = await runWait(["--ships", b, "--branch", "last", "--push", "--", "last"]);
        assert.equal(last.code, 0, last.outcomes[0]?.error ?? last.stderr);
        assert.equal(last.outcomes[0].costUsd, RUN_COST);
        await deliveredOn(last.outcomes[0], "last", main, "last");

        const listed = await cli(["agent", "list", "--json"]);
        assert.equal(listed.code, 0, listed.stderr);
        const tasks = JSON.parse(listed.stdout) as TaskOutcome[];
        assert.deepEqual(
          tasks.filter((task) => ["running", "queued", "waiting"].includes(task.status)),
          [],
          "every task has ended, so each has the cost it will keep",
        );
        // The ships know the tasks the flows started, at the costs their outcomes said.
        assert.deepEqual(
          tasks.map((task) => task.id).sort(),
          [...seen.keys()].sort(),
          "every task on the ships is one the flows started",
        );
        for (const task of tasks) {
          const cost = seen.get(task.id);
          if (cost !== undefined) assert.equal(task.costUsd, cost, `task ${task.id}'s cost`);
        }
        const ofB = tasks.filter((task) => task.ship === b);
        const ofA = tasks.filter((task) => task.ship === a);
        const before = await costs();

        const gone = await cli(["ship", "destroy", b, "--force", "--json"]);
        assert.equal(gone.code, 0, gone.stderr);
        const record = JSON.parse(gone.stdout);
        assert.equal(record.name, b);
        assert.equal(record.tasksKept, ofB.length);
        assert.equal(record.tasksNotKept, undefined);
        assert.ok(!world.lobbyVms().some((vm) => vm.name === b), "the VM is gone");

        const after = await costs();
        assert.deepEqual(after.unreachable, []);
        assert.deepEqual(
          after.ships.map((ship) => [ship.name, ship.tasks, ship.costUsd, ship.destroyed]).sort(),
          [
            [a, ofA.length, usd(ofA.map((task) => task.costUsd)), false],
            [b, ofB.length, usd(ofB.map((task) => task.costUsd)), true],
          ],
        );
        assert.equal(after.totalUsd, before.totalUsd, "nothing went with the ship");
        assert.equal(after.totalUsd, usd([...seen.values()]), "the sum of every outcome's cost");
        const table = await cli(["fleet", "costs"]);
        assert.match(
          table.stdout,
          new RegExp(`^${b} \\(destroyed\\)\\s+${ofB.length}\\s+\\$`, "m"),
        );
        assert.match(
          table.stdout,
          new RegExp(`^total\\s+${tasks.length}\\s+\\$${after.totalUsd.toFixed(4)}$`, "m"),
        );
      },
    );
  },
});
