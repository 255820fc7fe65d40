/**
 * What a plan makes of its attempts' outcomes: costs and tokens added up, a task verified,
 * integrated, sent back to its agent with what failed, or failed once its attempts are used.
 * What a ship says is untrusted: it is clipped before it is kept or told.
 *
 * @module
 */

import { oneLine } from "../clip.ts";
import { blankOutcome, outcomeOf } from "../agent/task.ts";
import { checkedOutcome, checkedVerify } from "../agent/checked_outcome.ts";
import { type IntegrationOutcome, integrationOutcomeOf } from "../agent/integrate.ts";
import { prOutcomeOf } from "../agent/open_pr.ts";
import type { FinishedMessage } from "../inbox/message.ts";
import { type LivePlan, now, planEvent, round, verifyCommandOf } from "./live_plan.ts";
import { conflictPrompt, verifyFailedPrompt } from "./plan_prompts.ts";
import type { AttemptRecord, PlanChanges, TaskRecord } from "./plan_store.ts";
import { addTokens } from "./plan_types.ts";

// An integration that fails for a reason of its own (not a conflict) is tried again so often.
const MAX_INTEGRATION_ERRORS = 3;
// What an attempt's kept outcome may hold.
const KEPT_OUTCOME_CHARS = 16 * 1024;
/**
 * An agent attempt's outcome taken in: its cost and tokens added up (as checked: a ship's
 * negative cost counts nothing), its session kept; a verified task goes on to integration, a
 * failed verification back to its agent, any other failure to a fresh attempt, while attempts
 * remain.
 *
 * @param plan The plan.
 * @param task The task.
 * @param attempt The attempt.
 * @param message The finished inbox message.
 * @param changes Where the changes and events go.
 */
export function takeAgentOutcome(
  plan: LivePlan,
  task: TaskRecord,
  attempt: AttemptRecord,
  message: FinishedMessage,
  changes: PlanChanges,
): void {
  const outcome = checkedOutcome(attempt.ship, outcomeOf(attempt.ship, message)) ??
    { ...blankOutcome(attempt.ship, attempt.messageId, "error"), error: "no outcome" };
  attempt.costUsd = outcome.costUsd;
  attempt.outcome = keep(outcome);
  const cost = outcome.costUsd ?? 0;
  task.costUsd = round(task.costUsd + cost);
  task.tokens = addTokens(task.tokens, outcome.usage);
  plan.record.costUsd = round(plan.record.costUsd + cost);
  plan.record.tokens = addTokens(plan.record.tokens, outcome.usage);
  changes.plan = plan.record;
  changes.tasks!.push(task);
  if (outcome.sessionId) {
    task.memory.sessionId = outcome.sessionId;
    task.memory.sessionShip = attempt.ship;
  }
  if (task.status === "cancelled" || plan.record.status !== "running") return;
  // Told with the plan's own command: the ship's copy of it is only its word.
  const command = verifyCommandOf(plan, task);
  const verify = outcome.verify && { ...outcome.verify, command: command ?? "verify" };
  if (outcome.status === "done") {
    Object.assign(task.memory, { feedback: null, rebase: false, verifiedAt: now() });
    task.status = "integrating";
    changes.events!.push(planEvent(
      plan,
      "verify_passed",
      task.id,
      attempt.ship,
      verify ? `verified: ${verify.command} passed` : "done (the plan verifies nothing)",
    ));
  } else if (verify && !verify.passed) {
    changes.events!.push(
      planEvent(plan, "verify_failed", task.id, attempt.ship, verifyText(verify)),
    );
    retryOrFail(plan, task, changes, verifyFailedPrompt(verify), task.memory.rebase);
  } else {
    const why = oneLine(outcome.error ?? outcome.status, 300);
    changes.events!.push(planEvent(plan, "attempt_failed", task.id, attempt.ship, why));
    // Not the agent's work that failed: a fresh attempt, resolving conflicts again if it was.
    const rebase = task.memory.rebase;
    const feedback = rebase ? task.memory.feedback ?? null : null;
    retryOrFail(plan, task, changes, feedback, rebase, why);
  }
}

/**
 * An integration's outcome taken in: the task is done, or its conflict or failed verification
 * goes back to its agent while attempts remain; an integration that failed for a reason of its
 * own is tried again, so often.
 *
 * @param plan The plan.
 * @param task The task.
 * @param attempt The attempt.
 * @param message The finished inbox message.
 * @param changes Where the changes and events go.
 */
