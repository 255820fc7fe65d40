/**
 * A client's connection to an inbox server (server_protocol.ts says what travels on it): calls
 * that may overlap, each answered by its own reply after its events, within a time and a size.
 *
 * @module
 */

import { readLines, writeAll } from "../lines.ts";
import { ServerConnectionError } from "../errors.ts";
import { errorFromData } from "../error_data.ts";
import {
  type OperationName,
  SERVER_PROTOCOL_VERSION,
  type ServerOperations,
  type ServerReply,
} from "./server_protocol.ts";

// The longest reply a client reads from its own member's server: a list of messages with their
// kept output, so far more than a request.
const MAX_REPLY_BYTES = 1024 * 1024 * 1024;

/** Options for one {@link ServerConnection.call}. */
export interface CallOptions<E> {
  /**
   * Give up after this long.
   *
   * @default {30_000}
   */
  timeoutMs?: number;
  /** Called with each event before the answer. */
  onEvent?: (event: E) => void;
  /** Stops waiting (the connection is closed: the server drops the request's waits). */
  signal?: AbortSignal;
}

const DEFAULT_CALL_TIMEOUT_MS = 30_000;
const NEXT_SCHEDULER_STATUS = `see whether it runs with "ohcommodore scheduler status" there`;

interface Pending {
  resolve: (value: unknown) => void;
  /** `answered`: the server's own answer (an error), not a call given up on or a broken line. */
  reject: (error: Error | undefined, answered?: boolean) => void;
  onEvent?: (event: unknown) => void;
}

/**
 * A client's connection to an inbox server. By default its caller owns it for a few calls and
 * closes it; one {@link ServerConnection.keepForReuse kept for reuse} serves many callers at once
 * (`member_connections.ts`): it then holds the process only while a call waits on it, and a call
 * given up on leaves the others be.
 */
export class ServerConnection implements Disposable {
  readonly #connection: Deno.Conn;
  readonly #where: string;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;
  #broken = false;
  #writing: Promise<void> = Promise.resolve();
  // Kept for reuse: how long it may stay idle before it closes (undefined: not kept).
  #idleMs: number | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  // Kept for reuse, but a call was given up on while the server may still work on it: it takes
  // no more calls and closes once the others have their answers (which ends the server's work).
  #retired = false;

  private constructor(connection: Deno.Conn, where: string, maxReplyBytes: number) {
    this.#connection = connection;
    this.#where = where;
    this.#read(maxReplyBytes);
  }

  /**
   * Connects to the server on a unix socket.
   *
   * @param path The socket.
   * @param where How to name the server in errors, e.g. its address.
   * @param maxReplyBytes The longest reply believed; a longer one ends the connection. Lower it
   *   for a server on another member, which may answer anything.
   * @returns The connection, or undefined when nothing listens there.
   */
  static async connect(
    path: string,
    where: string,
    maxReplyBytes: number = MAX_REPLY_BYTES,
  ): Promise<ServerConnection | undefined> {
    try {
      const connection = await Deno.connect({ transport: "unix", path });
      return new ServerConnection(connection, where, maxReplyBytes);
    } catch {
      return undefined; // no socket, or a stale one nobody listens on
    }
  }

  /** Whether the connection has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Whether it ended without this side closing it (the server or the forward hung up, or a
   * write failed): calls that were waiting may or may not have been carried out.
   */
  get broken(): boolean {
    return this.#broken;
  }

  /** Kept for reuse and still taking calls: open, and no call on it was given up on. */
  get reusable(): boolean {
    return !this.#closed && !this.#retired && this.#idleMs !== undefined;
  }

