/**
 * Verified agent tasks and the branches they start from (issue 20 §3, §4, the ship's side): the
 * verify command itself (runVerify: a pass, a failure's tail, a timeout, a stop), then end to
 * end over a FleetWorld fleet — the real CLI and library on the laptop, a keyless ship over real
 * SSH, the stand-in `claude` on its PATH, and a bare repository as `origin`. A task is `done` and
 * pushed only when its verify command passes; a failed one pushes nothing and keeps its session
 * for a resume that fixes it; a new branch starts from `startFrom`; `rebaseOnto` leaves conflicts
 * to the agent, and aborts a rebase the agent did not finish. Each is checked against origin (git
 * on the bare repository) and the ship's checkout.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runVerify, VERIFY_OUTPUT_BYTES } from "../lib/agent/verify.ts";
import type { TaskOutcome } from "../lib/agent/task.ts";
import { agentFleet } from "./helpers/agent_standins.ts";
import { FleetWorld } from "./helpers/fleet_world.ts";
import { eventually } from "./helpers/local_member.ts";
import { run, sshWorldUnavailable } from "./helpers/sshd_world.ts";

const ignore = sshWorldUnavailable() !== undefined;
const env = {
  SKIP_STEPS: "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell",
  GH_TOKEN: "ghp_agentVerifyTestToken00",
  CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-standinVerifyToken",
};
const PATH = Deno.env.get("PATH") ?? "/usr/bin:/bin";

/** Runs fn with a fresh directory, removed afterwards. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ohc-verify-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a verify command that exits 0 passes, with stdout and stderr in its output", async () => {
  await inTempDir(async (workdir) => {
    await Deno.writeTextFile(join(workdir, "here.txt"), "");
    const result = await runVerify("echo out; echo err >&2; test -f here.txt", {
      workdir,
      path: PATH,
      timeoutMs: 10_000,
    });
    assert.deepEqual({ ...result, durationMs: 0 }, {
      command: "echo out; echo err >&2; test -f here.txt",
      passed: true,
      exitCode: 0,
      output: "out\nerr\n",
      durationMs: 0,
    });
  });
});

Deno.test("a failing verify keeps the last 4 KiB of its output, cut on a character", async () => {
  await inTempDir(async (workdir) => {
    // 20,000 lines of "é" (two bytes each) and a newline, then the last words, on stderr.
    const command = `for i in $(seq 20000); do echo é; done; echo "the end" >&2; exit 3`;
    const result = await runVerify(command, { workdir, path: PATH, timeoutMs: 30_000 });
    assert.equal(result.passed, false);
    assert.equal(result.exitCode, 3);
    assert.ok(new TextEncoder().encode(result.output).length <= VERIFY_OUTPUT_BYTES);
    assert.ok(result.output.length > 1000, "most of the 4 KiB is kept");
    assert.match(result.output, /é\nthe end\n$/);
    assert.doesNotMatch(result.output, /\uFFFD/, "no character cut in two");
  });
});

Deno.test("a verify that outlives its time is killed with what it started, and fails", async () => {
  await inTempDir(async (workdir) => {
    const began = Date.now();
    // A child that would outlive the shell: the whole group goes.
    const result = await runVerify(`echo started; (sleep 60; touch late) & sleep 60`, {
      workdir,
      path: PATH,
      timeoutMs: 500,
    });
    assert.ok(Date.now() - began < 10_000, "it did not wait for the sleep");
    assert.equal(result.passed, false);
    assert.equal(result.exitCode, null);
    assert.match(result.output, /^started\nverify timed out after 1 s and was killed\n$/);
    const left = await run(["pgrep", "-f", "sleep 60; touch late"], true);
    assert.equal(left.code, 1, `nothing is left running: ${left.stdout}`);
  });
});

Deno.test("a stopped verify is killed and the call throws the stop's reason", async () => {
  await inTempDir(async (workdir) => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error("stopped by the test")), 300);
    await assert.rejects(
      runVerify("sleep 61", { workdir, path: PATH, timeoutMs: 60_000, signal: stop.signal }),
      /stopped by the test/,
    );
    const left = await run(["pgrep", "-f", "sleep 61"], true);
    assert.equal(left.code, 1, `nothing is left running: ${left.stdout}`);
  });
});

/** A world with one ship, and what the tests do with it. */
async function oneShip(world: FleetWorld) {
  const { cli, origin, ships: [ship] } = await agentFleet(world, env, 1);
  const checkout = join(world.vmHome(ship), "web");
  const calls = async () =>
    (await Deno.readTextFile(join(world.vmHome(ship), ".claude-standin/calls.jsonl"))
      .catch(() => "")).split("\n").filter(Boolean).map((line) =>
        JSON.parse(line) as { args: string[]; prompt: string }
      );
  const originGit = (...args: string[]) => run(["git", "--git-dir", origin, ...args], true);
  return {
    cli,
    origin,
    ship,
    checkout,
    /** Each call of the stand-in claude, oldest first. */
    calls,
    /** `agent run --wait --json --ships <ship> …`: exit code, stderr and the outcome. */
    runWait: async (args: string[]) => {
      const result = await cli(["agent", "run", "--wait", "--json", "--ships", ship, ...args]);
      const [outcome] = result.stdout ? JSON.parse(result.stdout) as TaskOutcome[] : [];
      return { ...result, outcome };
    },
    /** A library script on the laptop; its stdout parsed as JSON. */
    script: async (source: string) => {
      const result = await world.laptopScript(
        `import { Fleet } from "@smithclay/ohcommodore";\n` +
          `await using fleet = await Fleet.open();\n${source}`,
        { env },
      );
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout);
    },
    /** A branch's commit in origin, or null when origin lacks it. */
    inOrigin: async (branch: string) => {
      const found = await originGit("rev-parse", "--verify", "--quiet", `refs/heads/${branch}`);
      return found.code === 0 ? found.stdout.trim() : null;
    },
    /** A file's text on origin's branch, or null when it lacks it. */
    fileInOrigin: async (branch: string, file: string) => {
      const shown = await originGit("show", `refs/heads/${branch}:${file}`);
      return shown.code === 0 ? shown.stdout : null;
    },
    /** Whether origin's `older` is an ancestor of its `newer`. */
    originAncestor: async (older: string, newer: string) =>
      (await originGit("merge-base", "--is-ancestor", older, newer)).code === 0,
    /** Git in the ship's checkout (read only, as root). */
    shipGit: async (...args: string[]) =>
      (await run(["git", "-c", "safe.directory=*", "-C", checkout, ...args])).stdout.trim(),
    /** Whether the ship's checkout is in the middle of a rebase. */
    shipRebasing: async () => {
      for (const name of ["rebase-merge", "rebase-apply"]) {
        if (await Deno.stat(join(checkout, ".git", name)).then(() => true, () => false)) {
          return true;
        }
      }
      return false;
    },
    /** Gives origin's branch a commit with this file, as someone else's push would. */
    pushToOrigin: async (branch: string, file: string, text: string) => {
      const work = await Deno.makeTempDir({ dir: world.dir, prefix: ".push-" });
      const git = ["git", "-c", "user.name=Other", "-c", "user.email=other@example.test"];
      try {
        await run([...git, "clone", "-q", origin, work]);
        const has = await run(
          [...git, "-C", work, "rev-parse", "--verify", `origin/${branch}`],
          true,
        );
        if (has.code === 0) await run([...git, "-C", work, "switch", "-q", branch]);
        await Deno.writeTextFile(join(work, file), text);
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
  name: "agent run --verify: only a passing run is done and pushed; a failed one keeps its " +
    "session, and a resume that fixes it passes; a stop kills the verify command",
  ignore,
  sanitizeResources: false,
  async fn(t) {
    await using world = await FleetWorld.start();
    const fleet = await oneShip(world);
    const { ship, runWait, inOrigin } = fleet;

    await t.step("a verify that passes: done, pushed, its output's tail kept", async () => {
      const { code, outcome, stderr } = await runWait([
        "--branch",
        "v-pass",
        "--push",
        "--verify",
        "echo checking; echo on-stderr >&2; test -f ok.txt",
        "--",
        "[file ok.txt] make ok",
      ]);
      assert.equal(code, 0, outcome?.error ?? stderr);
      assert.equal(outcome.status, "done");
      assert.equal(outcome.verify?.passed, true);
      assert.equal(outcome.verify?.exitCode, 0);
      assert.equal(outcome.verify?.command, "echo checking; echo on-stderr >&2; test -f ok.txt");
      assert.equal(outcome.verify?.output, "checking\non-stderr\n");
      assert.equal(await inOrigin("v-pass"), outcome.commits[0].sha);
      assert.equal(await fleet.fileInOrigin("v-pass", "ok.txt"), "[file ok.txt] make ok\n");
    });

    let failed: TaskOutcome;
    await t.step("a verify that fails: error, nothing pushed, the session kept", async () => {
      const { code, outcome } = await runWait([
        "--branch",
        "v-fix",
        "--push",
        "--verify",
        "test -f .verified || { echo 'no .verified yet'; exit 4; }",
        "--",
        "[verify-once] first try",
      ]);
      failed = outcome;
      assert.equal(code, 1);
      assert.equal(outcome.status, "error");
      assert.equal(
        outcome.error,
        `Verification failed: "test -f .verified || { echo 'no .verified yet'; exit 4; }" ` +
          `exited 4: no .verified yet`,
      );
      assert.equal(outcome.verify?.passed, false);
      assert.equal(outcome.verify?.exitCode, 4);
      assert.equal(outcome.verify?.output, "no .verified yet\n");
      assert.equal(await inOrigin("v-fix"), null, "nothing was pushed");
      assert.ok(outcome.sessionId, "the session is kept, for a resume");
      assert.equal(outcome.commits.length, 1);
      assert.equal(await fleet.shipGit("rev-parse", "v-fix"), outcome.commits[0].sha);
      assert.equal(outcome.pr, null);
    });

    await t.step("a resume told the verification failed fixes it: done and pushed", async () => {
      const outcome = await fleet.script(`
        const task = await fleet.agents.resume(${JSON.stringify(ship)},
          "Verification failed: no .verified yet; fix it",
          { verify: "test -f .verified || { echo 'no .verified yet'; exit 4; }", push: true });
        console.log(JSON.stringify(await task.wait()));
      `) as TaskOutcome;
      assert.equal(outcome.status, "done", outcome.error);
      assert.equal(outcome.branch, "v-fix");
      assert.equal(outcome.sessionId, failed.sessionId);
      assert.equal(outcome.verify?.passed, true);
      const last = (await fleet.calls()).at(-1)!;
      assert.equal(last.args[last.args.indexOf("--resume") + 1], failed.sessionId);
      assert.match(last.prompt, /^Verification failed/);
      assert.equal(await inOrigin("v-fix"), outcome.commits[0].sha);
      assert.equal(await fleet.fileInOrigin("v-fix", ".verified"), "");
      assert.ok(await fleet.originAncestor(failed.commits[0].sha, "v-fix"), "the first try's too");
    });

    await t.step(
      "a task cancelled while its verify runs stops it, and pushes nothing",
      async () => {
        const started = await fleet.cli([
          "agent",
          "run",
          "--ships",
          ship,
          "--branch",
          "v-cancel",
          "--push",
          "--verify",
          "sleep 97 && true",
          "--json",
          "--",
          "wait for me",
        ]);
        assert.equal(started.code, 0, started.stderr);
        const [{ id }] = JSON.parse(started.stdout);
        const user = world.vmUser(ship);
        const verifying = () => run(["pgrep", "-u", user, "-x", "sleep"], true);
        await eventually(async () => (await verifying()).code === 0 || undefined, 30_000, "verify");
        const cancelled = await fleet.cli(["agent", "cancel", id]);
        assert.equal(cancelled.code, 0, cancelled.stderr);
        const outcome = await eventually(
          async () => {
            const shown = JSON.parse((await fleet.cli(["agent", "show", id, "--json"])).stdout);
            return shown.status === "running" ? undefined : shown as TaskOutcome;
          },
          30_000,
          "the task to end",
        );
        assert.equal(outcome.status, "cancelled");
        await eventually(
          async () => (await verifying()).code === 1 || undefined,
          10_000,
          "the verify command to be gone",
        );
        assert.equal(await inOrigin("v-cancel"), null);
      },
    );

    await t.step("an empty --verify is refused before anything is sent", async () => {
      const runs = (await fleet.calls()).length;
      const refused = await fleet.cli([
        "agent",
        "run",
        "--ships",
        ship,
        "--verify",
        " ",
        "--",
        "x",
      ]);
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /--verify needs a command/);
      assert.equal((await fleet.calls()).length, runs);
    });
  },
});

