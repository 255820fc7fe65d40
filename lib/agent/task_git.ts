/**
 * A task's git and gh on its ship. Before Claude Code starts: what `--push` and `--pr` will need
 * is checked (a remote, gh signed in, a trial push), and the branch is readied, carried on from
 * origin's when origin has it, so that a run is never paid for only to have its push rejected.
 * After a good run: the push, and the pull request, whose failure leaves the task done (the work
 * is on origin). Git's failures are told whole ({@link describeGitFailure}), with where the work
 * stays when it could not leave the ship.
 *
 * @module
 */

import { join } from "node:path";
import { OhcommodoreError } from "../errors.ts";
import { memberPaths } from "../paths.ts";
import { runProcess } from "../process.ts";
import { describeGitFailure } from "./git_errors.ts";
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
 * Runs git in the checkout.
 *
 * @param workdir The checkout.
 * @param args Git's arguments.
 * @returns Its stdout.
 * @throws {OhcommodoreError} With git's error lines when it fails.
 */
export async function git(workdir: string, args: string[]): Promise<string> {
  const result = await runProcess("git", ["-C", workdir, ...args], {
    timeoutMs: GIT_TIMEOUT_MS,
    // A git that wants a password fails at once instead of waiting for one nobody types.
    env: { GIT_TERMINAL_PROMPT: "0" },
  });
  if (result.timedOut) {
    throw new OhcommodoreError(`git ${args[0]} took longer than ${GIT_TIMEOUT_MS / 1000} s`);
  }
  if (result.code !== 0) {
    throw new OhcommodoreError(
      describeGitFailure(result.stderr, `git ${args[0]} exited ${result.code}`),
    );
  }
  return result.stdout;
}

/**
 * Readies the task's checkout before Claude Code starts: checks what pushing and a pull request
 * need, and puts the checkout on the task's branch.
 *
 * @param spec The task.
 * @param where Its checkout.
 * @throws {OhcommodoreError} Saying what is missing and what to do, when the task cannot be done.
 */
export async function readyCheckout(spec: TaskSpec, where: TaskCheckout): Promise<void> {
  const delivers = Boolean((spec.push || spec.pr) && spec.branch);
  const origin = delivers ? await originUrl(where) : undefined;
  if (spec.pr) await checkGh(where, origin);
  if (spec.branch) await checkOutBranch(where, spec.branch, delivers);
  if (delivers) await trialPush(where, spec.branch!);
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
    await git(where.workdir, ["push", "--quiet", "-u", "origin", branch]);
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
    return { ...outcome, status: "done", pr: await openPullRequest(spec, outcome, where) };
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
  branch: string,
  delivers: boolean,
): Promise<void> {
  const { workdir, ship } = where;
  const quoted = JSON.stringify(branch);
  const fetch = await git(workdir, ["fetch", "--quiet", "--prune", "origin"])
    .then(() => undefined, (error: Error) => error);
  if (fetch && delivers) {
    throw new OhcommodoreError(
      `Cannot fetch origin on ${ship}, so branch ${quoted} cannot be carried on from origin's ` +
        `and would not push: ${fetch.message}. Check that the ship reaches origin and that ` +
        `GH_TOKEN in its ~/.ohcommodore/.env may read it; ${NOT_STARTED}`,
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
    // From origin's branch when it has one, else from the default branch as origin has it,
    // else as the clone has it.
    const start = hasRemote ? remote : await git(workdir, [
      "symbolic-ref",
      "--quiet",
      "--short",
      "refs/remotes/origin/HEAD",
    ]).then((out) => out.trim(), () => "HEAD");
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
  // Diverged: without a push, the ship's own commits are worked on; a push would be rejected.
  if (!delivers) return;
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
async function trialPush(where: TaskCheckout, branch: string): Promise<void> {
  await git(where.workdir, ["push", "--dry-run", "--quiet", "origin", branch]).catch((error) => {
    throw new OhcommodoreError(
      `A trial push of ${JSON.stringify(branch)} to origin (git push --dry-run) failed on ` +
        `${where.ship}: ${(error as Error).message}. Check that the ship may push there ` +
        `(GH_TOKEN in its ~/.ohcommodore/.env); ${NOT_STARTED}`,
      { cause: error },
    );
  });
}

async function openPullRequest(
  spec: TaskSpec,
  outcome: TaskOutcome,
  where: TaskCheckout,
): Promise<string> {
  const title = outcome.commits.at(-1)?.subject ?? spec.prompt.split("\n")[0].slice(0, 72);
  // The answer only: the prompt may say more than the repository's readers should see.
  const body = `${outcome.result ?? ""}\n`;
  const result = await runProcess(
    "gh",
    ["pr", "create", "--head", spec.branch!, "--title", title, "--body-file", "-"],
    { cwd: where.workdir, env: { PATH: where.path }, stdin: body, timeoutMs: GIT_TIMEOUT_MS },
  );
  const url = result.stdout.split("\n").map((line) => line.trim()).findLast((line) =>
    /^https?:\/\//.test(line)
  );
  if (result.code !== 0 || !url) {
    throw new OhcommodoreError(linesOf(result.stderr) || `exit ${result.code}`);
  }
  return url;
}

async function hasRef(workdir: string, ref: string): Promise<boolean> {
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
