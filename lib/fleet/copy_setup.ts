/**
 * Making a copy of a ship a ship of its own: what runs on the copy instead of init.sh. A copied
 * VM (or sandbox) has its source's disk: its toolchains and clone, which is the point, but also
 * its name, inbox, tasks, channel, key and settings. The flagship sends the copy what it is to
 * be (its name, flagship, `.env`, a key when trusted) as JSON on the stdin of
 * `ohcommodore _setup-copy`, which forgets what was its source's, writes what is its own, brings
 * the clone to origin's default branch, and starts the scheduler.
 *
 * The one list of what a copy forgets is {@link COPY_FORGETS}.
 *
 * @module
 */

import { basename, dirname, join, relative } from "node:path";
import { parseEnv } from "node:util";
import { sha256Hex } from "../digest.ts";
import { OhcommodoreError } from "../errors.ts";
import { bindIdentity, identityAddress, writeIdentity } from "../identity.ts";
import { memberPaths, REMOTE_PROGRAM } from "../paths.ts";
import { writePrivateFile } from "../private_files.ts";
import { lastLine, runProcess } from "../process.ts";
import type { Transport } from "../transport.ts";
import { Inbox } from "../inbox/inbox.ts";
import { startSchedulerService } from "../inbox/scheduler_service.ts";
import { SCHEDULER_UNIT, schedulerUnitEnabled } from "../inbox/scheduler_unit.ts";
import { tasksDir } from "../agent/task_state.ts";
import { Outbox } from "../relay/outbox.ts";
import { shipChannelStateFile } from "../relay/channel_paths.ts";
import type { ProvisionStep } from "./progress.ts";
import { upload } from "./provision.ts";

/** The version of the request; a copy whose program speaks another is given this program. */
const COPY_SETUP_VERSION = 1;

/** What the flagship tells a new copy it is, on the stdin of `ohcommodore _setup-copy`. */
export interface CopySetup {
  /** {@link COPY_SETUP_VERSION}. */
  version: number;
  /** The copy's VM name. */
  name: string;
  /** The ship it was copied from. */
  source: string;
  /** Its flagship. */
  flagship: { name: string; destination: string };
  /** Whether it holds no key and reaches the fleet through the flagship's channel. */
  keyless: boolean;
  /** Its `~/.ohcommodore/.env`, whole (secrets: this travels on stdin only). */
  env: string;
  /** A trusted copy's own key pair; null for a keyless one (or a sandbox). */
  key: { privateKey: string; publicKey: string } | null;
  /** SHA-256 (hex) of the program the flagship gives ships: a copy running another is told. */
  programSha256: string;
}

/** What the copy answers. */
export type CopySetupAnswer =
  | {
    /** The copy's program is not the flagship's: nothing was changed. */
    programDiffers: true;
  }
  | CopyMadeOwn;

/** A copy made its own. */
export interface CopyMadeOwn {
  programDiffers?: false;
  /** Its address, e.g. `captain@ship-web-k3f9c4d5`. */
  address: string;
  /** Its checkout, or null for a ship without a repository. */
  workdir: string | null;
  /** The branch checked out: origin's default. */
  branch: string | null;
  /** The commit checked out: origin's head of that branch. */
  head: string | null;
  /** Its scheduler, answering. */
  scheduler: { pid: number | null; systemd: boolean };
  /** What did not go as it should but does not stop the ship. */
  warnings: string[];
}

/**
 * What a copy forgets of its source, relative to its home: everything that is a member's own
 * history or state. Its toolchains, shell setup, dotfiles, caches and the clone (brought to
 * origin's default branch separately) are what a copy is made for, and stay.
 */
export const COPY_FORGETS: readonly { path: (home: string) => string; what: string }[] = [
  {
    path: (home) => memberPaths(home).shipDir,
    what: "the inbox and its scheduler's files: database, WAL, locks, pid, socket, report, log",
  },
  { path: (home) => tasksDir(home), what: "agent task states, outcomes (costs), checkout locks" },
  { path: (home) => new Outbox(home).dir, what: "messages the source had not handed over" },
  { path: (home) => dirname(shipChannelStateFile(home)), what: "the source's channel socket" },
  {
    path: (home) => join(memberPaths(home).configDir, "ssh"),
    what: "the source's ssh connections and what it learnt of other members",
  },
  { path: (home) => join(memberPaths(home).configDir, "init.log"), what: "the source's setup log" },
  { path: (home) => join(memberPaths(home).configDir, "completion"), what: "cached ship names" },
  { path: (home) => memberPaths(home).identityFile, what: "the source's identity" },
  { path: (home) => join(memberPaths(home).configDir, ".env"), what: "the source's settings" },
  { path: (home) => join(home, ".ssh", "id_ed25519"), what: "a trusted source's private key" },
  { path: (home) => join(home, ".ssh", "id_ed25519.pub"), what: "its public half" },
  { path: (home) => join(home, ".claude", "projects"), what: "Claude Code's sessions" },
  { path: (home) => join(home, ".claude", "todos"), what: "Claude Code's task lists" },
  { path: (home) => join(home, ".claude", "shell-snapshots"), what: "Claude Code's shells" },
  { path: (home) => join(home, ".claude", "history.jsonl"), what: "Claude Code's prompt history" },
  { path: (home) => join(home, ".claude-standin"), what: "the tests' stand-in claude's calls" },
];

