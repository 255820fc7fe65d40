/**
 * Agent tasks and git, end to end (issue 19 §1, §2, §5): the real CLI on the laptop, keyless
 * ships behind the fixture lobby over real SSH, the stand-in `claude` and `gh` on their PATH, and
 * a bare repository as `origin` that every ship pushes to. A branch another ship pushed is carried
 * on; what a push or a pull request needs is checked before Claude Code starts; a pull request
 * that fails after a good run leaves the task done; git's errors reach the outcome whole.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { agentFleet } from "./helpers/agent_standins.ts";
import { FleetWorld } from "./helpers/fleet_world.ts";
import { eventually } from "./helpers/local_member.ts";
import { run, sshWorldUnavailable } from "./helpers/sshd_world.ts";
import type { TaskOutcome } from "../lib/agent/task.ts";

const ignore = sshWorldUnavailable() !== undefined;
const env = {
  SKIP_STEPS: "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell",
  GH_TOKEN: "ghp_agentGitTestToken000",
  CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-standinGitToken456",
};
const NOT_STARTED = /Claude Code was not started$/;

/** A world with ships of one repository, and what the tests do with them. */
async function shipsOfOneRepository(world: FleetWorld, count: number) {
  // Every ship pushes to origin: what one ship's push makes, the next may add to.
  const { cli, origin, ships } = await agentFleet(world, env, count);
  const checkout = (ship: string) => join(world.vmHome(ship), "web");
  const claudeRuns = async (ship: string) =>
    (await Deno.readTextFile(join(world.vmHome(ship), ".claude-standin/calls.jsonl"))
      .catch(() => "")).split("\n").filter(Boolean).length;
  const runJson = async (args: string[]) => {
    const result = await cli(["agent", "run", "--wait", "--json", ...args]);
    const outcomes = result.stdout ? JSON.parse(result.stdout) as TaskOutcome[] : [];
    return { ...result, outcomes };
  };
  return {
    origin,
    ships,
    cli,
    checkout,
    /** How many times Claude Code (the stand-in) was started on the ship. */
    claudeRuns,
    /** `agent run --wait --json …`: its exit code, stderr and outcomes. */
    runJson,
    /** Runs a task that must be refused before Claude Code starts, for these reasons. */
    refusedBeforeRun: async (ship: string, args: string[], expected: RegExp[]) => {
      const runs = await claudeRuns(ship);
      const result = await runJson(["--ships", ship, ...args]);
      assert.equal(result.code, 1, result.stderr);
      const [outcome] = result.outcomes;
      assert.equal(outcome.status, "error");
      for (const pattern of expected) assert.match(outcome.error ?? "", pattern);
      assert.match(outcome.error ?? "", NOT_STARTED);
      assert.equal(await claudeRuns(ship), runs, "Claude Code was not run");
      assert.equal(outcome.costUsd, null);
      return outcome;
    },
    /** A branch's commit in origin, or null when origin lacks it. */
    inOrigin: async (branch: string) => {
      const found = await run(
        ["git", "--git-dir", origin, "rev-parse", "--verify", "--quiet", `refs/heads/${branch}`],
        true,
      );
      return found.code === 0 ? found.stdout.trim() : null;
    },
    /** Git in a ship's checkout, as the ship's user. */
    shipGit: async (ship: string, ...args: string[]) => {
      const result = await world.execAs(world.vmUser(ship), [
        "git",
        "-c",
        "user.name=Ship",
        "-c",
        "user.email=ship@example.test",
        "-C",
        checkout(ship),
        ...args,
      ]);
      assert.equal(result.code, 0, `git ${args.join(" ")}: ${result.stderr}`);
      return result.stdout.trim();
    },
    /** Gives origin's branch a commit of its own (with a file), as someone else's push would. */
    pushToOrigin: async (branch: string, file: string) => {
      const work = await Deno.makeTempDir({ dir: world.dir, prefix: ".push-" });
      const git = ["git", "-c", "user.name=Other", "-c", "user.email=other@example.test"];
      try {
        await run([...git, "clone", "-q", origin, work]);
        const has = await run(
          [...git, "-C", work, "rev-parse", "--verify", `origin/${branch}`],
          true,
        );
        if (has.code === 0) await run([...git, "-C", work, "switch", "-q", branch]);
        await Deno.writeTextFile(join(work, file), "someone else's\n");
        await run([...git, "-C", work, "add", file]);
        await run([...git, "-C", work, "commit", "-q", "-m", `Other: ${file}`]);
        await run([...git, "-C", work, "push", "-q", "origin", `HEAD:refs/heads/${branch}`]);
      } finally {
        await Deno.remove(work, { recursive: true });
      }
      await run(["chmod", "-R", "a+rwX", origin]);
    },
  };
}

