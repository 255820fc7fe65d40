/**
 * One question to a member's inbox server where a forward reaches it, for callers that have an
 * exec path besides (a `cat`, a program start): the answer, or undefined to take that path.
 * Questions ride a kept connection per member and answer size (member_connections.ts), so a
 * process that asks again (the flagship's scheduler, for every `fleet status`) opens nothing.
 *
 * @module
 */

import { ServerConnectionError } from "../errors.ts";
import type { Ssh } from "../ssh.ts";
import type { OperationName, ServerOperations } from "./server_protocol.ts";
import { reachMember } from "./member_connections.ts";
import { unlessUnreachable } from "./tunnel.ts";

/**
 * Asks a member's server one thing.
 *
 * @param member Its SSH destination (or a sandbox's home) and its address.
 * @param ssh The ssh client whose shared connection carries the forward.
 * @param op The operation.
 * @param args Its arguments.
 * @param limits How long the answer may take, and the longest answer believed.
 * @returns `{ value }`, or undefined when no forward reaches the server, it does not run (it is
 *   not started for this), its version has no such operation, or the connection broke (a read:
 *   the caller asks over exec instead).
 * @throws {OhcommodoreError} What the server answered as an error.
 */
export async function askMember<K extends OperationName>(
  member: { destination: string; address: string },
  ssh: Ssh,
  op: K,
  args: ServerOperations[K]["args"],
  limits: { timeoutMs: number; maxReplyBytes: number },
): Promise<{ value: ServerOperations[K]["value"] } | undefined> {
  // A reader: a server that was stopped stays stopped. Its connection is kept apart from
  // deliveries', one per answer size, so what a member may answer is held to this question's.
  const server = await reachMember(member.destination, ssh, member.address, {
    start: false,
    maxReplyBytes: limits.maxReplyBytes,
  }).catch(unlessUnreachable);
  if (!server) return undefined;
  try {
    return {
      value: await server.call(op, args, { timeoutMs: limits.timeoutMs, retry: "idempotent" }),
    };
  } catch (error) {
    if (error instanceof ServerConnectionError || isUnknownOperation(error)) return undefined;
    throw error;
  }
}

// A server of an older version, which lacks the operation.
function isUnknownOperation(error: unknown): boolean {
  return error instanceof Error && /^Unknown inbox operation/.test(error.message);
}
