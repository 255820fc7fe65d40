/**
 * The listening side of the inbox server's protocol (`server_protocol.ts`): a unix socket, mode
 * 0600, whose requests are handed to a handler; each connection's replies are written in the
 * order they are ready, and a connection's waits end when it closes.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { errorToData } from "../error_data.ts";
import { ByteBudget, readLines, writeAll } from "../lines.ts";
import {
  MAX_LINE_BYTES,
  type OperationName,
  SERVER_PROTOCOL_VERSION,
  type ServerOperations,
  type ServerReply,
  type ServerRequest,
} from "./server_protocol.ts";
import { sleep } from "../timer.ts";

/** Carries out one operation; `emit` streams its events, `signal` aborts when the client leaves. */
export type OperationHandler<K extends OperationName> = (
  args: ServerOperations[K]["args"],
  context: { emit: (event: ServerOperations[K]["event"]) => void; signal: AbortSignal },
) => Promise<ServerOperations[K]["value"]>;

/** What a server answers: a handler for each operation it serves, and no other. */
export type OperationHandlers = { [K in OperationName]?: OperationHandler<K> };

// Replies a client may leave unread before it is disconnected.
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;

/** What a server holds for its clients at most. */
export interface ServerLimits {
  /**
   * Clients connected at once; one more is disconnected at once.
   *
   * @default {Infinity}
   */
  maxClients?: number;
  /**
   * The longest request line.
   *
   * @default {MAX_LINE_BYTES}
   */
  maxLineBytes?: number;
  /**
   * Bytes of unfinished requests held for all clients together.
   *
   * @default {Infinity}
   */
  maxBufferedBytes?: number;
  /**
   * Bytes of replies a client may leave unread before it is let go.
   *
   * @default {64 * 1024 * 1024}
   */
  maxQueuedBytes?: number;
}

/** A listening inbox server. */
export class InboxServer implements Disposable {
  readonly #listener: Deno.UnixListener;
  readonly #path: string;
  readonly #handlers: OperationHandlers;
  readonly #clients = new Set<Deno.Conn>();
  readonly #limits: Required<ServerLimits>;
  readonly #budget: ByteBudget;
  #closed = false;

  private constructor(
    listener: Deno.UnixListener,
    path: string,
    handlers: OperationHandlers,
    limits: ServerLimits,
  ) {
    this.#listener = listener;
    this.#path = path;
    this.#handlers = handlers;
    this.#limits = {
      maxClients: limits.maxClients ?? Infinity,
      maxLineBytes: limits.maxLineBytes ?? MAX_LINE_BYTES,
      maxBufferedBytes: limits.maxBufferedBytes ?? Infinity,
      maxQueuedBytes: limits.maxQueuedBytes ?? MAX_QUEUED_BYTES,
    };
    this.#budget = new ByteBudget(this.#limits.maxBufferedBytes);
    this.#accept();
  }

  /** How many clients are connected now. */
  get clients(): number {
    return this.#clients.size;
  }

  /**
   * Listens on a socket, replacing a stale one. Call only while holding the scheduler lock, so
   * that a live server's socket is never removed.
   *
   * @param path The socket path.
   * @param handlers The operations it answers, each with what carries it out; any other is
   *   refused.
   * @param limits What it holds for its clients at most.
   * @returns The server.
   */
  static listen(
    path: string,
    handlers: OperationHandlers,
    limits: ServerLimits = {},
  ): InboxServer {
    try {
      Deno.removeSync(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const listener = Deno.listen({ transport: "unix", path });
    // Its directory is private already; the socket is made so too, whatever the umask.
    Deno.chmodSync(path, 0o600);
    return new InboxServer(listener, path, handlers, limits);
  }

  async #accept(): Promise<void> {
    for (;;) {
      try {
        const client = await this.#listener.accept();
        if (this.#clients.size >= this.#limits.maxClients) {
          client.close(); // a client past the limit is not served, nor held
          continue;
        }
        this.#serve(client);
      } catch (error) {
        if (error instanceof Deno.errors.BadResource || this.#closed) return; // closed
        // Out of descriptors, say: the server stays up and tries again shortly.
        await sleep(100);
      }
    }
  }

  async #serve(client: Deno.Conn): Promise<void> {
    this.#clients.add(client);
    const gone = new AbortController();
    let writing = Promise.resolve();
    let queued = 0;
    const send = (reply: ServerReply) => {
      if (gone.signal.aborted) return;
      const line = new TextEncoder().encode(JSON.stringify(reply) + "\n");
      // A client that stops reading (a follower piped into a stalled pager) is let go rather
      // than have its replies pile up here.
      queued += line.length;
      if (queued > this.#limits.maxQueuedBytes) {
        gone.abort();
        this.#drop(client);
        return;
      }
      writing = writing.then(() => writeAll(client, line)).then(
        () => void (queued -= line.length),
        () => gone.abort(),
      );
    };
    try {
      const lines = readLines(client.readable, this.#limits.maxLineBytes, { budget: this.#budget });
      for await (const line of lines) {
        this.#answer(line, send, gone.signal);
      }
    } catch {
      // the client went away, or sent a line too long (or too much) to be a request
    } finally {
      gone.abort();
      this.#drop(client);
    }
  }

  async #answer(line: string, send: (reply: ServerReply) => void, signal: AbortSignal) {
    let request: ServerRequest;
    try {
      request = JSON.parse(line);
    } catch {
      return; // not a request: nothing to answer to
    }
    const id = typeof request?.id === "number" ? request.id : 0;
    try {
      if (request.v !== SERVER_PROTOCOL_VERSION) {
        throw new UsageError(
          `This inbox server speaks protocol ${SERVER_PROTOCOL_VERSION}, not ${request.v}: ` +
            `run the same ohcommodore version on both ends`,
        );
      }
      const handler = typeof request.op === "string" && Object.hasOwn(this.#handlers, request.op)
        ? this.#handlers[request.op as OperationName] as OperationHandler<OperationName>
        : undefined;
      if (!handler) throw new UsageError(`Unknown inbox operation "${String(request.op)}"`);
      const args = typeof request.args === "object" && request.args !== null ? request.args : {};
      const value = await handler(args as never, {
        emit: (event) => send({ id, event }),
        signal,
      });
      send({ id, ok: true, value });
    } catch (error) {
      send({ id, ok: false, error: errorToData(error) });
    }
  }

  #drop(client: Deno.Conn): void {
    if (!this.#clients.delete(client)) return;
    try {
      client.close();
    } catch {
      // already closed
    }
  }

  /** Stops listening and disconnects every client. */
  [Symbol.dispose](): void {
    this.#closed = true;
    this.#listener.close();
    for (const client of [...this.#clients]) this.#drop(client);
    try {
      Deno.removeSync(this.#path);
    } catch {
      // already gone
    }
  }
}
