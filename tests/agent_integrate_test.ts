/**
 * Integration and pull requests on a ship (issue 20 §4, the ship's side), end to end: the
 * library on the laptop sends `integrateCommand` and `prCommand` to a keyless ship of a FleetWorld
 * fleet over real SSH, whose scheduler runs `ohcommodore agent _integrate` and `agent _pr`; the
 * stand-in `claude` makes the tasks' branches and the stand-in `gh` opens pull requests. A branch
 * goes onto a missing integration branch (made from main), a second one on top as a fast-forward,
 * a push that origin's moving branch rejected is rebased and verified again, a conflict is named
 * and aborted, a verification that fails after the rebase leaves the rebased branch on the ship.
 * Each is checked against origin (git on the bare repository) and the ship's checkout.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { IntegrateSpec, IntegrationOutcome } from "../lib/agent/integrate.ts";
import type { PrOutcome, PrSpec } from "../lib/agent/open_pr.ts";
import type { TaskOutcome } from "../lib/agent/task.ts";
import { agentFleet } from "./helpers/agent_standins.ts";
import { FleetWorld } from "./helpers/fleet_world.ts";
import { run, sshWorldUnavailable } from "./helpers/sshd_world.ts";

const ignore = sshWorldUnavailable() !== undefined;
const env = {
  SKIP_STEPS: "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell",
  GH_TOKEN: "ghp_agentIntegrateToken000",
  CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-standinIntegrateToken",
};

Deno.test({
  name: "agent _integrate brings verified branches onto an integration branch one by one: made " +
    "from main, fast-forwarded, rebased again when origin moved; a conflict or a failed " +
    "verification is reported, origin untouched; agent _pr opens a pull request with gh",
  ignore,
  sanitizeResources: false,
  async fn(t) {
    await using world = await FleetWorld.start();
    const { cli, origin, ships: [ship] } = await agentFleet(world, env, 1);
    const checkout = join(world.vmHome(ship), "web");
    const originGit = (...args: string[]) => run(["git", "--git-dir", origin, ...args], true);
    const inOrigin = async (branch: string) => {
      const found = await originGit("rev-parse", "--verify", "--quiet", `refs/heads/${branch}`);
      return found.code === 0 ? found.stdout.trim() : null;
    };
    const filesInOrigin = async (branch: string) =>
      (await originGit("ls-tree", "-r", "--name-only", `refs/heads/${branch}`)).stdout.trim()
        .split("\n").sort();
    const originAncestor = async (older: string, newer: string) =>
      (await originGit("merge-base", "--is-ancestor", older, newer)).code === 0;
    const shipGit = async (...args: string[]) =>
      (await run(["git", "-c", "safe.directory=*", "-C", checkout, ...args])).stdout.trim();
    const shipRebasing = async () =>
      (await Promise.all(
        ["rebase-merge", "rebase-apply"].map((name) =>
          Deno.stat(join(checkout, ".git", name)).then(() => true, () => false)
        ),
      )).some(Boolean);
    /** A task that commits `file` on `branch` and pushes it. */
    const task = async (branch: string, prompt: string) => {
      const result = await cli([
        "agent",
        "run",
        "--wait",
        "--json",
        "--ships",
        ship,
        "--branch",
        branch,
        "--push",
        "--",
        prompt,
      ]);
      const [outcome] = JSON.parse(result.stdout) as TaskOutcome[];
      assert.equal(outcome.status, "done", outcome.error ?? result.stderr);
      return outcome;
    };
    /** Sends an inbox command made by `make` with the spec, and prints what `outcomeOf` says. */
    const sendAndRead = async (module: string, make: string, outcomeOf: string, spec: unknown) => {
      const result = await world.laptopScript(
        `import { Fleet } from "@smithclay/ohcommodore";
        import { ${make}, ${outcomeOf} } from "@lib/agent/${module}";
        await using fleet = await Fleet.open();
        const ship = await fleet.ship(${JSON.stringify(ship)});
        const sent = await ship.send(${make}(${JSON.stringify(spec)}), { timeoutMs: 120_000 });
        console.log(JSON.stringify(${outcomeOf}(await sent.wait())));`,
        { env },
      );
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout);
    };
    const integrate = (spec: IntegrateSpec): Promise<IntegrationOutcome> =>
      sendAndRead("integrate.ts", "integrateCommand", "integrationOutcomeOf", spec);
    const openPr = (spec: PrSpec): Promise<PrOutcome> =>
      sendAndRead("open_pr.ts", "prCommand", "prOutcomeOf", spec);

    await t.step(
      "onto a missing integration branch: made from main, with the task's file",
      async () => {
        const a = await task("t/a", "[file a.txt] task a");
        assert.equal(await inOrigin("integ"), null);
        const outcome = await integrate({ branch: "t/a", onto: "integ" });
        assert.equal(outcome.status, "integrated", outcome.error);
        assert.equal(outcome.error, undefined);
        assert.equal(outcome.sha, await inOrigin("integ"));
        assert.equal(outcome.sha, a.commits[0].sha, "nothing to rebase: the task's own commit");
        assert.deepEqual(await filesInOrigin("integ"), ["README.md", "a.txt"]);
        assert.ok(await originAncestor("main", "integ"));
        assert.ok(outcome.durationMs > 0);
      },
    );

    await t.step("a second branch on top: rebased, verified, a fast-forward of integ", async () => {
      const before = (await inOrigin("integ"))!;
      await task("t/b", "[file b.txt] task b");
      const outcome = await integrate({ branch: "t/b", onto: "integ", verify: "test -f a.txt" });
      assert.equal(outcome.status, "integrated", outcome.error);
      assert.equal(outcome.verify?.passed, true);
      assert.equal(outcome.sha, await inOrigin("integ"));
      assert.ok(await originAncestor(before, "integ"), "a fast-forward of what integ had");
      assert.deepEqual(await filesInOrigin("integ"), ["README.md", "a.txt", "b.txt"]);
      assert.equal(await inOrigin("t/b"), outcome.sha, "the task's branch, rebased, pushed");
      assert.equal(await shipGit("symbolic-ref", "--short", "HEAD"), "t/b");
    });

    await t.step(
      "origin's integ moving during the verification: rebased and verified again",
      async () => {
        await task("t/e", "[file e.txt] task e");
        // The first verification pushes someone else's commit onto integ, as a race would.
        const verify = [
          `echo run >> "$HOME/verify-runs"`,
          `if [ ! -e "$HOME/mover" ]; then`,
          `  git clone -q "$(git remote get-url origin)" "$HOME/mover" && cd "$HOME/mover" &&`,
          `  git switch -q integ && echo theirs > other.txt && git add other.txt &&`,
          `  git -c user.name=Other -c user.email=o@example.test commit -q -m other &&`,
          `  git push -q origin integ`,
          `fi`,
        ].join("\n");
        const outcome = await integrate({ branch: "t/e", onto: "integ", verify });
        assert.equal(outcome.status, "integrated", outcome.error);
        assert.deepEqual(await filesInOrigin("integ"), [
          "README.md",
          "a.txt",
          "b.txt",
          "e.txt",
          "other.txt",
        ]);
        assert.equal(outcome.sha, await inOrigin("integ"));
        const runs = await Deno.readTextFile(join(world.vmHome(ship), "verify-runs"));
        assert.equal(runs, "run\nrun\n", "verified again after the second rebase");
        await run(["rm", "-rf", join(world.vmHome(ship), "mover")]);
      },
    );

    await t.step("a conflict: its files named, the rebase aborted, origin untouched", async () => {
      const before = await inOrigin("integ");
      const c = await task("t/c", "[conflict a.txt] task c");
      const outcome = await integrate({ branch: "t/c", onto: "integ", verify: "true" });
      assert.equal(outcome.status, "conflict");
      assert.deepEqual(outcome.files, ["a.txt"]);
      assert.equal(outcome.verify, undefined, "nothing was verified");
      assert.equal(await inOrigin("integ"), before);
      assert.equal(await inOrigin("t/c"), c.commits[0].sha);
      assert.equal(await shipRebasing(), false);
      assert.equal(await shipGit("status", "--porcelain"), "", "the checkout is clean");
      assert.equal(await shipGit("rev-parse", "HEAD"), c.commits[0].sha, "the branch as it was");
    });

    await t.step(
      "a verification that fails after the rebase: reported, the rebase kept on the ship",
      async () => {
        const before = await inOrigin("integ");
        const d = await task("t/d", "[file d.txt] task d");
        // It passes on the task's branch (made from main) and fails once b.txt is under it.
        const verify = "test ! -f b.txt || { echo 'b.txt is there'; exit 5; }";
        const outcome = await integrate({ branch: "t/d", onto: "integ", verify });
        assert.equal(outcome.status, "verify_failed");
        assert.equal(outcome.verify?.passed, false);
        assert.equal(outcome.verify?.exitCode, 5);
        assert.equal(outcome.verify?.output, "b.txt is there\n");
        assert.equal(await inOrigin("integ"), before, "integ is untouched");
        assert.equal(await inOrigin("t/d"), d.commits[0].sha, "the task's branch is untouched");
        assert.equal(await shipGit("symbolic-ref", "--short", "HEAD"), "t/d");
        assert.equal(await shipGit("merge-base", "--is-ancestor", before!, "HEAD"), "");
        assert.equal(await shipGit("log", "-1", "--format=%s"), "Stand-in: [file d.txt] task d");
      },
    );

    await t.step("a branch neither the ship nor origin has, and bad names: errors", async () => {
      const missing = await integrate({ branch: "t/none", onto: "integ" });
      assert.equal(missing.status, "error");
      assert.match(
        missing.error ?? "",
        new RegExp(`^Cannot check out "t/none": neither ${ship} nor origin has the branch`),
      );
      const refused = await world.laptopScript(
        `import { integrateCommand } from "@lib/agent/integrate.ts";
        try { integrateCommand({ branch: "t/a", onto: "a..b" }); } catch (error) {
          console.log(error.name + ": " + error.message);
        }`,
        { env },
      );
      assert.equal(
        refused.stdout.trim(),
        `UsageError: "a..b" is not a branch name git takes (onto): it has ".."`,
      );
    });

    await t.step("agent _pr opens a pull request with gh, its body on stdin", async () => {
      const body = "Fixes #1\nFixes #2\n";
      const opened = await openPr({ head: "integ", base: "main", title: "Integration", body });
      assert.match(opened.url ?? "", /^https:\/\/github\.example\.test\/acme\/web\/pull\/\d+$/);
      assert.equal(opened.error, undefined);
      const log = await Deno.readTextFile(join(world.vmHome(ship), ".gh-standin/calls.log"));
      assert.ok(
        log.includes(
          `args: pr create --head integ --base main --title Integration --body-file -\n` +
            `body:\n${body}`,
        ),
        log,
      );
      const refused = await openPr({ head: "not-on-origin", title: "Nothing", body: "" });
      assert.equal(refused.url, null);
      assert.match(refused.error ?? "", /^gh pr create failed: .*Head ref must be a branch/);
    });
  },
});
