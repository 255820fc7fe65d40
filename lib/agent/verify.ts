/**
 * A verify command run in a ship's checkout: after an agent's run (a task's `verify`) and again
 * after its branch is rebased for integration. It runs with `bash -c` in a process group of its
 * own, so that a timeout or a stop ends everything it started (a test runner's children too);
 * what it printed is kept as one tail, stdout and stderr together as a terminal would show them.
 *
 * @example Check a checkout's tests
 * ```ts
 * import { runVerify } from "./verify.ts";
 * const result = await runVerify("deno task test", {
 *   workdir: "/home/captain/web",
 *   path: "/usr/local/bin:/usr/bin:/bin",
 *   timeoutMs: 10 * 60_000,
 * });
 * if (!result.passed) console.error(result.output);
 * ```
 *
 * @module
 */

/** The type of the stream line a task prints as its verification starts. */
export const VERIFYING_TYPE = "ohcommodore_verifying";

/** How long a verify command may run, by default. */
export const DEFAULT_VERIFY_TIMEOUT_MS = 10 * 60_000;

/** The most of a verify command's output kept: its tail, in bytes. */
export const VERIFY_OUTPUT_BYTES = 4096;

// What a stopped verify command may spend on its way out before SIGKILL.
const STOP_GRACE_MS = 2000;

/** How a verify command went. */
export interface VerifyResult {
  /** The command, as given. */
  command: string;
  /** Whether it exited 0 in time. */
  passed: boolean;
  /** Its exit code; null when it was killed (a timeout, a signal). */
  exitCode: number | null;
  /** The tail of its stdout and stderr together, at most {@link VERIFY_OUTPUT_BYTES} bytes. */
  output: string;
  /** How long it ran. */
  durationMs: number;
}

/** Where and how long {@link runVerify} runs a command. */
export interface VerifyOptions {
  /** The checkout it runs in. */
  workdir: string;
  /** Its PATH (the ship's, as for claude). */
  path: string;
  /** Kill it after this long: it then fails, with exit code null. */
  timeoutMs: number;
  /** Stops it (SIGTERM to its group, SIGKILL after a grace); the call then throws the reason. */
  signal?: AbortSignal;
}

/**
 * Runs a verify command in a checkout and says how it went; it never throws for the command's
 * own failure.
 *
 * @example Tell a pass from a failure
 * ```ts
 * import { runVerify } from "./verify.ts";
 * const { passed, exitCode, output } = await runVerify("test -f .verified", {
 *   workdir: Deno.cwd(),
 *   path: Deno.env.get("PATH") ?? "/usr/bin:/bin",
 *   timeoutMs: 60_000,
 * });
 * console.log(passed ? "verified" : `failed (${exitCode}): ${output}`);
 * ```
 *
 * @param command A bash command.
 * @param options The checkout, PATH, time limit and stop signal.
 * @returns How it went.
 * @throws The signal's reason when `signal` stopped it.
 */
export async function runVerify(command: string, options: VerifyOptions): Promise<VerifyResult> {
  options.signal?.throwIfAborted();
  const began = Date.now();
  // stderr joins stdout in the outer shell, so the two interleave as they were written.
  const child = new Deno.Command("bash", {
    args: ["-c", 'exec 2>&1; exec bash -c "$1"', "verify", command],
    cwd: options.workdir,
    env: { PATH: options.path },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    detached: true,
  }).spawn();
  let timedOut = false;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    signalGroup(child.pid, "SIGKILL");
  }, Math.max(0, options.timeoutMs));
  const stop = () => {
    signalGroup(child.pid, "SIGTERM");
    killTimer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), STOP_GRACE_MS);
  };
  options.signal?.addEventListener("abort", stop, { once: true });
  try {
    const tail = await readTail(child.stdout, VERIFY_OUTPUT_BYTES);
    const status = await child.status;
    options.signal?.throwIfAborted();
    const exitCode = timedOut || status.signal !== null ? null : status.code;
    let output = decodeTail(tail, VERIFY_OUTPUT_BYTES);
    if (timedOut) {
      output = decodeTail(
        new TextEncoder().encode(
          `${output}${output && !output.endsWith("\n") ? "\n" : ""}verify timed out after ` +
            `${Math.round(options.timeoutMs / 1000)} s and was killed\n`,
        ),
        VERIFY_OUTPUT_BYTES,
      );
    }
    return { command, passed: exitCode === 0, exitCode, output, durationMs: Date.now() - began };
  } finally {
    clearTimeout(timer);
    clearTimeout(killTimer);
    options.signal?.removeEventListener("abort", stop);
    // Whatever it left running in its group (a server it started, say) goes with it.
    signalGroup(child.pid, "SIGKILL");
  }
}

