/**
 * Integration on a ship (`ohcommodore agent _integrate`, run by the inbox's scheduler): brings a
 * task's verified branch onto an integration branch, on the ship that did the task. With the
 * checkout held for the whole step, it fetches, checks out the task's branch (the ship's, else
 * origin's), rebases it onto origin's integration branch (origin's default branch when origin
 * lacks it), runs the verify command again, pushes the result onto the integration branch as a
 * fast-forward (fetching and rebasing again when origin moved meanwhile, at most 3 times), and
 * pushes the rebased task branch with `--force-with-lease`. A conflict is aborted, its files
 * named; a failed verification leaves the rebased branch checked out, so the next agent attempt
 * on the ship fixes it on top. The outcome is the last line printed, as a task's is.
 *
 * @example Integrate a task's branch, from the flagship's side
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * import { integrateCommand, integrationOutcomeOf } from "./integrate.ts";
 * await using fleet = await Fleet.open();
 * const ship = await fleet.ship("ship-web");
 * const sent = await ship.send(
 *   integrateCommand({ branch: "plan/p1/parser", onto: "plan/p1", verify: "deno task test" }),
 * );
 * const outcome = integrationOutcomeOf(await ship.inbox.waitFor(sent.id));
 * console.log(outcome.status, outcome.sha ?? outcome.files ?? outcome.error);
 * ```
 *
 * @module
 */

import { quote } from "../clip.ts";
import { OhcommodoreError, UsageError } from "../errors.ts";
import { readIdentity } from "../identity.ts";
import type { Message } from "../inbox/message.ts";
import { writeAll } from "../lines.ts";
import { memberPaths } from "../paths.ts";
import { lockCheckout, WAITING_TYPE } from "./checkout_lock.ts";
import { isRejectedAsBehind } from "./git_errors.ts";
import { branchNameProblem } from "./task_check.ts";
import { commandInput, printedLine, stdinCommand } from "./task_command.ts";
import { rebaseBranch, rebaseInProgress } from "./rebase.ts";
import { git, hasRef, shipPath, type TaskCheckout } from "./task_git.ts";
import { runVerify, type VerifyResult, verifyTimeout } from "./verify.ts";
import { checkDurationMs } from "../duration.ts";

/** What to integrate, and where. */
export interface IntegrateSpec {
  /** The task's branch (the ship has it, or origin does). */
  branch: string;
  /** The integration branch; made from origin's default branch when origin lacks it. */
  onto: string;
  /** A verify command run again after the rebase (`bash -c`, in the checkout). */
  verify?: string;
  /**
   * How long the verify command may run.
   *
   * @default {10 * 60_000}
   */
  verifyTimeoutMs?: number;
}

/** How an integration ended. */
export interface IntegrationOutcome {
  /**
   * `integrated`: on origin's `onto`; `conflict`: the rebase met conflicts (aborted);
   * `verify_failed`: the rebased branch failed verification (it stays checked out on the
   * ship); `error`: anything else, said in `error`.
   */
  status: "integrated" | "conflict" | "verify_failed" | "error";
  /** The task's branch. */
  branch: string;
  /** The integration branch. */
  onto: string;
  /** For `integrated`: onto's new head on origin. */
  sha?: string;
  /** For `conflict`: the files that conflicted. */
  files?: string[];
  /** With `verify`: how the verification after the rebase went. */
  verify?: VerifyResult | null;
  /**
   * Why it did not integrate; on an `integrated` outcome, why the rebased task branch could
   * not be pushed (its work is on `onto` all the same).
   */
  error?: string;
  /** How long it took. */
  durationMs: number;
}

/** The first line of every integration's command: how one is told from other messages. */
export const INTEGRATE_MARK = "# ohcommodore integrate";

/** The type of the outcome line an integration prints last. */
export const INTEGRATION_TYPE = "ohcommodore_integration";

// A push onto the integration branch that origin's moving branch rejected is rebased again at
// most this many times in all.
const MAX_PUSH_ATTEMPTS = 3;
// A stopped integration exits as a process ended by SIGTERM does.
const STOPPED_EXIT_CODE = 143;
// What the stop may spend on its last words before the scheduler's SIGKILL.
const STOP_GRACE_MS = 3000;

/**
 * Checks an integration's settings.
 *
 * @param spec The integration.
 * @returns It, checked.
 * @throws {UsageError} Naming what is wrong.
 */
