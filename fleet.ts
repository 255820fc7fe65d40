/**
 * The fleet in full: {@link Fleet} and its handles ({@link Ship}, {@link Member}), fleet-wide
 * exec, the flagship's answers (status, ships made and destroyed), ship records and names,
 * progress, the settings a new member gets, and the fleet's errors. The package's root exports
 * what most scripts need of this; import from here for the rest.
 *
 * @example List the ships whose VM is not running, and the settings a new ship gets
 * ```ts
 * import { Fleet, loadSettings, type ShipStatus } from "@smithclay/ohcommodore/fleet";
 *
 * await using fleet = await Fleet.open();
 * const status = await fleet.status();
 * const stopped = status.ships.filter((ship: ShipStatus) => ship.vmStatus !== "running");
 * console.log(`${stopped.length} of ${status.ships.length} ships are not running`);
 * console.log(Object.keys(await loadSettings()));
 * ```
 *
 * @module
 */

export { FlagshipError } from "./lib/errors.ts";
export { type FleetFacts, type LocalConfig, readLocalConfig } from "./lib/fleet/config.ts";
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
  MemberLocation,
  ShipStatus,
  SinkReport,
  TemplateOptions,
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
export { parseShipSpec, sameRepository, type ShipSpec } from "./lib/fleet/names.ts";
export { describeProgress, type FleetProgress, type ProvisionStep } from "./lib/fleet/progress.ts";
export { ProvisionError } from "./lib/fleet/provision.ts";
export type { KeptTask, ShipRecord } from "./lib/fleet/registry.ts";
export { fleetRouter } from "./lib/fleet/router.ts";
export { type InboxView, RemoteInbox } from "./lib/inbox/remote_inbox.ts";
export type { MemberReport } from "./lib/inbox/report.ts";
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
