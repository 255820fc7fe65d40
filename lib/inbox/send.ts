/**
 * Sending a command to any member's inbox: this one's directly, another's over ssh.
 *
 * @module
 */

import { type Address, formatAddress, parseAddress } from "../address.ts";
import { UsageError } from "../errors.ts";
import { identityAddress, readIdentity } from "../identity.ts";
import { checkTimeoutAndWait, WAIT_MARGIN_MS } from "../duration.ts";
import { Ssh } from "../ssh.ts";
import { Inbox } from "./inbox.ts";
import {
  DEFAULT_COMMAND_TIMEOUT_MS,
  isFinished,
  type Message,
  newMessageId,
  parseMessageId,
  replayOutput,
  type SendResult,
} from "./message.ts";
import { RemoteInbox } from "./remote_inbox.ts";
import type { OutputChunk } from "./server_protocol.ts";
import { ensureScheduler } from "./scheduler_service.ts";
import { deliverOverSsh } from "./remote_delivery.ts";

export { DeliveryInterruptedError } from "./remote_delivery.ts";
import { type DeliverRequest, PROTOCOL_VERSION } from "./exec_delivery.ts";

/** Where an address leads. */
export interface Route {
  /** The SSH destination (or a local sandbox's home), or null when the address is this member. */
  destination: string | null;
  /** True when the destination came from the host part itself (an alias), not from a name. */
  viaDestination: boolean;
  /**
   * On a keyless ship: how the message goes to the flagship, which relays it (the destination
   * is then unused). The fleet's router supplies it; the inbox knows nothing of the relay.
   */
  relay?: RelayDelivery;
  /** The member's whole name, when the address gave a unique prefix of it. */
  name?: string;
}

/** Hands a delivery to the flagship's relay, as a keyless ship must (see `relay/ship_sender.ts`). */
export type RelayDelivery = (
  request: DeliverRequest,
  options: { home?: string; onQueued?: (reason: string) => void; signal?: AbortSignal },
) => Promise<SendResult>;

/** Turns an address into a route; the fleet supplies one that knows every member's name. */
export type Router = (address: Address) => Promise<Route>;

/** Options for {@link send}. */
export interface SendOptions {
  /**
   * How long the command may run on the recipient.
   *
   * @default {30 * 60_000}
   */
  timeoutMs?: number;
  /**
   * Wait for the command to finish and return its outcome.
   *
   * @default {false}
   */
  wait?: boolean;
  /**
   * How long to wait.
   *
   * @default {timeoutMs + 60_000}
   */
  waitMs?: number;
  /**
   * The sender's home (identity and inbox).
   *
   * @default {Deno.env.get("HOME")}
   */
  home?: string;
  /**
   * Finds how a message to an address travels (its route).
   *
   * @default {directRouter: the host part is itself the SSH destination}
   */
  route?: Router;
  /**
   * The ssh client.
   *
   * @default {new Ssh()}
   */
  ssh?: Ssh;
  /**
   * The message's id. Knowing it first lets a caller cancel it.
   *
   * @default {a new one}
   */
  id?: string;
  /** Stops the delivery, or the wait (the command itself is not stopped: cancel it). */
  signal?: AbortSignal;
  /**
   * With `wait`: told the command's output as it is written (stdout and stderr pieces), while
   * the send waits for it to finish.
   */
  onOutput?: (chunk: OutputChunk) => void;
  /**
   * Send a note: text the recipient stores and shows, never runs.
   *
   * @default {false}
   */
  note?: boolean;
  /** On a keyless ship: told when the message waits in the outbox for the flagship's channel. */
  onQueued?: (reason: string) => void;
}

/**
 * The default router: this member's own name is local (where a wrong role is refused); any
 * other host part is used as an SSH destination or `ssh_config` alias, as the original tool did.
 *
 * @example Treat every host part as an ssh destination
 * ```ts
 * import { send } from "@smithclay/ohcommodore";
 * import { directRouter } from "@smithclay/ohcommodore/inbox";
 * const route = directRouter({ role: "local", host: "laptop" });
 * await send("captain@my-ssh-alias", "uptime", { route });
 * ```
 *
 * @param self This member's address.
 * @returns The router.
 */
export function directRouter(self: Address): Router {
  return (address) =>
    Promise.resolve(
      address.host === self.host
        ? { destination: null, viaDestination: false }
        : { destination: address.host, viaDestination: true },
    );
}

