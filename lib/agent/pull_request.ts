/**
 * Opening a pull request with `gh`, from a task's checkout or an integration's.
 *
 * @module
 */

import { OhcommodoreError } from "../errors.ts";
import { runProcess } from "../process.ts";
import { GIT_TIMEOUT_MS, linesOf, type TaskCheckout } from "./task_git.ts";

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
