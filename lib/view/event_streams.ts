/**
 * Server-sent event streams: each open page's live connection, told what the one view of the
 * fleet hears (a broadcast writes the same bytes to every page), kept alive by a comment now and
 * then, and closed when the page goes or the server stops.
 *
 * @module
 */

// What a stream holds for its page before it stops taking more in (the queue's high-water mark),
// and at most before the page is let go.
const QUEUE_BYTES = 1024 * 1024;
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
const encoder = new TextEncoder();
const KEEP_ALIVE_MS = 15_000;

/** Sends one event on a stream: its data (one line of JSON) and, optionally, its name. */
export type SendEvent = (data: string, event?: string) => void;

interface Stream {
  controller: ReadableStreamDefaultController<Uint8Array>;
  broadcast: boolean;
  close: () => void;
}

/**
 * The open event streams of a server.
 *
 * @example Tell every open page the time, each second
 * ```ts
 * import { EventStreams } from "./event_streams.ts";
 * const streams = new EventStreams();
 * setInterval(() => streams.broadcast(JSON.stringify({ now: Date.now() })), 1000);
 * Deno.serve((request) => streams.open(request.signal, () => {}, undefined, { broadcast: true }));
 * ```
 */
export class EventStreams {
  readonly #streams = new Set<Stream>();

  /**
   * Opens a stream, as the answer to a request.
   *
   * @param signal The request's signal: the page went away.
   * @param start Told how to send on the stream, and how to end it, once it is open.
   * @param onClose Told when the stream closes, whoever closed it.
   * @param options `broadcast`: the stream hears {@link broadcast}s.
   * @returns The response that carries the stream.
   */
  open(
    signal: AbortSignal,
    start: (send: SendEvent, end: () => void) => void,
    onClose?: () => void,
    options: { broadcast?: boolean } = {},
  ): Response {
    let stream: Stream | undefined;
    let timer: ReturnType<typeof setInterval> | undefined;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      signal.removeEventListener("abort", close);
      if (stream) this.#streams.delete(stream);
      try {
        stream?.controller.close();
      } catch {
        // the reader went first
      }
      onClose?.();
    };
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        stream = { controller, broadcast: options.broadcast ?? false, close };
        this.#streams.add(stream);
        timer = setInterval(() => write(controller, ": keep-alive\n\n", close), KEEP_ALIVE_MS);
        signal.addEventListener("abort", close, { once: true });
        // A retry hint: a page that lost the stream asks again soon.
        write(controller, "retry: 2000\n\n", close);
        start((data, event) => {
          if (!closed) write(controller, frame(data, event), close);
        }, close);
      },
      cancel: close,
    }, new ByteLengthQueuingStrategy({ highWaterMark: QUEUE_BYTES }));
    return new Response(body, {
      headers: { "content-type": "text/event-stream; charset=utf-8", "x-accel-buffering": "no" },
    });
  }

  /**
   * Sends an event to every stream opened with `broadcast`.
   *
   * @param data The event's data: one line of JSON.
   */
  broadcast(data: string): void {
    const bytes = encoder.encode(frame(data));
    for (const stream of [...this.#streams]) {
      if (!stream.broadcast) continue;
      try {
        stream.controller.enqueue(bytes);
        if (lagging(stream.controller)) stream.close();
      } catch {
        stream.close();
      }
    }
  }

  /** Closes every stream (the server is stopping). */
  closeAll(): void {
    for (const stream of [...this.#streams]) stream.close();
  }
}

function frame(data: string, event?: string): string {
  const lines = data.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`).join("");
  return `${event ? `event: ${event}\n` : ""}${lines}\n`;
}

function write(
  controller: ReadableStreamDefaultController<Uint8Array>,
  text: string,
  close: () => void,
): void {
  try {
    controller.enqueue(encoder.encode(text));
    if (lagging(controller)) close();
  } catch {
    close();
  }
}

// A page that stops reading is let go once this much waits for it (it asks again, and a new
// stream starts from a fresh snapshot), so it never makes the server hold more.
function lagging(controller: ReadableStreamDefaultController<Uint8Array>): boolean {
  return (controller.desiredSize ?? 0) < QUEUE_BYTES - MAX_QUEUED_BYTES;
}
