/**
 * Runs one inbox command with bash in its own process group, with a timeout and capped output.
 *
 * @module
 */

import { join } from "node:path";
import { formatDuration } from "../duration.ts";
import { DiskFullError, isDiskFull } from "../errors.ts";
import { ensurePrivateDir } from "../private_files.ts";
import { setLongTimeout } from "../timer.ts";
import type { Outcome } from "./store.ts";
import { sleep } from "../timer.ts";

/** How much of each output stream is kept: the last 256 KiB. */
export const OUTPUT_CAP_BYTES = 256 * 1024;

/** Options for {@link runCommand}. */
export interface RunOptions {
  /** Directory to run in. */
  cwd: string;
  /** Told the command's process group as soon as it starts; the run ends after it settles. */
  onSpawn?: (pgid: number) => Promise<void> | void;
  /** Told each piece of output as it is written. */
  onOutput?: (stream: "stdout" | "stderr", bytes: Uint8Array) => void;
  /** Directory for the temporary script file (private to the member). */
  scratchDir: string;
  /** Kill the process group after this long. */
  timeoutMs: number;
  /** Extra environment for the command. */
  env?: Record<string, string>;
  /**
   * Bytes kept per stream.
   *
   * @default {OUTPUT_CAP_BYTES}
   */
  capBytes?: number;
  /**
   * Time between SIGTERM and SIGKILL on timeout.
   *
   * @default {5_000}
   */
  killGraceMs?: number;
}

/**
 * Runs a command and reports how it ended. The script goes to bash as a private file, not argv,
 * so its size is not limited by argv and it does not show in `ps`; stdin is empty. A command
 * that cannot be started (its script cannot be written, say on a full disk, or bash cannot be
 * spawned) ends as an `error` outcome that says why; no process ran.
 *
 * @param command The bash script.
 * @param options Where and how long.
 * @returns The outcome to store.
 */
export async function runCommand(command: string, options: RunOptions): Promise<Outcome> {
  const script = join(options.scratchDir, `${crypto.randomUUID()}.sh`);
  try {
    await writeScript(script, command, options.scratchDir);
  } catch (error) {
    await Deno.remove(script).catch(() => {}); // what part of it was written
    return notStarted(error, script);
  }
  try {
    return await runScript(script, options);
  } finally {
    await Deno.remove(script).catch(() => {});
  }
}

/**
 * The outcome of a command that could not be started: no process ran, so there is no exit code.
 *
 * @param error Why it could not start.
 * @param path The file it was writing when that was the failure (a full disk names it).
 * @returns The outcome, with `could not start: …` as its error.
 */
export function notStarted(error: unknown, path?: string): Outcome {
  const reason = path && isDiskFull(error)
    ? new DiskFullError("could not start", path, { cause: error }).message
    : `could not start: ${error instanceof Error ? error.message : String(error)}`;
  return { status: "error", exitCode: null, stdout: "", stderr: "", error: reason };
}

async function writeScript(script: string, command: string, scratchDir: string): Promise<void> {
  // The directory is made private once per process, and again only when it went missing.
  if (!privateScratchDirs.has(scratchDir)) {
    await ensurePrivateDir(scratchDir);
    privateScratchDirs.add(scratchDir);
  }
  await Deno.writeTextFile(script, command, { mode: 0o600 }).catch(async (error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    await ensurePrivateDir(scratchDir);
    await Deno.writeTextFile(script, command, { mode: 0o600 });
  });
}

const privateScratchDirs = new Set<string>();

