/**
 * A member's own inbox, as a handle sees it when the member is the one this process runs on:
 * the same {@link InboxView} as a remote member's, each call on the inbox opened here.
 *
 * @module
 */

import { type Cancellation, Inbox } from "../inbox/inbox.ts";
import type { FinishedMessage, Message, MessageStatus } from "../inbox/message.ts";
import type { InboxView } from "../inbox/remote_inbox.ts";
import type { OutputChunk } from "../inbox/server_protocol.ts";

/**
 * This member's own inbox, opened for each call (opening reads only the identity): a handle's
 * inbox when the member is the one this process runs on.
 *
 * @example The flagship's own held messages, on the flagship
 * ```ts
 * import { OpenedInbox } from "./opened_inbox.ts";
 *
 * const inbox = new OpenedInbox("commodore@flagship-k3f9a1b2");
 * console.log(await inbox.list({ status: "held" }));
 * ```
 */
export class OpenedInbox implements InboxView {
  readonly address: string;
  readonly #home?: string;

  constructor(address: string, home?: string) {
    this.address = address;
    this.#home = home;
  }

  #open(): Promise<Inbox> {
    return Inbox.open({ home: this.#home });
  }

  async list(filter?: { status?: MessageStatus; limit?: number }): Promise<Message[]> {
    return await (await this.#open()).list(filter);
  }

  async get(id: string): Promise<Message> {
    return await (await this.#open()).get(id);
  }

  async waitFor(id: string, options?: { timeoutMs?: number }): Promise<FinishedMessage> {
    return await (await this.#open()).waitFor(id, options);
  }

  async cancel(id: string): Promise<Cancellation> {
    return await (await this.#open()).cancel(id);
  }

  async next(options?: { from?: string; timeoutMs?: number }): Promise<Message> {
    return await (await this.#open()).next(options);
  }

  async follow(
    id: string,
    onOutput: (chunk: OutputChunk) => void,
    options?: { signal?: AbortSignal },
  ): Promise<FinishedMessage> {
    return await (await this.#open()).follow(id, onOutput, options);
  }
}
