/**
 * A handle on a message that was sent: ask how it is, wait for it, cancel it, wherever the
 * recipient lives.
 *
 * @module
 */

import type { Cancellation } from "./inbox.ts";
import type { FinishedMessage, Message } from "./message.ts";
import type { InboxView } from "./remote_inbox.ts";

/**
 * A message delivered into a member's inbox.
 *
 * @example Send a long command, look at it, then wait for it
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * const ship = await fleet.ship("web");
 * const sent = await ship.send("cd ~/web && deno task test");
 * console.log((await sent.status()).status); // "running"
 * const done = await sent.wait({ timeoutMs: 600_000 });
 * console.log(done.exitCode);
 * ```
 */
export class SentMessage {
  /** The message's id. */
  readonly id: string;
  /** The message as the recipient stored it. */
  readonly delivered: Message;
  /** The recipient's inbox. */
  readonly inbox: InboxView;

  /**
   * A handle on a delivered message.
   *
   * @param delivered The message as stored.
   * @param inbox The recipient's inbox.
   */
  constructor(delivered: Message, inbox: InboxView) {
    this.id = delivered.id;
    this.delivered = delivered;
    this.inbox = inbox;
  }

  /** The recipient's address. */
  get recipient(): string {
    return this.delivered.recipient;
  }

  /**
   * The message as it is now.
   *
   * @returns The message.
   */
  status(): Promise<Message> {
    return this.inbox.get(this.id);
  }

  /**
   * Waits for the message to finish.
   *
   * @param options How long to wait (default: its timeout plus a minute).
   * @returns The finished message.
   * @throws {TimeoutError} With `messageId` and the message's status when the wait gave up.
   */
  wait(options: { timeoutMs?: number } = {}): Promise<FinishedMessage> {
    return this.inbox.waitFor(this.id, options);
  }

  /**
   * Cancels the message: removed if it has not started, its process group stopped if it runs.
   *
   * @returns What happened.
   */
  cancel(): Promise<Cancellation> {
    return this.inbox.cancel(this.id);
  }
}
