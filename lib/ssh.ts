/**
 * The one place that builds and runs ssh. Options are arrays, never strings; payloads travel on
 * stdin; every call has a timeout; exit code 255 (ssh itself failed) becomes an {@link SshError}
 * and is retried only when the remote command cannot have started, or when the caller says the
 * command is idempotent.
 *
 * @module
 */

import { tmpdir } from "node:os";
import { join } from "node:path";
import { pRetry } from "./deps.ts";
import { formatDuration } from "./duration.ts";
import { SshError, TimeoutError } from "./errors.ts";
import { homeDir } from "./paths.ts";
import { lastLine, runProcess } from "./process.ts";

/** How ssh connects. Derive variants with {@link Ssh.with}; instances never change. */
export interface SshSettings {
  /**
   * Seconds to wait for the TCP connection and handshake.
   *
   * @default {10}
   */
  connectTimeoutSec: number;
  /** An ssh_config file to use instead of the user's (`-F`). */
  configFile?: string;
  /**
   * Share one connection per host between calls (ControlMaster).
   *
   * @default {true}
   */
  multiplex: boolean;
  /**
   * Where control sockets live.
   *
   * @default {"~/.ohcommodore/ssh"}
   */
  controlDir?: string;
  /**
   * How long an idle shared connection stays open.
   *
   * @default {60}
   */
  controlPersistSec: number;
  /**
   * Attempts for retriable failures.
   *
   * @default {4}
   */
  attempts: number;
  /**
   * Seconds between keep-alive probes; three unanswered drop the connection.
   *
   * @default {15}
   */
  aliveIntervalSec: number;
}

/**
 * When a failed call may be tried again: `connect` only when ssh failed before the remote
 * command could start; `idempotent` on any ssh failure, because running twice is harmless.
 */
export type RetryPolicy = "connect" | "idempotent";

/** Options for one {@link Ssh.run}. */
export interface RunOptions {
  /** Text or bytes for the remote command's stdin. */
  stdin?: string | Uint8Array;
  /** Kill ssh after this long. */
  timeoutMs: number;
  /**
   * When to retry.
   *
   * @default {"connect"}
   */
  retry?: RetryPolicy;
  /**
   * Let the remote stderr through to ours; ssh failures then cannot be told apart.
   *
   * @default {false}
   */
  passStderr?: boolean;
  /** Extra ssh flags, e.g. `["-A"]` to forward the agent. */
  sshFlags?: readonly string[];
  /** Stops ssh (and further attempts) when this aborts; the call throws its reason. */
  signal?: AbortSignal;
  /**
   * Keep the terminal's Ctrl-C from killing ssh mid-call (see ProcessOptions).
   *
   * @default {false}
   */
  shielded?: boolean;
  /** Called with the remote stdout's text as it arrives (it is returned all the same). */
  onStdout?: (text: string) => void;
  /** Kill ssh once the remote stdout passes this many characters (see ProcessOptions). */
  maxOutput?: number;
}

/** What a remote command printed and returned. */
export interface SshResult {
  /** The remote exit code (never 255 from ssh itself: that throws). */
  code: number;
  /** Remote stdout. */
  stdout: string;
  /** Remote stderr. */
  stderr: string;
}

const DEFAULTS: SshSettings = {
  connectTimeoutSec: 10,
  multiplex: true,
  controlPersistSec: 60,
  attempts: 4,
  aliveIntervalSec: 15,
};

