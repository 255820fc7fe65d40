/**
 * The CPU every process on this machine spent while something ran, by Unix user: what the
 * benches need to tell one simulated VM's share from another's, since every "VM" here is a user
 * of the same machine. Processes that ended meanwhile are read from the kernel's process
 * accounting (BSD acct, version 3 records; needs root), those still running from /proc. Acct
 * counts a process's CPU in hundredths of a second, rounded down, so short processes count for
 * less than they spent; what /proc/stat says the machine spent beyond the sum is reported apart.
 *
 * Accounting is the machine's, not this process's: one bench at a time, and none beside a
 * machine's own accounting (psacct), which this switches off.
 */

import type { FleetWorld } from "../tests/helpers/fleet_world.ts";

const TICKS_PER_S = 100; // USER_HZ, /proc's unit, and acct's AHZ
const RECORD_BYTES = 64; // struct acct_v3

/** CPU-seconds by uid, and what the machine spent that no process's record holds. */
export interface CpuByUser {
  byUid: Map<number, number>;
  /** The same by uid and program name (the kernel's 15 characters of it). */
  byProgram: Map<number, Map<string, number>>;
  unattributed: number;
}

type LibC = Deno.DynamicLibrary<{ acct: { parameters: ["buffer"]; result: "i32" } }>;

/**
 * Accounting switched on until {@link ProcessAccounting.stop}; disposing it switches it off too,
 * and so does a SIGINT or SIGTERM, before the bench exits (the kernel must not go on writing
 * records for the whole machine).
 */
