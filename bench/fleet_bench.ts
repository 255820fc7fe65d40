/**
 * Fleet benchmarks; prints numbers, asserts nothing. Needs root and openssh-server: it drives the
 * real CLI as a "laptop" user against the fixture exe.dev lobby of tests/helpers/fleet_world.ts,
 * where every VM is a Unix user and all of them share this machine's cores. Run with
 * `deno task bench:fleet` (or `deno task bench`, which runs the inbox bench first).
 *
 * - `ship create <repo> --count 5` compared with one ship: wall time, machine CPU time, ratio
 * - `fleet status --json` with 1 ship and with 20 ships
 * - SSH connections per command: new authenticated connections and sessions at sshd (from its
 *   `LogLevel VERBOSE` log), lobby calls, program starts
 *
 * `ship create` is compared twice. First with VMs that answer ssh at once: that shows the
 * program's own overhead, but all five "VMs" then do their own setup on this machine's cores at
 * the same moment, which exe.dev VMs do not. Then with VMs that refuse ssh for a while after
 * `new`, as exe.dev's do (design.md §4: "a new VM may take seconds before DNS and sshd answer").
 *
 * Options: `--runs=N` warm runs per timed command (default 3), `--status-runs=N` (default 5),
 * `--boot-delay-ms=N` how long a new VM refuses ssh in the second comparison (default 2000, the
 * least that "seconds" means; 0 leaves the second comparison out).
 *
 * How connections are counted: sshd logs "Accepted publickey for <user> from <ip> port <p> …
 * <fingerprint>" once per new authenticated connection, and "Starting session: … port <p> id
 * <n>" once per session (a command), multiplexed or not; the client port ties a session to its
 * connection. A session is "multiplexed" when its connection carried a session before (in this
 * command or an earlier one: ControlPersist keeps connections for 60 s). The target user tells
 * the target (lobby, flagship, ship), the key's fingerprint tells the source (laptop, flagship,
 * ship). "Cold" runs first ask every control master of the world to exit (`ssh -O exit`), so
 * they show what a command opens from nothing; other runs follow the previous command.
 */

import { join } from "node:path";
import { fingerprint } from "../tests/helpers/exedev_lobby.ts";
import { FleetWorld } from "../tests/helpers/fleet_world.ts";
import { run, runuserArgs, sshWorldUnavailable } from "../tests/helpers/sshd_world.ts";

// The network steps cannot work offline; `sshconfig` and the essential ones run for real.
// `init` wants a GitHub token; the repositories here are local, so a dummy one does.
const ENV = {
  SKIP_STEPS: "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell",
  GH_TOKEN: "ghp_benchDummyToken000",
};
const CLK_TCK = 100; // USER_HZ: /proc/stat counts in 1/100 s on Linux
const CORES = navigator.hardwareConcurrency;

