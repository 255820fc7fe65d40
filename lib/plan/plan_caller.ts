/**
 * How a client reaches the flagship's plan driver: its inbox server's `plan` operation, through
 * the forwarded socket of the shared connection (or directly, on the flagship and for a local
 * fleet); where forwards are refused, the flagship's own program (`ohcommodore plan _call`)
 * over exec, which asks the server there and prints the events and the answer as JSON lines.
 *
 * @module
 */

import { FlagshipError } from "../errors.ts";
import { errorFromData, isErrorData } from "../error_data.ts";
import { lineSplitter } from "../lines.ts";
import { REMOTE_PROGRAM } from "../paths.ts";
import type { Ssh } from "../ssh.ts";
import { transportFor } from "../transport.ts";
import { reachMember } from "../inbox/member_connections.ts";
import { unlessUnreachable } from "../inbox/tunnel.ts";
import type { PlanCall } from "./plan_calls.ts";
import type { PlanEvent } from "./plan_types.ts";

/** Options for one call. */
export interface PlanCallOptions {
  /** Told each event, for `follow`. */
  onEvent?: (event: PlanEvent) => void;
  /** Stops the call (the plan goes on). */
  signal?: AbortSignal;
  /** Gives up after this long. */
  timeoutMs?: number;
}

/** Asks the flagship's plan driver. */
export type PlanCaller = (call: PlanCall, options?: PlanCallOptions) => Promise<unknown>;

// Calls that are not follows answer within this long.
const CALL_TIMEOUT_MS = 60_000;
// A follow lasts as long as its plan.
const FOLLOW_TIMEOUT_MS = 30 * 24 * 3_600_000;

/**
 * A caller for the flagship at a destination.
 *
 * @param flagship Its SSH destination, or a sandbox's home, and its address.
 * @param ssh The ssh client.
 * @returns The caller.
 */
export function planCaller(
  flagship: { destination: string; address: string },
  ssh: Ssh,
): PlanCaller {
  return async (call, options = {}) => {
    const timeoutMs = options.timeoutMs ??
      (call.method === "follow" ? FOLLOW_TIMEOUT_MS : CALL_TIMEOUT_MS);
    const server = await reachMember(flagship.destination, ssh, flagship.address)
      .catch(unlessUnreachable);
    if (server) {
      return await server.call("plan", { call }, {
        onEvent: options.onEvent as (event: unknown) => void,
        signal: options.signal,
        timeoutMs,
        // Reads (a follow too: events carry their place) may be asked again; a run or a cancel
        // only when it was surely not sent.
        retry: call.method === "run" || call.method === "cancel" ? "connect" : "idempotent",
      });
    }
    return await overExec(flagship.destination, ssh, call, { ...options, timeoutMs });
  };
}

async function overExec(
  destination: string,
  ssh: Ssh,
  call: PlanCall,
  options: PlanCallOptions & { timeoutMs: number },
): Promise<unknown> {
  let answer: { result: unknown } | { error: unknown } | undefined;
  const lines = lineSplitter((line) => {
    let parsed;
    try {
      parsed = JSON.parse(line);
    } catch {
      return; // not ours: a login script's echo
    }
    if (parsed && "event" in parsed) options.onEvent?.(parsed.event);
    else if (parsed && ("result" in parsed || "error" in parsed)) answer = parsed;
  });
  const result = await transportFor(destination, ssh).run([REMOTE_PROGRAM, "plan", "_call"], {
    stdin: JSON.stringify({ call }),
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    retry: call.method === "run" || call.method === "cancel" ? "connect" : "idempotent",
    onStdout: (text) => lines.push(text),
  });
  lines.end();
  if (answer && "result" in answer) return answer.result;
  if (answer && isErrorData(answer.error)) throw errorFromData(answer.error);
  throw new FlagshipError(destination, `plan ${call.method}`, result.code, result.stderr);
}
