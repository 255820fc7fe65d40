/**
 * A plan's makespan and dispatch latency, with the stand-in `claude` of the tests; prints
 * numbers, asserts nothing. Needs root and openssh-server. Run with `deno task bench:plan`.
 *
 * A plan of N tasks (default 40) that each take S seconds of the stand-in's time (default 1),
 * with no dependencies, over K keyless ships (default 4), verified (`true`) and integrated onto
 * one branch. Printed beside each other, from one run:
 *
 * - the makespan (plan run to its end, from the plan's events) beside the ideal: N × S / K, the
 *   agents' time alone;
 * - idle to next: for each ship, from the driver taking in one attempt's outcome (the ship is
 *   idle) to its sending that ship the next attempt (the driver's own latency, its events'
 *   times); and from the stand-in's end of one task to its start on the next one on that ship
 *   (everything in between: the task's own end, the outcome's way back, the driver, the
 *   delivery, the task's start), from the stand-in's record;
 * - the integrations: each one's time, since the plan's branch moves one task at a time.
 *
 * Options: `--tasks=N`, `--seconds=S`, `--ships=K`.
 */

import { join } from "node:path";
import { agentFleet } from "../tests/helpers/agent_standins.ts";
import { FleetWorld } from "../tests/helpers/fleet_world.ts";
import { sshWorldUnavailable } from "../tests/helpers/sshd_world.ts";
import type { PlanEvent, PlanSummary } from "../lib/plan/plan_types.ts";

const ENV = {
  SKIP_STEPS: "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell",
  GH_TOKEN: "ghp_benchDummyToken000",
  CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-benchDummy",
};
const option = (name: string, fallback: number) =>
  Number(Deno.args.find((arg) => arg.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const TASKS = option("tasks", 40);
const SECONDS = option("seconds", 1);
const SHIPS = option("ships", 4);

const unavailable = sshWorldUnavailable();
if (unavailable) {
  console.error(`plan bench skipped: ${unavailable}`);
  Deno.exit(0);
}

await using world = await FleetWorld.start();
console.error(`making a flagship and ${SHIPS} ships…`);
const { cli, ships } = await agentFleet(world, ENV, SHIPS);
const dir = await Deno.makeTempDir({ dir: world.dir, prefix: "bench-" });
await Deno.chmod(dir, 0o755);
const file = join(dir, "plan.json");
await Deno.writeTextFile(
  file,
  JSON.stringify({
    verify: "true",
    tasks: Array.from({ length: TASKS }, (_, i) => ({
      id: `t${i + 1}`,
      prompt: `task ${i + 1} [sleep ${SECONDS}]`,
    })),
  }),
  { mode: 0o644 },
);

console.error(`running ${TASKS} tasks of ${SECONDS} s over ${SHIPS} ships…`);
const ran = await cli(["plan", "run", file, "--integrate", "bench", "--wait", "--json"]);
const summary = JSON.parse(ran.stdout || "null") as PlanSummary | null;
if (!summary) throw new Error(`the plan did not run: ${ran.stderr}`);
for (const task of summary.tasks.filter((task) => task.status !== "done")) {
  console.log(`not done: ${task.id} ${task.status} on ${task.ship}: ${task.error}`);
}
const followed = await cli(["plan", "follow", summary.id, "--json"]);
const events = followed.stdout.trim().split("\n").map((line) => JSON.parse(line) as PlanEvent);
const at = (event: PlanEvent) => Date.parse(event.at);

const makespan = at(events.at(-1)!) - at(events[0]);
const ideal = (TASKS * SECONDS * 1000) / SHIPS;

// The driver: from an outcome taken in (verify_passed, or an integration's end) to the next
// dispatch to the same ship.
const driverGaps: number[] = [];
const freedAt = new Map<string, number>();
for (const event of events) {
  if (!event.ship) continue;
  if (["verify_passed", "integrated", "attempt_failed", "verify_failed"].includes(event.type)) {
    freedAt.set(event.ship, at(event));
  }
  if (event.type === "dispatched" || event.type === "integrating") {
    const freed = freedAt.get(event.ship);
    if (freed !== undefined) driverGaps.push(at(event) - freed);
    freedAt.delete(event.ship);
  }
}

// The stand-in: from its end on one task to its start on the next, per ship.
const shipGaps: number[] = [];
for (const ship of ships) {
  const text = await Deno.readTextFile(join(world.vmHome(ship), ".claude-standin/calls.jsonl"));
  const calls = text.trim().split("\n").map((line) => JSON.parse(line) as { at: number });
  const ends = await standinEnds(ship);
  for (let i = 1; i < calls.length && i - 1 < ends.length; i++) {
    shipGaps.push(calls[i].at - ends[i - 1]);
  }
}

const integrations: number[] = [];
const began = new Map<string, number>();
for (const event of events) {
  if (event.type === "integrating") began.set(event.task!, at(event));
  if (event.type === "integrated") integrations.push(at(event) - began.get(event.task!)!);
}

console.log(
  `plan ${summary.id}: ${summary.status}, ${TASKS} tasks of ${SECONDS} s, ${SHIPS} ships`,
);
console.log(
  `makespan                    ${ms(makespan)}   ideal ${ms(ideal)}   ` +
    `(${(makespan / ideal).toFixed(2)}×)`,
);
console.log(
  `idle → next dispatch        ${stats(driverGaps)}   (the driver, ${driverGaps.length})`,
);
console.log(`stand-in end → next start   ${stats(shipGaps)}   (end to end, ${shipGaps.length})`);
console.log(
  `one integration             ${stats(integrations)}   (one at a time, ` +
    `${ms(integrations.reduce((a, b) => a + b, 0))} in all)`,
);

// When the stand-in printed each result on a ship, oldest first: from its agent tasks' output
// in the ship's own inbox (each result line carries standin_end_ms).
async function standinEnds(ship: string): Promise<number[]> {
  const program = join(world.vmHome(ship), ".local/bin/ohcommodore");
  const inbox = (args: string[]) => world.execAs(world.vmUser(ship), [program, "inbox", ...args]);
  const listed = JSON.parse((await inbox(["list", "--json", "--limit", "1000"])).stdout) as {
    id: string;
    command: string;
  }[];
  const ends: number[] = [];
  for (const { id, command } of listed.reverse()) {
    if (!command.startsWith("# ohcommodore agent task")) continue;
    const shown = JSON.parse((await inbox(["show", "--json", "--", id])).stdout);
    const end = /"standin_end_ms":(\d+)/.exec(shown.result ?? "")?.[1];
    if (end) ends.push(Number(end));
  }
  return ends;
}

function stats(values: number[]): string {
  if (values.length === 0) return "n/a";
  const sorted = [...values].sort((a, b) => a - b);
  const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return `p50 ${ms(pick(0.5))}  p90 ${ms(pick(0.9))}  max ${ms(sorted.at(-1)!)}`;
}

function ms(value: number): string {
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}