export class ProcessAccounting implements AsyncDisposable {
  readonly #file: string;
  readonly #running: Map<number, Process>;
  readonly #startedS: number;
  readonly #machineBefore: number;
  readonly #libc: LibC;
  readonly #onSignal = {
    SIGINT: () => this.#exitOn(130),
    SIGTERM: () => this.#exitOn(143),
  };
  #on = true;

  private constructor(
    file: string,
    running: Map<number, Process>,
    machineBefore: number,
    libc: LibC,
  ) {
    this.#file = file;
    this.#running = running;
    this.#startedS = Date.now() / 1000;
    this.#machineBefore = machineBefore;
    this.#libc = libc;
    for (const [signal, listener] of Object.entries(this.#onSignal)) {
      Deno.addSignalListener(signal as Deno.Signal, listener);
    }
  }

  /**
   * Starts accounting into `file` (made anew).
   *
   * @throws {Error} When the kernel refuses (not root, or no BSD process accounting).
   */
  static async start(file: string): Promise<ProcessAccounting> {
    await Deno.writeFile(file, new Uint8Array(), { mode: 0o600 });
    const libc = Deno.dlopen("libc.so.6", { acct: { parameters: ["buffer"], result: "i32" } });
    const running = await processTicks();
    const machineBefore = await machineTicks();
    if (libc.symbols.acct(cString(file)) !== 0) {
      libc.close();
      throw new Error("process accounting refused (acct(2) needs root and BSD process accounting)");
    }
    return new ProcessAccounting(file, running, machineBefore, libc);
  }

  /** Stops accounting and sums what was spent since the start, by uid. */
  async stop(): Promise<CpuByUser> {
    this.#off();
    const byUid = new Map<number, number>();
    const byProgram = new Map<number, Map<string, number>>();
    const add = (uid: number, program: string, ticks: number) => {
      byUid.set(uid, (byUid.get(uid) ?? 0) + ticks / TICKS_PER_S);
      const programs = byProgram.get(uid) ?? new Map<string, number>();
      programs.set(program, (programs.get(program) ?? 0) + ticks / TICKS_PER_S);
      byProgram.set(uid, programs);
    };
    const records = await Deno.readFile(this.#file);
    await Deno.remove(this.#file);
    const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
    let read = 0;
    for (let at = 0; at + RECORD_BYTES <= records.length; at += RECORD_BYTES) {
      if ((view.getUint8(at + 1) & 0x0f) !== 3) continue; // not a version 3 record
      read++;
      const pid = view.getUint32(at + 16, true);
      const ticks = compT(view.getUint16(at + 32, true)) + compT(view.getUint16(at + 34, true));
      const program = new TextDecoder().decode(records.subarray(at + 48, at + 64))
        .replace(/\0.*$/s, "");
      // A process that ran before the start counts only what it spent since (a pid used again
      // by one that began later is another process).
      const began = view.getUint32(at + 24, true);
      const before = began <= this.#startedS ? this.#running.get(pid)?.ticks ?? 0 : 0;
      add(view.getUint32(at + 8, true), program, Math.max(0, ticks - before));
    }
    if (records.length >= RECORD_BYTES && read === 0) {
      throw new Error("process accounting wrote no version 3 records: this kernel's are not read");
    }
    for (const [pid, now] of await processTicks()) {
      const before = this.#running.get(pid);
      const since = before?.began === now.began ? before.ticks : 0;
      add(now.uid, now.program, Math.max(0, now.ticks - since));
    }
    const machine = (await machineTicks() - this.#machineBefore) / TICKS_PER_S;
    const attributed = [...byUid.values()].reduce((sum, value) => sum + value, 0);
    return { byUid, byProgram, unattributed: Math.max(0, machine - attributed) };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#on) return;
    this.#off();
    await Deno.remove(this.#file).catch(() => {});
  }

  #off(): void {
    if (!this.#on) throw new Error("process accounting is off already");
    this.#on = false;
    this.#libc.symbols.acct(null);
    this.#libc.close();
    for (const [signal, listener] of Object.entries(this.#onSignal)) {
      Deno.removeSignalListener(signal as Deno.Signal, listener);
    }
  }

  #exitOn(code: number): void {
    if (this.#on) this.#off();
    Deno.exit(code);
  }
}

/** CPU-seconds by where they were spent, and by where and program. */
export interface CpuByRole {
  byRole: Record<string, number>;
  byProgram: Record<string, Record<string, number>>;
}

/**
 * What was spent, by role in a fleet world: laptop, flagship, ship, lobby (the fixture's lobby
 * user), root (sshd before a login, the fixture's own work), unattributed.
 *
 * @param spent What {@link ProcessAccounting.stop} summed.
 * @param world The world whose users play the roles.
 */
export async function cpuByRole(spent: CpuByUser, world: FleetWorld): Promise<CpuByRole> {
  const users = new Map<number, string>();
  for (const line of (await Deno.readTextFile("/etc/passwd")).split("\n")) {
    const [name, , uid] = line.split(":");
    if (name && uid) users.set(Number(uid), name);
  }
  const roleOf = (uid: number) =>
    uid === 0 ? "root" : roleInWorld(world, users.get(uid) ?? `uid ${uid}`);
  const byRole: Record<string, number> = { unattributed: spent.unattributed };
  const byProgram: Record<string, Record<string, number>> = {};
  for (const [uid, programs] of spent.byProgram) {
    const role = roleOf(uid);
    for (const [name, seconds] of programs) {
      byRole[role] = (byRole[role] ?? 0) + seconds;
      byProgram[role] ??= {};
      byProgram[role][name] = (byProgram[role][name] ?? 0) + seconds;
    }
  }
  return { byRole, byProgram };
}

/**
 * The part a Unix user plays in a fleet world: laptop, lobby, flagship or ship; any other user
 * is named as it is.
 *
 * @param world The world.
 * @param user The user's name.
 */
export function roleInWorld(world: FleetWorld, user: string): string {
  if (user === world.laptop.user) return "laptop";
  if (user === world.lobby.user) return "lobby";
  const vm = world.lobbyVms().find((vm) => vm.user === user);
  if (!vm) return user;
  return vm.name.startsWith("flagship-") ? "flagship" : "ship";
}

/**
 * CPU-seconds as text, most first: `ship 2.07 s, flagship 1.57 s`.
 *
 * @param byName Seconds by role or program.
 * @param most How many to show.
 * @param scale What to multiply each by first (1/runs, for a run's share).
 */
export function cpuText(byName: Record<string, number>, most = Infinity, scale = 1): string {
  return Object.entries(byName).sort(([, a], [, b]) => b - a).slice(0, most)
    .map(([name, seconds]) => `${name} ${(seconds * scale).toFixed(2)} s`).join(", ");
}

// acct's comp_t: a 13-bit mantissa and a 3-bit exponent of base 8.
function compT(value: number): number {
  return (value & 0x1fff) * 8 ** ((value >> 13) & 0x7);
}

function cString(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${text}\0`) as Uint8Array<ArrayBuffer>;
}

/**
 * A running process: its real user (as acct records it), program name, CPU so far (utime +
 * stime, in ticks) and start (in ticks since boot: a pid used again is another start).
 */
interface Process {
  uid: number;
  program: string;
  ticks: number;
  began: number;
}

async function processTicks(): Promise<Map<number, Process>> {
  const found = new Map<number, Process>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      // The fields after the command (which may hold spaces), in parentheses.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const status = await Deno.readTextFile(`/proc/${entry.name}/status`);
      const uid = Number(status.match(/^Uid:\s+(\d+)/m)?.[1] ?? -1);
      found.set(Number(entry.name), {
        uid,
        program: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
        ticks: Number(fields[11]) + Number(fields[12]),
        began: Number(fields[19]),
      });
    } catch {
      // it ended meanwhile
    }
  }
  return found;
}

/**
 * What the whole machine has spent since it booted (user, nice, system, irq, softirq, steal),
 * in CPU-seconds: a difference of two readings is what it spent between them.
 */
export async function machineCpuSeconds(): Promise<number> {
  return await machineTicks() / TICKS_PER_S;
}

async function machineTicks(): Promise<number> {
  const first = (await Deno.readTextFile("/proc/stat")).split("\n")[0];
  const [user, nice, system, , , irq, softirq, steal] = first.trim().split(/\s+/).slice(1)
    .map(Number);
  return user + nice + system + irq + softirq + (steal ?? 0);
}
