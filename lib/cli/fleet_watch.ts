/**
 * `ohcommodore fleet watch`: the fleet, live. On a terminal, full screen and updated in place as
 * the view's events arrive (see `watch_render.ts` for what it shows, `watch_state.ts` for the
 * keys); off one, a plain line per change (`watch_plain.ts`); with `--json`, each event as a JSON
 * line.
 *
 * The terminal is given back as it was however the watch ends: `q`, Ctrl-C, a signal, or an
 * error (which is then printed as every command's is). A resize (SIGWINCH) redraws the whole
 * screen; otherwise a frame writes only the rows that changed, in one write.
 *
 * @example Watch the fleet until `q`
 * ```ts
 * import { watchFleet } from "./fleet_watch.ts";
 *
 * Deno.exitCode = await watchFleet();
 * ```
 *
 * @module
 */

import { Fleet } from "../fleet/fleet.ts";
import { FleetView, type ViewEvent } from "../view/fleet_view.ts";
import { writeAll } from "./live_board.ts";
import { errorText, note, paint } from "./output.ts";
import { type KeyInput, readKeys } from "./watch_keys.ts";
import { PlainLog } from "./watch_plain.ts";
import { renderWatch, type ScreenSize } from "./watch_render.ts";
import { addLine, applyKey, endFollow, initialState, type WatchState } from "./watch_state.ts";
import { FullScreen, type ScreenIo } from "./watch_terminal.ts";

/** Options for {@link watchFleet}. */
export interface WatchOptions {
  /**
   * Print each event of the view as a JSON line, on a terminal too.
   *
   * @default {false}
   */
  json?: boolean;
  /**
   * How often the fleet is read.
   *
   * @default {the view's: 2 s}
   */
  intervalMs?: number;
}

/** What the screen needs of a view: `FleetView` or a stand-in. */
export type WatchedView = Pick<FleetView, "snapshot" | "subscribe" | "follow"> & AsyncDisposable;

/** Where the screen draws, reads keys, and hears signals; the process's own by default. */
export interface WatchIo {
  /** The terminal's output and keyboard mode. */
  screen: ScreenIo;
  /** Where keys come from; null when stdin is no terminal. */
  keys: KeyInput | null;
  /** The terminal's size now. */
  size(): ScreenSize;
  /** Calls `listener` on a signal until the returned function is called. */
  onSignal(signal: Deno.Signal, listener: () => void): () => void;
  /** Colour, unless NO_COLOR. */
  color: boolean;
}

// Exit codes for a watch ended by a signal: 128 + its number, as a shell reports it.
const SIGNAL_EXITS: [Deno.Signal, number][] = [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]];
// How long the end waits for the view to stop reading the fleet before leaving it to the exit.
const CLOSE_WAIT_MS = 3000;

/**
 * Watches the fleet until `q`, Ctrl-C or a signal: full screen on a terminal, plain lines
 * elsewhere, JSON lines with `json`.
 *
 * @param options JSON, and how often to read the fleet.
 * @returns The exit code: 0 after `q`, 130 after Ctrl-C, 128 + n after signal n.
 */
export async function watchFleet(options: WatchOptions = {}): Promise<number> {
  const fleet = await Fleet.open();
  const open = () => FleetView.open(fleet, { intervalMs: options.intervalMs });
  if (options.json || !Deno.stdout.isTerminal() || Deno.env.get("TERM") === "dumb") {
    return await watchLines(open, options.json ?? false);
  }
  return await watchScreen(open, processIo());
}

/**
 * Watches off a terminal: a line per change, or each event as JSON, on stdout (warnings on
 * stderr), until a signal.
 *
 * @param open Opens the view.
 * @param json Whether to print events as JSON.
 * @returns The exit code of the signal that ended it.
 */
async function watchLines(open: () => Promise<WatchedView>, json: boolean): Promise<number> {
  const ended = Promise.withResolvers<number>();
  const stops = SIGNAL_EXITS.map(([signal, code]) => listen(signal, () => ended.resolve(code)));
  try {
    await using view = await open();
    const log = new PlainLog();
    const print = (event: ViewEvent) => {
      if (json) return writeAll(Deno.stdout, JSON.stringify(event) + "\n");
      for (const line of log.lines(event)) {
        if (event.type === "error") note(paint("yellow", line));
        else writeAll(Deno.stdout, line + "\n");
      }
    };
    print({ type: "snapshot", snapshot: view.snapshot() });
    const unsubscribe = view.subscribe(print);
    try {
      return await ended.promise;
    } finally {
      unsubscribe();
    }
  } finally {
    for (const stop of stops) stop();
  }
}

/**
 * Watches full screen until `q`, Ctrl-C or a signal; the terminal is given back however it
 * ends, before the view is closed.
 *
 * @param open Opens the view (the screen shows "Reading the fleet…" meanwhile).
 * @param io The terminal, keys and signals.
 * @returns The exit code.
 * @throws What the view or drawing threw, after the terminal is given back.
 */
