/**
 * A task after its run: its outcome from the run's result (its fields, the commits, a limit it
 * ended on, an unfinished rebase), the verify command, then only after a good run the push, and
 * the pull request, whose failure leaves the task done (the work is on origin); a push that
 * fails says where the work stays.
 *
 * @module
 */

import { lastLine } from "../process.ts";
import type { RunRecord } from "./claude_run.ts";
import { limitOf } from "./limits.ts";
import { openPullRequest } from "./pull_request.ts";
import type { TaskOutcome, TaskSpec } from "./task.ts";
import { commitsSince, git, type TaskCheckout } from "./task_git.ts";
import { passThrough } from "./task_output.ts";
import { runVerify, verifyFailure, VERIFYING_TYPE, verifyTimeout } from "./verify.ts";

/** What {@link finish} needs besides the run. */
export interface FinishContext {
  /** Where the run's commits start. */
  base: string | null;
  /** A rebase the agent left unfinished, said in a sentence. */
  unfinished: string | undefined;
  /** When the task's time is up (ms since the epoch; NaN for never). */
  deadline: number;
  /** What the task needs after the verify, before its deadline (its last words). */
  graceMs: number;
  /** The stop. */
  signal: AbortSignal;
}

/**
 * From the run's result to the outcome: its fields, the commits, the verification, the push and
 * the pull request.
 *
 * @param spec The task.
 * @param run What the last run said.
 * @param outcome The outcome so far.
 * @param checkout Its checkout.
 * @param context Where its commits start, an unfinished rebase, its time and the stop.
 * @returns The outcome.
 */
export async function finish(
  spec: TaskSpec,
  run: RunRecord,
  outcome: TaskOutcome,
  checkout: TaskCheckout,
  { base, unfinished, deadline, graceMs, signal }: FinishContext,
): Promise<TaskOutcome> {
  const result = run.result ?? {};
  const text = typeof result.result === "string" ? result.result : null;
  const isError = result.is_error === true;
  const limit = limitOf(run);
  outcome = {
    ...outcome,
    // With a verify command: null until it runs (a failed run never gets that far).
    ...(spec.verify !== undefined ? { verify: null } : {}),
    exitCode: run.exitCode,
    result: text,
    isError,
    sessionId: run.sessionId,
    numTurns: typeof result.num_turns === "number" ? result.num_turns : null,
    durationMs: typeof result.duration_ms === "number" ? result.duration_ms : outcome.durationMs,
    commits: base ? await commitsSince(checkout.workdir, base) : [],
  };
  if (limit) {
    return { ...outcome, status: "rate_limited", resetAt: limit.resetAt, error: limit.message };
  }
  if (!run.result || isError || run.exitCode !== 0) {
    const why = text ?? lastLine(run.stderr) ?? "";
    return {
      ...outcome,
      status: "error",
      error: run.result
        ? `Claude Code ended with ${String(result.subtype ?? "an error")}: ${why}`
        : `Claude Code exited ${run.exitCode} without a result${why ? `: ${why}` : ""}`,
    };
  }
  if (unfinished) return { ...outcome, status: "error", error: unfinished };
  if (spec.verify !== undefined) {
    // Said in the stream, so that whoever follows the task (a plan's driver) sees it verify.
    await passThrough(JSON.stringify({ type: VERIFYING_TYPE, command: spec.verify }));
    const verify = await runVerify(spec.verify, {
      workdir: checkout.workdir,
      path: checkout.path,
      timeoutMs: verifyTimeout(spec.verifyTimeoutMs, deadline, graceMs),
      signal,
    });
    // Its commits are counted again: a verify command may commit (a formatter, say).
    outcome = {
      ...outcome,
      verify,
      commits: base ? await commitsSince(checkout.workdir, base) : [],
    };
    if (!verify.passed) return { ...outcome, status: "error", error: verifyFailure(verify) };
  }
  // A pull request needs the branch on origin: --pr pushes too.
  return await deliver(spec, outcome, checkout);
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
