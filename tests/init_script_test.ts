/**
 * Runs the real cloudinit/init.sh with bash in a temporary home that stands in for a new VM,
 * with a clean environment and the real program at ~/.local/bin/ohcommodore. Steps that need
 * the network are skipped (SKIP_STEPS), or meet a fake tool that fails, so the test is offline.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { lastLine, runProcess } from "../lib/process.ts";
import { binWithout } from "./helpers/bin_without.ts";

const PROJECT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const SCRIPT = join(PROJECT, "cloudinit", "init.sh");
const STEPS = [
  "zsh",
  "gh",
  "repo",
  "zellij",
  "rustup",
  "ohmyzsh",
  "chezmoi",
  "duckdb",
  "sshconfig",
  "secrets",
  "program",
  "identity",
  "scheduler",
  "shell",
];
/** Everything that downloads, installs system packages or changes this machine's login shell. */
const OFFLINE = "zsh,gh,zellij,rustup,ohmyzsh,chezmoi,duckdb,shell";

interface Run {
  code: number;
  /** stdout and stderr (the script sends everything to stdout). */
  output: string;
  lastLine: string;
}

/** A temporary VM home with the program installed the way provisioning installs it. */
class VmHome implements AsyncDisposable {
  readonly root: string;
  readonly home: string;
  /** First on PATH: fake tools go here. */
  readonly fakeBin: string;

  private constructor(root: string) {
    this.root = root;
    this.home = join(root, "home");
    this.fakeBin = join(root, "fakebin");
  }

  static async create(): Promise<VmHome> {
    const vm = new VmHome(await Deno.makeTempDir({ prefix: "ohc-init-" }));
    await Deno.mkdir(join(vm.home, ".local", "bin"), { recursive: true });
    await Deno.mkdir(vm.fakeBin);
    await Deno.writeTextFile(
      join(vm.home, ".local", "bin", "ohcommodore"),
      `#!/bin/sh\nexec '${Deno.execPath()}' run -A --quiet --node-modules-dir=manual ` +
        `'${join(PROJECT, "cli.ts")}' "$@"\n`,
      { mode: 0o755 },
    );
    return vm;
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      HOME: this.home,
      PATH: `${this.fakeBin}:${this.home}/.local/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      // Deno's cache stays where it is, although HOME moves.
      DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
      NO_COLOR: "1",
      ...extra,
    };
  }

  /** Runs `bash init.sh` from the home directory, as the orchestrator does over ssh. */
  async init(extra: Record<string, string>): Promise<Run> {
    const result = await runProcess("bash", [SCRIPT], {
      cwd: this.home,
      clearEnv: true,
      env: this.env(extra),
      timeoutMs: 120_000,
    });
    const output = result.stdout + result.stderr;
    return { code: result.code, output, lastLine: lastLine(output) };
  }

  /** Runs the installed program as this VM's user. */
  async cli(args: string[]) {
    return await runProcess(join(this.home, ".local", "bin", "ohcommodore"), args, {
      timeoutMs: 120_000,
      env: this.env(),
    });
  }

  /** Writes ~/.ohcommodore/.env the way provisioning does: KEY='value' lines. */
  async writeDotEnv(values: Record<string, string>, mode = 0o600): Promise<void> {
    await Deno.mkdir(join(this.home, ".ohcommodore"), { recursive: true, mode: 0o700 });
    const file = join(this.home, ".ohcommodore", ".env");
    const text = Object.entries(values).map(([k, v]) => `${k}='${v}'\n`).join("");
    await Deno.writeTextFile(file, text, { mode });
    await Deno.chmod(file, mode);
  }

  async fake(name: string, script: string): Promise<void> {
    await Deno.writeTextFile(join(this.fakeBin, name), `#!/bin/sh\n${script}`, { mode: 0o755 });
  }

  read(path: string): Promise<string> {
    return Deno.readTextFile(join(this.home, path));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    // A scheduler started by the script outlives it: stop it before removing its home.
    const started = await Deno.stat(join(this.home, ".local", "ship")).then(
      () => true,
      () => false,
    );
    if (started) await this.cli(["scheduler", "stop"]);
    await Deno.remove(this.root, { recursive: true });
  }
}

