/**
 * Throwaway fleets ({@link Fleet.local}) and the signals that sink them: Ctrl-C or SIGTERM
 * sinks every one still afloat and removes its home, then goes on to end the process as it
 * would have (unless the script listens for that signal itself: then its own listener decides).
 * The library never exits.
 *
 * @module
 */

// Every throwaway fleet still afloat; a signal sinks them all, then goes on as it would have.
const THROWAWAY_FLEETS = new Set<() => Promise<void>>();
const SINK_ON: Record<"SIGINT" | "SIGTERM", () => void> = {
  SIGINT: () => sinkAllThenResignal("SIGINT"),
  SIGTERM: () => sinkAllThenResignal("SIGTERM"),
};
let sinking: Promise<unknown> | undefined;

/**
 * Keeps a throwaway fleet: on a signal, or when its stop is called (once, however often),
 * it sinks and its home is removed.
 *
 * @param home The fleet's temporary home.
 * @param sink Sinks the fleet, flagship and all.
 * @returns What stops it: sinks it, removes its home, forgets it.
 */
export function keepThrowaway(home: string, sink: () => Promise<unknown>): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      try {
        await sink();
      } finally {
        await Deno.remove(home, { recursive: true }).catch(() => {});
        forgetThrowaway(stop);
      }
    })();
  throwAwayOnSignal(stop);
  return stop;
}

// Listening stays on while fleets sink: a second Ctrl-C waits for the same cleanup. Then the
// signal is raised again without our listeners: it ends the process as it would have without
// a fleet, or reaches the script's own listener, which decides. The library never exits.
function sinkAllThenResignal(signal: Deno.Signal): void {
  sinking ??= Promise.allSettled([...THROWAWAY_FLEETS].map((sink) => sink())).finally(() => {
    sinking = undefined;
    stopListening();
    Deno.kill(Deno.pid, signal);
  });
}

function throwAwayOnSignal(stop: () => Promise<void>): void {
  if (THROWAWAY_FLEETS.size === 0) {
    for (const [signal, listener] of Object.entries(SINK_ON)) {
      Deno.addSignalListener(signal as Deno.Signal, listener);
    }
  }
  THROWAWAY_FLEETS.add(stop);
}

// The last one gone, the listeners go too, so the process can end by itself.
function forgetThrowaway(stop: () => Promise<void>): void {
  if (!THROWAWAY_FLEETS.delete(stop) || THROWAWAY_FLEETS.size > 0 || sinking) return;
  stopListening();
}

function stopListening(): void {
  for (const [signal, listener] of Object.entries(SINK_ON)) {
    Deno.removeSignalListener(signal as Deno.Signal, listener);
  }
}
