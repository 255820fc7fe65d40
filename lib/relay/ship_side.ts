/**
 * The ship's side of what its flagship does over the channel's connection: ready the place where
 * the channel's socket goes, hand over the outbox, and hear what became of each message. The
 * flagship runs these as `ohcommodore inbox _channel` and `inbox _outbox` on the ship.
 *
 * @module
 */

import { dirname } from "node:path";
import { UsageError } from "../errors.ts";
import { type ChannelState, shipChannelSocket, shipChannelStateFile } from "./channel_paths.ts";
import { Outbox, OUTBOX_BATCH, OUTBOX_BATCH_BYTES, type OutboxEntry } from "./outbox.ts";
import { writePrivateFile } from "../private_files.ts";

/**
 * Readies the channel's socket path: a private directory, no stale socket in the way (the
 * flagship's sshd-side bind fails on one, and ships' sshd need not unlink it).
 *
 * @param home The ship's home.
 * @returns The socket path the flagship forwards onto.
 */
export async function prepareChannel(home?: string): Promise<{ socket: string }> {
  const socket = shipChannelSocket(home);
  await Deno.mkdir(dirname(socket), { recursive: true, mode: 0o700 });
  await Deno.remove(socket).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  return { socket };
}

/**
 * Records how the channel runs (so a sender knows whether it can wait), and hands over what
 * waits in the outbox.
 *
 * @param state How the channel runs now, when the flagship says.
 * @param home The ship's home.
 * @returns The waiting messages, oldest first.
 */
export async function takeOutbox(
  state: Omit<ChannelState, "since"> | undefined,
  home?: string,
): Promise<OutboxEntry[]> {
  if (state) {
    const record: ChannelState = { ...state, since: new Date().toISOString() };
    await writePrivateFile(shipChannelStateFile(home), JSON.stringify(record) + "\n");
  }
  return await new Outbox(home).pending(OUTBOX_BATCH, OUTBOX_BATCH_BYTES);
}

/** What became of one collected message. */
export interface Settlement {
  /** Its id. */
  id: string;
  /** The flagship's reason, when it refused it; absent when it was delivered. */
  refused?: string;
}

/**
 * Takes delivered messages out of the outbox and moves refused ones aside with the reason.
 *
 * @param input The flagship's JSON list of {@link Settlement}s.
 * @param home The ship's home.
 * @returns How many were settled.
 */
export async function settleOutbox(input: string, home?: string): Promise<number> {
  let settlements: unknown;
  try {
    settlements = JSON.parse(input);
  } catch {
    throw new UsageError(`_outbox --settle reads a JSON list of {"id", "refused"?} on stdin`);
  }
  if (!Array.isArray(settlements)) {
    throw new UsageError(`_outbox --settle reads a JSON list of {"id", "refused"?} on stdin`);
  }
  const outbox = new Outbox(home);
  let count = 0;
  for (const settlement of settlements as Settlement[]) {
    if (typeof settlement?.id !== "string") continue;
    if (typeof settlement.refused === "string") {
      await outbox.refuse(settlement.id, settlement.refused);
    } else {
      await outbox.remove(settlement.id);
    }
    count++;
  }
  return count;
}