Deno.test({
  name: "a branch already on origin is carried on from origin's, never remade and rejected",
  ignore,
  sanitizeResources: false,
  async fn(t) {
    await using world = await FleetWorld.start();
    const fleet = await shipsOfOneRepository(world, 2);
    const { ships: [a, b], runJson, inOrigin, claudeRuns } = fleet;
    const ancestor = async (older: string, newer: string) =>
      (await run(
        ["git", "--git-dir", fleet.origin, "merge-base", "--is-ancestor", older, newer],
        true,
      ))
        .code === 0;

    await t.step("a ship that lacks the branch builds on what another ship pushed", async () => {
      const first = await runJson(["--ships", a, "--branch", "shared", "--push", "--", "one"]);
      assert.equal(first.code, 0, first.stderr);
      const pushedByA = await inOrigin("shared");
      assert.equal(pushedByA, first.outcomes[0].commits[0].sha);
      const second = await runJson(["--ships", b, "--branch", "shared", "--push", "--", "two"]);
      assert.equal(second.code, 0, second.outcomes[0]?.error ?? second.stderr);
      const [outcome] = second.outcomes;
      assert.equal(outcome.status, "done");
      assert.equal(outcome.commits.length, 1, "only its own commit");
      assert.equal(await inOrigin("shared"), outcome.commits[0].sha);
      assert.ok(await ancestor(pushedByA!, "shared"), "a's commit is kept under b's");
    });

    await t.step("a ship whose branch is behind origin's is brought up to it first", async () => {
      const before = await inOrigin("shared");
      const again = await runJson(["--ships", a, "--branch", "shared", "--push", "--", "three"]);
      assert.equal(again.code, 0, again.outcomes[0]?.error ?? again.stderr);
      assert.equal(again.outcomes[0].commits.length, 1);
      assert.equal(await inOrigin("shared"), again.outcomes[0].commits[0].sha);
      assert.ok(await ancestor(before!, "shared"));
    });

    await t.step(
      "a branch that diverged from origin's is refused before Claude starts",
      async () => {
        // a commits on its own copy, and b pushes meanwhile: neither contains the other.
        await fleet.shipGit(a, "commit", "-q", "--allow-empty", "-m", "a's own");
        const moved = await runJson(["--ships", b, "--branch", "shared", "--push", "--", "four"]);
        assert.equal(moved.code, 0, moved.outcomes[0]?.error ?? moved.stderr);
        const inOriginBefore = await inOrigin("shared");
        const runs = await claudeRuns(a);
        const refused = await runJson(["--ships", a, "--branch", "shared", "--push", "--", "five"]);
        assert.equal(refused.code, 1);
        const [outcome] = refused.outcomes;
        assert.equal(outcome.status, "error");
        assert.match(
          outcome.error ?? "",
          new RegExp(
            `^Branch "shared" on ${a} and on origin have diverged \\(1 commit\\(s\\) here that ` +
              `origin lacks, 1 there that the ship lacks\\), so its push would be rejected`,
          ),
        );
        assert.match(outcome.error ?? "", NOT_STARTED);
        assert.equal(await claudeRuns(a), runs, "Claude Code was not run");
        assert.equal(outcome.costUsd, null);
        assert.equal(await inOrigin("shared"), inOriginBefore);
        assert.equal(await fleet.shipGit(a, "log", "-1", "--format=%s", "shared"), "a's own");
        // Without a push, the ship's own commits are worked on.
        const local = await runJson(["--ships", a, "--branch", "shared", "--", "six"]);
        assert.equal(local.code, 0, local.outcomes[0]?.error ?? local.stderr);
      },
    );

    await t.step(
      "ships of one repository given one branch to push each push their own",
      async () => {
        const both = await runJson([
          "--ships",
          `${a},${b}`,
          "--branch",
          "each",
          "--push",
          "--",
          "go",
        ]);
        assert.equal(both.code, 0, both.outcomes.map((outcome) => outcome.error).join("\n"));
        const byShip = new Map(both.outcomes.map((outcome) => [outcome.ship, outcome]));
        for (const ship of [a, b]) {
          const outcome = byShip.get(ship)!;
          assert.equal(outcome.status, "done");
          assert.equal(outcome.branch, `each-${ship}`);
          assert.equal(await inOrigin(`each-${ship}`), outcome.commits[0].sha);
        }
        assert.equal(await inOrigin("each"), null);
        // Without a push there is nothing to clash: the branch is the one given.
        const local = await runJson(["--ships", `${a},${b}`, "--branch", "mine", "--", "go"]);
        assert.deepEqual(local.outcomes.map((outcome) => outcome.branch), ["mine", "mine"]);
      },
    );

    await t.step(
      "a branch another ship's unfinished task works on is refused at dispatch until it ends",
      async () => {
        const tasksOf = async (ship: string) => {
          const listed = await fleet.cli(["agent", "list", "--json"]);
          assert.equal(listed.code, 0, listed.stderr);
          return (JSON.parse(listed.stdout) as TaskOutcome[]).filter((task) => task.ship === ship);
        };
        const push = ["--branch", "held", "--push", "--"];
        const started = await fleet.cli(
          ["agent", "run", "--json", "--ships", a, ...push, "[sleep 3] hold the branch"],
        );
        assert.equal(started.code, 0, started.stderr);
        const [{ id }] = JSON.parse(started.stdout) as { id: string }[];
        const queuedOnB = (await tasksOf(b)).length;
        // A second command, apart from the first: one `agent run` would give each its own.
        const refused = await fleet.cli(["agent", "run", "--ships", b, ...push, "meanwhile"]);
        assert.equal(refused.code, 2, refused.stderr);
        assert.match(
          refused.stderr,
          new RegExp(
            `Branch "held" is in use: ${a}, of the same repository, has task "${id}" on it ` +
              `\\((queued|waiting|running)\\)`,
          ),
        );
        assert.match(
          refused.stderr,
          new RegExp(`agent follow ${id}.*agent cancel ${id}.*choose another --branch`),
        );
        assert.equal((await tasksOf(b)).length, queuedOnB, "nothing was queued on b");
        const first = await fleet.cli(["agent", "follow", id]);
        assert.equal(first.code, 0, first.stderr);
        const after = await runJson(["--ships", b, ...push, "after it"]);
        assert.equal(after.code, 0, after.outcomes[0]?.error ?? after.stderr);
        assert.equal(after.outcomes[0].branch, "held");
        assert.equal(await inOrigin("held"), after.outcomes[0].commits[0].sha);
      },
    );
  },
});

