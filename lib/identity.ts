/**
 * Who this program is: `~/.ohcommodore/identity.json` gives its role and name. Without the file
 * it plays `local` under the machine's host name.
 *
 * @module
 */

import { dirname } from "node:path";
import { type Address, formatAddress, isRole, type Role } from "./address.ts";
import { OhcommodoreError } from "./errors.ts";
import { memberPaths } from "./paths.ts";

/** The role and name of a fleet member, as stored in `identity.json`. */
export interface Identity {
  /** The part this member plays. */
  role: Role;
  /** The member's name: its VM name once provisioned, the host name until then. */
  name: string;
  /** Where commands run; defaults to the cloned repository, else the home directory. */
  workdir?: string;
  /** For a ship: its flagship's VM name and destination, so it can reach the fleet. */
  flagship?: { name: string; destination: string };
  /**
   * For a ship made without `--trusted`: it holds no key that opens another member, and sends
   * everything through its flagship's channel.
   */
  keyless?: boolean;
  /**
   * The home directory this identity was written for. A copy of the member (a copied VM or
   * sandbox, whose home is elsewhere) is not that member: reading it there fails until the copy
   * is made its own (see {@link readIdentity}).
   */
  home?: string;
  /**
   * The machine's host name when it was written, where the machine is named after its VM (as
   * exe.dev names them): a copy of the VM, named after its own, is not that member either.
   */
  host?: string;
}

/**
 * Reads a member's identity. A missing file means a `local` member named after the host.
 *
 * @example Read the identity of the current user
 * ```ts
 * import { identityAddress, readIdentity } from "@smithclay/ohcommodore/inbox";
 * const identity = await readIdentity();
 * console.log(identityAddress(identity)); // e.g. "local@my-laptop"
 * ```
 *
 * @param home The member's home directory; defaults to `$HOME`.
 * @returns The identity.
 * @throws {OhcommodoreError} When the file exists but is not a valid identity.
 */
export async function readIdentity(home?: string): Promise<Identity> {
  const file = memberPaths(home).identityFile;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { role: "local", name: Deno.hostname() };
    throw error;
  }
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new OhcommodoreError(
      `Cannot read identity "${file}": it is not valid JSON; fix or remove it`,
      {
        cause: error,
      },
    );
  }
  if (!isRole(data.role)) {
    throw new OhcommodoreError(
      `Cannot read identity "${file}": role "${data.role}" is not local, commodore or captain; ` +
        `fix its "role" field`,
    );
  }
  const name = typeof data.name === "string" && data.name ? data.name : Deno.hostname();
  checkOwnIdentity(file, name, data, home ?? memberPaths().home);
  const workdir = typeof data.workdir === "string" ? data.workdir : undefined;
  const flagship = data.flagship as Identity["flagship"] | undefined;
  const hasFlagship = typeof flagship?.name === "string" &&
    typeof flagship?.destination === "string";
  return {
    role: data.role,
    name,
    ...(workdir ? { workdir } : {}),
    ...(hasFlagship
      ? { flagship: { name: flagship!.name, destination: flagship!.destination } }
      : {}),
    ...(data.keyless === true ? { keyless: true } : {}),
    ...(typeof data.home === "string" ? { home: data.home } : {}),
    ...(typeof data.host === "string" ? { host: data.host } : {}),
  };
}

// A copied VM or sandbox carries its source's identity until it is made its own: it must not
// answer as its source (its scheduler would run the source's messages under the source's name).
function checkOwnIdentity(
  file: string,
  name: string,
  data: Record<string, unknown>,
  home: string,
): void {
  const elsewhere = typeof data.home === "string" && !sameDirectory(data.home, home)
    ? `it was written for the home ${data.home}, and this one is ${home}`
    : typeof data.host === "string" && data.host !== Deno.hostname()
    ? `it was written on the machine ${data.host}, and this one is ${Deno.hostname()}`
    : undefined;
  if (!elsewhere) return;
  throw new OhcommodoreError(
    `Cannot read identity "${file}": ${elsewhere}, so this member is a copy of ${name}, not ` +
      `${name} itself`,
    {
      next: `destroy the copy; "ohcommodore ship create --from <ship>" makes copies that are ` +
        `members of their own`,
    },
  );
}

function sameDirectory(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return Deno.realPathSync(a) === Deno.realPathSync(b);
  } catch {
    return false;
  }
}

/**
 * Writes a member's identity, readable only by its owner.
 *
 * @param identity The identity to store.
 * @param home The member's home directory; defaults to `$HOME`.
 *
 * @example Make a directory a captain's home
 * ```ts
 * import { identityAddress, readIdentity, writeIdentity } from "@smithclay/ohcommodore/inbox";
 *
 * const home = await Deno.makeTempDir();
 * await writeIdentity({ role: "captain", name: "ship-web" }, home);
 * console.log(identityAddress(await readIdentity(home))); // "captain@ship-web"
 * ```
 */
export async function writeIdentity(identity: Identity, home?: string): Promise<void> {
  const file = memberPaths(home).identityFile;
  await Deno.mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(file, JSON.stringify(identity, null, 2) + "\n", { mode: 0o600 });
}

/**
 * Binds an identity to where it is written: this home, and this machine when the machine is
 * named after the member's VM (as exe.dev names them). A copy of the member elsewhere then reads
 * as a copy until it is made its own, instead of answering as the member it was copied from.
 *
 * @param identity The identity.
 * @param home The home it is written in.
 * @returns The identity with `home` (and `host` where the host is named after it).
 */
export function bindIdentity(identity: Identity, home: string): Identity {
  const host = Deno.hostname();
  return { ...identity, home, ...(host === identity.name ? { host } : {}) };
}

/**
 * The inbox address of a member.
 *
 * @param identity The member's identity.
 * @returns The address, e.g. `captain@ship-web-k3f9a1b2`.
 *
 * @example The address of a member
 * ```ts
 * import { identityAddress } from "@smithclay/ohcommodore/inbox";
 *
 * console.log(identityAddress({ role: "commodore", name: "flagship-a1f3" })); // "commodore@flagship-a1f3"
 * ```
 */
export function identityAddress(identity: Identity): string {
  return formatAddress(identityToAddress(identity));
}

/**
 * The identity as an {@link Address}.
 *
 * @param identity The member's identity.
 * @returns Its address.
 */
export function identityToAddress(identity: Identity): Address {
  return { role: identity.role, host: identity.name };
}
