/**
 * Every setting a person gives ohcommodore (through the environment or a `.env` file), in one
 * table: what it is for, whether it is a secret, and where it travels. Every list of settings
 * the code needs (what to load, what the laptop forwards, what a new VM's `.env` holds, what
 * commands see) is derived from here, and a test checks that `cloudinit/init.sh` agrees.
 *
 * @module
 */

import { parseEnv } from "node:util";
import { UsageError } from "./errors.ts";

/** A setting's name. */
export type SettingName =
  | "GH_TOKEN"
  | "CLAUDE_CODE_OAUTH_TOKEN"
  | "ANTHROPIC_API_KEY"
  | "DOTFILES_PATH"
  | "DOTFILES_URL"
  | "SKIP_STEPS"
  | "OHCOMMODORE_NOTIFY"
  | "INIT_PATH"
  | "INIT_URL"
  | "OHCOMMODORE_SHIP_BIN";

/** Settings by name; absent when not set. */
export type Settings = Partial<Record<SettingName, string>>;

/** What a setting is and where it goes. */
export interface SettingInfo {
  /** What it does, in a sentence (for the README and help). */
  readonly description: string;
  /** A secret: never in argv, logs, error messages or readable files. */
  readonly secret?: boolean;
  /** The laptop hands it as it is to the flagship, for the ships the flagship creates. */
  readonly forwardedToFlagship?: boolean;
  /** Written to every new member's private `~/.ohcommodore/.env`, where init.sh reads it. */
  readonly inVmEnv?: boolean;
  /** The scheduler puts it into the environment of every command it runs. */
  readonly passedToCommands?: boolean;
  /** init.sh makes login shells on the member export it (its `secrets` step). */
  readonly inLoginShells?: boolean;
}

/** A yes-or-no property of {@link SettingInfo}. */
export type SettingFlag = Exclude<keyof SettingInfo, "description">;

/**
 * The settings, in the order they are read and written. `INIT_PATH`, `INIT_URL` and
 * `OHCOMMODORE_SHIP_BIN` name files on the machine that creates members; the laptop uploads
 * those files to the flagship instead of forwarding the names.
 */
export const SETTINGS: { readonly [Name in SettingName]: SettingInfo } = {
  GH_TOKEN: {
    description: "GitHub token: gh and git sign in with it, ships clone their repository with it " +
      "(needed by init on exe.dev)",
    secret: true,
    forwardedToFlagship: true,
    inVmEnv: true,
    passedToCommands: true,
  },
  CLAUDE_CODE_OAUTH_TOKEN: {
    description: "Claude Code credential for commands and shells on every member",
    secret: true,
    forwardedToFlagship: true,
    inVmEnv: true,
    passedToCommands: true,
    inLoginShells: true,
  },
  ANTHROPIC_API_KEY: {
    description: "Anthropic API key for commands and shells on every member",
    secret: true,
    forwardedToFlagship: true,
    inVmEnv: true,
    passedToCommands: true,
    inLoginShells: true,
  },
  DOTFILES_PATH: {
    description: "A chezmoi source directory on the member",
    forwardedToFlagship: true,
    inVmEnv: true,
  },
  DOTFILES_URL: {
    description: "A repository whose dotfiles/ folder is the chezmoi source",
    forwardedToFlagship: true,
    inVmEnv: true,
  },
  SKIP_STEPS: {
    description: "Comma-separated init.sh steps to skip (optional steps only)",
    forwardedToFlagship: true,
    inVmEnv: true,
  },
  OHCOMMODORE_NOTIFY: {
    description: "A shell command ships run when an agent task ends, stalls or hits a limit, " +
      "and the flagship when a plan's task fails or a plan ends, with what happened as JSON " +
      "on stdin",
    forwardedToFlagship: true,
    inVmEnv: true,
  },
  INIT_PATH: {
    description: "A setup script file to run instead of the bundled cloudinit/init.sh",
  },
  INIT_URL: {
    description: "A URL of a setup script to run instead of the bundled cloudinit/init.sh",
  },
  OHCOMMODORE_SHIP_BIN: {
    description: "An ohcommodore executable to install on new members instead of this program",
  },
};

/**
 * Every setting's name, in the table's order.
 *
 * @example List the settings
 * ```ts
 * import { SETTING_NAMES } from "@smithclay/ohcommodore/fleet";
 * console.log(SETTING_NAMES.join(", "));
 * ```
 */
export const SETTING_NAMES: readonly SettingName[] = Object.keys(SETTINGS) as SettingName[];

/**
 * The settings that have a property.
 *
 * @example
 * ```ts
 * import { settingNames } from "@smithclay/ohcommodore/fleet";
 * settingNames("secret"); // ["GH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_API_KEY"]
 * ```
 *
 * @param flag The property, e.g. `secret`.
 * @returns Their names, in the table's order.
 */
export function settingNames(flag: SettingFlag): SettingName[] {
  return SETTING_NAMES.filter((name) => SETTINGS[name][flag] === true);
}

/**
 * The settings that have a property and are set (not empty).
 *
 * @example
 * ```ts
 * import { pickSettings } from "@smithclay/ohcommodore/fleet";
 * pickSettings({ GH_TOKEN: "ghp_x", INIT_PATH: "./init.sh" }, "forwardedToFlagship");
 * // { GH_TOKEN: "ghp_x" }
 * ```
 *
 * @param settings The settings.
 * @param flag The property, e.g. `forwardedToFlagship`.
 * @returns A new object with only those settings.
 */
