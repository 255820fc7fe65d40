/**
 * Deliveries from a library script on the laptop to the flagship (issue 22, part 2); prints
 * numbers beside a multiplexed `ssh <flagship> true` of the same run, asserts nothing. Needs root
 * and openssh-server: the fixture lobby of tests/helpers/fleet_world.ts, where the laptop and
 * every VM are Unix users of one loopback sshd sharing this machine's cores. Run with
 * `deno task bench:delivery`.
 *
 * The script (`Fleet.open()`, then `fleet.flagship.send`) measures, after a warm-up that sets up
 * the shared connection and its forward:
 *
 * - one delivery at a time: p50 and p95 of `send` returning the stored message;
 * - deliveries per second with 10 in flight, and with 50 in flight;
 * - a multiplexed `ssh <flagship> true` on the library's own shared connection, p50, before and
 *   after the deliveries.
 *
 * A `sleep` first holds the flagship's scheduler, so the deliveries queue there instead of
 * running meanwhile on the same cores.
 *
 * Options: `--count=N` deliveries per throughput run (default 2000), `--runs=N` throughput runs
 * of each (default 3; the median is shown), `--sequential=N` deliveries one at a time (default
 * 300).
 */

import { FleetWorld } from "../tests/helpers/fleet_world.ts";
import { sshWorldUnavailable } from "../tests/helpers/sshd_world.ts";

const ENV = {
  SKIP_STEPS: "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell",
  GH_TOKEN: "ghp_benchDummyToken000",
};

function option(name: string, fallback: number): number {
  const given = Deno.args.find((arg) => arg.startsWith(`--${name}=`));
  const value = given ? Number(given.slice(name.length + 3)) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} needs a whole number`);
  return value;
}

const COUNT = option("count", 2000);
const RUNS = option("runs", 3);
const SEQUENTIAL = option("sequential", 300);

// Runs on the laptop, as a person's script would; prints one JSON line of results.
const SCRIPT = `
import { Fleet } from "@smithclay/ohcommodore";
import { transportFor } from "@smithclay/ohcommodore/ssh";
import { Ssh } from "@smithclay/ohcommodore/ssh";

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const median = (values) => percentile(values, 50);
const ssh = new Ssh();
await using fleet = await Fleet.open({ ssh });
const flagship = fleet.flagship;
const sshTrue = async (n) => {
  const transport = transportFor(flagship.destination, ssh);
  const times = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const result = await transport.run(["true"], { timeoutMs: 30_000 });
    if (result.code !== 0) throw new Error("ssh true: " + result.stderr);
    times.push(performance.now() - start);
  }
  return times;
};
const result = {};
const blocker = await flagship.send("sleep 3600");
for (let i = 0; i < 20; i++) await flagship.send("true"); // the forward is set up here, once
const sshBefore = await sshTrue(30);

const one = [];
for (let i = 0; i < ${SEQUENTIAL}; i++) {
  const start = performance.now();
  await flagship.send("true");
  one.push(performance.now() - start);
}
result.oneP50 = percentile(one, 50);
result.oneP95 = percentile(one, 95);

const throughput = async (inFlight) => {
  const rates = [];
  for (let run = 0; run < ${RUNS}; run++) {
    let next = 0;
    const began = performance.now();
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (next < ${COUNT}) {
        next++;
        await flagship.send("true");
      }
    }));
    rates.push(${COUNT} / ((performance.now() - began) / 1000));
  }
  return rates;
};
result.rate10 = await throughput(10);
result.rate50 = await throughput(50);
const sshAfter = await sshTrue(30);
result.sshBeforeP50 = median(sshBefore);
result.sshAfterP50 = median(sshAfter);
result.sshP50 = median([...sshBefore, ...sshAfter]);
await blocker.cancel();
console.log(JSON.stringify({ result }));
`;

if (import.meta.main) {
  const unavailable = sshWorldUnavailable();
  if (unavailable) {
    console.log(`delivery bench skipped: ${unavailable}`);
    Deno.exit(0);
  }
  console.log(
    `ohcommodore delivery bench, ${new Date().toISOString()}, ${navigator.hardwareConcurrency} ` +
      `cores (shared by the laptop, the flagship, sshd and the bench); ${COUNT} deliveries per ` +
      `throughput run, median of ${RUNS}`,
  );
  await using world = await FleetWorld.start();
  const init = await world.cli(["init"], { env: ENV });
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  const run = await world.laptopScript(SCRIPT, { timeoutMs: 1_800_000 });
  if (run.code !== 0) throw new Error(`the laptop's script failed: ${run.stderr}`);
  const r = JSON.parse(run.stdout.trim().split("\n").at(-1)!).result;
  const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`;
  const perSec = (rates: number[]) =>
    `${[...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)].toFixed(0)}/s ` +
    `(runs: ${rates.map((rate) => rate.toFixed(0)).join(", ")})`;
  const rows: [string, string, string][] = [
    [
      "multiplexed ssh <flagship> true, p50",
      ms(r.sshP50),
      `before the deliveries ${ms(r.sshBeforeP50)}, after ${ms(r.sshAfterP50)}`,
    ],
    [
      "one delivery at a time, p50",
      `${ms(r.oneP50)} (p95 ${ms(r.oneP95)})`,
      `${(r.oneP50 / r.sshP50).toFixed(3)}x ssh true; target: no worse than today`,
    ],
    ["deliveries per second, 10 in flight", perSec(r.rate10), "target: >= 500/s"],
    ["deliveries per second, 50 in flight", perSec(r.rate50), "target: >= 2,000/s"],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  for (const [name, value, against] of rows) {
    console.log(`${name.padEnd(width)}  ${value}\n${"".padEnd(width)}  vs ${against}`);
  }
}
