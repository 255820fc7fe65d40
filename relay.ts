/**
 * The flagship's relay policy for keyless ships: what a ship's command to another ship or to
 * the flagship does (run, hold for approval, refuse), read from the flagship's `policy.json`.
 *
 * @example Ask what the flagship would do with a ship's command
 * ```ts
 * import { decide, readPolicy } from "@smithclay/ohcommodore/relay";
 *
 * const policy = await readPolicy();
 * const decision = decide(policy, {
 *   toFlagship: true,
 *   kind: "command",
 *   command: "git -C ~/reports pull",
 * });
 * console.log(decision.action, decision.rule);
 * ```
 *
 * @module
 */

export {
  type Asked,
  decide,
  type Decision,
  DEFAULT_POLICY,
  type Policy,
  type PolicyAction,
  policyPath,
  readPolicy,
} from "./lib/relay/policy.ts";
