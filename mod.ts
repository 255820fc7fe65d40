/**
 * ohcommodore manages and coordinates a fleet of Claude Code–enabled Linux VMs over SSH.
 *
 * Every fleet member has an **inbox**: a DuckDB table that any other member delivers shell
 * commands into over SSH. A **scheduler** on the recipient runs them with bash and keeps the exit
 * code, output and timing. This module is the library (`Fleet` and `Ship` for the fleet; `Inbox`,
 * `Scheduler` and `send` for inboxes); the `ohcommodore` CLI is a thin layer on it.
 *
 * @example Create a ship for a repository, give it work, and destroy it
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 *
 * const fleet = await Fleet.open(); // the fleet `ohcommodore init` made
 * const [made] = await fleet.createShips("denoland/std", { onProgress: console.error });
 * const ship = await fleet.ship(made.name);
 * const sent = await ship.send("deno task test");
 * const message = await sent.wait();
 * console.log(message.status, message.exitCode);
 * await fleet.destroyShip(made.name);
 * ```
 *
 * @example Run a command on every ship and show where it failed
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 *
 * await using fleet = await Fleet.open();
 * const results = await fleet.exec("cd ~/web && git pull --ff-only", { timeoutMs: 60_000 });
 * for (const failed of results.failed) console.log(failed.ship, failed.status, failed.stderr);
 * ```
 *
 * @example Build commands as dax does: each value is one quoted argument
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 *
 * await using fleet = await Fleet.open();
 * const ship = await fleet.ship("web");
 * const branch = "fix: it's done";
 * const log = await ship.$`git -C ~/web log --oneline -1 ${branch}`.noThrow();
 * console.log(log.exitCode, log.stdout);
 * ```
 *
 * @example Send a command to a ship and wait for its outcome
 * ```ts
 * import { send } from "@smithclay/ohcommodore";
 *
 * const message = await send("captain@ship-web", "cd ~/web && git pull && deno task test", {
 *   wait: true,
 *   timeoutMs: 10 * 60_000,
 * });
 * console.log(message.status, message.exitCode);
 * console.log(message.result);
 * ```
 *
 * @example Run an inbox and its scheduler in a directory of your choosing
 * ```ts
 * import { Inbox, Scheduler } from "@smithclay/ohcommodore";
 *
 * const home = await Deno.makeTempDir();
 * const inbox = await Inbox.open({ home, identity: { role: "captain", name: "sandbox" } });
 * const scheduler = await Scheduler.start(inbox);
 * const message = await inbox.deliver({ recipient: inbox.address, command: "echo hello" });
 * console.log((await inbox.waitFor(message.id)).result); // "hello\n"
 * scheduler.stop();
 * await scheduler.finished;
 * ```
 *
 * @module
 */

