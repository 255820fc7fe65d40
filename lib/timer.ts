/**
 * Timers for any delay. Node and Deno keep a timer's delay in a signed 32-bit integer: a delay
 * above 2^31−1 ms (about 24.8 days) fires at once, with only a warning.
 *
 * @module
 */

/** The longest delay `setTimeout` honours, in milliseconds. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `callback` after `ms`, however long that is: past {@link MAX_TIMER_MS} the wait goes
 * round in steps that each fit a timer.
 *
 * @param callback What to call.
 * @param ms The delay in milliseconds; below zero or not a number is taken as zero.
 * @returns A function that cancels the call.
 */
export function setLongTimeout(callback: () => void, ms: number): () => void {
  const deadline = Date.now() + (ms > 0 ? ms : 0);
  let timer: ReturnType<typeof setTimeout>;
  const arm = () => {
    const left = Math.max(0, deadline - Date.now());
    timer = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(callback, left);
  };
  arm();
  return () => clearTimeout(timer);
}

/**
 * Waits, or stops waiting early when the signal aborts (it resolves then too: the caller looks
 * at the signal).
 *
 * @example Pause between two looks, unless told to stop
 * ```ts
 * import { sleep } from "./timer.ts";
 *
 * const stopped = new AbortController();
 * await sleep(500, stopped.signal);
 * ```
 *
 * @param ms How long, in milliseconds (at most {@link MAX_TIMER_MS}).
 * @param signal Ends the wait early.
 * @returns When the time is up or the signal aborted.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
