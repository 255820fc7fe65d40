/**
 * Ctrl-C (or SIGTERM, SIGHUP) during a long fleet operation. The first asks the operation to stop
 * and remove what it started, so no paid VM is left half made; a second stops at once. Programs
 * of the running step are stopped, except a request to the provider to make or remove something
 * (a VM, a key): it finishes, so that what it made is known and undone.
 *
 * @module
 */

import { InterruptedError } from "../errors.ts";
import { note } from "./output.ts";

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** An operation's way to hear that it should stop. */
export interface Interruption extends Disposable {
  /** Aborts, with an {@link InterruptedError} as its reason, at the first signal. */
  readonly signal: AbortSignal;
}

/**
 * Listens for interruptions until disposed.
 *
 * @param leftovers What a person should run when a second signal stops everything at once.
 * @param options `announce: false` for an operation that stops at once and says itself what
 *   goes on (a wait: the work waited for carries on); default true, which says "stopping…".
 * @returns The signal to pass to the operation.
 */
export function listenForInterruption(
  leftovers: string,
  options: { announce?: boolean } = {},
): Interruption {
  const controller = new AbortController();
  const listeners = SIGNALS.map((name) => {
    const listener = () => {
      if (controller.signal.aborted) {
        tell(`Stopped at once; whatever was half made is left: ${leftovers}`);
        Deno.exit(130);
      }
      // Abort first: after SIGHUP the terminal may be gone, and writing to it may fail.
      controller.abort(new InterruptedError(`interrupted by ${name}`));
      if (options.announce === false) return;
      tell(
        `Interrupted (${name}): stopping… (once more to stop at once, leaving things half made)`,
      );
    };
    Deno.addSignalListener(name, listener);
    return [name, listener] as const;
  });
  return {
    signal: controller.signal,
    [Symbol.dispose]() {
      for (const [name, listener] of listeners) Deno.removeSignalListener(name, listener);
    },
  };
}

function tell(line: string): void {
  try {
    note(line);
  } catch {
    // no terminal to tell
  }
}
