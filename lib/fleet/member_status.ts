/**
 * One member's own account of itself (`ohcommodore _status`): version, identity, scheduler and
 * inbox counts. `fleet status` gathers these from every member in parallel.
 *
 * @module
 */

import type { Channel } from "../channel.ts";
import { RemoteCommandError } from "../errors.ts";
import { identityAddress } from "../identity.ts";
import { Inbox } from "../inbox/inbox.ts";
import type { MessageStatus } from "../inbox/message.ts";
import { schedulerState } from "../inbox/scheduler_service.ts";
import { REMOTE_PROGRAM } from "../inbox/send.ts";
import { VERSION } from "../version.ts";

/** What a member says about itself. */
export interface MemberReport {
  /** Its address, e.g. `captain@ship-web-k3f9a1b2`. */
  address: string;
  /** The version of its program. */
  version: string;
  /** Whether its scheduler answers. */
  schedulerRunning: boolean;
  /** Messages per status. */
  counts: Record<MessageStatus, number>;
}

/**
 * This member's report.
 *
 * @param home Its home directory; defaults to `$HOME`.
 * @returns The report.
 */
export async function memberReport(home?: string): Promise<MemberReport> {
  const inbox = await Inbox.open({ home });
  const [state, counts] = await Promise.all([schedulerState(inbox), inbox.counts()]);
  return {
    address: identityAddress(inbox.identity),
    version: VERSION,
    schedulerRunning: state.running,
    counts,
  };
}

/**
 * Asks a member for its report.
 *
 * @param channel The member.
 * @param timeoutMs How long to wait.
 * @returns The report.
 */
export async function fetchReport(channel: Channel, timeoutMs = 60_000): Promise<MemberReport> {
  const result = await channel.run([REMOTE_PROGRAM, "_status"], { timeoutMs });
  try {
    return JSON.parse(result.stdout) as MemberReport;
  } catch {
    const tail = result.stderr.trim().split("\n").at(-1) ?? "";
    throw new RemoteCommandError(
      channel.destination,
      result.code,
      tail,
      `${channel.destination} gave no status (exit ${result.code}): ${tail}`,
    );
  }
}
