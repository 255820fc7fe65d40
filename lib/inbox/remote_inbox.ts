/**
 * Another member's inbox, read and handled over its transport: the member's own program answers
 * (`ohcommodore inbox list|show|wait|cancel|next --json`), so its database is opened by its own
 * user, and errors come back as data, as their own classes.
 *
 * @module
 */

import { lineSplitter } from "../lines.ts";
import { parseAddress } from "../address.ts";
import { type Transport, transportFor } from "../transport.ts";
import { checkDurationMs } from "../duration.ts";
import { RemoteCommandError, ServerConnectionError } from "../errors.ts";
import { errorFromData, isErrorData } from "../error_data.ts";
import { lastLine } from "../process.ts";
import { Ssh } from "../ssh.ts";
import type { Cancellation } from "./inbox.ts";
import { DEFAULT_NEXT_WAIT_MS } from "./inbox_waits.ts";
import {
  checkLimit,
  type FinishedMessage,
  type Message,
  type MessageStatus,
  parseMessageId,
} from "./message.ts";
import { REMOTE_PROGRAM } from "../paths.ts";
import type { OperationName, OutputChunk, ServerOperations } from "./server_protocol.ts";
import { type MemberServer, reachMember } from "./member_connections.ts";
import { unlessUnreachable } from "./tunnel.ts";

/** What a script can do with any member's inbox, this one's or another's. */
export interface InboxView {
  /** The member's address. */
  readonly address: string;
  /** Messages, newest first. */
  list(filter?: { status?: MessageStatus; limit?: number }): Promise<Message[]>;
  /** One message by id or unique prefix. */
  get(id: string): Promise<Message>;
  /** Waits until a message is `done` or `error`. */
  waitFor(id: string, options?: { timeoutMs?: number }): Promise<FinishedMessage>;
  /** Removes a message that has not started, or stops one that runs. */
  cancel(id: string): Promise<Cancellation>;
  /** Waits for the next message to arrive. */
  next(options?: { from?: string; timeoutMs?: number }): Promise<Message>;
  /** Follows a message's output (kept, then live) until it finishes. */
  follow(
    id: string,
    onOutput: (chunk: OutputChunk) => void,
    options?: { signal?: AbortSignal },
  ): Promise<FinishedMessage>;
}

// Reading and waiting are safe to repeat after a dropped connection.
const QUICK_MS = 60_000;

/**
 * The inbox of a member reached over ssh (or in a local sandbox).
 *
 * @example List a ship's failed messages from the laptop
 * ```ts
 * import { RemoteInbox } from "@smithclay/ohcommodore/inbox";
 * const inbox = new RemoteInbox("captain@ship-web-k3f9a1b2", "ship-web-k3f9a1b2.exe.xyz");
 * for (const message of await inbox.list({ status: "error" })) console.log(message.id);
 * ```
 */
export class RemoteInbox implements InboxView {
  /** The member's address. */
  readonly address: string;
  readonly #transport: Transport;
  readonly #ssh: Ssh;

  /**
   * The inbox of the member at a destination.
   *
   * @param address The member's address, e.g. `captain@ship-web-k3f9a1b2`.
   * @param destination Its SSH destination (or a sandbox's home).
   * @param ssh The ssh client.
   */
  constructor(address: string, destination: string, ssh: Ssh = new Ssh()) {
    parseAddress(address);
    this.address = address;
    this.#transport = transportFor(destination, ssh);
    this.#ssh = ssh;
  }

  /** Messages, newest first. */
  list(filter: { status?: MessageStatus; limit?: number } = {}): Promise<Message[]> {
    const args = [
      ...(filter.status ? ["--status", filter.status] : []),
      ...(filter.limit === undefined ? [] : ["--limit", String(checkLimit(filter.limit))]),
    ];
    return this.#ask("list", filter, ["list", ...args], QUICK_MS);
  }

  /** One message by id or unique prefix. */
  get(id: string): Promise<Message> {
    const exact = parseMessageId(id);
    return this.#ask("get", { id: exact }, ["show", "--", exact], QUICK_MS);
  }

