/**
 * Sending from a keyless ship: it holds no key that opens another VM, so every message goes to
 * its flagship, which relays it. The message goes into the ship's outbox first; then, when the
 * flagship's channel answers on the ship, it is handed over at once (and waited for, when
 * asked); when it does not, it waits in the outbox, and the flagship takes it when the channel
 * is back or at its next collection.
 *
 * @module
 */

import { WAIT_MARGIN_MS } from "../duration.ts";
import {
  DeliveryRefusedError,
  ServerConnectionError,
  TimeoutError,
  UsageError,
} from "../errors.ts";
import type { Message, QueuedMessage } from "../inbox/message.ts";
import type { DeliverRequest } from "../inbox/exec_delivery.ts";
import { ServerConnection } from "../inbox/server_connection.ts";
import { MAX_REMOTE_REPLY_BYTES } from "../inbox/server_protocol.ts";
import { type ChannelState, shipChannelSocket, shipChannelStateFile } from "./channel_paths.ts";
import { Outbox } from "./outbox.ts";
import { sleep } from "../timer.ts";

/** Options for {@link relaySend}. */
export interface RelaySendOptions {
  /**
   * The ship's home.
   *
   * @default {Deno.env.get("HOME")}
   */
  home?: string;
  /** Told when the message waits in the outbox because the channel does not answer now. */
  onQueued?: (reason: string) => void;
  /** Stops the wait (the message stays in the outbox, or delivered). */
  signal?: AbortSignal;
}

// How often a sender that waits looks for the channel again.
const RETRY_MS = 1000;

/**
 * Sends a message through the flagship.
 *
 * @param request The delivery (its sender is the ship's address; the flagship stamps it so).
 * @param options The ship's home, and what to tell when it is queued.
 * @returns The message as the recipient stored it (or finished, with `waitMs`); a message
 *   left in the outbox for later comes back `queued`.
 * @throws {DeliveryRefusedError} When the flagship refused it, naming the rule.
 * @throws {UsageError} When waiting is asked of a ship whose flagship only collects (no forwards).
 */
export async function relaySend(
  request: DeliverRequest,
  options: RelaySendOptions = {},
): Promise<Message | QueuedMessage> {
  const home = options.home;
  const state = await readChannelState(home);
  if (request.waitMs !== undefined && state?.mode === "poll") {
    throw new UsageError(
      `This ship's flagship collects its outbox every ${state.pollSec}s (its provider passes no ` +
        `forwards), so nothing can wait here for the answer`,
      {
        next: `send without --wait, and have the command report back with ` +
          `"ohcommodore inbox send --note"`,
      },
    );
  }
  const outbox = new Outbox(home);
  const { version: _, waitMs, viaDestination: __, ...delivery } = request;
  await outbox.put({
    id: request.id,
    recipient: request.recipient,
    command: request.command,
    timeoutMs: request.timeoutMs,
    ...(request.kind ? { kind: request.kind } : {}),
    queuedAt: new Date().toISOString(),
  });
  const deadline = waitMs === undefined ? undefined : Date.now() + waitMs;
  // Once the flagship took it, it is delivered, whatever happens to the channel after: a later
  // look only waits for its end, and nothing says it waits in the outbox.
  let delivered: Message | undefined;
  let told = false;
  for (;;) {
    options.signal?.throwIfAborted();
    let why = "no channel to the flagship answers now";
    const channel = await ServerConnection.connect(
      shipChannelSocket(home),
      "the flagship",
      MAX_REMOTE_REPLY_BYTES,
    );
    if (channel) {
      try {
        const taken = delivered ?? await handOver(channel, delivery, outbox, options.signal);
        if (typeof taken === "string") {
          why = taken;
        } else {
          delivered = taken;
          if (deadline === undefined) return taken;
          const left = Math.max(1, deadline - Date.now());
          return await channel.call("relayWait", {
            id: taken.id,
            recipient: request.recipient,
            timeoutMs: left,
          }, { timeoutMs: left + WAIT_MARGIN_MS, signal: options.signal });
        }
      } catch (error) {
        // The channel broke while waiting: look again (a repeat is stored once).
        if (!(error instanceof ServerConnectionError)) throw error;
        why = "the channel to the flagship broke";
      } finally {
        channel.close();
      }
    }
    if (!told) {
      told = true;
      options.onQueued?.(
        delivered
          ? `${why} while waiting for ${request.id}, which ${request.recipient} has; ` +
            `waiting for the channel to come back`
          : `${why}; ${request.id} waits in the outbox and the flagship delivers it once it can` +
            (state?.mode === "poll" ? ` (it collects every ${state.pollSec}s)` : ""),
      );
    }
    if (deadline === undefined) return queued(request);
    if (Date.now() >= deadline) {
      throw new TimeoutError(
        delivered
          ? `Gave up waiting for ${request.id} (${why}): ${request.recipient} has it`
          : `Gave up waiting (${why}); ${request.id} waits in the outbox and the flagship ` +
            `delivers it once it can`,
        {
          messageId: request.id,
          status: delivered ? delivered.status : "queued",
          next: delivered
            ? `"ohcommodore inbox show ${request.id}" there tells how it ended`
            : `see it with "ohcommodore inbox outbox"`,
        },
      );
    }
    await sleep(RETRY_MS, options.signal);
  }
}

// Hands a message to the relay: the message as stored, or why it stays in the outbox for now.
async function handOver(
  channel: ServerConnection,
  delivery: Omit<DeliverRequest, "version" | "waitMs" | "viaDestination">,
  outbox: Outbox,
  signal?: AbortSignal,
): Promise<Message | string> {
  try {
    const message = await channel.call("relay", delivery, { signal });
    await outbox.remove(delivery.id);
    return message;
  } catch (error) {
    if (error instanceof DeliveryRefusedError) {
      await outbox.refuse(delivery.id, error.message);
      throw error;
    }
    if (signal?.aborted) throw error;
    // The recipient unreachable, the channel broken: the flagship tries again when it collects.
    return error instanceof ServerConnectionError
      ? "the channel to the flagship broke"
      : `the flagship could not deliver it yet: ${(error as Error).message}`;
  }
}

/**
 * What the flagship last recorded about this ship's channel, if anything.
 *
 * @param home The ship's home.
 * @returns The state, or undefined.
 */
export async function readChannelState(home?: string): Promise<ChannelState | undefined> {
  try {
    const state = JSON.parse(await Deno.readTextFile(shipChannelStateFile(home)));
    return state?.mode === "forward" || state?.mode === "poll" ? state : undefined;
  } catch {
    return undefined;
  }
}

function queued(request: DeliverRequest): QueuedMessage {
  return {
    id: request.id,
    createdAt: new Date().toISOString(),
    sender: request.sender,
    recipient: request.recipient,
    command: request.command,
    result: null,
    stderr: null,
    error: null,
    startedAt: null,
    finishedAt: null,
    timeoutSec: Math.max(1, Math.ceil(request.timeoutMs / 1000)),
    exitCode: null,
    status: "queued",
  };
}
