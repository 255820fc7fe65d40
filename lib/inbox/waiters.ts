/**
 * Requests that wait for something to happen on the server: a message to finish, a message to
 * arrive. Each waiter hears the first value told for its key, or its deadline, or its client
 * leaving, whichever comes first.
 *
 * @module
 */

import { setLongTimeout } from "../timer.ts";

/** How a wait ended: the value, its deadline, or its client leaving. */
export type WaitEnd<T> = T | "expired" | "left";

/** Waiters by key. */
export class Waiters<T> {
  readonly #waiting = new Map<string, Set<(value: T) => void>>();

  /**
   * Waits for a value told for `key`. `look` runs once the waiter listens, so that what
   * happened before is not missed: a value it returns ends the wait at once.
   *
   * @param key What to wait for (a message id, a sender).
   * @param timeoutMs The deadline.
   * @param signal Aborts when the client leaves.
   * @param look Looks for the value as it is now.
   * @returns How the wait ended.
   */
  async wait(
    key: string,
    timeoutMs: number,
    signal: AbortSignal,
    look: () => Promise<T | undefined> = () => Promise.resolve(undefined),
  ): Promise<WaitEnd<T>> {
    let heard: (value: T) => void = () => {};
    const told = new Promise<T>((resolve) => heard = resolve);
    const waiters = this.#waiting.get(key) ?? new Set();
    this.#waiting.set(key, waiters);
    waiters.add(heard);
    let cancelTimer = () => {};
    const expired = new Promise<"expired">((resolve) => {
      cancelTimer = setLongTimeout(() => resolve("expired"), timeoutMs);
    });
    let stopListening = () => {};
    const left = new Promise<"left">((resolve) => {
      const leave = () => resolve("left");
      if (signal.aborted) leave();
      signal.addEventListener("abort", leave, { once: true });
      stopListening = () => signal.removeEventListener("abort", leave);
    });
    try {
      const now = await look();
      if (now !== undefined) return now;
      return await Promise.race([told, expired, left]);
    } finally {
      cancelTimer();
      stopListening();
      waiters.delete(heard);
      if (waiters.size === 0) this.#waiting.delete(key);
    }
  }

  /**
   * Tells every waiter of a key.
   *
   * @param key The key.
   * @param value What happened.
   */
  tell(key: string, value: T): void {
    for (const heard of this.#waiting.get(key) ?? []) heard(value);
  }
}