export function checkIntegrateSpec(spec: IntegrateSpec): IntegrateSpec {
  for (const key of ["branch", "onto"] as const) {
    const wrong = branchNameProblem(spec?.[key]);
    if (wrong) {
      throw new UsageError(
        `${quote(spec?.[key])} is not a branch name git takes (${key}): ${wrong}`,
      );
    }
  }
  if (spec.branch === spec.onto) {
    throw new UsageError(`A branch cannot be integrated onto itself (${quote(spec.branch)})`);
  }
  if (spec.verify !== undefined && (typeof spec.verify !== "string" || !spec.verify.trim())) {
    throw new UsageError(`The verify command is empty: give one, e.g. "deno task test"`);
  }
  if (spec.verifyTimeoutMs !== undefined) checkDurationMs(spec.verifyTimeoutMs, "verifyTimeoutMs");
  return spec;
}

/**
 * The inbox command that integrates a branch on a ship: the spec reaches
 * `ohcommodore agent _integrate` on stdin, from a here-document, as a task's does.
 *
 * @example
 * ```ts
 * import { integrateCommand } from "./integrate.ts";
 * const command = integrateCommand({ branch: "plan/p1/cli", onto: "plan/p1" });
 * console.log(command.split("\n")[0]); // # ohcommodore integrate
 * ```
 *
 * @param spec The integration.
 * @returns The command.
 * @throws {UsageError} For a bad spec.
 */
export function integrateCommand(spec: IntegrateSpec): string {
  return stdinCommand(INTEGRATE_MARK, "_integrate", checkIntegrateSpec(spec));
}

/**
 * An integration's outcome from its finished inbox message: what it printed, else what the
 * message says (timed out, cancelled, or failed without an outcome).
 *
 * @example
 * ```ts
 * import { integrationOutcomeOf } from "./integrate.ts";
 * import type { Message } from "../inbox/message.ts";
 * declare const message: Message;
 * const outcome = integrationOutcomeOf(message);
 * if (outcome.status === "conflict") console.log(outcome.files);
 * ```
 *
 * @param message The integration's message.
 * @returns The outcome.
 */
export function integrationOutcomeOf(message: Message): IntegrationOutcome {
  const spec = commandInput(message.command, INTEGRATE_MARK) as Partial<IntegrateSpec> | undefined;
  const base: IntegrationOutcome = {
    status: "error",
    branch: spec?.branch ?? "",
    onto: spec?.onto ?? "",
    durationMs: durationOf(message),
  };
  if (message.status !== "done" && message.status !== "error") {
    return { ...base, error: `The integration has not finished: it is ${message.status}` };
  }
  const printed = printedLine(message.result, INTEGRATION_TYPE) as
    | Partial<IntegrationOutcome>
    | undefined;
  if (message.error === "cancelled") {
    return { ...base, ...printed, status: "error", error: "cancelled" };
  }
  if (message.exitCode === 124 && /^timed out/.test(message.error ?? "")) {
    return { ...base, ...printed, status: "error", error: message.error! };
  }
  if (printed?.status) return { ...base, ...printed } as IntegrationOutcome;
  const tail = (message.stderr ?? "").trim().split("\n").slice(-3).join("\n");
  return { ...base, error: message.error ?? (tail || "the integration ended without an outcome") };
}

/**
 * Integrates a branch on this ship and prints the outcome as the last line. A SIGTERM (the
 * scheduler's cancel or timeout) stops it between steps, and kills a verify command that runs.
 *
 * @param spec The integration (from stdin).
 * @param options Where it runs (for tests: the home).
 * @returns The exit code: 0 when integrated, 143 when stopped, else 1.
 */
export async function runIntegration(
  spec: IntegrateSpec,
  options: { home?: string } = {},
): Promise<number> {
  const began = Date.now();
  const stop = new AbortController();
  const onStop = () => stop.abort(new OhcommodoreError("the integration was stopped"));
  Deno.addSignalListener("SIGTERM", onStop);
  let outcome: IntegrationOutcome;
  try {
    outcome = await integrate(checkIntegrateSpec(spec), options.home, stop.signal);
  } catch (error) {
    outcome = {
      status: "error",
      branch: typeof spec?.branch === "string" ? spec.branch : "",
      onto: typeof spec?.onto === "string" ? spec.onto : "",
      error: stop.signal.aborted ? "stopped" : (error as Error).message,
      durationMs: 0,
    };
  } finally {
    Deno.removeSignalListener("SIGTERM", onStop);
  }
  outcome.durationMs = Date.now() - began;
  await printLine({ type: INTEGRATION_TYPE, outcome });
  if (stop.signal.aborted) return STOPPED_EXIT_CODE;
  return outcome.status === "integrated" ? 0 : 1;
}

