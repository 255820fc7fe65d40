/**
 * A real sshd on loopback where each Unix user stands in for one VM: its own home, `~/.ssh`,
 * ohcommodore data and `~/.local/bin/ohcommodore`. Needs root and openssh-server.
 *
 * ```ts
 * await using world = await SshWorld.start({ vms: ["vm-a", "vm-b"] });
 * await world.writeIdentity("vm-b", { role: "captain", name: "vm-b" });
 * const result = await world.exec("vm-a", ["ssh", "vm-b", "id", "-un"]); // "ohc-vm-b\n"
 * ```
 *
 * The users (`ohc-<vm>`) are machine-wide and reused across runs, so one world at a time holds
 * them: a second `start` waits for the first world's dispose. Set `OHC_KEEP_WORLD=1` to keep the
 * world's dir (homes, logs) after dispose for a look.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** One VM: a Unix user with its own home. */
export interface Vm {
  /** The VM's name, also its `Host` alias in every VM's `~/.ssh/config`. */
  name: string;
  /** The Unix user, `ohc-<name>`. */
  user: string;
  uid: number;
  gid: number;
  home: string;
}

/** What a finished process printed and returned. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** How to run a process as a VM user. */
export interface RunOptions {
  /** Text for its stdin; without it, stdin is /dev/null. */
  stdin?: string;
  /** Variables added to the clean environment (HOME, USER, LOGNAME, SHELL, PATH). */
  env?: Record<string, string>;
  /** Kill it and throw after this long. Default 60 seconds. */
  timeoutMs?: number;
}

/** A long-running process started by {@link SshWorld.spawnCli}. */
export interface Spawned {
  child: Deno.ChildProcess;
  /** Its stdout and stderr; read it before the world is disposed. */
  logFile: string;
}

const PROJECT_DIR = fileURLToPath(new URL("../..", import.meta.url));
// What the launcher needs from the project, copied when other users cannot read the project.
const APP_FILES = ["cli.ts", "mod.ts", "lib", "deno.json", "deno.lock", "node_modules"];
const LOCK_FILE = "/tmp/ohcommodore-ssh-world.lock";
const WORLD_PREFIX = "/tmp/ohcw-";
const LOCK_WAIT_MS = 180_000;
const SSHD_START_MS = 10_000;
const DEFAULT_TIMEOUT_MS = 60_000;

/** A running sshd and its VM users; dispose it to stop everything and remove its files. */
export class SshWorld implements AsyncDisposable {
  /** The temp dir holding homes, sshd files and logs. */
  readonly dir: string;
  #lock: Deno.FsFile;
  #vms = new Map<string, Vm>();
  #port = 0;
  #appDir = "";
  #sshd?: Deno.ChildProcess;
  #children: Deno.ChildProcess[] = [];
  #logs = 0;
  #disposed = false;

  private constructor(lock: Deno.FsFile, dir: string) {
    this.#lock = lock;
    this.dir = dir;
  }

  /**
   * Starts sshd on a free 127.0.0.1 port with one Unix user per VM name, each with a fresh home.
   *
   * @param options.vms VM names, e.g. `["vm-a", "vm-b"]`.
   * @param options.appDir The project whose `cli.ts` the launcher runs; default this project.
   */
  static async start(options: { vms: string[]; appDir?: string }): Promise<SshWorld> {
    if (Deno.uid() !== 0) throw new Error("SshWorld needs root: it creates users and runs sshd");
    for (const name of options.vms) {
      if (!/^[a-z][a-z0-9-]{0,27}$/.test(name)) throw new RangeError(`Bad VM name "${name}"`);
    }
    const lock = await acquireLock();
    let world: SshWorld;
    try {
      await removeStaleWorlds();
      world = new SshWorld(lock, await makeWorldDir());
    } catch (error) {
      lock.close();
      throw error;
    }
    try {
      await world.#setUp(options.vms, options.appDir ?? PROJECT_DIR);
      return world;
    } catch (error) {
      await world[Symbol.asyncDispose]();
      throw error;
    }
  }

  /** The port sshd listens on at 127.0.0.1. */
  get port(): number {
    return this.#port;
  }

  /** The app dir the launchers run: `appDir`, or a world-readable copy of it. */
  get appDir(): string {
    return this.#appDir;
  }

  /** The VM called `name`. */
  vm(name: string): Vm {
    const vm = this.#vms.get(name);
    if (!vm) throw new RangeError(`Unknown VM "${name}": this world has ${[...this.#vms.keys()]}`);
    return vm;
  }

