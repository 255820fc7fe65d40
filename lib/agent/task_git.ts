/**
 * A task's git and gh on its ship. Before Claude Code starts: what `--push` and `--pr` will need
 * is checked (a remote, gh signed in, a trial push), and the branch is readied, carried on from
 * origin's when origin has it (or made from `startFrom`), and rebased when the task asks, so that
 * a run is never paid for only to have its push rejected. After a good run: the push, and the
 * pull request, whose failure leaves the task done (the work is on origin). Git's failures are
 * told whole ({@link GitError}), with where the work stays when it could not leave the ship.
 * Integration (integrate.ts) and `agent _pr` use the same git, rebase and pull request.
 *
 * @module
 */

import { join } from "node:path";
import { OhcommodoreError } from "../errors.ts";
import { memberPaths } from "../paths.ts";
import { runProcess } from "../process.ts";
import { GitError } from "./git_errors.ts";
import type { TaskOutcome, TaskSpec } from "./task.ts";

/** How long one git or gh command may take. */
export const GIT_TIMEOUT_MS = 120_000;

/** Where a task works: the checkout, the ship's name and the PATH its programs are found on. */
export interface TaskCheckout {
  /** The repository's directory. */
  workdir: string;
  /** The ship's name, for messages. */
  ship: string;
  /** The PATH for claude and gh ({@link shipPath}). */
  path: string;
}

// Said at the end of every refusal: nothing has run, and nothing was spent.
const NOT_STARTED = "Claude Code was not started";

/**
 * The PATH programs of the ship's user are found on: `~/.local/bin` (where init.sh and people put
 * them) first.
 *
 * @param home The ship user's home, for tests.
 * @returns The PATH.
 */
export function shipPath(home?: string): string {
  return [join(memberPaths(home).home, ".local", "bin"), Deno.env.get("PATH") ?? "/usr/bin:/bin"]
    .join(":");
}

/**
 * Runs git in the checkout, for at most {@link GIT_TIMEOUT_MS}.
 *
 * @param workdir The checkout.
 * @param args Git's arguments.
 * @param env More environment (a committer for a rebase, say).
 * @returns Its stdout.
 * @throws {GitError} With git's error lines when it fails or takes too long.
 */
export async function git(
  workdir: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const result = await runProcess("git", ["-C", workdir, ...args], {
    timeoutMs: GIT_TIMEOUT_MS,
    // A git that wants a password fails at once instead of waiting for one nobody types.
    env: { GIT_TERMINAL_PROMPT: "0", ...env },
  });
  if (result.timedOut) {
    throw new GitError(
      args[0],
      null,
      result.stderr,
      `git ${args[0]} took longer than ${GIT_TIMEOUT_MS / 1000} s`,
    );
  }
  if (result.code !== 0) throw new GitError(args[0], result.code, result.stderr);
  return result.stdout;
}

/** What readying a checkout left for the run to know. */
export interface ReadyCheckout {
  /** With `rebaseOnto`: how the rebase went (stopped on conflicts, for the agent to resolve). */
  rebase?: RebaseResult;
}

/**
 * Readies the task's checkout before Claude Code starts: checks what pushing and a pull request
 * need, puts the checkout on the task's branch and rebases it when the task asks.
 *
 * @param spec The task.
 * @param where Its checkout.
 * @returns The rebase's result, when there was one.
 * @throws {OhcommodoreError} Saying what is missing and what to do, when the task cannot be done.
 */
