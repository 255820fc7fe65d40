/**
 * Inbox addresses across the fleet: `captain@<ship>` and `commodore@<flagship>` by name, from
 * the laptop, the flagship or any ship. The flagship's registry is the one source of truth;
 * ships and the laptop ask it. A name the fleet does not know is used as an SSH destination or
 * alias, as the original tool did.
 *
 * @module
 */

import { NotFoundError } from "../errors.ts";
import { readIdentity } from "../identity.ts";
import { directRouter, type Router } from "../inbox/send.ts";
import { memberPaths } from "../paths.ts";
import { relaySend } from "../relay/ship_sender.ts";
import { Ssh } from "../ssh.ts";
import { readFleetFacts, readLocalConfig } from "./config.ts";
import { isShipOfFleet, tagOfFlagship } from "./names.ts";
import type { MemberLocation } from "./backend.ts";
import { Flagship } from "./flagship.ts";
import { FlagshipClient } from "./flagship_client.ts";

/**
 * The router for this member: how a message to an address travels from here.
 *
 * @example Send to a ship by name from any member
 * ```ts
 * import { send } from "@smithclay/ohcommodore";
 * import { fleetRouter } from "@smithclay/ohcommodore/fleet";
 * const route = await fleetRouter();
 * const message = await send("captain@ship-web-k3f9a1b2", "uptime", { route, wait: true });
 * console.log(message.result);
 * ```
 *
 * @param home The member's home; defaults to `$HOME`.
 * @param ssh The ssh client.
 * @returns A router that knows the fleet's names.
 */
export async function fleetRouter(home?: string, ssh: Ssh = new Ssh()): Promise<Router> {
  const identity = await readIdentity(home);
  const direct = directRouter({ role: identity.role, host: identity.name });
  if (identity.keyless) {
    // A keyless ship can open no other member: its flagship relays everything but its own mail.
    return (address) =>
      address.host === identity.name
        ? direct(address)
        : Promise.resolve({ destination: null, viaDestination: false, relay: relaySend });
  }
  // By exact name, and by a unique prefix of a ship's name.
  let lookup: (name: string, prefix: boolean) => Promise<MemberLocation | null>;
  if (identity.role === "commodore") {
    // The identity is read already: the facts are all the flagship needs besides.
    const facts = await readFleetFacts(home);
    if (!facts) return direct;
    const flagship = new Flagship(facts, memberPaths(home).home, ssh);
    lookup = (name, prefix) => flagship.locate(name, prefix);
  } else {
    const config = identity.role === "local" ? await readLocalConfig(home) : null;
    const flagship = identity.flagship ??
      (config ? { name: config.flagshipVm, destination: config.flagship } : null);
    if (!flagship) return direct;
    const tag = tagOfFlagship(flagship.name);
    const client = new FlagshipClient(
      { flagshipVm: flagship.name, flagship: flagship.destination },
      ssh,
    );
    // Only names shaped like this fleet's ships cost a round trip to the flagship, and names
    // that may be a prefix of one.
    lookup = (name, prefix) =>
      name === flagship.name
        ? Promise.resolve({ name, destination: flagship.destination })
        : prefix || isShipOfFleet(name, tag)
        ? client.locate(name, prefix)
        : Promise.resolve(null);
  }
  return async (address) => {
    if (address.host === identity.name) return await direct(address);
    // One look: a prefix look-up finds an exact name first. No ship starts so: the name may be
    // an SSH destination, as in the original tool; two ships that start so are an error that
    // names them.
    const prefix = address.role === "captain" && mayBePrefix(address.host);
    const found = await lookup(address.host, prefix).catch((error) => {
      if (prefix && error instanceof NotFoundError) return null;
      throw error;
    });
    return found
      ? { destination: found.destination, viaDestination: false, name: found.name }
      : await direct(address);
  };
}

// A host part that may be the start of a ship's name ("web" for ship-web-k3f9a1b2, as the ship
// commands take it): not a host name with a domain, an IP address or a user@ part.
function mayBePrefix(host: string): boolean {
  return /^[a-z0-9][a-z0-9-]*$/.test(host);
}