function option(name: string, fallback: number): number {
  const given = Deno.args.find((arg) => arg.startsWith(`--${name}=`));
  const value = given ? Number(given.slice(name.length + 3)) : fallback;
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} needs a number`);
  return value;
}

const RUNS = Math.max(1, option("runs", 3));
const STATUS_RUNS = Math.max(1, option("status-runs", 5));
const BOOT_DELAY_MS = option("boot-delay-ms", 2000);

// ---------------------------------------------------------------------------------------------
// Small statistics and formatting

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

const ms = (value: number) => `${value.toFixed(0)} ms`;
const s = (value: number) => `${(value / 1000).toFixed(2)} s`;

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => i === cells.length - 1 ? cell : cell.padEnd(widths[i])).join("  ");
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const delay = (time: number) => new Promise((resolve) => setTimeout(resolve, time));

// ---------------------------------------------------------------------------------------------
// Machine CPU time: /proc/stat, all cores, every process (the "VMs" share them)

interface CpuSample {
  busy: number;
  total: number;
}

async function cpuSample(): Promise<CpuSample> {
  const first = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
  const [user, nice, system, idle, iowait, irq, softirq, steal] = first.trim().split(/\s+/)
    .slice(1).map(Number);
  const busy = user + nice + system + irq + softirq + (steal ?? 0);
  return { busy, total: busy + idle + iowait };
}

/** CPU-seconds spent by the whole machine between two samples, and the share of all cores. */
function cpuBetween(a: CpuSample, b: CpuSample): { seconds: number; utilization: number } {
  const busy = b.busy - a.busy;
  const total = b.total - a.total;
  return { seconds: busy / CLK_TCK, utilization: total > 0 ? busy / total : 0 };
}

// ---------------------------------------------------------------------------------------------
// Connection accounting from sshd's log

type Role = "laptop" | "lobby" | "flagship" | "ship" | "?";

interface Counts {
  /** TCP connections accepted by sshd. */
  tcp: number;
  /** New authenticated connections ("Accepted publickey"). */
  connections: number;
  /** Sessions (commands) started, on new or existing connections. */
  sessions: number;
  /** Sessions on a connection that had carried a session before. */
  multiplexed: number;
  /** Per source→target: connections and sessions. */
  edges: Map<string, { connections: number; sessions: number }>;
  /** Lobby commands, by their first word(s). */
  lobby: Map<string, number>;
  lobbyTotal: number;
  /** Program starts through the launcher (laptop and VMs), by role. */
  starts: Map<Role, number>;
  startsTotal: number;
}

class Accounting {
  readonly #world: FleetWorld;
  /** Client port → the connection behind it. */
  #ports = new Map<number, { edge: string; sessions: number }>();
  #userRoles = new Map<string, Role>();
  #keyRoles = new Map<string, Role>();
  #logOffset = 0;
  #launchOffset = 0;
  #lobbyOffset = 0;

  constructor(world: FleetWorld) {
    this.#world = world;
    this.#userRoles.set(world.laptop.user, "laptop");
    this.#userRoles.set(world.lobby.user, "lobby");
  }

  /** Marks the start of a measured command. */
  async mark(): Promise<void> {
    await this.#learn();
    this.#logOffset = (await Deno.stat(this.#world.sshdLog)).size;
    this.#launchOffset = (await Deno.stat(this.#world.launchLog)).size;
    this.#lobbyOffset = this.#world.lobbyCalls().length;
  }

  /** What happened since {@link mark}. */
  async collect(): Promise<Counts> {
    await delay(150); // sshd's children write their lines a moment after the client returns
    await this.#learn();
    const counts: Counts = {
      tcp: 0,
      connections: 0,
      sessions: 0,
      multiplexed: 0,
      edges: new Map(),
      lobby: new Map(),
      lobbyTotal: 0,
      starts: new Map(),
      startsTotal: 0,
    };
    const edge = (name: string) => {
      let entry = counts.edges.get(name);
      if (!entry) counts.edges.set(name, entry = { connections: 0, sessions: 0 });
      return entry;
    };
    const log = await readFrom(this.#world.sshdLog, this.#logOffset);
    for (const line of log.split("\n")) {
      let match;
      if (/^Connection from \S+ port \d+ on /.test(line)) {
        counts.tcp++;
      } else if (
        (match = line.match(/^Accepted publickey for (\S+) from \S+ port (\d+) ssh2: \S+ (\S+)/))
      ) {
        const [, user, port, fingerprint] = match;
        const name = `${this.#keyRoles.get(fingerprint) ?? "?"}→${this.#userRole(user)}`;
        this.#ports.set(Number(port), { edge: name, sessions: 0 });
        counts.connections++;
        edge(name).connections++;
      } else if ((match = line.match(/^Starting session: .* for (\S+) from \S+ port (\d+) id/))) {
        const [, user, port] = match;
        let connection = this.#ports.get(Number(port));
        if (!connection) { // opened before this world's log could tell (cannot happen here)
          connection = { edge: `?→${this.#userRole(user)}`, sessions: 1 };
          this.#ports.set(Number(port), connection);
        }
        if (connection.sessions++ > 0) counts.multiplexed++;
        counts.sessions++;
        edge(connection.edge).sessions++;
      }
    }
    for (const call of this.#world.lobbyCalls().slice(this.#lobbyOffset)) {
      const word = call.argv[0] === "ssh-key" ? `ssh-key ${call.argv[1]}` : call.argv[0] ?? "?";
      counts.lobby.set(word, (counts.lobby.get(word) ?? 0) + 1);
      counts.lobbyTotal++;
    }
    const launches = await readFrom(this.#world.launchLog, this.#launchOffset);
    for (const line of launches.split("\n").filter(Boolean)) {
      const role = this.#userRole(line.split(" ")[0]);
      counts.starts.set(role, (counts.starts.get(role) ?? 0) + 1);
      counts.startsTotal++;
    }
    return counts;
  }

  #userRole(user: string): Role {
    return this.#userRoles.get(user) ?? "?";
  }

  /** Learns the roles of VM users and the fingerprints of every key in the world. */
  async #learn(): Promise<void> {
    const keyFiles: [string, Role][] = [
      [join(this.#world.laptop.home, ".ssh", "id_ed25519.pub"), "laptop"],
    ];
    for (const vm of this.#world.lobbyVms()) {
      const role: Role = vm.name.startsWith("flagship-") ? "flagship" : "ship";
      this.#userRoles.set(vm.user, role);
      keyFiles.push([join(vm.home, ".ssh", "id_ed25519.pub"), role]);
    }
    for (const [file, role] of keyFiles) {
      const text = await Deno.readTextFile(file).catch(() => "");
      const [type, blob] = text.trim().split(/\s+/);
      if (blob) this.#keyRoles.set(await fingerprint({ type, blob, comment: "" }), role);
    }
  }
}

