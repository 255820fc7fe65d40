/**
 * ohcommodore manages and coordinates a fleet of Claude Code–enabled Linux VMs over SSH.
 *
 * Every fleet member has an **inbox**: a DuckDB table that any other member delivers shell
 * commands into over SSH. A **scheduler** on the recipient runs them with bash and keeps the exit
 * code, output and timing. This module is the library (`Fleet` and `Ship` for the fleet; `Inbox`,
 * `Scheduler` and `send` for inboxes); the `ohcommodore` CLI is a thin layer on it.
 *
 * The root holds what a script needs: the fleet and its handles, inboxes, agent tasks as
 * `fleet.agents` gives them, and every error a call may throw. The rest is at subpaths:
 * `/fleet` (status, records, progress, settings), `/inbox` (messages, addresses, identities,
 * member files, schedulers), `/agent` (tasks, costs), `/plan` (plan files, plans from issues,
 * what plans report), `/relay` (the keyless ships' policy),
 * `/ssh` (the ssh client and channels), `/providers` (where VMs come from) and `/errors` (errors
 * as data across processes).
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

export type { TaskOutcome, TaskStatus } from "./lib/agent/task.ts";
export {
  AmbiguousNameError,
  DatabaseError,
  DeliveryRefusedError,
  DiskFullError,
  FlagshipError,
  InterruptedError,
  NotFoundError,
  OhcommodoreError,
  type OhcommodoreErrorOptions,
  ProviderError,
  RemoteCommandError,
  SshError,
  TimeoutError,
  UsageError,
} from "./lib/errors.ts";
export { AgentStartError } from "./lib/fleet/agent_start_error.ts";
export { type AgentRunOptions, AgentTask } from "./lib/fleet/agents.ts";
export { BranchInUseError } from "./lib/fleet/branch_in_use.ts";
export {
  type ExecOptions,
  type ExecProgress,
  type ExecResult,
  ExecResults,
  type ExecStatus,
  FleetExecError,
} from "./lib/fleet/exec.ts";
export type {
  CreateShipsOptions,
  DestroyedShip,
  FleetStatus,
  ShipStatus,
  SinkReport,
} from "./lib/fleet/backend.ts";
export { CreateShipsError } from "./lib/fleet/create_ships_error.ts";
export { Fleet } from "./lib/fleet/fleet.ts";
export type {
  FleetOptions,
  InitOptions,
  LocalFleetOptions,
  SinkOptions,
  SinkResult,
} from "./lib/fleet/fleet_options.ts";
export { CommandFailedError } from "./lib/fleet/command_failed_error.ts";
export {
  type CommandOutcome,
  Member,
  MemberCommand,
  type MemberSendOptions,
  Ship,
} from "./lib/fleet/member.ts";
export type { FleetProgress, ProvisionStep } from "./lib/fleet/progress.ts";
export { ProvisionError } from "./lib/fleet/provision.ts";
export type { ShipRecord } from "./lib/fleet/registry.ts";
export { ResumeRefusedError } from "./lib/fleet/resume_refused_error.ts";
export { Inbox, type InboxOptions } from "./lib/inbox/inbox.ts";
export { NoSchedulerError } from "./lib/inbox/no_scheduler_error.ts";
export { type PlanFile, PlanFileError } from "./lib/plan/plan_file.ts";
export type { PlanRunOptions } from "./lib/plan/plan_options.ts";
export { Plan, Plans } from "./lib/plan/plans.ts";
export type { PlanEvent, PlanSummary } from "./lib/plan/plan_types.ts";
export type { FinishedMessage, Message, MessageStatus } from "./lib/inbox/message.ts";
export { Scheduler, type SchedulerOptions } from "./lib/inbox/scheduler.ts";
export { SchedulerNotStartedError } from "./lib/inbox/scheduler_service.ts";
export { DeliveryInterruptedError, send, type SendOptions } from "./lib/inbox/send.ts";
export { SentMessage } from "./lib/inbox/sent_message.ts";
export { VERSION } from "./lib/version.ts";
