/**
 * What a plan makes of how its attempts end: an outcome taken in ({@link takeOutcome}: costs and
 * tokens added up, a task verified, integrated, sent back to its agent with what failed, or
 * failed once its attempts are used), or a ship lost ({@link takeLostAttempt}: the attempt does
 * not count, and its task goes to another ship). What a ship says is untrusted: it is clipped
 * before it is kept or told.
 *
 * @module
 */

import { oneLine } from "../clip.ts";
import { blankOutcome, outcomeOf } from "../agent/task_outcome.ts";
import { checkedOutcome, checkedVerify } from "../agent/checked_outcome.ts";
import { type IntegrationOutcome, integrationOutcomeOf } from "../agent/integrate.ts";
import { prOutcomeOf } from "../agent/open_pr.ts";
import type { FinishedMessage } from "../inbox/message.ts";
import { type LivePlan, now, planEvent, round, verifyCommandOf } from "./live_plan.ts";
import { conflictPrompt, verifyFailedPrompt } from "./plan_prompts.ts";
import type { AttemptRecord, PlanChanges, TaskRecord } from "./plan_records.ts";
import { addTokens, FINAL_TASK_STATUSES } from "./plan_types.ts";

// An integration that fails for a reason of its own (not a conflict) is tried again so often.
const MAX_INTEGRATION_ERRORS = 3;
// What an attempt's kept outcome may hold.
const KEPT_OUTCOME_CHARS = 16 * 1024;
/**
 * An attempt's outcome taken in, by its kind: the attempt is closed, and its task and the plan
 * changed. An answer that cannot be taken in fails its task, never the plan's progress.
 *
 * @param plan The plan.
 * @param attempt The attempt, still open.
 * @param message The finished inbox message.
 * @param log Told why an answer could not be taken in.
 * @returns The changes and events to save.
 */
export function takeOutcome(
  plan: LivePlan,
  attempt: AttemptRecord,
  message: FinishedMessage,
  log: (line: string) => void,
): PlanChanges {
  const changes = closeAttempt(plan, attempt, "ended");
  const task = plan.tasks.get(attempt.task);
  try {
    if (attempt.kind === "agent" && task) {
      takeAgentOutcome(plan, task, attempt, message, changes);
    } else if (attempt.kind === "integrate" && task) {
      takeIntegrationOutcome(plan, task, attempt, message, changes);
    } else {
      takePrOutcome(plan, task, attempt, message, changes);
    }
  } catch (error) {
    log(`${attempt.messageId} on ${attempt.ship}: ${(error as Error).message}`);
    if (task && !FINAL_TASK_STATUSES.includes(task.status)) {
      changes.tasks!.push(task);
      failTask(plan, task, changes, `the ship's answer could not be read`);
    }
  }
  return changes;
}

/**
 * An attempt given up on, its ship gone or silent: the task goes to another ship. An agent
 * attempt does not count (the agent did not fail), and its session stays behind; a pull request
 * is asked for again.
 *
 * @param plan The plan.
 * @param attempt The attempt, still open.
 * @param why Why the ship lost it, in a sentence.
 * @returns The changes and events to save.
 */
export function takeLostAttempt(plan: LivePlan, attempt: AttemptRecord, why: string): PlanChanges {
  const changes = closeAttempt(plan, attempt, "lost");
  const task = plan.tasks.get(attempt.task);
  if (attempt.kind === "pr") {
    if (task) task.memory.prAsked = false;
    else plan.record.spec.prAsked = false;
    changes.plan = plan.record;
  }
  if (task && attempt.kind === "agent" && task.status !== "cancelled") {
    task.attempts = Math.max(0, task.attempts - 1);
    Object.assign(task.memory, { feedback: null, sessionShip: null, sessionId: null });
    if (plan.record.status === "running") task.status = "ready";
  }
  if (task) changes.tasks!.push(task);
  changes.events!.push(planEvent(
    plan,
    "reassigned",
    task?.id ?? null,
    attempt.ship,
    `${attempt.ship} lost its ${attempt.kind} attempt: ${why}; it goes to another ship`,
  ));
  return changes;
}

// An attempt no longer out; the changes to save start with it.
function closeAttempt(
  plan: LivePlan,
  attempt: AttemptRecord,
  status: "ended" | "lost",
): PlanChanges {
  attempt.status = status;
  attempt.endedAt = now();
  plan.open.delete(attempt.messageId);
  return { tasks: [], attempts: [attempt], events: [] };
}

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
function takeAgentOutcome(
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
function takeIntegrationOutcome(
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
function takePrOutcome(
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
function failTask(
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
