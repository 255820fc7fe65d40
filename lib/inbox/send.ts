/**
 * Sending a command to any member's inbox: this one's directly, another's over ssh.
 *
 * @module
 */

import { type Address, formatAddress, parseAddress } from "../address.ts";
import { DeliveryRefusedError, RemoteCommandError, UsageError } from "../errors.ts";
import { identityAddress, readIdentity } from "../identity.ts";
import { channelFor } from "../channel.ts";
import { Ssh } from "../ssh.ts";
import { Inbox } from "./inbox.ts";
import {
  DEFAULT_COMMAND_TIMEOUT_MS,
  type Message,
  newMessageId,
  parseMessageId,
} from "./message.ts";
import {
  type DeliverReply,
  type DeliverRequest,
  PROTOCOL_VERSION,
  unwrapReply,
} from "./protocol.ts";

/** Where an address leads. */
export interface Route {
  /** The SSH destination (or a local sandbox's home), or null when the address is this member. */
  destination: string | null;
  /** True when the destination came from the host part itself (an alias), not from a name. */
  viaDestination: boolean;
}

/** Turns an address into a route; the fleet supplies one that knows every member's name. */
export type AddressResolver = (address: Address) => Promise<Route>;

/** The path of the program on every member, relative to its home. */
export const REMOTE_PROGRAM = "~/.local/bin/ohcommodore";

/** Options for {@link send}. */
export interface SendOptions {
  /** How long the command may run on the recipient. Default 30 minutes. */
  timeoutMs?: number;
  /** Wait for the command to finish and return its outcome. */
  wait?: boolean;
  /** How long to wait. Default: the command's timeout plus a minute. */
  waitMs?: number;
  /** The sender's home (identity and inbox); defaults to `$HOME`. */
  home?: string;
  /** Resolves addresses; by default the host part is itself the SSH destination. */
  resolve?: AddressResolver;
  /** The ssh client. */
  ssh?: Ssh;
  /** The message's id; by default a new one. Knowing it first lets a caller cancel it. */
  id?: string;
  /** Stops the delivery, or the wait (the command itself is not stopped: cancel it). */
  signal?: AbortSignal;
}

/**
 * The default resolver: this member's own name is local (where a wrong role is refused); any
 * other host part is used as an SSH destination or `ssh_config` alias, as the original tool did.
 *
 * @example Treat every host part as an ssh destination
 * ```ts
 * import { directResolver, send } from "@smithclay/ohcommodore";
 * const resolve = directResolver({ role: "local", host: "laptop" });
 * await send("captain@my-ssh-alias", "uptime", { resolve });
 * ```
 *
 * @param self This member's address.
 * @returns The resolver.
 */
export function directResolver(self: Address): AddressResolver {
  return (address) =>
    Promise.resolve(
      address.host === self.host
        ? { destination: null, viaDestination: false }
        : { destination: address.host, viaDestination: true },
    );
}

/**
 * Delivers a shell command to a member's inbox, and optionally waits for its outcome.
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
 * @param options Timeout, waiting, resolution and transport.
 * @returns The message as stored, or as finished when waiting.
 * @throws {UsageError} For a malformed address or an empty command, and for waiting on this
 *   member from a command its own scheduler runs (it would wait for itself).
 * @throws {DeliveryRefusedError} When the recipient refuses it.
 * @throws {SshError} When the recipient cannot be reached.
 */
export async function send(
  to: string,
  command: string,
  options: SendOptions = {},
): Promise<Message> {
  const address = parseAddress(to);
  if (command.trim() === "") {
    throw new UsageError(`Cannot send an empty command to ${to}: give the shell command to run`);
  }
  const identity = await readIdentity(options.home);
  const self: Address = { role: identity.role, host: identity.name };
  const route = await (options.resolve ?? directResolver(self))(address);
  const running = route.destination === null && options.wait ? runningMessage(self) : undefined;
  if (running) {
    throw new UsageError(
      `Cannot wait for a message to ${formatAddress(self)} from inside its own scheduler ` +
        `(this command is message "${running}"): the scheduler runs one command at a time, so ` +
        `the message would wait for this one to end; send it without --wait`,
    );
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const waitMs = options.wait ? options.waitMs ?? timeoutMs + 60_000 : undefined;
  const request: DeliverRequest = {
    version: PROTOCOL_VERSION,
    id: options.id === undefined ? newMessageId() : parseMessageId(options.id),
    sender: identityAddress(identity),
    recipient: formatAddress(address),
    viaDestination: route.viaDestination,
    command,
    timeoutMs,
    ...(waitMs === undefined ? {} : { waitMs }),
  };
  if (route.destination === null) {
    const inbox = await Inbox.open({ home: options.home, identity });
    const message = await inbox.deliver(request);
    return waitMs === undefined ? message : await inbox.waitFor(message.id, { timeoutMs: waitMs });
  }
  return await deliverOverSsh(route.destination, request, options.ssh ?? new Ssh(), options.signal);
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

async function deliverOverSsh(
  destination: string,
  request: DeliverRequest,
  ssh: Ssh,
  signal?: AbortSignal,
): Promise<Message> {
  // The request carries its id, so the recipient stores a repeated delivery once: retrying
  // after any ssh failure is safe.
  const result = await channelFor(destination, ssh).run([REMOTE_PROGRAM, "inbox", "_deliver"], {
    stdin: JSON.stringify(request),
    timeoutMs: (request.waitMs ?? 0) + 60_000,
    retry: "idempotent",
    signal,
  });
  let reply: DeliverReply;
  try {
    reply = JSON.parse(result.stdout);
  } catch {
    const tail = result.stderr.trim().split("\n").slice(-3).join("\n");
    const hint = result.code === 127
      ? `ohcommodore is not installed at ${REMOTE_PROGRAM} there`
      : `it answered with exit code ${result.code}`;
    throw new RemoteCommandError(
      destination,
      result.code,
      tail,
      `Cannot deliver to ${request.recipient} via "${destination}": ${hint}` +
        (tail ? `\n${tail}` : ""),
    );
  }
  if (!reply || typeof reply !== "object" || !("ok" in reply)) {
    throw new DeliveryRefusedError(`"${destination}" answered the delivery with an unknown reply`);
  }
  return unwrapReply(reply);
}