export async function readyCheckout(spec: TaskSpec, where: TaskCheckout): Promise<ReadyCheckout> {
  const delivers = Boolean((spec.push || spec.pr) && spec.branch);
  const origin = delivers ? await originUrl(where) : undefined;
  if (spec.pr) await checkGh(where, origin);
  if (!spec.branch) return {};
  if (await rebaseInProgress(where.workdir)) {
    throw new OhcommodoreError(
      `A rebase is in progress in ${where.workdir} on ${where.ship} (a stopped task's, or one ` +
        `begun by hand): finish it or abort it there ("ohcommodore ship ssh ${where.ship}", ` +
        `then "git rebase --abort"); ${NOT_STARTED}`,
    );
  }
  await checkOutBranch(where, spec, delivers);
  if (delivers) await trialPush(where, spec.branch, spec.forcePush === true);
  if (spec.rebaseOnto === undefined) return {};
  try {
    return { rebase: await rebaseBranch(where, spec.rebaseOnto, { abortOnConflict: false }) };
  } catch (error) {
    throw new OhcommodoreError(
      `Cannot rebase ${JSON.stringify(spec.branch)} onto origin's ` +
        `${JSON.stringify(spec.rebaseOnto)} on ${where.ship}: ${(error as Error).message}; ` +
        NOT_STARTED,
      { cause: error },
    );
  }
}

/** How {@link rebaseBranch} went. */
export interface RebaseResult {
  /** What the branch was rebased onto, e.g. `origin/plan/integration` or `origin/main`. */
  base: string;
  /** That commit's hash. */
  baseSha: string;
  /** Whether git stopped on conflicts (and, without `abortOnConflict`, is still rebasing). */
  stopped: boolean;
  /** The files that conflicted when it stopped; empty when it did not. */
  conflicts: string[];
}

/**
 * Rebases the checked-out branch onto origin's `onto` (origin's default branch when origin
 * lacks it), as origin was at the last fetch.
 *
 * @param where The checkout (its ship names the committer when git knows none).
 * @param onto The branch on origin.
 * @param options `abortOnConflict`: abort a rebase that stops on conflicts, else leave it.
 * @returns What it was rebased onto, and the conflicts if it stopped.
 * @throws {GitError} When the rebase failed for another reason (a dirty tree, say).
 */
export async function rebaseBranch(
  where: Pick<TaskCheckout, "workdir" | "ship">,
  onto: string,
  options: { abortOnConflict: boolean },
): Promise<RebaseResult> {
  const { workdir } = where;
  const base = await hasRef(workdir, `refs/remotes/origin/${onto}`)
    ? `origin/${onto}`
    : await originDefaultBranch(workdir);
  const baseSha = (await git(workdir, ["rev-parse", "--verify", `${base}^{commit}`])).trim();
  const env = { ...await committerEnv(where), GIT_EDITOR: "true" };
  try {
    await git(workdir, ["rebase", "--quiet", base], env);
    return { base, baseSha, stopped: false, conflicts: [] };
  } catch (error) {
    if (!await rebaseInProgress(workdir)) throw error;
    const conflicts = await conflictedFiles(workdir);
    if (options.abortOnConflict) await git(workdir, ["rebase", "--abort"]);
    return { base, baseSha, stopped: true, conflicts };
  }
}

/**
 * Whether the checkout is in the middle of a rebase (git's `rebase-merge` or `rebase-apply`).
 *
 * @param workdir The checkout.
 * @returns True while a rebase waits to be continued or aborted.
 */
export async function rebaseInProgress(workdir: string): Promise<boolean> {
  for (const name of ["rebase-merge", "rebase-apply"]) {
    const path = (await git(workdir, ["rev-parse", "--git-path", name]).catch(() => "")).trim();
    if (!path) continue;
    const absolute = path.startsWith("/") ? path : join(workdir, path);
    if (await Deno.stat(absolute).then(() => true, () => false)) return true;
  }
  return false;
}

/**
 * The files with unresolved conflicts in the checkout.
 *
 * @param workdir The checkout.
 * @returns Their paths, relative to the checkout.
 */
export async function conflictedFiles(workdir: string): Promise<string[]> {
  const out = await git(workdir, ["diff", "--name-only", "--diff-filter=U"]).catch(() => "");
  return out.split("\n").filter(Boolean);
}

/**
 * Origin's default branch as the checkout knows it (`origin/HEAD`), e.g. `origin/main`; asked of
 * origin when the clone did not record it.
 *
 * @param workdir The checkout.
 * @returns The remote-tracking branch.
 * @throws {OhcommodoreError} When neither knows it.
 */
