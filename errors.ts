/**
 * Every error ohcommodore throws, and errors as data: {@link errorToData} and
 * {@link errorFromData} carry one across a process boundary (another member's `--json`, say) and
 * give it back as its own class with its fields; {@link registerErrorClass} adds a class of
 * your own.
 *
 * @example Read the error another ohcommodore printed with --json
 * ```ts
 * import { errorFromData, isErrorData, NotFoundError } from "@smithclay/ohcommodore/errors";
 *
 * const printed = '{"error":{"name":"NotFoundError","message":"No ship matches \\"web\\"",' +
 *   '"exitCode":1,"fields":{"query":"web"}}}';
 * const { error } = JSON.parse(printed);
 * if (isErrorData(error)) {
 *   const back = errorFromData(error);
 *   console.log(back instanceof NotFoundError, back.message);
 * }
 * ```
 *
 * @module
 */

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
  ServerConnectionError,
  SshError,
  TimeoutError,
  UsageError,
} from "./lib/errors.ts";
export {
  type ErrorClass,
  type ErrorData,
  errorFromData,
  errorToData,
  isErrorData,
  registerErrorClass,
} from "./lib/error_data.ts";
export { AgentStartError } from "./lib/fleet/agent_start_error.ts";
export { BranchInUseError } from "./lib/fleet/branch_in_use.ts";
export { FleetExecError } from "./lib/fleet/exec.ts";
export { CreateShipsError } from "./lib/fleet/create_ships_error.ts";
export { CommandFailedError } from "./lib/fleet/command_failed_error.ts";
export { ProvisionError } from "./lib/fleet/provision.ts";
export { ResumeRefusedError } from "./lib/fleet/resume_refused_error.ts";
export { NoSchedulerError } from "./lib/inbox/no_scheduler_error.ts";
export { SchedulerNotStartedError } from "./lib/inbox/scheduler_service.ts";
export { DeliveryInterruptedError } from "./lib/inbox/send.ts";
