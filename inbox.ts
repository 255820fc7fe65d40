/**
 * Inboxes in full: {@link Inbox} and its {@link Scheduler} on any home directory, {@link send}
 * and its routing, a message's shape and statuses, another member's inbox over ssh
 * ({@link RemoteInbox}), addresses, a member's identity and files, durations, and starting a
 * scheduler where none runs ({@link ensureScheduler}).
 *
 * @example Make sure a scheduler runs a message that waits in this member's inbox
 * ```ts
 * import { ensureScheduler, Inbox, memberPaths, parseAddress } from "@smithclay/ohcommodore/inbox";
 *
 * const inbox = await Inbox.open();
 * console.log(parseAddress(inbox.address).role, memberPaths().database);
 * const message = await inbox.deliver({ recipient: inbox.address, command: "uptime" });
 * await ensureScheduler(inbox, message);
 * console.log((await inbox.waitFor(message.id)).result);
 * ```
 *
 * @module
 */

export { type Address, formatAddress, parseAddress, type Role, ROLES } from "./lib/address.ts";
export { formatDuration, MAX_DURATION_MS, parseDuration } from "./lib/duration.ts";
export { type Identity, identityAddress, readIdentity, writeIdentity } from "./lib/identity.ts";
export type { DeliverRequest } from "./lib/inbox/exec_delivery.ts";
export { type Cancellation, type Delivery, Inbox, type InboxOptions } from "./lib/inbox/inbox.ts";
export { NoSchedulerError } from "./lib/inbox/no_scheduler_error.ts";
export {
  DEFAULT_COMMAND_TIMEOUT_MS,
  type FinishedMessage,
  isFinished,
  type Message,
  MESSAGE_STATUSES,
  type MessageFields,
  type MessageKind,
  type MessageStatus,
  type NoteMessage,
  type OpenMessage,
  type QueuedMessage,
  replayOutput,
  type SenderQuota,
  type SendResult,
} from "./lib/inbox/message.ts";
export type { QueryResult } from "./lib/inbox/query.ts";
export { type InboxView, RemoteInbox } from "./lib/inbox/remote_inbox.ts";
export type { MemberReport } from "./lib/inbox/report.ts";
export { Scheduler, type SchedulerEvent, type SchedulerOptions } from "./lib/inbox/scheduler.ts";
export { ensureScheduler, SchedulerNotStartedError } from "./lib/inbox/scheduler_service.ts";
export {
  DeliveryInterruptedError,
  directRouter,
  type RelayDelivery,
  type Route,
  type Router,
  send,
  type SendOptions,
} from "./lib/inbox/send.ts";
export { SentMessage } from "./lib/inbox/sent_message.ts";
export type { OperationHandler, OperationHandlers } from "./lib/inbox/server.ts";
export type {
  OperationName,
  OutputChunk,
  ServerHello,
  ServerOperations,
} from "./lib/inbox/server_protocol.ts";
export type { ListFilter } from "./lib/inbox/message_listing.ts";
export { type MemberPaths, memberPaths } from "./lib/paths.ts";
