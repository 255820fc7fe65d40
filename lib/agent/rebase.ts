/**
 * Rebasing a branch onto origin's, in a task's checkout or an integration's: the rebase itself
 * (with a committer when git knows none), whether one is in progress, and the files it left in
 * conflict. A task's rebase that stops on conflicts is left for its agent to resolve (it is told
 * so after its prompt), and aborted when the agent leaves it unfinished; an integration's is
 * aborted at once.
 *
 * @module
 */

import { join } from "node:path";
import type { TaskSpec } from "./task.ts";
import { git, hasRef, originDefaultBranch, type TaskCheckout } from "./task_git.ts";

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
async function conflictedFiles(workdir: string): Promise<string[]> {
  const out = await git(workdir, ["diff", "--name-only", "--diff-filter=U"]).catch(() => "");
  return out.split("\n").filter(Boolean);
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
 * What the agent is told, after its prompt, when the rebase it was given stopped on conflicts.
 *
 * @param spec The task.
 * @param rebase How the rebase went.
 * @returns The note, to append to the prompt.
 */
export function rebaseNote(spec: TaskSpec, rebase: RebaseResult): string {
  const files = rebase.conflicts.length ? rebase.conflicts.join(", ") : "(git names none)";
  return `\n\n---\nNote from ohcommodore: this checkout is in the middle of a rebase of the ` +
    `branch ${JSON.stringify(spec.branch)} onto ${rebase.base} ("git rebase ${rebase.base}"), ` +
    `stopped on conflicts in: ${files}. Resolve them first: edit each file, "git add" it, and ` +
    `run "GIT_EDITOR=true git rebase --continue" until the rebase ends. A rebase still in ` +
    `progress when you finish is aborted, and the task fails.\n`;
}

/**
 * When the agent left the rebase unfinished: aborts it, and says which files still conflicted.
 *
 * @param workdir The checkout.
 * @param rebase How the rebase went when it stopped.
 * @returns What is wrong, in a sentence; undefined when the rebase was finished.
 */
export async function unfinishedRebase(
  workdir: string,
  rebase: RebaseResult,
): Promise<string | undefined> {
  if (!await rebaseInProgress(workdir)) return undefined;
  const left = await conflictedFiles(workdir);
  const files = left.length ? left : rebase.conflicts;
  await abortRebase(workdir);
  return `The rebase onto ${rebase.base} was not finished; conflicts in: ` +
    `${files.join(", ") || "(git names none)"}. It was aborted: the branch is as it was before`;
}

/**
 * Aborts the rebase in progress, if one is; a failure to abort is let be.
 *
 * @param workdir The checkout.
 */
export async function abortRebase(workdir: string): Promise<void> {
  if (await rebaseInProgress(workdir)) await git(workdir, ["rebase", "--abort"]).catch(() => {});
}