/**
 * Makes the copy at `home` a ship of its own (run there by `ohcommodore _setup-copy`): kills a
 * scheduler its boot may have started, forgets {@link COPY_FORGETS}, writes its `.env`, key and
 * identity, fetches origin and checks out its default branch clean (its other branches, stashes
 * and files go; ignored files, such as build caches, stay), and starts its scheduler.
 *
 * @example Run on a copy, with what the flagship sent
 * ```ts
 * import { type CopySetup, setUpCopy } from "./copy_setup.ts";
 * const setup: CopySetup = JSON.parse(await new Response(Deno.stdin.readable).text());
 * console.log(await setUpCopy(setup, Deno.env.get("HOME")!, ["ohcommodore"]));
 * ```
 *
 * @param setup What the flagship sent.
 * @param home The copy's home.
 * @param program The argv that runs this program (to start the scheduler).
 * @returns What was made, or `programDiffers` (then nothing was changed).
 * @throws {OhcommodoreError} Saying which part failed (the flagship then removes the copy).
 */
export async function setUpCopy(
  setup: CopySetup,
  home: string,
  program: string[],
): Promise<CopySetupAnswer> {
  const paths = memberPaths(home);
  if (
    setup.version !== COPY_SETUP_VERSION ||
    await fileSha256(paths.program) !== setup.programSha256
  ) {
    return { programDiffers: true };
  }
  const source = await readCopiedIdentity(paths.identityFile);
  const identity = { role: "captain" as const, name: setup.name };
  await stopBootScheduler(home);
  for (const forgotten of COPY_FORGETS) {
    await Deno.remove(forgotten.path(home), { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
  await writePrivateFile(join(paths.configDir, ".env"), setup.env);
  if (setup.key) {
    await writePrivateFile(join(home, ".ssh", "id_ed25519"), setup.key.privateKey);
    await writePrivateFile(join(home, ".ssh", "id_ed25519.pub"), setup.key.publicKey + "\n");
    await Deno.chmod(join(home, ".ssh", "id_ed25519.pub"), 0o644);
  }
  const workdir = relocate(source.workdir, source.home, home);
  const own = bindIdentity({
    ...identity,
    ...(workdir ? { workdir } : {}),
    flagship: setup.flagship,
    ...(setup.keyless ? { keyless: true } : {}),
  }, home);
  await writeIdentity(own, home);
  await writePrivateFile(
    join(paths.configDir, "init.log"),
    `${new Date().toISOString()} ${setup.name} is a copy of ${setup.source}, made its own by ` +
      `"ohcommodore _setup-copy" (init.sh ran on ${setup.source}, not here)\n`,
  );
  // Side by side: the scheduler touches no checkout until a command runs, and nobody sends this
  // ship one until the flagship records it ready, after both.
  const warnings: string[] = [];
  const [started, checkedOut] = await Promise.allSettled([
    Inbox.open({ home }).then((inbox) => startSchedulerService(inbox, program)),
    workdir ? checkOutDefault(workdir, home, parseEnv(setup.env), warnings) : null,
  ]);
  if (checkedOut.status === "rejected") throw checkedOut.reason;
  if (started.status === "rejected") throw started.reason;
  const [scheduler, checkout] = [started.value, checkedOut.value];
  return {
    address: identityAddress(own),
    workdir,
    branch: checkout?.branch ?? null,
    head: checkout?.head ?? null,
    scheduler: { pid: scheduler.pid, systemd: scheduler.systemd },
    warnings,
  };
}

// A copied VM boots with its source's unit enabled. Its scheduler refuses to start as a copy,
// but a program from before that check would run the source's messages as the source: whatever
// the unit started is killed (commands and all, not let finish) and the unit stopped. Nothing
// else can run here: processes are not copied, and nobody sends a copy anything before it is
// ready.
async function stopBootScheduler(home: string): Promise<void> {
  if (!(await schedulerUnitEnabled(home))) return;
  const systemctl = (args: string[]) =>
    runProcess("systemctl", ["--user", ...args, SCHEDULER_UNIT], { timeoutMs: 60_000 })
      .catch(() => undefined);
  await systemctl(["kill", "--signal=SIGKILL"]);
  await systemctl(["stop"]);
}

// The source's identity as copied (it reads as a copy, so readIdentity refuses it): where its
// clone was, under which home.
async function readCopiedIdentity(file: string): Promise<{ workdir?: string; home?: string }> {
  try {
    const data = JSON.parse(await Deno.readTextFile(file));
    return {
      ...(typeof data.workdir === "string" ? { workdir: data.workdir } : {}),
      ...(typeof data.home === "string" ? { home: data.home } : {}),
    };
  } catch (error) {
    throw new OhcommodoreError(
      `This is no copy of a ship: cannot read the source's identity "${file}": ` +
        (error as Error).message,
    );
  }
}

// The source's checkout, in this home: the same place relative to it (on exe.dev homes are the
// same path; a sandbox's or the test lobby's copy lives elsewhere).
function relocate(workdir: string | undefined, from: string | undefined, home: string) {
  if (!workdir) return null;
  if (from && (workdir === from || workdir.startsWith(`${from}/`))) {
    return join(home, relative(from, workdir));
  }
  if (workdir.startsWith(`${home}/`)) return workdir;
  return join(home, basename(workdir)); // an older source that did not say its home
}

// Git over the network as init.sh runs it: bounded, never asking, a new host key accepted once.
const GIT_NET_ENV = {
  GIT_TERMINAL_PROMPT: "0",
  GIT_SSH_COMMAND: "ssh -o BatchMode=yes -o ConnectTimeout=20 -o StrictHostKeyChecking=accept-new",
};

// Locks a git killed mid-write leaves: the copy's disk was taken while its source's git ran.
const GIT_LOCKS = ["index.lock", "HEAD.lock", "config.lock", "packed-refs.lock", "shallow.lock"];

/** Fetches origin and checks out its default branch, clean; other local branches go. */
async function checkOutDefault(
  workdir: string,
  home: string,
  settings: Record<string, string | undefined>,
  warnings: string[],
): Promise<{ branch: string; head: string }> {
  const env: Record<string, string> = { HOME: home, ...GIT_NET_ENV };
  if (settings.GH_TOKEN) env.GH_TOKEN = settings.GH_TOKEN;
  const git = async (args: string[], timeoutMs = 60_000) => {
    const result = await runProcess("git", ["-C", workdir, ...args], { env, timeoutMs });
    if (result.code !== 0) {
      throw new OhcommodoreError(
        `git ${args[0]} in ${workdir} failed (exit ${result.code}): ` +
          (lastLine(result.stderr) || "no message"),
      );
    }
    return result.stdout.trim();
  };
  if (!(await Deno.stat(join(workdir, ".git")).then((info) => info.isDirectory, () => false))) {
    throw new OhcommodoreError(
      `The copy has no clone at ${workdir}: its source's is missing, so it cannot be a copy of it`,
    );
  }
  const gitDir = join(workdir, ".git");
  for (const lock of GIT_LOCKS) await Deno.remove(join(gitDir, lock)).catch(() => {});
  // A rebase its source's agent left unfinished: its state goes; the reset below does the rest.
  for (const dir of ["rebase-merge", "rebase-apply", "sequencer"]) {
    await Deno.remove(join(gitDir, dir), { recursive: true }).catch(() => {});
  }
  await git(["fetch", "--prune", "--quiet", "origin"], 300_000);
  const remoteHead = () => git(["symbolic-ref", "--short", "refs/remotes/origin/HEAD"]);
  const head = await remoteHead().catch(async () => {
    await git(["remote", "set-head", "origin", "--auto"], 120_000);
    return await remoteHead();
  });
  const branch = head.replace(/^origin\//, "");
  await git(["checkout", "--quiet", "--force", "-B", branch, `refs/remotes/${head}`]);
  await git(["clean", "-fdq"]);
  const others = (await git(["for-each-ref", "--format=%(refname:short)", "refs/heads/"]))
    .split("\n").filter((name) => name && name !== branch);
  if (others.length) await git(["branch", "--quiet", "-D", ...others]);
  await git(["stash", "clear"]);
  await refreshGhLogin(home, settings, warnings);
  return { branch, head: await git(["rev-parse", "HEAD"]) };
}

// gh keeps its own copy of the token the source was made with; where the flagship's is another
// now, gh signs in again with it (on stdin), as init.sh's gh step does. Without gh, or with gh
// never signed in, git signs in with GH_TOKEN alone.
async function refreshGhLogin(
  home: string,
  settings: Record<string, string | undefined>,
  warnings: string[],
): Promise<void> {
  const token = settings.GH_TOKEN;
  if (!token) return;
  const path = `${join(home, ".local", "bin")}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`;
  const gh = (args: string[], stdin?: string) =>
    runProcess("env", ["-u", "GH_TOKEN", "-u", "GITHUB_TOKEN", "gh", ...args], {
      env: { HOME: home, PATH: path },
      timeoutMs: 120_000,
      stdin,
    }).catch(() => ({ code: 127, stdout: "", stderr: "gh cannot run" }));
  // Signed in with another token (not at all: the source's gh step did not run, nor does it here).
  const stored = await gh(["auth", "token", "--hostname", "github.com"]);
  if (stored.code !== 0 || stored.stdout.trim() === token) return;
  const login = await gh(
    ["auth", "login", "--hostname", "github.com", "--git-protocol", "https", "--with-token"],
    token,
  );
  if (login.code !== 0) {
    warnings.push(`gh auth login with the new GH_TOKEN failed: ${lastLine(login.stderr)}`);
  }
}

async function fileSha256(path: string): Promise<string> {
  const bytes = await Deno.readFile(path).catch(() => new Uint8Array());
  return await sha256Hex(bytes);
}

/** What the flagship needs to make a copy its own. */
export interface CopySetupPlan {
  /** The copy's VM name. */
  vm: string;
  /** What it is to be (without the program's hash, taken from `program`). */
  setup: Omit<CopySetup, "version" | "programSha256">;
  /** The program the flagship gives ships, installed when the copy runs another. */
  program: Uint8Array;
  /** Told as each step starts (`program` only when the copy needs it). */
  onStep?: (step: ProvisionStep) => void;
  /** Stops it; the step then fails with its reason. */
  signal?: AbortSignal;
}

/** How long a copy may take to make itself its own: a fetch, and a scheduler's start. */
const COPY_SETUP_TIMEOUT_MS = 10 * 60_000;

/**
 * From the flagship: makes a copy its own, in one session on it (two more, the first time, when
 * it runs another program than the flagship gives ships: that program is installed first).
 *
 * @param transport The copy.
 * @param plan What it is to be.
 * @returns What the copy answered.
 * @throws {OhcommodoreError} With what failed on the copy.
 */
export async function setUpCopyOn(transport: Transport, plan: CopySetupPlan): Promise<CopyMadeOwn> {
  const request: CopySetup = {
    version: COPY_SETUP_VERSION,
    ...plan.setup,
    programSha256: await programDigest(plan.program),
  };
  const ask = async (): Promise<CopySetupAnswer> => {
    const result = await transport.run([REMOTE_PROGRAM, "_setup-copy"], {
      stdin: JSON.stringify(request),
      timeoutMs: COPY_SETUP_TIMEOUT_MS,
      signal: plan.signal,
    });
    // An older program, made before copies were, has no such command: it is replaced.
    if (result.code !== 0 && /unknown command/i.test(result.stderr)) {
      return { programDiffers: true };
    }
    const answer = lastJsonLine(result.stdout) as CopySetupAnswer | undefined;
    if (result.code !== 0 || !answer) {
      const why = lastLine(result.stderr.replace(/^error: /m, "")) ||
        `exit ${result.code}, no answer`;
      throw new OhcommodoreError(`Making ${plan.vm} its own failed: ${why}`);
    }
    return answer;
  };
  plan.onStep?.("own");
  let answer = await ask();
  if (answer.programDiffers) {
    plan.onStep?.("program");
    const file = { path: REMOTE_PROGRAM, data: plan.program, mode: 0o755 };
    await upload(transport, file, plan.signal);
    plan.onStep?.("own");
    answer = await ask();
    if (answer.programDiffers) {
      throw new OhcommodoreError(
        `${plan.vm} still runs another program after it was given the flagship's`,
      );
    }
  }
  return answer;
}

// The program's digest, made once for every copy of one create (`--count 10` sends the same
// program ten times; on exe.dev it is a binary of about 100 MB).
const programDigests = new WeakMap<Uint8Array, Promise<string>>();

function programDigest(program: Uint8Array): Promise<string> {
  let digest = programDigests.get(program);
  if (!digest) {
    digest = sha256Hex(program);
    programDigests.set(program, digest);
  }
  return digest;
}

function lastJsonLine(text: string): unknown {
  for (const line of text.trim().split("\n").reverse()) {
    try {
      const value = JSON.parse(line);
      if (value && typeof value === "object") return value;
    } catch {
      // a login banner, a stray print
    }
  }
  return undefined;
}
