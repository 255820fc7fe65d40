/**
 * Delivery over exec, for where no socket forward reaches the recipient's inbox server (see
 * `server_protocol.ts` for that one): the sender runs the recipient's own program over ssh
 * (`ohcommodore inbox _deliver`) with one JSON request on stdin; the recipient validates it,
 * stores it with parameters, optionally waits for the scheduler, and answers with one JSON reply
 * on stdout. Nothing the user typed ever passes through a shell.
 *
 * @module
 */

import { DeliveryRefusedError } from "../errors.ts";
import { type ErrorData, errorFromData, errorToData } from "../error_data.ts";
// Also registers NoSchedulerError, so it comes back from a reply as itself.
import { Inbox, type InboxOptions } from "./inbox.ts";
import type { Message, MessageKind, SenderQuota } from "./message.ts";
// Also registers SchedulerNotStartedError.
import { ensureScheduler } from "./scheduler_service.ts";

/** The protocol version; a recipient refuses requests from another one. */
export const PROTOCOL_VERSION = 1;

/** What the sender puts on stdin. */
export interface DeliverRequest {
  /** Protocol version. */
  version: number;
  /** Message id chosen by the sender. */
  id: string;
  /** The sender's address. */
  sender: string;
  /** The address as the sender typed it. */
  recipient: string;
  /** Whether the host part reached us as an SSH destination or alias rather than by name. */
  viaDestination: boolean;
  /** The command. */
  command: string;
  /** Command timeout. */
  timeoutMs: number;
  /** `note` for text to keep, never run; absent for a command. */
  kind?: MessageKind;
  /** Store the command held until a person approves it. */
  hold?: boolean;
  /** Refuse it when its sender has this much waiting there already. */
  quota?: SenderQuota;
  /** Wait this long for the command to finish; absent means do not wait. */
  waitMs?: number;
}

/** What the recipient prints on stdout. */
export type DeliverReply =
  | { ok: true; message: Message }
  | { ok: false; error: Pick<ErrorData, "name" | "message"> & Partial<ErrorData> };

/**
 * The recipient's side: handles one request and never throws. Starts the member's scheduler
 * when none runs (see {@link ensureScheduler}).
 *
 * @param input The request text from stdin.
 * @param options Which inbox (defaults to the current user's).
 * @returns The reply to print.
 */
export async function receiveDelivery(
  input: string,
  options: InboxOptions = {},
): Promise<DeliverReply> {
  try {
    const request = parseRequest(input);
    const inbox = await Inbox.open(options);
    const message = await inbox.deliver(request);
    // Stored: from here on, a failure must name the message (the sender must not resend it).
    await ensureScheduler(inbox, message);
    if (request.waitMs === undefined) return { ok: true, message };
    return { ok: true, message: await inbox.waitFor(message.id, { timeoutMs: request.waitMs }) };
  } catch (error) {
    return { ok: false, error: errorToData(error) };
  }
}

/**
 * The sender's side: turns a reply into the message or the error it carries.
 *
 * @param reply The parsed reply.
 * @returns The message.
 * @throws {OhcommodoreError} The recipient's error, as the closest local type.
 */
export function unwrapReply(reply: DeliverReply): Message {
  if (reply.ok) return reply.message;
  // Older members sent only the name and message; the fields ride along where they exist.
  throw errorFromData({ exitCode: 1, fields: {}, ...reply.error });
}

function parseRequest(input: string): DeliverRequest {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(input);
  } catch {
    throw new DeliveryRefusedError("Refused a delivery that is not valid JSON");
  }
  if (typeof data !== "object" || data === null) {
    throw new DeliveryRefusedError("Refused a delivery that is not a JSON object");
  }
  if (data.version !== PROTOCOL_VERSION) {
    throw new DeliveryRefusedError(
      `Refused a delivery of protocol version ${data.version}; this member speaks ` +
        `${PROTOCOL_VERSION}: upgrade ohcommodore on both ends`,
    );
  }
  for (const key of ["id", "sender", "recipient", "command"] as const) {
    if (typeof data[key] !== "string") {
      throw new DeliveryRefusedError(`Refused a delivery without a "${key}" string`);
    }
  }
  const waitMs = data.waitMs === undefined ? undefined : Number(data.waitMs);
  return {
    version: PROTOCOL_VERSION,
    id: data.id as string,
    sender: data.sender as string,
    recipient: data.recipient as string,
    viaDestination: data.viaDestination === true,
    command: data.command as string,
    timeoutMs: Number(data.timeoutMs),
    // Passed on as they came: the inbox checks them.
    ...(data.kind === undefined ? {} : { kind: data.kind as MessageKind }),
    ...(data.hold === undefined ? {} : { hold: data.hold as boolean }),
    // The relay's limit on what its ship may have waiting here: dropping it here would let a
    // ship past it wherever delivery goes over exec.
    ...(data.quota === undefined ? {} : { quota: data.quota as SenderQuota }),
    ...(waitMs === undefined ? {} : { waitMs }),
  };
}