export function pickSettings(settings: Settings, flag: SettingFlag): Settings {
  const picked: Settings = {};
  for (const name of settingNames(flag)) if (settings[name]) picked[name] = settings[name];
  return picked;
}

/** A credential a ship's work needs, given by any one of its settings. */
export interface ShipCredential {
  /** Whose credential, e.g. `GitHub`. */
  readonly kind: string;
  /** The settings that give it; any one will do. */
  readonly names: readonly SettingName[];
  /** What a ship without it cannot do. */
  readonly without: string;
}

/** The credentials a ship needs: one for GitHub, one for Claude Code. */
export const SHIP_CREDENTIALS: readonly ShipCredential[] = [
  {
    kind: "GitHub",
    names: ["GH_TOKEN"],
    without: "it cannot clone a private repository, push or open a pull request",
  },
  {
    kind: "Claude",
    names: ["CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_API_KEY"],
    without: 'its agent tasks end "Invalid API key"',
  },
];

/**
 * The ship credentials that settings lack.
 *
 * @example Say what a new ship would lack
 * ```ts
 * import { missingCredentials } from "@smithclay/ohcommodore/fleet";
 * missingCredentials({ GH_TOKEN: "ghp_x" }).map((credential) => credential.kind); // ["Claude"]
 * ```
 *
 * @param settings The settings a ship would get.
 * @returns The credentials none of whose settings is set, in {@link SHIP_CREDENTIALS}' order.
 */
export function missingCredentials(settings: Settings): ShipCredential[] {
  return SHIP_CREDENTIALS.filter((credential) => !credential.names.some((name) => settings[name]));
}

/** A setting and what the table says of it, as {@link listSettings} returns it. */
export interface SettingEntry extends SettingInfo {
  /** Its name. */
  readonly name: SettingName;
}

/**
 * Every setting with its description and properties, e.g. to write the README's configuration
 * section or a help text.
 *
 * @example
 * ```ts
 * import { listSettings } from "@smithclay/ohcommodore/fleet";
 * for (const setting of listSettings()) {
 *   console.log(`${setting.name}${setting.secret ? " (secret)" : ""}: ${setting.description}`);
 * }
 * ```
 *
 * @returns The settings, in the table's order.
 */
export function listSettings(): SettingEntry[] {
  return SETTING_NAMES.map((name) => ({ name, ...SETTINGS[name] }));
}

/** Variables ohcommodore itself writes into a new member's `.env`, beside the settings. */
export type MemberVariable =
  | "ROLE"
  | "VM_NAME"
  | "TARGET_REPO"
  | "FLAGSHIP_NAME"
  | "FLAGSHIP_DEST"
  | "SHIP_KEYLESS";

/** What each {@link MemberVariable} tells init.sh. */
export const MEMBER_VARIABLES: { readonly [Name in MemberVariable]: string } = {
  ROLE: "commodore (the flagship) or captain (a ship)",
  VM_NAME: "the member's own VM name",
  TARGET_REPO: "for a ship: the repository it clones",
  FLAGSHIP_NAME: "for a ship: the flagship's VM name",
  FLAGSHIP_DEST: "for a ship: the flagship's SSH destination",
  SHIP_KEYLESS: "for a ship: 1 when it holds no key and reaches the fleet through the flagship",
};

/** A new member's `.env`: its settings and what ohcommodore tells it about itself. */
export type MemberEnv = { [Name in SettingName | MemberVariable]?: string };

/**
 * Reads settings from `.env` files and the environment; the environment wins, then the files
 * in the order given.
 *
 * @param envFiles `.env` files to read, most important first; missing ones are skipped.
 * @returns The settings that are set and not empty.
 *
 * @example Read the settings a new ship would get
 * ```ts
 * import { loadSettings } from "@smithclay/ohcommodore/fleet";
 *
 * const settings = await loadSettings([".env", `${Deno.env.get("HOME")}/.ohcommodore/.env`]);
 * console.log(settings.INIT_URL ?? "the bundled init.sh");
 * console.log(settings.GH_TOKEN ? "GH_TOKEN is set" : "GH_TOKEN is missing"); // never print it
 * ```
 */
export async function loadSettings(envFiles: readonly string[] = [".env"]): Promise<Settings> {
  const settings: Settings = {};
  for (const file of [...envFiles].reverse()) {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    const values = parseEnv(text);
    for (const name of SETTING_NAMES) if (values[name]) settings[name] = values[name];
  }
  for (const name of SETTING_NAMES) {
    const value = Deno.env.get(name);
    if (value) settings[name] = value;
  }
  return settings;
}

/**
 * Formats variables as a `.env` file that both bash (`set -a; . file`) and dotenv parsers read
 * the same way: `KEY='value'`.
 *
 * @param values The variables.
 * @returns The file text.
 * @throws {UsageError} When a value holds a quote or a newline (named by key, never by value).
 */
export function formatEnvFile(values: Record<string, string | undefined>): string {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    if (/['\n\r\0]/.test(value)) {
      throw new UsageError(`${key} contains a quote or a line break, which cannot be passed on`);
    }
    lines.push(`${key}='${value}'`);
  }
  return lines.join("\n") + "\n";
}
