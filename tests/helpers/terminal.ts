/**
 * A real terminal for tests: a tmux session on a private socket, so that a program sees a
 * terminal on stdin, stdout and stderr, keys are typed into it, and the screen is read back as
 * a person would see it.
 */

import { join } from "node:path";
import { runProcess } from "../../lib/process.ts";

/** A tmux session running one program; killed with its server on dispose. */
export class Terminal implements AsyncDisposable {
  #dir: string;

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /**
   * Starts `argv` in a new terminal of `columns` × `rows`, with exactly the environment `env`
   * (and TERM), in `cwd` when given. When it ends, `[exited <code>]` appears below its output.
   */
  static async start(
    argv: string[],
    env: Record<string, string>,
    size: { columns?: number; rows?: number; cwd?: string } = {},
  ): Promise<Terminal> {
    const dir = await Deno.makeTempDir({ prefix: "ohc-tmux-" });
    const terminal = new Terminal(dir);
    const assignments = Object.entries({ TERM: "xterm", ...env }).map(([k, v]) => `${k}=${v}`);
    // More than one argument after the options: tmux runs them without a shell. The program
    // runs under a fixed sh script that reports its exit and keeps the screen until dispose.
    await terminal.#tmux(
      "new-session",
      "-d",
      ...(size.cwd ? ["-c", size.cwd] : []),
      "-x",
      String(size.columns ?? 120),
      "-y",
      String(size.rows ?? 40),
      "env",
      "-i",
      ...assignments,
      "sh",
      "-c",
      '"$@"; echo "[exited $?]"; exec sleep 3600',
      "sh",
      ...argv,
    );
    return terminal;
  }

  /** Types text literally (no key names). */
  async type(text: string): Promise<void> {
    await this.#tmux("send-keys", "-l", text);
  }

  /** Presses keys by tmux name, e.g. `Tab`, `Enter`, `C-c`. */
  async press(...keys: string[]): Promise<void> {
    await this.#tmux("send-keys", ...keys);
  }

  /** The screen and its scrollback, with trailing blank lines dropped (spaces kept). */
  async screen(): Promise<string> {
    const { stdout } = await this.#tmux("capture-pane", "-p", "-N", "-S", "-");
    return stdout.replace(/\n\s*$/, "");
  }

  /** Waits until the screen matches, and returns it. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = await this.screen();
      if (pattern.test(screen)) return screen;
      if (Date.now() > deadline) {
        throw new Error(`Timed out waiting for ${pattern} on the screen:\n${screen}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async #tmux(...args: string[]): Promise<{ stdout: string }> {
    const result = await runProcess("tmux", ["-S", join(this.#dir, "socket"), ...args], {
      timeoutMs: 10_000,
    });
    if (result.code !== 0) throw new Error(`tmux ${args[0]} failed: ${result.stderr}`);
    return result;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#tmux("kill-server").catch(() => {});
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}