  /**
   * Keeps the connection for calls from many callers, one after another or at once: from now on
   * it holds the process only while a call waits for its answer, closes itself after `idleMs`
   * without one, and a call given up on (its signal, its timeout, its `onEvent` failing) no
   * longer closes it at once: it retires, taking no new calls, and closes when the calls still
   * waiting have their answers (closing is what tells the server to drop the given-up one).
   *
   * @param idleMs How long it may stay unused before it closes.
   */
  keepForReuse(idleMs: number): void {
    this.#idleMs = idleMs;
    if (this.#pending.size === 0) this.#idle();
  }

  /**
   * Takes no new calls; closes now when none waits, else once the last has its answer.
   */
  retire(): void {
    this.#retired = true;
    if (this.#pending.size === 0) this.close();
  }

  /**
   * Sends a request and waits for its answer.
   *
   * @param op The operation.
   * @param args Its arguments.
   * @param options Timeout, events and cancellation.
   * @returns The answer.
   * @throws {OhcommodoreError} The server's error, as its own class where known.
   * @throws {ServerConnectionError} When the connection broke or the answer did not come in time.
   */
  call<K extends OperationName>(
    op: K,
    args: ServerOperations[K]["args"],
    options: CallOptions<ServerOperations[K]["event"]> = {},
  ): Promise<ServerOperations[K]["value"]> {
    if (this.#closed) {
      return Promise.reject(
        new ServerConnectionError(`The inbox server of ${this.#where} hung up`, {
          next: NEXT_SCHEDULER_STATUS,
        }),
      );
    }
    const kept = this.#idleMs !== undefined;
    // Not sent yet, so nothing to give up on: the connection stays as it is.
    if (kept && options.signal?.aborted) {
      return Promise.reject(options.signal.reason ?? new ServerConnectionError("aborted"));
    }
    const id = this.#nextId++;
    const timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    return new Promise<ServerOperations[K]["value"]>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const abort = () => {
        if (kept) this.#pending.get(id)?.reject(options.signal?.reason);
        else {
          this.close();
          reject(options.signal?.reason ?? new ServerConnectionError("aborted"));
        }
      };
      const settle = (answered: boolean) => {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", abort);
        this.#pending.delete(id);
        if (!kept) return;
        if (!answered && !this.#closed) this.#retired = true;
        if (this.#pending.size === 0) this.#idle();
      };
      this.#pending.set(id, {
        resolve: (value) => {
          settle(true);
          resolve(value as ServerOperations[K]["value"]);
        },
        reject: (error, answered = false) => {
          settle(answered);
          reject(error ?? new ServerConnectionError("aborted"));
        },
        onEvent: options.onEvent as ((event: unknown) => void) | undefined,
      });
      if (kept) this.#busy();
      if (options.signal?.aborted) return abort();
      options.signal?.addEventListener("abort", abort, { once: true });
      // A timer past 2^31-1 ms fires at once: long waits are bounded by the server instead.
      if (timeoutMs <= 2 ** 31 - 1) {
        timer = setTimeout(() => {
          // No answer is a lost answer: whether it was carried out is not known.
          this.#pending.get(id)?.reject(
            new ServerConnectionError(
              `The inbox server of ${this.#where} did not answer "${op}" within ` +
                `${Math.round(timeoutMs / 1000)}s`,
            ),
          );
        }, timeoutMs);
      }
      const line = JSON.stringify({ v: SERVER_PROTOCOL_VERSION, id, op, args }) + "\n";
      this.#writing = this.#writing
        .then(() => writeAll(this.#connection, new TextEncoder().encode(line)))
        .catch(() => this.#fail());
    });
  }

  async #read(maxReplyBytes: number): Promise<void> {
    try {
      for await (const line of readLines(this.#connection.readable, maxReplyBytes)) {
        let reply: ServerReply;
        try {
          reply = JSON.parse(line);
        } catch {
          continue; // not ours
        }
        const pending = this.#pending.get(reply?.id);
        if (!pending) continue;
        if ("event" in reply) {
          try {
            pending.onEvent?.(reply.event);
          } catch (error) {
            // The caller's own failure (a closed pipe, say), not the server's: it is the answer.
            pending.reject(error as Error);
          }
        } else if (reply.ok) pending.resolve(reply.value);
        else pending.reject(errorFromData(reply.error), true);
      }
    } catch {
      // the connection broke
    }
    this.#fail();
  }

  #fail(): void {
    if (!this.#closed) this.#broken = true;
    this.close();
    for (const pending of [...this.#pending.values()]) {
      pending.reject(
        new ServerConnectionError(
          `The connection to the inbox server of ${this.#where} ended before it answered`,
          { next: NEXT_SCHEDULER_STATUS },
        ),
      );
    }
  }

  // Kept for reuse: a call waits, so the process waits for its answer.
  #busy(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#ref(true);
  }

  // Kept for reuse, and no call waits: the process may exit, and the connection closes when
  // retired or after its idle time.
  #idle(): void {
    if (this.#closed) return;
    if (this.#retired) return this.close();
    this.#ref(false);
    clearTimeout(this.#idleTimer);
    const timer = setTimeout(() => this.close(), this.#idleMs);
    Deno.unrefTimer(timer);
    this.#idleTimer = timer;
  }

  #ref(hold: boolean): void {
    try {
      if (hold) this.#connection.ref();
      else this.#connection.unref();
    } catch {
      // closed meanwhile
    }
  }

  /** Closes the connection; calls still waiting fail. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    try {
      this.#connection.close();
    } catch {
      // already closed
    }
  }

  /** Closes the connection. */
  [Symbol.dispose](): void {
    this.close();
  }
}
