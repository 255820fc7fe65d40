/**
 * Agent tasks end to end: the real CLI on the laptop, two keyless ships behind the fixture lobby
 * over real SSH, a stand-in `claude` (tests/helpers/claude_standin.ts) and `gh` on the ships'
 * PATH, and a bare repository as `origin`, so pushing is real.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { agentFleet } from "./helpers/agent_standins.ts";
import { FleetWorld } from "./helpers/fleet_world.ts";
import { eventually } from "./helpers/local_member.ts";
import { run, sshWorldUnavailable } from "./helpers/sshd_world.ts";
import type { TaskOutcome } from "../lib/agent/task.ts";

const ignore = sshWorldUnavailable() !== undefined;
const SKIP_STEPS = "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell";
const TOKEN = "sk-ant-oat01-standinSecretToken789";
const env = {
  SKIP_STEPS,
  GH_TOKEN: "ghp_agentTestToken000",
  CLAUDE_CODE_OAUTH_TOKEN: TOKEN,
  OHCOMMODORE_NOTIFY: 'cat >> "$HOME/notify.jsonl"; echo >> "$HOME/notify.jsonl"',
};

interface Call {
  args: string[];
  cwd: string;
  prompt: string;
  hasToken: boolean;
}

Deno.test({
  name: "agents: run on ships, branch, push, PR, resume, follow, stalled, limits, notify, costs",
  ignore,
  sanitizeResources: false,
  async fn(t) {
    await using world = await FleetWorld.start();
    const { cli, origin: originPath, ships: [a, b] } = await agentFleet(world, env);
    const origin = `file://${originPath}`;
    const calls = async (ship: string): Promise<Call[]> =>
      (await Deno.readTextFile(join(world.vmHome(ship), ".claude-standin/calls.jsonl")))
        .trim().split("\n").map((line) => JSON.parse(line));
    const runJson = async (args: string[]) => {
      const result = await cli(["agent", "run", ...args]);
      return { ...result, outcomes: JSON.parse(result.stdout) as TaskOutcome[] };
    };

    await t.step("a prompt to two ships: --wait --json gives one outcome per ship", async () => {
      const { code, stderr, outcomes } = await runJson([
        "--all",
        "--wait",
        "--json",
        "--",
        'add a greeting; it\'s "quoted" and $HOME stays',
      ]);
      assert.equal(code, 0, stderr);
      assert.deepEqual(outcomes.map((outcome) => outcome.ship).sort(), [a, b]);
      for (const outcome of outcomes) {
        assert.equal(outcome.status, "done");
        assert.equal(outcome.exitCode, 0);
        assert.equal(outcome.isError, false);
        assert.equal(outcome.costUsd, 0.0125);
        assert.equal(outcome.numTurns, 2);
        assert.match(outcome.sessionId ?? "", /^[0-9a-f-]{36}$/);
        assert.equal(outcome.result, `Done: add a greeting; it's "quoted" and $HOME stays`);
        assert.equal(outcome.commits.length, 1);
        assert.match(outcome.commits[0].subject, /^Stand-in: add a greeting/);
        assert.equal(outcome.pr, null);
        const [call] = await calls(outcome.ship);
        assert.equal(call.prompt, `add a greeting; it's "quoted" and $HOME stays`, "on stdin");
        assert.ok(!call.args.some((arg) => arg.includes("greeting")), "never on the command line");
        assert.deepEqual(call.args.slice(0, 4), [
          "-p",
          "--output-format",
          "stream-json",
          "--verbose",
        ]);
        assert.equal(call.cwd, join(world.vmHome(outcome.ship), "web"), "in the repository");
        assert.equal(call.hasToken, true);
      }
      const table = await cli(["agent", "run", "--ships", a, "--wait", "--", "again"]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, new RegExp(`${a}\\s+\\w+\\s+done\\s+\\$0\\.0125\\s+2\\s+1`));
    });

    await t.step(
      "--branch --pr (which pushes): the branch is in origin with the commit, and a PR",
      async () => {
        const { code, stderr, outcomes } = await runJson([
          "--ships",
          a,
          "--branch",
          "agent/greeting",
          "--pr",
          "--wait",
          "--json",
          "--",
          "greet on a branch",
        ]);
        assert.equal(code, 0, stderr);
        const [outcome] = outcomes;
        assert.equal(outcome.branch, "agent/greeting");
        assert.equal(outcome.commits.length, 1);
        assert.match(outcome.pr ?? "", /^https:\/\/github\.example\.test\/acme\/web\/pull\/1$/);
        const inOrigin = await run([
          "git",
          "--git-dir",
          fileURLToPath(origin),
          "rev-parse",
          "agent/greeting",
        ]);
        assert.equal(inOrigin.stdout.trim(), outcome.commits[0].sha);
        const gh = await Deno.readTextFile(join(world.vmHome(a), ".gh-standin/calls.log"));
        assert.match(gh, /args: pr create --head agent\/greeting --title Stand-in:\\ greet/);
        assert.match(gh, /body:\nDone: greet on a branch\n/, "the answer is the body");
      },
    );

    await t.step("resume: the ship's last session goes back to Claude Code", async () => {
      const last = (await calls(a)).length;
      const before = JSON.parse((await cli(["agent", "list", "--json"])).stdout) as TaskOutcome[];
      const session = before.find((task) => task.ship === a && task.sessionId)?.sessionId;
      const resumed = await cli(["agent", "resume", a, "--wait", "--json", "--", "and now tests"]);
      assert.equal(resumed.code, 0, resumed.stderr);
      const [outcome] = JSON.parse(resumed.stdout) as TaskOutcome[];
      assert.equal(outcome.sessionId, session);
      const call = (await calls(a))[last];
      assert.deepEqual(
        call.args.slice(call.args.indexOf("--resume"), call.args.indexOf("--resume") + 2),
        [
          "--resume",
          session,
        ],
      );
      assert.equal(outcome.branch, "agent/greeting", "on the branch the session worked on");
    });

    await t.step("follow shows what the agent says while it runs", async () => {
      const started = await cli(["agent", "run", "--ships", b, "--json", "--", "[slow] narrate"]);
      assert.equal(started.code, 0, started.stderr);
      const [{ id }] = JSON.parse(started.stdout);
      const program = join(world.laptop.home, ".local/bin/ohcommodore");
      const follower = world.spawnAs(world.laptop.user, [program, "agent", "follow", id], {
        env: { OHCOMMODORE_SHIP_BIN: world.shipBin },
      });
      const seen: { line: string; at: number }[] = [];
      let buffered = "";
      for await (const chunk of follower.stdout.pipeThrough(new TextDecoderStream())) {
        buffered += chunk;
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        for (const line of lines) seen.push({ line, at: Date.now() });
      }
      const status = await follower.status;
      const ended = Date.now();
      assert.equal(status.code, 0, seen.map((entry) => entry.line).join("\n"));
      const step1 = seen.find((entry) => entry.line === "says: step 1 of 5");
      assert.ok(step1, seen.map((entry) => entry.line).join("\n"));
      assert.ok(ended - step1.at > 1000, "the first step showed while the agent still worked");
      assert.ok(seen.some((entry) => /^uses Bash: git commit/.test(entry.line)));
      assert.ok(seen.some((entry) => /^result: success, 2 turn\(s\), \$0\.0125/.test(entry.line)));
      await follower.stderr.cancel();
    });

    await t.step(
      "a silent task is flagged stalled, not killed, and the hook hears it",
      async () => {
        const started = await cli([
          "agent",
          "run",
          "--ships",
          b,
          "--stall",
          "1s",
          "--json",
          "--",
          "[stall 4] think",
        ]);
        const [{ id }] = JSON.parse(started.stdout);
        await eventually(
          async () => {
            const tasks = JSON.parse(
              (await cli(["agent", "list", "--json"])).stdout,
            ) as TaskOutcome[];
            return tasks.find((task) => task.id === id)?.status === "stalled" ? true : undefined;
          },
          20_000,
          "the task to be flagged stalled",
        );
        const status = JSON.parse((await cli(["fleet", "status", "--json"])).stdout);
        const ship = status.ships.find((ship: { name: string }) => ship.name === b);
        assert.equal(ship.task.id, id);
        assert.equal(ship.task.status, "stalled");
        const shown = await eventually(
          async () => {
            const result = await cli(["agent", "show", id, "--json"]);
            const outcome = JSON.parse(result.stdout) as TaskOutcome;
            return outcome.status === "done" ? outcome : undefined;
          },
          20_000,
          "the stalled task to finish",
        );
        assert.equal(shown.commits.length, 1);
        const events = (await Deno.readTextFile(join(world.vmHome(b), "notify.jsonl")))
          .split("\n").filter(Boolean).map((line) => JSON.parse(line));
        const mine = events.filter((event) => event.id === id).map((event) => event.event);
        assert.deepEqual(mine, ["stalled", "ended"]);
        assert.equal(
          events.find((event) => event.id === id && event.event === "ended").status,
          "done",
        );
      },
    );

    await t.step(
      "a usage limit is rate_limited with its reset; --retry-on-limit resumes",
      async () => {
        const limited = await runJson(["--ships", b, "--wait", "--json", "--", "[limit] heavy"]);
        assert.equal(limited.code, 1);
        const [outcome] = limited.outcomes;
        assert.equal(outcome.status, "rate_limited");
        const reset = Date.parse(outcome.resetAt ?? "");
        assert.ok(Math.abs(reset - Date.now()) < 30_000, `reset at ${outcome.resetAt}`);
        assert.match(outcome.error ?? "", /usage limit/);
        const heard = (await Deno.readTextFile(join(world.vmHome(b), "notify.jsonl")))
          .split("\n").filter(Boolean).map((line) => JSON.parse(line))
          .filter((event) => event.id === outcome.id).map((event) => event.event);
        assert.deepEqual(heard, ["rate_limited"], "the hook hears the limit");
        const retried = await runJson([
          "--ships",
          a,
          "--retry-on-limit",
          "--wait",
          "--json",
          "--",
          "[limit] heavy",
        ]);
        assert.equal(retried.code, 0, retried.stderr);
        assert.equal(retried.outcomes[0].status, "done");
        const [first, second] = (await calls(a)).slice(-2);
        assert.ok(!first.args.includes("--resume"));
        assert.ok(second.args.includes("--resume"), "resumed after the reset");
      },
    );

    await t.step(
      "a task past its --timeout is a timeout; a cancelled one is cancelled",
      async () => {
        const late = await runJson([
          "--ships",
          a,
          "--timeout",
          "2s",
          "--wait",
          "--json",
          "--",
          "[stall 30] slow",
        ]);
        assert.equal(late.code, 1);
        assert.equal(late.outcomes[0].status, "timeout");
        const started = await cli([
          "agent",
          "run",
          "--ships",
          a,
          "--json",
          "--",
          "[stall 30] long",
        ]);
        const [{ id }] = JSON.parse(started.stdout);
        await eventually(
          async () => {
            const shown = JSON.parse(
              (await cli(["agent", "show", id, "--json"])).stdout,
            ) as TaskOutcome;
            return shown.status === "running" ? true : undefined;
          },
          20_000,
          "the task to start",
        );
        const cancelled = await cli(["agent", "cancel", id.slice(0, 8), "--json"]);
        assert.equal(cancelled.code, 0, cancelled.stderr);
        assert.deepEqual(JSON.parse(cancelled.stdout), { id, ship: a, outcome: "stopped" });
        const shown = JSON.parse(
          (await cli(["agent", "show", id, "--json"])).stdout,
        ) as TaskOutcome;
        assert.equal(shown.status, "cancelled");
        // The hook hears both: the runner tells a timeout from a cancel in the scheduler's grace.
        const events = (await Deno.readTextFile(join(world.vmHome(a), "notify.jsonl")))
          .split("\n").filter(Boolean).map((line) => JSON.parse(line));
        const ended = (taskId: string) =>
          events.find((event) => event.id === taskId && event.event === "ended")?.status;
        assert.equal(ended(late.outcomes[0].id), "timeout");
        assert.equal(ended(id), "cancelled");
      },
    );

    await t.step("the library: fleet.agents.run gives settled outcomes", async () => {
      const script = `
        import { Fleet } from "@smithclay/ohcommodore";
        await using fleet = await Fleet.open();
        const outcomes = await fleet.agents.run("from a script", { ships: ["${a}"], branch: "lib" });
        console.log(JSON.stringify(outcomes.map((o) => [o.ship, o.status, o.branch, o.commits.length])));
      `;
      const result = await world.laptopScript(script, { env });
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), [[a, "done", "lib", 1]]);
    });

    await t.step("failures are outcomes: is_error, a crash, no credentials; exit 1", async () => {
      const failed = await runJson(["--ships", a, "--wait", "--json", "--", "[fail] try"]);
      assert.equal(failed.code, 1);
      assert.equal(failed.outcomes[0].status, "error");
      assert.equal(failed.outcomes[0].isError, true);
      assert.match(failed.outcomes[0].error ?? "", /error_during_execution/);
      const crashed = await runJson(["--ships", a, "--wait", "--json", "--", "[crash] try"]);
      assert.equal(crashed.outcomes[0].status, "error");
      assert.equal(crashed.outcomes[0].exitCode, 3);
      // No credentials on b: its .env loses the token.
      const envFile = join(world.vmHome(b), ".ohcommodore/.env");
      const text = await Deno.readTextFile(envFile);
      await Deno.writeTextFile(envFile, text.replace(/^CLAUDE_CODE_OAUTH_TOKEN=.*\n/m, ""));
      const bare = await runJson(["--ships", b, "--wait", "--json", "--", "hello"]);
      assert.equal(bare.outcomes[0].status, "error");
      assert.match(bare.outcomes[0].error ?? "", /Invalid API key/);
      await Deno.writeTextFile(envFile, text);
    });

    await t.step("fleet costs add up what every task cost", async () => {
      const tasks = JSON.parse((await cli(["agent", "list", "--json"])).stdout) as TaskOutcome[];
      const costs = await cli(["fleet", "costs", "--json"]);
      assert.equal(costs.code, 0, costs.stderr);
      const { ships, totalUsd } = JSON.parse(costs.stdout);
      for (const ship of [a, b]) {
        const own = tasks.filter((task) => task.ship === ship);
        const entry = ships.find((entry: { name: string }) => entry.name === ship);
        assert.equal(entry.tasks, own.length);
        const sum = own.reduce((total, task) => total + (task.costUsd ?? 0), 0);
        assert.ok(Math.abs(entry.costUsd - sum) < 1e-6, `${ship}: ${entry.costUsd} vs ${sum}`);
      }
      assert.ok(totalUsd > 0.05, `${totalUsd}: a dozen tasks at $0.0125`);
      const sum = ships.reduce(
        (total: number, ship: { costUsd: number }) => total + ship.costUsd,
        0,
      );
      assert.ok(Math.abs(totalUsd - sum) < 1e-6);
    });

    await t.step("no token in argv, logs, task files or readable files", async () => {
      for (const ship of [a, b]) {
        for (const call of await calls(ship)) assert.ok(!call.args.join(" ").includes(TOKEN));
        const home = world.vmHome(ship);
        const holding: string[] = [];
        for (const file of await walk(home)) {
          const info = await Deno.stat(file);
          if (info.size > 4 * 1024 * 1024) continue;
          const readable = ((info.mode ?? 0) & 0o004) !== 0;
          const text = await Deno.readTextFile(file).catch(() => "");
          if (!text.includes(TOKEN)) continue;
          holding.push(file);
          assert.ok(!readable, `${file} is readable by others and holds the token`);
          assert.ok(file.endsWith("/.ohcommodore/.env"), `${file} holds the token`);
        }
        // The scan sees the one file that should hold it: it would see another.
        assert.deepEqual(holding, [join(home, ".ohcommodore/.env")]);
      }
      const listed = await cli(["agent", "list", "--json"]);
      assert.ok(!listed.stdout.includes(TOKEN));
    });

    await t.step("bad input is refused before anything is sent", async () => {
      const cases: [string[], RegExp][] = [
        [["agent", "run", "--", "x"], /Say which ships: --ships <a,b> or --all/],
        [["agent", "run", "--all", "--push", "--", "x"], /--push and --pr need --branch/],
        [["agent", "run", "--all", "--branch", "-bad", "--", "x"], /is not a branch name/],
        [["agent", "run", "--all", "--max-turns", "0", "--", "x"], /Invalid --max-turns "0"/],
        [["agent", "run", "--ships", "nope", "--", "x"], /No ship matches "nope"/],
        [["agent", "show", "ffffffffffff"], /No ship has a task "ffffffffffff"/],
      ];
      for (const [args, expected] of cases) {
        const result = await cli(args);
        assert.notEqual(result.code, 0, args.join(" "));
        assert.match(result.stderr, expected, args.join(" "));
      }
    });
  },
});

async function walk(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory && entry.name !== ".cache" && entry.name !== ".git") {
      files.push(...await walk(path));
    } else if (entry.isFile) files.push(path);
  }
  return files;
}
