/**
 * A task on the ship (`ohcommodore agent _task`, run by the inbox's scheduler): readies the
 * branch (rebasing it when asked, with any conflicts left for the agent), runs headless Claude
 * Code with the prompt on stdin, passes its stream-json through as it comes (so `agent follow`
 * sees it live), flags the task `stalled` while it is silent, resumes it after a usage limit when
 * asked, runs the task's verify command, pushes and opens the pull request only when it passed,
 * and prints the outcome as its last line. The notify hook hears each end, stall and limit.
 *
 * @module
 */

import { join } from "node:path";
import { OhcommodoreError } from "../errors.ts";
import { readIdentity } from "../identity.ts";
import { memberPaths } from "../paths.ts";
import { lastLine } from "../process.ts";
import { loadSettings } from "../settings.ts";
import { readLines, writeAll } from "../lines.ts";
import { limitOf } from "./limits.ts";
import { git, shipPath, type TaskCheckout } from "./task_git.ts";
import { readyCheckout } from "./ready_checkout.ts";
import { conflictedFiles, rebaseInProgress, type RebaseResult } from "./rebase.ts";
import { deliver } from "./task_finish.ts";
import { lockCheckout, WAITING_TYPE } from "./checkout_lock.ts";
import {
  addAttempts,
  blankOutcome,
  DEFAULT_STALL_MS,
  OUTCOME_TYPE,
  type TaskCommit,
  type TaskOutcome,
  type TaskSpec,
  type TaskStatus,
} from "./task.ts";
import { type TaskState, writeTaskState } from "./task_state.ts";
import { runVerify, verifyFailure, VERIFYING_TYPE, verifyTimeout } from "./verify.ts";
import { runNotifyHook } from "../notify.ts";
import { sleep } from "../timer.ts";

// What Claude Code's stream says that the outcome needs.
interface RunRecord {
  exitCode: number;
  sessionId: string | null;
  result: Record<string, unknown> | null;
  stderr: string;
}