export async function watchScreen(
  open: () => Promise<WatchedView>,
  io: WatchIo,
): Promise<number> {
  using screen = FullScreen.enter(io.screen);
  const loop = new ScreenLoop(screen, io);
  const keys = new AbortController();
  const stops = [
    ...SIGNAL_EXITS.map(([signal, code]) => io.onSignal(signal, () => loop.end(code))),
    io.onSignal("SIGWINCH", () => loop.resized()),
  ];
  // Running times go on between reads.
  const clock = setInterval(() => loop.redraw(), 1000);
  const opening = open();
  try {
    loop.draw();
    if (io.keys) readKeys(io.keys, (key) => loop.key(key), keys.signal).catch(loop.fail);
    const view = await Promise.race([opening, loop.ended.then(() => null)]);
    if (view) loop.show(view);
    return await loop.ended;
  } finally {
    keys.abort();
    clearInterval(clock);
    for (const stop of stops) stop();
    // The terminal first: closing the view may wait for a read of the fleet under way.
    screen[Symbol.dispose]();
    await loop.close(opening);
  }
}

// The screen's state, its drawing, and the transcript it follows.
class ScreenLoop {
  readonly #screen: FullScreen;
  readonly #io: WatchIo;
  readonly #ended = Promise.withResolvers<number>();
  #state: WatchState = initialState();
  #size: ScreenSize;
  #view: WatchedView | null = null;
  #unsubscribe = () => {};
  #following: { serial: number; stop: AbortController; done: Promise<void> } | null = null;
  #drawing: ReturnType<typeof setTimeout> | undefined;

  constructor(screen: FullScreen, io: WatchIo) {
    this.#screen = screen;
    this.#io = io;
    this.#size = io.size();
  }

  // Settles with the exit code, or with what failed.
  get ended(): Promise<number> {
    return this.#ended.promise;
  }

  end(code: number): void {
    this.#ended.resolve(code);
  }

  fail = (error: unknown): void => this.#ended.reject(error);

  show(view: WatchedView): void {
    this.#view = view;
    this.#state = { ...this.#state, snapshot: view.snapshot() };
    this.#unsubscribe = view.subscribe((event) =>
      this.#update((state) => ({
        ...state,
        // The view's latest, which holds the plan events heard since its last read too.
        snapshot: view.snapshot(),
        error: event.type === "error"
          ? event.message
          : event.type === "snapshot"
          ? event.snapshot.problems[0] ?? null
          : state.error,
      }))
    );
    this.draw();
  }

  key(key: string): void {
    const result = applyKey(this.#state, key, this.#size.rows - 3);
    if (result.quit) return this.end(result.quit === "quit" ? 0 : 130);
    this.#update(() => result.state);
  }

  resized(): void {
    this.#size = this.#io.size();
    this.#screen.invalidate();
    this.redraw();
  }

  draw(): void {
    clearTimeout(this.#drawing);
    this.#drawing = undefined;
    try {
      this.#screen.draw(renderWatch(this.#state, this.#size, { color: this.#io.color }));
    } catch (error) {
      this.fail(error);
    }
  }

  // Several changes in one turn of the event loop make one frame.
  redraw(): void {
    this.#drawing ??= setTimeout(() => this.draw(), 0);
  }

  // Stops following and listening, and closes the view (or the one still opening), waiting a
  // little for them before leaving them to the process's exit.
  async close(opening: Promise<WatchedView>): Promise<void> {
    clearTimeout(this.#drawing);
    this.#unsubscribe();
    const following = this.#following;
    following?.stop.abort();
    const view = this.#view;
    const closed = (async () => {
      await following?.done;
      await (view ?? await opening)[Symbol.asyncDispose]();
    })().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      closed,
      new Promise((resolve) => timer = setTimeout(resolve, CLOSE_WAIT_MS)),
    ]);
    clearTimeout(timer);
  }

  #update(change: (state: WatchState) => WatchState): void {
    this.#state = change(this.#state);
    this.#syncFollow();
    this.redraw();
  }

  // The transcript shown is the one followed: a new one starts, one left (Esc) stops.
  #syncFollow(): void {
    const top = this.#state.panes.at(-1);
    const wanted = top?.kind === "follow" ? top : null;
    if (this.#following && this.#following.serial !== wanted?.serial) {
      this.#following.stop.abort();
      this.#following = null;
    }
    if (this.#following || !wanted || !this.#view) return;
    const serial = wanted.serial;
    const stop = new AbortController();
    const onLine = (line: string) => this.#update((state) => addLine(state, serial, line));
    const done = this.#view.follow(wanted.taskId, onLine, stop.signal).then(
      (outcome) => this.#update((state) => endFollow(state, serial, { outcome })),
      (error) => {
        if (stop.signal.aborted) return;
        this.#update((state) => endFollow(state, serial, { error: errorText(error) }));
      },
    );
    this.#following = { serial, stop, done };
  }
}

function listen(signal: Deno.Signal, listener: () => void): () => void {
  Deno.addSignalListener(signal, listener);
  return () => Deno.removeSignalListener(signal, listener);
}

// The process's terminal.
function processIo(): WatchIo {
  const keyboard = Deno.stdin.isTerminal();
  return {
    screen: {
      output: Deno.stdout,
      setRaw: keyboard ? (raw) => Deno.stdin.setRaw(raw) : undefined,
    },
    keys: keyboard ? Deno.stdin : null,
    size: () => {
      try {
        const { columns, rows } = Deno.consoleSize();
        return { columns: columns || 80, rows: rows || 24 };
      } catch {
        return { columns: 80, rows: 24 };
      }
    },
    onSignal: listen,
    color: !Deno.env.get("NO_COLOR"),
  };
}
