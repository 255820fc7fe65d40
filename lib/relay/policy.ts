/**
 * What keyless ships may ask of the fleet, decided on the flagship, which holds the account's
 * key: a ship that could run any command there would have gained everything it lost with its
 * own key. The policy lives in the flagship's `~/.ohcommodore/policy.json`; every field may be
 * left out, and the defaults are: a ship's commands to another ship run there; a ship's commands
 * to the flagship are held for a person's approval unless the allow-list matches them; notes
 * are accepted; fleet commands from a ship are refused whatever the file says.
 *
 * @module
 */

import { join } from "node:path";
import { OhcommodoreError } from "../errors.ts";
import type { MessageKind } from "../inbox/message.ts";
import { memberPaths } from "../paths.ts";

/** What happens to a ship's command. */
export type PolicyAction = "run" | "hold" | "refuse";

/** The flagship's policy for messages from keyless ships. */
export interface Policy {
  /**
   * A ship's commands to another ship.
   *
   * @default {"run"}
   */
  shipToShip: PolicyAction;
  /**
   * A ship's commands to the flagship that no `allow` entry matches.
   *
   * @default {"hold"}
   */
  shipToFlagship: PolicyAction;
  /**
   * Commands to the flagship that run without approval: regular expressions that must match the
   * whole command (they are anchored for you), e.g. `"git -C ~/reports pull"`.
   *
   * @default {[]}
   */
  allow: string[];
  /**
   * Whether ships may send notes (to the flagship or another ship).
   *
   * @default {true}
   */
  notes: boolean;
  /**
   * How often, in seconds, the flagship collects outboxes of ships whose channel has no
   * forward.
   *
   * @default {5}
   */
  pollIntervalSec: number;
}

/** The policy when `policy.json` says nothing. */
export const DEFAULT_POLICY: Readonly<Policy> = Object.freeze({
  shipToShip: "run",
  shipToFlagship: "hold",
  allow: [],
  notes: true,
  pollIntervalSec: 5,
});

/** What the policy says of one message, and the rule that says it. */
export interface Decision {
  /** Run it, hold it for approval, or refuse it. */
  action: PolicyAction;
  /** The rule, in words, for the sender's error and the flagship's log. */
  rule: string;
}

/** One message from a ship, as the policy sees it. */
export interface Asked {
  /** Whether it is for the flagship (else another ship). */
  toFlagship: boolean;
  /**
   * Whether it is for a ship made `--trusted`: that ship holds a registered key, so a command
   * there could hand the key over; it is judged as a command to the flagship is.
   */
  toTrusted?: boolean;
  /** A command or a note. */
  kind: MessageKind;
  /** Its text. */
  command: string;
}

// The fleet's own verbs and the provider's API: what a ship must never get the flagship to do,
// with its key. A net for the plain cases; holding every other command is the real guard. Each
// pattern is tried on a bounded window, so a megabyte of text costs linear time.
const PROVIDER_API = /\bexe\.dev\b|\bssh-key\b/;
const FLEET_VERB = /\b(?:init|ship\s+(?:create|destroy)|fleet\s+(?:sink|_call)|_fleet)\b/;
const VERB_WINDOW = 300;
const MAX_MENTIONS = 100;

/**
 * Whether a command reads as a fleet command: `ohcommodore` followed closely by a fleet verb, or
 * the provider's API.
 *
 * @param command The command.
 * @returns True when it does (or names ohcommodore so often that it is not worth reading).
 */
export function isFleetCommand(command: string): boolean {
  if (PROVIDER_API.test(command)) return true;
  let mentions = 0;
  for (
    let at = command.indexOf("ohcommodore");
    at >= 0;
    at = command.indexOf("ohcommodore", at + 1)
  ) {
    if (++mentions > MAX_MENTIONS) return true;
    if (FLEET_VERB.test(command.slice(at + "ohcommodore".length, at + VERB_WINDOW))) return true;
  }
  return false;
}

/**
 * Decides what becomes of a ship's message.
 *
 * @param policy The flagship's policy.
 * @param asked The message.
 * @returns The action and its rule.
 */
export function decide(policy: Policy, asked: Asked): Decision {
  if (asked.kind === "note") {
    return policy.notes
      ? { action: "run", rule: "notes from ships are accepted" }
      : { action: "refuse", rule: 'policy "notes": false' };
  }
  if (!asked.toFlagship && !asked.toTrusted) {
    return { action: policy.shipToShip, rule: `policy "shipToShip": "${policy.shipToShip}"` };
  }
  if (isFleetCommand(asked.command)) {
    return {
      action: "refuse",
      rule: "fleet commands (init, ship create/destroy, fleet sink, the provider's API) are " +
        "never accepted from a ship",
    };
  }
  const allowed = policy.allow.find((pattern) =>
    new RegExp(`^(?:${pattern})$`).test(asked.command)
  );
  if (allowed !== undefined) {
    return { action: "run", rule: `policy "allow" entry ${JSON.stringify(allowed)}` };
  }
  const where = asked.toFlagship ? "" : ", which applies to trusted ships (they hold a key)";
  return {
    action: policy.shipToFlagship,
    rule: `policy "shipToFlagship": "${policy.shipToFlagship}"${where} (no "allow" entry matched)`,
  };
}

/**
 * The path of the flagship's policy file.
 *
 * @param home The flagship's home.
 * @returns The path.
 */
export function policyPath(home?: string): string {
  return join(memberPaths(home).configDir, "policy.json");
}

/**
 * Reads the flagship's policy: the defaults, with what `policy.json` sets.
 *
 * @param home The flagship's home.
 * @returns The policy.
 * @throws {OhcommodoreError} When the file is there but wrong: its path and what to fix.
 */
export async function readPolicy(home?: string): Promise<Policy> {
  const path = policyPath(home);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { ...DEFAULT_POLICY };
    throw error;
  }
  const wrong = (what: string) => new OhcommodoreError(`The policy "${path}" is wrong: ${what}`);
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text);
  } catch {
    throw wrong("it is not valid JSON");
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw wrong("it must be a JSON object");
  }
  const known = new Set(Object.keys(DEFAULT_POLICY));
  const unknown = Object.keys(data).find((key) => !known.has(key));
  if (unknown) throw wrong(`"${unknown}" is not a setting (${[...known].join(", ")})`);
  const policy: Policy = { ...DEFAULT_POLICY, ...data } as Policy;
  for (const key of ["shipToShip", "shipToFlagship"] as const) {
    if (!["run", "hold", "refuse"].includes(policy[key])) {
      throw wrong(`"${key}" must be "run", "hold" or "refuse"`);
    }
  }
  if (!Array.isArray(policy.allow) || policy.allow.some((entry) => typeof entry !== "string")) {
    throw wrong(`"allow" must be a list of regular expressions`);
  }
  for (const entry of policy.allow) {
    try {
      new RegExp(entry);
    } catch (error) {
      throw wrong(`"allow" entry ${JSON.stringify(entry)}: ${(error as Error).message}`);
    }
  }
  if (typeof policy.notes !== "boolean") throw wrong(`"notes" must be true or false`);
  const poll = policy.pollIntervalSec;
  if (typeof poll !== "number" || !Number.isInteger(poll) || poll < 1 || poll > 3600) {
    throw wrong(`"pollIntervalSec" must be a whole number of seconds from 1 to 3600`);
  }
  return policy;
}
