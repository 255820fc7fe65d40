/**
 * Agent tasks that stop, share a ship or hit a limit, end to end (issue 19 §3, §4, §8): the real
 * CLI on the laptop, a ship behind the fixture lobby over real SSH, the stand-in `claude`
 * (tests/helpers/claude_standin.ts) and a bare repository as `origin`. Each test has its own
 * world, so they run side by side.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { agentFleet } from "./helpers/agent_standins.ts";
import { FleetWorld } from "./helpers/fleet_world.ts";
import { eventually } from "./helpers/local_member.ts";
import { run, type RunResult, sshWorldUnavailable } from "./helpers/sshd_world.ts";
import type { TaskOutcome } from "../lib/agent/task.ts";
import type { TaskState } from "../lib/agent/task_state.ts";

const ignore = sshWorldUnavailable() !== undefined;
const env = {
  SKIP_STEPS: "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell",
  GH_TOKEN: "ghp_agentSessionsToken0",
  CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-standinSessionsToken",
};

interface Call {
  args: string[];
  prompt: string;
}

/** A fleet with one ship whose repository's origin is a bare repository it may push to. */
async function oneShip(world: FleetWorld, extraEnv: Record<string, string> = {}) {
  const { cli, origin, ships: [ship] } = await agentFleet(world, { ...env, ...extraEnv }, 1);
  const home = world.vmHome(ship);
  return {
    cli,
    ship,
    origin,
    home,
    /** Each call of the stand-in on the ship. */
    calls: async (): Promise<Call[]> =>
      (await Deno.readTextFile(join(home, ".claude-standin/calls.jsonl")).catch(() => ""))
        .trim().split("\n").filter(Boolean).map((line) => JSON.parse(line)),
    /** The task's state file on the ship, as its runner keeps it. */
    state: async (id: string): Promise<TaskState | undefined> =>
      JSON.parse(
        await Deno.readTextFile(join(home, ".ohcommodore/tasks", `${id}.json`)).catch(() => "null"),
      ) ?? undefined,
    /** `agent run … --wait --json`, with its outcomes. */
    runWait: async (args: string[]) => {
      const result = await cli(["agent", "run", "--ships", ship, "--wait", "--json", ...args]);
      return { ...result, outcomes: JSON.parse(result.stdout || "[]") as TaskOutcome[] };
    },
    /** `agent run` without waiting: the task's id. */
    start: async (args: string[]): Promise<string> => {
      const result = await cli(["agent", "run", "--ships", ship, "--json", ...args]);
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout)[0].id;
    },
    show: async (id: string): Promise<TaskOutcome> => {
      const result = await cli(["agent", "show", id, "--json"]);
      assert.equal(result.stderr, "");
      return JSON.parse(result.stdout);
    },
  };
}

async function originSha(origin: string, ref: string): Promise<string> {
  return (await run(["git", "--git-dir", origin, "rev-parse", ref])).stdout.trim();
}

function parsed(result: RunResult): TaskOutcome[] {
  return JSON.parse(result.stdout);
}