/** OpenSSH's `SHA256:<base64 without padding>` of a key blob. */
async function readFrom(path: string, offset: number): Promise<string> {
  return new TextDecoder().decode((await Deno.readFile(path)).subarray(offset));
}

// ---------------------------------------------------------------------------------------------
// Running the CLI as the laptop user, with a timeline of its progress lines

interface Measured {
  label: string;
  args: string[];
  cold: boolean;
  code: number;
  wallMs: number;
  cpu: { seconds: number; utilization: number };
  stdout: string;
  stderr: string;
  /** Progress lines on stderr, with their time since start. */
  lines: { atMs: number; text: string }[];
  counts: Counts;
}

class Bench {
  readonly world: FleetWorld;
  readonly accounting: Accounting;
  readonly measured: Measured[] = [];

  constructor(world: FleetWorld) {
    this.world = world;
    this.accounting = new Accounting(world);
  }

  /** Runs the CLI on the laptop and measures it; throws when it fails. */
  async cli(label: string, args: string[], options: { cold?: boolean } = {}): Promise<Measured> {
    if (options.cold) await this.closeMasters();
    await this.accounting.mark();
    const { user, home } = this.world.laptop;
    const program = join(home, ".local", "bin", "ohcommodore");
    const env = { OHCOMMODORE_SHIP_BIN: this.world.shipBin, ...ENV };
    const before = await cpuSample();
    const start = performance.now();
    const child = new Deno.Command("runuser", {
      args: runuserArgs(user, home, [program, ...args], env),
      cwd: home,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 15 * 60_000);
    const lines: Measured["lines"] = [];
    const [stdout, stderr, status] = await Promise.all([
      new Response(child.stdout).text(),
      (async () => {
        let text = "";
        let pending = "";
        for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
          const atMs = performance.now() - start;
          text += chunk;
          const parts = (pending + chunk).split("\n");
          pending = parts.pop()!;
          for (const part of parts) lines.push({ atMs, text: part });
        }
        if (pending) lines.push({ atMs: performance.now() - start, text: pending });
        return text;
      })(),
      child.status,
    ]);
    const wallMs = performance.now() - start;
    clearTimeout(timer);
    const cpu = cpuBetween(before, await cpuSample());
    const counts = await this.accounting.collect();
    const measured: Measured = {
      label,
      args,
      cold: Boolean(options.cold),
      code: status.code,
      wallMs,
      cpu,
      stdout,
      stderr,
      lines,
      counts,
    };
    this.measured.push(measured);
    if (status.code !== 0) {
      throw new Error(`ohcommodore ${args.join(" ")} failed (${status.code}):\n${stderr}`);
    }
    console.log(
      `  ${label}${options.cold ? " (cold)" : ""}: ${ms(wallMs)}, CPU ${cpu.seconds.toFixed(2)} s` +
        ` (${(cpu.utilization * 100).toFixed(0)}% of ${CORES} cores), ${counts.connections} new ` +
        `connections, ${counts.sessions} sessions, ${counts.lobbyTotal} lobby calls`,
    );
    return measured;
  }