export function takeIntegrationOutcome(
  plan: LivePlan,
  task: TaskRecord,
  attempt: AttemptRecord,
  message: FinishedMessage,
  changes: PlanChanges,
): void {
  const outcome = checkedIntegration(integrationOutcomeOf(message));
  attempt.outcome = keep(outcome);
  changes.tasks!.push(task);
  if (task.status === "cancelled" || plan.record.status !== "running") return;
  const ship = attempt.ship;
  if (outcome.status === "integrated") {
    Object.assign(task, { status: "done", finishedAt: now(), error: null });
    const at = outcome.sha ? ` at ${outcome.sha.slice(0, 12)}` : "";
    changes.events!.push(
      planEvent(plan, "integrated", task.id, ship, `on ${plan.record.integrate}${at}`),
      planEvent(plan, "done", task.id, ship, `done after ${task.attempts} attempt(s)`),
    );
  } else if (outcome.status === "conflict") {
    const files = outcome.files ?? [];
    changes.events!.push(planEvent(
      plan,
      "conflict",
      task.id,
      ship,
      `conflicts with ${plan.record.integrate} in ${files.join(", ") || "files git did not name"}`,
    ));
    retryOrFail(plan, task, changes, conflictPrompt(plan.record.integrate, files), true);
  } else if (outcome.status === "verify_failed" && outcome.verify) {
    const command = verifyCommandOf(plan, task) ?? "verify";
    const verify = { ...outcome.verify, command };
    changes.events!.push(planEvent(
      plan,
      "verify_failed",
      task.id,
      ship,
      `after the rebase onto ${plan.record.integrate}: ${verifyText(verify)}`,
    ));
    retryOrFail(plan, task, changes, verifyFailedPrompt(verify), true);
  } else {
    const why = oneLine(outcome.error ?? "the integration failed", 300);
    const errors = (task.memory.integrationErrors ?? 0) + 1;
    task.memory.integrationErrors = errors;
    changes.events!.push(planEvent(plan, "attempt_failed", task.id, ship, why));
    if (errors >= MAX_INTEGRATION_ERRORS) failTask(plan, task, changes, why);
  }
}

/**
 * A pull request's outcome taken in: the task's (or, without a task, the plan's) URL, or why
 * there is none.
 *
 * @param plan The plan.
 * @param task The task, or undefined for the plan's own.
 * @param attempt The attempt.
 * @param message The finished inbox message.
 * @param changes Where the changes and events go.
 */
export function takePrOutcome(
  plan: LivePlan,
  task: TaskRecord | undefined,
  attempt: AttemptRecord,
  message: FinishedMessage,
  changes: PlanChanges,
): void {
  const outcome = prOutcomeOf(message);
  attempt.outcome = keep(outcome);
  // What a ship says is kept only so long.
  const url = outcome.url === null ? null : oneLine(String(outcome.url), 500);
  const text = url ?? `no pull request: ${oneLine(outcome.error ?? "gh said nothing", 300)}`;
  if (task) {
    task.pr = url;
    changes.tasks!.push(task);
  } else plan.record.pr = url;
  changes.events!.push(planEvent(plan, "pr", task?.id ?? null, attempt.ship, text));
  changes.plan = plan.record;
}

// An integration's outcome as a ship told it, believed field by field.
function checkedIntegration(outcome: IntegrationOutcome): IntegrationOutcome {
  const statuses = ["integrated", "conflict", "verify_failed", "error"];
  const status = statuses.includes(outcome.status) ? outcome.status : "error";
  const text = (x: unknown, max: number) => typeof x === "string" ? x.slice(0, max) : undefined;
  return {
    status,
    branch: text(outcome.branch, 300) ?? "",
    onto: text(outcome.onto, 300) ?? "",
    sha: text(outcome.sha, 64),
    files: Array.isArray(outcome.files)
      ? outcome.files.slice(0, 50).flatMap((file) =>
        typeof file === "string" ? [file.slice(0, 200)] : []
      )
      : undefined,
    verify: outcome.verify === undefined ? undefined : checkedVerify(outcome.verify),
    error: status === outcome.status
      ? text(outcome.error, 4096)
      : `the ship answered "${oneLine(String(outcome.status), 40)}", not an integration`,
    durationMs: typeof outcome.durationMs === "number" ? outcome.durationMs : 0,
  };
}

// Back to the agent with what failed while attempts remain; else the task failed.
function retryOrFail(
  plan: LivePlan,
  task: TaskRecord,
  changes: PlanChanges,
  feedback: string | null,
  rebase = false,
  why?: string,
): void {
  if (task.attempts < plan.record.spec.maxAttempts) {
    Object.assign(task.memory, { feedback, rebase });
    task.status = "ready";
    return;
  }
  const last = why ?? (feedback ? oneLine(feedback, 300) : "its last attempt failed");
  failTask(plan, task, changes, `no attempts left (${task.attempts}): ${last}`);
}

/**
 * A task failed, for good: told in its events.
 *
 * @param plan The plan.
 * @param task The task.
 * @param changes Where the changes and events go.
 * @param why Why, in a sentence.
 */
export function failTask(
  plan: LivePlan,
  task: TaskRecord,
  changes: PlanChanges,
  why: string,
): void {
  Object.assign(task, { status: "failed", finishedAt: now(), error: why });
  changes.events!.push(planEvent(plan, "failed", task.id, task.ship, why));
}

function verifyText(verify: { command: string; exitCode: number | null; output: string }): string {
  const how = verify.exitCode === null ? "did not finish" : `exited ${verify.exitCode}`;
  const last = verify.output.trimEnd().split("\n").at(-1) ?? "";
  return `${verify.command} ${how}${last ? `: ${oneLine(last, 200)}` : ""}`;
}

function keep(outcome: unknown): string {
  const text = JSON.stringify(outcome);
  return text.length <= KEPT_OUTCOME_CHARS
    ? text
    : JSON.stringify({ clipped: text.slice(0, 4096) });
}
