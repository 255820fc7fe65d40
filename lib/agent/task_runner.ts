/**
 * A task on the ship (`ohcommodore agent _task`, run by the inbox's scheduler): readies the
 * branch (rebasing it when asked, with any conflicts left for the agent), runs headless Claude
 * Code with the prompt on stdin, passes its stream-json through as it comes (so `agent follow`
 * sees it live), flags the task `stalled` while it is silent, resumes it after a usage limit when
 * asked, runs the task's verify command, pushes and opens the pull request only when it passed,
 * and prints the outcome as its last line. The notify hook hears each end, stall and limit.
 * This file holds the task's course and its stop; each step is a file of its own: readying the
 * checkout (ready_checkout.ts), one run of Claude Code (claude_run.ts), the rebase (rebase.ts),
 * the outcome, verification, push and pull request (task_finish.ts), its stdout (task_output.ts).
 *
 * @module
 */

import { join } from "node:path";
import { readIdentity } from "../identity.ts";
import { memberPaths } from "../paths.ts";
import { loadSettings } from "../settings.ts";
import { limitOf } from "./limits.ts";
import { commitsSince, git, shipPath, type TaskCheckout } from "./task_git.ts";
import { readyCheckout } from "./ready_checkout.ts";
import { abortRebase, rebaseNote, unfinishedRebase } from "./rebase.ts";
import { runClaude } from "./claude_run.ts";
import { passThrough, printOutcome, within } from "./task_output.ts";
import { lockCheckout, WAITING_TYPE } from "./checkout_lock.ts";
import type { TaskOutcome, TaskSpec, TaskStatus } from "./task.ts";
import { addAttempts, blankOutcome } from "./task_outcome.ts";
import { type TaskState, writeTaskState } from "./task_state.ts";
import { runNotifyHook } from "../notify.ts";
import { sleep } from "../timer.ts";

// A usage limit is waited out at most this often, and only when it resets within this long.
const MAX_LIMIT_RETRIES = 3;
const MAX_LIMIT_WAIT_MS = 6 * 3_600_000;
// What a stopped task may spend on its last words before the scheduler's SIGKILL.
const STOP_GRACE_MS = 3000;
// A stopped task exits as a process ended by SIGTERM does.
const STOPPED_EXIT_CODE = 143;

/**
 * Runs a task to its end and prints its outcome. A SIGTERM (the scheduler's cancel or timeout)
 * stops it: the outcome is printed and recorded as `cancelled` or `timeout`, and the exit code
 * comes back at once; the work it interrupted is abandoned, for the caller's process to end.
 *
 * @param spec The task (from stdin).
 * @param options Where it runs (for tests: the home).
 * @returns The exit code: 0 when it succeeded, 143 when it was stopped.
 */
