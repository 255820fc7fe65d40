/**
 * Newline-delimited streams, as the inbox protocol, fleet calls and Claude Code's stream-json
 * speak them: lines read from bytes within a limit (and a budget shared by many readers), lines
 * cut from text that arrives in pieces, and a buffer written whole.
 *
 * @module
 */

/**
 * Writes all of a buffer.
 *
 * @param connection Where to: a connection, a file, stdout.
 * @param bytes What.
 */
export async function writeAll(
  connection: { write(bytes: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  for (let offset = 0; offset < bytes.length;) {
    offset += await connection.write(bytes.subarray(offset));
  }
}

/**
 * Bytes that several readers may hold at once, at most: each takes what it buffers and gives it
 * back when the line is whole or the reader ends.
 */
export class ByteBudget {
  /** Bytes held now. */
  held = 0;
  /** The most that may be held. */
  readonly limit: number;

  /**
   * A budget.
   *
   * @param limit The most bytes that may be held at once.
   */
  constructor(limit: number) {
    this.limit = limit;
  }

  /**
   * Takes bytes from the budget.
   *
   * @param bytes How many.
   * @returns False, taking nothing, when that would pass the limit.
   */
  take(bytes: number): boolean {
    if (this.held + bytes > this.limit) return false;
    this.held += bytes;
    return true;
  }

  /**
   * Gives bytes back.
   *
   * @param bytes How many.
   */
  give(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
  }
}

/** Options for {@link readLines}. */
export interface ReadLinesOptions {
  /**
   * A last line without its newline counts too (a protocol drops it: the sender went away
   * mid-line).
   *
   * @default {false}
   */
  keepLast?: boolean;
  /** Shared with other readers: a line that cannot be buffered within it ends the stream. */
  budget?: ByteBudget;
}

/**
 * Splits a byte stream into lines (without their newlines); a line longer than `maxBytes`, or
 * one the budget has no room for, ends the stream with an error. It holds bytes, not text, of
 * an unfinished line, and looks at each byte once: a sender that never ends a line costs at
 * most `maxBytes`, and that memory is freed when the stream ends.
 *
 * @param stream The bytes.
 * @param maxBytes The longest line accepted.
 * @param options `keepLast` and `budget`.
 * @returns The lines.
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
  options: ReadLinesOptions = {},
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pieces: Uint8Array[] = [];
  let size = 0;
  const line = (last: Uint8Array) => {
    const text = decoder.decode(pieces.length ? join([...pieces, last], size + last.length) : last);
    options.budget?.give(size);
    pieces = [];
    size = 0;
    return text;
  };
  try {
    for await (const chunk of stream) {
      let start = 0;
      for (let newline = chunk.indexOf(10); newline >= 0; newline = chunk.indexOf(10, start)) {
        if (size + newline - start > maxBytes) {
          throw new RangeError(`a line longer than ${maxBytes} bytes`);
        }
        yield line(chunk.subarray(start, newline));
        start = newline + 1;
      }
      if (start === chunk.length) continue;
      const rest = chunk.slice(start); // a copy: the reader's buffer is not kept alive
      if (size + rest.length > maxBytes) {
        throw new RangeError(`a line longer than ${maxBytes} bytes`);
      }
      if (options.budget && !options.budget.take(rest.length)) {
        throw new RangeError(
          `no room for more unfinished lines (${options.budget.limit} bytes held)`,
        );
      }
      pieces.push(rest);
      size += rest.length;
    }
    if (options.keepLast && size) yield line(new Uint8Array());
  } finally {
    options.budget?.give(size);
  }
}

function join(pieces: Uint8Array[], size: number): Uint8Array {
  const whole = new Uint8Array(size);
  let offset = 0;
  for (const piece of pieces) {
    whole.set(piece, offset);
    offset += piece.length;
  }
  return whole;
}

/** Cuts text that arrives in pieces into lines; see {@link lineSplitter}. */
export interface LineSplitter {
  /** Takes the next piece: every line it completes is told, in order. */
  push(text: string): void;
  /** The input ended: a last line without its newline is told too. */
  end(): void;
}

/**
 * Cuts text that arrives in pieces (a program's stdout, say) into lines. Each piece is looked
 * at once, so a long line costs no more than its length.
 *
 * @example Lines of a command's output as it comes
 * ```ts
 * import { lineSplitter } from "./lines.ts";
 *
 * const lines = lineSplitter((line) => console.log(`> ${line}`));
 * lines.push("one\ntw");
 * lines.push("o\nthree");
 * lines.end(); // "> one", "> two", "> three"
 * ```
 *
 * @param onLine Told each line, without its newline.
 * @returns The splitter.
 */
export function lineSplitter(onLine: (line: string) => void): LineSplitter {
  let pieces: string[] = [];
  return {
    push(text) {
      let start = 0;
      for (let newline = text.indexOf("\n"); newline >= 0; newline = text.indexOf("\n", start)) {
        pieces.push(text.slice(start, newline));
        const line = pieces.join("");
        pieces = [];
        start = newline + 1;
        onLine(line);
      }
      if (start < text.length) pieces.push(text.slice(start));
    },
    end() {
      if (pieces.length === 0) return;
      const line = pieces.join("");
      pieces = [];
      onLine(line);
    },
  };
}
