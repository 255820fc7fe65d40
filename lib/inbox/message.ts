/**
 * Messages: what an inbox row looks like to library users.
 *
 * @module
 */

import { hexOf } from "../digest.ts";
import { UsageError } from "../errors.ts";
import { quote } from "../clip.ts";
import { parseWholeNumber } from "../whole_number.ts";

/**
 * Where a message is in its life: `unread → running → done | error`; a person or agent that takes
 * a message by hand (`inbox read`) marks it `pending`. A command a ship sent the flagship waits as
 * `held` until a person approves it (`inbox approve`, then `unread`); a `note` is stored and
 * shown, never run.
 */
export type MessageStatus = "unread" | "pending" | "running" | "done" | "error" | "held" | "note";

/**
 * Every status, in life order.
 *
 * @example Count messages by status
 * ```ts
 * import { Inbox } from "@smithclay/ohcommodore";
 * import { MESSAGE_STATUSES } from "@smithclay/ohcommodore/inbox";
 * const counts = await (await Inbox.open()).counts();
 * for (const status of MESSAGE_STATUSES) console.log(status, counts[status]);
 * ```
 */
export const MESSAGE_STATUSES: readonly MessageStatus[] = [
  "unread",
  "pending",
  "running",
  "done",
  "error",
  "held",
  "note",
];

/** Statuses after which a message will not change on its own. */
export const FINISHED_STATUSES: readonly MessageStatus[] = ["done", "error"];

/**
 * The default time a command may run: 30 minutes.
 *
 * @example Give a command twice the default time
 * ```ts
 * import { send } from "@smithclay/ohcommodore";
 * import { DEFAULT_COMMAND_TIMEOUT_MS } from "@smithclay/ohcommodore/inbox";
 * await send("captain@ship-web-k3f9a1b2", "make all", { timeoutMs: 2 * DEFAULT_COMMAND_TIMEOUT_MS });
 * ```
 */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30 * 60_000;

/** What every message has, whatever its status. */
export interface MessageFields {
  /** Unique id chosen by the sender; commands accept any unique prefix. */
  id: string;
  /** When the recipient accepted it (ISO 8601). */
  createdAt: string;
  /** The sender's address, e.g. `local@laptop`. */
  sender: string | null;
  /** The recipient's address. */
  recipient: string;
  /** The shell command, run with bash. */
  command: string;
  /** The command's stdout (the tail, when capped). */
  result: string | null;
  /** The command's stderr (the tail, when capped). */
  stderr: string | null;
  /** Why it ended in `error`: the exit code, a timeout, a stopped scheduler, or a note. */
  error: string | null;
  /** When the scheduler started it (ISO 8601). */
  startedAt: string | null;
  /** When it finished (ISO 8601). */
  finishedAt: string | null;
  /** How long the command may run before its process group is killed. */
  timeoutSec: number;
}

/** A message that has not finished: waiting, held for approval, taken by hand, or running. */
export interface OpenMessage extends MessageFields {
  /** Where it is in its life. */
  status: "unread" | "pending" | "running" | "held";
  /** No exit code yet. */
  exitCode: null;
}

/** A note: text for a person (a ship's report, say), stored and shown, never run. */
export interface NoteMessage extends MessageFields {
  /** Always `note`. */
  status: "note";
  /** Never run, so no exit code. */
  exitCode: null;
}

/**
 * A message a keyless ship sent while its flagship's channel did not answer: it waits in the
 * ship's outbox, and no inbox has it yet. Only {@link send} returns it; no inbox stores it.
 */
export interface QueuedMessage extends MessageFields {
  /** Always `queued`. */
  status: "queued";
  /** Not run yet, so no exit code. */
  exitCode: null;
}

/** A message that finished: it has an exit code (1 for one marked failed by hand). */
export interface FinishedMessage extends MessageFields {
  /** `done` for exit 0, `error` otherwise. */
  status: "done" | "error";
  /** The command's exit code (124 for a timeout). */
  exitCode: number;
}

/**
 * One inbox message and, once it ran, its outcome. Narrow it by `status`: a `done` or `error`
 * message has a numeric `exitCode`.
 *
 * @example Narrow a message by its status
 * ```ts
 * import type { Message } from "@smithclay/ohcommodore";
 * function exitCodeOf(message: Message): number | undefined {
 *   return message.status === "done" || message.status === "error" ? message.exitCode : undefined;
 * }
 * ```
 */
export type Message = OpenMessage | FinishedMessage | NoteMessage;

/**
 * What {@link send} returns: the message as the recipient stored it (or as it finished, when
 * waiting), or, on a keyless ship whose channel is down, as it waits in the outbox.
 *
 * @example Tell a delivered message from a queued one
 * ```ts
 * import { send } from "@smithclay/ohcommodore";
 * const sent = await send("captain@ship-web-k3f9a1b2", "make");
 * if (sent.status === "queued") console.log(`${sent.id} waits in this ship's outbox`);
 * ```
 */
export type SendResult = Message | QueuedMessage;

/**
 * Whether a message has finished.
 *
 * @example Act on a message only once it finished
 * ```ts
 * import { Inbox } from "@smithclay/ohcommodore";
 * import { isFinished } from "@smithclay/ohcommodore/inbox";
 * const inbox = await Inbox.open();
 * for (const message of await inbox.list()) {
 *   if (isFinished(message)) console.log(message.id, message.exitCode);
 * }
 * ```
 *
 * @param message The message.
 * @returns True for `done` and `error`.
 */
