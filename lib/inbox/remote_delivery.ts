/**
 * Delivering to another member: through its inbox server where a socket forward on the shared
 * connection reaches it (on the one connection this process keeps to that member), else by
 * running its program over exec. Either way the sender chose the message's id: a delivery whose
 * connection broke is sent again with that id (the recipient stores it once), and an answer
 * still lost is settled by looking the message up by that id.
 *
 * @module
 */

import { firstLine } from "../clip.ts";
import { transportFor } from "../transport.ts";
import { WAIT_MARGIN_MS } from "../duration.ts";
import {
  DeliveryRefusedError,
  NotFoundError,
  OhcommodoreError,
  RemoteCommandError,
  ServerConnectionError,
  SshError,
  TimeoutError,
} from "../errors.ts";
import { registerErrorClass } from "../error_data.ts";
import { REMOTE_PROGRAM } from "../paths.ts";
import type { Ssh } from "../ssh.ts";
import { type DeliverReply, type DeliverRequest, unwrapReply } from "./exec_delivery.ts";
import { isFinished, type Message, type MessageStatus } from "./message.ts";
import { RemoteInbox } from "./remote_inbox.ts";
import { type MemberServer, reachMember } from "./member_connections.ts";
import { unlessUnreachable } from "./tunnel.ts";

/**
 * Delivers a request to the member at a destination: through its inbox server where a forward
 * reaches it, else by running its program over exec. A delivery whose connection broke is sent
 * again with its id (stored once); an answer still lost is settled by looking the message up.
 *
 * @param destination The SSH destination (or a sandbox's home).
 * @param request The delivery, its sender already set.
 * @param ssh The ssh client.
 * @param signal Stops the delivery.
 * @returns The message as stored, or as finished when the request waits.
 */
export async function deliverOverSsh(
  destination: string,
  request: DeliverRequest,
  ssh: Ssh,
  signal?: AbortSignal,
): Promise<Message> {
  const server = await reachMember(destination, ssh, request.recipient)
    .catch(unlessUnreachable);
  if (server) {
    try {
      return await deliverToServer(server, request, signal);
    } catch (error) {
      if (!(error instanceof ServerConnectionError)) throw error;
      // The forward broke part way, again: the id says what happened, as for a lost exec answer.
      return await lookUp(destination, request, ssh, error, error.message);
    }
  }
  return await deliverOverExec(destination, request, ssh, signal);
}

// Delivers through the recipient's inbox server, and waits there when asked. Both are safe to
// ask again when the connection breaks: the delivery carries its id, and waiting only reads.
async function deliverToServer(
  server: MemberServer,
  request: DeliverRequest,
  signal?: AbortSignal,
): Promise<Message> {
  const { waitMs, version: _, ...delivery } = request;
  const message = await server.call("deliver", delivery, { signal, retry: "idempotent" });
  if (waitMs === undefined) return message;
  return await server.call("wait", { id: message.id, timeoutMs: waitMs }, {
    timeoutMs: waitMs + WAIT_MARGIN_MS,
    signal,
    retry: "idempotent",
  });
}

async function deliverOverExec(
  destination: string,
  request: DeliverRequest,
  ssh: Ssh,
  signal?: AbortSignal,
): Promise<Message> {
  // The request carries its id, so the recipient stores a repeated delivery once: retrying
  // after any ssh failure is safe.
  let result;
  try {
    result = await transportFor(destination, ssh).run([REMOTE_PROGRAM, "inbox", "_deliver"], {
      stdin: JSON.stringify(request),
      timeoutMs: (request.waitMs ?? 0) + WAIT_MARGIN_MS,
      retry: "idempotent",
      signal,
    });
  } catch (error) {
    // Failed before the program started: nothing was delivered. Otherwise it may have been.
    if (signal?.aborted || (error instanceof SshError && error.beforeCommand)) throw error;
    if (!(error instanceof SshError || error instanceof TimeoutError)) throw error;
    return await lookUp(destination, request, ssh, error, error.message);
  }
  let reply: DeliverReply;
  try {
    reply = JSON.parse(result.stdout);
  } catch {
    const tail = result.stderr.trim().split("\n").slice(-3).join("\n");
    const hint = result.code === 127
      ? `ohcommodore is not installed at ${REMOTE_PROGRAM} there`
      : result.code > 128
      ? `the connection ended without an answer (exit code ${result.code}: killed by signal ` +
        `${result.code - 128})`
      : `it answered with exit code ${result.code}`;
    const error = new RemoteCommandError(
      destination,
      result.code,
      tail,
      `Cannot deliver to ${request.recipient} via "${destination}": ${hint}` +
        (tail ? `\n${tail}` : ""),
    );
    if (result.code === 127) throw error;
    // The program may have stored the message, even run it, before the answer was lost (the
    // sender's ssh killed): the id says what happened, and resending could run it twice.
    return await lookUp(destination, request, ssh, error, hint);
  }
  if (!reply || typeof reply !== "object" || !("ok" in reply)) {
    throw new DeliveryRefusedError(`"${destination}" answered the delivery with an unknown reply`);
  }
  return unwrapReply(reply);
}

