/**
 * Inbox addresses across the fleet: `captain@<ship>` and `commodore@<flagship>` by name, from
 * the laptop, the flagship or any ship. The flagship's registry is the one source of truth;
 * ships and the laptop ask it. A name the fleet does not know is used as an SSH destination or
 * alias, as the original tool did.
 *
 * @module
 */

import { readIdentity } from "../identity.ts";
import { type AddressResolver, directResolver } from "../inbox/send.ts";
import { memberPaths } from "../paths.ts";
import { Ssh } from "../ssh.ts";
import { readFleetFacts, readLocalConfig } from "./config.ts";
import { isShipOfFleet, tagOfFlagship } from "./names.ts";
import { Flagship, type Resolved } from "./flagship.ts";
import { FlagshipClient } from "./flagship_client.ts";

/**
 * The resolver for this member.
 *
 * @example Send to a ship by name from any member
 * ```ts
 * import { fleetResolver, send } from "@smithclay/ohcommodore";
 * const resolve = await fleetResolver();
 * const message = await send("captain@ship-web-1f2e", "uptime", { resolve, wait: true });
 * console.log(message.result);
 * ```
 *
 * @param home The member's home; defaults to `$HOME`.
 * @param ssh The ssh client.
 * @returns A resolver that knows the fleet's names.
 */
export async function fleetResolver(home?: string, ssh: Ssh = new Ssh()): Promise<AddressResolver> {
  const identity = await readIdentity(home);
  const direct = directResolver({ role: identity.role, host: identity.name });
  if (identity.keyless) {
    // A keyless ship can open no other member: its flagship relays everything but its own mail.
    return (address) =>
      address.host === identity.name
        ? direct(address)
        : Promise.resolve({ destination: null, viaDestination: false, relay: true });
  }
  let lookup: (name: string) => Promise<Resolved | null>;
  if (identity.role === "commodore") {
    // The identity is read already: the facts are all the flagship needs besides.
    const facts = await readFleetFacts(home);
    if (!facts) return direct;
    const flagship = new Flagship(facts, memberPaths(home).home, ssh);
    lookup = (name) => flagship.resolve(name);
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
    // Only names shaped like this fleet's ships cost a round trip to the flagship.
    lookup = (name) =>
      name === flagship.name
        ? Promise.resolve({ name, destination: flagship.destination })
        : isShipOfFleet(name, tag)
        ? client.resolve(name)
        : Promise.resolve(null);
  }
  return async (address) => {
    if (address.host === identity.name) return await direct(address);
    const found = await lookup(address.host);
    return found
      ? { destination: found.destination, viaDestination: false }
      : await direct(address);
  };
}