  /** Pids of that VM user's live processes. */
  pids(name: string): Promise<number[]> {
    return livePids(this.vm(name).user);
  }

  /** Runs `~/.local/bin/ohcommodore ...args` as that VM's user, in its home. */
  cli(name: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
    return this.exec(name, [launcherOf(this.vm(name)), ...args], options);
  }

  /** Runs any program as that VM's user, in its home, with a clean environment. */
  async exec(name: string, argv: string[], options: RunOptions = {}): Promise<RunResult> {
    const vm = this.vm(name);
    const child = this.#command(vm, argv, options.env, {
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // On timeout, also stop reading: a grandchild may hold the pipes open.
    const stop = new AbortController();
    const timer = setTimeout(() => {
      stop.abort();
      kill(child);
    }, timeoutMs);
    try {
      const [status, stdout, stderr] = await Promise.all([
        child.status,
        readAll(child.stdout, stop.signal),
        readAll(child.stderr, stop.signal),
        options.stdin === undefined ? undefined : writeAll(child.stdin, options.stdin),
      ]);
      if (stop.signal.aborted) {
        throw new Error(
          `${argv.join(" ")} as ${vm.user} timed out after ${timeoutMs}ms\n` +
            `stdout: ${stdout}\nstderr: ${stderr}`,
        );
      }
      return { code: status.code, stdout, stderr };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Starts `~/.local/bin/ohcommodore ...args` as that VM's user in the background, with stdout
   * and stderr appended to a log file. Dispose kills it.
   */
  spawnCli(name: string, args: string[], options: { env?: Record<string, string> } = {}): Spawned {
    const vm = this.vm(name);
    const logFile = `${this.dir}/logs/${name}-${++this.#logs}.log`;
    Deno.writeTextFileSync(logFile, "");
    Deno.chownSync(logFile, vm.uid, vm.gid);
    // The log path is sh's $0, so it does not show up in the program's environment.
    const argv = ["sh", "-c", 'exec "$@" >>"$0" 2>&1', logFile, launcherOf(vm), ...args];
    const child = this.#command(vm, argv, options.env, {
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#children.push(child);
    return { child, logFile };
  }

  /** Writes `~/.ohcommodore/identity.json` for that VM, owned by its user, mode 0600. */
  async writeIdentity(name: string, identity: Record<string, unknown>): Promise<void> {
    const vm = this.vm(name);
    const dir = `${vm.home}/.ohcommodore`;
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(`${dir}/identity.json`, JSON.stringify(identity, null, 2) + "\n", {
      mode: 0o600,
    });
    await chownTree(dir, vm);
  }

  /** Stops sshd and every process of the VM users, then removes the temp dir. Idempotent. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    try {
      if (this.#sshd) kill(this.#sshd);
      for (const vm of this.#vms.values()) await killAll(vm.user);
      await Promise.all([this.#sshd, ...this.#children].map((child) => child?.status));
      if (Deno.env.get("OHC_KEEP_WORLD")) console.error(`SshWorld: kept ${this.dir}`);
      else await Deno.remove(this.dir, { recursive: true });
    } finally {
      this.#lock.close();
    }
  }

  async #setUp(names: string[], appDir: string): Promise<void> {
    await Deno.mkdir(`${this.dir}/sshd`, { mode: 0o700 });
    await Deno.mkdir(`${this.dir}/logs`);
    await Deno.chmod(`${this.dir}/logs`, 0o755); // spawnCli's users append to their logs here
    // useradd and usermod lock /etc/passwd, so one user at a time.
    for (const name of names) this.#vms.set(name, await createUser(name, `${this.dir}/${name}`));
    const vms = [...this.#vms.values()];
    const hostKey = `${this.dir}/sshd/host_ed25519`;
    await Promise.all([
      keygen(hostKey, "ohc-world-host"),
      ...vms.map(async (vm) => {
        await Deno.mkdir(`${vm.home}/.ssh`, { recursive: true, mode: 0o700 });
        await keygen(`${vm.home}/.ssh/id_ed25519`, vm.user);
      }),
    ]);
    this.#port = freePort();
    this.#appDir = await this.#readableApp(appDir, vms[0]);
    const hostLine = `[127.0.0.1]:${this.#port} ${await Deno.readTextFile(`${hostKey}.pub`)}`;
    const publicKeys = await Promise.all(
      vms.map((vm) => Deno.readTextFile(`${vm.home}/.ssh/id_ed25519.pub`)),
    );
    const sshConfig = vms.map((vm) => hostBlock(vm, this.#port)).join("");
    for (const vm of vms) {
      await Deno.writeTextFile(`${vm.home}/.ssh/authorized_keys`, publicKeys.join(""));
      await Deno.writeTextFile(`${vm.home}/.ssh/config`, sshConfig);
      await Deno.writeTextFile(`${vm.home}/.ssh/known_hosts`, hostLine);
      await Deno.mkdir(`${vm.home}/.local/bin`, { recursive: true });
      await Deno.writeTextFile(launcherOf(vm), launcher(this.#appDir), { mode: 0o755 });
      await chownTree(vm.home, vm);
    }
    await this.#startSshd(hostKey, vms);
  }

  /** `appDir` if the VM users can read it, else a world-readable copy of what the app needs. */
  async #readableApp(appDir: string, vm: Vm): Promise<string> {
    const deno = Deno.execPath();
    if ((await this.exec(vm.name, ["test", "-x", deno])).code !== 0) {
      throw new Error(`The VM users cannot execute ${deno}: make it and its parents o+rx`);
    }
    if ((await this.exec(vm.name, ["test", "-r", `${appDir}/deno.json`])).code === 0) return appDir;
    const copy = `${this.dir}/app`;
    await Deno.mkdir(copy);
    const files = APP_FILES.map((file) => `${appDir}/${file}`).filter(exists);
    await must("cp", "-a", ...files, copy);
    await must("chmod", "-R", "a+rX", copy);
    return copy;
  }

  async #startSshd(hostKey: string, vms: Vm[]): Promise<void> {
    const config = `${this.dir}/sshd/sshd_config`;
    const log = `${this.dir}/logs/sshd.log`;
    await Deno.writeTextFile(config, sshdConfig(this.dir, hostKey, this.#port, vms));
    // The privilege separation dir that a systemd unit would create.
    await Deno.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
    const sshd = new Deno.Command("/usr/sbin/sshd", {
      args: ["-D", "-E", log, "-f", config],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#sshd = sshd;
    let exited = false;
    sshd.status.then(() => exited = true);
    const deadline = Date.now() + SSHD_START_MS;
    while (!exited && Date.now() < deadline) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port: this.#port })).close();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const why = exited ? "exited" : `did not listen within ${SSHD_START_MS}ms`;
    throw new Error(`sshd ${why}: ${await Deno.readTextFile(log).catch(() => "")}`);
  }

  #command(
    vm: Vm,
    argv: string[],
    env: Record<string, string> = {},
    stdio: Pick<Deno.CommandOptions, "stdin" | "stdout" | "stderr">,
  ): Deno.Command {
    return new Deno.Command(argv[0], {
      args: argv.slice(1),
      uid: vm.uid,
      gid: vm.gid,
      cwd: vm.home,
      // What a login would give, so nothing of the test runner's environment leaks in.
      clearEnv: true,
      env: {
        HOME: vm.home,
        USER: vm.user,
        LOGNAME: vm.user,
        SHELL: "/bin/bash",
        PATH: `${vm.home}/.local/bin:/usr/local/bin:/usr/bin:/bin`,
        ...env,
      },
      ...stdio,
    });
  }
}

async function acquireLock(): Promise<Deno.FsFile> {
  const file = await Deno.open(LOCK_FILE, { create: true, write: true, mode: 0o600 });
  const deadline = Date.now() + LOCK_WAIT_MS;
  while (!(await file.tryLock(true))) {
    if (Date.now() > deadline) {
      file.close();
      throw new Error(`Another SshWorld held ${LOCK_FILE} for ${LOCK_WAIT_MS}ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return file;
}

/** Removes what a world whose process died before its dispose left: its sshd and its dir. */
async function removeStaleWorlds(): Promise<void> {
  for await (const entry of Deno.readDir("/tmp")) {
    const dir = `/tmp/${entry.name}`;
    if (!dir.startsWith(WORLD_PREFIX)) continue;
    const pid = (await Deno.readTextFile(`${dir}/sshd/sshd.pid`).catch(() => "")).trim();
    const command = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    // The pid may belong to another process by now; only an sshd with this world's config counts.
    if (pid && command.includes(`${dir}/sshd/sshd_config`)) Deno.kill(Number(pid), "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * A fresh dir that every user can traverse to reach its home. Its path is short because ssh
 * control sockets live below the homes, and a socket path may not exceed 107 bytes.
 */
async function makeWorldDir(): Promise<string> {
  const dir = `${WORLD_PREFIX}${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(dir);
  await Deno.chmod(dir, 0o755); // chmod, not mkdir's mode: the umask may be 077
  return dir;
}

/** Creates or reuses `ohc-<name>`, pointed at a fresh `home`. */
async function createUser(name: string, home: string): Promise<Vm> {
  const user = `ohc-${name}`;
  await Deno.mkdir(home, { mode: 0o755 });
  // "*" rather than useradd's "!": without PAM, sshd refuses "!" accounts as locked.
  if (await succeeds("id", "-u", user)) {
    // usermod refuses users with running processes, e.g. left by a crashed run.
    await killAll(user);
    await must("usermod", "-d", home, "-s", "/bin/bash", "-p", "*", user);
  } else {
    await must("useradd", "-M", "-U", "-d", home, "-s", "/bin/bash", "-p", "*", user);
  }
  const [uid, gid] = (await must("getent", "passwd", user)).split(":").slice(2, 4).map(Number);
  const vm = { name, user, uid, gid, home };
  await Deno.chown(home, uid, gid);
  return vm;
}

/** Kills every process of `user` and waits until none is left alive. */
async function killAll(user: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while ((await livePids(user)).length > 0) {
    if (Date.now() > deadline) throw new Error(`Processes of ${user} survive SIGKILL`);
    await succeeds("pkill", "-KILL", "-u", user);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Pids of `user`'s processes, without zombies: this machine's init reaps them a second late. */
async function livePids(user: string): Promise<number[]> {
  const output = await new Deno.Command("ps", { args: ["-o", "pid=,stat=", "-u", user] }).output();
  return new TextDecoder().decode(output.stdout).split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([pid, stat]) => pid && !stat.startsWith("Z"))
    .map(([pid]) => Number(pid));
}

function hostBlock(vm: Vm, port: number): string {
  return `Host ${vm.name}
  HostName 127.0.0.1
  Port ${port}
  User ${vm.user}
  IdentityFile ~/.ssh/id_ed25519
  IdentitiesOnly yes
`;
}

function sshdConfig(dir: string, hostKey: string, port: number, vms: Vm[]): string {
  // No AcceptEnv: like a real VM, nothing of the client's environment gets through.
  return `ListenAddress 127.0.0.1
Port ${port}
HostKey ${hostKey}
PidFile ${dir}/sshd/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers ${vms.map((vm) => vm.user).join(" ")}
MaxStartups 200:30:300
MaxSessions 200
PrintMotd no
PrintLastLog no
LogLevel ERROR
Subsystem sftp internal-sftp
`;
}

function launcherOf(vm: Vm): string {
  return `${vm.home}/.local/bin/ohcommodore`;
}

function launcher(appDir: string): string {
  // The app dir is root's: manual mode uses node_modules as installed, without trying to lock,
  // refresh or write it, and without asking the npm registry.
  return `#!/bin/sh
export DENO_NO_UPDATE_CHECK=1
exec ${quote(Deno.execPath())} run -A --quiet --node-modules-dir=manual \\
  --config ${quote(`${appDir}/deno.json`)} ${quote(`${appDir}/cli.ts`)} "$@"
`;
}

function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

function keygen(file: string, comment: string): Promise<string> {
  return must("ssh-keygen", "-t", "ed25519", "-N", "", "-q", "-C", comment, "-f", file);
}

function chownTree(path: string, vm: Vm): Promise<string> {
  return must("chown", "-R", `${vm.uid}:${vm.gid}`, path);
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function kill(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // Already exited.
  }
}

/** Runs a setup command as root and returns its stdout; throws unless it succeeds. */
async function must(cmd: string, ...args: string[]): Promise<string> {
  const output = await new Deno.Command(cmd, { args, stdin: "null" }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  if (!output.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${output.code}): ${decode(output.stderr)}`);
  }
  return decode(output.stdout);
}

async function succeeds(cmd: string, ...args: string[]): Promise<boolean> {
  const quiet = { stdin: "null", stdout: "null", stderr: "null" } as const;
  return (await new Deno.Command(cmd, { args, ...quiet }).output()).success;
}

async function readAll(stream: ReadableStream<Uint8Array>, stop: AbortSignal): Promise<string> {
  let text = "";
  try {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream(), { signal: stop })) {
      text += chunk;
    }
  } catch (error) {
    if (!stop.aborted) throw error;
  }
  return text;
}

async function writeAll(stream: WritableStream<Uint8Array>, text: string): Promise<void> {
  const writer = stream.getWriter();
  try {
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
  } catch {
    // The process exited without reading all of it; its exit code tells the rest.
  }
}