  /**
   * Asks every ssh control master of the world's users (laptop and VMs) to exit, so the next
   * command starts without shared connections. Masters live in ~/.ohcommodore/ssh or, for long
   * homes, /tmp/ohc-ssh-<uid> (lib/ssh.ts).
   */
  async closeMasters(): Promise<void> {
    const users = [
      { user: this.world.laptop.user, home: this.world.laptop.home },
      ...this.world.lobbyVms(),
    ];
    await Promise.all(users.map(async ({ user, home }) => {
      const uid = (await run(["id", "-u", user], true)).stdout.trim();
      for (const dir of [join(home, ".ohcommodore", "ssh"), `/tmp/ohc-ssh-${uid}`]) {
        let entries: Deno.DirEntry[] = [];
        try {
          entries = [...Deno.readDirSync(dir)];
        } catch {
          continue;
        }
        for (const entry of entries) {
          if (entry.isDirectory || entry.name.includes(".")) continue; // not a socket we made
          await this.world.execAs(user, [
            "ssh",
            "-o",
            `ControlPath=${join(dir, entry.name)}`,
            "-O",
            "exit",
            "unused",
          ], { timeoutMs: 10_000 });
        }
      }
    }));
    await delay(200);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading the progress lines of `ship create`

const STEPS: Record<string, string> = {
  "registering its SSH key": "key",
  "creating the VM": "create",
  "waiting for it to answer": "reach",
  "installing ohcommodore": "program",
  "sending settings and keys": "files",
  "running cloudinit/init.sh": "init.sh",
  "ready": "ready",
};
// What each phase (from one step's line to the next's) costs.
const PHASES: [string, string, string][] = [
  ["start", "creating", "laptop: Deno start, read config"],
  ["creating", "key", "upload ship-bin; ssh to flagship; flagship Deno start, keygen"],
  ["key", "create", "lobby ssh-key add"],
  ["create", "reach", "lobby new; registry add (DuckDB)"],
  ["reach", "program", "first ssh to the ship (new connection)"],
  ["program", "files", "upload the program"],
  ["files", "init.sh", ".env, 2 key files and init.sh in one upload session"],
  [
    "init.sh",
    "ready",
    "init.sh (clone, _setup, scheduler start + the scheduler), the key's whoami beside it; registry",
  ],
  ["ready", "end", "after the last ship: flagship exits, laptop prints"],
];

interface Timeline {
  /** Per VM: step → time since start. */
  ships: Map<string, Map<string, number>>;
  creating: number;
  end: number;
}

function timelineOf(measured: Measured): Timeline {
  const ships = new Map<string, Map<string, number>>();
  let creating = NaN;
  for (const { atMs, text } of measured.lines) {
    if (/^Creating \d+ ship/.test(text)) creating = atMs;
    const match = text.match(/^ {2}(\S+): (.+)$/);
    const step = match && STEPS[match[2]];
    if (!match || !step) continue;
    if (!ships.has(match[1])) ships.set(match[1], new Map());
    ships.get(match[1])!.set(step, atMs);
  }
  return { ships, creating, end: measured.wallMs };
}

/** Mean duration of each phase over the ships of some runs. */
function phaseTable(runs: Measured[]): string[][] {
  const sums = new Map<string, number[]>();
  const add = (phase: string, value: number) => {
    if (Number.isFinite(value)) sums.set(phase, [...(sums.get(phase) ?? []), value]);
  };
  for (const measured of runs) {
    const timeline = timelineOf(measured);
    add("start", timeline.creating);
    const firstKey = Math.min(...[...timeline.ships.values()].map((steps) => steps.get("key")!));
    add("creating", firstKey - timeline.creating);
    for (const steps of timeline.ships.values()) {
      // Per ship: every phase from its key step to its ready (the first two and the last are
      // the run's, added above and below).
      for (const [from, to] of PHASES.slice(2, -1)) {
        add(from, steps.get(to)! - steps.get(from)!);
      }
    }
    const lastReady = Math.max(...[...timeline.ships.values()].map((steps) => steps.get("ready")!));
    add("ready", timeline.end - lastReady);
  }
  return PHASES.map(([from, to, what]) => {
    const values = sums.get(from) ?? [];
    return [`${from} → ${to}`, values.length ? ms(mean(values)) : "-", what];
  });
}

/** When each ship of a run started (its key step) and became ready. */
function shipOffsets(measured: Measured): string {
  const timeline = timelineOf(measured);
  return [...timeline.ships.values()]
    .map((steps) => `${s(steps.get("key")!)}→${s(steps.get("ready")!)}`)
    .join(", ");
}

// ---------------------------------------------------------------------------------------------
// The benchmarks

function summary(runs: Measured[]): string {
  const walls = runs.map((run) => run.wallMs);
  const cpu = median(runs.map((run) => run.cpu.seconds));
  const utilization = median(runs.map((run) => run.cpu.utilization));
  const share = `${(utilization * 100).toFixed(0)}% of ${CORES} cores`;
  const floor = s((cpu * 1000) / CORES);
  return `median ${s(median(walls))} (${walls.map(s).join(", ")}); CPU median ` +
    `${cpu.toFixed(2)} s (${share}; CPU-bound floor ${floor})`;
}

type CreateRuns = { cold?: Measured; warm: Measured[] };

/**
 * The 5/1 comparison of `ship create`; with `floor`, also what this machine's cores allow (a
 * bound that holds only when VMs answer at once: a boot wait is time no core can use).
 */
function createResults(one: CreateRuns, five: CreateRuns, floor: boolean): string[] {
  const wall1 = median(one.warm.map((run) => run.wallMs));
  const wall5 = median(five.warm.map((run) => run.wallMs));
  const cpu1 = median(one.warm.map((run) => run.cpu.seconds));
  const cpu5 = median(five.warm.map((run) => run.cpu.seconds));
  const cold = one.cold && five.cold
    ? `, cold ${(five.cold.wallMs / one.cold.wallMs).toFixed(2)}x`
    : "";
  // All "VMs" share this machine's cores: five ships cannot take less than their CPU time
  // spread over every core, however well the creation runs them in parallel.
  const floor5 = (cpu5 * 1000) / CORES;
  const lines = [
    `--count 1: ${summary(one.warm)}${one.cold ? `; cold ${s(one.cold.wallMs)}` : ""}`,
    `--count 5: ${summary(five.warm)}${five.cold ? `; cold ${s(five.cold.wallMs)}` : ""}`,
    `ratio 5/1: ${(wall5 / wall1).toFixed(2)}x (medians)${cold}; CPU ratio ` +
    `${(cpu5 / cpu1).toFixed(2)}x (a ship adds ${((cpu5 - cpu1) / 4).toFixed(2)} CPU-s)`,
  ];
  if (!floor) return lines;
  return [
    ...lines,
    `the lowest ratio these cores allow: ${(Math.max(wall1, floor5) / wall1).toFixed(2)}x ` +
    `(five ships' CPU over ${CORES} cores, ${s(floor5)}); --count 5 took ` +
    `${(wall5 / Math.max(wall1, floor5)).toFixed(2)}x the larger of that and one ship's time`,
  ];
}

async function sinkShips(bench: Bench, label: string): Promise<void> {
  await bench.cli(label, ["fleet", "sink", "--force", "--json"]);
}

/** `ship create` with 1 and with 5 ships: a cold run each (when asked), then RUNS runs. */
async function createBench(bench: Bench, repo: string, options: { cold: boolean; note?: string }) {
  const results = new Map<number, { cold?: Measured; warm: Measured[] }>();
  for (const count of [1, 5]) {
    const args = ["ship", "create", repo, "--count", String(count)];
    const label = `ship create --count ${count}${options.note ? ` (${options.note})` : ""}`;
    let cold: Measured | undefined;
    if (options.cold) {
      cold = await bench.cli(label, args, { cold: true });
      await sinkShips(bench, `fleet sink (${count} ship${count > 1 ? "s" : ""})`);
    }
    const warm: Measured[] = [];
    for (let i = 0; i < RUNS; i++) {
      warm.push(await bench.cli(label, args));
      await sinkShips(bench, `fleet sink (${count} ship${count > 1 ? "s" : ""})`);
    }
    results.set(count, { cold, warm });
  }
  return results;
}

async function statusRuns(bench: Bench, ships: number) {
  const label = `fleet status --json (${ships} ship${ships > 1 ? "s" : ""})`;
  const cold = await bench.cli(label, ["fleet", "status", "--json"], { cold: true });
  const reported = JSON.parse(cold.stdout).ships.length;
  if (reported !== ships) throw new Error(`fleet status shows ${reported} ships, not ${ships}`);
  const warm: Measured[] = [];
  for (let i = 0; i < STATUS_RUNS; i++) {
    warm.push(await bench.cli(label, ["fleet", "status", "--json"]));
  }
  return { cold, warm };
}

// A command that takes a second, so the comparison is of fan-out, not of how fast `true` is.
const EXEC_COMMAND = "sleep 1; hostname";

/** `fleet exec` on one ship and on all twenty, cold (no shared connection) and warm. */
async function execRuns(bench: Bench, ship: string) {
  const runs = async (label: string, args: string[]) => {
    const cold = await bench.cli(label, args, { cold: true });
    const warm: Measured[] = [];
    for (let i = 0; i < RUNS; i++) warm.push(await bench.cli(label, args));
    for (const run of [cold, ...warm]) {
      const failed = JSON.parse(run.stdout).filter((result: { ok: boolean }) => !result.ok);
      if (failed.length) throw new Error(`fleet exec failed on: ${JSON.stringify(failed)}`);
    }
    return { cold, warm };
  };
  const base = ["fleet", "exec", "--json"];
  return {
    one: await runs("fleet exec (1 ship)", [...base, "--ships", ship, "--", EXEC_COMMAND]),
    all: await runs("fleet exec (20 ships)", [...base, "--", EXEC_COMMAND]),
  };
}

function execResults(exec: Awaited<ReturnType<typeof execRuns>>): string[] {
  const one = median(exec.one.warm.map((run) => run.wallMs));
  const all = median(exec.all.warm.map((run) => run.wallMs));
  // New connections from the laptop to ships: one per ship, cold; none, warm.
  const toShips = (m: Measured) =>
    [...m.counts.edges.entries()].filter(([edge]) => edge === "laptop→ship")
      .reduce((sum, [, e]) => sum + e.connections, 0);
  return [
    `1 ship:   ${summary(exec.one.warm)}; cold ${s(exec.one.cold.wallMs)}`,
    `20 ships: ${summary(exec.all.warm)}; cold ${s(exec.all.cold.wallMs)}`,
    `ratio 20/1: ${(all / one).toFixed(2)}x (medians), cold ${
      (exec.all.cold.wallMs / exec.one.cold.wallMs).toFixed(2)
    }x`,
    // Every simulated ship does its own share (its program's start for the delivery, its
    // scheduler, bash) on these same cores; on VMs each ship's share runs on its own CPU.
    `CPU per ship beyond the first: ${
      ((median(exec.all.warm.map((r) => r.cpu.seconds)) -
        median(exec.one.warm.map((r) => r.cpu.seconds))) / 19).toFixed(2)
    } s; 20 ships at that cost cannot beat ${
      s(1000 * median(exec.all.warm.map((r) => r.cpu.seconds)) / CORES)
    } on ${CORES} cores, so the 20/1 ratio here cannot go below ${
      ((1000 * median(exec.all.warm.map((r) => r.cpu.seconds)) / CORES) / one).toFixed(2)
    }x`,
    `new ssh connections laptop→ships: cold ${toShips(exec.all.cold)} for 20 ships, warm ` +
    `${toShips(exec.all.warm[0])}; laptop→flagship calls: 1 per run`,
  ];
}

/** Times of a few primitives, to read the rest against. */
async function primitives(bench: Bench, flagshipDest: string): Promise<string[]> {
  const world = bench.world;
  const timedAs = async (argv: string[]) => {
    const start = performance.now();
    const result = await world.execAs(world.laptop.user, argv);
    if (result.code !== 0) throw new Error(`${argv.join(" ")} failed: ${result.stderr}`);
    return performance.now() - start;
  };
  const program = join(world.laptop.home, ".local", "bin", "ohcommodore");
  const ssh = ["ssh", "-o", "BatchMode=yes"];
  const fresh = [...ssh, "-o", "ControlMaster=no", "-o", "ControlPath=none"];
  const muxPath = join(world.laptop.home, ".ssh", "bm"); // short: socket paths hold 107 bytes
  const mux = [...ssh, "-o", "ControlMaster=auto", "-o", `ControlPath=${muxPath}`];
  const runsOf = async (argv: string[], n = 5) => {
    const times = [];
    for (let i = 0; i < n; i++) times.push(await timedAs(argv));
    return median(times);
  };
  const version = await runsOf([program, "--version"]);
  const runuser = await runsOf(["true"]);
  const sshFresh = await runsOf([...fresh, flagshipDest, "true"]);
  await timedAs([...mux, "-o", "ControlPersist=30", flagshipDest, "true"]); // the master
  const sshMux = await runsOf([...mux, flagshipDest, "true"]);
  await world.execAs(world.laptop.user, [...mux, "-O", "exit", flagshipDest]);
  const lobby = await runsOf([...fresh, "exe.dev", "whoami"]);
  const versionCpu = await (async () => {
    const before = await cpuSample();
    for (let i = 0; i < 5; i++) await timedAs([program, "--version"]);
    return cpuBetween(before, await cpuSample()).seconds / 5;
  })();
  return [
    `runuser + env (no program): ${ms(runuser)}`,
    `ohcommodore --version (a Deno start of the CLI): ${ms(version)}, ` +
    `${versionCpu.toFixed(2)} CPU-s each`,
    `ssh <flagship> true, new connection: ${ms(sshFresh)}; over a control master: ${ms(sshMux)}`,
    `ssh exe.dev whoami (fixture lobby: new connection + a Deno start): ${ms(lobby)}`,
  ];
}

/** Wall and machine CPU of `ohcommodore _status` run directly on a ship (no ssh). */
async function statusOnShip(world: FleetWorld, ship: string): Promise<string> {
  const user = world.vmUser(ship);
  const program = join(world.vmHome(ship), ".local", "bin", "ohcommodore");
  const walls = [];
  const before = await cpuSample();
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    const result = await world.execAs(user, [program, "_status"]);
    if (result.code !== 0) throw new Error(`_status failed on ${ship}: ${result.stderr}`);
    walls.push(performance.now() - start);
  }
  const cpu = cpuBetween(before, await cpuSample()).seconds / 5;
  return `ohcommodore _status on a ship, no ssh (Deno start + DuckDB): ${ms(median(walls))}, ` +
    `${cpu.toFixed(2)} CPU-s each`;
}

function countsCell(counts: Counts): string[] {
  const edges = [...counts.edges.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, { connections, sessions }]) => `${name} ${connections}c/${sessions}s`)
    .join(", ");
  const lobby = [...counts.lobby.entries()].map(([word, n]) => `${word}×${n}`).join(" ");
  const starts = ["laptop", "flagship", "ship"]
    .map((role) => `${counts.starts.get(role as Role) ?? 0}`).join("/");
  return [
    String(counts.connections),
    String(counts.tcp),
    `${counts.sessions} (${counts.multiplexed})`,
    `${counts.lobbyTotal}${lobby ? ` ${lobby}` : ""}`,
    `${counts.startsTotal} (${starts})`,
    edges,
  ];
}

