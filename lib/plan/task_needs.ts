/**
 * A plan's tasks as a graph of what each needs: every need names a task, no task needs itself,
 * no tasks need each other in a cycle ({@link checkNeeds}); and an order they can run in
 * ({@link dependencyOrder}).
 *
 * @module
 */

import { quote } from "../clip.ts";
import type { Fail } from "./plan_file_error.ts";
import type { PlanTask } from "./plan_schema.ts";
import { listed } from "./plan_wording.ts";

/**
 * Fails at the first need that names no task or the task itself, then at a cycle.
 *
 * @param tasks The plan's tasks, their ids known to be distinct.
 * @param index Each task's place in the plan, by id.
 * @param fail How the plan fails.
 */
export function checkNeeds(
  tasks: readonly PlanTask[],
  index: ReadonlyMap<string, number>,
  fail: Fail,
): void {
  tasks.forEach((task, i) => {
    for (const need of task.needs ?? []) {
      if (need === task.id) {
        fail(
          `tasks[${i}].needs`,
          `task "${need}" needs itself (${need} → ${need}); remove "${need}" from its needs`,
        );
      }
      if (!index.has(need)) {
        fail(
          `tasks[${i}].needs`,
          `${quote(need)} names no task (tasks: ${listed([...index.keys()])}); fix the id or ` +
            `remove it`,
        );
      }
    }
  });
  const cycle = cycleOf(tasks);
  if (cycle) {
    fail(
      `tasks[${index.get(cycle[0])}].needs`,
      `the tasks need each other in a cycle, ${cycle.join(" → ")}, so none of them can start; ` +
        `remove one of these needs`,
    );
  }
}

/**
 * The tasks in an order where each comes after the tasks it needs, otherwise in the plan's
 * order. Meant for a checked plan: needs that name no task are passed over, and a cycle does
 * not loop.
 *
 * @example Order tasks by what they need
 * ```ts
 * import { dependencyOrder } from "@smithclay/ohcommodore/plan";
 *
 * const order = dependencyOrder([
 *   { id: "cli", prompt: "Use the parser", needs: ["parser"] },
 *   { id: "parser", prompt: "Add a parser" },
 * ]);
 * console.log(order.map((task) => task.id)); // ["parser", "cli"]
 * ```
 *
 * @param tasks The plan's tasks.
 * @returns The same tasks, reordered.
 */
export function dependencyOrder(tasks: readonly PlanTask[]): PlanTask[] {
  const byId = new Map(tasks.map((task) => [task.id, task]));
  const seen = new Set<string>();
  const order: PlanTask[] = [];
  const place = (task: PlanTask) => {
    if (seen.has(task.id)) return;
    seen.add(task.id);
    for (const need of task.needs ?? []) {
      const needed = byId.get(need);
      if (needed) place(needed);
    }
    order.push(task);
  };
  tasks.forEach(place);
  return order;
}

// The tasks' needs as a path that closes on itself (`a → b → a`), if they have a cycle.
function cycleOf(tasks: readonly PlanTask[]): string[] | undefined {
  const byId = new Map(tasks.map((task) => [task.id, task]));
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (path.includes(id)) return [...path.slice(path.indexOf(id)), id];
    if (done.has(id)) return undefined;
    path.push(id);
    for (const need of byId.get(id)?.needs ?? []) {
      const cycle = visit(need);
      if (cycle) return cycle;
    }
    path.pop();
    done.add(id);
    return undefined;
  };
  for (const task of tasks) {
    const cycle = visit(task.id);
    if (cycle) return cycle;
  }
  return undefined;
}
