/**
 * Runs a program to completion with optional stdin text and a deadline, collecting its output.
 *
 * @module
 */

/** Options for {@link runProcess}. */
export interface ProcessOptions {
  /** Text or bytes for stdin; stdin is empty when absent. */
  stdin?: string | Uint8Array;
  /** Kill the program (SIGKILL) after this long. */
  timeoutMs: number;
  /** Working directory. */
  cwd?: string;
  /** Extra environment. */
  env?: Record<string, string>;
  /**
   * Start from an empty environment instead of this process's.
   *
   * @default {false}
   */
  clearEnv?: boolean;
  /**
   * Let stderr through to ours (progress a person should see live) instead of collecting it.
   *
   * @default {false}
   */
  passStderr?: boolean;
  /**
   * Stop the program (SIGTERM) when this aborts; the call then throws the abort's reason. The
   * program then runs in its own process group, out of reach of the terminal's Ctrl-C.
   */
  signal?: AbortSignal;
  /**
   * Run in its own process group even without a signal: the terminal's Ctrl-C does not reach
   * it, so it finishes (or meets its deadline) and its effect is known. For steps that must not
   * be cut short, such as asking a provider to create a VM or register a key.
   *
   * @default {false}
   */
  shielded?: boolean;
  /** Called with stdout's text as it arrives (it is collected all the same). */
  onStdout?: (text: string) => void;
  /**
   * Kill the program (SIGKILL, exit 137) once its stdout, or its stderr, passes this many
   * characters: for programs on a machine that may not be ours, whose answer must not fill our
   * memory. What came until then is returned (one character past the cap tells it was cut).
   */
  maxOutput?: number;
}

/** How a program ended. */
export interface ProcessResult {
  /** Exit code (137 when killed for the deadline). */
  code: number;
  /** Everything it wrote to stdout. */
  stdout: string;
  /** Everything it wrote to stderr. */
  stderr: string;
  /** Whether the deadline killed it. */
  timedOut: boolean;
}

/**
 * Runs a program and waits for it. A failure to write stdin (the program exited before reading
 * it, as ssh does for an unreachable host) is ignored: the exit code says what happened.
 *
 * @param program The program.
 * @param args Its arguments.
 * @param options Stdin, deadline, directory and environment.
 * @returns Its exit code and output.
 * @throws The reason of `signal` when it aborted.
 */
export async function runProcess(
  program: string,
  args: readonly string[],
  options: ProcessOptions,
): Promise<ProcessResult> {
  options.signal?.throwIfAborted();
  // Its own group is signalled whole: a shell's children (init.sh | tee) must stop with it.
  const group = options.signal !== undefined || options.shielded === true;
  const child = new Deno.Command(program, {
    args: [...args],
    cwd: options.cwd,
    env: options.env,
    clearEnv: options.clearEnv,
    stdin: "piped",
    stdout: "piped",
    stderr: options.passStderr ? "inherit" : "piped",
    // An interruptible or shielded program gets its own process group, so a terminal's Ctrl-C
    // reaches only us and we decide when it stops (and know that it was stopped, not failed).
    detached: group,
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    kill(child, "SIGKILL", group);
  }, options.timeoutMs);
  const stop = () => kill(child, "SIGTERM", group);
  options.signal?.addEventListener("abort", stop, { once: true });
  const writer = child.stdin.getWriter();
  const input = options.stdin ?? "";
  writer.write(typeof input === "string" ? new TextEncoder().encode(input) : input)
    .then(() => writer.close())
    .catch(() => {});
  const tooMuch = () => kill(child, "SIGKILL", group);
  const stdout = collect(child.stdout, options.onStdout, options.maxOutput, tooMuch);
  const stderr = options.passStderr
    ? null
    : collect(child.stderr, undefined, options.maxOutput, tooMuch);
  try {
    const { code } = await child.status;
    if (timedOut || options.signal?.aborted) {
      // A killed ssh may have handed our pipes to its control master, which keeps them open
      // until the remote command ends: what was said so far is all we wait for.
      stdout.stopSoon();
      stderr?.stopSoon();
    }
    const [out, err] = await Promise.all([stdout.text, stderr?.text ?? ""]);
    options.signal?.throwIfAborted();
    return { code, stdout: out, stderr: err, timedOut };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", stop);
  }
}

// How long a killed program's pipes may take to close before we stop reading them.
const PIPE_GRACE_MS = 200;

/** Reads a stream to its end as text, or until told to stop soon. */
function collect(
  stream: ReadableStream<Uint8Array>,
  onText?: (text: string) => void,
  max = Infinity,
  onTooMuch: () => void = () => {},
) {
  const reader = stream.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const text = (async () => {
    const decoder = new TextDecoder();
    let text = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const chunk = decoder.decode(value, { stream: true });
        text += chunk;
        if (chunk) onText?.(chunk);
        if (text.length > max) {
          onTooMuch();
          reader.cancel().catch(() => {});
          break;
        }
      }
    } catch {
      // cancelled: keep what came
    } finally {
      clearTimeout(timer);
    }
    return text + decoder.decode();
  })();
  return {
    text,
    stopSoon(): void {
      timer = setTimeout(() => reader.cancel().catch(() => {}), PIPE_GRACE_MS);
    },
  };
}

// A child that has just exited cannot be signalled; that is no error here.
function kill(child: Deno.ChildProcess, signal: Deno.Signal, group: boolean): void {
  try {
    if (group) Deno.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    // already gone
  }
}

/**
 * The last non-empty line of a program's output: usually the line that says what went wrong.
 *
 * @param text Its stdout or stderr.
 * @returns That line, trimmed ("" when there is none).
 */
export function lastLine(text: string): string {
  return text.trim().split("\n").at(-1)?.trim() ?? "";
}