/**
 * Delivers a shell command to a member's inbox, and optionally waits for its outcome. The
 * recipient starts its scheduler when none runs there (as `ohcommodore scheduler start` does).
 *
 * @example Run a command on a ship and wait for it
 * ```ts
 * import { send } from "@smithclay/ohcommodore";
 * const message = await send("captain@ship-web", "git -C ~/web pull", { wait: true });
 * console.log(message.exitCode, message.result);
 * ```
 *
 * @param to The recipient's address, e.g. `captain@ship-web`.
 * @param command The shell command (bash).
 * @param options Timeout, waiting, route and ssh client.
 * @returns The message as stored, or as finished when waiting; on a keyless ship whose channel
 *   to the flagship is down, `queued` in its outbox (the flagship delivers it later).
 * @throws {UsageError} For a malformed address or an empty command, and for waiting on this
 *   member from a command its own scheduler runs (it would wait for itself).
 * @throws {DeliveryRefusedError} When the recipient refuses it.
 * @throws {SchedulerNotStartedError} When it was stored, but no scheduler runs there and none
 *   could be started: nothing will run it until one does.
 * @throws {SshError} When the recipient cannot be reached.
 * @throws {DeliveryInterruptedError} When the connection broke part way and the message, looked
 *   up by its id, is there but not finished (or not there, or cannot be looked up). A delivered
 *   message that the look-up finds finished (or any, when not waiting) is returned instead.
 */
export function send(
  to: string,
  command: string,
  options: SendOptions & { wait: true },
): Promise<Message>;
/**
 * Delivers a shell command without waiting (see the overload above for the whole story).
 *
 * @param to The recipient's address.
 * @param command The shell command (bash).
 * @param options Timeout, route and ssh client.
 * @returns The message as stored, or `queued` in a keyless ship's outbox.
 */
export function send(to: string, command: string, options?: SendOptions): Promise<SendResult>;
export async function send(
  to: string,
  command: string,
  options: SendOptions = {},
): Promise<SendResult> {
  const address = parseAddress(to);
  checkTimeoutAndWait(options); // before anything else: a timer past 2^31-1 ms fires at once
  if (command.trim() === "") {
    throw new UsageError(
      options.note
        ? `Cannot send an empty note to ${to}: give its text`
        : `Cannot send an empty command to ${to}: give the shell command to run`,
    );
  }
  if (options.note && options.wait) {
    throw new UsageError(`A note is never run, so there is nothing to wait for: drop --wait`);
  }
  const identity = await readIdentity(options.home);
  const self: Address = { role: identity.role, host: identity.name };
  const route = await (options.route ?? directRouter(self))(address);
  const local = route.destination === null && !route.relay;
  const running = local && options.wait ? runningMessage(self) : undefined;
  if (running) {
    throw new UsageError(
      `Cannot wait for a message to ${formatAddress(self)} from inside its own scheduler ` +
        `(this command is message "${running}"): the scheduler runs one command at a time, so ` +
        `the message would wait for this one to end; send it without --wait`,
    );
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const waitMs = options.wait ? options.waitMs ?? timeoutMs + WAIT_MARGIN_MS : undefined;
  const request: DeliverRequest = {
    version: PROTOCOL_VERSION,
    id: options.id === undefined ? newMessageId() : parseMessageId(options.id),
    sender: identityAddress(identity),
    recipient: formatAddress(route.name ? { ...address, host: route.name } : address),
    viaDestination: route.viaDestination,
    command,
    timeoutMs,
    ...(options.note ? { kind: "note" as const } : {}),
    ...(waitMs === undefined ? {} : { waitMs }),
  };
  if (route.relay) {
    const message = await route.relay(request, options);
    // The channel carries no live output: a follower hears it all at the end.
    if (options.onOutput && message.status !== "queued" && isFinished(message)) {
      replayOutput(message, options.onOutput);
    }
    return message;
  }
  if (route.destination === null) {
    const inbox = await Inbox.open({ home: options.home, identity });
    const message = await inbox.deliver(request);
    await ensureScheduler(inbox, message);
    if (waitMs === undefined) return message;
    if (options.onOutput) return await inbox.follow(message.id, options.onOutput, options);
    return await inbox.waitFor(message.id, { timeoutMs: waitMs });
  }
  const ssh = options.ssh ?? new Ssh();
  if (waitMs === undefined || !options.onOutput) {
    return await deliverOverSsh(route.destination, request, ssh, options.signal);
  }
  // Delivered without waiting, then followed: the output comes as it is written.
  const { waitMs: _, ...noWait } = request;
  const message = await deliverOverSsh(route.destination, noWait, ssh, options.signal);
  return await new RemoteInbox(request.recipient, route.destination, ssh)
    .follow(message.id, options.onOutput, options);
}

/**
 * The id of the message this process runs as, when this member's scheduler started it: the
 * scheduler puts the message's id and the member's address into each command's environment.
 */
function runningMessage(self: Address): string | undefined {
  try {
    const id = Deno.env.get("OHCOMMODORE_MESSAGE_ID");
    return id && Deno.env.get("OHCOMMODORE_ADDRESS") === formatAddress(self) ? id : undefined;
  } catch {
    return undefined; // no permission to read the environment: not a command of ours
  }
}
