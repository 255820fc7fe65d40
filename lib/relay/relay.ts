/**
 * The flagship's relay: what it does with a message that came through a keyless ship's channel
 * (handed over on the channel's socket, or collected from the ship's outbox). The sender is the
 * ship the channel belongs to, whatever the message claims; the recipient must be a member of
 * the fleet, named (never a destination: the flagship is no ssh proxy); the policy decides
 * whether it runs, waits for approval, or is refused, and the sender hears the rule.
 *
 * @module
 */

import { oneLine } from "../clip.ts";
import { type Address, formatAddress, parseAddress } from "../address.ts";
import { DeliveryRefusedError, NotFoundError, OhcommodoreError } from "../errors.ts";
import { Inbox } from "../inbox/inbox.ts";
import type { FinishedMessage, Message, SenderQuota } from "../inbox/message.ts";
import { MAX_COMMAND_BYTES } from "../inbox/operations.ts";
import { type DeliverRequest, PROTOCOL_VERSION } from "../inbox/exec_delivery.ts";
import { RemoteInbox } from "../inbox/remote_inbox.ts";
import { deliverOverSsh } from "../inbox/remote_delivery.ts";
import type { Ssh } from "../ssh.ts";
import { decide, type Policy } from "./policy.ts";

/** What the relay needs to know of the fleet. */
export interface RelayContext {
  /** The flagship's home. */
  home: string;
  /** The flagship's VM name. */
  flagship: string;
  /** The ssh client that reaches the ships. */
  ssh: Ssh;
  /** Where a ship lives and whether it is trusted, by exact name; undefined for no such ship. */
  shipOf: (name: string) => Promise<{ destination: string; trusted: boolean } | undefined>;
  /** The policy in force. */
  policy: () => Promise<Policy>;
  /** Writes a line to the flagship's log. */
  log: (line: string) => void;
}

/**
 * The most a keyless ship may have waiting at any one member (unread, held or notes): past it,
 * the recipient refuses what the ship sends until some of it has run or been dealt with.
 */
export const SHIP_QUOTA: SenderQuota = { messages: 100, bytes: 16 * 1024 * 1024 };

// Where a ship's message goes: the flagship (no destination) or a ship, trusted or not.
type Target = { address: string; destination: string | null; trusted: boolean };

// What a ship sent, as it may go into the flagship's log: one line, and not much of it.
function clip(text: string): string {
  return oneLine(JSON.stringify(text).slice(1, -1), 200);
}

/** Relays messages from keyless ships. */
export class Relay {
  readonly #context: RelayContext;
  #inbox?: Promise<Inbox>;

  /**
   * A relay for one flagship.
   *
   * @param context The flagship, its ships, its policy and its log.
   */
  constructor(context: RelayContext) {
    this.#context = context;
  }