// ssh's own messages for failures that happen before the remote command starts.
const BEFORE_COMMAND = [
  /Could not resolve hostname/i,
  /Name or service not known/i,
  /Temporary failure in name resolution/i,
  /Connection refused/i,
  /Connection timed out/i,
  /Operation timed out/i,
  /No route to host/i,
  /Network is unreachable/i,
  /kex_exchange_identification/i,
  /banner exchange/i,
  /Connection reset by peer/i,
  /Connection closed by .* port \d+/i,
  /Permission denied \(/i,
  /Host key verification failed/i,
];
// Of those, the ones worth another try: the host may come up, or the lobby may stop dropping us.
const PERMANENT = /Permission denied|Host key verification/;
const TRANSIENT = BEFORE_COMMAND.filter((pattern) => !PERMANENT.test(pattern.source));

/**
 * Runs commands on other machines over ssh.
 *
 * @example Run a program remotely with a payload on stdin
 * ```ts
 * import { Ssh } from "@smithclay/ohcommodore/ssh";
 * const ssh = new Ssh();
 * const result = await ssh.run("ship-web.exe.xyz", ["cat"], { stdin: "hello", timeoutMs: 30_000 });
 * console.log(result.stdout); // "hello"
 * ```
 */
export class Ssh {
  /** The settings in force. */
  readonly settings: Readonly<SshSettings>;

  /**
   * Creates a client.
   *
   * @param settings Overrides of the defaults; `OHCOMMODORE_SSH_CONFIG` sets `configFile`.
   */
  constructor(settings: Partial<SshSettings> = {}) {
    const configFile = Deno.env.get("OHCOMMODORE_SSH_CONFIG") || undefined;
    this.settings = { ...DEFAULTS, ...(configFile ? { configFile } : {}), ...settings };
  }

  /**
   * A new client with some settings changed.
   *
   * @param settings The settings to change.
   * @returns The new client.
   */
  with(settings: Partial<SshSettings>): Ssh {
    return new Ssh({ ...this.settings, ...settings });
  }

  /**
   * The ssh argv for a destination and an optional remote argv.
   *
   * @param destination The SSH destination, used as given.
   * @param remote The remote program and arguments, quoted here for the remote shell.
   * @param extra Extra ssh flags, e.g. `["-t"]` or `["-A"]`.
   * @returns The full argv, starting with "ssh".
   */
  argv(
    destination: string,
    remote: readonly string[] = [],
    extra: readonly string[] = [],
  ): string[] {
    const s = this.settings;
    const options = [
      "BatchMode=yes",
      `ConnectTimeout=${s.connectTimeoutSec}`,
      "StrictHostKeyChecking=accept-new",
      `ServerAliveInterval=${s.aliveIntervalSec}`,
      "ServerAliveCountMax=3",
      "LogLevel=ERROR",
      ...this.#multiplexOptions(),
    ];
    return [
      "ssh",
      ...(s.configFile ? ["-F", s.configFile] : []),
      ...options.flatMap((option) => ["-o", option]),
      ...extra,
      "--",
      destination,
      ...(remote.length ? [remoteCommand(remote)] : []),
    ];
  }

  /**
   * Runs a remote command and returns its exit code and output. A non-zero remote exit code is
   * returned, not thrown; ssh's own failures throw.
   *
   * @param destination The SSH destination.
   * @param remote The remote program and arguments.
   * @param options Stdin, timeout and retry policy.
   * @returns The remote result.
   * @throws {SshError} When ssh itself fails (after retries, where allowed).
   * @throws {TimeoutError} When the call outlives its timeout.
   */
  run(destination: string, remote: readonly string[], options: RunOptions): Promise<SshResult> {
    const policy = options.retry ?? "connect";
    return pRetry(() => this.#once(destination, remote, options), {
      retries: this.settings.attempts - 1,
      minTimeout: 500,
      maxTimeout: 5000,
      randomize: true,
      signal: options.signal,
      shouldRetry: ({ error }) =>
        error instanceof SshError &&
        (policy === "idempotent" || (error.beforeCommand && isTransient(error.message))),
    });
  }

  /**
   * Runs ssh with the terminal attached (a login shell, a confirmation prompt) and returns its
   * exit code. Nothing is retried: a person is on the other end.
   *
   * @param destination The SSH destination.
   * @param remote The remote program and arguments; empty for a login shell.
   * @param extra Extra ssh flags, e.g. `["-t", "-A"]`.
   * @returns ssh's exit code (255 when ssh itself failed).
   */
  async interactive(
    destination: string,
    remote: readonly string[] = [],
    extra: readonly string[] = [],
  ): Promise<number> {
    // Unshared: a session riding an existing master would silently lose -A.
    const [program, ...args] = this.with({ multiplex: false }).argv(destination, remote, extra);
    const child = new Deno.Command(program, {
      args,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    return (await child.status).code;
  }

  /**
   * The private directory of this client's shared connections, or undefined when it does not
   * share them (multiplexing off, or no usable directory).
   *
   * @returns The directory.
   */
  controlDirectory(): string | undefined {
    return this.settings.multiplex ? controlDir(this.settings.controlDir) : undefined;
  }

  /**
   * Makes sure a shared connection to a destination is open (opening one, which stays for
   * `controlPersistSec` after its last use).
   *
   * @param destination The SSH destination.
   * @param timeoutMs Deadline for connecting.
   * @throws {SshError} When it cannot connect, or does not share connections.
   */
  async ensureMaster(destination: string, timeoutMs: number): Promise<void> {
    const check = this.#control(destination, ["-O", "check"], { timeoutMs: 5_000 });
    if (await check.then(() => true, () => false)) {
      return;
    }
    // The first call opens the master (ControlMaster=auto), which then stays; retried as any
    // connection is.
    await this.run(destination, ["true"], { timeoutMs, retry: "connect" });
  }

  /**
   * Adds a unix-socket forward to the shared connection of a destination: connecting to
   * `localSocket` here connects to `remoteSocket` there, for as long as that connection lives.
   *
   * @param destination The SSH destination (its shared connection must be open).
   * @param localSocket The socket to create here (a stale one is replaced).
   * @param remoteSocket The socket there.
   * @throws {SshError} When the shared connection refuses it.
   */
  async forwardSocket(destination: string, localSocket: string, remoteSocket: string) {
    // The master answers a forward it has already with OK and binds nothing: ask it to drop
    // any first (connections through it stay), so the socket is bound afresh.
    await this.#control(destination, ["-O", "cancel", "-L", `${localSocket}:${remoteSocket}`])
      .catch(() => {});
    await this.#control(destination, ["-O", "forward", "-L", `${localSocket}:${remoteSocket}`]);
  }

  /**
   * Removes a forward that {@link Ssh.forwardSocket} added.
   *
   * @param destination The SSH destination.
   * @param localSocket The local socket of the forward.
   * @param remoteSocket The socket there.
   */
  async cancelForward(destination: string, localSocket: string, remoteSocket: string) {
    await this.#control(destination, ["-O", "cancel", "-L", `${localSocket}:${remoteSocket}`])
      .catch(() => {});
    await Deno.remove(localSocket).catch(() => {});
  }

  /**
   * Opens a connection of its own to a destination (`ssh -M -N`), with its control socket at a
   * path its owner chose: for a link that must live as long as its owner says (the flagship's
   * channel to a ship), not as long as shared connections idle. Its owner ends it (SIGTERM, or
   * {@link Ssh.control} with `-O exit`).
   *
   * @param destination The SSH destination.
   * @param controlPath Where its control socket goes.
   * @returns The ssh process; its stderr is piped (say why it ended, or cancel it).
   */
  openMaster(destination: string, controlPath: string): Deno.ChildProcess {
    const flags = ["-M", "-N", "-S", controlPath, "-o", "ControlPersist=no"];
    const [program, ...args] = this.argv(destination, [], flags);
    return new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  }

  /**
   * Asks a connection's master to do something (`-O check`, `-O forward -R …`, `-O exit`).
   *
   * @param destination The SSH destination.
   * @param flags The `-O …` flags.
   * @param options `controlPath` of a connection {@link Ssh.openMaster} opened (else the shared
   *   one); how long it may take.
   * @throws {SshError} When the master refuses, or does not answer in time.
   */
  async control(
    destination: string,
    flags: readonly string[],
    options: { controlPath?: string; timeoutMs?: number } = {},
  ): Promise<void> {
    if (options.controlPath) {
      return await this.#control(destination, ["-S", options.controlPath, ...flags], {
        timeoutMs: options.timeoutMs,
        shared: false,
      });
    }
    await this.#control(destination, [...flags], { timeoutMs: options.timeoutMs });
  }

  // Asks a master to do something (-O …): the shared connection's unless told otherwise.
  async #control(
    destination: string,
    flags: string[],
    { timeoutMs = 10_000, shared = true }: { timeoutMs?: number; shared?: boolean } = {},
  ): Promise<void> {
    if (shared && !this.controlDirectory()) {
      throw new SshError(destination, "ssh does not share connections here", true);
    }
    const [program, ...args] = this.argv(destination, [], flags);
    const result = await runProcess(program, args, { timeoutMs });
    if (result.code !== 0 || result.timedOut) {
      throw new SshError(
        destination,
        `ssh ${flags.join(" ")} for "${destination}" failed: ` +
          (lastLine(result.stderr) || `exit ${result.code}`),
        true,
      );
    }
  }

  async #once(
    destination: string,
    remote: readonly string[],
    options: RunOptions,
  ): Promise<SshResult> {
    const [program, ...args] = this.argv(destination, remote, options.sshFlags);
    const result = await runProcess(program, args, options);
    const stderr = result.stderr;
    if (result.timedOut) {
      throw new TimeoutError(
        `ssh to "${destination}" did not finish within ${formatDuration(options.timeoutMs)}`,
      );
    }
    if (result.code === 255) {
      // Output means the command ran, whatever ssh says about the connection afterwards.
      const beforeCommand = result.stdout === "" &&
        BEFORE_COMMAND.some((pattern) => pattern.test(stderr));
      const reason = lastLine(stderr) || "ssh exited with 255";
      throw new SshError(
        destination,
        `Cannot reach "${destination}" over ssh: ${reason}`,
        beforeCommand,
      );
    }
    return { code: result.code, stdout: result.stdout, stderr };
  }

  #multiplexOptions(): string[] {
    if (!this.settings.multiplex) return [];
    const dir = controlDir(this.settings.controlDir);
    if (!dir) return [];
    return [
      "ControlMaster=auto",
      `ControlPath=${join(dir, "%C")}`,
      `ControlPersist=${this.settings.controlPersistSec}`,
      // A forward's local socket left by an earlier master is replaced, not an error.
      "StreamLocalBindUnlink=yes",
    ];
  }
}

