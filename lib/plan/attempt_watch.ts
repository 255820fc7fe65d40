/**
 * An attempt followed on its ship: delivered (unless it was: delivery is idempotent by its
 * message id), then followed to its end through dropped connections. A ship gone from the fleet,
 * or unreachable past the plan's `reassignAfter`, loses its attempt, and rests for as long.
 *
 * @module
 */

import { NotFoundError } from "../errors.ts";
import type { FinishedMessage } from "../inbox/message.ts";
import { sleep } from "../timer.ts";
import { VERIFYING_TYPE } from "../agent/verify.ts";
import { attemptCommand } from "./attempt_commands.ts";
import type { LivePlan } from "./live_plan.ts";
import type { PlanShips } from "./plan_ships.ts";
import type { AttemptRecord } from "./plan_records.ts";

// The ship's task says it verifies with this line (agent/task_finish.ts).
const VERIFYING_MARK = `"${VERIFYING_TYPE}"`;

/** What a watch needs of the driver, and whom it tells. */
export interface AttemptWatch {
  /** The driver's ships. */
  ships: PlanShips;
  /** How long the ship may be unreachable before it loses the attempt. */
  lostAfterMs: number;
  /** Stops the watch (the driver stops): the attempt goes on on its ship. */
  signal: AbortSignal;
  /** Told when the ship's agent has ended and its work is being verified. */
  verifying(): void;
  /** Told the attempt's finished message. */
  ended(message: FinishedMessage): Promise<void>;
  /** Told that the ship lost the attempt, and why. */
  lost(why: string): Promise<void>;
  /** Told what goes wrong on the way. */
  log(line: string): void;
}

/**
 * Delivers an attempt (unless it was) and follows it to its end, in the background.
 *
 * @param plan The plan.
 * @param attempt The attempt, recorded.
 * @param state `sent`: whether it may have been delivered already (it is then looked for first).
 * @param watch The driver's side.
 */
export function watchAttempt(
  plan: LivePlan,
  attempt: AttemptRecord,
  state: { sent: boolean },
  watch: AttemptWatch,
): void {
  const { ships, signal } = watch;
  const lostAfter = watch.lostAfterMs;
  (async () => {
    let failingSince: number | null = null;
    let delay = 250;
    while (!signal.aborted) {
      let ship = ships.get(attempt.ship);
      if (!ship) {
        // Only a registry that was read says the ship is gone; one that could not be is asked
        // again.
        const read = await ships.refresh().then(() => true, () => false);
        ship = ships.get(attempt.ship);
        if (!ship && read) return await watch.lost("it is no longer in the fleet");
        if (!ship) {
          await sleep(delay, signal).catch(() => {});
          delay = Math.min(delay * 2, 10_000);
          continue;
        }
      }
      try {
        if (!state.sent) {
          const { command, timeoutMs } = attemptCommand(plan, attempt);
          await ship.send(command, { id: attempt.messageId, timeoutMs });
          state.sent = true;
        }
        const message = await ship.inbox.follow(attempt.messageId, (chunk) => {
          // The ship answers again: a later silence is counted from its own start.
          failingSince = null;
          delay = 250;
          if (chunk.stream === "stdout" && chunk.text.includes(VERIFYING_MARK)) watch.verifying();
        }, { signal });
        return await watch.ended(message);
      } catch (error) {
        if (signal.aborted) return;
        // Not on the ship: it was recorded but never delivered (a crash in between).
        if (error instanceof NotFoundError && state.sent) {
          state.sent = false;
          continue;
        }
        failingSince ??= Date.now();
        watch.log(`${attempt.messageId} on ${attempt.ship}: ${(error as Error).message}`);
        const read = await ships.refresh().then(() => true, () => false);
        if (read && !ships.has(attempt.ship)) continue; // lost at the top of the loop
        if (Date.now() - failingSince > lostAfter) {
          ships.rest(attempt.ship, lostAfter);
          return await watch.lost(`it did not answer for ${lostAfter / 1000} s`);
        }
        await sleep(delay, signal).catch(() => {});
        delay = Math.min(delay * 2, 10_000);
      }
    }
  })().catch((error) => watch.log(`watching ${attempt.messageId}: ${error.message}`));
}