Deno.test({
  name: "what --push and --pr need is checked before Claude starts; a failed PR leaves it done",
  ignore,
  sanitizeResources: false,
  async fn(t) {
    await using world = await FleetWorld.start();
    const fleet = await shipsOfOneRepository(world, 1);
    const { ships: [a], runJson, inOrigin, cli } = fleet;
    const refusedBeforeRun = (args: string[], expected: RegExp[]) =>
      fleet.refusedBeforeRun(a, args, expected);

    await t.step("--pr on a ship without gh: refused, saying to install it", async () => {
      const gh = join(world.vmHome(a), ".local/bin/gh");
      await Deno.rename(gh, `${gh}.away`);
      try {
        await refusedBeforeRun(["--branch", "no-gh", "--pr", "--", "x"], [
          new RegExp(`^--pr needs gh \\(GitHub CLI\\) on ${a}, and it is not installed`),
          /install it there \(https:\/\/cli\.github\.com\)/,
        ]);
      } finally {
        await Deno.rename(`${gh}.away`, gh);
      }
      assert.equal(await inOrigin("no-gh"), null, "nothing was pushed");
    });

    await t.step("--pr with gh signed out: refused, saying to set GH_TOKEN", async () => {
      const envFile = join(world.vmHome(a), ".ohcommodore/.env");
      const text = await Deno.readTextFile(envFile);
      await Deno.writeTextFile(envFile, text.replace(/^GH_TOKEN=.*\n/m, ""));
      try {
        await refusedBeforeRun(["--branch", "signed-out", "--pr", "--", "x"], [
          /^--pr needs gh signed in on .*"gh auth status" says: You are not logged into any/,
          /Set GH_TOKEN .* in ~\/\.ohcommodore\/\.env on the ship/,
        ]);
      } finally {
        await Deno.writeTextFile(envFile, text);
      }
      assert.equal(await inOrigin("signed-out"), null, "nothing was pushed");
    });

    await t.step("a pull request that fails after a good run leaves the task done", async () => {
      const result = await runJson([
        "--ships",
        a,
        "--branch",
        "refused-pr",
        "--pr",
        "--",
        "[gh-refuse] x",
      ]);
      assert.equal(result.code, 0, result.outcomes[0]?.error ?? result.stderr);
      const [outcome] = result.outcomes;
      assert.equal(outcome.status, "done");
      assert.equal(outcome.pr, null);
      assert.equal(outcome.error, undefined);
      assert.match(
        outcome.prError ?? "",
        /^gh pr create failed: pull request create failed: GraphQL: No commits between main and refused-pr/,
      );
      assert.match(outcome.prError ?? "", /The branch "refused-pr" is pushed/);
      assert.equal(await inOrigin("refused-pr"), outcome.commits[0].sha);
      const shown = await cli(["agent", "show", outcome.id]);
      assert.match(shown.stdout, /No commits between main and refused-pr/);
    });

    await t.step(
      "--push to an origin that cannot be reached: refused with git's error",
      async () => {
        await fleet.shipGit(a, "remote", "set-url", "origin", "file:///nonexistent/web.git");
        await refusedBeforeRun(["--branch", "unreachable", "--push", "--", "x"], [
          new RegExp(`^Cannot fetch origin on ${a}, so branch "unreachable" cannot be carried on`),
          /fatal: '\/nonexistent\/web\.git' does not appear to be a git repository/,
        ]);
        await fleet.shipGit(a, "remote", "remove", "origin");
        await refusedBeforeRun(["--branch", "no-origin", "--push", "--", "x"], [
          /^--push and --pr need the remote "origin" in .* error: No such remote 'origin'/,
        ]);
      },
    );
  },
});

