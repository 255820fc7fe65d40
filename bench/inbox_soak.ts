/**
 * Inbox soak: 10,000 deliveries from a library script on vm-a into vm-b's inbox over ssh, while
 * vm-b's scheduler is killed with SIGKILL twice and vm-a's shared ssh connection (which carries
 * the socket forward) is killed once. Each delivery has its own id and is sent again, with the
 * same id, only when the sender knows it was not delivered or cannot tell (a repeat is stored
 * once). Afterwards it counts what was lost (ids not in the inbox) and what ran twice (ids
 * written twice by their command). Prints numbers; asserts nothing. Needs root and
 * openssh-server. Run with `deno task bench:soak`.
 */

import { SshWorld } from "../tests/helpers/sshd_world.ts";

const TOTAL = Number(Deno.args[0] ?? 10_000);

const WORKER = `
import { DeliveryInterruptedError, send } from "@smithclay/ohcommodore";

const total = Number(Deno.args[0]);
let next = 0;
let done = 0;
let retries = 0;
const failures = new Map();
const idOf = (i) => "5" + i.toString(16).padStart(15, "0");
await Promise.all(Array.from({ length: 20 }, async () => {
  while (next < total) {
    const id = idOf(next++);
    for (let attempt = 1;; attempt++) {
      try {
        await send("captain@vm-b", "echo " + id + " >> ~/soak.log", { id, timeoutMs: 60_000 });
        break;
      } catch (error) {
        // Delivered, as the id's look-up says: never sent again.
        if (error instanceof DeliveryInterruptedError && error.found) break;
        failures.set(error.name, (failures.get(error.name) ?? 0) + 1);
        if (attempt >= 30) throw error;
        retries++;
        await new Promise((resolve) => setTimeout(resolve, 200 * Math.min(attempt, 10)));
      }
    }
    if (++done % 500 === 0) console.log(JSON.stringify({ sent: done }));
  }
}));
console.log(JSON.stringify({ result: { retries, failures: Object.fromEntries(failures) } }));
`;

const began = performance.now();
console.log(`ohcommodore inbox soak, ${new Date().toISOString()}, ${TOTAL} deliveries`);
await using world = await SshWorld.start({ vms: ["vm-a", "vm-b"] });
await world.writeIdentity("vm-a", { role: "captain", name: "vm-a" });
await world.writeIdentity("vm-b", { role: "captain", name: "vm-b" });
world.spawnCli("vm-b", ["_scheduler"]);
await world.cli("vm-a", ["--version"]); // vm-a's program cache, which the worker starts from

const events: string[] = [];
const at = (fraction: number) => Math.floor(TOTAL * fraction);
const faults = new Map<number, () => Promise<void>>([
  [at(0.25), () => kill("vm-b", ["-f", "_scheduler"], "vm-b's scheduler (SIGKILL)")],
  [at(0.5), () => kill("vm-a", ["-x", "ssh"], "vm-a's ssh connections (SIGKILL)")],
  [at(0.75), () => kill("vm-b", ["-f", "_scheduler"], "vm-b's scheduler (SIGKILL)")],
]);
async function kill(vm: string, pattern: string[], what: string) {
  const user = world.vm(vm).user;
  const killed = await world.exec(vm, ["pkill", "-KILL", "-u", user, ...pattern]);
  events.push(`${what} at ${done} delivered${killed.code === 0 ? "" : " (nothing to kill)"}`);
}

let done = 0;
const lines: string[] = [];
const run = await world.script("vm-a", WORKER, [String(TOTAL)], {
  timeoutMs: 3_600_000,
  onLine: async (line) => {
    lines.push(line);
    const sent = JSON.parse(line).sent;
    if (sent === undefined) return;
    done = sent;
    for (const [threshold, fault] of faults) {
      if (sent >= threshold) {
        faults.delete(threshold);
        await fault();
      }
    }
  },
});
if (run.code !== 0) throw new Error(`the worker failed: ${run.stderr}`);
const sendMs = performance.now() - began;
const { retries, failures } = JSON.parse(lines.at(-1)!).result;

const sql = async (query: string) => {
  const result = await world.cli("vm-b", ["inbox", "sql", query, "--json"]);
  if (result.code !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout).rows as string[][];
};
// Until nothing waits or runs (a delivery after the last kill started a scheduler again).
for (;;) {
  const [[open]] = await sql("SELECT count(*) FROM inbox WHERE status IN ('unread', 'running')");
  if (Number(open) === 0) break;
  await new Promise((resolve) => setTimeout(resolve, 1000));
}
const [[stored, distinct]] = await sql("SELECT count(*), count(DISTINCT id) FROM inbox");
const byStatus = await sql("SELECT status, count(*) FROM inbox GROUP BY 1 ORDER BY 1");
const log = (await world.exec("vm-b", ["cat", `${world.vm("vm-b").home}/soak.log`])).stdout;
const writes = new Map<string, number>();
for (const id of log.trim().split("\n")) writes.set(id, (writes.get(id) ?? 0) + 1);
const twice = [...writes.values()].filter((count) => count > 1).length;

console.log(`faults: ${events.join("; ")}`);
console.log(
  `sender: ${retries} resends with the same id; failures seen: ${JSON.stringify(failures)}`,
);
console.log(
  `deliveries: ${TOTAL}; in the inbox: ${stored} rows, ${distinct} ids; ` +
    `lost: ${TOTAL - Number(distinct)} (must be 0)`,
);
console.log(`statuses: ${byStatus.map(([status, count]) => `${status} ${count}`).join(", ")}`);
console.log(
  `commands that ran: ${writes.size}; ran twice: ${twice} (must be 0); ` +
    `not run (marked error when their scheduler was killed mid-run, never re-run): ` +
    `${TOTAL - writes.size}`,
);
console.log(
  `time: all sent in ${(sendMs / 1000).toFixed(0)} s, all finished ` +
    `${((performance.now() - began - sendMs) / 1000).toFixed(0)} s later`,
);
