/**
 * Held commands on the flagship, handled from a view: approve one (it runs in its turn) or
 * delete it. On the flagship its own inbox does it, as `ohcommodore inbox approve` there does;
 * elsewhere the flagship's inbox server, through the shared connection's forward, else its
 * program over exec (`inbox approve|delete --json`): the same operation either way.
 *
 * @module
 */

import { RemoteCommandError, UsageError } from "../errors.ts";
import { errorFromData, isErrorData } from "../error_data.ts";
import type { Fleet } from "../fleet/fleet.ts";
import { Inbox } from "../inbox/inbox.ts";
import { reachMember } from "../inbox/member_connections.ts";
import { type Message, parseMessageId } from "../inbox/message.ts";
import { ensureScheduler } from "../inbox/scheduler_service.ts";
import { unlessUnreachable } from "../inbox/tunnel.ts";
import { REMOTE_PROGRAM } from "../paths.ts";
import { lastLine } from "../process.ts";
import { Ssh } from "../ssh.ts";
import { transportFor } from "../transport.ts";

const CALL_MS = 60_000;

/**
 * Lets a held command on the flagship run: it becomes `unread` and runs in its turn.
 *
 * @example Approve every held command that only echoes
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * import { approveHeld } from "./held_messages.ts";
 * await using fleet = await Fleet.open();
 * for (const message of await fleet.flagship.inbox.list({ status: "held" })) {
 *   if (message.command.startsWith("echo ")) await approveHeld(fleet, message.id);
 * }
 * ```
 *
 * @param fleet The fleet.
 * @param id The message's id.
 * @returns The message, approved.
 * @throws {UsageError} When it is not held.
 * @throws {NotFoundError} When the flagship has no such message.
 */
export async function approveHeld(fleet: Fleet, id: string): Promise<Message> {
  return await onFlagship(fleet, "approve", parseMessageId(id));
}

/**
 * Deletes a held command on the flagship, unrun.
 *
 * @example Delete a held command
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * import { deleteHeld } from "./held_messages.ts";
 * await using fleet = await Fleet.open();
 * await deleteHeld(fleet, "3f9a07c2b1d4e856");
 * ```
 *
 * @param fleet The fleet.
 * @param id The message's id.
 * @returns The message as it was.
 * @throws {UsageError} When it is not held (a view deletes nothing else).
 * @throws {NotFoundError} When the flagship has no such message.
 */
export async function deleteHeld(fleet: Fleet, id: string): Promise<Message> {
  const exact = parseMessageId(id);
  const message = await fleet.flagship.inbox.get(exact);
  if (message.status !== "held") {
    throw new UsageError(
      `Message "${message.id}" is ${message.status}, not held: only a held message is deleted here`,
    );
  }
  return await onFlagship(fleet, "delete", message.id);
}

async function onFlagship(fleet: Fleet, op: "approve" | "delete", id: string): Promise<Message> {
  if (fleet.onFlagship) {
    const inbox = await Inbox.open({ home: fleet.home });
    if (op === "delete") return await inbox.delete(id);
    const approved = await inbox.approve(id);
    await ensureScheduler(inbox, approved);
    return approved;
  }
  const { destination, address } = fleet.flagship;
  const ssh = new Ssh();
  const server = await reachMember(destination, ssh, address).catch(unlessUnreachable);
  if (server) return await server.call(op, { id }, { timeoutMs: CALL_MS });
  // Where forwards are refused: the flagship's own program, as a person there would run it.
  const result = await transportFor(destination, ssh).run(
    [REMOTE_PROGRAM, "inbox", op, "--json", "--", id],
    { timeoutMs: CALL_MS, retry: "connect" },
  );
  let answer: unknown;
  try {
    answer = JSON.parse(result.stdout);
  } catch {
    throw new RemoteCommandError(
      destination,
      result.code,
      lastLine(result.stderr),
      `The flagship's inbox did not answer "inbox ${op}" (exit ${result.code})`,
    );
  }
  const error = (answer as { error?: unknown } | null)?.error;
  if (isErrorData(error)) throw errorFromData(error);
  return answer as Message;
}