/** Asserts that the log names a step and that it ended as expected. */
function assertStep(output: string, step: string, ending: RegExp | string): void {
  assert.match(output, new RegExp(`^==> ${step}: \\S`, "m"), `no "==> ${step}:" line`);
  const pattern = typeof ending === "string" ? escape(ending) : ending.source;
  assert.match(output, new RegExp(`^    ${step}: ${pattern}`, "m"), `${step} did not end so`);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

async function git(args: string[], cwd: string): Promise<void> {
  const run = await runProcess("git", args, { cwd, timeoutMs: 30_000 });
  assert.equal(run.code, 0, run.stderr);
}

/** A bare repository with one commit, reachable as file://<root>/web.git. */
async function bareRepo(root: string): Promise<string> {
  const source = join(root, "web-src");
  await Deno.mkdir(source);
  await Deno.writeTextFile(join(source, "README.md"), "# web\n");
  await git(["init", "-q", "-b", "main"], source);
  await git(["add", "README.md"], source);
  await git(
    ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init"],
    source,
  );
  await git(["clone", "-q", "--bare", source, join(root, "web.git")], root);
  return `file://${root}/web.git`;
}

Deno.test("init.sh sets up a captain: clone, identity, inbox, scheduler; a second run changes nothing", async () => {
  await using vm = await VmHome.create();
  const repo = await bareRepo(vm.root);
  const token = "ghp_not_a_real_token_123";
  // A fake gh that records how it was called, so the test can prove the token stays off argv.
  await vm.fake(
    "gh",
    `printf 'argv: %s | GH_TOKEN=%s\\n' "$*" "\${GH_TOKEN:-}" >>"$HOME/gh.log"
case "$1 $2" in
  "auth token") cat "$HOME/gh.token" 2>/dev/null || exit 1 ;;
  "auth login") cat >"$HOME/gh.token" ;;
  "auth setup-git") git config --global credential.https://github.com.helper '!gh auth git-credential' ;;
esac
`,
  );
  await vm.writeDotEnv({
    VM_NAME: "ship-web-a1f3",
    TARGET_REPO: repo,
    GH_TOKEN: token,
    CLAUDE_CODE_OAUTH_TOKEN: "claude-secret-xyz",
    FLAGSHIP_NAME: "flagship-0a1b",
    FLAGSHIP_DEST: "flagship-0a1b.exe.xyz",
  });
  const env = { ROLE: "captain", SKIP_STEPS: OFFLINE.replace("gh,", "") };

  const first = await vm.init(env);
  assert.equal(first.code, 0, first.output);
  for (const step of STEPS) assertStep(first.output, step, /\S/);
  assertStep(first.output, "repo", "ok (cloned into ~/web)");
  assertStep(first.output, "gh", "ok");
  assertStep(first.output, "sshconfig", "ok");
  assertStep(first.output, "secrets", "ok");
  assertStep(first.output, "identity", "ok");
  assertStep(first.output, "scheduler", /ok/);
  assertStep(first.output, "zellij", "skipped (SKIP_STEPS)");
  assert.match(first.lastLine, /^init\.sh: done in \d+s \(no warnings\)$/);

  // The repository, the identity and the inbox exist; the scheduler answers and runs commands
  // in the clone.
  assert.equal(await vm.read("web/README.md"), "# web\n");
  const identity = JSON.parse(await vm.read(".ohcommodore/identity.json"));
  assert.equal(identity.role, "captain");
  assert.equal(identity.name, "ship-web-a1f3");
  assert.equal(identity.workdir, join(vm.home, "web"));
  assert.deepEqual(identity.flagship, {
    name: "flagship-0a1b",
    destination: "flagship-0a1b.exe.xyz",
  });
  await Deno.stat(join(vm.home, ".local", "ship", "data.duckdb"));
  const status = await vm.cli(["scheduler", "status"]);
  assert.equal(status.code, 0, status.stdout + status.stderr);
  // Commands run in the clone, and the scheduler did not inherit the script's inputs.
  const command = 'echo hi; pwd; echo "ROLE=${ROLE:-unset}"';
  const sent = await vm.cli(["inbox", "send", "captain@ship-web-a1f3", command, "--wait"]);
  assert.equal(sent.code, 0, sent.stderr);
  assert.equal(sent.stdout, `hi\n${join(vm.home, "web")}\nROLE=unset\n`);

  // gh got the token on stdin, never as an argument or with GH_TOKEN still set.
  assert.equal((await vm.read("gh.token")).trim(), token);
  assert.ok(!(await vm.read("gh.log")).includes(token), await vm.read("gh.log"));
  // SSH config and the credentials line, without copying the secret anywhere readable.
  const sshConfig = await vm.read(".ssh/config");
  assert.match(
    sshConfig,
    /^Host \*\.exe\.xyz\n {2}StrictHostKeyChecking accept-new\n {2}User exedev\n/m,
  );
  assert.equal((await Deno.stat(join(vm.home, ".ssh", "config"))).mode! & 0o777, 0o600);
  assert.equal((await Deno.stat(join(vm.home, ".ssh"))).mode! & 0o777, 0o700);
  for (const rc of [".bashrc", ".zshenv"]) {
    const text = await vm.read(rc);
    assert.ok(!text.includes("claude-secret-xyz"), `${rc} holds the secret`);
    assert.match(text, /ohcommodore: Claude Code credentials/);
  }
  const shell = await runProcess("bash", [
    "-c",
    '. ~/.bashrc; printf %s "$CLAUDE_CODE_OAUTH_TOKEN"',
  ], {
    timeoutMs: 10_000,
    env: vm.env(),
  });
  assert.equal(shell.stdout, "claude-secret-xyz");
  assert.equal((await Deno.stat(join(vm.home, ".ohcommodore", ".env"))).mode! & 0o777, 0o600);

  // Second run: every step already done (the clone is fetched), files unchanged.
  const before = await Promise.all([".ssh/config", ".bashrc", ".zshenv"].map((f) => vm.read(f)));
  const second = await vm.init(env);
  assert.equal(second.code, 0, second.output);
  assertStep(second.output, "repo", "already done (~/web cloned; fetched origin)");
  assertStep(second.output, "gh", "already done");
  assertStep(second.output, "sshconfig", "already done");
  assertStep(second.output, "secrets", "already done");
  assertStep(second.output, "scheduler", /already done/);
  assert.match(second.lastLine, /^init\.sh: done in \d+s \(no warnings\)$/);
  const after = await Promise.all([".ssh/config", ".bashrc", ".zshenv"].map((f) => vm.read(f)));
  assert.deepEqual(after, before);
});

Deno.test("init.sh stops with exit 1 and names step repo when TARGET_REPO cannot be cloned", async () => {
  await using vm = await VmHome.create();
  const run = await vm.init({
    ROLE: "captain",
    VM_NAME: "ship-gone-b2c4",
    TARGET_REPO: `file://${vm.root}/missing.git`,
    SKIP_STEPS: OFFLINE,
  });
  assert.equal(run.code, 1, run.output);
  assert.equal(run.lastLine, "init.sh: step repo failed");
  assert.match(run.output, /ERROR: repo failed \(git clone file:\/\/.*missing\.git failed\)/);
  // Nothing after the failed step ran.
  assert.doesNotMatch(run.output, /==> program:/);
});

Deno.test("init.sh warns about a failed optional step and carries on", async () => {
  await using vm = await VmHome.create();
  // No network here anyway; a failing curl makes that certain and fast.
  await vm.fake("curl", 'echo "curl: (6) Could not resolve host" >&2\nexit 6\n');
  const run = await vm.init({
    ROLE: "captain",
    VM_NAME: "ship-warn-c3d5",
    SKIP_STEPS: OFFLINE.replace("zellij,", "") + ",no-such-step",
  });
  assert.equal(run.code, 0, run.output);
  assert.match(
    run.output,
    /^ {4}WARNING: zellij failed \(download of https:\/\/\S+ failed\); continuing$/m,
  );
  assert.match(run.output, /WARNING: SKIP_STEPS names unknown step "no-such-step"/);
  assertStep(run.output, "repo", "skipped (no TARGET_REPO)");
  assertStep(run.output, "identity", "ok");
  assert.match(run.lastLine, /^init\.sh: done in \d+s \(warnings: SKIP_STEPS, zellij\)$/);
});

Deno.test("init.sh installs a downloaded tool into ~/.local/bin, once", async () => {
  await using vm = await VmHome.create();
  // The release archive curl "downloads": a zellij that says its name.
  const archive = join(vm.root, "zellij-archive");
  await Deno.mkdir(archive);
  await Deno.writeTextFile(join(archive, "zellij"), "#!/bin/sh\necho zellij 0.0\n");
  const tarball = join(vm.root, "zellij.tar.gz");
  const tar = await runProcess("tar", ["-czf", tarball, "-C", archive, "zellij"], {
    timeoutMs: 10_000,
  });
  assert.equal(tar.code, 0, tar.stderr);
  await vm.fake(
    "curl",
    `while [ $# -gt 0 ]; do case $1 in -o) out=$2; shift 2 ;; *) url=$1; shift ;; esac; done
case $url in *zellij*) cp '${tarball}' "$out" ;; *) exit 22 ;; esac
`,
  );
  const env = {
    ROLE: "captain",
    VM_NAME: "ship-tool-e5f7",
    SKIP_STEPS: OFFLINE.replace("zellij,", ""),
  };
  const first = await vm.init(env);
  assert.equal(first.code, 0, first.output);
  assertStep(first.output, "zellij", "ok");
  const installed = join(vm.home, ".local", "bin", "zellij");
  assert.equal((await Deno.stat(installed)).mode! & 0o777, 0o755);
  const ran = await runProcess(installed, [], { timeoutMs: 10_000 });
  assert.equal(ran.stdout, "zellij 0.0\n");
  const second = await vm.init(env);
  assertStep(second.output, "zellij", "already done");
});

Deno.test("init.sh runs downloaded installers without its tokens", async () => {
  await using vm = await VmHome.create();
  await vm.writeDotEnv({ ROLE: "captain", VM_NAME: "ship-inst-d4e6", GH_TOKEN: "ghp_secret" });
  // A fake download whose "installer" records what it was given.
  await vm.fake(
    "curl",
    `while [ "$1" != -o ]; do shift; done
printf '%s\\n' 'echo "GH_TOKEN=\${GH_TOKEN:-unset}" >"$HOME/installer.env"' >"$2"
`,
  );
  const run = await vm.init({ SKIP_STEPS: OFFLINE.replace("rustup,", "") });
  assert.equal(run.code, 0, run.output);
  assertStep(run.output, "rustup", "ok");
  assert.equal(await vm.read("installer.env"), "GH_TOKEN=unset\n");
});

Deno.test("init.sh refuses to run without ROLE, and ignores a .env others can write", async () => {
  await using vm = await VmHome.create();
  await vm.writeDotEnv({ ROLE: "captain", VM_NAME: "ship-x" }, 0o666);
  const run = await vm.init({ VM_NAME: "ship-x" });
  assert.equal(run.code, 1, run.output);
  assert.match(run.output, /ignoring .*\.ohcommodore\/\.env: it is writable by group or others/);
  assert.match(run.lastLine, /^init\.sh: ROLE is not set: set ROLE=commodore or ROLE=captain/);
  assert.doesNotMatch(run.output, /==> /);
  const wrong = await vm.init({ ROLE: "admiral", VM_NAME: "ship-x" });
  assert.equal(wrong.code, 1);
  assert.match(wrong.lastLine, /ROLE "admiral" is not commodore or captain/);
});

Deno.test("init.sh runs essential steps even when SKIP_STEPS names them", async () => {
  await using vm = await VmHome.create();
  await vm.writeDotEnv({ ROLE: "commodore", VM_NAME: "flagship-d4e6" });
  const run = await vm.init({ SKIP_STEPS: `${OFFLINE},identity,scheduler,sshconfig` });
  assert.equal(run.code, 0, run.output);
  assert.match(
    run.output,
    /identity is essential and cannot be skipped \(SKIP_STEPS\); running it anyway/,
  );
  assert.match(run.output, /scheduler is essential and cannot be skipped/);
  assertStep(run.output, "identity", "ok");
  assertStep(run.output, "sshconfig", "skipped (SKIP_STEPS)");
  const identity = JSON.parse(await vm.read(".ohcommodore/identity.json"));
  assert.equal(identity.role, "commodore");
  assert.equal(identity.name, "flagship-d4e6");
  assert.equal((await vm.cli(["inbox", "identity"])).stdout, "commodore@flagship-d4e6\n");
});

// A fake systemctl: "enable --now" and "start" run the scheduler the way the unit's ExecStart
// would, "stop" ends it.
const FAKE_SYSTEMCTL = `echo "$*" >>"$HOME/systemctl.log"
case "$*" in
  "--user show-environment" | "--user daemon-reload" | "--user restart "*) exit 0 ;;
  "--user enable --now "*) touch "$HOME/unit.enabled"; ohcommodore _scheduler </dev/null >/dev/null 2>&1 & ;;
  "--user start "*) ohcommodore _scheduler </dev/null >/dev/null 2>&1 & ;;
  "--user show "*) cat "$HOME/.local/ship/data.duckdb.scheduler.lock.pid" ;;
  "--user stop --no-block "*) kill "$(cat "$HOME/.local/ship/data.duckdb.scheduler.lock.pid")" ;;
  "--user is-active --quiet "*) exec ohcommodore scheduler status >/dev/null 2>&1 ;;
  "--user is-enabled --quiet "*) test -f "$HOME/unit.enabled" ;;
  "--user disable --now "*) rm -f "$HOME/unit.enabled" ;;
  *) exit 1 ;;
esac
`;

// A fake loginctl whose lingering can be turned on when `allowed` is "yes".
function fakeLoginctl(allowed: "yes" | "no"): string {
  return `echo "$*" >>"$HOME/loginctl.log"
case "$1" in
  show-user) if [ -f "$HOME/lingers" ]; then echo yes; else echo no; fi ;;
  enable-linger) [ ${allowed} = yes ] && touch "$HOME/lingers" ;;
  *) exit 1 ;;
esac
`;
}

Deno.test("init.sh installs the scheduler as a systemd user unit when user sessions work", async () => {
  await using vm = await VmHome.create();
  await vm.writeDotEnv({ ROLE: "commodore", VM_NAME: "flagship-e5f7" });
  await vm.fake("systemctl", FAKE_SYSTEMCTL);
  await vm.fake("loginctl", fakeLoginctl("yes"));
  const first = await vm.init({ SKIP_STEPS: OFFLINE });
  assert.equal(first.code, 0, first.output);
  assertStep(first.output, "scheduler", "ok");
  const unit = await vm.read(".config/systemd/user/ohcommodore-scheduler.service");
  assert.match(unit, /^ExecStart=%h\/\.local\/bin\/ohcommodore _scheduler$/m);
  assert.match(unit, /^Environment=PATH=%h\/\.local\/bin:.*\/usr\/bin:\/bin$/m);
  assert.match(unit, /^Environment=NO_COLOR=1$/m, "its journal holds no colour codes");
  assert.match(unit, /^Restart=always$/m, "back after any exit but a stop");
  assert.match(unit, /^TimeoutStopSec=infinity$/m, "a stop lets the running command finish");
  assert.match(unit, /^WantedBy=default\.target$/m);
  const calls = await vm.read("systemctl.log");
  assert.match(calls, /--user daemon-reload\n--user enable --now ohcommodore-scheduler\.service\n/);
  assert.equal((await vm.cli(["scheduler", "status"])).code, 0);

  // Without lingering the user's units would stop when init.sh's ssh session ends.
  assert.match(await vm.read("loginctl.log"), /^enable-linger \S+$/m);

  const second = await vm.init({ SKIP_STEPS: OFFLINE });
  assert.equal(second.code, 0, second.output);
  assertStep(second.output, "scheduler", "already done (systemd user unit active)");
});

Deno.test("init.sh runs a detached scheduler when user units could not outlive the session", async () => {
  await using vm = await VmHome.create();
  await vm.writeDotEnv({ ROLE: "commodore", VM_NAME: "flagship-f6a8" });
  await vm.fake("systemctl", FAKE_SYSTEMCTL);
  await vm.fake("loginctl", fakeLoginctl("no"));
  await vm.fake("sudo", "exit 1\n");
  // A unit an earlier run enabled (when lingering still worked) is taken away.
  const unitFile = join(vm.home, ".config/systemd/user/ohcommodore-scheduler.service");
  await Deno.mkdir(join(vm.home, ".config/systemd/user"), { recursive: true });
  await Deno.writeTextFile(unitFile, "[Service]\n");
  await Deno.writeTextFile(join(vm.home, "unit.enabled"), "");
  const run = await vm.init({ SKIP_STEPS: OFFLINE });
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /cannot enable lingering/);
  assertStep(run.output, "scheduler", /ok \(started \(pid \d+.*; no lingering for user units\)/);
  const calls = await vm.read("systemctl.log");
  assert.match(calls, /^--user disable --now ohcommodore-scheduler\.service$/m);
  assert.doesNotMatch(calls, /enable --now|--user start/);
  await assert.rejects(Deno.stat(unitFile), Deno.errors.NotFound);
  assert.equal((await vm.cli(["scheduler", "status"])).code, 0);
});

Deno.test("init.sh applies dotfiles from the dotfiles/ folder of DOTFILES_URL with chezmoi", async () => {
  await using vm = await VmHome.create();
  const source = join(vm.root, "dots-src");
  await Deno.mkdir(join(source, "dotfiles"), { recursive: true });
  await Deno.writeTextFile(join(source, "dotfiles", "dot_gitconfig"), "[user]\n");
  await git(["init", "-q", "-b", "main"], source);
  await git(["add", "."], source);
  await git(
    ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "d"],
    source,
  );
  // A fake chezmoi: records the calls; verify succeeds once apply has run.
  await vm.fake(
    "chezmoi",
    `echo "$*" >>"$HOME/chezmoi.log"
case "$1" in
  apply) touch "$HOME/applied" ;;
  verify) test -f "$HOME/applied" ;;
esac
`,
  );
  const env = {
    ROLE: "captain",
    VM_NAME: "ship-dots-f6a8",
    DOTFILES_URL: `file://${source}`,
    SKIP_STEPS: OFFLINE.replace("chezmoi,", ""),
  };
  const first = await vm.init(env);
  assert.equal(first.code, 0, first.output);
  assertStep(first.output, "chezmoi", "ok");
  const clone = join(vm.home, ".local", "share", "ohcommodore", "dotfiles");
  assert.match(
    await vm.read("chezmoi.log"),
    new RegExp(`^apply --source ${escape(clone)}/dotfiles --force --no-tty$`, "m"),
  );
  const second = await vm.init(env);
  assert.equal(second.code, 0, second.output);
  assertStep(second.output, "chezmoi", "already done");
});

