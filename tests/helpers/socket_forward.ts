/**
 * A unix-socket forward standing in for ssh's (`ssh -O forward -L <here.sock>:<there.sock>`):
 * every connection to its socket gets a connection of its own to the target socket, and bytes
 * pass both ways, line by line. It counts connections and requests, and can cut a connection at
 * a chosen request: before passing it on (nothing was carried out), or once the server has
 * answered it, dropping the answer (carried out, answer lost), as a dying ssh would.
 *
 * @module
 */

import { memberPaths } from "../../lib/paths.ts";
import { socketPathOf } from "../../lib/inbox/socket_path.ts";
import { writeAll } from "../../lib/lines.ts";

/** A request as it passed the forward. */
export interface SeenRequest {
  /** The connection it came on (1 for the first). */
  connection: number;
  /** Its operation. */
  op: string;
  /** Its arguments. */
  args: Record<string, unknown>;
}

/** Where a connection is cut: before its request is passed on, or after its answer came. */
export type Cut = "before" | "after";

/** The forward; dispose it to stop listening and cut every connection. */
export class SocketForward implements AsyncDisposable {
  /** The socket it listens on. */
  readonly path: string;
  /** Connections made to it so far. */
  connections = 0;
  /** Connections open now. */
  open = 0;
  /** Every request that passed, or was cut, in order. */
  readonly requests: SeenRequest[] = [];
  readonly #target: string;
  readonly #listener: Deno.UnixListener;
  readonly #pairs = new Set<{ down: Deno.Conn; up: Deno.Conn }>();
  readonly #done: Promise<void>;
  #cut: { op: string; where: Cut } | undefined;

  private constructor(path: string, target: string) {
    this.path = path;
    this.#target = target;
    this.#listener = Deno.listen({ transport: "unix", path });
    this.#done = this.#accept();
  }

  /**
   * A forward at the socket where a sandbox member's server would listen, so that a route to
   * `home` reaches the member whose server listens at `target`.
   *
   * @param home A home directory of its own (a temporary one); its `.local/ship` is made.
   * @param target The real server's socket.
   * @returns The forward.
   */
  static async inFrontOf(home: string, target: string): Promise<SocketForward> {
    const paths = memberPaths(home);
    await Deno.mkdir(paths.shipDir, { recursive: true });
    return new SocketForward(socketPathOf(paths.database), target);
  }

  /**
   * Cuts the connection that carries the next request of an operation.
   *
   * @param op The operation, e.g. `deliver`.
   * @param where Before passing it on, or after its answer came (the answer is dropped).
   */
  cutNext(op: string, where: Cut): void {
    this.#cut = { op, where };
  }

  /** Cuts every open connection, as a dying ssh master would. */
  cutAll(): void {
    for (const pair of [...this.#pairs]) this.#close(pair);
  }

  /**
   * The requests of one operation that passed (or were cut).
   *
   * @param op The operation.
   * @returns Them, in order.
   */
  seen(op: string): SeenRequest[] {
    return this.requests.filter((request) => request.op === op);
  }

  async #accept(): Promise<void> {
    for (;;) {
      let down: Deno.Conn;
      try {
        down = await this.#listener.accept();
      } catch {
        return; // closed
      }
      const number = ++this.connections;
      let up: Deno.Conn;
      try {
        up = await Deno.connect({ transport: "unix", path: this.#target });
      } catch {
        down.close();
        continue;
      }
      const pair = { down, up };
      this.#pairs.add(pair);
      this.open++;
      this.#pass(pair, number);
    }
  }

  #pass(pair: { down: Deno.Conn; up: Deno.Conn }, number: number): void {
    const dropAnswerTo = new Set<number>();
    const toServer = lines(pair.down, async (line) => {
      let request: { id?: number; op?: string; args?: Record<string, unknown> } = {};
      try {
        request = JSON.parse(line);
      } catch {
        // passed on as it is
      }
      if (typeof request.op === "string") {
        this.requests.push({ connection: number, op: request.op, args: request.args ?? {} });
      }
      const cut = this.#cut;
      if (cut && cut.op === request.op) {
        this.#cut = undefined;
        if (cut.where === "before") return this.#close(pair);
        dropAnswerTo.add(request.id ?? 0);
      }
      await writeAll(pair.up, new TextEncoder().encode(line + "\n"));
    });
    const toClient = lines(pair.up, async (line) => {
      let reply: { id?: number; event?: unknown } = {};
      try {
        reply = JSON.parse(line);
      } catch {
        // passed on as it is
      }
      if (dropAnswerTo.has(reply.id ?? -1) && !("event" in reply)) return this.#close(pair);
      await writeAll(pair.down, new TextEncoder().encode(line + "\n"));
    });
    toServer.finally(() => this.#close(pair));
    toClient.finally(() => this.#close(pair));
  }

  #close(pair: { down: Deno.Conn; up: Deno.Conn }): void {
    if (!this.#pairs.delete(pair)) return;
    this.open--;
    for (const conn of [pair.down, pair.up]) {
      try {
        conn.close();
      } catch {
        // closed already
      }
    }
  }

  /** Stops listening and cuts every connection. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    this.cutAll();
    await this.#done;
    await Deno.remove(this.path).catch(() => {});
  }
}

// Reads lines from a connection until it ends, handing each to `onLine` in turn.
async function lines(conn: Deno.Conn, onLine: (line: string) => Promise<void>): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = "";
  try {
    for await (const chunk of conn.readable) {
      buffered += decoder.decode(chunk, { stream: true });
      for (let end = buffered.indexOf("\n"); end >= 0; end = buffered.indexOf("\n")) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        await onLine(line);
      }
    }
  } catch {
    // cut
  }
}

/**
 * The socket a member at `home` listens on (its scheduler's).
 *
 * @param home The member's home.
 * @returns The socket.
 */
export function serverSocketOf(home: string): string {
  return socketPathOf(memberPaths(home).database);
}
