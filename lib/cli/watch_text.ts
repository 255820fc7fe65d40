/**
 * Text measured and cut for a full-screen view: how many terminal cells a line takes (wide
 * characters two, combining marks none), and a line made exactly as wide as the screen.
 *
 * A line may carry SGR sequences (`\x1b[…m`: colour, bold, reverse) that the view added itself;
 * they take no cells and are kept. Any other control character left in a line is shown as an
 * escape (see `escapeControls`), so a line drawn with {@link fitLine} never moves the cursor
 * or changes the terminal, whatever it holds.
 *
 * @example Make a line fill a screen of 20 columns
 * ```ts
 * import { fitLine } from "./watch_text.ts";
 *
 * fitLine("ship-web-k3f9a1b2  running 1m20s $0.0125", 20); // "ship-web-k3f9a1b2  …"
 * fitLine("short", 8); // "short   "
 * ```
 *
 * @module
 */

import { escapeControls } from "./output.ts";

// deno-lint-ignore no-control-regex -- SGR sequences are what the view draws with
const SGR = /(\x1b\[[0-9;]*m)/;
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\ufe00-\ufe0f\u200b-\u200f]$/u;
const EMOJI = /^\p{Emoji_Presentation}$/u;

// East Asian wide and fullwidth ranges: Hangul Jamo, CJK, Hiragana to CJK compatibility, Hangul
// syllables, CJK compatibility ideographs, vertical and small forms, fullwidth forms, and the
// supplementary ideographic planes.
const WIDE: readonly [number, number][] = [
  [0x1100, 0x115f],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe30, 0xfe4f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x20000, 0x3fffd],
];

// How many terminal cells one code point takes: 0 (a combining accent), 1, or 2 (日).
function charWidth(char: string): number {
  const code = char.codePointAt(0) ?? 0;
  if (code < 0x300) return 1;
  if (ZERO_WIDTH.test(char)) return 0;
  if (EMOJI.test(char)) return 2;
  return WIDE.some(([low, high]) => code >= low && code <= high) ? 2 : 1;
}

/**
 * How many terminal cells a text takes, its SGR sequences left out.
 *
 * @example Measure a coloured word
 * ```ts
 * import { textWidth } from "./watch_text.ts";
 *
 * textWidth("\x1b[1mfleet\x1b[0m 日本"); // 10
 * ```
 *
 * @param text The text (one line).
 * @returns Its width.
 */
export function textWidth(text: string): number {
  let width = 0;
  // Split on a capturing pattern: the odd parts are the sequences, the even ones text (which may
  // hold an ESC that is no SGR sequence: it is text here, and escaped when drawn).
  text.split(SGR).forEach((part, index) => {
    if (index % 2 === 0) { for (const char of part) width += charWidth(char); }
  });
  return width;
}

/**
 * A text without its SGR sequences: what a person sees of it.
 *
 * @example Strip the colour of a line
 * ```ts
 * import { plainText } from "./watch_text.ts";
 *
 * plainText("\x1b[31merror\x1b[0m"); // "error"
 * ```
 *
 * @param text The text.
 * @returns The text as shown.
 */
export function plainText(text: string): string {
  return text.split(SGR).filter((_, index) => index % 2 === 0).join("");
}

/**
 * A line made exactly `width` cells wide: cut with "…" when longer, padded with spaces when
 * shorter. SGR sequences are kept (the padding takes the style in force, so a reversed line is
 * reversed to the edge) and reset at the end; other control characters are escaped.
 *
 * @example Cut a long line and pad a short one
 * ```ts
 * import { fitLine } from "./watch_text.ts";
 *
 * fitLine("abcdefgh", 5); // "abcd…"
 * fitLine("\x1b[7mab", 4); // "\x1b[7mab  \x1b[0m"
 * ```
 *
 * @param line The line.
 * @param width The cells it must fill (at least 1).
 * @returns The line, `width` cells wide.
 */
export function fitLine(line: string, width: number): string {
  width = Math.max(1, width);
  let out = "";
  let used = 0;
  let styled = false;
  const parts = line.split(SGR).map((part, index) => ({
    style: index % 2 === 1,
    text: index % 2 === 1 ? part : escapeControls(part, { inline: true }),
  }));
  const total = parts.reduce((sum, part) => sum + (part.style ? 0 : textWidth(part.text)), 0);
  // The cells the text may take before the "…" of a cut line.
  const room = total > width ? width - 1 : width;
  cutting: for (const part of parts) {
    if (part.style) {
      out += part.text;
      styled = true;
      continue;
    }
    for (const char of part.text) {
      const cells = charWidth(char);
      if (used + cells > room) break cutting;
      out += char;
      used += cells;
    }
  }
  if (total > width) {
    out += "…";
    used += 1;
  }
  out += " ".repeat(Math.max(0, width - used));
  return styled ? `${out}\x1b[0m` : out;
}

/**
 * A cell of a table cut to at most `max` cells, with "…" when it was cut (not padded).
 *
 * @example Keep a repository's name to 12 cells
 * ```ts
 * import { clipText } from "./watch_text.ts";
 *
 * clipText("github.com/denoland/std", 12); // "github.com/…"
 * ```
 *
 * @param text The text, without SGR sequences.
 * @param max The most cells.
 * @returns The text, at most `max` cells wide.
 */
export function clipText(text: string, max: number): string {
  if (textWidth(text) <= max) return text;
  let out = "";
  let used = 0;
  for (const char of text) {
    const cells = charWidth(char);
    if (used + cells > max - 1) break;
    out += char;
    used += cells;
  }
  return `${out}…`;
}

/**
 * A text padded with spaces to `width` cells (left as it is when wider).
 *
 * @example Align a column
 * ```ts
 * import { padText } from "./watch_text.ts";
 *
 * padText("日本", 6); // "日本  "
 * ```
 *
 * @param text The text.
 * @param width The cells.
 * @returns The padded text.
 */
export function padText(text: string, width: number): string {
  return text + " ".repeat(Math.max(0, width - textWidth(text)));
}
