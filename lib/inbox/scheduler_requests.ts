/**
 * The inbox protocol as the scheduler serves it: one table, an entry per operation. Plain reads
 * and marks are one database step each (`operations.ts`, the same steps a process that finds no
 * scheduler runs on the file); the rest are what only a running scheduler can do: store
 * deliveries in turn, wait, follow, cancel a running command.
 *
 * @module
 */

import { checkDurationMs } from "../duration.ts";
import { VERSION } from "../version.ts";
import type { Cancellation, Delivery, FinishedMessage, Message, MessageStatus } from "./message.ts";
import { STORE_OPERATIONS } from "./operations.ts";
import type { OperationHandler, OperationHandlers } from "./server.ts";
import { type OutputChunk, serverHello } from "./server_protocol.ts";
import type { QueryResult } from "./query.ts";
import { checkMaxRunning } from "./scheduler_state.ts";
import type { InboxStore } from "./store.ts";

/** What a running scheduler does for the requests it serves. */
export interface ServedInbox {
  /** The member's address. */
  readonly address: string;
  /** How many commands it runs at once, at most. */
  maxRunning(): number;
  /** Runs database work after the steps queued before it. */
  step<T>(work: (store: InboxStore) => Promise<T>): Promise<T>;
  /** Says the messages changed (the report is rewritten soon). */
  changed(): void;
  /** The messages' counts by status, counted once after each change. */
  counts(): Promise<Record<MessageStatus, number>>;
  /** Stores a delivery, with those that arrive together, and runs it in turn. */
  deliver(delivery: Delivery): Promise<Message>;
  /** Lets a held message run. */
  approve(id: string): Promise<Message>;
  /** Sets how many commands run at once. */
  setMaxRunning(count: number): Promise<number>;
  /** Waits for a message to finish. */
  waitFor(id: string, timeoutMs: number | undefined, signal: AbortSignal): Promise<FinishedMessage>;
  /** Removes an unread message, or stops a running one and waits for it. */
  cancel(id: string, timeoutMs: number | undefined, signal: AbortSignal): Promise<Cancellation>;
  /** Waits for the next message to arrive, optionally from one sender. */
  next(from: string | undefined, timeoutMs: number, signal: AbortSignal): Promise<Message>;
  /** Streams a message's output until it finishes. */
  follow(
    id: string,
    emit: (chunk: OutputChunk) => void,
    signal: AbortSignal,
  ): Promise<FinishedMessage>;
  /** A person's read-only query. */
  query(sql: string, signal: AbortSignal): Promise<QueryResult>;
}

/**
 * The scheduler's handlers: every operation of the inbox protocol, and only those.
 *
 * @param inbox The running scheduler.
 * @returns The table its server answers from.
 */
export function schedulerHandlers(inbox: ServedInbox): OperationHandlers {
  // A store operation: one step, and a report soon when it changed the messages.
  const step = <K extends keyof typeof STORE_OPERATIONS>(op: K): OperationHandler<K> => {
    const { run, changes } = STORE_OPERATIONS[op] as {
      run: (store: InboxStore, args: unknown) => Promise<never>;
      changes: boolean;
    };
    return async (args) => {
      const value = await inbox.step((store) => run(store, args));
      if (changes) inbox.changed();
      return value;
    };
  };
  return {
    hello: () => Promise.resolve(serverHello(inbox.address, inbox.maxRunning())),
    deliver: (delivery) => inbox.deliver(delivery),
    get: step("get"),
    list: step("list"),
    markRead: step("markRead"),
    markDone: step("markDone"),
    markError: step("markError"),
    delete: step("delete"),
    counts: () => inbox.counts(),
    report: async () => ({
      address: inbox.address,
      version: VERSION,
      schedulerRunning: true,
      counts: await inbox.counts(),
    }),
    query: (args, { signal }) => inbox.query(String(args.sql ?? ""), signal),
    maxRunning: (args) =>
      args.count === undefined
        ? Promise.resolve(inbox.maxRunning())
        : inbox.setMaxRunning(checkMaxRunning(args.count)),
    wait: (args, { signal }) => inbox.waitFor(String(args.id), optionalMs(args.timeoutMs), signal),
    cancel: (args, { signal }) => inbox.cancel(String(args.id), optionalMs(args.timeoutMs), signal),
    next: (args, { signal }) =>
      inbox.next(
        args.from === undefined ? undefined : String(args.from),
        checkDurationMs(args.timeoutMs, "timeoutMs"),
        signal,
      ),
    follow: (args, { emit, signal }) => inbox.follow(String(args.id), emit, signal),
    approve: (args) => inbox.approve(String(args.id)),
  };
}

function optionalMs(value: unknown): number | undefined {
  return value === undefined || value === null ? undefined : Number(value);
}