/**
 * After a delivery whose answer was lost: asks the recipient for the message by its id (a
 * read, safe to repeat) and returns it when that settles what the sender asked for.
 */
async function lookUp(
  destination: string,
  request: DeliverRequest,
  ssh: Ssh,
  lost: Error,
  reason: string,
): Promise<Message> {
  let found: Message | null;
  try {
    found = await new RemoteInbox(request.recipient, destination, ssh).get(request.id);
  } catch (error) {
    if (!(error instanceof NotFoundError)) {
      throw new DeliveryInterruptedError(request, destination, null, lost, reason, error as Error);
    }
    found = null;
  }
  if (found && (request.waitMs === undefined || isFinished(found))) return found;
  throw new DeliveryInterruptedError(request, destination, found, lost, reason);
}

/**
 * The connection to a recipient broke before its answer to a delivery arrived (the sender's
 * ssh was killed, the connection dropped), and the sender looked the message up by its id:
 * `status` says what it found. A message that is there was delivered: never send it again (it
 * would run twice); wait for it instead. One that is not there was not delivered.
 *
 * @example Tell a lost answer from a failed delivery
 * ```ts
 * import { DeliveryInterruptedError, send } from "@smithclay/ohcommodore";
 * await send("captain@ship-web-k3f9a1b2", "make deploy", { wait: true }).catch((error) => {
 *   if (!(error instanceof DeliveryInterruptedError)) throw error;
 *   if (error.status === "not delivered") console.error("safe to send again");
 *   else console.error(`${error.messageId} is ${error.status}: wait for it, do not resend`);
 * });
 * ```
 */
export class DeliveryInterruptedError extends OhcommodoreError {
  /** The message's id (the sender chose it). */
  readonly messageId: string;
  /** The recipient's address. */
  readonly recipient: string;
  /**
   * What the look-up found: the message's status (it was delivered), `not delivered`, or
   * `unknown` when the look-up failed too.
   */
  readonly status: MessageStatus | "not delivered" | "unknown";
  /** The message as the look-up found it, or null. */
  readonly found: Message | null;

  /**
   * Creates the error.
   *
   * @param request The delivery.
   * @param destination Where it went.
   * @param found The message as found, or null.
   * @param lost How the answer was lost (the cause).
   * @param reason The same in a few words, e.g. "exit code 137: killed by signal 9".
   * @param lookUpError Why the look-up failed, when it did.
   */
  constructor(
    request: { id: string; recipient: string },
    destination: string,
    found: Message | null,
    lost: Error,
    reason: string,
    lookUpError?: Error,
  ) {
    const id = request.id;
    const to = `${request.recipient} via "${destination}"`;
    const status = found?.status ?? (lookUpError ? "unknown" : "not delivered");
    const why = firstLine(reason);
    super(
      status === "unknown"
        ? `The answer to the delivery of message "${id}" to ${to} was lost (${why}), and looking ` +
          `it up failed too (${lookUpError?.message}): it may have been delivered`
        : status === "not delivered"
        ? `${firstLine(lost.message)}; message "${id}" is not in that inbox, so it was not ` +
          `delivered: sending it again is safe`
        : `The connection to ${to} broke before its answer arrived (${why}), but message "${id}" ` +
          `was delivered and is ${status}${status === "pending" ? " (taken by hand)" : ""}: do ` +
          `not send it again`,
      {
        cause: lost,
        next: status === "unknown"
          ? `check with "ohcommodore inbox show ${id}" there before sending it again`
          : status === "not delivered"
          ? undefined
          : `wait for it there with "ohcommodore inbox wait ${id}"`,
      },
    );
    this.messageId = id;
    this.recipient = request.recipient;
    this.status = status;
    this.found = found;
  }
}

// It crosses from the flagship to the laptop as data and comes back as itself.
registerErrorClass(DeliveryInterruptedError);
