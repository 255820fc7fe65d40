/**
 * Inbox benchmarks; prints numbers beside what each is compared with, asserts nothing. Needs
 * root and openssh-server (the end-to-end tests' world: two Unix users stand in for two VMs on
 * one loopback sshd). Run with `deno task bench:inbox`.
 *
 * Measured from a library script on vm-a, delivering into vm-b's inbox over ssh, with vm-b's
 * scheduler (the inbox server) running:
 *
 * - one delivery (library `send`, warm shared connection and forward), p50, beside a multiplexed
 *   `ssh vm-b true` on the same shared connection; and the forward's bare round trip
 * - deliveries per second, 50 in flight
 * - delivery to start: from `send` returning to the command's first instruction (bash's own
 *   `$EPOCHREALTIME`), p50/p95
 * - recipient CPU per delivery: every process of vm-b's user (scheduler and sshd), CPU-ms
 * - 200 trivial commands (`echo … >> file`): how long until all ran, after the last send
 * - the CLI's `inbox send --wait true`, beside an unmultiplexed `ssh vm-b true`
 * - follow: from a line being written on vm-b to the follower on vm-a hearing it
 */

import { SshWorld } from "../tests/helpers/sshd_world.ts";

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const median = (values: number[]) => percentile(values, 50);

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

// What runs on vm-a, as its user: the library, as a script of theirs would use it.
const WORKER = `
import { send } from "@smithclay/ohcommodore";
import { Ssh } from "@smithclay/ohcommodore/ssh";
import { connectToMember } from "@lib/inbox/tunnel.ts";
import { RemoteInbox } from "@lib/inbox/remote_inbox.ts";

const to = "captain@vm-b";
const ssh = new Ssh();
const inbox = new RemoteInbox(to, "vm-b", ssh);
const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const result = {};
await send(to, "true", { wait: true }); // the forward is set up here, once

const server = await connectToMember("vm-b", ssh, to);
const trips = [];
for (let i = 0; i < 500; i++) {
  const start = performance.now();
  await server.call("hello", {});
  trips.push(performance.now() - start);
}
server.close();
result.forwardRoundTripP50 = percentile(trips, 50);

const deliveries = [];
for (let i = 0; i < 200; i++) {
  const start = performance.now();
  await send(to, "true");
  deliveries.push(performance.now() - start);
}
result.deliveryP50 = percentile(deliveries, 50);
result.deliveryP95 = percentile(deliveries, 95);

const starts = [];
for (let i = 0; i < 100; i++) {
  // bash's own clock: the command's first instruction, not a second program's start.
  const message = await send(to, "echo $EPOCHREALTIME");
  const returned = performance.timeOrigin + performance.now();
  const finished = await inbox.waitFor(message.id);
  starts.push(Number(finished.result) * 1000 - returned);
}
result.startP50 = percentile(starts, 50);
result.startP95 = percentile(starts, 95);

const count = Number(Deno.args[0] ?? 2000);
// A long command first: the deliveries queue behind it, so the recipient's CPU below is the
// deliveries' own, not that of running them.
const blocker = await send(to, "sleep 600");
console.log(JSON.stringify({ phase: "throughput" }));
await new Promise((resolve) => setTimeout(resolve, 300)); // the bench reads CPU counters now
let next = 0;
const began = performance.now();
await Promise.all(Array.from({ length: 50 }, async () => {
  while (next < count) {
    next++;
    await send(to, "true");
  }
}));
result.throughputPerSec = count / ((performance.now() - began) / 1000);
result.throughputCount = count;
console.log(JSON.stringify({ phase: "throughput done" }));
const lastQueued = await send(to, "true");
await inbox.cancel(blocker.id);
const draining = performance.now();
await inbox.waitFor(lastQueued.id);
result.drainPerSec = (count + 1) / ((performance.now() - draining) / 1000);

const trivial = [];
const firstSend = performance.now();
for (let i = 0; i < 200; i++) trivial.push(await send(to, "echo " + i + " >> ~/trivial.log"));
const lastSend = performance.now();
await inbox.waitFor(trivial.at(-1).id);
const allRan = performance.now();
result.trivialAfterLastSendMs = allRan - lastSend;
result.trivialPerSec = 200 / ((allRan - firstSend) / 1000);

const lags = [];
const followed = await send(to, "for i in $(seq 30); do date +%s%3N; sleep 0.05; done", {
  wait: true,
  onOutput: (chunk) => {
    const now = Date.now();
    for (const line of chunk.text.trim().split("\\n")) lags.push(now - Number(line));
  },
});
result.followLines = lags.length;
result.followExit = followed.exitCode;
result.followLagP50 = percentile(lags, 50);
result.followLagMax = Math.max(...lags);
console.log(JSON.stringify({ result }));
`;

