/**
 * What one compromised keyless ship can make its flagship hold: the memory (VmRSS) of the
 * flagship's scheduler before, during and after a flood from the ship's side of its channel;
 * prints numbers, asserts nothing. Needs root and openssh-server. Run with
 * `deno task bench:flood`.
 *
 * Code on ship A talks to the flagship's relay socket directly (as an attacker would, past the
 * CLI), in two waves:
 *
 * 1. held messages: 8 connections relay 1 MiB commands to the flagship (held until a person
 *    approves) for `--seconds` (default 20): what the ship may leave waiting there;
 * 2. unfinished lines: 150 connections each write 8.3 MB without a newline, then hold on.
 *
 * After each wave the connections close and the scheduler's memory is read again. Beside each
 * number stands what the same flood did before the limits (issue 18, measured there).
 */

import { join } from "node:path";
import { FleetWorld } from "../tests/helpers/fleet_world.ts";
import { eventually } from "../tests/helpers/local_member.ts";
import { sshWorldUnavailable } from "../tests/helpers/sshd_world.ts";

const ENV = {
  SKIP_STEPS: "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell",
  GH_TOKEN: "ghp_benchDummyToken000",
};
const seconds = Number(Deno.args.find((arg) => arg.startsWith("--seconds="))?.slice(10) ?? 20);

// Runs on the ship as its user: the two waves against the relay socket; prints JSON counts.
const ATTACK = `
const [socket, flagship, wave, seconds] = Deno.args;
const enc = new TextEncoder();
const connect = () => Deno.connect({ transport: "unix", path: socket });
async function writeAll(conn, bytes) {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}
if (wave === "held") {
  const big = "x".repeat(1024 * 1024 - 64);
  let accepted = 0, refused = 0, n = 0;
  const until = Date.now() + Number(seconds) * 1000;
  await Promise.all(Array.from({ length: 8 }, async (_, worker) => {
    const conn = await connect();
    const reader = conn.readable.getReader();
    let pending = "";
    while (Date.now() < until) {
      const id = (worker * 1e9 + n++).toString(16).padStart(16, "0");
      const request = { v: 1, id: 1, op: "relay",
        args: { id, recipient: "commodore@" + flagship, command: big } };
      try { await writeAll(conn, enc.encode(JSON.stringify(request) + "\\n")); } catch { break; }
      while (!pending.includes("\\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        pending += new TextDecoder().decode(value);
      }
      const line = pending.slice(0, pending.indexOf("\\n"));
      pending = pending.slice(pending.indexOf("\\n") + 1);
      if (!line) break;
      if (JSON.parse(line).ok) accepted++; else refused++;
    }
    conn.close();
  }));
  console.log(JSON.stringify({ accepted, refused }));
} else {
  const chunk = new Uint8Array(8_300_000).fill(120);
  const conns = [];
  let written = 0;
  await Promise.all(Array.from({ length: 150 }, async () => {
    try {
      const conn = await connect();
      conns.push(conn);
      await writeAll(conn, chunk);
      written++;
    } catch { /* let go by the flagship */ }
  }));
  await new Promise((resolve) => setTimeout(resolve, 3000)); // hold on, as an attacker would
  for (const conn of conns) try { conn.close(); } catch { /* gone */ }
  console.log(JSON.stringify({ connections: 150, whollyWritten: written }));
}
`;

if (import.meta.main) {
  const unavailable = sshWorldUnavailable();
  if (unavailable) {
    console.log(`flood bench skipped: ${unavailable}`);
    Deno.exit(0);
  }
  await using world = await FleetWorld.start();
  const cli = (args: string[]) => world.cli(args, { env: ENV });
  if ((await cli(["init"])).code !== 0) throw new Error("init failed");
  const flagship = world.lobbyVms()[0].name;
  const made = await cli(["ship", "create", "flood"]);
  if (made.code !== 0) throw new Error(`ship create failed: ${made.stderr}`);
  const ship = made.stdout.trim();
  await eventually(
    async () => {
      const status = JSON.parse((await cli(["fleet", "status", "--json"])).stdout);
      return status.ships[0]?.channel === "forward" ? true : undefined;
    },
    60_000,
    "the channel to open",
  );
  const lockPid = join(world.vmHome(flagship), ".local/ship/data.duckdb.scheduler.lock.pid");
  const pid = Number((await Deno.readTextFile(lockPid)).trim());
  const rss = async () => {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
  };
  const script = join(world.vmHome(ship), "flood.js");
  await Deno.writeTextFile(script, ATTACK);
  const socket = join(world.vmHome(ship), ".ohcommodore/run/flagship.sock");
  const attack = async (wave: string) => {
    let peak = 0;
    const sampling = setInterval(async () => peak = Math.max(peak, await rss()), 250);
    const result = await world.execAs(world.vmUser(ship), [
      Deno.execPath(),
      "run",
      "-A",
      script,
      socket,
      flagship,
      wave,
      String(seconds),
    ], { timeoutMs: (seconds + 120) * 1000 });
    clearInterval(sampling);
    if (result.code !== 0) throw new Error(`${wave} wave: ${result.stderr}`);
    // The clients are gone: what the scheduler gives back soon, and a while later.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const soon = await rss();
    await new Promise((resolve) => setTimeout(resolve, 25_000));
    return { peak, soon, later: await rss(), counts: result.stdout.trim() };
  };
  const before = await rss();
  const held = await attack("held");
  const lines = await attack("lines");
  const shipDir = join(world.vmHome(flagship), ".local/ship");
  const du = new TextDecoder().decode(
    (await new Deno.Command("du", { args: ["-sm", shipDir] }).output()).stdout,
  ).split("\t")[0];
  const listed = await world.execAs(world.vmUser(flagship), [
    join(world.vmHome(flagship), ".local/bin/ohcommodore"),
    "inbox",
    "list",
    "--json",
  ]);
  const mb = (value: number) => `${value.toFixed(0).padStart(5)} MB`;
  console.log(`\n=== one keyless ship floods its flagship (scheduler VmRSS) ===\n`);
  console.log(`                                     now      before the limits (issue 18)`);
  console.log(`  before the flood               ${mb(before)}      676 MB`);
  console.log(`  held 1 MiB commands, peak      ${mb(held.peak)}     1700 MB`);
  console.log(`  … 5 s after the clients left  ${mb(held.soon)}`);
  console.log(`  … 30 s after                   ${mb(held.later)}`);
  console.log(`  150 unfinished 8.3 MB lines    ${mb(lines.peak)}     1580 MB`);
  console.log(`  … 5 s after the clients left  ${mb(lines.soon)}     1580 MB (stayed)`);
  console.log(`  … 30 s after                   ${mb(lines.later)}`);
  console.log(`  ~/.local/ship on the flagship  ${du.padStart(5)} MB      300 MB grown`);
  console.log(
    `  inbox list on the flagship     exit ${listed.code}, ` +
      `${
        (listed.stdout.length / 1024 / 1024).toFixed(1)
      } MB     failed ("ended before it answered")`,
  );
  console.log(`\n  held wave: ${held.counts}\n  lines wave: ${lines.counts}`);
}
