/**
 * What a plan's agents are told: the task's prompt with where it stands in the plan, and, when
 * an attempt goes back to the agent, what failed — a verification's output or a rebase's
 * conflicts — in the same session.
 *
 * @module
 */

import type { VerifyResult } from "../agent/verify.ts";
import type { PlanTask } from "./plan_schema.ts";

/**
 * A task's first prompt.
 *
 * @param task The task.
 * @param where Its plan, branch, the integration branch, and how it is verified.
 * @returns The prompt.
 */
export function taskPrompt(
  task: PlanTask,
  where: { plan: string; branch: string; integrate: string; verify?: string },
): string {
  const lines = [
    task.prompt.trimEnd(),
    "",
    "---",
    `This is task "${task.id}" of plan ${where.plan}, on the git branch ${where.branch}.`,
  ];
  if (task.needs?.length) {
    lines.push(
      `It builds on ${task.needs.map((id) => `"${id}"`).join(", ")}: their work is already on ` +
        `this branch (it starts from ${where.integrate}).`,
    );
  }
  if (where.verify) lines.push(`Your work is verified with: ${where.verify}`);
  lines.push(
    "When you are done, commit your changes on this branch. Do not push: the fleet verifies " +
      "and pushes.",
  );
  return lines.join("\n");
}

/**
 * The prompt that sends a failed verification back to the agent.
 *
 * @param verify How verification went.
 * @returns The prompt.
 */
export function verifyFailedPrompt(verify: VerifyResult): string {
  const how = verify.exitCode === null ? "did not finish" : `exited ${verify.exitCode}`;
  return [
    `Verification failed: \`${verify.command}\` ${how}. The end of its output:`,
    "",
    verify.output.trimEnd(),
    "",
    "Fix it, and commit the fix on this branch.",
  ].join("\n");
}

/**
 * The prompt that sends a rebase's conflicts back to the agent (the rebase waits in the
 * checkout when it starts).
 *
 * @param integrate The branch the work is brought onto.
 * @param files The files that conflicted.
 * @returns The prompt.
 */
export function conflictPrompt(integrate: string, files: readonly string[]): string {
  return [
    `Your branch conflicts with ${integrate}, which other tasks' work has reached. A rebase onto ` +
    `origin/${integrate} is in progress in this checkout and stopped on conflicts in: ` +
    `${files.join(", ") || "(git did not say which files)"}.`,
    "Resolve them, keeping the intent of both sides, `git add` the files and run " +
    "`git rebase --continue` until the rebase is done. Do not abort it.",
  ].join("\n");
}