Deno.test("init.sh sets up a captain where there is no GNU timeout (a Mac), and still limits time", async () => {
  await using vm = await VmHome.create();
  const repo = await bareRepo(vm.root);
  const bin = await binWithout(vm.root, ["timeout"]);
  const path = `${vm.fakeBin}:${vm.home}/.local/bin:${bin}`;
  // The environment beats the .env, as everywhere.
  await vm.writeDotEnv({ VM_NAME: "ship-from-file", TARGET_REPO: repo });
  const run = await vm.init({
    PATH: path,
    ROLE: "captain",
    VM_NAME: "ship-web-c3d5",
    SKIP_STEPS: OFFLINE,
  });
  assert.equal(run.code, 0, run.output);
  assertStep(run.output, "repo", "ok (cloned into ~/web)");
  assertStep(run.output, "identity", "ok");
  assertStep(run.output, "scheduler", /ok \(started/);
  assert.equal(JSON.parse(await vm.read(".ohcommodore/identity.json")).name, "ship-web-c3d5");
  assert.equal((await vm.cli(["scheduler", "status"])).code, 0);

  // The stand-in (the script's own lines, taken from it) behaves as GNU timeout: the limit
  // stops the command and what it started (even with SIGALRM ignored) with 124; otherwise the
  // command's exit code and stdin pass through.
  const helpers = ["-e '/^say()/p'", "-e '/^warn()/,/^}/p'", "-e '/^have()/p'"];
  const standIn = [
    '-e "/^readonly TIMEOUT_PERL=/,/^\'$/p"',
    "-e '/^if ! have timeout/,/^fi$/p'",
  ];
  const script = `eval "$(sed -n ${[...helpers, ...standIn].join(" ")} '${SCRIPT}')"
type -t timeout
timeout 1 sleep 30; echo "limit $?"
timeout 1 sh -c 'sleep 30 & echo $! >"$1"; wait' sh "$1"; echo "with a child $?"
(trap '' ALRM; timeout 1 sleep 30; echo "ALRM ignored $?")
timeout 5 sh -c 'exit 7'; echo "exit $?"
timeout 5 cat <<<"stdin passes"`;
  const childFile = join(vm.root, "child.pid");
  const started = Date.now();
  const limited = await runProcess("bash", ["-c", script, "bash", childFile], {
    clearEnv: true,
    env: { PATH: bin },
    timeoutMs: 30_000,
  });
  assert.equal(
    limited.stdout,
    "function\nlimit 124\nwith a child 124\nALRM ignored 124\nexit 7\nstdin passes\n",
    limited.stderr,
  );
  assert.ok(Date.now() - started < 15_000, "every limit took effect");
  const child = (await Deno.readTextFile(childFile)).trim();
  const state = await Deno.readTextFile(`/proc/${child}/stat`).then(
    (stat) => stat.slice(stat.lastIndexOf(")") + 2)[0],
    () => "gone",
  );
  assert.ok(state === "Z" || state === "gone", `the command's child is ${state}`);
});

Deno.test("init.sh uses nothing newer than bash 3.2 (a Mac's /bin/bash runs it for the local provider)", async () => {
  const code = (await Deno.readTextFile(SCRIPT)).split("\n")
    .map((line, index) => ({ line, number: index + 1 }))
    .filter(({ line }) => !line.trimStart().startsWith("#"));
  const newer: [RegExp, string][] = [
    [/\b(local|declare|typeset)\s+-\w*[Anglu]/, "declare -A, -n, -g, -l or -u (bash 4)"],
    [
      /\$\{\w+@[QEPAaUuLK]\}|\$\{?(BASHPID|EPOCHSECONDS|EPOCHREALTIME)\b|%\(/,
      "${x@Q}, $BASHPID, $EPOCHSECONDS or printf %(...)T (bash 4+)",
    ],
    [/\b(mapfile|readarray|coproc)\b/, "mapfile, readarray or coproc (bash 4)"],
    [/\$\{[^}]*(,,|\^\^)/, "case conversion (bash 4)"],
    [/;;&|;&|\|&|&>>/, ";;&, ;&, |& or &>> (bash 4)"],
    [
      /\[\[ -v |\bwait -n\b|\[-\d+\]\}|\{\w+\}[<>]/,
      "[[ -v ]], wait -n, a[-1] or {fd}> (bash 4.1+)",
    ],
    // Before bash 4.4, "${a[@]}" of an empty array is an unbound variable under set -u. These
    // arrays are never empty; any other needs ${a[@]+"${a[@]}"}.
    [
      /"\$\{(?!(INPUTS|WITHOUT_INPUTS|STEP_TABLE|STEPS|install|args|names)\[)\w+\[@\]\}"/,
      `"\${a[@]}"`,
    ],
    // WARNINGS is joined only after its count is checked.
    [/\$\{(?!(STEPS|WARNINGS)\[)\w+\[\*\]\}/, `\${a[*]}`],
  ];
  const found = code.flatMap(({ line, number }) =>
    newer.filter(([pattern]) =>
      pattern.test(line.replace(/\$\{(\w+)\[@\]\+"\$\{\1\[@\]\}"\}/g, ""))
    )
      .map(([, what]) => `line ${number}: ${what}: ${line.trim()}`)
  );
  assert.deepEqual(found, []);
});
