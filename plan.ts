/**
 * Plans: bodies of work the flagship drives over its ships — the plan file and its checks
 * ({@link PlanFile}, {@link readPlanFile}, {@link parsePlan}, {@link checkPlan}), a plan built
 * from GitHub issues ({@link planFromIssues}), how a plan runs ({@link PlanRunOptions}), the
 * handles `fleet.plans` gives ({@link Plans}, {@link Plan}) and what they report
 * ({@link PlanSummary}, {@link PlanEvent}).
 *
 * @example Check a plan file, then run it and print its events
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * import { readPlanFile } from "@smithclay/ohcommodore/plan";
 *
 * const file = await readPlanFile("release.yaml"); // throws PlanFileError, naming the key
 * await using fleet = await Fleet.open();
 * const plan = await fleet.plans.run(file, { budgetUsd: 25, integrate: "release", pr: "one" });
 * for await (const event of plan.events()) console.log(event.seq, event.type, event.text);
 * const summary = await plan.status();
 * console.log(summary.status, summary.costUsd, summary.tokens.outputTokens);
 * ```
 *
 * @module
 */

export {
  checkPlan,
  dependencyOrder,
  parsePlan,
  type PlanFile,
  PlanFileError,
  type PlanTask,
  readPlanFile,
} from "./lib/plan/plan_file.ts";
export { planFromIssues, type PlanFromIssuesOptions } from "./lib/plan/from_issues.ts";
export { checkPlanOptions, type PlanRunOptions } from "./lib/plan/plan_options.ts";
export { Plan, Plans } from "./lib/plan/plans.ts";
export type { PlanCaller, PlanCallOptions } from "./lib/plan/plan_caller.ts";
export type { PlanCall } from "./lib/plan/plan_calls.ts";
export type {
  PlanAssignment,
  PlanEvent,
  PlanEventType,
  PlanListing,
  PlanStatus,
  PlanSummary,
  PlanTaskStatus,
  PlanTaskSummary,
} from "./lib/plan/plan_types.ts";
