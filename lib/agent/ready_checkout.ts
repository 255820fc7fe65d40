/**
 * Readying a task's checkout before Claude Code starts, so that a run is never paid for only to
 * have its push rejected: what `--push` and `--pr` will need is checked (a remote, gh signed in, a
 * trial push), and the branch is readied, carried on from origin's when origin has it (or made
 * from `startFrom`), and rebased when the task asks. Each refusal says what is missing and what
 * to do, and that Claude Code was not started.
 *
 * @module
 */

import { OhcommodoreError } from "../errors.ts";
import { runProcess } from "../process.ts";
import { rebaseBranch, rebaseInProgress, type RebaseResult } from "./rebase.ts";
import type { TaskSpec } from "./task.ts";
import {
  git,
  GIT_TIMEOUT_MS,
  hasRef,
  isAncestor,
  linesOf,
  originDefaultBranch,
  type TaskCheckout,
} from "./task_git.ts";

// Said at the end of every refusal: nothing has run, and nothing was spent.
const NOT_STARTED = "Claude Code was not started";

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

// The host of a remote's URL (https://host/…, ssh://user@host/…, user@host:path), if it has one.
function hostOf(url: string): string | undefined {
  const found = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/]*@)?([^/:]+)/i.exec(url) ??
    /^(?:[^@/:]+@)?([^/:]+):(?!\/)/.exec(url);
  return found?.[1].toLowerCase();
}