Deno.test({
  name: "git's errors reach the outcome whole: what was rejected, which file blocked the switch",
  ignore,
  sanitizeResources: false,
  async fn(t) {
    await using world = await FleetWorld.start();
    const fleet = await shipsOfOneRepository(world, 1);
    const { ships: [a], claudeRuns, cli } = fleet;
    const refusedBeforeRun = (args: string[], expected: RegExp[]) =>
      fleet.refusedBeforeRun(a, args, expected);

    await t.step(
      "a push that loses a race after the run names git's rejection and the branch",
      async () => {
        const started = await cli([
          "agent",
          "run",
          "--ships",
          a,
          "--branch",
          "race",
          "--push",
          "--json",
          "--",
          "[stall 3] slow",
        ]);
        assert.equal(started.code, 0, started.stderr);
        const [{ id }] = JSON.parse(started.stdout);
        const runs = await claudeRuns(a);
        // Claude Code runs (the checks passed): origin's branch moves under it.
        await eventually(async () => await claudeRuns(a) > runs || undefined, 20_000, "the run");
        await fleet.pushToOrigin("race", "theirs.txt");
        const outcome = await eventually(
          async () => {
            const shown = JSON.parse(
              (await cli(["agent", "show", id, "--json"])).stdout,
            ) as TaskOutcome;
            return shown.status === "running" ? undefined : shown;
          },
          30_000,
          "the task to end",
        );
        assert.equal(outcome.status, "error");
        const error = outcome.error ?? "";
        assert.match(
          error,
          /^Pushing "race" to origin failed after the run: ! \[rejected\] race -> race \(fetch first\); error: failed to push some refs to /,
        );
        assert.doesNotMatch(error, /hint:|Note about fast-forwards/);
        assert.match(
          error,
          new RegExp(`The run's commit is still on ${a}, on branch "race" in ${fleet.checkout(a)}`),
        );
        assert.equal(await fleet.shipGit(a, "rev-parse", "race"), outcome.commits[0].sha);
      },
    );

    await t.step("a switch a file blocks names the file", async () => {
      await fleet.pushToOrigin("blocked", "notes.txt");
      const notes = join(fleet.checkout(a), "notes.txt");
      await Deno.writeTextFile(notes, "the ship's own notes\n");
      try {
        const outcome = await refusedBeforeRun(["--branch", "blocked", "--", "x"], [
          new RegExp(
            `^Cannot make branch "blocked" from "refs/remotes/origin/blocked" on ${a}: error: ` +
              `The following untracked working tree files would be overwritten by checkout: ` +
              `notes.txt; `,
          ),
        ]);
        assert.doesNotMatch(outcome.error ?? "", /Aborting/);
      } finally {
        await Deno.remove(notes);
      }
    });
  },
});