async function runScript(script: string, options: RunOptions): Promise<Outcome> {
  const cap = options.capBytes ?? OUTPUT_CAP_BYTES;
  // A new session and process group, so a timeout kills everything the command started.
  // setsid(1) makes it in the child itself, which the program can then start with a plain
  // spawn: Deno's detached forks this whole process first (measured 6.5 ms against 3.5 ms
  // with DuckDB loaded; it was a third of the scheduler's time).
  const setsid = setsidProgram();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(setsid ?? "bash", {
      args: setsid ? ["bash", script] : [script],
      cwd: options.cwd,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: setsid === undefined,
    }).spawn();
  } catch (error) {
    return notStarted(error); // its directory went away, no bash, no processes left
  }
  const stdout = new TailBuffer(cap, (bytes) => options.onOutput?.("stdout", bytes));
  const stderr = new TailBuffer(cap, (bytes) => options.onOutput?.("stderr", bytes));
  const draining = Promise.all([stdout.drain(child.stdout), stderr.drain(child.stderr)]);
  let timedOut = false;
  const killGroup = (signal: Deno.Signal) => signalGroup(child.pid, signal);
  let cancelKill = () => {};
  // Waited for before returning, so its database write never outlives the command's run.
  const spawned = Promise.resolve(options.onSpawn?.(child.pid)).catch(() => {});
  // Long timers: a timeout stored by an older sender (or a long grace) may pass 2^31-1 ms, where
  // a plain setTimeout would fire at once and kill the command as it starts.
  const cancelTimeout = setLongTimeout(() => {
    timedOut = true;
    killGroup("SIGTERM");
    cancelKill = setLongTimeout(() => killGroup("SIGKILL"), options.killGraceMs ?? 5000);
  }, options.timeoutMs);
  const status = await child.status;
  await spawned;
  cancelTimeout();
  cancelKill();
  // Background processes the command left behind may hold its pipes open; give them a moment,
  // then stop listening rather than wait for them.
  const drained = await Promise.race([draining.then(() => true), sleep(1000).then(() => false)]);
  if (!drained) {
    stdout.stop();
    stderr.stop();
  }
  if (timedOut) killGroup("SIGKILL");
  return outcome(status, timedOut, options.timeoutMs, stdout.text(), stderr.text());
}

function outcome(
  status: Deno.CommandStatus,
  timedOut: boolean,
  timeoutMs: number,
  stdout: string,
  stderr: string,
): Outcome {
  if (timedOut) {
    const error = `timed out after ${formatDuration(timeoutMs)}; its process group was killed`;
    return { status: "error", exitCode: 124, stdout, stderr, error };
  }
  if (status.signal) {
    const error = `killed by ${status.signal}`;
    return { status: "error", exitCode: status.code, stdout, stderr, error };
  }
  if (status.code !== 0) {
    const error = `exit code ${status.code}`;
    return { status: "error", exitCode: status.code, stdout, stderr, error };
  }
  return { status: "done", exitCode: 0, stdout, stderr, error: null };
}

/** Keeps the last `cap` bytes of a stream and says how much was dropped. */
class TailBuffer {
  #chunks: Uint8Array[] = [];
  #kept = 0;
  #total = 0;
  #cap: number;
  #reader?: ReadableStreamDefaultReader<Uint8Array>;
  #onChunk: (chunk: Uint8Array) => void;

  constructor(cap: number, onChunk: (chunk: Uint8Array) => void) {
    this.#cap = cap;
    this.#onChunk = onChunk;
  }

  async drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    this.#reader = stream.getReader();
    try {
      while (true) {
        const { done, value } = await this.#reader.read();
        if (done) return;
        this.#push(value);
        this.#onChunk(value);
      }
    } catch {
      // cancelled by stop()
    }
  }

  stop(): void {
    this.#reader?.cancel().catch(() => {});
  }

  #push(chunk: Uint8Array): void {
    this.#total += chunk.length;
    this.#chunks.push(chunk);
    this.#kept += chunk.length;
    while (this.#kept - this.#chunks[0].length >= this.#cap) {
      this.#kept -= this.#chunks.shift()!.length;
    }
  }

  text(): string {
    const all = new Uint8Array(this.#kept);
    let offset = 0;
    for (const chunk of this.#chunks) {
      all.set(chunk, offset);
      offset += chunk.length;
    }
    const tail = all.subarray(Math.max(0, all.length - this.#cap));
    const text = new TextDecoder().decode(tail);
    const dropped = this.#total - tail.length;
    if (dropped === 0) return text;
    return `[ohcommodore: ${dropped} earlier bytes dropped; output is capped at ` +
      `${this.#cap} bytes per stream, the tail is kept]\n${text}`;
  }
}

// setsid(1) where it is (util-linux: every Linux); elsewhere (a Mac) Deno's detached. Looked
// for at the first command, not on import: importing the library asks for no permission.
let setsidPath: string | null | undefined;
function setsidProgram(): string | undefined {
  setsidPath ??= ["/usr/bin/setsid", "/bin/setsid"].find((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  }) ?? null;
  return setsidPath ?? undefined;
}

/**
 * Signals a command's process group (its leader's pid is the group's id). In the instant
 * before setsid(1) has made the group, the leader alone is signalled.
 *
 * @param pgid The command's process group.
 * @param signal The signal.
 */
export function signalGroup(pgid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pgid, signal);
  } catch {
    try {
      Deno.kill(pgid, signal); // not a group yet, or gone already
    } catch {
      // gone
    }
  }
}