  /** Waits until a message is `done` or `error` (default: its timeout plus a minute). */
  waitFor(id: string, options: { timeoutMs?: number } = {}): Promise<FinishedMessage> {
    // At most what the member's "inbox wait --timeout" takes, and ssh's timer then holds it.
    if (options.timeoutMs !== undefined) checkDurationMs(options.timeoutMs, "timeoutMs");
    const timeout = options.timeoutMs ? ["--timeout", `${Math.ceil(options.timeoutMs)}ms`] : [];
    // Without a limit the member picks the message's own; ssh gets a day to hear it.
    const sshMs = (options.timeoutMs ?? 24 * 3_600_000) + QUICK_MS;
    const exact = parseMessageId(id);
    return this.#ask(
      "wait",
      { id: exact, timeoutMs: options.timeoutMs },
      ["wait", ...timeout, "--", exact],
      sshMs,
    );
  }

  /** Removes a message that has not started, or stops one that runs. */
  cancel(id: string): Promise<Cancellation> {
    const exact = parseMessageId(id);
    return this.#ask("cancel", { id: exact }, ["cancel", "--", exact], QUICK_MS, false);
  }

  /** Waits for the next message to arrive (default: up to 10 minutes). */
  next(options: { from?: string; timeoutMs?: number } = {}): Promise<Message> {
    const timeoutMs = checkDurationMs(options.timeoutMs ?? DEFAULT_NEXT_WAIT_MS, "timeoutMs");
    if (options.from) parseAddress(options.from);
    const from = options.from ? ["--from", options.from] : [];
    return this.#ask(
      "next",
      { from: options.from, timeoutMs },
      ["next", ...from, "--timeout", `${timeoutMs}ms`],
      timeoutMs + QUICK_MS,
      false,
    );
  }

  /**
   * Follows a message's output as it is written (what was kept first), until it finishes.
   *
   * @param id The id or a unique prefix.
   * @param onOutput Told each piece of output.
   * @param options `signal` stops following (the command goes on).
   * @returns The finished message.
   */
  async follow(
    id: string,
    onOutput: (chunk: OutputChunk) => void,
    options: { signal?: AbortSignal } = {},
  ): Promise<FinishedMessage> {
    const exact = parseMessageId(id);
    const server = await this.#server();
    if (server) {
      // Not asked again after a break: the output would be told twice.
      return await server.call("follow", { id: exact }, {
        onEvent: onOutput,
        signal: options.signal,
        timeoutMs: 8 * 24 * 3_600_000,
      });
    }
    // Over exec: the member's "inbox follow --json" prints a line per piece, then the message.
    let finished: FinishedMessage | undefined;
    let failure: unknown;
    // A line that is not ours (a login script's echo) is passed over, not a reason to stop.
    const take = (line: string) => {
      let item;
      try {
        item = JSON.parse(line);
      } catch {
        return;
      }
      if (item?.message) finished = item.message;
      else if (item?.error) failure = item.error;
      else if (typeof item?.text === "string") onOutput(item);
    };
    const lines = lineSplitter(take);
    const result = await this.#transport.run(
      [REMOTE_PROGRAM, "inbox", "follow", "--json", "--", exact],
      {
        timeoutMs: 8 * 24 * 3_600_000,
        signal: options.signal,
        onStdout: (text) => lines.push(text),
      },
    );
    lines.end();
    if (finished) return finished;
    if (isErrorData(failure)) throw errorFromData(failure);
    throw new RemoteCommandError(
      this.#transport.destination,
      result.code,
      lastLine(result.stderr),
      `The inbox of ${this.address} did not answer "inbox follow" (exit ${result.code})`,
    );
  }

  async #server(): Promise<MemberServer | undefined> {
    return await reachMember(this.#transport.destination, this.#ssh, this.address)
      .catch(unlessUnreachable);
  }

  async #ask<K extends OperationName>(
    op: K,
    request: ServerOperations[K]["args"],
    args: string[],
    timeoutMs: number,
    idempotent = true,
  ): Promise<ServerOperations[K]["value"]> {
    const server = await this.#server();
    if (server) {
      try {
        return await server.call(op, request, {
          timeoutMs,
          retry: idempotent ? "idempotent" : "connect",
        });
      } catch (error) {
        if (!(error instanceof ServerConnectionError) || !idempotent) throw error;
        // A read is asked again below, over exec.
      }
    }
    return await this.#exec<ServerOperations[K]["value"]>(args, timeoutMs, idempotent);
  }

  async #exec<T>(args: string[], timeoutMs: number, idempotent: boolean): Promise<T> {
    // Options before the arguments: ids go after "--", where nothing reads as an option.
    const [command, ...rest] = args;
    const remote = [REMOTE_PROGRAM, "inbox", command, "--json", ...rest];
    const result = await this.#transport.run(remote, {
      timeoutMs,
      retry: idempotent ? "idempotent" : "connect",
    });
    let answer: unknown;
    try {
      answer = JSON.parse(result.stdout);
    } catch {
      const tail = lastLine(result.stderr);
      throw new RemoteCommandError(
        this.#transport.destination,
        result.code,
        tail,
        `The inbox of ${this.address} did not answer "inbox ${args[0]}" (exit ${result.code}` +
          (tail ? `: ${tail}` : "") + `)`,
      );
    }
    const error = (answer as { error?: unknown } | null)?.error;
    if (result.code !== 0 && isErrorData(error)) throw errorFromData(error);
    return answer as T;
  }
}
