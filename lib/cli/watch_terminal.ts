/**
 * The terminal taken whole for a full-screen view, and given back as it was.
 *
 * Entering switches to the alternate screen (what was on the terminal comes back on leaving),
 * hides the cursor, turns off line wrap and puts the keyboard in raw mode (keys arrive as they
 * are pressed, Ctrl-C as a key). Leaving undoes each, once, whichever way the view ends: a
 * return, a throw, or the process exiting (an `unload` listener).
 *
 * Frames are whole screens of lines, each exactly as wide as the screen (see `fitLine`). A
 * frame is written in one write, as the lines that changed since the last one, each drawn over
 * its row: nothing is cleared first, so nothing flickers. After a resize, {@link FullScreen.invalidate}
 * makes the next frame whole.
 *
 * @example Show one frame until a key is pressed
 * ```ts
 * import { FullScreen } from "./watch_terminal.ts";
 *
 * using screen = FullScreen.enter();
 * screen.draw(["fleet".padEnd(80), "press a key".padEnd(80)]);
 * await Deno.stdin.read(new Uint8Array(16));
 * ```
 *
 * @module
 */

import { type BoardOutput, writeAll } from "./live_board.ts";

/** Alternate screen, cursor hidden, no line wrap, screen cleared. */
export const ENTER_SCREEN = "\x1b[?1049h\x1b[?25l\x1b[?7l\x1b[H\x1b[2J";
/** Attributes reset, line wrap and cursor back, the main screen back. */
export const LEAVE_SCREEN = "\x1b[0m\x1b[?7h\x1b[?25h\x1b[?1049l";
// A frame between these is shown at once by terminals that know synchronized output; others
// ignore the unknown mode.
const BEGIN_FRAME = "\x1b[?2026h";
const END_FRAME = "\x1b[?2026l";

/** Where a screen writes and whose keyboard it sets raw: `Deno.stdout` and `Deno.stdin`. */
export interface ScreenIo {
  /** The terminal's output. */
  output: Pick<BoardOutput, "writeSync">;
  /** Sets the keyboard raw or back; absent when stdin is no terminal. */
  setRaw?: (raw: boolean) => void;
}

/** The terminal, taken for a full-screen view; see the module doc. */
export class FullScreen implements Disposable {
  #io: ScreenIo;
  #drawn: string[] = [];
  #whole = true;
  #left = false;
  #onUnload = () => this[Symbol.dispose]();

  private constructor(io: ScreenIo) {
    this.#io = io;
  }

  /**
   * Takes the terminal.
   *
   * @param io The output and the keyboard; by default stdout, and stdin when it is a terminal.
   * @returns The screen; dispose it to give the terminal back.
   */
  static enter(io: ScreenIo = defaultIo()): FullScreen {
    const screen = new FullScreen(io);
    globalThis.addEventListener("unload", screen.#onUnload);
    writeAll(io.output, ENTER_SCREEN);
    io.setRaw?.(true);
    return screen;
  }

  /**
   * Draws a frame: the rows whose line changed, in one write.
   *
   * @param lines One line per row, each as wide as the screen.
   */
  draw(lines: readonly string[]): void {
    if (this.#left) return;
    let text = this.#whole ? "\x1b[H\x1b[2J" : "";
    lines.forEach((line, row) => {
      if (!this.#whole && this.#drawn[row] === line) return;
      text += `\x1b[${row + 1};1H${line}`;
    });
    this.#drawn = [...lines];
    this.#whole = false;
    if (text) writeAll(this.#io.output, BEGIN_FRAME + text + END_FRAME);
  }

  /** Makes the next frame whole: after a resize, what the terminal shows is not known. */
  invalidate(): void {
    this.#whole = true;
  }

  /** Gives the terminal back as it was (once; later calls do nothing). */
  [Symbol.dispose](): void {
    if (this.#left) return;
    this.#left = true;
    globalThis.removeEventListener("unload", this.#onUnload);
    // Each step on its own: after SIGHUP the terminal may be gone, and then there is nothing
    // left to give back (and no error of this to hide the one that ended the view).
    try {
      this.#io.setRaw?.(false);
    } catch {
      // no keyboard any more
    }
    try {
      writeAll(this.#io.output, LEAVE_SCREEN);
    } catch {
      // no terminal any more
    }
  }
}

function defaultIo(): ScreenIo {
  return {
    output: Deno.stdout,
    setRaw: Deno.stdin.isTerminal() ? (raw) => Deno.stdin.setRaw(raw) : undefined,
  };
}
