/**
 * Presentation for the CLI: stdout carries data, stderr carries what people read.
 *
 * @module
 */

import { styleText } from "node:util";
import { describeProgress, type FleetProgress } from "../fleet/progress.ts";
import type { LiveBoard } from "./live_board.ts";

const colorOn = () => !Deno.env.get("NO_COLOR") && Deno.stderr.isTerminal();

/** Styles text for stderr when it is a terminal and NO_COLOR is unset. */
export function paint(style: Parameters<typeof styleText>[0], text: string): string {
  return colorOn() ? styleText(style, text, { validateStream: false }) : text;
}

/** Writes a line to stdout (data). */
export function out(line: string): void {
  console.log(line);
}

/** Writes a line to stderr (for people). */
export function note(line: string): void {
  console.error(line);
}

/**
 * An error as a person reads it: what went wrong, then the library's `next` (the command to
 * run), as in `No ship matches "web"; see "ohcommodore fleet status"`.
 *
 * @param error Any thrown value.
 * @returns The text, not yet escaped.
 */
export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const next = (error as { next?: unknown }).next;
  return typeof next === "string" && next ? `${error.message}; ${next}` : error.message;
}

/** Prints a value as indented JSON on stdout. */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/**
 * Formats rows as aligned columns with a header.
 *
 * @param headers Column titles.
 * @param rows Cell texts.
 * @returns The table text.
 */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => i === cells.length - 1 ? cell : cell.padEnd(widths[i])).join("  ");
  return [line(headers), ...rows.map(line)].join("\n");
}

// C0 and C1 controls, DEL, and the invisible marks that reorder or hide text (bidi overrides
// and isolates, zero-width marks, the BOM): what moves a cursor, recolours or retitles a
// terminal, or makes text read other than it runs.
// deno-lint-ignore no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
const NAMED: Record<string, string> = { "\n": "\\n", "\t": "\\t", "\r": "\\r" };

/**
 * Shows control characters as escapes (`\x1b`, `\r`, `\u202e`) so that text from a command or
 * a sender reaches a person's terminal as text, never as instructions to it. For what people
 * read only: `--json` and a command's own output (`inbox send --wait`) stay exact.
 *
 * @param text The text.
 * @param options `inline`: escape newlines and tabs too (a table cell, one log line); by default
 *   they stay, so multi-line output keeps its shape.
 * @returns The text, safe to print.
 */
export function escapeControls(text: string, options: { inline?: boolean } = {}): string {
  return text.replace(CONTROL, (char) => {
    if (!options.inline && (char === "\n" || char === "\t")) return char;
    if (NAMED[char]) return NAMED[char];
    const code = char.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** Formats an ISO time as a short age, e.g. "3m ago". */
export function age(iso: string | null, now: number = Date.now()): string {
  if (!iso) return "-";
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

/**
 * Shows the progress of a fleet operation on a board: one line per VM, `ready` as its last.
 *
 * @param board The board.
 * @returns The `onProgress` callback.
 */
export function progressOn(board: LiveBoard): (progress: FleetProgress) => void {
  return (progress) => {
    // A warning stays on the screen, above the lines that change.
    if (progress.step === "warning") {
      return board.log(paint("yellow", `warning: ${progress.vm}: ${progress.message ?? ""}`));
    }
    // describeProgress says "<vm>: <step>"; the board prints the VM's name itself.
    const text = describeProgress(progress).slice(progress.vm.length + 2);
    if (progress.step === "ready") board.done(progress.vm, paint("green", text));
    else board.set(progress.vm, text);
  };
}

/**
 * Asks a question on stderr (stdout stays data) and reads one line of the answer from stdin.
 *
 * @param question The question.
 * @returns The answer without its line end; empty at end of input.
 */
export async function ask(question: string): Promise<string> {
  Deno.stderr.writeSync(new TextEncoder().encode(question));
  const buffer = new Uint8Array(1);
  const bytes: number[] = [];
  while ((await Deno.stdin.read(buffer)) === 1 && buffer[0] !== 10) bytes.push(buffer[0]);
  return new TextDecoder().decode(new Uint8Array(bytes)).replace(/\r$/, "");
}