  /**
   * Relays one message a ship sent.
   *
   * @param ship The VM name of the ship whose channel it came through.
   * @param raw The message as the ship handed it over (anything may be wrong with it).
   * @returns The message as the recipient stored it (`held` when it awaits approval).
   * @throws {DeliveryRefusedError} When it is malformed, claims another sender, is for no fleet
   *   member, or the policy refuses it: naming the rule.
   */
  async relay(ship: string, raw: unknown): Promise<Message> {
    const from = formatAddress({ role: "captain", host: ship });
    const message = checkShape(raw, from);
    const refuse = (rule: string) => {
      this.#context.log(
        `relay: refused ${message.id} from ${from} to ${clip(message.recipient)}: ${clip(rule)}`,
      );
      return new DeliveryRefusedError(
        `The flagship refused message "${message.id}" from ${from} to ${message.recipient}: ${rule}`,
      );
    };
    if (message.sender !== undefined && message.sender !== from) {
      throw refuse(
        `it claims to come from ${JSON.stringify(message.sender)}, but its channel is ${from}'s ` +
          `(the sender is who the channel says)`,
      );
    }
    const target = await this.#target(message.recipient).catch((error) => {
      throw refuse((error as Error).message);
    });
    const decision = decide(await this.#context.policy(), {
      toFlagship: target.destination === null,
      toTrusted: target.trusted,
      kind: message.kind ?? "command",
      command: message.command,
    });
    if (decision.action === "refuse") throw refuse(decision.rule);
    const request: DeliverRequest = {
      version: PROTOCOL_VERSION,
      id: message.id,
      sender: from,
      recipient: target.address,
      viaDestination: false,
      command: message.command,
      timeoutMs: message.timeoutMs,
      ...(message.kind === "note" ? { kind: "note" as const } : {}),
      ...(decision.action === "hold" ? { hold: true } : {}),
      quota: SHIP_QUOTA,
    };
    const stored =
      await (target.destination === null
        ? this.#flagshipInbox().then((inbox) => inbox.deliver(request))
        : deliverOverSsh(target.destination, request, this.#context.ssh)).catch((error) => {
          // The recipient's own refusal (a ship over its quota, say) is logged here too.
          if (error instanceof DeliveryRefusedError) refuse(error.message);
          throw error;
        });
    if (decision.action === "hold") {
      this.#context.log(
        `relay: ${stored.id} from ${from} held for approval (${decision.rule}); ` +
          `"ohcommodore inbox approve ${stored.id}" runs it`,
      );
    }
    return stored;
  }

  /**
   * Waits for a message the ship sent to finish, and returns it.
   *
   * @param ship The VM name of the ship whose channel asks.
   * @param raw `{ id, recipient, timeoutMs? }`.
   * @returns The finished message.
   * @throws {NotFoundError} When the recipient has no message by that id from this ship.
   */
  async wait(ship: string, raw: unknown): Promise<FinishedMessage> {
    const from = formatAddress({ role: "captain", host: ship });
    const args = (raw ?? {}) as { id?: unknown; recipient?: unknown; timeoutMs?: unknown };
    if (typeof args.id !== "string" || typeof args.recipient !== "string") {
      throw new DeliveryRefusedError(`A wait needs the message's "id" and "recipient"`);
    }
    const id = args.id;
    const timeoutMs = typeof args.timeoutMs === "number" ? args.timeoutMs : undefined;
    const target = await this.#target(args.recipient);
    const inbox = target.destination === null
      ? await this.#flagshipInbox()
      : new RemoteInbox(target.address, target.destination, this.#context.ssh);
    // Only its own messages, by their exact ids; whatever else is there, the answer is the same,
    // so a ship learns nothing of what others sent.
    const missing = new NotFoundError(`${target.address} has no message "${id}" from ${from}`, {
      query: id,
    });
    if (!SHIP_ID.test(id)) throw missing;
    const message = await inbox.get(id).catch(() => undefined);
    if (message?.id !== id || message.sender !== from) throw missing;
    return await inbox.waitFor(id, { timeoutMs });
  }

  // The flagship's own inbox, opened once (opening reads its identity; the inbox holds no handle).
  #flagshipInbox(): Promise<Inbox> {
    return this.#inbox ??= Inbox.open({ home: this.#context.home }).catch((error) => {
      this.#inbox = undefined; // asked again next time
      throw error;
    });
  }

  // A fleet member by name: the flagship, or a ship of the registry.
  async #target(recipient: string): Promise<Target> {
    const address: Address = parseAddress(recipient);
    const text = formatAddress(address);
    if (address.host === this.#context.flagship) {
      if (address.role !== "commodore") {
        throw new OhcommodoreError(`${text} is not a member: the flagship is commodore@`);
      }
      return { address: text, destination: null, trusted: true };
    }
    const ship = address.role === "captain" ? await this.#context.shipOf(address.host) : undefined;
    if (ship === undefined) {
      throw new OhcommodoreError(
        `${text} is not a member of this fleet (a keyless ship reaches the flagship and ships ` +
          `by name only)`,
      );
    }
    return { address: text, destination: ship.destination, trusted: ship.trusted };
  }
}

const SHIP_ID = /^[0-9a-f]{16}$/;

interface ShipMessage {
  id: string;
  recipient: string;
  command: string;
  timeoutMs: number;
  kind?: "command" | "note";
  sender?: string;
}

// What a ship hands over, checked field by field: the ship may run anything.
function checkShape(raw: unknown, from: string): ShipMessage {
  const data = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
  const refuse = (what: string) =>
    new DeliveryRefusedError(`The flagship refused a message from ${from}: ${what}`);
  // Ids as ohcommodore makes them: a ship cannot pick a short one that a person's prefix (in
  // "inbox approve 3f9a") would take for another's.
  if (typeof data.id !== "string" || !SHIP_ID.test(data.id)) {
    throw refuse(`its "id" is not 16 lowercase hex characters`);
  }
  const id = data.id;
  if (typeof data.recipient !== "string") throw refuse(`it has no "recipient" string`);
  if (typeof data.command !== "string" || data.command.trim() === "") {
    throw refuse(`it has no command or note text`);
  }
  if (new TextEncoder().encode(data.command).length > MAX_COMMAND_BYTES) {
    throw refuse(`its command is larger than ${MAX_COMMAND_BYTES} bytes`);
  }
  const timeoutMs = data.timeoutMs ?? 30 * 60_000;
  if (typeof timeoutMs !== "number") {
    throw refuse(`its "timeoutMs" is ${JSON.stringify(timeoutMs)}, not a number of milliseconds`);
  }
  if (data.kind !== undefined && data.kind !== "command" && data.kind !== "note") {
    throw refuse(`its kind ${JSON.stringify(data.kind)} is neither "command" nor "note"`);
  }
  if (data.sender !== undefined && typeof data.sender !== "string") {
    throw refuse(`its "sender" is not a string`);
  }
  return {
    id,
    recipient: data.recipient,
    command: data.command,
    timeoutMs,
    ...(data.kind ? { kind: data.kind as "command" | "note" } : {}),
    ...(data.sender === undefined ? {} : { sender: data.sender as string }),
  };
}
