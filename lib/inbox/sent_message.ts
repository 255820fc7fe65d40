/**
 * A handle on a message that was sent: ask how it is, wait for it, cancel it, wherever the
 * recipient lives.
 *
 * @module
 */

import type { Cancellation } from "./inbox.ts";
import type { FinishedMessage, Message } from "./message.ts";
import type { InboxView } from "./remote_inbox.ts";
import type { OutputChunk } from "./server_protocol.ts";

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
   * The command's output as it is written: what was kept so far, then each new piece, ending
   * when the message finishes (the generator's return value is the finished message).
   *
   * @example Print a ship's test run as it goes
   * ```ts
   * import { Fleet } from "@smithclay/ohcommodore";
   * await using fleet = await Fleet.open();
   * const sent = await (await fleet.ship("web")).send("cd ~/web && deno task test");
   * for await (const chunk of sent.output()) {
   *   (chunk.stream === "stdout" ? console.log : console.error)(chunk.text);
   * }
   * console.log((await sent.status()).exitCode);
   * ```
   *
   * @param options `signal` stops following (the command goes on).
   * @returns The pieces of output.
   */
  async *output(
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<OutputChunk, FinishedMessage> {
    const waiting: OutputChunk[] = [];
    let wake = () => {};
    let settled = false;
    const following = this.inbox.follow(this.id, (chunk) => {
      waiting.push(chunk);
      wake();
    }, options).finally(() => {
      settled = true;
      wake();
    });
    following.catch(() => {}); // thrown below, once the pieces before the failure are out
    for (;;) {
      while (waiting.length) yield waiting.shift()!;
      if (settled) return await following;
      await new Promise<void>((resolve) => wake = resolve);
    }
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
