/**
 * How this program reaches another fleet member to run something there: over ssh for a VM, or
 * directly for a sandbox on this machine (the `local` provider). Everything above this layer
 * (delivery, provisioning, proxying, status) is the same for both.
 *
 * A destination that is an absolute path is a sandbox's home directory; anything else is an SSH
 * destination, used as given.
 *
 * @module
 */

import { join } from "node:path";
import { formatDuration } from "./duration.ts";
import { SshError, TimeoutError } from "./errors.ts";
import { runProcess } from "./process.ts";
import { type RunOptions, Ssh, type SshResult } from "./ssh.ts";

/** A way to run programs on one member. Remote paths may start with `~/` (its home). */
export interface Transport {
  /** The member's destination: an SSH destination or a sandbox home. */
  readonly destination: string;
  /** Runs a program there and collects its output (see {@link Ssh.run}). */
  run(remote: readonly string[], options: RunOptions): Promise<SshResult>;
  /** Runs a program there with the terminal attached; returns its exit code. */
  interactive(remote: readonly string[], options?: InteractiveOptions): Promise<number>;
}

/** Options for {@link Transport.interactive}. */
export interface InteractiveOptions {
  /**
   * Forward this user's SSH agent: while the session is open, code on the member can use every
   * key the agent holds. Off means off even where the user's ssh_config says `ForwardAgent yes`.
   *
   * @default {false}
   */
  agent?: boolean;
}

/**
 * The transport for a destination.
 *
 * @example Run a program on a member
 * ```ts
 * import { transportFor } from "@smithclay/ohcommodore/ssh";
 * const transport = transportFor("ship-web-k3f9a1b2.exe.xyz");
 * const { code, stdout } = await transport.run(["uname", "-a"], { timeoutMs: 30_000 });
 * console.log(code, stdout);
 * ```
 *
 * @param destination An SSH destination, or the absolute home of a local sandbox.
 * @param ssh The ssh client for SSH destinations.
 * @returns The transport.
 */
export function transportFor(destination: string, ssh: Ssh = new Ssh()): Transport {
  return destination.startsWith("/")
    ? new SandboxTransport(destination)
    : new SshTransport(destination, ssh);
}

/** A member reached over ssh. */
export class SshTransport implements Transport {
  /** The SSH destination. */
  readonly destination: string;
  readonly #ssh: Ssh;

  /**
   * A transport to an SSH destination.
   *
   * @param destination The SSH destination.
   * @param ssh The client.
   */
  constructor(destination: string, ssh: Ssh) {
    this.destination = destination;
    this.#ssh = ssh;
  }

  /** Runs a remote program. */
  run(remote: readonly string[], options: RunOptions): Promise<SshResult> {
    return this.#ssh.run(this.destination, remote, options);
  }

  /** Runs a remote program (or a login shell) on a terminal. */
  interactive(remote: readonly string[], options: InteractiveOptions = {}): Promise<number> {
    // -a as well as -A: the command line wins over a ForwardAgent in the user's ssh_config.
    const flags = [options.agent ? "-A" : "-a", ...(Deno.stdin.isTerminal() ? ["-t"] : [])];
    return this.#ssh.interactive(this.destination, remote, flags);
  }
}

// A login shell whose PATH still starts with the sandbox's ~/.local/bin (the program, the tools),
// which /etc/profile sets anew: the profile's work is kept, then the shell people type into.
const LOGIN_SHELL = [
  "bash",
  "-l",
  "-c",
  'PATH="$HOME/.local/bin:$PATH"; export PATH; if [ -t 0 ]; then exec bash -i; else exec bash; fi',
];

// What a sandbox inherits from this process's environment.
const SANDBOX_ENV = ["PATH", "USER", "LOGNAME", "LANG", "LC_ALL", "TERM", "TMPDIR", "DENO_DIR"];

/** A sandbox on this machine: programs run as this user with HOME set to the sandbox. */
export class SandboxTransport implements Transport {
  /** The sandbox's home directory. */
  readonly destination: string;

  /**
   * A transport into a sandbox.
   *
   * @param home The sandbox's home directory (absolute).
   */
  constructor(home: string) {
    this.destination = home;
  }

  /** Runs a program in the sandbox. */
  async run(remote: readonly string[], options: RunOptions): Promise<SshResult> {
    this.#checkExists();
    const [program, ...args] = this.#argv(remote);
    const result = await runProcess(program, args, { ...options, ...this.#where() });
    if (result.timedOut) {
      throw new TimeoutError(
        `"${program}" in sandbox ${this.destination} did not finish within ` +
          formatDuration(options.timeoutMs),
      );
    }
    return { code: result.code, stdout: result.stdout, stderr: result.stderr };
  }

  /** Runs a program (or bash, for a login shell) in the sandbox on this terminal. */
  async interactive(remote: readonly string[]): Promise<number> {
    this.#checkExists();
    const [program, ...args] = remote.length ? this.#argv(remote) : LOGIN_SHELL;
    const child = new Deno.Command(program, {
      args,
      ...this.#where(),
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    return (await child.status).code;
  }

  // A destroyed sandbox is an unreachable member, as a removed VM is: not a failed spawn.
  #checkExists(): void {
    try {
      if (Deno.statSync(this.destination).isDirectory) return;
    } catch {
      // gone
    }
    throw new SshError(
      this.destination,
      `Cannot reach the sandbox "${this.destination}": it no longer exists (was it destroyed?)`,
      true,
    );
  }

  #argv(remote: readonly string[]): string[] {
    return remote.map((arg) => arg.startsWith("~/") ? join(this.destination, arg.slice(2)) : arg);
  }

  // A clean environment, as a fresh VM has: the laptop's settings (SKIP_STEPS, TARGET_REPO,
  // its systemd session) must not leak into a sandbox's setup.
  #where(): { cwd: string; env: Record<string, string>; clearEnv: true } {
    const env: Record<string, string> = {};
    for (const name of SANDBOX_ENV) {
      const value = Deno.env.get(name);
      if (value) env[name] = value;
    }
    const path = env.PATH ?? "/usr/local/bin:/usr/bin:/bin";
    return {
      cwd: this.destination,
      clearEnv: true,
      env: {
        ...env,
        HOME: this.destination,
        PATH: `${join(this.destination, ".local/bin")}:${path}`,
      },
    };
  }
}
