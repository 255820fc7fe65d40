/**
 * One connection per member: every delivery and inbox call from this process to a member's inbox
 * server rides one connection (through the forward on the shared ssh connection, or a sandbox's
 * socket), its requests pipelined by id. Invariants:
 *
 * - one connection per destination and ssh settings at a time; a second caller waits for the
 *   first one's connecting instead of making its own;
 * - a connection is reused while it answers; one that broke, or on which a call was given up, is
 *   not handed out again, and the next call makes a new one ({@link connectToMember});
 * - a request whose connection broke before its answer came is sent again only when asking twice
 *   does what asking once does (`retry: "idempotent"`: a delivery by its id, a read); any other
 *   (a cancel, a `next`) fails as before, and its caller settles it;
 * - a kept connection never keeps the process alive by itself: it holds it only while a call
 *   waits, and closes after 30 s without one;
 * - each call keeps its own timeout, and a reply is believed up to the same size as before
 *   (`MAX_REMOTE_REPLY_BYTES`), or up to the size a reader asked for: a reader's connections
 *   (`start: false`, a smaller size) are kept apart from deliveries', one per size.
 *
 * @module
 */

import { ServerConnectionError } from "../errors.ts";
import type { RetryPolicy, Ssh } from "../ssh.ts";
import type { CallOptions, ServerConnection } from "./server_connection.ts";
import type { OperationName, ServerOperations } from "./server_protocol.ts";
import { connectToMember } from "./tunnel.ts";

/** How long a kept connection stays open without a call: its server and forward are freed. */
const IDLE_CLOSE_MS = 30_000;

// Sends of one request, at most, when its connection keeps breaking before the answer.
const ATTEMPTS = 3;

/** Options for {@link MemberServer.call}. */
export interface MemberCallOptions<E> extends CallOptions<E> {
  /**
   * When a request whose connection broke before its answer is sent again, on a new connection:
   * `idempotent` always (asking twice does what asking once does); `connect` only when it was
   * surely not sent.
   *
   * @default {"connect"}
   */
  retry?: RetryPolicy;
}

/**
 * A member's inbox server as this process reaches it: one kept connection, shared by every
 * caller, made again when it breaks.
 */
export class MemberServer {
  /** The SSH destination (or a sandbox's home). */
  readonly destination: string;
  /** The member's address, for messages. */
  readonly address: string;
  readonly #ssh: Ssh;
  readonly #options: ReachOptions;
  #connection: ServerConnection | undefined;
  #connecting: Promise<ServerConnection | undefined> | undefined;

  /**
   * A member's server, not connected yet.
   *
   * @param destination The SSH destination (or a sandbox's home).
   * @param ssh The ssh client whose shared connection carries the forward.
   * @param address The member's address.
   * @param options Whether connecting may start a stopped server, and the longest reply.
   */
  constructor(destination: string, ssh: Ssh, address: string, options: ReachOptions = {}) {
    this.destination = destination;
    this.address = address;
    this.#ssh = ssh;
    this.#options = options;
  }

  /**
   * Sends a request on the kept connection (made first when there is none that answers) and
   * waits for its answer; when the connection breaks first, sends it again on a new one as
   * `retry` allows.
   *
   * @param op The operation.
   * @param args Its arguments.
   * @param options Timeout, events, cancellation, and when to send again.
   * @returns The answer.
   * @throws {OhcommodoreError} The server's error, as its own class where known.
   * @throws {ServerConnectionError} When the connection broke (and the request may not be sent
   *   again), no connection could be made again, or the answer did not come in time.
   */
  async call<K extends OperationName>(
    op: K,
    args: ServerOperations[K]["args"],
    options: MemberCallOptions<ServerOperations[K]["event"]> = {},
  ): Promise<ServerOperations[K]["value"]> {
    let lost: unknown;
    for (let tries = 0, sent = 0; sent < ATTEMPTS && tries < 2 * ATTEMPTS; tries++) {
      const connection = await this.connection().catch((error) => {
        throw lost ?? error;
      });
      if (!connection) {
        throw lost ?? new ServerConnectionError(`The inbox server of ${this.address} is gone`);
      }
      // Broke while this waited: nothing was sent on it, so any request may go on a new one.
      if (!connection.reusable) continue;
      sent++;
      try {
        return await connection.call(op, args, options);
      } catch (error) {
        // A broken connection (not a timeout, not the server's own answer): maybe carried out.
        if (!(error instanceof ServerConnectionError) || !connection.broken) throw error;
        if ((options.retry ?? "connect") !== "idempotent") throw error;
        lost = error;
      }
    }
    throw lost ?? new ServerConnectionError(`The inbox server of ${this.address} keeps hanging up`);
  }

