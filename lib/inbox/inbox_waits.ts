/**
 * Waiting on an inbox: until a message finishes (`wait`, `follow`), or for the next message to
 * arrive (`next`). The scheduler answers when it runs; without one, the file is looked at, and
 * looked at again when a scheduler goes away mid-wait.
 *
 * @module
 */

import { parseAddress } from "../address.ts";
import { checkDurationMs, WAIT_MARGIN_MS } from "../duration.ts";
import { ServerConnectionError, TimeoutError } from "../errors.ts";
import { sleep } from "../timer.ts";
import type { InboxAccess } from "./inbox_access.ts";
import {
  type FinishedMessage,
  isFinished,
  type Message,
  noteNeverFinishes,
  parseMessageId,
} from "./message.ts";
import { nowMicros } from "./message_rows.ts";
import { NoSchedulerError } from "./no_scheduler_error.ts";
import type { CallOptions } from "./server_connection.ts";
import type { ServerOperations } from "./server_protocol.ts";

/** How long {@link Inbox.next} waits unless told: 10 minutes. */
export const DEFAULT_NEXT_WAIT_MS = 10 * 60_000;

// Without a scheduler, next() looks this often.
const NEXT_POLL_MS = 500;

/**
 * Waits until a message finishes (`wait`, or `follow` with its events): the scheduler answers
 * when it does; without one, a finished message is its own answer and an open one has nothing
 * to finish it.
 *
 * @param reach The inbox.
 * @param op `wait` or `follow`.
 * @param args The operation's arguments (the message's id, parsed).
 * @param timeoutMs How long the scheduler waits, if not the message's own timeout.
 * @param options Events and a signal, for the call to the scheduler.
 * @param onStored Told a message found finished in the file (not by the scheduler).
 * @returns The finished message.
 * @throws {NoSchedulerError} When it has not finished and no scheduler runs to finish it.
 */
export async function untilFinished<K extends "wait" | "follow">(
  reach: InboxAccess,
  op: K,
  args: ServerOperations[K]["args"],
  timeoutMs: number | undefined,
  options: CallOptions<ServerOperations[K]["event"]> = {},
  onStored: (message: FinishedMessage) => void = () => {},
): Promise<FinishedMessage> {
  const server = await reach.connect();
  if (server) {
    try {
      // The scheduler applies the message's own timeout when none is given; a day of margin.
      const limit = (timeoutMs ?? 24 * 3_600_000) + WAIT_MARGIN_MS;
      return await server.call(op, args, { ...options, timeoutMs: limit });
    } catch (error) {
      if (!(error instanceof ServerConnectionError)) throw error;
      // The scheduler went away mid-wait: say what the message is now.
    } finally {
      server.close();
    }
  }
  const message: Message = await reach.simple("get", { id: parseMessageId(args.id) });
  if (message.status === "note") throw noteNeverFinishes(message.id);
  if (!isFinished(message)) throw new NoSchedulerError(reach.address, message);
  onStored(message);
  return message;
}

/**
 * Waits for the next message to arrive after the call, optionally from one sender.
 *
 * @param reach The inbox.
 * @param options `from`: the sender's address; `timeoutMs`: how long to wait (default
 *   {@link DEFAULT_NEXT_WAIT_MS}, at most `MAX_DURATION_MS`).
 * @returns The message.
 * @throws {UsageError} When `timeoutMs` is not above zero, or too long.
 * @throws {TimeoutError} When none arrives in time.
 */
export async function nextArrival(
  reach: InboxAccess,
  options: { from?: string; timeoutMs?: number },
): Promise<Message> {
  const since = nowMicros();
  if (options.from !== undefined) parseAddress(options.from);
  if (options.timeoutMs !== undefined) checkDurationMs(options.timeoutMs, "timeoutMs");
  const timeoutMs = options.timeoutMs ?? DEFAULT_NEXT_WAIT_MS;
  const deadline = Date.now() + timeoutMs;
  // Without a scheduler nothing else writes, so looking now and again later sees every
  // arrival; what was there in the call's first millisecond does not count.
  let before: Set<string> | undefined;
  let askedServer = false;
  for (;;) {
    const server = await reach.connect();
    if (server) {
      askedServer = true;
      try {
        const left = Math.max(1, deadline - Date.now());
        return await server.call("next", { from: options.from, timeoutMs: left }, {
          timeoutMs: left + WAIT_MARGIN_MS,
        });
      } catch (error) {
        if (!(error instanceof ServerConnectionError)) throw error;
      } finally {
        server.close();
      }
    }
    const arrived = await reach.direct((store) => store.arrivedSince(since, options.from));
    if (arrived === undefined) continue; // a scheduler started: ask it
    // Only a first look at the call's start knows what was there before it; after a
    // scheduler went away mid-wait, everything since the call is new.
    before ??= new Set(askedServer ? [] : arrived.map((message) => message.id));
    const fresh = arrived.find((message) => !before!.has(message.id));
    if (fresh) return fresh;
    if (Date.now() >= deadline) {
      throw new TimeoutError(
        `No message arrived in the inbox of ${reach.address}` +
          (options.from ? ` from ${options.from}` : "") +
          ` within ${Math.round(timeoutMs / 1000)}s`,
        {
          next: `wait longer with a larger timeout, or see what came with ` +
            `"ohcommodore inbox list"`,
        },
      );
    }
    await sleep(Math.min(NEXT_POLL_MS, deadline - Date.now()));
  }
}
