/**
 * Where a keyless ship's channel to its flagship lives, on both ends. On the ship: the socket
 * the flagship's reverse forward binds (connecting to it reaches the flagship's relay for this
 * ship) and the flagship's note of how the channel runs. On the flagship: one relay socket and
 * one ssh control socket per ship.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { fittingSocketPath } from "../inbox/socket_path.ts";
import { memberPaths } from "../paths.ts";

/**
 * The ship's end: the socket its flagship forwards onto it.
 *
 * @param home The ship's home.
 * @returns The socket path.
 */
export function shipChannelSocket(home?: string): string {
  return fittingSocketPath(join(memberPaths(home).configDir, "run", "flagship.sock"));
}

/**
 * The file where the flagship tells the ship how its channel runs (`forward` or `poll`).
 *
 * @param home The ship's home.
 * @returns The file's path.
 */
export function shipChannelStateFile(home?: string): string {
  return join(memberPaths(home).configDir, "run", "channel.json");
}

/** How a ship's channel runs, as the flagship last recorded it on the ship. */
export interface ChannelState {
  /** `forward`: the ship reaches the relay through its socket; `poll`: the flagship collects. */
  mode: "forward" | "poll";
  /** How often the flagship collects the outbox, in seconds. */
  pollSec: number;
  /** When the channel opened (ISO 8601). */
  since: string;
}

/**
 * The flagship's end of one ship's channel: its relay socket and the control socket of the
 * ssh connection that carries the forward.
 *
 * @param home The flagship's home.
 * @param ship The ship's VM name.
 * @returns Both paths.
 */
export function flagshipChannelPaths(
  home: string,
  ship: string,
): { relay: string; control: string } {
  const dir = join(memberPaths(home).configDir, "channels");
  const key = createHash("sha256").update(ship).digest("hex").slice(0, 16);
  return {
    relay: fittingSocketPath(join(dir, `${key}.sock`)),
    control: fittingSocketPath(join(dir, `${key}.ctl`), 17),
  };
}
