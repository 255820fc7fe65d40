/**
 * Ships made by copying, beside ships set up from nothing (issue 22 part 3); prints numbers,
 * asserts nothing. Needs root and openssh-server: the real CLI runs as a "laptop" user against the
 * fixture exe.dev lobby (tests/helpers/fleet_world.ts), whose `cp` copies a VM's home whole, and
 * every VM shares this machine's cores. Run with `deno task bench:copy`.
 *
 * In one run, alternating so that both see the same machine:
 * - `ship create <repo>` (a full create: init.sh, with its network steps skipped, as in the tests)
 *   and `ship create <repo> --from <template>` (a copy, made its own by `_setup-copy`), one ship
 *   each: the command's wall time, the ship's own part (from its first VM step to ready), and the
 *   machine's CPU time;
 * - `ship create <repo> --from <template> --count 10` beside one copy.
 *
 * Every ship is checked ready after its command: its scheduler answers (`inbox identity` through
 * its own program) and its checkout is at origin's head (origin moves on after the template was
 * made, so a copy must fetch). Counted per command, as the fleet bench counts: new authenticated
 * ssh connections and sessions at sshd (its `LogLevel VERBOSE` log), by target; program starts
 * through the launcher (laptop, flagship, ships; each ship's scheduler, started by the program
 * itself, is one more in both ways and not in the log); lobby calls.
 *
 * Where the time goes: each single ship's progress lines split it into what came before its first
 * VM step, making the VM, reaching it and setting it up; a scheduler's start is timed apart (both
 * ways end with one), so the bench prints what a copy shares with a full create, the least a copy
 * can take here. Where the CPU goes: process accounting (process_accounting.ts) sums it by user,
 * that is by simulated machine, so the share that VMs of their own would not share is apart from
 * the flagship's.
 *
 * Options: `--runs=N` pairs of single creates (default 5), `--count-runs=N` runs of --count 10
 * (default 2), `--count=N` (default 10).
 */

import { join } from "node:path";
import { lineSplitter } from "../lib/lines.ts";
import { writeIdentity } from "../lib/identity.ts";
import { Inbox } from "../lib/inbox/inbox.ts";
import { startSchedulerService, stopSchedulerService } from "../lib/inbox/scheduler_service.ts";
import { memberPaths } from "../lib/paths.ts";
import { selfCommand } from "../lib/self_command.ts";
import { FleetWorld } from "../tests/helpers/fleet_world.ts";
import {
  type CpuByRole,
  cpuByRole,
  cpuText,
  machineCpuSeconds,
  ProcessAccounting,
  roleInWorld,
} from "./process_accounting.ts";
import { run, runuserArgs, sshWorldUnavailable } from "../tests/helpers/sshd_world.ts";

const ENV = {
  SKIP_STEPS: "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell",
  GH_TOKEN: "ghp_benchDummyToken000",
  CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-benchDummy",
};