Deno.test({
  name: "startFrom makes a new branch from origin's other branch; rebaseOnto leaves conflicts " +
    "to the agent, and aborts a rebase it did not finish; bad names are refused before sending",
  ignore,
  sanitizeResources: false,
  async fn(t) {
    await using world = await FleetWorld.start();
    const fleet = await oneShip(world);
    const { ship, inOrigin, fileInOrigin } = fleet;
    const runTask = async (prompt: string, options: Record<string, unknown>) =>
      await fleet.script(`
        const [outcome] = await fleet.agents.run(${JSON.stringify(prompt)},
          { ships: [${JSON.stringify(ship)}], ...${JSON.stringify(options)} });
        console.log(JSON.stringify(outcome));
      `) as TaskOutcome;

    await t.step("a new branch starts from origin's startFrom, when origin has it", async () => {
      await fleet.pushToOrigin("base", "base.txt", "from the base branch\n");
      const outcome = await runTask("[file mine.txt] on the base", {
        branch: "from-base",
        startFrom: "base",
        push: true,
      });
      assert.equal(outcome.status, "done", outcome.error);
      assert.equal(await fileInOrigin("from-base", "base.txt"), "from the base branch\n");
      assert.equal(await fileInOrigin("from-base", "mine.txt"), "[file mine.txt] on the base\n");
      assert.ok(await fleet.originAncestor("base", "from-base"));
      // A startFrom origin lacks: from the default branch, as without it.
      const plain = await runTask("[file plain.txt] plain", {
        branch: "from-nothing",
        startFrom: "no-such-branch",
        push: true,
      });
      assert.equal(plain.status, "done", plain.error);
      assert.equal(await fileInOrigin("from-nothing", "base.txt"), null);
      assert.ok(await fleet.originAncestor("main", "from-nothing"));
    });

    await t.step(
      "rebaseOnto with a conflict: the agent resolves it, and it is pushed",
      async () => {
        // The task's branch and the integration branch both change shared.txt.
        await fleet.pushToOrigin("topic", "shared.txt", "topic side\n");
        await fleet.pushToOrigin("integ", "shared.txt", "integration side\n");
        const outcome = await runTask("carry on", {
          branch: "topic",
          rebaseOnto: "integ",
          push: true,
          forcePush: true,
        });
        assert.equal(outcome.status, "done", outcome.error);
        const prompt = (await fleet.calls()).at(-1)!.prompt;
        assert.match(prompt, /^carry on\n/);
        assert.match(prompt, /in the middle of a rebase .* onto origin\/integ/);
        assert.match(prompt, /stopped on conflicts in: shared\.txt\./);
        assert.ok(await fleet.originAncestor("integ", "topic"), "topic is on integ now");
        const shared = await fileInOrigin("topic", "shared.txt");
        assert.match(shared ?? "", /integration side/);
        assert.match(shared ?? "", /topic side/);
        assert.doesNotMatch(shared ?? "", /<<<<<<<|>>>>>>>/);
        assert.equal(await fleet.shipRebasing(), false);
        assert.equal(await fleet.shipGit("status", "--porcelain"), "");
      },
    );

    await t.step(
      "a rebase the agent leaves unfinished is aborted, and the task fails",
      async () => {
        await fleet.pushToOrigin("topic2", "shared.txt", "topic2 side\n");
        const before = await inOrigin("topic2");
        const outcome = await runTask("[leave-rebase] do not resolve", {
          branch: "topic2",
          rebaseOnto: "integ",
          push: true,
          forcePush: true,
        });
        assert.equal(outcome.status, "error");
        assert.match(
          outcome.error ?? "",
          /^The rebase onto origin\/integ was not finished; conflicts in: shared\.txt\. It was aborted/,
        );
        assert.equal(await inOrigin("topic2"), before, "nothing was pushed");
        assert.equal(await fleet.shipRebasing(), false, "the rebase was aborted");
        assert.equal(await fleet.shipGit("symbolic-ref", "--short", "HEAD"), "topic2");
        assert.equal(await fleet.shipGit("rev-parse", "HEAD"), before, "the branch as it was");
      },
    );

    await t.step("rebaseOnto a branch origin lacks: onto origin's default branch", async () => {
      await fleet.pushToOrigin("main", "later.txt", "main moved on\n");
      const outcome = await runTask("[file topic3.txt] rebased on main", {
        branch: "from-base",
        rebaseOnto: "no-such-integ",
        push: true,
        forcePush: true,
      });
      assert.equal(outcome.status, "done", outcome.error);
      assert.ok(await fleet.originAncestor("main", "from-base"));
      assert.equal(await fileInOrigin("from-base", "later.txt"), "main moved on\n");
      assert.equal(await fileInOrigin("from-base", "base.txt"), "from the base branch\n");
    });

    await t.step("bad branch names are refused before anything is sent", async () => {
      const runs = (await fleet.calls()).length;
      const tasks = async () =>
        (JSON.parse((await fleet.cli(["agent", "list", "--json"])).stdout) as unknown[]).length;
      const listed = await tasks();
      const refusals = await fleet.script(`
        const cases = [
          { branch: "ok", startFrom: "bad..name" },
          { branch: "ok", rebaseOnto: "-x" },
          { branch: "ok", rebaseOnto: "has space" },
          { startFrom: "main" },
        ];
        const said = [];
        for (const options of cases) {
          try {
            await fleet.agents.start("x", { ships: [${JSON.stringify(ship)}], ...options });
            said.push("sent");
          } catch (error) {
            said.push(error.name + ": " + error.message);
          }
        }
        console.log(JSON.stringify(said));
      `) as string[];
      assert.deepEqual(refusals, [
        `UsageError: "bad..name" is not a branch name git takes (startFrom): it has ".."; ` +
        `give one like agent/fix`,
        `UsageError: "-x" is not a branch name git takes (rebaseOnto): it starts with "-"; ` +
        `give one like agent/fix`,
        `UsageError: "has space" is not a branch name git takes (rebaseOnto): it has a space; ` +
        `give one like agent/fix`,
        `UsageError: startFrom and rebaseOnto need a branch: name the branch the work goes on`,
      ]);
      assert.equal((await fleet.calls()).length, runs, "Claude Code was not run");
      assert.equal(await tasks(), listed, "no task was sent");
    });
  },
});
