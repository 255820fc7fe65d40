/**
 * Keys from a terminal in raw mode: the bytes a key sends (`\x1b[A` for ↑, `\r` for Enter, a lone
 * `\x1b` for Esc) read as names, and a reader that hands them over one at a time.
 *
 * @example Name the keys of one read
 * ```ts
 * import { parseKeys } from "./watch_keys.ts";
 *
 * parseKeys("\x1b[B\x1b[Bq"); // ["down", "down", "q"]
 * ```
 *
 * @module
 */

/**
 * A key by name: `up`, `down`, `left`, `right`, `pageup`, `pagedown`, `home`, `end`, `enter`,
 * `escape`, `backspace`, `tab`, `ctrl-c`, `ctrl-d`, or the character typed (`q`, `j`, …).
 */
export type Key = string;

// What follows ESC [ (or ESC O, as in application cursor mode) for each named key.
const SEQUENCES: Record<string, Key> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
  "1~": "home",
  "7~": "home",
  "4~": "end",
  "8~": "end",
  "5~": "pageup",
  "6~": "pagedown",
};

const CONTROLS: Record<string, Key> = {
  "\r": "enter",
  "\n": "enter",
  "\t": "tab",
  "\x7f": "backspace",
  "\b": "backspace",
  "\x03": "ctrl-c",
  "\x04": "ctrl-d",
};

/**
 * The keys in what one read of a raw terminal gave. A lone ESC, or one followed by something
 * that starts no sequence, is Esc; a sequence it does not know (a function key) is left out.
 *
 * @example Tell Esc from an arrow
 * ```ts
 * import { parseKeys } from "./watch_keys.ts";
 *
 * parseKeys("\x1b"); // ["escape"]
 * parseKeys("\x1bOA"); // ["up"]
 * ```
 *
 * @param text What was read.
 * @returns The keys, in order.
 */
export function parseKeys(text: string): Key[] {
  const keys: Key[] = [];
  for (let at = 0; at < text.length;) {
    const char = text[at];
    if (char === "\x1b") {
      // deno-lint-ignore no-control-regex -- a key's sequence starts with ESC
      const sequence = /^\x1b(?:\[([0-9;]*[~A-Za-z])|O([A-Za-z]))/.exec(text.slice(at));
      if (sequence) {
        const name = SEQUENCES[sequence[1] ?? sequence[2]];
        if (name) keys.push(name);
        at += sequence[0].length;
      } else {
        keys.push("escape");
        at += 1;
      }
      continue;
    }
    // `\r\n` from a terminal that sends both for Enter is one Enter.
    if (char === "\r" && text[at + 1] === "\n") at += 1;
    const code = text.codePointAt(at)!;
    const whole = String.fromCodePoint(code);
    const control = CONTROLS[whole];
    if (control) keys.push(control);
    else if (code >= 0x20) keys.push(whole);
    at += whole.length;
  }
  return keys;
}

/** What keys are read from: `Deno.stdin` or anything shaped like it. */
export interface KeyInput {
  /** Reads some bytes; null at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
}

/**
 * Reads keys until the input ends or `signal` aborts, and gives each to `onKey`.
 *
 * @example Quit on q
 * ```ts
 * import { readKeys } from "./watch_keys.ts";
 *
 * const stop = new AbortController();
 * await readKeys(Deno.stdin, (key) => key === "q" && stop.abort(), stop.signal);
 * ```
 *
 * @param input Where from; in raw mode for keys to arrive as they are pressed.
 * @param onKey Told each key.
 * @param signal Stops the reading (a read under way is left to end by itself).
 */
export async function readKeys(
  input: KeyInput,
  onKey: (key: Key) => void,
  signal: AbortSignal,
): Promise<void> {
  const buffer = new Uint8Array(256);
  const decoder = new TextDecoder();
  while (!signal.aborted) {
    const count = await input.read(buffer);
    if (count === null || signal.aborted) return;
    for (const key of parseKeys(decoder.decode(buffer.subarray(0, count), { stream: true }))) {
      if (signal.aborted) return;
      onKey(key);
    }
  }
}