export function isFinished(message: Message): message is FinishedMessage {
  return message.status === "done" || message.status === "error";
}

/**
 * Tells a finished message's kept output, as a follower would have heard it: stdout, then
 * stderr (for a follower that comes after the end, or hears no live output on its way).
 *
 * @example Print what a finished command wrote
 * ```ts
 * import { Inbox } from "@smithclay/ohcommodore";
 * import { replayOutput } from "@smithclay/ohcommodore/inbox";
 * const inbox = await Inbox.open();
 * const finished = await inbox.waitFor("3f9a", { timeoutMs: 60_000 });
 * replayOutput(finished, (chunk) => console.log(chunk.stream, chunk.text));
 * ```
 *
 * @param message The finished message.
 * @param onOutput Told each kept stream that is not empty.
 */
export function replayOutput(
  message: FinishedMessage,
  onOutput: (chunk: { stream: "stdout" | "stderr"; text: string }) => void,
): void {
  if (message.result) onOutput({ stream: "stdout", text: message.result });
  if (message.stderr) onOutput({ stream: "stderr", text: message.stderr });
}

/**
 * The refusal to wait for a note to finish.
 *
 * @param id The note's id.
 * @returns The error.
 */
export function noteNeverFinishes(id: string): UsageError {
  return new UsageError(`Message "${id}" is a note: notes are stored and shown, never run`);
}

/**
 * Checks a status filter typed by a person.
 *
 * @param value The status text.
 * @returns The status.
 * @throws {UsageError} When it is not a known status.
 */
export function parseStatus(value: string): MessageStatus {
  if ((MESSAGE_STATUSES as readonly string[]).includes(value)) return value as MessageStatus;
  throw new UsageError(
    `Invalid status ${quote(value)}: use one of ${MESSAGE_STATUSES.join(", ")}`,
  );
}

/**
 * Checks the row limit of a listing: a whole number of at least 1 (DuckDB's LIMIT is a 64-bit
 * integer, and a number past 2^53 is no longer whole in JavaScript).
 *
 * @param limit The limit.
 * @returns The limit.
 * @throws {UsageError} When it is not a whole number from 1 to `Number.MAX_SAFE_INTEGER`.
 */
export function checkLimit(limit: unknown): number {
  return parseWholeNumber(limit, "limit");
}

/**
 * A new message id: 16 lowercase hex characters. Ids come from the sender, so a retried delivery
 * carries the same id and cannot be stored twice.
 *
 * @returns The id.
 */
export function newMessageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return hexOf(bytes);
}

const ID_PATTERN = /^[0-9a-z-]{1,64}$/;

/**
 * Validates a message id or id prefix typed by a person (an agent task's id is its message's).
 *
 * @param id The id.
 * @param what What the id names, for the message: `message` or `task`.
 * @returns The id, trimmed and lowercased.
 * @throws {UsageError} When it is empty, or has characters an id never has.
 */
export function parseMessageId(id: string, what: "message" | "task" = "message"): string {
  const normalized = String(id).trim().toLowerCase();
  if (normalized === "") {
    // An empty prefix would match every id: never "ambiguous", never all of them.
    throw new UsageError(`Invalid ${what} id "": give the id or a unique prefix of it`);
  }
  if (!ID_PATTERN.test(normalized)) {
    throw new UsageError(`Invalid ${what} id ${quote(id)}: ids are hex, e.g. 3f9a07c2b1d4e856`);
  }
  return normalized;
}

/** What a message is: a command to run, or a note to keep. */
export type MessageKind = "command" | "note";

/** A message as a sender hands it over. */
export interface Delivery {
  /** The command to run with bash. Must not be empty. */
  command: string;
  /** The address it is for, e.g. `captain@ship-web`. */
  recipient: string;
  /** The sender's address. */
  sender?: string;
  /**
   * The id; senders choose it so retries are idempotent.
   *
   * @default {a new one}
   */
  id?: string;
  /**
   * How long the command may run; at most 7 days.
   *
   * @default {30 * 60_000}
   */
  timeoutMs?: number;
  /**
   * `note` for text that is stored and shown, never run.
   *
   * @default {"command"}
   */
  kind?: MessageKind;
  /**
   * Store the command `held`: it runs only once a person approves it (`inbox approve`).
   *
   * @default {false}
   */
  hold?: boolean;
  /** Refuse it when its sender has this much waiting here already (the relay sets it). */
  quota?: SenderQuota;
  /**
   * Whether the address's host part was resolved to this member by an SSH destination or alias
   * rather than by name: then only the role must match.
   */
  viaDestination?: boolean;
}

/**
 * The most one sender may have waiting in an inbox: messages `unread`, `held` or kept as a
 * `note`, by count and by the bytes of their commands. The flagship's relay sets it on what
 * keyless ships send, so a ship cannot fill another member's disk, memory or listings.
 */
export interface SenderQuota {
  /** Messages at most. */
  messages: number;
  /** Bytes of commands (or note text) at most. */
  bytes: number;
}

/** What `Inbox.cancel` did. */
export interface Cancellation {
  /** `removed` (it had not started), `stopped` (it ran and was stopped) or `finished` (too late). */
  outcome: "removed" | "stopped" | "finished";
  /** The message as it ended (for `removed`, as it was). */
  message: Message;
}
