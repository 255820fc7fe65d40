/**
 * A task after a good run: the push, and the pull request, whose failure leaves the task done
 * (the work is on origin); a push that fails says where the work stays.
 *
 * @module
 */

import { openPullRequest } from "./pull_request.ts";
import type { TaskOutcome, TaskSpec } from "./task.ts";
import { git, type TaskCheckout } from "./task_git.ts";

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
