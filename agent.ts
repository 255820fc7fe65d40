/**
 * Agent tasks: the fleet's {@link FleetAgents} (`fleet.agents`) that gives Claude Code a prompt
 * on ships, the handle on one task ({@link AgentTask}), what a task is and how it ended
 * ({@link TaskSpec}, {@link TaskOutcome}), costs, and a ship's own task list.
 *
 * @example Give every ship a task and add up what it cost
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * import type { TaskOutcome } from "@smithclay/ohcommodore/agent";
 *
 * await using fleet = await Fleet.open();
 * const outcomes: TaskOutcome[] = await fleet.agents.run("run the tests and fix what fails");
 * const cost = outcomes.reduce((sum, outcome) => sum + (outcome.costUsd ?? 0), 0);
 * console.log(`${outcomes.length} tasks, $${cost.toFixed(2)}`);
 * ```
 *
 * @module
 */

export type { TaskSummary } from "./lib/agent/last_task.ts";
export type { TaskCommit, TaskOutcome, TaskSpec, TaskStatus, TaskUsage } from "./lib/agent/task.ts";
export { AgentStartError } from "./lib/fleet/agent_start_error.ts";
export {
  type AgentRunOptions,
  type AgentsContext,
  AgentTask,
  FleetAgents,
} from "./lib/fleet/agents.ts";
export { BranchInUseError } from "./lib/fleet/branch_in_use.ts";
export type { FleetCosts } from "./lib/fleet/fleet_costs.ts";
export { ResumeRefusedError } from "./lib/fleet/resume_refused_error.ts";
export { fetchShipTasks } from "./lib/fleet/ship_task_list.ts";