export async function originDefaultBranch(workdir: string): Promise<string> {
  const known = await git(workdir, [
    "symbolic-ref",
    "--quiet",
    "--short",
    "refs/remotes/origin/HEAD",
  ])
    .then((out) => out.trim(), () => "");
  if (known) return known;
  const said = await git(workdir, ["ls-remote", "--symref", "origin", "HEAD"]).catch(() => "");
  const name = /^ref: refs\/heads\/(\S+)\tHEAD$/m.exec(said)?.[1];
  if (name && await hasRef(workdir, `refs/remotes/origin/${name}`)) return `origin/${name}`;
  throw new OhcommodoreError(
    `Cannot tell origin's default branch in ${workdir}: set it there with ` +
      `"git remote set-head origin --auto"`,
  );
}

// A committer for the commits a rebase writes, when git knows none (a ship whose git has no
// user.email): the person's own setting is never overridden.
async function committerEnv(
  where: Pick<TaskCheckout, "workdir" | "ship">,
): Promise<Record<string, string>> {
  const known = await git(where.workdir, ["var", "GIT_COMMITTER_IDENT"]).then(
    () => true,
    () => false,
  );
  if (known) return {};
  return {
    GIT_COMMITTER_NAME: `ohcommodore on ${where.ship}`,
    GIT_COMMITTER_EMAIL: "ohcommodore@localhost",
  };
}

/**
 * After a good run: pushes the branch and opens the pull request, as the task asked.
 *
 * @param spec The task.
 * @param outcome The run's outcome so far.
 * @param where Its checkout.
 * @returns The outcome: `done` unless the push failed; a pull request that could not be opened
 *   is `prError` on a `done` task (its branch is on origin).
 */
export async function deliver(
  spec: TaskSpec,
  outcome: TaskOutcome,
  where: TaskCheckout,
): Promise<TaskOutcome> {
  const branch = spec.branch;
  if (!branch || !(spec.push || spec.pr)) return { ...outcome, status: "done" };
  try {
    const force = spec.forcePush ? ["--force-with-lease"] : [];
    await git(where.workdir, ["push", "--quiet", ...force, "-u", "origin", branch]);
  } catch (error) {
    const count = outcome.commits.length;
    const what = count === 1 ? "The run's commit is" : `The run's ${count} commits are`;
    return {
      ...outcome,
      status: "error",
      error: `Pushing ${JSON.stringify(branch)} to origin failed after the run: ` +
        `${(error as Error).message}. ${what} still on ${where.ship}, on branch ` +
        `${JSON.stringify(branch)} in ${where.workdir}: bring it up to origin's there ` +
        `("ohcommodore ship ssh ${where.ship}"), then push`,
    };
  }
  if (!spec.pr) return { ...outcome, status: "done" };
  try {
    const pr = await openPullRequest(where, {
      head: branch,
      title: outcome.commits.at(-1)?.subject ?? spec.prompt.split("\n")[0].slice(0, 72),
      // The answer only: the prompt may say more than the repository's readers should see.
      body: `${outcome.result ?? ""}\n`,
    });
    return { ...outcome, status: "done", pr };
  } catch (error) {
    return {
      ...outcome,
      status: "done",
      prError: `gh pr create failed: ${(error as Error).message}. The branch ` +
        `${JSON.stringify(branch)} is pushed: open its pull request on GitHub, or with ` +
        `"gh pr create --head ${branch}"`,
    };
  }
}

// The remote the work goes to: without it there is nothing to push to.
async function originUrl(where: TaskCheckout): Promise<string> {
  try {
    return (await git(where.workdir, ["remote", "get-url", "origin"])).trim();
  } catch (error) {
    throw new OhcommodoreError(
      `--push and --pr need the remote "origin" in ${where.workdir} on ${where.ship}, and git ` +
        `says: ${(error as Error).message}. Make the ship with a repository ("ohcommodore ship ` +
        `create <owner/repo>"), or add the remote there ("git remote add origin <url>"); ` +
        NOT_STARTED,
      { cause: error },
    );
  }
}

