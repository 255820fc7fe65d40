/**
 * What the flagship's relay costs a keyless ship's message, against a trusted ship's direct
 * delivery over its own key; prints numbers, asserts nothing. Needs root and openssh-server. Run
 * with `deno task bench:relay`.
 *
 * Three ships of one fleet behind the fixture lobby: two keyless (A, B) and one `--trusted` (T).
 * Timed, as a person runs them (the CLI on the ship, with its program start), N times each:
 *
 * - `inbox send captain@B 'true' --wait` from A: outbox, channel socket, the flagship's relay,
 *   the flagship's delivery to B, the wait back the same way;
 * - the same from T: a direct delivery over T's own shared connection to B;
 * - `inbox send --note commodore@<flagship>` from A: the relay storing a note on the flagship.
 *
 * Options: `--runs=N` (default 10).
 */

import { join } from "node:path";
import { FleetWorld } from "../tests/helpers/fleet_world.ts";
import { eventually } from "../tests/helpers/local_member.ts";
import { sshWorldUnavailable } from "../tests/helpers/sshd_world.ts";

const ENV = {
  SKIP_STEPS: "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell",
  GH_TOKEN: "ghp_benchDummyToken000",
};
const runs = Number(Deno.args.find((arg) => arg.startsWith("--runs="))?.slice(7) ?? 10);

if (import.meta.main) {
  const unavailable = sshWorldUnavailable();
  if (unavailable) {
    console.log(`relay bench skipped: ${unavailable}`);
    Deno.exit(0);
  }
  await using world = await FleetWorld.start();
  const cli = (args: string[]) => world.cli(args, { env: ENV });
  if ((await cli(["init"])).code !== 0) throw new Error("init failed");
  const flagship = world.lobbyVms()[0].name;
  const keyless = await cli(["ship", "create", "relay", "--count", "2"]);
  const trusted = await cli(["ship", "create", "direct", "--trusted"]);
  if (keyless.code !== 0 || trusted.code !== 0) throw new Error("ship create failed");
  const [a, b] = keyless.stdout.trim().split("\n").sort();
  const t = trusted.stdout.trim();
  const as = (vm: string, args: string[]) =>
    world.execAs(world.vmUser(vm), [join(world.vmHome(vm), ".local/bin/ohcommodore"), ...args]);
  await eventually(
    async () => {
      const status = JSON.parse((await cli(["fleet", "status", "--json"])).stdout);
      const channels = status.ships.filter((ship: { channel: string }) =>
        ship.channel === "forward"
      );
      return channels.length === 2 ? true : undefined;
    },
    60_000,
    "both channels to open",
  );
  const time = async (vm: string, args: string[]) => {
    const started = performance.now();
    const result = await as(vm, args);
    if (result.code !== 0) throw new Error(`${args.join(" ")} on ${vm}: ${result.stderr}`);
    return performance.now() - started;
  };
  const measure = async (vm: string, args: string[]) => {
    await time(vm, args); // warm: connections, forwards, caches
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push(await time(vm, args));
    return median(times);
  };
  const toB = ["inbox", "send", `captain@${b}`, "true", "--wait"];
  const relayed = await measure(a, toB);
  const direct = await measure(t, toB);
  const note = await measure(a, ["inbox", "send", "--note", `commodore@${flagship}`, "ok"]);
  const identity = await measure(a, ["inbox", "identity"]);
  console.log(
    `\n=== relay vs direct, medians of ${runs} (CLI on the ship, program start included) ===\n`,
  );
  console.log(`  send --wait ship -> ship, keyless (relay)   ${ms(relayed)}`);
  console.log(`  send --wait ship -> ship, trusted (direct)  ${ms(direct)}`);
  console.log(`  added by the relay                          ${ms(relayed - direct)}`);
  console.log(`  send --note keyless ship -> flagship        ${ms(note)}`);
  console.log(`  the program alone (inbox identity)          ${ms(identity)}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)];
}

function ms(value: number): string {
  return `${Math.round(value)} ms`.padStart(8);
}
