/**
 * What ohcommodore adds to an agent task, with the stand-in `claude` of the tests (which starts,
 * prints a few stream-json lines, commits and ends in well under a second); prints numbers,
 * asserts nothing. Needs root and openssh-server. Run with `deno task bench:agent`.
 *
 * A library script on the laptop runs `fleet.agents.start` + `task.follow` on one keyless ship
 * (given as a handle, so no run asks the flagship for the fleet's ships), N times, and beside
 * each the same stand-in as a plain inbox command (`ship.send` + `output()`),
 * which is what a person wrote by hand before `agent run`. Measured, from the laptop's clock
 * (every "VM" shares this machine, so one clock serves):
 *
 * - dispatch to first output line: from the call to the first line of Claude Code's stream at the
 *   laptop; and of that, dispatch to the stand-in's start (its own record);
 * - end of run to outcome: from the stand-in printing its result to the laptop holding the
 *   outcome (for the task: the parsed outcome with commits; for the plain command: the message).
 *
 * The stand-in starts sooner than Claude Code does, so its ratio is the harder one. With
 * `--claude=<path>` (a Claude Code binary every user can run, such as npm's
 * `@anthropic-ai/claude-code-linux-x64/claude`), the bench then measures the same first line with
 * the real program: its first stream-json line (`system`/`init`) comes before any request, which
 * goes to a closed port on this machine (`ANTHROPIC_BASE_URL`), so nothing leaves it and nothing is
 * paid. Each run is cancelled at its first line.
 *
 * Options: `--runs=N` (default 10), `--claude=<path>`.
 */

import { join } from "node:path";
import { installAgentStandins } from "../tests/helpers/agent_standins.ts";
import { FleetWorld } from "../tests/helpers/fleet_world.ts";
import { sshWorldUnavailable } from "../tests/helpers/sshd_world.ts";

const ENV = {
  SKIP_STEPS: "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell",
  GH_TOKEN: "ghp_benchDummyToken000",
  CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-benchDummy",
};
const runs = Number(Deno.args.find((arg) => arg.startsWith("--runs="))?.slice(7) ?? 10);
const realClaude = Deno.args.find((arg) => arg.startsWith("--claude="))?.slice(9);
// Where the real Claude Code sends its requests: a port nothing listens on, refused at once.
const CLOSED_PORT_URL = "http://127.0.0.1:9";
// And what else it might reach for: telemetry, error reports, updates.
const QUIET_CLAUDE = "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1";

// Runs on the laptop; prints one JSON line of timings per run.
const SCRIPT = `
import { Fleet } from "@smithclay/ohcommodore";
await using fleet = await Fleet.open();
const [ship] = await fleet.ships();
const endOf = (line) => { try { const e = JSON.parse(line); return e.type === "result" ? e.standin_end_ms : 0; } catch { return 0; } };
for (let i = 0; i < ${runs}; i++) {
  const t0 = Date.now();
  const [task] = await fleet.agents.start("agent run " + i, { ships: [ship] });
  let first = 0, end = 0;
  const outcome = await task.follow((line) => { first ||= Date.now(); end ||= endOf(line); });
  const agent = { prompt: "agent run " + i, id: task.id, t0, first, end, done: Date.now(), status: outcome.status, commits: outcome.commits.length };
  const p0 = Date.now();
  const sent = await ship.send("echo 'plain run " + i + "' | ~/.local/bin/claude -p --output-format stream-json --verbose");
  let pfirst = 0, pend = 0, text = "";
  for await (const chunk of sent.output()) {
    if (chunk.stream !== "stdout") continue;
    pfirst ||= Date.now();
    text += chunk.text;
    for (const line of text.split("\\n")) pend ||= endOf(line);
  }
  const message = await sent.wait();
  const plain = { prompt: "plain run " + i, id: sent.id, t0: p0, first: pfirst, end: pend, done: Date.now(), status: message.status, scheduled: Date.parse(message.startedAt ?? "") };
  console.log(JSON.stringify({ agent, plain }));
}
`;