async function checkGh(where: TaskCheckout, origin: string | undefined): Promise<void> {
  const host = origin === undefined ? undefined : hostOf(origin);
  let result;
  try {
    result = await runProcess("gh", ["auth", "status", ...(host ? ["--hostname", host] : [])], {
      cwd: where.workdir,
      env: { PATH: where.path },
      timeoutMs: GIT_TIMEOUT_MS,
    });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new OhcommodoreError(
      `--pr needs gh (GitHub CLI) on ${where.ship}, and it is not installed (not on PATH: ` +
        `${where.path}): install it there (https://cli.github.com), or put it in ~/.local/bin; ` +
        `or push without a pull request (--push); ${NOT_STARTED}`,
    );
  }
  if (result.code === 0 && !result.timedOut) return;
  const said = linesOf(result.stderr || result.stdout) || `exit ${result.code}`;
  throw new OhcommodoreError(
    `--pr needs gh signed in${host ? ` to ${host}` : ""} on ${where.ship}, and ` +
      `"gh auth status" says: ${said}. Set GH_TOKEN (a token that may open pull requests) in ` +
      `~/.ohcommodore/.env on the ship, or run "gh auth login" there; ${NOT_STARTED}`,
  );
}

// On the branch, carried on from origin's when origin has it: a branch another ship pushed is
// built on, never remade from the default branch (whose push would then be rejected).
async function checkOutBranch(
  where: TaskCheckout,
  spec: TaskSpec,
  delivers: boolean,
): Promise<void> {
  const { workdir, ship } = where;
  const branch = spec.branch!;
  const quoted = JSON.stringify(branch);
  const fetch = await git(workdir, ["fetch", "--quiet", "--prune", "origin"])
    .then(() => undefined, (error: Error) => error);
  if (fetch && (delivers || spec.rebaseOnto !== undefined)) {
    const why = delivers
      ? "cannot be carried on from origin's and would not push"
      : `cannot be rebased onto origin's ${JSON.stringify(spec.rebaseOnto)}`;
    throw new OhcommodoreError(
      `Cannot fetch origin on ${ship}, so branch ${quoted} ${why}: ${fetch.message}. Check ` +
        `that the ship reaches origin and that GH_TOKEN in its ~/.ohcommodore/.env may read it; ` +
        NOT_STARTED,
      { cause: fetch },
    );
  }
  const remote = `refs/remotes/origin/${branch}`;
  const [hasLocal, hasRemote] = await Promise.all([
    hasRef(workdir, `refs/heads/${branch}`),
    hasRef(workdir, remote),
  ]);
  const refuse = (what: string, error: unknown) =>
    new OhcommodoreError(`${what} on ${ship}: ${(error as Error).message}; ${NOT_STARTED}`, {
      cause: error,
    });
  if (!hasLocal) {
    // From origin's branch when it has one, else from origin's startFrom when it has that, else
    // from the default branch as origin has it, else as the clone has it.
    const from = spec.startFrom === undefined ? undefined : `refs/remotes/origin/${spec.startFrom}`;
    const start = hasRemote
      ? remote
      : from && await hasRef(workdir, from)
      ? from
      : await originDefaultBranch(workdir).catch(() => "HEAD");
    const track = hasRemote ? ["--track"] : [];
    await git(workdir, ["switch", "--quiet", "-c", branch, ...track, start]).catch((error) => {
      throw refuse(`Cannot make branch ${quoted} from ${JSON.stringify(start)}`, error);
    });
    return;
  }
  await git(workdir, ["switch", "--quiet", branch]).catch((error) => {
    throw refuse(`Cannot switch to branch ${quoted}`, error);
  });
  if (!hasRemote || await isAncestor(workdir, remote, "HEAD")) return;
  if (await isAncestor(workdir, "HEAD", remote)) {
    await git(workdir, ["merge", "--quiet", "--ff-only", remote]).catch((error) => {
      throw refuse(`Cannot bring branch ${quoted} up to origin's`, error);
    });
    return;
  }
  // Diverged: without a push, the ship's own commits are worked on, and with a forced push too
  // (the branch is the task's own: a rebase rewrote one of the two); a push would be rejected.
  if (!delivers || spec.forcePush) return;
  const counts = await git(workdir, ["rev-list", "--left-right", "--count", `HEAD...${remote}`])
    .then((out) => out.trim().split(/\s+/).map(Number), () => [NaN, NaN]);
  const [here, there] = counts.map((n) => Number.isFinite(n) ? String(n) : "some");
  throw new OhcommodoreError(
    `Branch ${quoted} on ${ship} and on origin have diverged (${here} commit(s) here that ` +
      `origin lacks, ${there} there that the ship lacks), so its push would be rejected: give ` +
      `another --branch, or reconcile them on the ship ("ohcommodore ship ssh ${ship}", in ` +
      `${workdir}), where its commits stay; ${NOT_STARTED}`,
  );
}

