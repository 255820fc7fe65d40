/**
 * The scheduler's doorbell: a unix socket beside the database. Deliveries ring it so the
 * scheduler starts within milliseconds instead of at its next poll; waiters stay connected and
 * hear `finished <id>` lines. A socket that accepts proves a scheduler is alive.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OhcommodoreError } from "../errors.ts";

/**
 * The socket path of a database's scheduler.
 *
 * @param database The database file.
 * @returns The socket path.
 */
export function socketPathOf(database: string): string {
  const beside = `${database}.sock`;
  if (new TextEncoder().encode(beside).length <= MAX_SOCKET_PATH) return beside;
  // A deep home (a sandbox, a test world) makes the path too long for a unix socket: use a
  // private directory in /tmp, named after the database so every member gets its own.
  const dir = join(tmpdir(), `ohc-wake-${Deno.uid()}`);
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const info = Deno.statSync(dir);
  if (info.uid !== Deno.uid() || ((info.mode ?? 0) & 0o077) !== 0) {
    throw new OhcommodoreError(`"${dir}" is not private to this user: remove it and try again`);
  }
  const hash = createHash("sha256").update(database).digest("hex").slice(0, 24);
  return join(dir, `${hash}.sock`);
}

// sun_path holds 108 bytes with the terminating NUL.
const MAX_SOCKET_PATH = 107;

/**
 * Rings the doorbell once.
 *
 * @param database The database whose scheduler to wake.
 * @returns Whether a scheduler answered.
 */
export function wakeScheduler(database: string): Promise<boolean> {
  return tellScheduler(database, "wake");
}

// Sends the scheduler one line; true when one heard it.
async function tellScheduler(database: string, line: string): Promise<boolean> {
  const connection = await connectQuietly(socketPathOf(database));
  if (!connection) return false;
  try {
    await connection.write(new TextEncoder().encode(`${line}\n`));
    return true;
  } catch {
    return false;
  } finally {
    connection.close();
  }
}

/**
 * Asks a database's scheduler to stop a message it runs (it owns the process group, so only it
 * can be sure whose group it signals).
 *
 * @param database The database.
 * @param id The message id.
 * @returns Whether a scheduler heard it.
 */
export function askSchedulerToCancel(database: string, id: string): Promise<boolean> {
  return tellScheduler(database, `cancel ${id}`);
}

/** A connection that hears which messages the scheduler finishes. */
export class FinishListener implements Disposable {
  #connection: Deno.UnixConn;
  #lines: AsyncIterator<string>;

  private constructor(connection: Deno.UnixConn) {
    this.#connection = connection;
    this.#lines = connection.readable.pipeThrough(new TextDecoderStream()).pipeThrough(
      new LineSplitter(),
    )[Symbol.asyncIterator]();
  }

  /**
   * Connects to a database's scheduler.
   *
   * @param database The database.
   * @returns The listener, or undefined when no scheduler is running.
   */
  static async connect(database: string): Promise<FinishListener | undefined> {
    const connection = await connectQuietly(socketPathOf(database));
    return connection ? new FinishListener(connection) : undefined;
  }

  /**
   * Waits for the next finished message or the connection's end.
   *
   * @returns The id of a finished message, or undefined when the scheduler went away.
   */
  async next(): Promise<string | undefined> {
    while (true) {
      const line = await this.#lines.next().catch(() => ({ done: true, value: "" }));
      if (line.done) return undefined;
      const match = /^finished (\S+)$/.exec(line.value);
      if (match) return match[1];
    }
  }

  /**
   * Waits for a delivery or a change by hand (a mark, a delete); a finish alone does not count.
   *
   * @returns False when the scheduler went away.
   */
  async changed(): Promise<boolean> {
    while (true) {
      const line = await this.#lines.next().catch(() => ({ done: true, value: "" }));
      if (line.done) return false;
      if (line.value === "changed") return true; // a finish alone brings no new message
    }
  }

  /** Closes the connection. */
  [Symbol.dispose](): void {
    try {
      this.#connection.close();
    } catch {
      // already closed by the peer
    }
  }
}

/** The scheduler's side: accepts rings and announces finished messages. */
export class Doorbell implements Disposable {
  #listener: Deno.UnixListener;
  #path: string;
  #clients = new Set<Deno.UnixConn>();
  #onRing: () => void;
  #onCancel: (id: string) => void;

  private constructor(
    listener: Deno.UnixListener,
    path: string,
    onRing: () => void,
    onCancel: (id: string) => void,
  ) {
    this.#listener = listener;
    this.#path = path;
    this.#onRing = onRing;
    this.#onCancel = onCancel;
    this.#accept();
  }

  /**
   * Listens on the database's socket, replacing a stale one. Call only while holding the
   * scheduler lock, so a live scheduler's socket is never removed.
   *
   * @param database The database.
   * @param onRing Called for each ring.
   * @param onCancel Called when someone asks to stop a running message.
   * @returns The doorbell.
   */
  static listen(
    database: string,
    onRing: () => void,
    onCancel: (id: string) => void = () => {},
  ): Doorbell {
    const path = socketPathOf(database);
    try {
      Deno.removeSync(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return new Doorbell(Deno.listen({ transport: "unix", path }), path, onRing, onCancel);
  }

  /**
   * Tells every connected waiter that a message finished.
   *
   * @param id The message id.
   */
  announceFinished(id: string): void {
    this.#announce(`finished ${id}`);
  }

  #announce(text: string): void {
    const line = new TextEncoder().encode(`${text}\n`);
    for (const client of this.#clients) client.write(line).catch(() => this.#drop(client));
  }

  async #accept(): Promise<void> {
    try {
      for await (const client of this.#listener) this.#serve(client);
    } catch {
      // listener closed
    }
  }

  async #serve(client: Deno.UnixConn): Promise<void> {
    this.#clients.add(client);
    try {
      const lines = client.readable.pipeThrough(new TextDecoderStream())
        .pipeThrough(new LineSplitter());
      for await (const line of lines) {
        const cancel = /^cancel (\S+)$/.exec(line);
        if (cancel) {
          this.#onCancel(cancel[1]);
          continue;
        }
        this.#onRing();
        this.#announce("changed"); // for those waiting for the next message
      }
    } catch {
      // client went away
    } finally {
      this.#drop(client);
    }
  }

  #drop(client: Deno.UnixConn): void {
    if (!this.#clients.delete(client)) return;
    try {
      client.close();
    } catch {
      // already closed
    }
  }

  /** Stops listening and disconnects waiters. */
  [Symbol.dispose](): void {
    this.#listener.close();
    for (const client of this.#clients) this.#drop(client);
    try {
      Deno.removeSync(this.#path);
    } catch {
      // already gone
    }
  }
}

async function connectQuietly(path: string): Promise<Deno.UnixConn | undefined> {
  try {
    return await Deno.connect({ transport: "unix", path });
  } catch {
    return undefined; // no socket, or a stale one nobody listens on
  }
}

class LineSplitter extends TransformStream<string, string> {
  constructor() {
    let buffer = "";
    super({
      transform(chunk, controller) {
        buffer += chunk;
        const lines = buffer.split("\n");
        buffer = lines.pop() ?? "";
        for (const line of lines) controller.enqueue(line);
      },
    });
  }
}