// The steps, with the checkout held throughout.
async function integrate(
  spec: IntegrateSpec,
  home: string | undefined,
  signal: AbortSignal,
): Promise<IntegrationOutcome> {
  const identity = await readIdentity(home);
  const workdir = identity.workdir ?? memberPaths(home).home;
  const where: TaskCheckout = { workdir, ship: identity.name, path: shipPath(home) };
  const id = Deno.env.get("OHCOMMODORE_MESSAGE_ID") ?? `i${Date.now()}`;
  const deadline = Date.now() + Number(Deno.env.get("OHCOMMODORE_TIMEOUT_SEC")) * 1000;
  const { branch, onto } = spec;
  const outcome = { branch, onto, durationMs: 0 };
  using _checkout = await lockCheckout(workdir, id, {
    home,
    onWait: (holder) => printLine({ type: WAITING_TYPE, task: holder, checkout: workdir }),
  });
  if (await rebaseInProgress(workdir)) {
    return {
      ...outcome,
      status: "error",
      error: `A rebase is in progress in ${workdir} on ${where.ship} (a stopped task's, or one ` +
        `begun by hand): finish it or abort it there ("git rebase --abort"), then integrate again`,
    };
  }
  await step("Cannot fetch origin", () => git(workdir, ["fetch", "--quiet", "--prune", "origin"]));
  await step(`Cannot check out ${JSON.stringify(branch)}`, () => checkOut(where, branch));
  let verify: VerifyResult | null = null;
  for (let attempt = 1;; attempt++) {
    signal.throwIfAborted();
    const rebase = await step(
      `Cannot rebase ${JSON.stringify(branch)} onto origin's ${JSON.stringify(onto)}`,
      () => rebaseBranch(where, onto, { abortOnConflict: true }),
    );
    if (rebase.stopped) return { ...outcome, status: "conflict", files: rebase.conflicts };
    if (spec.verify !== undefined) {
      verify = await runVerify(spec.verify, {
        workdir,
        path: where.path,
        timeoutMs: verifyTimeout(spec.verifyTimeoutMs, deadline, STOP_GRACE_MS),
        signal,
      });
      if (!verify.passed) return { ...outcome, status: "verify_failed", verify };
    }
    signal.throwIfAborted();
    try {
      // Without force: only a fast-forward of origin's branch is taken.
      await git(workdir, ["push", "--quiet", "origin", `HEAD:refs/heads/${onto}`]);
      break;
    } catch (error) {
      if (!isRejectedAsBehind(error) || attempt >= MAX_PUSH_ATTEMPTS) {
        const tries = attempt > 1 ? ` (try ${attempt} of ${MAX_PUSH_ATTEMPTS})` : "";
        throw new OhcommodoreError(
          `Pushing onto ${JSON.stringify(onto)} failed${tries}: ${(error as Error).message}`,
          { cause: error },
        );
      }
      // Origin's branch moved meanwhile: build on what it has now.
      await step("Cannot fetch origin", () => git(workdir, ["fetch", "--quiet", "origin"]));
    }
  }
  const sha = (await git(workdir, ["rev-parse", "HEAD"])).trim();
  const pushed = await git(workdir, ["push", "--quiet", "--force-with-lease", "origin", branch])
    .then(() => undefined, (error: Error) => error);
  return {
    ...outcome,
    status: "integrated",
    sha,
    ...(spec.verify !== undefined ? { verify } : {}),
    ...(pushed
      ? {
        error: `Integrated, but the rebased ${JSON.stringify(branch)} could not be pushed: ` +
          `${pushed.message}. It is on ${where.ship}, in ${workdir}`,
      }
      : {}),
  };
}

// The task's branch checked out: the ship's (brought up to origin's when only behind it), else
// origin's.
async function checkOut(where: TaskCheckout, branch: string): Promise<void> {
  const { workdir } = where;
  const remote = `refs/remotes/origin/${branch}`;
  const [hasLocal, hasRemote] = await Promise.all([
    hasRef(workdir, `refs/heads/${branch}`),
    hasRef(workdir, remote),
  ]);
  if (!hasLocal && !hasRemote) {
    throw new OhcommodoreError(`neither ${where.ship} nor origin has the branch`);
  }
  if (!hasLocal) {
    await git(workdir, ["switch", "--quiet", "-c", branch, "--track", remote]);
    return;
  }
  await git(workdir, ["switch", "--quiet", branch]);
  if (!hasRemote) return;
  const behind = await git(workdir, ["merge-base", "--is-ancestor", "HEAD", remote])
    .then(() => true, () => false);
  if (behind) await git(workdir, ["merge", "--quiet", "--ff-only", remote]);
}

// A step whose failure is said with what it was doing.
async function step<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw new OhcommodoreError(`${what}: ${(error as Error).message}`, { cause: error });
  }
}

function durationOf(message: Message): number {
  const start = Date.parse(message.startedAt ?? "");
  const end = Date.parse(message.finishedAt ?? "");
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, end - start) : 0;
}

async function printLine(value: unknown): Promise<void> {
  await writeAll(Deno.stdout, new TextEncoder().encode(JSON.stringify(value) + "\n"));
}