// What the push after the run would meet (credentials, permissions, a branch that moved), met now.
async function trialPush(where: TaskCheckout, branch: string, force: boolean): Promise<void> {
  const args = ["push", "--dry-run", "--quiet", ...(force ? ["--force-with-lease"] : [])];
  await git(where.workdir, [...args, "origin", branch]).catch((error) => {
    throw new OhcommodoreError(
      `A trial push of ${JSON.stringify(branch)} to origin (git push --dry-run) failed on ` +
        `${where.ship}: ${(error as Error).message}. Check that the ship may push there ` +
        `(GH_TOKEN in its ~/.ohcommodore/.env); ${NOT_STARTED}`,
      { cause: error },
    );
  });
}

/** A pull request to open: {@link openPullRequest}. */
export interface PullRequestSpec {
  /** The branch with the work, on origin. */
  head: string;
  /** The branch it goes into; gh's default (the repository's default branch) without it. */
  base?: string;
  /** Its title. */
  title: string;
  /** Its body (it reaches gh on stdin). */
  body: string;
}

/**
 * Opens a pull request with `gh pr create` (the body on stdin, never on a command line).
 *
 * @param where The checkout gh runs in, and its PATH.
 * @param spec Head, base, title and body.
 * @returns The pull request's URL.
 * @throws {OhcommodoreError} With what gh said when it could not, or {@link Deno.errors.NotFound}
 *   when gh is not installed.
 */
export async function openPullRequest(
  where: Pick<TaskCheckout, "workdir" | "path">,
  spec: PullRequestSpec,
): Promise<string> {
  const base = spec.base === undefined ? [] : ["--base", spec.base];
  const result = await runProcess(
    "gh",
    ["pr", "create", "--head", spec.head, ...base, "--title", spec.title, "--body-file", "-"],
    { cwd: where.workdir, env: { PATH: where.path }, stdin: spec.body, timeoutMs: GIT_TIMEOUT_MS },
  );
  const url = result.stdout.split("\n").map((line) => line.trim()).findLast((line) =>
    /^https?:\/\//.test(line)
  );
  if (result.code !== 0 || !url) {
    throw new OhcommodoreError(linesOf(result.stderr) || `exit ${result.code}`);
  }
  return url;
}

/**
 * Whether the checkout has a ref.
 *
 * @param workdir The checkout.
 * @param ref The full ref, e.g. `refs/remotes/origin/main`.
 * @returns True when it resolves.
 */
export async function hasRef(workdir: string, ref: string): Promise<boolean> {
  return await git(workdir, ["rev-parse", "--verify", "--quiet", ref]).then(
    () => true,
    () => false,
  );
}

async function isAncestor(workdir: string, older: string, newer: string): Promise<boolean> {
  return await git(workdir, ["merge-base", "--is-ancestor", older, newer])
    .then(() => true, () => false);
}

// The host of a remote's URL (https://host/…, ssh://user@host/…, user@host:path), if it has one.
function hostOf(url: string): string | undefined {
  const found = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/]*@)?([^/:]+)/i.exec(url) ??
    /^(?:[^@/:]+@)?([^/:]+):(?!\/)/.exec(url);
  return found?.[1].toLowerCase();
}

// A program's message on one line: its lines that say something, at most a few hundred
// characters.
function linesOf(text: string): string {
  const said = text.split("\n").map((line) => line.trim()).filter(Boolean).join("; ");
  return said.length > 500 ? said.slice(0, 499) + "…" : said;
}
