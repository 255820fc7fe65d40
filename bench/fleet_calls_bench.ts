/**
 * What a look at the fleet costs from the laptop, beside the ssh it is compared with, in one
 * run; prints numbers, asserts nothing. Needs root and openssh-server: the real CLI as a "laptop"
 * user against the fixture exe.dev lobby of tests/helpers/fleet_world.ts, with keyless ships (each
 * VM a Unix user, all on this machine's cores). Run with `deno task bench:calls`.
 *
 * - a fleet call (`fleet.ships()` from a library script, warm) beside a multiplexed
 *   `ssh <flagship> true` from the same script;
 * - `fleet status --json`, `agent list --json` and `fleet costs --json` with 1, 20 and 40 ships
 *   (each warm: the same command once before it is timed);
 * - `inbox send captain@<ship> true --wait` by name beside a fresh, unmultiplexed
 *   `ssh <ship> true`.
 *
 * Beside each size, where a call's CPU went (process accounting, by simulated machine): every
 * ship here answers on the same two cores, where on VMs each answers on its own.
 *
 * Options: `--runs=N` timed runs per command (default 5), `--ships=N` the most ships (default
 * 40).
 */

import { join } from "node:path";
import { FleetWorld } from "../tests/helpers/fleet_world.ts";
import { type CpuByRole, cpuByRole, cpuText, ProcessAccounting } from "./process_accounting.ts";
import { sshWorldUnavailable } from "../tests/helpers/sshd_world.ts";

const ENV = {
  SKIP_STEPS: "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell",
  GH_TOKEN: "ghp_benchDummyToken000",
};
const option = (name: string, fallback: number) =>
  Number(Deno.args.find((arg) => arg.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const RUNS = option("runs", 5);
const MOST = option("ships", 40);

const unavailable = sshWorldUnavailable();
if (unavailable) {
  console.error(`fleet calls bench skipped: ${unavailable}`);
  Deno.exit(0);
}

await using world = await FleetWorld.start();
const cli = (args: string[]) => world.cli(args, { env: ENV });
const must = async (args: string[]) => {
  const result = await cli(args);
  if (result.code !== 0) throw new Error(`${args.join(" ")} failed: ${result.stderr}`);
  return result;
};
const timed = async (args: string[]) => (await timedWithCpu(args)).ms;
// The median time, and what the runs spent, by role, from process accounting.
const timedWithCpu = async (args: string[]): Promise<{ ms: number; cpu: CpuByRole }> => {
  await must(args); // warm
  const times: number[] = [];
  await using accounting = await ProcessAccounting.start(join(world.dir, "pacct"));
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await must(args);
    times.push(performance.now() - start);
  }
  return { ms: median(times), cpu: await cpuByRole(await accounting.stop(), world) };
};

console.error("making the flagship…");
await must(["init"]);
const ships: string[] = [];
const grow = async (to: number) => {
  while (ships.length < to) {
    const count = Math.min(20, to - ships.length);
    console.error(`making ${count} ship(s) (${ships.length} → ${ships.length + count})…`);
    const made = await must(["ship", "create", "scratch", "--count", String(count)]);
    ships.push(...made.stdout.trim().split("\n"));
  }
};

const lines: string[] = [];
const commands = [["fleet", "status", "--json"], ["agent", "list", "--json"], [
  "fleet",
  "costs",
  "--json",
]];
const bySize = new Map<number, number[]>();
const cpuLines: string[] = [];
for (const size of [1, 20, MOST].filter((size, i, all) => all.indexOf(size) === i)) {
  await grow(size);
  const times: number[] = [];
  for (const command of commands) {
    const { ms, cpu } = await timedWithCpu(command);
    times.push(ms);
    cpuLines.push(
      `${command.slice(0, 2).join(" ").padEnd(13)} ${String(size).padStart(2)} ship(s): ` +
        cpuText(cpu.byRole, 5, 1 / RUNS),
    );
  }
  bySize.set(size, times);
}

// A fleet call and a multiplexed ssh true, from one library script, warm.
const script = await world.laptopScript(`
import { Fleet } from "@smithclay/ohcommodore";
import { Ssh } from "@smithclay/ohcommodore/ssh";
await using fleet = await Fleet.open();
const ssh = new Ssh();
const flagship = fleet.facts.flagship;
await fleet.ships(); await ssh.run(flagship, ["true"], { timeoutMs: 30_000 });
const calls = [], trues = [];
for (let i = 0; i < ${RUNS * 4}; i++) {
  let t = performance.now(); await fleet.ships(); calls.push(performance.now() - t);
  t = performance.now(); await ssh.run(flagship, ["true"], { timeoutMs: 30_000 }); trues.push(performance.now() - t);
}
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
console.log(JSON.stringify({ call: median(calls), sshTrue: median(trues) }));
`);
if (script.code !== 0) throw new Error(`the library script failed: ${script.stderr}`);
const { call, sshTrue } = JSON.parse(script.stdout.trim().split("\n").at(-1)!);

// inbox send by name beside a fresh, unmultiplexed ssh to the same ship.
const ship = ships[0];
const sendByName = await timed(["inbox", "send", `captain@${ship}`, "true", "--wait"]);
const destination = (JSON.parse((await must(["fleet", "status", "--json"])).stdout).ships as {
  name: string;
  destination: string;
}[]).find((s) => s.name === ship)!.destination;
const fresh: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const start = performance.now();
  const result = await world.execAs(world.laptop.user, [
    "ssh",
    "-o",
    "ControlMaster=no",
    "-o",
    "ControlPath=none",
    destination,
    "true",
  ]);
  if (result.code !== 0) throw new Error(`ssh ${destination} true failed: ${result.stderr}`);
  fresh.push(performance.now() - start);
}

lines.push(
  `fleet call (fleet.ships(), warm)      ${ms(call)}   multiplexed ssh true ${ms(sshTrue)}` +
    `   (${(call / sshTrue).toFixed(2)}×, target ≤ 1.0×)`,
);
const one = bySize.get(1)!;
for (const [size, times] of bySize) {
  if (size === 1) continue;
  const target = size <= 20 ? "1.3" : "2";
  commands.forEach((command, i) => {
    lines.push(
      `${command.slice(0, 2).join(" ").padEnd(13)} ${String(size).padStart(2)} ships ${
        ms(times[i])
      }   1 ship ${ms(one[i])}   (${(times[i] / one[i]).toFixed(2)}×, target ≤ ${target}×)`,
    );
  });
}
lines.push(
  `inbox send --wait by name              ${ms(sendByName)}   fresh ssh <ship> true ${
    ms(median(fresh))
  }   (${(sendByName / median(fresh)).toFixed(2)}×, target ≤ 1.0×)`,
);
console.log(`\n=== fleet calls (${RUNS} runs each, medians) ===`);
for (const line of lines) console.log(line);
console.log(`\n=== CPU per call, by where it ran (process accounting) ===`);
for (const line of cpuLines) console.log(line);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function ms(value: number): string {
  return `${Math.round(value)} ms`.padStart(7);
}
