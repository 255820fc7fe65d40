/**
 * What a plan's attempt runs on its ship: the agent task (its first prompt, or what failed to
 * fix, in the same session), the integration onto the plan's branch, or a pull request. Built
 * from the plan's records alone, so a driver started again after a crash sends the same.
 *
 * @module
 */

import { oneLine } from "../clip.ts";
import type { TaskSpec } from "../agent/task.ts";
import { taskCommand } from "../agent/task_command.ts";
import { integrateCommand } from "../agent/integrate.ts";
import { prCommand, type PrSpec } from "../agent/open_pr.ts";
import { type LivePlan, taskSpecOf, verifyCommandOf } from "./live_plan.ts";
import { taskPrompt } from "./plan_prompts.ts";
import type { AttemptRecord } from "./plan_records.ts";

// A task's agent run may last this long unless the plan says otherwise.
const DEFAULT_ATTEMPT_TIMEOUT_MS = 30 * 60_000;
// Integrations and pull requests are git and gh on the ship: minutes at most.
const STEP_TIMEOUT_MS = 15 * 60_000;

/**
 * The command of an attempt, and how long it may run.
 *
 * @param plan The plan.
 * @param attempt The attempt.
 * @returns The inbox command and its timeout.
 */
export function attemptCommand(
  plan: LivePlan,
  attempt: AttemptRecord,
): { command: string; timeoutMs: number } {
  const file = plan.record.spec.file;
  if (attempt.kind === "pr") {
    return { command: prCommand(prSpecOf(plan, attempt.task)), timeoutMs: STEP_TIMEOUT_MS };
  }
  const task = plan.tasks.get(attempt.task)!;
  const taskSpec = taskSpecOf(plan, task);
  const verify = verifyCommandOf(plan, task);
  if (attempt.kind === "integrate") {
    return {
      command: integrateCommand({ branch: task.branch, onto: plan.record.integrate, verify }),
      timeoutMs: STEP_TIMEOUT_MS,
    };
  }
  const memory = task.memory;
  const resume = memory.feedback && memory.sessionShip === attempt.ship
    ? memory.sessionId ?? undefined
    : undefined;
  const first = taskPrompt(taskSpec, {
    plan: plan.record.id,
    branch: task.branch,
    integrate: plan.record.integrate,
    verify,
  });
  // What failed goes back to the session that did it; a ship without that session gets the
  // task itself first.
  const prompt = !memory.feedback
    ? first
    : resume
    ? memory.feedback
    : `${first}\n\n${memory.feedback}`;
  const spec: TaskSpec = {
    prompt,
    branch: task.branch,
    push: true,
    forcePush: true,
    startFrom: plan.record.integrate,
    verify,
    model: file.model,
    maxTurns: file.maxTurns,
    permissionMode: file.permissionMode,
    stallMs: file.stallMs,
    resume,
    rebaseOnto: memory.rebase ? plan.record.integrate : undefined,
  };
  return {
    command: taskCommand(spec),
    timeoutMs: file.timeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS,
  };
}

function prSpecOf(plan: LivePlan, taskId: string): PrSpec {
  const file = plan.record.spec.file;
  if (taskId) {
    const task = plan.tasks.get(taskId)!;
    const spec = taskSpecOf(plan, task);
    return {
      head: task.branch,
      title: oneLine(spec.prompt, 100),
      body: [
        spec.prompt,
        "",
        `Task "${task.id}" of plan ${plan.record.id}, verified and brought onto ` +
        `${plan.record.integrate}.`,
        ...(spec.issue ? ["", `Fixes #${spec.issue}`] : []),
      ].join("\n"),
    };
  }
  const done = [...plan.tasks.values()].filter((task) => task.status === "done");
  const notDone = [...plan.tasks.values()].filter((task) => task.status !== "done");
  const issues = file.tasks.flatMap((task) =>
    task.issue && plan.tasks.get(task.id)?.status === "done" ? [`Fixes #${task.issue}`] : []
  );
  return {
    head: plan.record.integrate,
    title: `Plan ${plan.record.id}: ${done.length} task(s)`,
    body: [
      `The work of plan ${plan.record.id}, each task verified and brought onto this branch:`,
      "",
      ...done.map((task) => `- ${task.id}: ${oneLine(taskSpecOf(plan, task).prompt, 100)}`),
      ...(notDone.length
        ? ["", `Not done: ${notDone.map((task) => `${task.id} (${task.status})`).join(", ")}`]
        : []),
      ...(issues.length ? ["", ...issues] : []),
    ].join("\n"),
  };
}
