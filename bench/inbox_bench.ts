/**
 * Inbox benchmarks; prints numbers, asserts nothing. Needs root and openssh-server for the SSH
 * parts (the same world the end-to-end tests use). Run with `deno task bench`.
 *
 * - delivery-to-start latency: from `deliver()` returning to the command's first instruction,
 *   with the scheduler in its own process (p50/p95 over 200 messages)
 * - delivery throughput: local (library, one process) and over SSH (CLI, concurrent senders)
 * - `inbox send --wait 'true'` over SSH against a bare `ssh host true`
 */

import { fileURLToPath } from "node:url";
import { Inbox, writeIdentity } from "../mod.ts";
import { schedulerState } from "../lib/inbox/scheduler_service.ts";
import { SshWorld } from "../tests/helpers/sshd_world.ts";
import { tempDir } from "../tests/helpers/temp_dir.ts";

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function median(values: number[]): number {
  return percentile(values, 50);
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

async function localLatencyAndThroughput(): Promise<void> {
  await using temp = await tempDir("ohc-bench-");
  const home = temp.path;
  await writeIdentity({ role: "captain", name: "bench" }, home);
  const inbox = await Inbox.open({ home });
  const scheduler = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, "_scheduler"],
    env: { HOME: home },
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    while (!(await schedulerState(inbox)).running) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const latencies: number[] = [];
    for (let i = 0; i < 200; i++) {
      const message = await inbox.deliver({ recipient: inbox.address, command: "date +%s%3N" });
      const returned = Date.now();
      const finished = await inbox.waitFor(message.id);
      latencies.push(Number(finished.result) - returned);
    }
    console.log(
      `delivery-to-start latency (200 messages, scheduler in its own process): ` +
        `p50 ${median(latencies)} ms, p95 ${percentile(latencies, 95)} ms, ` +
        `max ${Math.max(...latencies)} ms`,
    );
    const count = 300;
    const ms = await timed(async () => {
      for (let i = 0; i < count; i++) {
        await inbox.deliver({ recipient: inbox.address, command: "true" });
      }
    });
    console.log(
      `local delivery throughput (library, one process, sequential): ` +
        `${(count / (ms / 1000)).toFixed(0)} messages/s (${(ms / count).toFixed(1)} ms each)`,
    );
  } finally {
    scheduler.kill("SIGTERM");
    await scheduler.status;
  }
}

async function overSsh(): Promise<void> {
  await using world = await SshWorld.start({ vms: ["vm-a", "vm-b"] });
  await world.writeIdentity("vm-a", { role: "captain", name: "vm-a" });
  await world.writeIdentity("vm-b", { role: "captain", name: "vm-b" });
  world.spawnCli("vm-b", ["_scheduler"]);
  const ssh = ["ssh", "vm-b", "true"];
  const wait = ["ohcommodore", "inbox", "send", "captain@vm-b", "true", "--wait"];
  await world.exec("vm-a", wait); // warm caches and the control master
  const bare: number[] = [];
  const waited: number[] = [];
  for (let i = 0; i < 15; i++) {
    bare.push(await timed(() => world.exec("vm-a", ssh)));
    waited.push(await timed(() => world.exec("vm-a", wait)));
  }
  console.log(
    `ssh vm-b true: median ${median(bare).toFixed(0)} ms; ` +
      `inbox send --wait 'true': median ${median(waited).toFixed(0)} ms; ` +
      `ratio ${(median(waited) / median(bare)).toFixed(1)}x (15 runs each)`,
  );
  const senders = 10;
  const each = 10;
  const loop =
    `for i in $(seq 1 ${each}); do ohcommodore inbox send captain@vm-b true >/dev/null || exit 1; done`;
  const ms = await timed(() =>
    Promise.all(Array.from({ length: senders }, () => world.exec("vm-a", ["bash", "-c", loop])))
  );
  const total = senders * each;
  console.log(
    `over-SSH delivery throughput (CLI, ${senders} concurrent senders x ${each}): ` +
      `${(total / (ms / 1000)).toFixed(1)} messages/s (${total} in ${(ms / 1000).toFixed(1)} s)`,
  );
}

console.log(
  `ohcommodore inbox bench, ${new Date().toISOString()}, ${navigator.hardwareConcurrency} cores`,
);
await localLatencyAndThroughput();
await overSsh();
