/**
 * Git in a task's checkout on its ship: where a task works ({@link TaskCheckout}, on the PATH
 * {@link shipPath} gives), git run there within {@link GIT_TIMEOUT_MS} with its failures told whole
 * ({@link GitError}), and what the steps around a run ask of it: refs, ancestry, origin's default
 * branch, the commits since a base, a program's message on one line. The steps live beside it: readying the checkout
 * before Claude Code starts (ready_checkout.ts), the rebase (rebase.ts), the pull request
 * (pull_request.ts), the push after a good run (task_finish.ts). Integration (integrate.ts) and
 * `agent _pr` use the same git, rebase and pull request.
 *
 * @module
 */

import { join } from "node:path";
import { OhcommodoreError } from "../errors.ts";
import { memberPaths } from "../paths.ts";
import { runProcess } from "../process.ts";
import { GitError } from "./git_errors.ts";
import type { TaskCommit } from "./task.ts";

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

/**
 * The commits on HEAD since a base, oldest first.
 *
 * @param workdir The checkout.
 * @param base Where the task's commits start.
 * @returns Each commit's hash and subject; none when git cannot tell.
 */
export async function commitsSince(workdir: string, base: string): Promise<TaskCommit[]> {
  const out = await git(workdir, ["log", "--reverse", "--format=%H%x09%s", `${base}..HEAD`])
    .catch(() => "");
  return out.split("\n").filter(Boolean).map((line) => {
    const [sha, ...subject] = line.split("\t");
    return { sha, subject: subject.join("\t") };
  });
}

/**
 * Whether one commit is an ancestor of another (or the same).
 *
 * @param workdir The checkout.
 * @param older The commit that may come first.
 * @param newer The commit that may contain it.
 * @returns True when `newer` contains `older`.
 */
export async function isAncestor(workdir: string, older: string, newer: string): Promise<boolean> {
  return await git(workdir, ["merge-base", "--is-ancestor", older, newer])
    .then(() => true, () => false);
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

/**
 * A program's message on one line: its lines that say something, at most a few hundred
 * characters.
 *
 * @param text What it wrote (its stderr, say).
 * @returns The lines joined with "; ".
 */
export function linesOf(text: string): string {
  const said = text.split("\n").map((line) => line.trim()).filter(Boolean).join("; ");
  return said.length > 500 ? said.slice(0, 499) + "…" : said;
}
