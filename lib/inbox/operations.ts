/**
 * What an inbox operation does with the database, the same whether the inbox server carries it
 * out or a process that found no server opens the file itself: checking a delivery, the plain
 * reads and changes, and the first step of a cancel.
 *
 * @module
 */

import { parseAddress } from "../address.ts";
import { formatDuration, MAX_DURATION_MS } from "../duration.ts";
import { DeliveryRefusedError, UsageError } from "../errors.ts";
import { type Identity, identityAddress } from "../identity.ts";
import {
  DEFAULT_COMMAND_TIMEOUT_MS,
  type Delivery,
  type Message,
  newMessageId,
  parseMessageId,
} from "./message.ts";
import type { OperationName, ServerOperations } from "./server_protocol.ts";
import type { AcceptedDelivery } from "./insert_deliveries.ts";
import type { InboxStore } from "./store.ts";

/** The largest command an inbox accepts. */
export const MAX_COMMAND_BYTES = 1024 * 1024;

/**
 * Checks a delivery against the member it reached.
 *
 * @param identity The member.
 * @param delivery The message as the sender handed it over (from JSON: anything may be wrong).
 * @returns What to store.
 * @throws {DeliveryRefusedError} When it is addressed to another member or malformed.
 */
export function acceptDelivery(identity: Identity, delivery: Delivery): AcceptedDelivery {
  const address = identityAddress(identity);
  const refuse = (why: string) => new DeliveryRefusedError(`${address} refused ${why}`);
  const kind = delivery?.kind ?? "command";
  if (kind !== "command" && kind !== "note") {
    throw refuse(`a message of kind ${JSON.stringify(kind)}: give "command" or "note"`);
  }
  if (delivery.hold !== undefined && typeof delivery.hold !== "boolean") {
    throw refuse(`a hold that is not true or false (${JSON.stringify(delivery.hold)})`);
  }
  if (typeof delivery.command !== "string" || delivery.command.trim() === "") {
    throw refuse(
      kind === "note" ? "an empty note: give its text" : "an empty command: give the shell " +
        "command to run",
    );
  }
  if (new TextEncoder().encode(delivery.command).length > MAX_COMMAND_BYTES) {
    throw refuse(`a command larger than ${MAX_COMMAND_BYTES} bytes`);
  }
  const to = parseAddress(String(delivery.recipient));
  const byName = !delivery.viaDestination || to.host === identity.name;
  if (to.role !== identity.role || (byName && to.host !== identity.name)) {
    throw refuse(`a message for "${delivery.recipient}": this member is ${address}`);
  }
  if (delivery.sender !== undefined && delivery.sender !== null) {
    if (typeof delivery.sender !== "string") {
      throw refuse(
        `a sender that is not an address (${JSON.stringify(delivery.sender)}): give one like ` +
          `local@laptop`,
      );
    }
    parseAddress(delivery.sender);
  }
  if (delivery.id !== undefined && typeof delivery.id !== "string") {
    throw refuse(`an id that is not a string (${JSON.stringify(delivery.id)})`);
  }
  const quota = delivery.quota;
  if (
    quota !== undefined &&
    !(isCount(quota?.messages) && isCount(quota?.bytes) && typeof delivery.sender === "string")
  ) {
    throw refuse(`a quota that is not {"messages", "bytes"} as whole numbers, with a sender`);
  }
  const id = delivery.id === undefined ? newMessageId() : parseMessageId(delivery.id);
  const timeoutMs = delivery.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  // Checked here too, for senders elsewhere: their JSON must not reach DuckDB unchecked.
  if (typeof timeoutMs !== "number" || !(timeoutMs > 0) || !(timeoutMs <= MAX_DURATION_MS)) {
    throw refuse(
      `a timeout of "${String(timeoutMs)}" ms: give milliseconds above 0 and at most ` +
        `${MAX_DURATION_MS} (${formatDuration(MAX_DURATION_MS)})`,
    );
  }
  return {
    id,
    command: delivery.command,
    sender: delivery.sender ?? null,
    timeoutSec: Math.max(1, Math.ceil(timeoutMs / 1000)),
    status: kind === "note" ? "note" : delivery.hold ? "held" : "unread",
    ...(quota ? { quota: { messages: quota.messages, bytes: quota.bytes } } : {}),
  };
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** A delivery as stored: the message, and whether this delivery stored it (not an earlier one). */
export interface StoredDelivery {
  /** The message as it is in the inbox. */
  message: Message;
  /** False for a repeat of a delivery that was stored before. */
  created: boolean;
}

/**
 * Stores checked deliveries together (one look-up, one insert).
 *
 * @param store The inbox.
 * @param batch The deliveries.
 * @returns For each, in order: what was stored, or the refusal of one whose id another message
 *   has.
 */
export async function storeDeliveries(
  store: InboxStore,
  batch: readonly AcceptedDelivery[],
): Promise<(StoredDelivery | DeliveryRefusedError)[]> {
  const results = await store.insertMany(batch);
  return results.map((result, i) => {
    if (!("refused" in result)) return result;
    const { id, sender, quota } = batch[i];
    if (result.refused === "taken") {
      return new DeliveryRefusedError(
        `${store.address} refused message "${id}": another message has that id; send it with a ` +
          `new id (or none)`,
      );
    }
    const { messages, bytes } = result.waiting;
    return new DeliveryRefusedError(
      `${store.address} refused message "${id}": ${sender} has ${messages} message(s) of ` +
        `${formatBytes(bytes)} waiting there (unread, held or notes), and may have at most ` +
        `${quota!.messages} or ${formatBytes(quota!.bytes)}; wait until they run, are approved ` +
        `or are deleted there`,
    );
  });
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes} bytes`;
}

type StoreOperation<K extends OperationName> = (
  store: InboxStore,
  args: ServerOperations[K]["args"],
) => Promise<ServerOperations[K]["value"]>;

/** The operations that are one read or change of the database, and whether each changes it. */
export const STORE_OPERATIONS: {
  [K in "get" | "list" | "markRead" | "markDone" | "markError" | "delete" | "counts" | "query"]: {
    run: StoreOperation<K>;
    changes: boolean;
  };
} = {
  get: { run: (store, args) => store.get(String(args.id)), changes: false },
  list: { run: (store, args) => store.list(args), changes: false },
  markRead: { run: (store, args) => store.markRead(String(args.id)), changes: true },
  markDone: { run: (store, args) => store.markDone(String(args.id)), changes: true },
  markError: {
    run: (store, args) => store.markError(String(args.id), args.reason),
    changes: true,
  },
  delete: { run: (store, args) => store.delete(String(args.id)), changes: true },
  counts: { run: (store) => store.counts(), changes: false },
  query: { run: (store, args) => store.query(args.sql), changes: false },
};

/** Where a cancel stands after its first step. */
export type CancelStep =
  | { outcome: "removed" | "finished"; message: Message }
  | { outcome: "running"; message: Message };

/**
 * The first step of a cancel: removes the message when it has not started, says so when it has
 * finished, and marks it to be stopped when it runs (stopping it is its scheduler's part).
 *
 * @param store The inbox.
 * @param id The id or a unique prefix.
 * @returns What happened.
 * @throws {UsageError} For a message taken by hand: nothing runs it to stop.
 */
export async function cancelStep(store: InboxStore, id: string): Promise<CancelStep> {
  for (;;) {
    const message = await store.get(id);
    if (message.status === "pending") {
      throw new UsageError(
        `Message "${message.id}" was taken by hand ("inbox read"), so nothing runs it to stop`,
        { next: `mark it with "ohcommodore inbox done" or "inbox error", or delete it` },
      );
    }
    if (message.status === "unread") {
      if (await store.removeUnread(message.id)) return { outcome: "removed", message };
      continue; // claimed meanwhile: look again
    }
    if (message.status !== "running") return { outcome: "finished", message };
    await store.markCancelled(message.id);
    return { outcome: "running", message };
  }
}