export { type Address, formatAddress, parseAddress, type Role, ROLES } from "./lib/address.ts";
export { type Channel, channelFor, type InteractiveOptions } from "./lib/channel.ts";
export { formatDuration, MAX_DURATION_MS, parseDuration } from "./lib/duration.ts";
export {
  AmbiguousNameError,
  DatabaseError,
  DeliveryRefusedError,
  DiskFullError,
  type ErrorClass,
  type ErrorData,
  errorFromData,
  errorToData,
  FlagshipError,
  InterruptedError,
  NotFoundError,
  OhcommodoreError,
  type OhcommodoreErrorOptions,
  ProviderError,
  registerErrorClass,
  RemoteCommandError,
  SshError,
  TimeoutError,
  UsageError,
} from "./lib/errors.ts";
export { type FleetFacts, type LocalConfig, readLocalConfig } from "./lib/fleet/config.ts";
export {
  listSettings,
  loadSettings,
  missingCredentials,
  pickSettings,
  SETTING_NAMES,
  type SettingEntry,
  type SettingFlag,
  type SettingInfo,
  type SettingName,
  settingNames,
  type Settings,
  SHIP_CREDENTIALS,
  type ShipCredential,
} from "./lib/settings.ts";
export {
  CreateShipsError,
  type CreateShipsOptions,
  type DestroyedShip,
  type FleetStatus,
  type Resolved,
  type ShipStatus,
  type SinkReport,
} from "./lib/fleet/flagship.ts";
export type { TaskSummary } from "./lib/agent/last_task.ts";
export {
  Fleet,
  type FleetOptions,
  type InitOptions,
  type LocalFleetOptions,
  type SinkOptions,
  type SinkResult,
} from "./lib/fleet/fleet.ts";
export {
  CommandFailedError,
  type CommandOutcome,
  Member,
  MemberCommand,
  type MemberSendOptions,
  Ship,
} from "./lib/fleet/member.ts";
export {
  type ExecOptions,
  type ExecProgress,
  type ExecResult,
  ExecResults,
  type ExecStatus,
  FleetExecError,
} from "./lib/fleet/exec.ts";
export { type InboxView, RemoteInbox } from "./lib/inbox/remote_inbox.ts";
export { SentMessage } from "./lib/inbox/sent_message.ts";
export { type MemberReport } from "./lib/inbox/report.ts";
export { parseShipSpec, type ShipSpec } from "./lib/fleet/names.ts";
export { describeProgress, type FleetProgress, type ProvisionStep } from "./lib/fleet/progress.ts";
export { ProvisionError } from "./lib/fleet/provision.ts";
export { type KeptTask, type ShipRecord } from "./lib/fleet/registry.ts";
export { fleetResolver } from "./lib/fleet/resolver.ts";
export { ExeDevProvider } from "./lib/providers/exedev.ts";
export { LocalProvider } from "./lib/providers/local.ts";
export {
  PROVIDER_KINDS,
  type ProviderKind,
  type RegisteredKey,
  type VmInfo,
  type VmProvider,
  type WaitOptions,
} from "./lib/providers/provider.ts";
export { type Identity, identityAddress, readIdentity, writeIdentity } from "./lib/identity.ts";
export {
  type Cancellation,
  type Delivery,
  Inbox,
  type InboxOptions,
  NoSchedulerError,
} from "./lib/inbox/inbox.ts";
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
export {
  type AgentRunOptions,
  type AgentsContext,
  AgentStartError,
  AgentTask,
  FleetAgents,
  type FleetCosts,
  ResumeRefusedError,
} from "./lib/fleet/agents.ts";
export { fetchShipTasks } from "./lib/fleet/ship_task_list.ts";
export type { TaskCommit, TaskOutcome, TaskSpec, TaskStatus, TaskUsage } from "./lib/agent/task.ts";
export {
  type Asked,
  decide,
  type Decision,
  DEFAULT_POLICY,
  type Policy,
  type PolicyAction,
  policyPath,
  readPolicy,
} from "./lib/relay/policy.ts";
export { Scheduler, type SchedulerEvent, type SchedulerOptions } from "./lib/inbox/scheduler.ts";
export type { OutputChunk } from "./lib/inbox/server_protocol.ts";
export type { DeliverRequest } from "./lib/inbox/exec_delivery.ts";
export type { ListFilter } from "./lib/inbox/store.ts";
export type { QueryResult } from "./lib/inbox/query.ts";
export { ensureScheduler, SchedulerNotStartedError } from "./lib/inbox/scheduler_service.ts";
export {
  type AddressResolver,
  DeliveryInterruptedError,
  directResolver,
  type RelayDelivery,
  type Route,
  send,
  type SendOptions,
} from "./lib/inbox/send.ts";
export { type MemberPaths, memberPaths } from "./lib/paths.ts";
export { VERSION } from "./lib/version.ts";
export {
  type RetryPolicy,
  type RunOptions,
  Ssh,
  type SshResult,
  type SshSettings,
} from "./lib/ssh.ts";
