/**
 * A live board: one line per item (a ship) of a long fleet operation, on stderr.
 *
 * On a terminal each item's line is rewritten in place (ANSI cursor-up and erase-line), so a
 * create of five ships shows five lines, not one per step. Elsewhere (a pipe, a file, CI, or
 * `TERM=dumb`) every change is one plain line, `  <key>: <text>`, as the CLI has always printed.
 *
 * API:
 * - `liveBoard(options?)` makes a board; by default on stderr, live when stderr is a terminal.
 * - `board.set(key, text)` shows `text` on `key`'s line; a new key adds a line below the others.
 * - `board.done(key, text)` gives `key`'s final text; later `set`s for it are ignored.
 * - `board.log(line)` prints a line that stays, above the live lines.
 * - `board[Symbol.dispose]()` (or `using`) draws the final state and leaves the cursor below
 *   it; nothing is drawn after. Dispose before writing anything else to the terminal.
 * - `withBoard(run)` runs `run(board)` and disposes the board when it settles.
 *
 * Lines are cut to the terminal's width, since a wrapped line would break the cursor arithmetic.
 * Text may carry colour (see `paint` in output.ts).
 *
 * @example Show each ship's step, then its outcome
 * ```ts
 * import { liveBoard } from "./live_board.ts";
 *
 * using board = liveBoard();
 * board.set("ship-web-k3f9a1b2", "running cloudinit/init.sh");
 * board.done("ship-web-k3f9a1b2", "ready");
 * ```
 *
 * @module
 */

/** Where a board writes: `Deno.stderr` or anything shaped like it. */
export interface BoardOutput {
  /** Writes some of the bytes; returns how many. */
  writeSync(bytes: Uint8Array): number;
  /** Whether the output is a terminal. */
  isTerminal(): boolean;
}

/** Options for {@link liveBoard}. */
export interface LiveBoardOptions {
  /** Where to write; default `Deno.stderr`. */
  output?: BoardOutput;
  /** Rewrite lines in place; default: when the output is a terminal and TERM is not "dumb". */
  live?: boolean;
}

/** One line per key, updated in place on a terminal; see the module doc. */
export interface LiveBoard extends Disposable {
  /** Shows `text` on `key`'s line (a new key gets a new line), unless `key` is done. */
  set(key: string, text: string): void;
  /** Shows `key`'s final text. */
  done(key: string, text: string): void;
  /** Prints a line that stays, above the live lines. */
  log(line: string): void;
}

/**
 * Makes a board.
 *
 * @param options Where to write and whether to update in place.
 * @returns The board; dispose it when the operation ends.
 */
export function liveBoard(options: LiveBoardOptions = {}): LiveBoard {
  const output = options.output ?? Deno.stderr;
  const live = options.live ??
    (output.isTerminal() && Deno.env.get("TERM") !== "dumb");
  return live ? new TerminalBoard(output) : new PlainBoard(output);
}

/**
 * Runs an operation with a board, disposed when the operation settles (so that whatever is
 * printed next lands below the board).
 *
 * @param run The operation.
 * @param options Options for {@link liveBoard}.
 * @returns What `run` returns.
 */
export async function withBoard<T>(
  run: (board: LiveBoard) => Promise<T>,
  options?: LiveBoardOptions,
): Promise<T> {
  using board = liveBoard(options);
  return await run(board);
}

const encoder = new TextEncoder();

/**
 * Writes all of a text (`writeSync` may write part of what it is given).
 *
 * @param output Where, e.g. `Deno.stdout`.
 * @param text The text.
 */
export function writeAll(output: Pick<BoardOutput, "writeSync">, text: string): void {
  const bytes = encoder.encode(text);
  for (let at = 0; at < bytes.length;) at += output.writeSync(bytes.subarray(at));
}

class PlainBoard implements LiveBoard {
  #output: BoardOutput;
  #shown = new Map<string, string>();
  #done = new Set<string>();

  constructor(output: BoardOutput) {
    this.#output = output;
  }

  set(key: string, text: string): void {
    if (this.#done.has(key) || this.#shown.get(key) === text) return;
    this.#shown.set(key, text);
    this.log(`  ${key}: ${text}`);
  }

  done(key: string, text: string): void {
    this.set(key, text);
    this.#done.add(key);
  }

  log(line: string): void {
    writeAll(this.#output, `${line}\n`);
  }

  [Symbol.dispose](): void {}
}

class TerminalBoard implements LiveBoard {
  #output: BoardOutput;
  #lines = new Map<string, { text: string; done: boolean }>();
  #drawn = 0;
  #closed = false;

  constructor(output: BoardOutput) {
    this.#output = output;
  }

  set(key: string, text: string): void {
    if (this.#lines.get(key)?.done) return;
    this.#lines.set(key, { text, done: false });
    this.#draw();
  }

  done(key: string, text: string): void {
    if (this.#lines.get(key)?.done) return;
    this.#lines.set(key, { text, done: true });
    this.#draw();
  }

  log(line: string): void {
    this.#draw(line);
  }

  [Symbol.dispose](): void {
    this.#closed = true;
  }

  // Moves up over what was drawn, then rewrites every line (and a stray one above them).
  #draw(above?: string): void {
    if (this.#closed) {
      if (above !== undefined) writeAll(this.#output, `${above}\n`);
      return;
    }
    const width = columns();
    let text = this.#drawn ? `\r\x1b[${this.#drawn}A` : "\r";
    if (above !== undefined) text += `\x1b[2K${above}\n`;
    for (const [key, line] of this.#lines) {
      text += `\x1b[2K${fit(`  ${key}: ${line.text}`, width)}\n`;
    }
    this.#drawn = this.#lines.size;
    writeAll(this.#output, text);
  }
}

function columns(): number {
  try {
    return Deno.consoleSize().columns || 80;
  } catch {
    return 80;
  }
}

// Cuts a line to the width, leaving escape sequences (colour) intact and closing them.
function fit(line: string, width: number): string {
  const max = Math.max(width - 1, 10);
  let visible = 0;
  let out = "";
  // deno-lint-ignore no-control-regex -- colour codes are what it must step over
  for (const part of line.split(/(\x1b\[[0-9;]*m)/)) {
    if (part.startsWith("\x1b[")) {
      out += part;
      continue;
    }
    const chars = [...part];
    if (visible + chars.length > max) {
      return out + chars.slice(0, Math.max(0, max - visible - 1)).join("") + "…\x1b[0m";
    }
    visible += chars.length;
    out += part;
  }
  return out;
}
