/**
 * A real sshd on loopback where each Unix user stands in for one VM: its own home, ~/.ssh,
 * identity, inbox and scheduler. Tests drive the real CLI as those users. Needs root.
 */

import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runProcess } from "../../lib/process.ts";
import { CLI_RUN_FLAGS } from "../../lib/self_command.ts";

/** One VM of the world. */
export interface Vm {
  name: string;
  user: string;
  home: string;
}

/** What a process printed and returned. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for running something as a VM's user. */
export interface RunAs {
  stdin?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

const PROJECT = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
// The package's entry points by subpath ("." is mod.ts, "./inbox" inbox.ts, "./cli" cli.ts).
const EXPORTS: Record<string, string> = JSON.parse(
  Deno.readTextFileSync(join(PROJECT, "deno.json")),
).exports;
const APP_FILES = [
  ...Object.values(EXPORTS).map((path) => path.replace(/^\.\//, "")),
  "lib",
  "cloudinit",
  "deno.json",
  "deno.lock",
  "node_modules",
];
/** Where worlds live. Not under /tmp: sshd's StrictModes refuses keys below a world-writable directory. */
const WORLDS = "/var/lib/ohc-e2e";

/**
 * Explains why this machine cannot host a world.
 *
 * @returns The reason, or undefined when it can.
 */
export function sshWorldUnavailable(): string | undefined {
  if (Deno.uid() !== 0) return "end-to-end tests need root (they create Unix users)";
  for (const tool of ["/usr/sbin/sshd", "/usr/bin/ssh", "/usr/sbin/runuser", "/usr/sbin/useradd"]) {
    try {
      Deno.statSync(tool);
    } catch {
      return `end-to-end tests need ${tool}: run .ci/run or apt-get install openssh-server`;
    }
  }
  return undefined;
}

/** sshd plus one user per VM; dispose it to stop everything and remove the world's files. */
export class SshWorld implements AsyncDisposable {
  readonly port: number;
  /** The world's own directory; everything it creates lives below it. */
  readonly dir: string;
  #vms: Map<string, Vm>;
  #sshd: Deno.ChildProcess;
  #app: WorldApp;
  #children: Deno.ChildProcess[] = [];

  private constructor(
    port: number,
    dir: string,
    vms: Map<string, Vm>,
    sshd: Deno.ChildProcess,
    app: WorldApp,
  ) {
    this.port = port;
    this.dir = dir;
    this.#vms = vms;
    this.#sshd = sshd;
    this.#app = app;
  }

  /** Creates the users and starts sshd on a free loopback port. */
  static async start(options: { vms: string[]; sshd?: SshdOptions }): Promise<SshWorld> {
    const unavailable = sshWorldUnavailable();
    if (unavailable) throw new Error(unavailable);
    const dir = await makeWorldDir();
    const vms = new Map<string, Vm>();
    try {
      const app = await prepareApp(dir);
      const port = freePort();
      for (const name of options.vms) vms.set(name, await createVm(dir, name));
      const { hostKey, knownHost } = await makeHostKey(dir, port);
      const keys = await Promise.all(
        [...vms.values()].map((vm) => Deno.readTextFile(join(vm.home, ".ssh", "id_ed25519.pub"))),
      );
      for (const vm of vms.values()) {
        await writeVmFiles(vm, [...vms.values()], { port, keys: keys.join(""), knownHost, app });
      }
      const sshd = await startSshd(dir, port, sshdConfig(dir, port, hostKey, options.sshd));
      return new SshWorld(port, dir, vms, sshd, app);
    } catch (error) {
      // The users stay (fixtures every world reuses); what this one made goes.
      for (const vm of vms.values()) await run(["pkill", "-KILL", "-u", vm.user], true);
      await removeWorldDir(dir).catch(() => {});
      throw error;
    }
  }

  /** The VM with that name. */
  vm(name: string): Vm {
    const vm = this.#vms.get(name);
    if (!vm) throw new Error(`No VM "${name}" in this world`);
    return vm;
  }

  /** Runs the real CLI (the VM's ~/.local/bin/ohcommodore) as the VM's user. */
  cli(name: string, args: string[], options: RunAs = {}): Promise<RunResult> {
    return this.exec(name, [this.#program(name), ...args], options);
  }

  /** Runs any program as the VM's user, in a clean environment. */
  async exec(name: string, argv: string[], options: RunAs = {}): Promise<RunResult> {
    const { code, stdout, stderr } = await runProcess(
      "runuser",
      this.#runuserArgs(name, argv, options),
      {
        stdin: options.stdin,
        timeoutMs: options.timeoutMs ?? 120_000,
        cwd: this.vm(name).home,
      },
    );
    return { code, stdout, stderr };
  }

  /**
   * Runs a TypeScript script as the VM's user, as a script of theirs using the library would
   * run: `"@smithclay/ohcommodore"` imports the world's mod.ts, `"@lib/…"` its lib/ modules.
   *
   * @param name The VM.
   * @param source The script.
   * @param args Its arguments.
   * @param options `onLine` hears each line of its stdout as it comes.
   * @returns How it ended.
   */
  async script(
    name: string,
    source: string,
    args: string[] = [],
    options: { onLine?: (line: string) => void | Promise<void>; timeoutMs?: number } = {},
  ): Promise<RunResult> {
    const vm = this.vm(name);
    const argv = [...await writeLibraryScript(this.#app, vm.home, vm.user, source), ...args];
    let partial = "";
    let heard = Promise.resolve();
    const result = await runProcess("runuser", this.#runuserArgs(name, argv, {}), {
      timeoutMs: options.timeoutMs ?? 600_000,
      cwd: vm.home,
      onStdout: (chunk) => {
        const lines = (partial + chunk).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) heard = heard.then(() => options.onLine?.(line));
      },
    });
    await heard;
    return { code: result.code, stdout: result.stdout, stderr: result.stderr };
  }

  /** Starts a long-running CLI process (e.g. `_scheduler`) as the VM's user, logging to logOf. */
  spawnCli(name: string, args: string[]): Deno.ChildProcess {
    const argv = ["sh", "-c", 'exec "$@" >>"$WORLD_LOG" 2>&1', "sh", this.#program(name), ...args];
    const options = { env: { WORLD_LOG: this.logOf(name) } };
    const child = new Deno.Command("runuser", {
      args: this.#runuserArgs(name, argv, options),
      cwd: this.vm(name).home,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#children.push(child);
    return child;
  }

  /** The log file of processes started with {@link spawnCli} for a VM. */
  logOf(name: string): string {
    return join(this.vm(name).home, "world.log");
  }

  /** Writes ~/.ohcommodore/identity.json for a VM, owned by its user, mode 0600. */
  async writeIdentity(name: string, identity: Record<string, unknown>): Promise<void> {
    const vm = this.vm(name);
    const dir = join(vm.home, ".ohcommodore");
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(join(dir, "identity.json"), JSON.stringify(identity), { mode: 0o600 });
    await run(["chown", "-R", `${vm.user}:${vm.user}`, dir]);
  }

  #program(name: string): string {
    return join(this.vm(name).home, ".local/bin/ohcommodore");
  }

  #runuserArgs(name: string, argv: string[], options: RunAs): string[] {
    const vm = this.vm(name);
    return runuserArgs(vm.user, vm.home, argv, options.env);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const child of this.#children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
    }
    await Promise.all(this.#children.map((child) => child.status));
    // Detached schedulers, ssh control masters and commands left running.
    for (const vm of this.#vms.values()) {
      await run(["pkill", "-KILL", "-u", vm.user], true);
      await removeTmpOf(Number((await run(["id", "-u", vm.user])).stdout.trim()));
    }
    this.#sshd.kill("SIGTERM");
    await this.#sshd.output();
    await removeWorldDir(this.dir);
  }
}

/** The VM names a world may use; each is the fixture user `ohc-<name>` (see fixture_users.ts). */
export const FIXTURE_VMS: readonly string[] = ["vm-a", "vm-b"];

/**
 * The fixture user of a VM name, made if missing. Fixture users are made once on a machine and
 * kept, like the packages `.ci/run` installs; every world reuses them.
 *
 * @param name One of FIXTURE_VMS.
 * @returns The user's name.
 * @throws {RangeError} When name is not a fixture: a world must not leave a new user behind.
 */
export async function fixtureUser(name: string): Promise<string> {
  if (!FIXTURE_VMS.includes(name)) {
    throw new RangeError(
      `SshWorld has no fixture user for "${name}": use one of ${
        FIXTURE_VMS.join(", ")
      } or add it to FIXTURE_VMS`,
    );
  }
  const user = `ohc-${name}`;
  if ((await run(["id", "-u", user], true)).code !== 0) {
    await runUserDb(["useradd", "--no-create-home", "--shell", "/bin/bash", user]);
  }
  return user;
}

async function createVm(dir: string, name: string): Promise<Vm> {
  const user = await fixtureUser(name);
  const home = join(dir, `home-${name}`);
  await run(["pkill", "-KILL", "-u", user], true); // leftovers of an earlier run
  // "*": no password, but not locked; sshd without PAM refuses locked ("!") accounts.
  await runUserDb(["usermod", "--home", home, "--password", "*", user]);
  await Deno.mkdir(join(home, ".ssh"), { recursive: true });
  await run(keygenArgs(join(home, ".ssh", "id_ed25519"), user));
  return { name, user, home };
}

interface WorldFacts {
  port: number;
  keys: string;
  knownHost: string;
  app: WorldApp;
}

async function writeVmFiles(vm: Vm, all: Vm[], facts: WorldFacts): Promise<void> {
  const ssh = join(vm.home, ".ssh");
  const hosts = all.map((other) =>
    [
      `Host ${other.name}`,
      "  HostName 127.0.0.1",
      `  Port ${facts.port}`,
      `  User ${other.user}`,
      "  IdentityFile ~/.ssh/id_ed25519",
      "  IdentitiesOnly yes",
      "",
    ].join("\n")
  );
  await Deno.writeTextFile(join(ssh, "config"), hosts.join("\n"));
  await Deno.writeTextFile(join(ssh, "authorized_keys"), facts.keys);
  await Deno.writeTextFile(join(ssh, "known_hosts"), facts.knownHost);
  const bin = join(vm.home, ".local", "bin");
  await Deno.mkdir(bin, { recursive: true });
  // The launcher stands in for the compiled binary; manual node_modules needs no registry.
  await Deno.writeTextFile(join(bin, "ohcommodore"), launcherScript(facts.app), { mode: 0o755 });
  await run(["chown", "-R", `${vm.user}:${vm.user}`, vm.home]);
  await run(["chmod", "-R", "go-rwx", ssh]);
  await Deno.chmod(vm.home, 0o755);
}

/** Variations of the world's sshd_config. */
export interface SshdOptions {
  /** The `AllowUsers` pattern; default `ohc-*` (SshWorld's users). */
  allowUsers?: string;
  /** More lines, e.g. `ExposeAuthInfo yes`. */
  extra?: string[];
  /** sshd's `LogLevel`; default `ERROR`. `VERBOSE` logs every authentication and session. */
  logLevel?: string;
}

/** An sshd_config for a loopback sshd that only knows keys: generous limits, agent forwarding. */
export function sshdConfig(
  dir: string,
  port: number,
  hostKey: string,
  options: SshdOptions = {},
): string {
  return [
    "ListenAddress 127.0.0.1",
    `Port ${port}`,
    `HostKey ${hostKey}`,
    `PidFile ${join(dir, "sshd.pid")}`,
    "AuthorizedKeysFile .ssh/authorized_keys",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    `AllowUsers ${options.allowUsers ?? "ohc-*"}`,
    "AllowAgentForwarding yes",
    "MaxStartups 200:30:300",
    "MaxSessions 200",
    `LogLevel ${options.logLevel ?? "ERROR"}`,
    ...(options.extra ?? []),
    "",
  ].join("\n");
}

/**
 * Makes a new world directory below {@link WORLDS}, mode 0755 all the way down (StrictModes),
 * marked with the process that owns it; first removes the worlds of test processes that died
 * before they could dispose of them.
 */
export async function makeWorldDir(): Promise<string> {
  await Deno.mkdir(WORLDS, { recursive: true, mode: 0o755 });
  await Deno.chmod(WORLDS, 0o755);
  await removeDeadWorlds();
  const dir = await Deno.makeTempDir({ dir: WORLDS, prefix: "world-" });
  await Deno.writeTextFile(join(dir, OWNER), processIdentity(Deno.pid) ?? "");
  await Deno.chmod(dir, 0o755);
  return dir;
}

/** The file in a world directory naming the process that made it (see processIdentity). */
const OWNER = "owner";

/**
 * `<pid> <start time>`, which no later process shares, or undefined when pid is not running (a
 * zombie is not: PID 1 here reaps orphans slowly).
 */
function processIdentity(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const [state, ...fields] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return state === "Z" ? undefined : `${pid} ${fields[18]}`;
  } catch {
    return undefined;
  }
}

/**
 * A test killed mid-way (a timeout, Ctrl-C) never disposes of its world: this removes the worlds
 * whose owner is gone, with the users of their own (FleetWorld's `ohc<tag>-…`, whose homes are
 * inside) and those users' processes and files in /tmp. SshWorld's fixed users stay.
 */
async function removeDeadWorlds(): Promise<void> {
  const passwd = (await Deno.readTextFile("/etc/passwd")).split("\n").map((line) =>
    line.split(":")
  );
  for await (const entry of Deno.readDir(WORLDS)) {
    const dir = join(WORLDS, entry.name);
    const owner = await Deno.readTextFile(join(dir, OWNER)).catch(() => undefined);
    // No owner file: made by an older helper, or being made right now.
    if (!owner || processIdentity(Number(owner.split(" ")[0])) === owner) continue;
    for (const [user, , uid, , , home] of passwd) {
      if (!/^ohc[a-z0-9]{4}-/.test(user ?? "") || !home?.startsWith(`${dir}/`)) continue;
      await run(["pkill", "-KILL", "-u", uid], true);
      await removeTmpOf(Number(uid));
      await runUserDb(["userdel", user], true);
    }
    await run(["pkill", "-KILL", "-f", join(dir, "sshd_config")], true);
    await removeWorldDir(dir).catch(() => {});
  }
}

/**
 * Removes a world directory unless `OHC_KEEP_WORLD` is set; refuses anything that is not
 * directly below {@link WORLDS}.
 */
export async function removeWorldDir(dir: string): Promise<void> {
  // Only ever the world's own directory: it holds the homes and any app copy.
  if (dirname(dir) !== WORLDS || !/^world-/.test(basename(dir))) {
    throw new Error(`Refusing to remove "${dir}"`);
  }
  if (!Deno.env.get("OHC_KEEP_WORLD")) await Deno.remove(dir, { recursive: true });
}

/** Generates the sshd host key in the world dir and the known_hosts line clients need. */
export async function makeHostKey(
  dir: string,
  port: number,
): Promise<{ hostKey: string; knownHost: string }> {
  const hostKey = join(dir, "host_key");
  await run(keygenArgs(hostKey, ""));
  const hostPublic = (await Deno.readTextFile(`${hostKey}.pub`)).split(" ").slice(0, 2).join(" ");
  return { hostKey, knownHost: `[127.0.0.1]:${port} ${hostPublic}\n` };
}

/**
 * Writes `<dir>/sshd_config`, starts sshd in the foreground and waits until it listens.
 *
 * @param logFile Where sshd appends its log (`-E`) instead of stderr; needed for chatty log
 *   levels, since nothing reads sshd's stderr until it exits.
 */
export async function startSshd(
  dir: string,
  port: number,
  config: string,
  logFile?: string,
): Promise<Deno.ChildProcess> {
  await Deno.writeTextFile(join(dir, "sshd_config"), config);
  await Deno.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  const sshd = new Deno.Command("/usr/sbin/sshd", {
    args: ["-D", "-e", ...(logFile ? ["-E", logFile] : []), "-f", join(dir, "sshd_config")],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return sshd;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  sshd.kill();
  const { stderr } = await sshd.output();
  throw new Error(`sshd did not listen on ${port}: ${new TextDecoder().decode(stderr)}`);
}

/** The project as other users run it: where its files are, and what a compile would carry. */
export interface WorldApp {
  /** The project directory (or a readable copy of it). */
  dir: string;
  /**
   * A `DENO_DIR` holding the transpiled CLI and its npm modules' export analysis, readable by
   * everyone; each user's first start copies it.
   */
  denoDir: string;
}

/**
 * The launcher that stands in for the compiled binary; manual node_modules needs no registry.
 * A compiled binary carries its transpiled code and builds its V8 code cache on each machine's
 * first run, so the launcher starts every user from the world's prepared cache (once, atomically:
 * its analysis databases copied, its transpiled modules shared) and lets the user's own runs add
 * the code cache. Like the binary, and like the program's own `deno run` ({@link CLI_RUN_FLAGS}),
 * it loads a dynamic import when it is reached.
 *
 * @param logFile When given, every start appends `<user> <first two arguments>` to this file
 *   (which must be writable by every user that runs the launcher).
 */
export function launcherScript(app: WorldApp, logFile?: string): string {
  const log = logFile ? `printf '%s %s %s\\n' "\${USER:-?}" "$1" "$2" >>${logFile}\n` : "";
  return [
    "#!/bin/sh",
    `${log}cache="$HOME/.cache/ohcommodore-deno"`,
    'if [ ! -d "$cache" ] && mkdir -p "$HOME/.cache" && seed=$(mktemp -d "$cache.XXXXXX"); then',
    `  { cp ${app.denoDir}/*_cache_* "$seed" && ln -s ${app.denoDir}/gen "$seed/gen" &&`,
    '    mv -T "$seed" "$cache"; } 2>/dev/null || rm -rf "$seed"',
    "fi",
    `DENO_DIR="$cache" exec ${Deno.execPath()} run -A ${CLI_RUN_FLAGS.join(" ")} --quiet ` +
    "--node-modules-dir=manual " +
    `${app.dir}/cli.ts "$@"`,
    "",
  ].join("\n");
}

/**
 * Writes a script that uses the library into a user's home, as a script of theirs would:
 * `"@smithclay/ohcommodore"` imports the world's mod.ts (`"@smithclay/ohcommodore/inbox"` its
 * inbox.ts, and so on), `"@lib/…"` its lib/ modules. It runs from the launcher's cache (the user's CLI must have run once), so nothing is fetched.
 *
 * @param app The world's project.
 * @param home The user's home.
 * @param user The user, who owns the script.
 * @param source The script.
 * @returns The argv that runs it (append its arguments).
 */
export async function writeLibraryScript(
  app: WorldApp,
  home: string,
  user: string,
  source: string,
): Promise<string[]> {
  const path = join(home, "script.ts");
  const text = source.replace(
    /"@smithclay\/ohcommodore((?:\/\w+)?)"/g,
    (whole, subpath: string) =>
      EXPORTS[`.${subpath}`] ? JSON.stringify(join(app.dir, EXPORTS[`.${subpath}`])) : whole,
  )
    .replaceAll('"@lib/', `"${app.dir}/lib/`);
  await Deno.writeTextFile(path, text);
  await run(["chown", user, path]);
  return [
    "sh",
    "-c",
    'DENO_DIR="$HOME/.cache/ohcommodore-deno" exec "$0" run -A --quiet ' +
    '--node-modules-dir=manual "$@"',
    Deno.execPath(),
    path,
  ];
}

/**
 * The ssh-keygen command that makes an unencrypted ed25519 key.
 *
 * @param file Where the private key goes (the public one beside it, `.pub`).
 * @param comment The key's comment.
 */
export function keygenArgs(file: string, comment: string): string[] {
  return ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file];
}

/** `runuser` arguments that run argv as a user in a clean environment (`env -i`). */
export function runuserArgs(
  user: string,
  home: string,
  argv: string[],
  env: Record<string, string> = {},
): string[] {
  const clean = {
    HOME: home,
    USER: user,
    LOGNAME: user,
    SHELL: "/bin/bash",
    PATH: `${home}/.local/bin:/usr/local/bin:/usr/bin:/bin`,
    LANG: "C.UTF-8",
    NO_COLOR: "1",
    ...env,
  };
  const assignments = Object.entries(clean).map(([key, value]) => `${key}=${value}`);
  return ["-u", user, "--", "env", "-i", ...assignments, ...argv];
}

/**
 * The project as other users can run it (in place when every parent is traversable, else a
 * copy), with what `deno compile` would do ahead of time done once: the transpiled CLI and the
 * export analysis of its npm modules, DuckDB's included. The V8 code cache is left out: a
 * compiled binary builds that on each machine.
 */
export async function prepareApp(worldDir: string): Promise<WorldApp> {
  const dir = await readableProject(worldDir);
  const denoDir = join(worldDir, "deno-cache");
  const scratchHome = join(worldDir, "deno-cache-home");
  const deno = (args: string[]) =>
    runProcess(Deno.execPath(), [...args], {
      timeoutMs: 120_000,
      env: { DENO_DIR: denoDir, HOME: scratchHome },
    }).then(({ code, stderr }) => {
      if (code !== 0) throw new Error(`deno ${args.join(" ")} failed (${code}): ${stderr}`);
    });
  await deno(["cache", "--quiet", "--node-modules-dir=manual", `${dir}/cli.ts`]);
  // One command that opens an inbox, so DuckDB's modules are analysed too.
  await deno([
    "run",
    "-A",
    "--quiet",
    "--node-modules-dir=manual",
    `${dir}/cli.ts`,
    "inbox",
    "list",
  ]);
  await Deno.remove(scratchHome, { recursive: true });
  for await (const entry of Deno.readDir(denoDir)) {
    if (entry.name.startsWith("v8_code_cache")) await Deno.remove(join(denoDir, entry.name));
  }
  await run(["chmod", "-R", "a+rX,go-w", denoDir]);
  return { dir, denoDir };
}

async function readableProject(worldDir: string): Promise<string> {
  for (let path = PROJECT; path !== "/"; path = dirname(path)) {
    if (((await Deno.stat(path)).mode ?? 0) & 0o001) continue;
    const copy = join(worldDir, "app");
    await Deno.mkdir(copy);
    await run(["cp", "-a", ...APP_FILES.map((file) => join(PROJECT, file)), copy]);
    await run(["chmod", "-R", "a+rX", copy]);
    return copy;
  }
  return PROJECT;
}

/**
 * Removes what a world's user left directly in /tmp, once its processes are killed: the
 * `ohc-ssh-<uid>` and `ohc-wake-<uid>` socket directories lib/ssh.ts and lib/inbox/wake.ts make
 * when a home is too long for a unix socket, and what sshd makes for a session and removes only
 * when the session ends on its own (`ssh-XXXX/agent.<pid>` for `ssh -A`, `sshauth.XXXX` for
 * `ExposeAuthInfo`). Only ever for a world's own users (never root).
 *
 * @param uid The user's uid.
 */
export async function removeTmpOf(uid: number): Promise<void> {
  if (!Number.isInteger(uid) || uid <= 0) throw new Error(`Refusing to clean /tmp for uid ${uid}`);
  for await (const entry of Deno.readDir("/tmp")) {
    const path = join("/tmp", entry.name);
    const info = await Deno.lstat(path).catch(() => undefined);
    if (info?.uid !== uid) continue;
    await Deno.remove(path, { recursive: true }).catch(() => {});
  }
}

/** A loopback TCP port that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Runs a program as root; throws on a non-zero exit unless allowFailure. */
export async function run(argv: string[], allowFailure = false): Promise<RunResult> {
  const { code, stdout, stderr } = await runProcess(argv[0], argv.slice(1), { timeoutMs: 60_000 });
  if (!allowFailure && code !== 0) throw new Error(`${argv.join(" ")} failed (${code}): ${stderr}`);
  return { code, stdout, stderr };
}

/**
 * Runs useradd, usermod or userdel, retrying while another process (a concurrent world) holds
 * the lock on /etc/passwd or /etc/group.
 */
export async function runUserDb(argv: string[], allowFailure = false): Promise<RunResult> {
  for (let attempt = 1;; attempt++) {
    const result = await run(argv, true);
    if (result.code === 0) return result;
    if (attempt < 50 && /lock|try again/i.test(result.stderr)) {
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100));
      continue;
    }
    if (allowFailure) return result;
    throw new Error(`${argv.join(" ")} failed (${result.code}): ${result.stderr}`);
  }
}