function option(name: string, fallback: number): number {
  const given = Deno.args.find((arg) => arg.startsWith(`--${name}=`));
  const value = given ? Number(given.slice(name.length + 3)) : fallback;
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} needs a number`);
  return value;
}

const RUNS = Math.max(1, option("runs", 5));
const COUNT_RUNS = Math.max(1, option("count-runs", 2));
const COUNT = Math.max(2, option("count", 10));

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** What one command cost, counted from the world's logs. */
interface Counts {
  connections: Record<string, number>;
  sessions: Record<string, number>;
  starts: Record<string, number>;
  lobby: Record<string, number>;
}

interface Measured {
  label: string;
  wallMs: number;
  /** CPU-seconds the whole machine spent while the command ran. */
  cpuS: number;
  /** The same, less what the machine was spending just before (other people's work, here). */
  ownCpuS: number;
  /** Per ship: from its first VM step (creating, copying) to ready, and ready since the start. */
  ships: { name: string; ownMs: number; readyAtMs: number; phases: Phases }[];
  /** CPU-seconds by where it ran (laptop, flagship, lobby, ship: the new ones, root), and program. */
  cpu: CpuByRole;
  counts: Counts;
}

/**
 * Where one ship's time went, from its progress lines: before its first VM step (the laptop's
 * program, the flagship's call), making the VM (new or copied), reaching it, and setting it up
 * (the program, settings and init.sh; or `_setup-copy`), until ready.
 */
interface Phases {
  before: number;
  make: number;
  reach: number;
  setUp: number;
}

const PHASE_NAMES: Record<keyof Phases, string> = {
  before: "before its first VM step",
  make: "making the VM",
  reach: "reaching it",
  setUp: "setting it up",
};

// A ship's progress lines (text, ms since the command started) as phases.
function phasesOf(steps: [string, number][], end: number): Phases {
  const at = (pattern: RegExp) => steps.find(([text]) => pattern.test(text))?.[1] ?? NaN;
  const made = at(/^(creating the VM|copying)/);
  const reaching = at(/^waiting for it to answer/);
  const settingUp = steps.find(([, time]) => time > reaching)?.[1] ?? NaN;
  const ready = at(/^ready/) || end;
  return {
    before: made,
    make: reaching - made,
    reach: settingUp - reaching,
    setUp: ready - settingUp,
  };
}

class CopyBench {
  readonly world: FleetWorld;
  #sshdOffset = 0;
  #launchOffset = 0;
  #lobbyOffset = 0;

  constructor(world: FleetWorld) {
    this.world = world;
  }

  async #mark(): Promise<void> {
    this.#sshdOffset = (await Deno.stat(this.world.sshdLog)).size;
    this.#launchOffset = (await Deno.stat(this.world.launchLog)).size;
    this.#lobbyOffset = this.world.lobbyCalls().length;
  }

  async #collect(): Promise<Counts> {
    await new Promise((resolve) => setTimeout(resolve, 150)); // sshd writes a moment later
    const tail = async (path: string, offset: number) =>
      new TextDecoder().decode((await Deno.readFile(path)).subarray(offset));
    const counts: Counts = { connections: {}, sessions: {}, starts: {}, lobby: {} };
    const add = (into: Record<string, number>, key: string) => into[key] = (into[key] ?? 0) + 1;
    for (const line of (await tail(this.world.sshdLog, this.#sshdOffset)).split("\n")) {
      const accepted = line.match(/^Accepted publickey for (\S+) /);
      if (accepted) add(counts.connections, roleInWorld(this.world, accepted[1]));
      const session = line.match(/^Starting session: .* for (\S+) from /);
      if (session) add(counts.sessions, roleInWorld(this.world, session[1]));
    }
    for (const line of (await tail(this.world.launchLog, this.#launchOffset)).split("\n")) {
      if (line) add(counts.starts, roleInWorld(this.world, line.split(" ")[0]));
    }
    for (const call of this.world.lobbyCalls().slice(this.#lobbyOffset)) {
      add(counts.lobby, call.argv[0] ?? "?");
    }
    return counts;
  }

  /** Runs `ohcommodore ship create …` on the laptop, timing each ship's progress lines. */
  async create(label: string, args: string[]): Promise<Measured> {
    await this.#mark();
    const { user, home } = this.world.laptop;
    const program = join(home, ".local", "bin", "ohcommodore");
    const env = { OHCOMMODORE_SHIP_BIN: this.world.shipBin, ...ENV };
    // The machine is shared: what it spends in the second before is taken as its background.
    const idleStart = await machineCpuSeconds();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const background = await machineCpuSeconds() - idleStart;
    await using accounting = await ProcessAccounting.start(join(this.world.dir, "pacct"));
    const cpuBefore = await machineCpuSeconds();
    const start = performance.now();
    const child = new Deno.Command("runuser", {
      args: runuserArgs(user, home, [program, "ship", "create", ...args, "--json"], env),
      cwd: home,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const firstStep = new Map<string, number>();
    const readyAt = new Map<string, number>();
    const steps = new Map<string, [string, number][]>();
    const [stdout, stderr, status] = await Promise.all([
      new Response(child.stdout).text(),
      (async () => {
        let text = "";
        let at = 0;
        const lines = lineSplitter((line) => {
          const progress = line.match(/^\s*(ship-\S+): (.*)$/);
          if (progress) {
            steps.set(progress[1], [...steps.get(progress[1]) ?? [], [progress[2], at]]);
          }
          const step = line.match(/^\s*(ship-\S+): (creating the VM|copying|ready)/);
          if (!step) return;
          if (step[2] === "ready") readyAt.set(step[1], at);
          else if (!firstStep.has(step[1])) firstStep.set(step[1], at);
        });
        for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
          at = performance.now() - start;
          text += chunk;
          lines.push(chunk);
        }
        return text;
      })(),
      child.status,
    ]);
    const wallMs = performance.now() - start;
    const cpuS = await machineCpuSeconds() - cpuBefore;
    const cpu = await cpuByRole(await accounting.stop(), this.world);
    const ownCpuS = Math.max(0, cpuS - background * wallMs / 1000);
    if (status.code !== 0) throw new Error(`ship create ${args.join(" ")} failed:\n${stderr}`);
    const counts = await this.#collect();
    const names: string[] = JSON.parse(stdout).map((ship: { name: string }) => ship.name);
    const ships = names.map((name) => ({
      name,
      ownMs: (readyAt.get(name) ?? wallMs) - (firstStep.get(name) ?? 0),
      readyAtMs: readyAt.get(name) ?? wallMs,
      phases: phasesOf(steps.get(name) ?? [], wallMs),
    }));
    console.log(
      `  ${label}: ${s(wallMs)} (ships ready at ${
        ships.map((ship) => s(ship.readyAtMs)).join(", ")
      }` +
        `; their own part ${ships.map((ship) => s(ship.ownMs)).join(", ")}), CPU ${
          cpuS.toFixed(2)
        } s (${ownCpuS.toFixed(2)} s above the second before)`,
    );
    return { label, wallMs, cpuS, ownCpuS, ships, counts, cpu };
  }

  /** Checks a ship is ready: its scheduler answers as itself, its checkout is at `head`. */
  async checkReady(name: string, head: string): Promise<void> {
    const vmUser = this.world.vmUser(name);
    const home = this.world.vmHome(name);
    const identity = await this.world.execAs(vmUser, [
      join(home, ".local/bin/ohcommodore"),
      "scheduler",
      "status",
      "--json",
    ]);
    const state = JSON.parse(identity.stdout || "{}");
    if (identity.code !== 0 || state.running !== true) {
      throw new Error(
        `${name}: its scheduler does not answer: ${identity.stdout}${identity.stderr}`,
      );
    }
    const at = await this.world.execAs(vmUser, [
      "git",
      "-C",
      join(home, "web"),
      "rev-parse",
      "HEAD",
    ]);
    if (at.stdout.trim() !== head) {
      throw new Error(`${name} is at ${at.stdout.trim()}, not ${head}`);
    }
  }

  async destroy(names: string[]): Promise<void> {
    const program = join(this.world.laptop.home, ".local", "bin", "ohcommodore");
    for (const name of names) {
      const result = await this.world.execAs(this.world.laptop.user, [
        program,
        "ship",
        "destroy",
        name,
        "--force",
      ], { env: { ...ENV } });
      if (result.code !== 0) throw new Error(`ship destroy ${name}: ${result.stderr}`);
    }
  }
}

/**
 * A scheduler's start, from the spawn of its program to its answer, on a fresh inbox: what a new
 * ship's setup ends by waiting for, init.sh's as much as `_setup-copy`'s. Run here as root
 * (`deno run` with the program's own flags, as a ship's launcher runs it).
 */
async function schedulerStarts(dir: string, times: number): Promise<number[]> {
  const home = await Deno.makeTempDir({ dir, prefix: "scheduler-start-" });
  await writeIdentity({ role: "captain", name: "timing" }, home);
  const taken: number[] = [];
  try {
    for (let i = 0; i < times; i++) {
      const inbox = await Inbox.open({ home });
      const start = performance.now();
      await startSchedulerService(inbox, selfCommand());
      taken.push(performance.now() - start);
      await stopSchedulerService(inbox);
      await Deno.remove(memberPaths(home).shipDir, { recursive: true });
    }
  } finally {
    await stopSchedulerService(await Inbox.open({ home })).catch(() => {});
    await Deno.remove(home, { recursive: true });
  }
  return taken;
}

function countsText(counts: Counts): string {
  const text = (record: Record<string, number>) =>
    Object.entries(record).sort().map(([key, value]) => `${key} ${value}`).join(", ") || "none";
  return `new ssh connections: ${text(counts.connections)}; sessions: ${
    text(counts.sessions)
  }; program starts: ${text(counts.starts)}; lobby: ${text(counts.lobby)}`;
}

async function main(): Promise<void> {
  const unavailable = sshWorldUnavailable();
  if (unavailable) {
    console.log(`copy bench skipped: ${unavailable}`);
    return;
  }
  const load = async () => (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3);
  console.log(
    `copy bench: ${navigator.hardwareConcurrency} cores, load ${(await load()).join(" ")}, ` +
      `${RUNS} pairs of single creates, ${COUNT_RUNS} runs of --count ${COUNT}`,
  );
  await using world = await FleetWorld.start({ logs: true });
  const bench = new CopyBench(world);
  const init = await world.cli(["init"], { env: ENV });
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  const origin = new URL(await world.bareRepo("web")).pathname;
  const spec = `file://${origin}`;
  console.log("\nThe template (a full create, not counted):");
  const template = (await bench.create("template", [spec])).ships[0].name;
  // Origin moves on after the template was made: a copy must fetch to be at its head.
  const work = await Deno.makeTempDir({ dir: world.dir });
  const git = ["git", "-C", work, "-c", "user.name=B", "-c", "user.email=b@example.test"];
  await run(["git", "clone", "-q", origin, work]);
  await Deno.writeTextFile(join(work, "NEWS.md"), "after the template\n");
  await run([...git, "add", "NEWS.md"]);
  await run([...git, "commit", "-q", "-m", "After the template"]);
  await run(["git", "-C", work, "push", "-q", "origin", "HEAD:main"]);
  await Deno.remove(work, { recursive: true });
  const head = (await run(["git", "--git-dir", origin, "rev-parse", "main"])).stdout.trim();

  console.log(`\nOne ship, alternating (${RUNS} pairs):`);
  const full: Measured[] = [];
  const copies: Measured[] = [];
  for (let i = 0; i < RUNS; i++) {
    for (
      const [into, label, args] of [
        [full, "full create", [spec]],
        [copies, "copy", [spec, "--from", template]],
      ] as const
    ) {
      const measured = await bench.create(label, [...args]);
      for (const ship of measured.ships) await bench.checkReady(ship.name, head);
      await bench.destroy(measured.ships.map((ship) => ship.name));
      into.push(measured);
    }
  }

  console.log(`\n--count ${COUNT} --from (${COUNT_RUNS} runs):`);
  const many: Measured[] = [];
  for (let i = 0; i < COUNT_RUNS; i++) {
    const measured = await bench.create(`--count ${COUNT} --from`, [
      spec,
      "--from",
      template,
      "--count",
      String(COUNT),
    ]);
    for (const ship of measured.ships) await bench.checkReady(ship.name, head);
    await bench.destroy(measured.ships.map((ship) => ship.name));
    many.push(measured);
  }

  const schedulerStart = median(await schedulerStarts(world.dir, 7));

  const wall = (runs: Measured[]) => median(runs.map((run) => run.wallMs));
  const own = (runs: Measured[]) => median(runs.flatMap((run) => run.ships.map((s) => s.ownMs)));
  const cpu = (runs: Measured[]) => median(runs.map((run) => run.cpuS));
  const ownCpu = (runs: Measured[]) => median(runs.map((run) => run.ownCpuS));
  const lastReady = (runs: Measured[]) =>
    median(runs.map((run) => Math.max(...run.ships.map((ship) => ship.readyAtMs))));
  console.log(`\nResults (medians; load now ${(await load()).join(" ")}):`);
  console.log(
    `  full create, 1 ship: ${s(wall(full))} for the command, ${s(own(full))} the ship's own ` +
      `part (create, reach, program, files, init.sh), CPU ${cpu(full).toFixed(2)} s ` +
      `(${ownCpu(full).toFixed(2)} s above the background)`,
  );
  console.log(
    `  copy, 1 ship:        ${s(wall(copies))} for the command, ${s(own(copies))} the ship's own ` +
      `part (cp, reach, _setup-copy), CPU ${cpu(copies).toFixed(2)} s ` +
      `(${ownCpu(copies).toFixed(2)} s above the background)`,
  );
  console.log(
    `  copy / full create: ${
      (wall(copies) / wall(full)).toFixed(2)
    }x the command (goal <= 0.5x), ` +
      `${(own(copies) / own(full)).toFixed(2)}x the ship's own part`,
  );
  // The parts both ways share (the laptop, the flagship's call, reaching the VM) and the ones
  // each has its own, single ships.
  const phase = (runs: Measured[], name: keyof Phases) =>
    median(runs.flatMap((run) => run.ships.map((ship) => ship.phases[name])));
  const names = Object.keys(PHASE_NAMES) as (keyof Phases)[];
  console.log(
    `  where a single ship's time goes (medians): ${
      names.map((name) => PHASE_NAMES[name]).join(" | ")
    }`,
  );
  for (const [label, runs] of [["full create", full], ["copy", copies]] as const) {
    console.log(
      `    ${label.padEnd(12)} ${names.map((name) => s(phase(runs, name))).join(" | ")}`,
    );
  }
  const shared = phase(copies, "before") + phase(copies, "reach") + schedulerStart;
  console.log(
    `    a scheduler's start to its answer (fresh inbox, 7 times): ${s(schedulerStart)}; ` +
      `both ways end their setup with one`,
  );
  console.log(
    `    what a copy shares with a full create (before its first VM step, reaching it, a ` +
      `scheduler's start): ${s(shared)}, ${(shared / wall(full)).toFixed(2)}x a full create; ` +
      `with the copy's own VM step: ${s(shared + phase(copies, "make"))}, ${
        ((shared + phase(copies, "make")) / wall(full)).toFixed(2)
      }x, the least a copy takes here`,
  );
  console.log(
    `  --count ${COUNT} --from: ${s(wall(many))} for the command, the last ship ready at ` +
      `${s(lastReady(many))}, CPU ${cpu(many).toFixed(2)} s (${
        ownCpu(many).toFixed(2)
      } s above the background); ${(wall(many) / wall(copies)).toFixed(2)}x one copy (goal <= 2x)`,
  );
  // Every "VM" here shares this machine's cores: the CPU a run needs bounds its wall time.
  const cores = navigator.hardwareConcurrency;
  const floor = (1000 * ownCpu(many)) / cores;
  console.log(
    `  the CPU of --count ${COUNT} above the background (${ownCpu(many).toFixed(2)} s: every ` +
      `VM's share, on these ${cores} cores) cannot take less than ${s(floor)}: ` +
      `${(floor / wall(copies)).toFixed(2)}x one copy here at best; on VMs each copy's share ` +
      `runs on its own CPU`,
  );
  // On exe.dev every VM has CPUs of its own: only the flagship's, the laptop's and the lobby's
  // work is shared between the copies of one command.
  const sharedCpu = (run: Measured) =>
    ["flagship", "laptop", "lobby"].reduce((sum, role) => sum + (run.cpu.byRole[role] ?? 0), 0);
  console.log(`\nCPU by where it ran (process accounting; the last run of each):`);
  console.log(`  full create:  ${cpuText(full.at(-1)!.cpu.byRole)}`);
  console.log(`  copy:         ${cpuText(copies.at(-1)!.cpu.byRole)}`);
  console.log(`  --count ${COUNT}:   ${cpuText(many.at(-1)!.cpu.byRole)}`);
  console.log(
    `  shared by the copies of one command on VMs (flagship, laptop, lobby): ` +
      `${sharedCpu(copies.at(-1)!).toFixed(2)} s for one copy, ` +
      `${sharedCpu(many.at(-1)!).toFixed(2)} s for --count ${COUNT}; the rest runs on each copy ` +
      `(its user here) or is this machine's stand-in for exe.dev (root: sshd before a login, ` +
      `the lobby's copy of each home)`,
  );
  const programs = many.at(-1)!.cpu.byProgram;
  for (const role of ["ship", "flagship", "root"]) {
    console.log(`    --count ${COUNT}, ${role} by program: ${cpuText(programs[role] ?? {}, 6)}`);
  }
  console.log(`\nCounted, one command each (the last run):`);
  console.log(`  full create:  ${countsText(full.at(-1)!.counts)}`);
  console.log(`  copy:         ${countsText(copies.at(-1)!.counts)}`);
  console.log(`  --count ${COUNT}:   ${countsText(many.at(-1)!.counts)}`);
}

if (import.meta.main) await main();