  /**
   * The kept connection when it still takes calls, else a new one (one at a time).
   *
   * @returns The connection, or undefined when only exec reaches the member now.
   * @throws {SshError} When the member cannot be reached at all.
   */
  connection(): Promise<ServerConnection | undefined> {
    if (this.#connection?.reusable) return Promise.resolve(this.#connection);
    this.#connection = undefined;
    this.#connecting ??= connectToMember(this.destination, this.#ssh, this.address, this.#options)
      .then((connection) => {
        connection?.keepForReuse(IDLE_CLOSE_MS);
        this.#connection = connection;
        return connection;
      })
      .finally(() => this.#connecting = undefined);
    return this.#connecting;
  }

  /** Whether it holds a connection that takes calls, or is making one. */
  get holding(): boolean {
    return this.#connecting !== undefined || this.#connection?.reusable === true;
  }

  /** Lets the connection go: it takes no new calls and closes once those waiting are answered. */
  retire(): void {
    this.#connection?.retire();
    this.#connection = undefined;
  }
}

/** How a kept connection is made, for a reader. */
export interface ReachOptions {
  /**
   * Start the member's server when none runs (a reader leaves a stopped one stopped).
   *
   * @default {true}
   */
  start?: boolean;
  /**
   * The longest reply believed on the connection.
   *
   * @default {MAX_REMOTE_REPLY_BYTES}
   */
  maxReplyBytes?: number;
}

// This process's members, by destination, ssh settings and how their connections are made.
const KEPT = new Map<string, MemberServer>();

/**
 * The member at a destination as this process reaches it: its kept connection when one answers,
 * else a new one, kept from now on.
 *
 * @param destination An SSH destination, or a sandbox's home.
 * @param ssh The ssh client; its settings choose the shared connection (and so the forward).
 * @param address The member's address, for messages.
 * @param options For a reader: leave a stopped server stopped, believe replies up to a size.
 * @returns The member's server, or undefined when only exec reaches it (forwards refused or
 *   not shared, or, for a sandbox, no server running; for a reader, none running).
 * @throws {SshError} When the member cannot be reached at all.
 */
export async function reachMember(
  destination: string,
  ssh: Ssh,
  address: string,
  options: ReachOptions = {},
): Promise<MemberServer | undefined> {
  // A sandbox is its home; an ssh member also its ssh settings (they choose the forward). How
  // connections are made keeps a reader's apart from deliveries'.
  const where = destination.startsWith("/")
    ? destination
    : `${destination}\0${JSON.stringify(ssh.settings)}`;
  const key = `${where}\0${options.start ?? true}\0${options.maxReplyBytes ?? ""}`;
  let member = KEPT.get(key);
  if (!member) {
    // Members whose connection ended are forgotten now, so a long-lived process (a flagship
    // whose ships come and go) keeps only those it still talks to.
    for (const [kept, other] of KEPT) if (!other.holding) KEPT.delete(kept);
    member = new MemberServer(destination, ssh, address, options);
    KEPT.set(key, member);
  }
  return await member.connection() ? member : undefined;
}

/**
 * Lets every kept connection of this process go (as a fleet's dispose does): each takes no new
 * calls and closes once the calls waiting on it are answered. Later calls make new ones.
 */
export function closeMemberConnections(): void {
  for (const member of [...KEPT.values()]) member.retire();
}