// Runs on the laptop with the real Claude Code: each run to its first line, then cancelled.
const FIRST_LINE_SCRIPT = `
import { Fleet } from "@smithclay/ohcommodore";
await using fleet = await Fleet.open();
const [ship] = await fleet.ships();
for (let i = 0; i < ${runs}; i++) {
  const t0 = Date.now();
  const [task] = await fleet.agents.start("agent run " + i, { ships: [ship] });
  let first = 0;
  await task.follow(async (line) => { if (!first) { first = Date.now(); await task.cancel(); } });
  const p0 = Date.now();
  const sent = await ship.send("echo 'plain run " + i + "' | ~/.local/bin/claude -p --output-format stream-json --verbose");
  let pfirst = 0;
  for await (const chunk of sent.output()) {
    if (chunk.stream !== "stdout") continue;
    pfirst = Date.now();
    await sent.cancel();
    break;
  }
  await sent.wait();
  console.log(JSON.stringify({ agent: first - t0, plain: pfirst - p0 }));
}
`;

interface Timing {
  prompt: string;
  id: string;
  /** When the ship's scheduler started the message's process. */
  scheduled?: number;
  /** For an agent task: when the task runner, its modules loaded, began the task. */
  runner?: number;
  t0: number;
  first: number;
  end: number;
  done: number;
  status: string;
}

if (import.meta.main) {
  const unavailable = sshWorldUnavailable();
  if (unavailable) {
    console.log(`agent bench skipped: ${unavailable}`);
    Deno.exit(0);
  }
  await using world = await FleetWorld.start();
  const cli = (args: string[]) => world.cli(args, { env: ENV });
  if ((await cli(["init"])).code !== 0) throw new Error("init failed");
  const origin = await world.bareRepo("web");
  const made = await cli(["ship", "create", origin]);
  if (made.code !== 0) throw new Error(`ship create failed: ${made.stderr}`);
  const ship = made.stdout.trim();
  await installAgentStandins(world, [ship]);
  const result = await world.laptopScript(SCRIPT, { env: ENV, timeoutMs: 600_000 });
  if (result.code !== 0) throw new Error(`the laptop script failed: ${result.stderr}`);
  const rows = result.stdout.trim().split("\n").map((line) => JSON.parse(line)) as {
    agent: Timing;
    plain: Timing;
  }[];
  const calls = (await Deno.readTextFile(join(world.vmHome(ship), ".claude-standin/calls.jsonl")))
    .trim().split("\n").map((line) => JSON.parse(line) as { prompt: string; at: number });
  // When the scheduler started each task's process (its message) and when the runner began it.
  const shipCli = join(world.vmHome(ship), ".local/bin/ohcommodore");
  for (const { agent } of rows) {
    const got = await world.execAs(world.vmUser(ship), [
      shipCli,
      "inbox",
      "show",
      agent.id,
      "--json",
    ]);
    if (got.code !== 0) throw new Error(`inbox show failed: ${got.stderr}`);
    agent.scheduled = Date.parse(JSON.parse(got.stdout).startedAt ?? "");
    const state = join(world.vmHome(ship), ".ohcommodore/tasks", `${agent.id}.json`);
    agent.runner = Date.parse(JSON.parse(await Deno.readTextFile(state)).startedAt);
  }
  const startOf = (timing: Timing) =>
    calls.find((call) => call.prompt.trim() === timing.prompt)?.at ?? NaN;
  const measure = (pick: (row: { agent: Timing; plain: Timing }) => Timing) => ({
    firstLine: median(rows.map((row) => pick(row).first - pick(row).t0)),
    started: median(rows.map((row) => startOf(pick(row)) - pick(row).t0)),
    scheduled: median(rows.map((row) => (pick(row).scheduled ?? NaN) - pick(row).t0)),
    runner: median(rows.map((row) => (pick(row).runner ?? NaN) - (pick(row).scheduled ?? NaN))),
    standin: median(rows.map((row) => pick(row).end - startOf(pick(row)))),
    outcome: median(rows.map((row) => pick(row).done - pick(row).end)),
  });
  const agent = measure((row) => row.agent);
  const plain = measure((row) => row.plain);
  const statuses = [...new Set(rows.map((row) => `${row.agent.status}/${row.plain.status}`))];
  console.log(`\n=== agent task overhead, medians of ${rows.length} runs (${statuses}) ===\n`);
  const line = (what: string, a: number, p: number) =>
    console.log(
      `  ${what.padEnd(42)} ${ms(a).padStart(9)}   ${ms(p).padStart(9)}   ${
        (a - p >= 0 ? "+" : "") + ms(a - p)
      }`,
    );
  console.log(`  ${"".padEnd(42)} ${"agent".padStart(9)}   ${"plain".padStart(9)}   added`);
  line("dispatch -> first output line at the laptop", agent.firstLine, plain.firstLine);
  line("  of which dispatch -> claude started", agent.started, plain.started);
  line("    of which dispatch -> process started", agent.scheduled, plain.scheduled);
  console.log(`      the task runner's start (process -> its task begun): ${ms(agent.runner)}`);
  line("the stand-in's own run (start -> result)", agent.standin, plain.standin);
  line("end of run -> outcome at the laptop", agent.outcome, plain.outcome);
  console.log(
    `  first line: agent ${ratio(agent.firstLine, plain.firstLine)} of plain (target 1.2)`,
  );
  if (realClaude) await withRealClaude(world, ship, realClaude);
}