// CPU time (ms) of every process a user runs now, itself only (its children's is theirs).
async function cpuMsOfUser(uid: number): Promise<number> {
  const ticksPerSec = 100;
  let ticks = 0;
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const status = await Deno.readTextFile(`/proc/${entry.name}/status`);
      if (Number(status.match(/^Uid:\s+(\d+)/m)?.[1]) !== uid) continue;
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // gone meanwhile
    }
  }
  return (ticks / ticksPerSec) * 1000;
}

console.log(
  `ohcommodore inbox bench, ${new Date().toISOString()}, ${navigator.hardwareConcurrency} cores ` +
    `(shared by both "VMs", sshd and the bench)`,
);
await using world = await SshWorld.start({ vms: ["vm-a", "vm-b"] });
await world.writeIdentity("vm-a", { role: "captain", name: "vm-a" });
await world.writeIdentity("vm-b", { role: "captain", name: "vm-b" });
world.spawnCli("vm-b", ["_scheduler"]);
await world.cli("vm-a", ["--version"]); // vm-a's program cache, which the worker starts from
const uidB = Number((await world.exec("vm-b", ["id", "-u"])).stdout.trim());

// The worker prints phases as it goes, so the recipient's CPU is read around the throughput run.
let cpuBefore = 0;
let cpuAfter = 0;
const lines: string[] = [];
const worker = world.script("vm-a", WORKER, ["2000"], {
  onLine: async (line) => {
    lines.push(line);
    const { phase } = JSON.parse(line);
    if (phase === "throughput") cpuBefore = await cpuMsOfUser(uidB);
    if (phase === "throughput done") cpuAfter = await cpuMsOfUser(uidB);
  },
});
const run = await worker;
if (run.code !== 0) throw new Error(`the worker failed: ${run.stderr}`);
const r = JSON.parse(lines.at(-1)!).result;

const control = 'ControlPath="/tmp/ohc-ssh-$(id -u)/%C"';
const sshTrue = (shared: boolean) =>
  world.exec("vm-a", [
    "bash",
    "-c",
    shared
      ? `exec ssh -o ControlMaster=auto -o ${control} -o ControlPersist=60 vm-b true`
      : "exec ssh -o ControlMaster=no -o ControlPath=none vm-b true",
  ]);
const multiplexed: number[] = [];
const unmultiplexed: number[] = [];
const cliWait: number[] = [];
const cli = ["ohcommodore", "inbox", "send", "captain@vm-b", "true", "--wait"];
await world.exec("vm-a", cli);
for (let i = 0; i < 15; i++) {
  multiplexed.push(await timed(() => sshTrue(true)));
  unmultiplexed.push(await timed(() => sshTrue(false)));
  cliWait.push(await timed(() => world.exec("vm-a", cli)));
}
// runuser's own start is in both sides of each comparison alike.
const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 0)} ms`;
const rows: [string, string, string][] = [
  [
    "one delivery, p50 (library, warm forward)",
    `${ms(r.deliveryP50)} (p95 ${ms(r.deliveryP95)})`,
    `multiplexed ssh vm-b true: ${ms(median(multiplexed))} ` +
    `(${(r.deliveryP50 / median(multiplexed)).toFixed(2)}x)`,
  ],
  ["forward round trip, p50 (hello)", ms(r.forwardRoundTripP50), "target: 0.22 ms measured in §7"],
  [
    "deliveries per second, 50 in flight",
    `${r.throughputPerSec.toFixed(0)} (${r.throughputCount} deliveries)`,
    "target: >= 1000",
  ],
  ["delivery to start, p50", `${ms(r.startP50)} (p95 ${ms(r.startP95)})`, "target: <= 5 ms"],
  [
    "recipient CPU per delivery",
    ms((cpuAfter - cpuBefore) / r.throughputCount),
    "target: <= 5 ms (was ~450 ms: two Deno + DuckDB starts)",
  ],
  [
    "queued `true` commands run, per second",
    `${r.drainPerSec.toFixed(0)} (${r.throughputCount + 1} queued)`,
    "target: >= 100 commands/s",
  ],
  [
    "200 trivial commands",
    `all ran ${ms(r.trivialAfterLastSendMs)} after the last send; ` +
    `${r.trivialPerSec.toFixed(0)} commands/s overall`,
    "target: >= 100 commands/s",
  ],
  [
    "CLI inbox send --wait true, median",
    ms(median(cliWait)),
    `unmultiplexed ssh vm-b true: ${ms(median(unmultiplexed))} ` +
    `(${(median(cliWait) / median(unmultiplexed)).toFixed(2)}x)`,
  ],
  [
    "follow: written on vm-b to heard on vm-a",
    `p50 ${ms(r.followLagP50)}, max ${ms(r.followLagMax)} (${r.followLines} lines)`,
    "target: <= 50 ms",
  ],
];
const width = Math.max(...rows.map(([name]) => name.length));
for (const [name, value, against] of rows) {
  console.log(`${name.padEnd(width)}  ${value}\n${"".padEnd(width)}  vs ${against}`);
}
