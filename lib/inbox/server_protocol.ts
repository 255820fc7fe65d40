/**
 * The inbox server's protocol: JSON lines on a unix socket (the scheduler's, mode 0600 in the
 * member's private directory; from another machine, the same socket through a forward on the
 * shared ssh connection). Each request names an operation and carries an id; the server answers
 * each with one reply of that id, and streams events for it first when the operation has any
 * (`follow`). Requests on one connection may overlap.
 *
 * ```
 * → {"v":1,"id":7,"op":"deliver","args":{"recipient":"captain@ship-web","command":"make"}}
 * ← {"id":7,"ok":true,"value":{"id":"m-…","status":"unread",…}}
 * → {"v":1,"id":8,"op":"follow","args":{"id":"m-…"}}
 * ← {"id":8,"event":{"stream":"stdout","text":"building…\n"}}
 * ← {"id":8,"ok":true,"value":{"id":"m-…","status":"done","exitCode":0,…}}
 * ```
 *
 * @module
 */

import { readLines, writeAll } from "../lines.ts";
import { VERSION } from "../version.ts";
import { ServerConnectionError } from "../errors.ts";
import { type ErrorData, errorFromData } from "../error_data.ts";
import type { Cancellation, Delivery, FinishedMessage, Message, MessageStatus } from "./message.ts";
import type { MemberReport } from "./report.ts";
import type { QueryResult } from "./query.ts";
import type { ListFilter } from "./message_listing.ts";

/** The protocol version; a server answers requests of other versions with an error. */
export const SERVER_PROTOCOL_VERSION = 1;

/** The longest request line a server reads (a command is at most 1 MiB; JSON escapes it). */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;

// The longest reply a client reads from its own member's server: a list of messages with their
// kept output, so far more than a request.
const MAX_REPLY_BYTES = 1024 * 1024 * 1024;

/**
 * The longest reply believed from another member's server (through a forward): one whole
 * message is at most a 1 MiB command and 256 KiB of each output, JSON-escaped; listings clip.
 */
export const MAX_REMOTE_REPLY_BYTES = 64 * 1024 * 1024;

/** What a server says about itself. */
export interface ServerHello {
  /** The protocol version. */
  protocol: number;
  /** The member's address. */
  address: string;
  /** The program version of the server. */
  version: string;
  /** The server's process id. */
  pid: number;
  /** How many commands it runs at once, at most. */
  maxRunning: number;
}

/**
 * What a server of this program says about itself.
 *
 * @param address The member's address (for a ship's channel, the flagship's).
 * @param maxRunning How many commands it runs at once (0: it runs none).
 * @returns The hello.
 */
export function serverHello(address: string, maxRunning: number): ServerHello {
  return {
    protocol: SERVER_PROTOCOL_VERSION,
    address,
    version: VERSION,
    pid: Deno.pid,
    maxRunning,
  };
}

/** A piece of a running command's output. */
export interface OutputChunk {
  /** Which stream it was written to. */
  stream: "stdout" | "stderr";
  /** The text (decoded as UTF-8). */
  text: string;
}

/** Every operation: what it takes, what it answers, and the events it streams first. */
export interface ServerOperations {
  /** Who the server is. */
  hello: { args: Record<string, never>; value: ServerHello; event: never };
  /** Store a message (idempotent by id) and run it in turn. */
  deliver: { args: Delivery; value: Message; event: never };
  /** One message by id or unique prefix. */
  get: { args: { id: string }; value: Message; event: never };
  /** Messages, newest first. */
  list: { args: ListFilter; value: Message[]; event: never };
  /** Mark a message taken by hand. */
  markRead: { args: { id: string }; value: Message; event: never };
  /** Mark a message done. */
  markDone: { args: { id: string }; value: Message; event: never };
  /** Mark a message failed. */
  markError: { args: { id: string; reason: string }; value: Message; event: never };
  /** Delete a message. */
  delete: { args: { id: string }; value: Message; event: never };
  /** Remove an unread message or stop a running one. */
  cancel: { args: { id: string; timeoutMs?: number }; value: Cancellation; event: never };
  /** Wait for a message to finish. */
  wait: { args: { id: string; timeoutMs?: number }; value: FinishedMessage; event: never };
  /** Wait for the next message to arrive after the request. */
  next: {
    args: { from?: string; timeoutMs: number };
    value: Message;
    event: never;
  };
  /** The member's report: address, version, counts (what `fleet status` shows). */
  report: { args: Record<string, never>; value: MemberReport; event: never };
  /** Messages per status. */
  counts: { args: Record<string, never>; value: Record<MessageStatus, number>; event: never };
  /** A read-only SQL query. */
  query: { args: { sql: string }; value: QueryResult; event: never };
  /** How many commands run at once, at most; sets it when `count` is given. */
  maxRunning: { args: { count?: number }; value: number; event: never };
  /** A message's output, kept then live, until it finishes. */
  follow: { args: { id: string }; value: FinishedMessage; event: OutputChunk };
  /** Let a held message run (it becomes unread). */
  approve: { args: { id: string }; value: Message; event: never };
  /** On a ship's channel to the flagship: deliver a message to a fleet member by name. */
  relay: { args: Delivery & { id: string }; value: Message; event: never };
  /**
   * On the flagship: a call about plans (`lib/plan/plan_calls.ts` says which), served by the
   * plan driver that its scheduler runs; typed there, above this layer.
   */
  plan: { args: { call: unknown }; value: unknown; event: unknown };
  /**
   * On the flagship: a fleet call (`lib/fleet/fleet_call.ts`), answered by its scheduler in
   * place of a program start, a change's progress as events; typed there, above this layer.
   */
  fleet: { args: { version: number; call: unknown }; value: unknown; event: unknown };
  /**
   * A member's own agent tasks, each with its outcome (`lib/agent/ship_service.ts`, typed there):
   * what `agent list` and `fleet costs` read without a program start.
   */
  tasks: { args: Record<string, never>; value: unknown; event: never };
  /** A member's current or last agent task's state, for `fleet status` (typed in lib/agent). */
  lastTask: { args: Record<string, never>; value: unknown; event: never };
  /** On a ship's channel: wait for a message that ship sent to finish. */
  relayWait: {
    args: { id: string; recipient: string; timeoutMs?: number };
    value: FinishedMessage;
    event: never;
  };
}

/** The name of an operation. */
export type OperationName = keyof ServerOperations;

/** A request line. */
export interface ServerRequest {
  /** Protocol version. */
  v: number;
  /** Chosen by the client; the reply carries it. */
  id: number;
  /** The operation. */
  op: string;
  /** Its arguments. */
  args: Record<string, unknown>;
}

/** A reply line: an event of a request, or its final answer. */
export type ServerReply =
  | { id: number; event: unknown }
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: ErrorData };

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