// A control socket path is "<dir>/<40 hex of %C>", and ssh first binds "<path>.<16 random>";
// unix socket paths hold 107 bytes.
const SOCKET_NAME_ROOM = 1 + 40 + 17;

/**
 * A private directory for control sockets whose paths fit: `~/.ohcommodore/ssh`, else (a long
 * home) `/tmp/ohc-ssh-<uid>`. Undefined when neither is usable; ssh then connects unshared.
 */
function controlDir(preferred?: string): string | undefined {
  const candidates = [
    preferred ?? join(homeDir(), ".ohcommodore", "ssh"),
    join(tmpdir(), `ohc-ssh-${Deno.uid()}`),
  ];
  for (const dir of candidates) {
    if (dir.length + SOCKET_NAME_ROOM > 107) continue;
    try {
      Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const info = Deno.statSync(dir);
      // In a shared /tmp, only a directory we own and nobody else can enter is safe.
      if (info.uid === Deno.uid() && ((info.mode ?? 0) & 0o077) === 0) return dir;
    } catch {
      // not creatable here; try the next
    }
  }
  return undefined;
}

function isTransient(message: string): boolean {
  return TRANSIENT.some((pattern) => pattern.test(message));
}

/**
 * Quotes an argv for the remote POSIX shell. A leading `~/` stays unquoted so the remote shell
 * expands it to the remote home.
 *
 * @param argv The remote program and its arguments.
 * @returns One command string.
 */
export function remoteCommand(argv: readonly string[]): string {
  return argv
    .map((arg) => arg.startsWith("~/") ? "~/" + shellQuote(arg.slice(2)) : shellQuote(arg))
    .join(" ");
}

/**
 * Quotes one argument for a POSIX shell.
 *
 * @param arg The argument.
 * @returns The argument, single-quoted when it has anything but safe characters.
 */
export function shellQuote(arg: string): string {
  // "=" is not safe: a word like "a=b" in command position is an assignment to bash.
  if (/^[A-Za-z0-9_\/.,:+@%-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}