// A usage limit is waited out at most this often, and only when it resets within this long.
const MAX_LIMIT_RETRIES = 3;
const MAX_LIMIT_WAIT_MS = 6 * 3_600_000;
// What a stopped task may spend on its last words before the scheduler's SIGKILL.
const STOP_GRACE_MS = 3000;
// A stopped task exits as a process ended by SIGTERM does.
const STOPPED_EXIT_CODE = 143;
// A stream-json line carries a tool's whole result (a file read, say): room for a big one.
const MAX_LINE_CHARS = 64 * 1024 * 1024;

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
  const identity = await readIdentity(options.home);
  const settings = await loadSettings([join(paths.configDir, ".env")]);
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
      // outcome's commits are the branch's since that base.
      base = rebase?.stopped
        ? rebase.baseSha
        : await git(workdir, ["rev-parse", "HEAD"]).then((out) => out.trim(), () => null);
      attempts++;
      const prompt = spec.prompt + (rebase?.stopped ? rebaseNote(spec, rebase) : "");
      let run = await runClaude(spec, workdir, prompt, state, options.home, async () => {
        state.status = "stalled";
        await writeTaskState(state, options.home);
        await notify("stalled", { ...partial(), status: "stalled" });
      });
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
      outcome = await finish(
        spec,
        run,
        { ...partial(), durationMs: Date.now() - began },
        checkout,
        { base, unfinished, deadline, signal: stopRequest.signal },
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

// Lines go out one whole line at a time: the outcome a stop prints never lands inside another.
let passing: Promise<void> = Promise.resolve();

function passThrough(line: string): Promise<void> {
  const bytes = new TextEncoder().encode(line + "\n");
  passing = passing.catch(() => {}).then(() => writeAll(Deno.stdout, bytes));
  return passing;
}

async function printOutcome(outcome: TaskOutcome): Promise<void> {
  // A stdout that does not drain does not keep a stop from its last words.
  await within(passing.catch(() => {}), 1000, undefined);
  await passThrough(JSON.stringify({ type: OUTCOME_TYPE, outcome }));
}

// The promise's value, or the fallback after ms.
async function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<T>((resolve) => timer = setTimeout(() => resolve(fallback), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// What finish needs besides the run: where its commits start, a rebase the agent left
// unfinished (said in a sentence), when the task's time is up, and the stop.
interface FinishContext {
  base: string | null;
  unfinished: string | undefined;
  deadline: number;
  signal: AbortSignal;
}

// From the run's result to the outcome: its fields, the commits, the verification, the push and
// the PR.
async function finish(
  spec: TaskSpec,
  run: RunRecord,
  outcome: TaskOutcome,
  checkout: TaskCheckout,
  { base, unfinished, deadline, signal }: FinishContext,
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
      timeoutMs: verifyTimeout(spec.verifyTimeoutMs, deadline, STOP_GRACE_MS),
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

// What the agent is told, after its prompt, when the rebase it was given stopped on conflicts.
function rebaseNote(spec: TaskSpec, rebase: RebaseResult): string {
  const files = rebase.conflicts.length ? rebase.conflicts.join(", ") : "(git names none)";
  return `\n\n---\nNote from ohcommodore: this checkout is in the middle of a rebase of the ` +
    `branch ${JSON.stringify(spec.branch)} onto ${rebase.base} ("git rebase ${rebase.base}"), ` +
    `stopped on conflicts in: ${files}. Resolve them first: edit each file, "git add" it, and ` +
    `run "GIT_EDITOR=true git rebase --continue" until the rebase ends. A rebase still in ` +
    `progress when you finish is aborted, and the task fails.\n`;
}

// When the agent left the rebase unfinished: aborts it, and says which files still conflicted.
async function unfinishedRebase(
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

async function abortRebase(workdir: string): Promise<void> {
  if (await rebaseInProgress(workdir)) await git(workdir, ["rebase", "--abort"]).catch(() => {});
}

/**
 * Runs Claude Code once, passing its output through line by line.
 *
 * @param onStall Called once when it has been silent for the task's stall time.
 */
async function runClaude(
  spec: TaskSpec,
  workdir: string,
  prompt: string,
  state: TaskState,
  home: string | undefined,
  onStall: () => Promise<void> = () => Promise.resolve(),
): Promise<RunRecord> {
  const args = ["-p", "--output-format", "stream-json", "--verbose"];
  if (spec.maxTurns !== undefined) args.push("--max-turns", String(spec.maxTurns));
  if (spec.model) args.push("--model", spec.model);
  if (spec.resume) args.push("--resume", spec.resume);
  args.push(
    ...(spec.permissionMode
      ? ["--permission-mode", spec.permissionMode]
      : ["--dangerously-skip-permissions"]),
  );
  // Where init.sh and people put programs for this user.
  const path = shipPath(home);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("claude", {
      args,
      cwd: workdir,
      env: { PATH: path },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new OhcommodoreError(
        `claude is not installed on this ship (not on PATH: ${path}): install Claude Code ` +
          `there, or put it in ~/.local/bin`,
      );
    }
    throw error;
  }
  const writer = child.stdin.getWriter();
  writer.write(new TextEncoder().encode(prompt)).then(() => writer.close()).catch(() => {});
  const stderr = new Response(child.stderr).text();
  const stallMs = spec.stallMs ?? DEFAULT_STALL_MS;
  let stallTimer: ReturnType<typeof setTimeout> | undefined;
  let stalled = false;
  const armStall = () => {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(() => {
      stalled = true;
      onStall().catch(() => {});
    }, stallMs);
  };
  armStall();
  let result: Record<string, unknown> | null = null;
  let lastWrite = 0;
  try {
    for await (const line of readLines(child.stdout, MAX_LINE_CHARS, { keepLast: true })) {
      armStall();
      await passThrough(line);
      let event: Record<string, unknown> | null = null;
      try {
        event = JSON.parse(line);
      } catch {
        // not JSON: passed through all the same
      }
      if (typeof event?.session_id === "string") state.sessionId = event.session_id;
      if (event?.type === "result") result = event;
      // The state on disk says when it last spoke, at most once a second.
      if (stalled || Date.now() - lastWrite > 1000) {
        stalled = false;
        state.status = "running";
        state.lastOutputAt = new Date().toISOString();
        lastWrite = Date.now();
        await writeTaskState(state, home).catch(() => {});
      }
    }
  } catch (error) {
    // Our stdout gone, say: Claude Code does not run on unseen.
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    throw error;
  } finally {
    clearTimeout(stallTimer);
  }
  const status = await child.status;
  return { exitCode: status.code, sessionId: state.sessionId, result, stderr: await stderr };
}

async function commitsSince(workdir: string, base: string): Promise<TaskCommit[]> {
  const out = await git(workdir, ["log", "--reverse", "--format=%H%x09%s", `${base}..HEAD`])
    .catch(() => "");
  return out.split("\n").filter(Boolean).map((line) => {
    const [sha, ...subject] = line.split("\t");
    return { sha, subject: subject.join("\t") };
  });
}
