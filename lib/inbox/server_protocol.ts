/**
 * The inbox server's protocol: JSON lines on a unix socket (the scheduler's, mode 0600 in the
 * member's private directory; from another machine, the same socket through a forward on the
 * shared ssh connection). Each request names an operation and carries an id; the server answers
 * each with one reply of that id, and streams events for it first when the operation has any
 * (`follow`). Requests on one connection may overlap.
 *
 * ```
 * → {"v":1,"id":7,"op":"deliver","args":{"recipient":"captain@ship-web","command":"make"}}
 * ← {"id":7,"ok":true,"value":{"id":"m-…","status":"unread",…}}
 * → {"v":1,"id":8,"op":"follow","args":{"id":"m-…"}}
 * ← {"id":8,"event":{"stream":"stdout","text":"building…\n"}}
 * ← {"id":8,"ok":true,"value":{"id":"m-…","status":"done","exitCode":0,…}}
 * ```
 *
 * @module
 */

import { VERSION } from "../version.ts";
import type { ErrorData } from "../error_data.ts";
import type { Cancellation, Delivery, FinishedMessage, Message, MessageStatus } from "./message.ts";
import type { MemberReport } from "./report.ts";
import type { QueryResult } from "./query.ts";
import type { ListFilter } from "./message_listing.ts";

/** The protocol version; a server answers requests of other versions with an error. */
export const SERVER_PROTOCOL_VERSION = 1;

/** The longest request line a server reads (a command is at most 1 MiB; JSON escapes it). */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;

/**
 * The longest reply believed from another member's server (through a forward): one whole
 * message is at most a 1 MiB command and 256 KiB of each output, JSON-escaped; listings clip.
 */
export const MAX_REMOTE_REPLY_BYTES = 64 * 1024 * 1024;

/** What a server says about itself. */
export interface ServerHello {
  /** The protocol version. */
  protocol: number;
  /** The member's address. */
  address: string;
  /** The program version of the server. */
  version: string;
  /** The server's process id. */
  pid: number;
  /** How many commands it runs at once, at most. */
  maxRunning: number;
}

/**
 * What a server of this program says about itself.
 *
 * @param address The member's address (for a ship's channel, the flagship's).
 * @param maxRunning How many commands it runs at once (0: it runs none).
 * @returns The hello.
 */
export function serverHello(address: string, maxRunning: number): ServerHello {
  return {
    protocol: SERVER_PROTOCOL_VERSION,
    address,
    version: VERSION,
    pid: Deno.pid,
    maxRunning,
  };
}

/** A piece of a running command's output. */
export interface OutputChunk {
  /** Which stream it was written to. */
  stream: "stdout" | "stderr";
  /** The text (decoded as UTF-8). */
  text: string;
}

/** Every operation: what it takes, what it answers, and the events it streams first. */
export interface ServerOperations {
  /** Who the server is. */
  hello: { args: Record<string, never>; value: ServerHello; event: never };
  /** Store a message (idempotent by id) and run it in turn. */
  deliver: { args: Delivery; value: Message; event: never };
  /** One message by id or unique prefix. */
  get: { args: { id: string }; value: Message; event: never };
  /** Messages, newest first. */
  list: { args: ListFilter; value: Message[]; event: never };
  /** Mark a message taken by hand. */
  markRead: { args: { id: string }; value: Message; event: never };
  /** Mark a message done. */
  markDone: { args: { id: string }; value: Message; event: never };
  /** Mark a message failed. */
  markError: { args: { id: string; reason: string }; value: Message; event: never };
  /** Delete a message. */
  delete: { args: { id: string }; value: Message; event: never };
  /** Remove an unread message or stop a running one. */
  cancel: { args: { id: string; timeoutMs?: number }; value: Cancellation; event: never };
  /** Wait for a message to finish. */
  wait: { args: { id: string; timeoutMs?: number }; value: FinishedMessage; event: never };
  /** Wait for the next message to arrive after the request. */
  next: {
    args: { from?: string; timeoutMs: number };
    value: Message;
    event: never;
  };
  /** The member's report: address, version, counts (what `fleet status` shows). */
  report: { args: Record<string, never>; value: MemberReport; event: never };
  /** Messages per status. */
  counts: { args: Record<string, never>; value: Record<MessageStatus, number>; event: never };
  /** A read-only SQL query. */
  query: { args: { sql: string }; value: QueryResult; event: never };
  /** How many commands run at once, at most; sets it when `count` is given. */
  maxRunning: { args: { count?: number }; value: number; event: never };
  /** A message's output, kept then live, until it finishes. */
  follow: { args: { id: string }; value: FinishedMessage; event: OutputChunk };
  /** Let a held message run (it becomes unread). */
  approve: { args: { id: string }; value: Message; event: never };
  /** On a ship's channel to the flagship: deliver a message to a fleet member by name. */
  relay: { args: Delivery & { id: string }; value: Message; event: never };
  /**
   * On the flagship: a call about plans (`lib/plan/plan_calls.ts` says which), served by the
   * plan driver that its scheduler runs; typed there, above this layer.
   */
  plan: { args: { call: unknown }; value: unknown; event: unknown };
  /**
   * On the flagship: a fleet call (`lib/fleet/fleet_call.ts`), answered by its scheduler in
   * place of a program start, a change's progress as events; typed there, above this layer.
   */
  fleet: { args: { version: number; call: unknown }; value: unknown; event: unknown };
  /**
   * A member's own agent tasks, each with its outcome (`lib/agent/ship_service.ts`, typed there):
   * what `agent list` and `fleet costs` read without a program start.
   */
  tasks: { args: Record<string, never>; value: unknown; event: never };
  /** A member's current or last agent task's state, for `fleet status` (typed in lib/agent). */
  lastTask: { args: Record<string, never>; value: unknown; event: never };
  /** On a ship's channel: wait for a message that ship sent to finish. */
  relayWait: {
    args: { id: string; recipient: string; timeoutMs?: number };
    value: FinishedMessage;
    event: never;
  };
}

/** The name of an operation. */
export type OperationName = keyof ServerOperations;

/** A request line. */
export interface ServerRequest {
  /** Protocol version. */
  v: number;
  /** Chosen by the client; the reply carries it. */
  id: number;
  /** The operation. */
  op: string;
  /** Its arguments. */
  args: Record<string, unknown>;
}

/** A reply line: an event of a request, or its final answer. */
export type ServerReply =
  | { id: number; event: unknown }
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: ErrorData };