/**
 * How long a verify command may run: its own limit, or what is left of the command's time (its
 * deadline less the grace a stop needs), whichever is less; a second at least.
 *
 * @example A task with 5 minutes left
 * ```ts
 * import { verifyTimeout } from "./verify.ts";
 * console.log(verifyTimeout(undefined, Date.now() + 5 * 60_000, 3000) <= 5 * 60_000); // true
 * ```
 *
 * @param limit The verify's own limit; {@link DEFAULT_VERIFY_TIMEOUT_MS} when undefined.
 * @param deadline When the command that runs it is stopped (ms since the epoch; NaN for never).
 * @param graceMs What the command needs after the verify, before its deadline.
 * @returns The time limit in milliseconds.
 */
export function verifyTimeout(
  limit: number | undefined,
  deadline: number,
  graceMs: number,
): number {
  const left = Number.isFinite(deadline) ? deadline - graceMs - Date.now() : Infinity;
  return Math.max(1000, Math.min(limit ?? DEFAULT_VERIFY_TIMEOUT_MS, left));
}

/**
 * What a verify failure says in a sentence, for an outcome's `error`.
 *
 * @example
 * ```ts
 * import { verifyFailure } from "./verify.ts";
 * const said = verifyFailure({
 *   command: "deno task test",
 *   passed: false,
 *   exitCode: 1,
 *   output: "FAILED | 1 passed | 1 failed\n",
 *   durationMs: 5000,
 * });
 * console.log(said); // Verification failed: "deno task test" exited 1: FAILED | 1 passed | 1 failed
 * ```
 *
 * @param result The failed run.
 * @returns The sentence: the command, how it ended and its last line.
 */
export function verifyFailure(result: VerifyResult): string {
  const how = result.exitCode === null ? "was killed" : `exited ${result.exitCode}`;
  const last = result.output.trim().split("\n").at(-1)?.trim() ?? "";
  return `Verification failed: ${JSON.stringify(result.command)} ${how}${last ? `: ${last}` : ""}`;
}

// The last `max` bytes of a stream, read to its end.
async function readTail(stream: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array> {
  // Twice the room, compacted when full: a long output costs copies of 4 KiB, not of itself.
  let buffer = new Uint8Array(max * 2);
  let length = 0;
  for await (const chunk of stream) {
    if (chunk.length >= max) {
      buffer.set(chunk.subarray(chunk.length - max));
      length = max;
      continue;
    }
    if (length + chunk.length > buffer.length) {
      const keep = buffer.subarray(length - (max - chunk.length), length);
      const next = new Uint8Array(max * 2);
      next.set(keep);
      buffer = next;
      length = keep.length;
    }
    buffer.set(chunk, length);
    length += chunk.length;
  }
  return buffer.subarray(Math.max(0, length - max), length);
}

// Bytes as text, at most `max` bytes, never starting inside a character.
function decodeTail(bytes: Uint8Array, max: number): string {
  let start = Math.max(0, bytes.length - max);
  // UTF-8 continuation bytes are 10xxxxxx: a cut lands on the next character's start.
  while (start < bytes.length && (bytes[start] & 0xc0) === 0x80) start++;
  return new TextDecoder().decode(bytes.subarray(start));
}

function signalGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    // already gone
  }
}
