/**
 * A laptop, the exe.dev lobby and its VMs on one loopback sshd, for tests that drive a whole fleet
 * (`init`, `ship create`, …) the way a person would. Unix users stand in for the laptop, the lobby
 * and every VM; `ssh exe.dev <command>` reaches the lobby user, whose forced command forwards the
 * command to an {@link ExeDevLobby} running inside the test process (root), which makes and removes
 * VM users. Needs root. Every name is unique per world, so worlds can run side by side.
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runProcess } from "../../lib/process.ts";
import { ExeDevLobby, type LobbyCall, type LobbyVm } from "./exedev_lobby.ts";
import {
  freePort,
  keygenArgs,
  launcherScript,
  makeHostKey,
  makeWorldDir,
  prepareApp,
  removeTmpOf,
  removeWorldDir,
  run,
  type RunAs,
  type RunResult,
  runuserArgs,
  runUserDb,
  sshdConfig,
  sshWorldUnavailable,
  startSshd,
  type WorldApp,
  writeLibraryScript,
} from "./sshd_world.ts";

export type { LobbyCall, LobbyVm } from "./exedev_lobby.ts";
export type { RunAs, RunResult } from "./sshd_world.ts";

/** A Unix user of the world and its home. */
export interface WorldUser {
  user: string;
  home: string;
}

/** Options of {@link FleetWorld.start}. */
export interface FleetWorldOptions {
  /** How long after `new` a VM accepts SSH (its authorized_keys appear). Default 0. */
  bootDelayMs?: number;
  /**
   * Log for measurements (default off): sshd runs with `LogLevel VERBOSE` into
   * {@link FleetWorld.sshdLog} (a line per connection, authentication and session), and every
   * start of the program, on the laptop or a VM, appends a line to {@link FleetWorld.launchLog}.
   */
  logs?: boolean;
  /** More sshd_config lines, e.g. `AllowStreamLocalForwarding no` for a provider without forwards. */
  sshdExtra?: string[];
}

const CLIENT = fileURLToPath(new URL("./exedev_lobby_client.ts", import.meta.url));
const ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";

/** sshd, a laptop user, the lobby and its VMs; dispose it to remove every user and file. */
export class FleetWorld implements AsyncDisposable {
  /** The world's own directory below /var/lib/ohc-e2e. */
  readonly dir: string;
  /** The loopback port of sshd. */
  readonly port: number;
  /** Four lowercase letters or digits in every Unix user name of this world: `ohc<tag>-…`. */
  readonly tag: string;
  /** What `whoami` prints. */
  readonly email: string;
  /** A world-readable launcher of the CLI, for `OHCOMMODORE_SHIP_BIN`. */
  readonly shipBin: string;
  /** sshd's log file when started with `logs` (it does not exist otherwise). */
  readonly sshdLog: string;
  /** With `logs`: one line per start of the program, `<user> <first two arguments>`. */
  readonly launchLog: string;
  #bootDelayMs: number;
  #logs: boolean;
  #sshdExtra: string[];
  #app: WorldApp = { dir: "", denoDir: "" };
  #knownHost = "";
  #laptop: WorldUser;
  #lobby: WorldUser;
  #socket: string;
  #clientCopy: string;
  #daemon?: ExeDevLobby;
  #sshd?: Deno.ChildProcess;
  /** Every user created and not yet removed, with its uid and gid. */
  #users = new Map<string, { uid: number; gid: number }>();
  #vmCount = 0;
  #disposed = false;
  /** ssh config naming the VMs that have booted: only those get sshd's port. */
  #answeringConfig: string;
  #answering = new Set<string>();
  #answeringWrites: Promise<void> = Promise.resolve();

  private constructor(
    dir: string,
    port: number,
    tag: string,
    bootDelayMs: number,
    logs: boolean,
    sshdExtra: string[],
  ) {
    this.dir = dir;
    this.port = port;
    this.tag = tag;
    this.email = `fleet-${tag}@example.test`;
    this.shipBin = join(dir, "ship-bin");
    this.sshdLog = join(dir, "sshd.log");
    this.launchLog = join(dir, "launches.log");
    this.#bootDelayMs = bootDelayMs;
    this.#logs = logs;
    this.#sshdExtra = sshdExtra;
    this.#laptop = { user: `ohc${tag}-l`, home: join(dir, "home-laptop") };
    this.#lobby = { user: `ohc${tag}-x`, home: join(dir, "home-lobby") };
    this.#socket = join(dir, "lobby", "lobby.sock");
    this.#clientCopy = join(dir, "lobby", "client.ts");
    this.#answeringConfig = join(dir, "answering.conf");
  }

