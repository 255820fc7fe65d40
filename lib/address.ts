/**
 * Inbox addresses: `<role>@<name>`, e.g. `captain@ship-web-k3f9a1b2` or `commodore@flagship-9c2e`.
 *
 * @module
 */

import { quote } from "./clip.ts";
import { UsageError } from "./errors.ts";

/** The part a program plays in the fleet. */
export type Role = "local" | "commodore" | "captain";

/**
 * Every role, in the order they appear in help texts.
 *
 * @example Check a role
 * ```ts
 * import { ROLES } from "@smithclay/ohcommodore/inbox";
 * console.log(ROLES); // ["local", "commodore", "captain"]
 * ```
 */
export const ROLES: readonly Role[] = ["local", "commodore", "captain"];

/** A parsed inbox address. */
export interface Address {
  /** The role of the recipient. */
  role: Role;
  /** The member's name, or an SSH destination or `ssh_config` alias that reaches it. */
  host: string;
}

// A host part may be a member name, a DNS name, an ssh_config alias or `user@host`
// (exe.dev destinations carry a user prefix). It must not start with "-" so ssh never reads
// it as an option.
const HOST_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._+-]*(@[A-Za-z0-9_][A-Za-z0-9.-]*)?$/;
// The longest DNS name.
const MAX_HOST = 253;

/**
 * Parses and validates an inbox address.
 *
 * @example Parse a captain's address
 * ```ts
 * import { parseAddress } from "@smithclay/ohcommodore/inbox";
 * const address = parseAddress("captain@ship-web-k3f9a1b2");
 * console.log(address.host); // "ship-web-k3f9a1b2"
 * ```
 *
 * @param text The address as typed.
 * @returns The role and host part.
 * @throws {UsageError} When the text is not `<role>@<host>` with a known role.
 */
export function parseAddress(text: string): Address {
  const at = text.indexOf("@");
  const role = text.slice(0, at);
  const host = text.slice(at + 1);
  const expected = `expected <role>@<name> with role ${ROLES.join(", ")}, e.g. captain@ship-web`;
  if (at < 0 || !host) {
    throw new UsageError(`Invalid address ${quote(text)}: ${expected}`);
  }
  if (!isRole(role)) {
    throw new UsageError(
      `Invalid address ${quote(text)}: unknown role ${quote(role)}; ${expected}`,
    );
  }
  if (host.length > MAX_HOST) {
    throw new UsageError(
      `Invalid address ${quote(text)}: its name has ${host.length} characters, at most ${MAX_HOST}`,
    );
  }
  if (!HOST_PATTERN.test(host)) {
    throw new UsageError(
      `Invalid address ${quote(text)}: ${quote(host)} is not a valid name, host or SSH destination`,
    );
  }
  return { role, host };
}

/**
 * Formats an address as `<role>@<host>`.
 *
 * @param address The address.
 * @returns The address text.
 *
 * @example Format an address
 * ```ts
 * import { formatAddress } from "@smithclay/ohcommodore/inbox";
 *
 * console.log(formatAddress({ role: "captain", host: "ship-web" })); // "captain@ship-web"
 * ```
 */
export function formatAddress(address: Address): string {
  return `${address.role}@${address.host}`;
}

/**
 * Tells whether a string is a known role.
 *
 * @param value The value to check.
 * @returns Whether it is a {@link Role}.
 */
export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}
