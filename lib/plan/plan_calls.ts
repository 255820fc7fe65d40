/**
 * The calls about plans that the flagship's server answers (its `plan` operation): run, status,
 * list, cancel and follow, as data, so that the laptop, a script or a process on the flagship
 * asks the one driver that holds the plans.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import type { OperationHandler } from "../inbox/server.ts";
import type { PlanFile } from "./plan_schema.ts";
import type { PlanDriver } from "./plan_driver.ts";
import type { PlanRunOptions } from "./plan_options.ts";

/** One call about plans. */
export type PlanCall =
  | { method: "run"; plan: PlanFile; options?: PlanRunOptions }
  | { method: "status"; id: string }
  | { method: "list" }
  | { method: "assignments" }
  | { method: "cancel"; id: string }
  | { method: "follow"; id: string; after?: number };

/**
 * The handler of the `plan` operation.
 *
 * @param driver The flagship's plan driver.
 * @returns The handler; `follow` streams the plan's events, then answers its summary.
 */
export function planHandler(driver: PlanDriver): OperationHandler<"plan"> {
  return (args, { emit, signal }) => {
    const call = checkCall(args.call);
    return (PLAN_CALLS[call.method].run as (
      driver: PlanDriver,
      call: PlanCall,
      context: { emit: (event: unknown) => void; signal: AbortSignal },
    ) => Promise<unknown>)(driver, call, { emit, signal });
  };
}

// Every call, once: whether it names a plan, and what the driver does for it.
const PLAN_CALLS: {
  [M in PlanCall["method"]]: {
    id?: true;
    run: (
      driver: PlanDriver,
      call: Extract<PlanCall, { method: M }>,
      context: { emit: (event: unknown) => void; signal: AbortSignal },
    ) => Promise<unknown>;
  };
} = {
  run: { run: (driver, call) => driver.submit(call.plan, call.options ?? {}) },
  status: { id: true, run: (driver, call) => driver.status(call.id) },
  list: { run: (driver) => driver.list() },
  assignments: { run: (driver) => Promise.resolve(driver.assignments()) },
  cancel: { id: true, run: (driver, call) => driver.cancel(call.id) },
  follow: {
    id: true,
    run: (driver, call, { emit, signal }) =>
      driver.follow(call.id, emit, { after: call.after, signal }),
  },
};

// A call as it came over the wire: its method known and its fields of the right kinds.
function checkCall(value: unknown): PlanCall {
  const call = (value ?? {}) as Record<string, unknown>;
  const method = String(call.method);
  if (!Object.hasOwn(PLAN_CALLS, method)) {
    throw new UsageError(`Unknown plan call ${JSON.stringify(call.method)}`);
  }
  if (PLAN_CALLS[method as PlanCall["method"]].id && typeof call.id !== "string") {
    throw new UsageError(`The plan call "${method}" needs an "id" string`);
  }
  if (call.after !== undefined && !Number.isSafeInteger(call.after)) {
    throw new UsageError(`"after" is the number of an event`);
  }
  if (call.options !== undefined && (typeof call.options !== "object" || call.options === null)) {
    throw new UsageError(`The plan call's "options" is an object`);
  }
  return call as unknown as PlanCall;
}