async function main(): Promise<void> {
  const unavailable = sshWorldUnavailable();
  if (unavailable) {
    console.log(`fleet bench skipped: ${unavailable}`);
    return;
  }
  const began = performance.now();
  console.log(
    `ohcommodore fleet bench, ${new Date().toISOString()}, ${CORES} cores, ` +
      `runs ${RUNS} (status ${STATUS_RUNS}), boot delay in the second ship create comparison ` +
      `${BOOT_DELAY_MS} ms`,
  );
  const idleBefore = await cpuSample();
  await delay(1000);
  const idle = cpuBetween(idleBefore, await cpuSample());
  console.log(
    `background load before starting: ${(idle.utilization * 100).toFixed(0)}% of ${CORES} cores`,
  );

  await using world = await FleetWorld.start({ logs: true });
  const bench = new Bench(world);

  console.log("\ninit:");
  const init = await bench.cli("init", ["init"], { cold: true });
  const config = JSON.parse(
    await Deno.readTextFile(join(world.laptop.home, ".ohcommodore", "config.json")),
  );
  const flagshipDest: string = config.flagship;

  console.log("\nprimitives (medians of 5):");
  const basics = await primitives(bench, flagshipDest);
  for (const line of basics) console.log(`  ${line}`);

  const repo = await world.bareRepo("web");
  console.log(
    `\nship create, 1 and 5 ships, VMs answer at once (a cold run, then ${RUNS} runs; sink after ` +
      `each):`,
  );
  const creates = await createBench(bench, repo, { cold: true });
  let booting: Awaited<ReturnType<typeof createBench>> | undefined;
  if (BOOT_DELAY_MS > 0) {
    console.log(`\nship create, 1 and 5 ships, VMs refuse ssh for ${s(BOOT_DELAY_MS)} after new:`);
    world.setBootDelay(BOOT_DELAY_MS);
    booting = await createBench(bench, repo, { cold: false, note: `boot ${s(BOOT_DELAY_MS)}` });
    world.setBootDelay(0);
  }

  console.log("\nfleet status, 1 ship and 20 ships:");
  const one = await bench.cli("ship create (for status)", ["ship", "create", repo]);
  const ship = one.stdout.trim().split("\n")[0];
  const statusPrimitive = await statusOnShip(world, ship);
  basics.push(statusPrimitive);
  console.log(`  ${statusPrimitive}`);
  const status1 = await statusRuns(bench, 1);
  const create19 = await bench.cli("ship create --count 19", [
    "ship",
    "create",
    repo,
    "--count",
    "19",
  ]);
  const status20 = await statusRuns(bench, 20);
  const exec = await execRuns(bench, ship);

  console.log("\ninbox send --wait, ship destroy, fleet sink --scuttle:");
  const sendArgs = ["inbox", "send", `captain@${ship}`, "true", "--wait"];
  const sendCold = await bench.cli("inbox send --wait", sendArgs, { cold: true });
  const sendWarm: Measured[] = [];
  for (let i = 0; i < RUNS; i++) sendWarm.push(await bench.cli("inbox send --wait", sendArgs));
  const destroyCold = await bench.cli("ship destroy", ["ship", "destroy", ship], { cold: true });
  const others = (JSON.parse(status20.cold.stdout).ships as { name: string }[])
    .map((entry) => entry.name).filter((name) => name !== ship);
  const destroyWarm = await bench.cli("ship destroy", ["ship", "destroy", others[0]]);
  const scuttle = await bench.cli(`fleet sink --scuttle (${others.length - 1} ships)`, [
    "fleet",
    "sink",
    "--scuttle",
    "--force",
  ], { cold: true });

  // -------------------------------------------------------------------------------------------
  const c1 = creates.get(1)!;
  const c5 = creates.get(5)!;
  const s1 = median(status1.warm.map((run) => run.wallMs));
  const s20 = median(status20.warm.map((run) => run.wallMs));
  console.log(`\n=== Results (${world.dir}) ===\n`);
  console.log("Primitives:");
  for (const line of basics) console.log(`  ${line}`);
  console.log(`\n1. ship create, from the laptop (proxied to the flagship); goal ratio <= 1.5x`);
  console.log(`  VMs answer ssh at once:`);
  for (const line of createResults(c1, c5, true)) console.log(`    ${line}`);
  if (booting) {
    console.log(`  VMs refuse ssh for ${s(BOOT_DELAY_MS)} after new:`);
    for (const line of createResults(booting.get(1)!, booting.get(5)!, false)) {
      console.log(`    ${line}`);
    }
  }
  console.log(
    `  --count 19 (onto 1 existing ship): ${s(create19.wallMs)}, CPU ` +
      `${create19.cpu.seconds.toFixed(2)} s (${(create19.cpu.utilization * 100).toFixed(0)}%)`,
  );
  console.log(
    `  where a ship's time goes (mean over the ${RUNS} runs; key → ready per ship, the rest per run):`,
  );
  const phases1 = phaseTable(c1.warm);
  const phases5 = phaseTable(c5.warm);
  const phaseRows = phases1.map((row, i) => [row[0], row[1], phases5[i][1], row[2]]);
  console.log(
    table(["phase", "count 1", "count 5", "what"], phaseRows).replace(/^/gm, "    "),
  );
  console.log(
    `  per ship, key step → ready (since start), last --count 5 run: ${
      shipOffsets(c5.warm.at(-1)!)
    }`,
  );
  console.log(`\n2. fleet status --json; goal ratio <= 2x`);
  console.log(`  1 ship:   ${summary(status1.warm)}; cold ${s(status1.cold.wallMs)}`);
  console.log(`  20 ships: ${summary(status20.warm)}; cold ${s(status20.cold.wallMs)}`);
  console.log(
    `  ratio 20/1: ${(s20 / s1).toFixed(2)}x (medians), cold ${
      (status20.cold.wallMs / status1.cold.wallMs).toFixed(2)
    }x`,
  );

  console.log(
    `\n2b. fleet exec --json -- <a 1 s command>, from the laptop; goal: 20 ships <= 2x one`,
  );
  for (const line of execResults(exec)) console.log(`  ${line}`);

  console.log(`\n3. SSH connections per command`);
  console.log(
    "  conns: new authenticated connections at sshd; tcp: TCP connections sshd accepted (a" +
      "\n  booting VM refuses before sshd, as exe.dev's do);" +
      "\n  sessions (mux): sessions started (of which on a connection that carried one before);" +
      "\n  starts: program starts through the launcher (laptop/flagship/ship), not counting" +
      "\n  detached schedulers or the fixture lobby's own Deno (one per lobby call);" +
      "\n  edges: source→target connections c / sessions s.\n",
  );
  const rows: [string, Measured][] = [
    ["init", init],
    ["ship create (1) cold", c1.cold!],
    ["ship create (1) warm", c1.warm[0]],
    ["ship create --count 5 cold", c5.cold!],
    ["ship create --count 5 warm", c5.warm[0]],
    ...(booting
      ? [
        [`ship create (1) boot ${s(BOOT_DELAY_MS)}`, booting.get(1)!.warm[0]],
        [`ship create --count 5 boot ${s(BOOT_DELAY_MS)}`, booting.get(5)!.warm[0]],
      ] as [string, Measured][]
      : []),
    ["ship create --count 19", create19],
    ["fleet status (1) cold", status1.cold],
    ["fleet status (1) warm", status1.warm[0]],
    ["fleet status (20) cold", status20.cold],
    ["fleet status (20) warm", status20.warm[0]],
    ["fleet exec (1 ship) cold", exec.one.cold],
    ["fleet exec (20 ships) cold", exec.all.cold],
    ["fleet exec (20 ships) warm", exec.all.warm[0]],
    ["inbox send --wait cold", sendCold],
    ["inbox send --wait warm", sendWarm[0]],
    ["ship destroy cold", destroyCold],
    ["ship destroy warm", destroyWarm],
    ["fleet sink (1 ship)", bench.measured.find((m) => m.label === "fleet sink (1 ship)")!],
    ["fleet sink (5 ships)", bench.measured.find((m) => m.label === "fleet sink (5 ships)")!],
    [`fleet sink --scuttle (${others.length - 1}) cold`, scuttle],
  ];
  console.log(
    table(
      ["command", "wall", "CPU s", "conns", "tcp", "sessions (mux)", "lobby", "starts", "edges"],
      rows.map((
        [name, m],
      ) => [name, s(m.wallMs), m.cpu.seconds.toFixed(2), ...countsCell(m.counts)]),
    ).replace(/^/gm, "  "),
  );
  console.log(`\nbench took ${s(performance.now() - began)} (cleanup follows)`);
}

await main();
