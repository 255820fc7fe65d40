/**
 * The error of a member's command that exited non-zero (`ship.$\`…\``): where it ran and the
 * finished message, with the tail of its stderr in the message.
 *
 * @module
 */

import { oneLine } from "../clip.ts";
import { OhcommodoreError } from "../errors.ts";
import { registerErrorClass } from "../error_data.ts";
import type { FinishedMessage } from "../inbox/message.ts";

/**
 * A command run through an inbox exited non-zero.
 *
 * @example Read why a command failed
 * ```ts
 * import { CommandFailedError, Fleet } from "@smithclay/ohcommodore";
 * await using fleet = await Fleet.open();
 * const ship = await fleet.ship("web");
 * try {
 *   await ship.$`cd ~/web && deno task test`;
 * } catch (error) {
 *   if (!(error instanceof CommandFailedError)) throw error;
 *   console.error(error.outcome.exitCode, error.outcome.stderr);
 * }
 * ```
 */
export class CommandFailedError extends OhcommodoreError {
  /** Where it ran. */
  readonly address: string;
  /** The finished message: exit code, output, error. */
  readonly outcome: FinishedMessage;

  /**
   * Creates the error.
   *
   * @param address The member's address.
   * @param outcome The finished message.
   */
  constructor(address: string, outcome: FinishedMessage) {
    const tail = (outcome.stderr ?? "").trim().split("\n").slice(-3).join("\n");
    super(
      `"${oneLine(outcome.command, 80)}" failed on ${address} (${
        outcome.error ?? "exit code " + outcome.exitCode
      })` +
        (tail ? `:\n${tail}` : ""),
    );
    this.address = address;
    this.outcome = outcome;
  }
}

registerErrorClass(CommandFailedError);
