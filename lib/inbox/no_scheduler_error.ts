/**
 * The error of a message that waits in an inbox whose scheduler is not running: nothing there
 * will run it, finish it or stop it.
 *
 * @module
 */

import { DeliveryRefusedError } from "../errors.ts";
import { registerErrorClass } from "../error_data.ts";
import type { Message } from "./message.ts";

/**
 * A message waits in an inbox whose scheduler is not running.
 *
 * @example Start the scheduler a message waits for
 * ```ts
 * import { NoSchedulerError, send } from "@smithclay/ohcommodore";
 * await send("captain@ship-web-k3f9a1b2", "make", { wait: true }).catch((error) => {
 *   if (error instanceof NoSchedulerError) console.error(`${error.waiting.id} waits`);
 *   else throw error;
 * });
 * ```
 */
export class NoSchedulerError extends DeliveryRefusedError {
  /** The message as it is now. */
  readonly waiting: Message;

  /**
   * Creates the error.
   *
   * @param address The inbox's address.
   * @param message The waiting message.
   */
  constructor(address: string, message: Message) {
    super(
      `Message "${message.id}" is ${message.status} on ${address}, but no scheduler is running ` +
        `there`,
      {
        next: `start one with "ohcommodore scheduler start", then check ` +
          `"ohcommodore inbox show ${message.id}"`,
      },
    );
    this.waiting = message;
  }
}

// It crosses from the flagship to the laptop as data and comes back as itself.
registerErrorClass(NoSchedulerError);