Deno.test({
  name: "a cancelled or timed-out task keeps its session and branch; resume continues the " +
    "ship's last task, or refuses and says why",
  ignore,
  sanitizeResources: false,
  async fn() {
    await using world = await FleetWorld.start();
    const { cli, ship, origin, calls, state, runWait, start, show } = await oneShip(world);
    // An older task with a session of its own, on a branch of its own.
    const first = await runWait(["--branch", "one", "--push", "--", "first"]);
    assert.equal(first.code, 0, first.stderr);
    const older = first.outcomes[0].sessionId;
    assert.ok(older);

    // A task cancelled while it works: its outcome keeps the session its task file holds.
    const id = await start(["--branch", "two", "--push", "--", "[stall 30] second"]);
    const session = await eventually(
      async () => (await state(id))?.sessionId ?? undefined,
      30_000,
      "the second task's session",
    );
    assert.notEqual(session, older);
    const early = await cli(["agent", "resume", ship, "--", "too soon"]);
    assert.equal(early.code, 1, early.stderr);
    assert.match(
      early.stderr,
      new RegExp(`The last task of ${ship}, "${id}", is running; wait for it .*or cancel it`),
    );
    const cancelled = await cli(["agent", "cancel", id, "--json"]);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    const stopped = await show(id);
    assert.equal(stopped.status, "cancelled");
    assert.equal(stopped.sessionId, session, "the session the ship's task file holds");
    assert.equal((await state(id))?.sessionId, session);
    assert.equal(stopped.branch, "two");

    // resume continues that task's session on its branch, not the older one's.
    const before = (await calls()).length;
    const resumed = await cli(["agent", "resume", ship, "--push", "--wait", "--json", "--", "on"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const [outcome] = parsed(resumed);
    assert.equal(outcome.sessionId, session);
    assert.equal(outcome.branch, "two");
    const call = (await calls())[before];
    assert.equal(call.args[call.args.indexOf("--resume") + 1], session);
    assert.equal(outcome.commits.length, 1);
    assert.equal(await originSha(origin, "two"), outcome.commits[0].sha);
    assert.notEqual(await originSha(origin, "one"), outcome.commits[0].sha);

    // A task past its --timeout keeps its session and branch too.
    const late = await runWait(["--branch", "three", "--timeout", "3s", "--", "[stall 30] third"]);
    assert.equal(late.code, 1);
    const [timedOut] = late.outcomes;
    assert.equal(timedOut.status, "timeout");
    assert.ok(timedOut.sessionId);
    assert.equal(timedOut.sessionId, (await state(timedOut.id))?.sessionId);
    assert.equal(timedOut.branch, "three");
    const shownLate = await show(timedOut.id);
    assert.equal(shownLate.status, "timeout");
    assert.equal(shownLate.sessionId, timedOut.sessionId);

    // A last task without a session (Claude Code never started) is not skipped for an older one.
    const claude = join(world.vmHome(ship), ".local/bin/claude");
    await Deno.rename(claude, `${claude}.away`);
    const bare = await runWait(["--", "no claude"]);
    await Deno.rename(`${claude}.away`, claude);
    assert.equal(bare.outcomes[0].status, "error");
    assert.equal(bare.outcomes[0].sessionId, null);
    const count = (await calls()).length;
    const refused = await cli(["agent", "resume", ship, "--", "go on"]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      new RegExp(
        `The last task of ${ship}, "${bare.outcomes[0].id}" \\(error\\), has no Claude Code ` +
          `session to continue: it ended before Claude Code started`,
      ),
    );
    assert.match(refused.stderr, /start a new task with "ohcommodore agent run --ships /);
    assert.equal((await calls()).length, count, "nothing was resumed");
  },
});

Deno.test({
  name: "at scheduler concurrency 2, two agent tasks on one ship take turns with its checkout: " +
    "each branch gets its own commit, each outcome lists its own",
  ignore,
  sanitizeResources: false,
  async fn() {
    await using world = await FleetWorld.start();
    const { cli, ship, origin, state, start, show } = await oneShip(world);
    const program = join(world.vmHome(ship), ".local/bin/ohcommodore");
    const set = await world.execAs(world.vmUser(ship), [program, "scheduler", "concurrency", "2"]);
    assert.equal(set.code, 0, set.stderr);
    const main = await originSha(origin, "main");

    const first = await start(["--branch", "a", "--push", "--", "[stall 6] work on a"]);
    await eventually(
      async () => (await state(first))?.sessionId ? true : undefined,
      30_000,
      "the first task to start Claude Code",
    );
    const second = await start(["--branch", "b", "--push", "--", "work on b"]);
    // Both run at once as the scheduler sees them; the second waits for the checkout, and says so.
    const waiting = await eventually(
      async () => {
        const tasks = JSON.parse((await cli(["agent", "list", "--json"])).stdout) as TaskOutcome[];
        return tasks.find((task) => task.id === second && task.status === "waiting");
      },
      20_000,
      "the second task to wait for the checkout",
    );
    assert.equal(waiting.sessionId, null, "its Claude Code has not started");
    const listed = await cli(["agent", "list"]);
    assert.match(listed.stdout, new RegExp(`${second}\\s+${ship}\\s+waiting`));
    const followed = await cli(["agent", "follow", second]);
    assert.equal(followed.code, 0, followed.stderr);
    assert.match(
      followed.stdout,
      new RegExp(`^waits for task ${first} to finish with the checkout .*/web$`, "m"),
    );

    const a = await eventually(async () => {
      const outcome = await show(first);
      return outcome.status === "running" ? undefined : outcome;
    }, 30_000);
    const b = await show(second);
    for (const [outcome, branch] of [[a, "a"], [b, "b"]] as const) {
      assert.equal(outcome.status, "done", JSON.stringify(outcome));
      assert.equal(outcome.branch, branch);
      assert.equal(outcome.commits.length, 1, JSON.stringify(outcome.commits));
      assert.match(outcome.commits[0].subject, new RegExp(`work on ${branch}$`));
      assert.equal(await originSha(origin, branch), outcome.commits[0].sha, `${branch} in origin`);
      const onBranch = await run(["git", "--git-dir", origin, "rev-list", `${main}..${branch}`]);
      assert.deepEqual(onBranch.stdout.trim().split("\n"), [outcome.commits[0].sha]);
    }
  },
});

Deno.test({
  name: "a usage limit's reset shows in local time in agent show, agent list and fleet status, " +
    "ended or waited out; --retry-on-limit adds up every attempt's cost and tokens",
  ignore,
  sanitizeResources: false,
  async fn() {
    await using world = await FleetWorld.start();
    // The laptop's time zone, half an hour off whole hours, so no other zone's clock matches.
    const zone = "Asia/Kolkata";
    const { cli, ship, runWait, start, show } = await oneShip(world, { TZ: zone });
    const limited = await runWait(["--", "[limit] heavy"]);
    assert.equal(limited.code, 1);
    const [outcome] = limited.outcomes;
    assert.equal(outcome.status, "rate_limited");
    assert.match(outcome.resetAt ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const local = new Intl.DateTimeFormat("en-GB", {
      timeZone: zone,
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    }).format(new Date(outcome.resetAt!));
    const reset = new RegExp(`rate_limited, (resets|reset at) ${local}\\b`);

    const shown = await cli(["agent", "show", outcome.id]);
    assert.match(shown.stdout, reset);
    assert.doesNotMatch(shown.stdout, /\|\d{9,}/, "not Claude Code's raw reset");
    assert.match(shown.stdout, new RegExp(`usage limit reached; (resets|reset at) ${local}\\b`));
    const listed = await cli(["agent", "list"]);
    assert.match(listed.stdout, reset);
    const status = await cli(["fleet", "status"]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`rate_limited .*(resets|reset at) ${local}\\b`));
    const statusJson = JSON.parse((await cli(["fleet", "status", "--json"])).stdout);
    const entry = statusJson.ships.find((entry: { name: string }) => entry.name === ship);
    assert.equal(entry.task.resetAt, outcome.resetAt);
    assert.equal(
      JSON.parse((await cli(["agent", "show", outcome.id, "--json"])).stdout).resetAt,
      outcome.resetAt,
    );

    // Limited ($0.001, 100 in, 20 out), then resumed after the reset ($0.0125, 100 in, 20 out).
    const retried = await runWait(["--retry-on-limit", "--", "[limit] heavy"]);
    assert.equal(retried.code, 0, retried.stderr);
    const [done] = retried.outcomes;
    assert.equal(done.status, "done");
    assert.equal(done.attempts, 2);
    assert.equal(done.costUsd, 0.0135);
    assert.deepEqual(done.usage, {
      inputTokens: 200,
      outputTokens: 40,
      cacheCreationInputTokens: 0,
      cacheReadInputTokens: 0,
    });
    const shownDone = await cli(["agent", "show", done.id]);
    assert.match(shownDone.stdout, /done\s+\$0\.0135 \(2 attempts\)/);
    assert.match(shownDone.stdout, /Tokens: 200 input, 40 output/);
    const costs = JSON.parse((await cli(["fleet", "costs", "--json"])).stdout);
    assert.equal(costs.totalUsd, 0.0145, "the limited task's $0.001, and both attempts' $0.0135");

    // A task that waits out a limit to resume says until when, where people look.
    const waiter = await start(["--retry-on-limit", "--", "[limit 120] patient"]);
    const waiting = await eventually(
      async () => {
        const tasks = JSON.parse((await cli(["agent", "list", "--json"])).stdout) as TaskOutcome[];
        return tasks.find((task) => task.id === waiter && task.status === "waiting");
      },
      30_000,
      "the task to wait for the limit's reset",
    );
    assert.match(waiting.resetAt ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const waitLocal = new Intl.DateTimeFormat("en-GB", {
      timeZone: zone,
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    }).format(new Date(waiting.resetAt!));
    const resets = new RegExp(`waiting, resets ${waitLocal} \\(in [0-9hms]+\\)`);
    assert.match((await cli(["agent", "list"])).stdout, resets);
    assert.match((await cli(["agent", "show", waiter])).stdout, resets);
    const statusWaiting = await cli(["fleet", "status"]);
    assert.match(statusWaiting.stdout, new RegExp(`waiting .*resets ${waitLocal}\\b`));
    // Cancelled while it waits: the limited attempt was paid for, and is counted.
    assert.equal((await cli(["agent", "cancel", waiter])).code, 0);
    const stopped = await eventually(async () => {
      const outcome = await show(waiter);
      return outcome.status === "cancelled" ? outcome : undefined;
    }, 20_000);
    assert.equal(stopped.attempts, 1);
    assert.equal(stopped.costUsd, 0.001);
  },
});