export async function runTask(spec: TaskSpec, options: { home?: string } = {}): Promise<number> {
  const paths = memberPaths(options.home);
  const [identity, settings] = await Promise.all([
    readIdentity(options.home),
    loadSettings([join(paths.configDir, ".env")]),
  ]);
  const id = Deno.env.get("OHCOMMODORE_MESSAGE_ID") ?? `t${Date.now()}`;
  const workdir = identity.workdir ?? paths.home;
  const checkout: TaskCheckout = { workdir, ship: identity.name, path: shipPath(options.home) };
  const began = Date.now();
  const state: TaskState = {
    id,
    status: "running",
    startedAt: new Date(began).toISOString(),
    lastOutputAt: new Date(began).toISOString(),
    sessionId: spec.resume ?? null,
  };
  // Each attempt's result (Claude Code reports cost and tokens per process): they add up.
  const results: (Record<string, unknown> | null)[] = [];
  let attempts = 0;
  let base: string | null = null;
  // Whether this task's rebase stopped on conflicts: what it leaves unfinished, it aborts.
  let rebasing = false;
  const notify = (event: string, outcome: TaskOutcome) =>
    runNotifyHook(settings.OHCOMMODORE_NOTIFY, event, outcome);
  const partial = (): TaskOutcome => ({
    ...blankOutcome(identity.name, id, "running", spec.branch),
    ...addAttempts(results),
    attempts,
    sessionId: state.sessionId,
    durationMs: Date.now() - began,
  });
  await writeTaskState(state, options.home);
  // The scheduler ends a task that timed out or was cancelled with SIGTERM, then SIGKILL after
  // a grace of seconds: in that grace the task prints and records how it ended, with its session
  // (for `agent resume`) and commits, and tells the hook.
  const deadline = began + Number(Deno.env.get("OHCOMMODORE_TIMEOUT_SEC")) * 1000;
  let stopping: Promise<number> | undefined;
  const stop = async (): Promise<number> => {
    const status: TaskStatus = Date.now() >= deadline - STOP_GRACE_MS ? "timeout" : "cancelled";
    const commits = base ? await within(commitsSince(workdir, base), 1000, []) : [];
    // A rebase the agent did not finish would keep the next task from the checkout.
    if (rebasing) await within(abortRebase(workdir), 1000, undefined);
    const outcome: TaskOutcome = {
      ...partial(),
      status,
      commits,
      error: status === "timeout" ? "timed out" : "cancelled",
    };
    state.status = status;
    await printOutcome(outcome).catch(() => {});
    await writeTaskState(state, options.home, outcome).catch(() => {});
    await runNotifyHook(settings.OHCOMMODORE_NOTIFY, "ended", outcome, STOP_GRACE_MS).catch(
      () => {},
    );
    return STOPPED_EXIT_CODE;
  };
  const stopRequest = new AbortController();
  const stopped = Promise.withResolvers<number>();
  const onStop = () => {
    stopping ??= stop();
    stopRequest.abort();
    stopped.resolve(stopping);
  };
  const work = async (): Promise<number> => {
    let outcome: TaskOutcome;
    try {
      // One agent at a time in a checkout, for the whole task: another task's branch switch
      // would move this one's commits.
      using _checkout = await lockCheckout(workdir, id, {
        home: options.home,
        onWait: async (holder) => {
          state.status = "waiting";
          await writeTaskState(state, options.home);
          await passThrough(
            JSON.stringify({ type: WAITING_TYPE, task: holder, checkout: workdir }),
          );
        },
      });
      if (state.status === "waiting") {
        state.status = "running";
        await writeTaskState(state, options.home);
      }
      const { rebase } = await readyCheckout(spec, checkout);
      rebasing = rebase?.stopped ?? false;
      // Stopped on conflicts, the branch's commits are being replayed onto the base: the
      // outcome's commits are the branch's since that base. The base is read while Claude Code
      // starts: it has its prompt, and can commit, only once the base is known.
      const baseKnown = (async () => {
        base = rebase?.stopped
          ? rebase.baseSha
          : await git(workdir, ["rev-parse", "HEAD"]).then((out) => out.trim(), () => null);
      })();
      attempts++;
      const prompt = spec.prompt + (rebase?.stopped ? rebaseNote(spec, rebase) : "");
      const prompted = baseKnown.then(() => prompt);
      const running = runClaude(spec, workdir, prompted, state, options.home, async () => {
        state.status = "stalled";
        await writeTaskState(state, options.home);
        await notify("stalled", { ...partial(), status: "stalled" });
      });
      // What comes after the run loads while Claude Code starts (it was spawned just now).
      const finishing = import("./task_finish.ts");
      let [run] = await Promise.all([running, baseKnown]);
      results.push(run.result);
      let limit = limitOf(run);
      for (
        let retry = 1;
        retry <= MAX_LIMIT_RETRIES && spec.retryOnLimit && run.sessionId;
        retry++
      ) {
        const wait = limit?.resetAt ? Date.parse(limit.resetAt) - Date.now() : NaN;
        // Only a stated reset within reach, and before the task's own timeout, is waited for.
        if (!(wait > -60_000 && wait <= MAX_LIMIT_WAIT_MS)) break;
        if (Date.now() + wait + 60_000 > deadline) break;
        // Where `agent list` and `fleet status` read it: waiting for the limit, until when.
        state.status = "waiting";
        state.resetAt = limit!.resetAt;
        await writeTaskState(state, options.home);
        await notify("rate_limited", {
          ...partial(),
          status: "rate_limited",
          resetAt: limit!.resetAt,
        });
        await sleep(Math.max(0, wait) + 1000, stopRequest.signal);
        stopRequest.signal.throwIfAborted();
        state.status = "running";
        delete state.resetAt;
        await writeTaskState(state, options.home);
        const resumed = { ...spec, resume: run.sessionId };
        attempts++;
        run = await runClaude(
          resumed,
          workdir,
          "Continue where you left off.",
          state,
          options.home,
        );
        results.push(run.result);
        limit = limitOf(run);
      }
      // Nothing is pushed for a task being stopped.
      stopRequest.signal.throwIfAborted();
      const unfinished = rebase?.stopped ? await unfinishedRebase(workdir, rebase) : undefined;
      outcome = await (await finishing).finish(
        spec,
        run,
        { ...partial(), durationMs: Date.now() - began },
        checkout,
        { base, unfinished, deadline, graceMs: STOP_GRACE_MS, signal: stopRequest.signal },
      );
    } catch (error) {
      if (rebasing && !stopping) await abortRebase(workdir);
      outcome = { ...partial(), status: "error", error: (error as Error).message };
    }
    // Stopped meanwhile: the stop has the last word (its exit code is already given).
    if (stopping) return await stopping;
    state.status = outcome.status;
    await writeTaskState(state, options.home, outcome);
    await printOutcome(outcome);
    await notify(outcome.status === "rate_limited" ? "rate_limited" : "ended", outcome);
    return outcome.status === "done" ? 0 : 1;
  };
  Deno.addSignalListener("SIGTERM", onStop);
  try {
    // A stop answers once its outcome is recorded; the work it cut short is left behind.
    return await Promise.race([work(), stopped.promise]);
  } finally {
    Deno.removeSignalListener("SIGTERM", onStop); // it would keep this process alive
  }
}