// The first line again, with the real Claude Code in the stand-in's place.
async function withRealClaude(world: FleetWorld, ship: string, claude: string): Promise<void> {
  if (claude.includes("'")) {
    throw new Error(`--claude=${JSON.stringify(claude)}: give a path without a single quote`);
  }
  const wrapper = join(world.vmHome(ship), ".local/bin/claude");
  await Deno.writeTextFile(
    wrapper,
    `#!/bin/sh\nexport ANTHROPIC_BASE_URL=${CLOSED_PORT_URL} ${QUIET_CLAUDE}\nexec '${claude}' "$@"\n`,
  );
  const result = await world.laptopScript(FIRST_LINE_SCRIPT, { env: ENV, timeoutMs: 600_000 });
  if (result.code !== 0) throw new Error(`the laptop script failed: ${result.stderr}`);
  const rows = result.stdout.trim().split("\n").map((line) => JSON.parse(line)) as {
    agent: number;
    plain: number;
  }[];
  const agent = median(rows.map((row) => row.agent));
  const plain = median(rows.map((row) => row.plain));
  // Claude Code makes files in $TMPDIR and $HOME: the world's, which go with it.
  const version = await new Deno.Command(claude, {
    args: ["--version"],
    env: {
      TMPDIR: world.dir,
      HOME: world.dir,
      ...Object.fromEntries(
        QUIET_CLAUDE.split(" ").map((pair) => pair.split("=")),
      ),
    },
  }).output();
  const name = new TextDecoder().decode(version.stdout).trim() || claude;
  console.log(`\n=== with the real Claude Code (${name}), medians of ${rows.length} runs ===\n`);
  console.log(`  ${"".padEnd(42)} ${"agent".padStart(9)}   ${"plain".padStart(9)}   added`);
  console.log(
    `  ${"dispatch -> first output line at the laptop".padEnd(42)} ${ms(agent).padStart(9)}   ` +
      `${ms(plain).padStart(9)}   +${ms(agent - plain)}`,
  );
  console.log(`  first line: agent ${ratio(agent, plain)} of plain (target 1.2)`);
}

function ratio(value: number, base: number): string {
  return `${(value / base).toFixed(2)}×`;
}

function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : NaN;
}

function ms(value: number): string {
  return `${Math.round(value)} ms`;
}