  /** Creates the laptop and lobby users, starts the lobby daemon and sshd. */
  static async start(options: FleetWorldOptions = {}): Promise<FleetWorld> {
    const unavailable = sshWorldUnavailable();
    if (unavailable) throw new Error(unavailable);
    const dir = await makeWorldDir();
    const world = new FleetWorld(
      dir,
      freePort(),
      await freeTag(),
      options.bootDelayMs ?? 0,
      options.logs ?? false,
      options.sshdExtra ?? [],
    );
    try {
      await world.#setUp();
    } catch (error) {
      await world[Symbol.asyncDispose]().catch(() => {});
      throw error;
    }
    return world;
  }

  /** The laptop's Unix user and home. */
  get laptop(): WorldUser {
    return { ...this.#laptop };
  }

  /** The lobby's Unix user and home. */
  get lobby(): WorldUser {
    return { ...this.#lobby };
  }

  /**
   * Runs a library script as the laptop user, as a person's script would run on a laptop: it
   * imports `@smithclay/ohcommodore`, which here is this world's copy of mod.ts.
   */
  async laptopScript(source: string, options: RunAs = {}): Promise<RunResult> {
    const laptop = this.#laptop;
    const argv = await writeLibraryScript(this.#app, laptop.home, laptop.user, source);
    return await this.execAs(this.#laptop.user, argv, options);
  }

  /** Runs the laptop's `~/.local/bin/ohcommodore` as the laptop user, in a clean environment. */
  cli(args: string[], options: RunAs = {}): Promise<RunResult> {
    const env = { OHCOMMODORE_SHIP_BIN: this.shipBin, ...options.env };
    const program = join(this.#laptop.home, ".local", "bin", "ohcommodore");
    return this.execAs(this.#laptop.user, [program, ...args], { ...options, env });
  }

  /**
   * Starts a program as a user of this world without waiting, as the leader of its own process
   * group, so a test can signal the whole group the way a terminal's Ctrl-C does.
   */
  spawnAs(user: string, argv: string[], options: { env?: Record<string, string> } = {}) {
    const home = this.#homeOf(user);
    // setpriv execs in place; runuser would stay as the parent and turn one SIGINT into two.
    const [, , , ...asUser] = runuserArgs(user, home, argv, options.env); // drops "-u user --"
    return new Deno.Command("setpriv", {
      args: ["--reuid", user, "--regid", user, "--init-groups", "--", ...asUser],
      cwd: home,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
  }

  /** Runs a program as a user of this world (laptop, lobby or VM) in a clean environment. */
  async execAs(user: string, argv: string[], options: RunAs = {}): Promise<RunResult> {
    const home = this.#homeOf(user);
    const { code, stdout, stderr } = await runProcess(
      "runuser",
      runuserArgs(user, home, argv, options.env),
      { stdin: options.stdin, timeoutMs: options.timeoutMs ?? 120_000, cwd: home },
    );
    return { code, stdout, stderr };
  }

  /** The Unix user behind a VM of the lobby. */
  vmUser(vmName: string): string {
    return this.#vm(vmName).user;
  }

  /** The home of a VM of the lobby. */
  vmHome(vmName: string): string {
    return this.#vm(vmName).home;
  }

  /** Changes how long VMs made from now on refuse ssh after `new`. */
  setBootDelay(ms: number): void {
    this.#bootDelayMs = ms;
    if (this.#daemon) this.#daemon.bootDelayMs = ms;
  }

  /** The lobby's VMs: names, users, homes, `--env` pairs, whether booted. */
  lobbyVms(): LobbyVm[] {
    return this.#daemon?.vms() ?? [];
  }

  /** The public keys registered with the account. */
  lobbyKeys(): string[] {
    return this.#daemon?.keys() ?? [];
  }

  /** Makes the lobby's next command starting with these words fail (see ExeDevLobby). */
  refuseNextLobbyCall(verb: string, message: string): void {
    if (!this.#daemon) throw new Error("The lobby is not running");
    this.#daemon.refuseNext(verb, message);
  }

  /** Makes the lobby's next command starting with these words take longer; resolves on arrival. */
  holdNextLobbyCall(verb: string, ms: number): Promise<void> {
    if (!this.#daemon) throw new Error("The lobby is not running");
    return this.#daemon.holdNext(verb, ms);
  }

  /** Every command the lobby received, in order. */
  lobbyCalls(): LobbyCall[] {
    return this.#daemon?.calls() ?? [];
  }

  /**
   * Creates a bare git repository with one commit (a README) that every user can clone: it is
   * root's, so every user of the world trusts all repositories (`safe.directory = *` in
   * `~/.config/git/config`).
   *
   * @returns Its `file://` URL.
   */
  async bareRepo(name: string): Promise<string> {
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) throw new Error(`Bad repository name "${name}"`);
    const repos = join(this.dir, "repos");
    await Deno.mkdir(repos, { recursive: true, mode: 0o755 });
    const work = await Deno.makeTempDir({ dir: repos, prefix: ".work-" });
    const bare = join(repos, `${name}.git`);
    const git = [
      "git",
      "-c",
      "user.name=Fleet World",
      "-c",
      "user.email=fleet@example.test",
      "-c",
      "init.defaultBranch=main",
      "-c",
      "commit.gpgsign=false",
    ];
    try {
      await run([...git, "init", "-q", work]);
      await Deno.writeTextFile(join(work, "README.md"), `# ${name}\n\nA fixture repository.\n`);
      await run([...git, "-C", work, "add", "README.md"]);
      await run([...git, "-C", work, "commit", "-q", "-m", "Initial commit"]);
      await run([...git, "clone", "-q", "--bare", work, bare]);
    } finally {
      await Deno.remove(work, { recursive: true });
    }
    await run(["chmod", "-R", "a+rX", bare]);
    return `file://${bare}`;
  }

  async #setUp(): Promise<void> {
    this.#app = await prepareApp(this.dir);
    const { hostKey, knownHost } = await makeHostKey(this.dir, this.port);
    this.#knownHost = knownHost;
    await Deno.mkdir(join(this.dir, "vms"), { mode: 0o755 });
    await Deno.mkdir(join(this.dir, "lobby"), { mode: 0o755 });
    await Deno.copyFile(CLIENT, this.#clientCopy);
    await Deno.chmod(this.#clientCopy, 0o644);
    const launchLog = this.#logs ? this.launchLog : undefined;
    if (launchLog) {
      await Deno.writeTextFile(launchLog, "");
      await Deno.chmod(launchLog, 0o666); // every VM user appends to it
    }
    await Deno.writeTextFile(this.shipBin, launcherScript(this.#app, launchLog), { mode: 0o755 });
    await Deno.chmod(this.shipBin, 0o755);
    await this.#writeAnswering();

    await this.#addUser(this.#lobby.user, this.#lobby.home);
    await this.#addUser(this.#laptop.user, this.#laptop.home, async (ssh) => {
      await run(keygenArgs(join(ssh, "id_ed25519"), this.#laptop.user));
      await Deno.writeTextFile(join(ssh, "config"), this.#laptopSshConfig());
      await Deno.writeTextFile(join(ssh, "known_hosts"), knownHost);
      const bin = join(this.#laptop.home, ".local", "bin");
      await Deno.mkdir(bin, { recursive: true });
      await Deno.writeTextFile(join(bin, "ohcommodore"), launcherScript(this.#app, launchLog), {
        mode: 0o755,
      });
    });

    const daemon = new ExeDevLobby({
      createVm: (name) => this.#createVm(name),
      copyVm: (source, name) => this.#copyVm(source, name),
      authorizeVm: async (vm, keys) => {
        await this.#authorize(vm.user, vm.home, keys);
        if (vm.booted) await this.#answer(`${vm.name}.exe.xyz`, true);
      },
      removeVm: (vm) => this.#removeVm(vm),
      authorizeLobby: (keys) => this.#authorizeLobby(keys),
    }, { email: this.email, bootDelayMs: this.#bootDelayMs });
    this.#daemon = daemon;
    daemon.serve(this.#socket);
    const lobbyIds = this.#users.get(this.#lobby.user)!;
    await Deno.chown(this.#socket, lobbyIds.uid, lobbyIds.gid);
    await Deno.chmod(this.#socket, 0o600);
    const laptopKey = join(this.#laptop.home, ".ssh", "id_ed25519.pub");
    await daemon.register(await Deno.readTextFile(laptopKey));

    const config = sshdConfig(this.dir, this.port, hostKey, {
      allowUsers: `ohc${this.tag}-*`,
      extra: ["ExposeAuthInfo yes", ...this.#sshdExtra],
      ...(this.#logs ? { logLevel: "VERBOSE" } : {}),
    });
    this.#sshd = await startSshd(
      this.dir,
      this.port,
      config,
      this.#logs ? this.sshdLog : undefined,
    );
  }

  // A VM that has not booted refuses connections, as exe.dev's do until DNS and sshd answer:
  // port 1 (nothing listens there), until the lobby boots it and the Include gives it sshd's.
  #laptopSshConfig(): string {
    return [
      `Include ${this.#answeringConfig}`,
      "",
      "Host exe.dev",
      "  HostName 127.0.0.1",
      `  Port ${this.port}`,
      `  User ${this.#lobby.user}`,
      "  IdentityFile ~/.ssh/id_ed25519",
      "  IdentitiesOnly yes",
      "",
      "Host *.exe.xyz",
      "  HostName 127.0.0.1",
      "  Port 1",
      "",
    ].join("\n");
  }

  #vmSshConfig(): string {
    return [
      `Include ${this.#answeringConfig}`,
      "",
      "Host *.exe.xyz",
      "  HostName 127.0.0.1",
      "  Port 1",
      "",
      "Host exe.dev",
      "  HostName 127.0.0.1",
      `  Port ${this.port}`,
      `  User ${this.#lobby.user}`,
      "",
    ].join("\n");
  }

  /**
   * useradd (no password, not locked), a ~/.ssh that `prepare` may fill, home 0755 owned by the
   * user.
   */
  async #addUser(
    user: string,
    home: string,
    prepare: (ssh: string) => Promise<void> = () => Promise.resolve(),
  ): Promise<void> {
    // "*": no password, but not locked; sshd without PAM refuses locked ("!") accounts.
    await runUserDb([
      "useradd",
      "--no-create-home",
      "--home-dir",
      home,
      "--shell",
      "/bin/bash",
      "--password",
      "*",
      user,
    ]);
    const uid = Number((await run(["id", "-u", user])).stdout.trim());
    const gid = Number((await run(["id", "-g", user])).stdout.trim());
    this.#users.set(user, { uid, gid });
    await Deno.mkdir(join(home, ".ssh"), { recursive: true });
    // The world's repositories (bareRepo) belong to root; git refuses repositories owned by
    // others unless told to trust them. The XDG file leaves ~/.gitconfig to the program.
    await Deno.mkdir(join(home, ".config", "git"), { recursive: true });
    await Deno.writeTextFile(join(home, ".config", "git", "config"), "[safe]\n\tdirectory = *\n");
    await prepare(join(home, ".ssh"));
    await run(["chown", "-R", `${user}:${user}`, home]);
    await run(["chmod", "-R", "go-rwx", join(home, ".ssh")]);
    await Deno.chmod(home, 0o755);
  }

  async #createVm(name: string): Promise<{ user: string; home: string }> {
    const user = `ohc${this.tag}-${++this.#vmCount}`;
    const home = join(this.dir, "vms", name);
    await this.#addUser(user, home, async (ssh) => {
      await Deno.writeTextFile(join(ssh, "config"), this.#vmSshConfig());
      await Deno.writeTextFile(join(ssh, "known_hosts"), this.#knownHost);
      await Deno.writeTextFile(join(ssh, "authorized_keys"), "");
    });
    return { user, home };
  }

  // A copy of a VM: a new user whose home is the source's, copied whole by root (its sockets and
  // locks included, as a disk copy has them); its processes are not copied.
  async #copyVm(source: LobbyVm, name: string): Promise<{ user: string; home: string }> {
    const user = `ohc${this.tag}-${++this.#vmCount}`;
    const home = join(this.dir, "vms", name);
    const copied = await run(["cp", "-a", "--", source.home, home], true);
    // A file that a running scheduler or command removed while cp read the directory is not
    // copied, as a disk snapshot taken a moment later would not have it.
    const failures = copied.stderr.split("\n").filter((line) =>
      line && !/No such file or directory/.test(line)
    );
    if (copied.code !== 0 && failures.length) {
      await Deno.remove(home, { recursive: true }).catch(() => {});
      throw new Error(`Copying ${source.home} failed: ${failures.join("; ")}`);
    }
    await this.#addUser(user, home);
    return { user, home };
  }

  async #authorizeLobby(keys: string[]): Promise<void> {
    const command = [
      "DENO_NO_UPDATE_CHECK=1",
      "exec",
      Deno.execPath(),
      "run",
      "--quiet",
      "--no-config",
      "--no-lock",
      "--allow-read",
      `--allow-write=${this.#socket}`,
      `--allow-net=unix:${this.#socket}`,
      "--allow-env=SSH_ORIGINAL_COMMAND,SSH_USER_AUTH",
      this.#clientCopy,
      this.#socket,
    ].join(" ");
    const lines = keys.map((key) => `command="${command}",restrict ${key}`);
    await this.#authorize(this.#lobby.user, this.#lobby.home, lines);
  }

  /** Replaces ~/.ssh/authorized_keys at once (written aside, then renamed). */
  async #authorize(user: string, home: string, lines: string[]): Promise<void> {
    const ids = this.#users.get(user);
    if (!ids) throw new Error(`No user ${user} in this world`);
    const ssh = join(home, ".ssh");
    await Deno.mkdir(ssh, { recursive: true, mode: 0o700 });
    const next = join(ssh, ".authorized_keys.next");
    await Deno.writeTextFile(next, lines.map((line) => `${line}\n`).join(""), { mode: 0o600 });
    await Deno.chmod(next, 0o600);
    await Deno.chown(next, ids.uid, ids.gid);
    await Deno.rename(next, join(ssh, "authorized_keys"));
  }

  /** Lets a VM's name reach sshd, or stops it (the file is rewritten whole, one at a time). */
  #answer(host: string, answers: boolean): Promise<void> {
    if (this.#answering.has(host) === answers) return this.#answeringWrites;
    if (answers) this.#answering.add(host);
    else this.#answering.delete(host);
    // One failed write must not stop the ones after it.
    return this.#answeringWrites = this.#answeringWrites.catch(() => {}).then(() =>
      this.#writeAnswering()
    );
  }

  async #writeAnswering(): Promise<void> {
    const hosts = [...this.#answering];
    const text = hosts.length ? `Host ${hosts.join(" ")}\n  Port ${this.port}\n` : "";
    const next = `${this.#answeringConfig}.next`;
    await Deno.writeTextFile(next, text, { mode: 0o644 });
    await Deno.chmod(next, 0o644);
    await Deno.rename(next, this.#answeringConfig);
  }

  async #removeVm(vm: LobbyVm): Promise<void> {
    if (!vm.home.startsWith(join(this.dir, "vms") + "/")) {
      throw new Error(`Refusing to remove "${vm.home}"`);
    }
    await this.#answer(`${vm.name}.exe.xyz`, false);
    await this.#deleteUser(vm.user);
    await Deno.remove(vm.home, { recursive: true });
  }

  /** Kills the user's processes, removes the user and what it left in /tmp. */
  async #deleteUser(user: string): Promise<void> {
    const ids = this.#users.get(user);
    if (!ids) return;
    for (let attempt = 1;; attempt++) {
      await run(["pkill", "-KILL", "-u", String(ids.uid)], true);
      // Before userdel: once the uid is free, another world's new user may get it.
      await removeTmpOf(ids.uid);
      const result = await runUserDb(["userdel", user], true);
      if (result.code === 0 || result.code === 6) break; // 6: no such user
      if (attempt >= 40) {
        throw new Error(`userdel ${user} failed (${result.code}): ${result.stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    this.#users.delete(user);
  }

  #homeOf(user: string): string {
    if (user === this.#laptop.user) return this.#laptop.home;
    if (user === this.#lobby.user) return this.#lobby.home;
    const vm = this.lobbyVms().find((vm) => vm.user === user);
    if (!vm) throw new Error(`No user "${user}" in this world`);
    return vm.home;
  }

  #vm(name: string): LobbyVm {
    const vm = this.lobbyVms().find((vm) => vm.name === name);
    if (!vm) throw new Error(`No VM "${name}" in this world's lobby`);
    return vm;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const errors: unknown[] = [];
    const attempt = async (step: () => Promise<unknown>) => {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    };
    await attempt(async () => await this.#daemon?.close());
    // Kill first, so that nothing of this world is still logged in when the users go.
    for (const { uid } of this.#users.values()) {
      await attempt(() => run(["pkill", "-KILL", "-u", String(uid)], true));
    }
    if (this.#sshd) {
      const sshd = this.#sshd;
      await attempt(async () => {
        sshd.kill("SIGTERM");
        await sshd.output();
      });
    }
    for (const user of [...this.#users.keys()]) await attempt(() => this.#deleteUser(user));
    await attempt(() => removeWorldDir(this.dir));
    if (errors.length) throw new AggregateError(errors, `Cleaning up ${this.dir} failed`);
  }
}

/** A tag no existing user name starts with (`ohc<tag>-`). */
async function freeTag(): Promise<string> {
  const passwd = await Deno.readTextFile("/etc/passwd");
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(4));
    const tag = [...bytes].map((byte) => ALNUM[byte % ALNUM.length]).join("");
    if (!passwd.split("\n").some((line) => line.startsWith(`ohc${tag}-`))) return tag;
  }
}
