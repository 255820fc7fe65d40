/**
 * What a page of `fleet watch` is made of: a {@link Page} (its title, body, the row to keep in
 * sight and its keys), and the tables of rows to choose from that the overview and a plan's
 * board draw, the chosen row marked and reversed.
 *
 * @example A table of two ships, the second chosen
 * ```ts
 * import { drawTable } from "./watch_page.ts";
 *
 * const { lines, chosen } = drawTable({
 *   headers: ["SHIP", "REPO"],
 *   rows: [
 *     { key: "ship:a", cells: ["a", "acme/web"] },
 *     { key: "ship:b", cells: ["b", "acme/api"] },
 *   ],
 * }, "ship:b");
 * lines.length; // 3: the header, then a row each
 * chosen; // 2
 * ```
 *
 * @module
 */

import { REVERSE_ON } from "./watch_paint.ts";
import { padText, textWidth } from "./watch_text.ts";

/** A page's contents, before it is fitted to the screen. */
export interface Page {
  /** The title row's text. */
  title: string;
  /** Its lines, more than fit perhaps. */
  body: string[];
  /**
   * The row to keep in sight (the chosen one), or a row from the end (a transcript scrolled
   * up).
   */
  anchor: number | { fromEnd: number };
  /** The keys row's text. */
  keys: string;
}

/** One section of rows to choose from: its cells (already escaped), and each row's key. */
export interface Table {
  /** The column headers. */
  headers: string[];
  /** The rows: cells, the key that chooses it (or null), and how to paint a cell. */
  rows: { cells: string[]; key: string | null; paint?: (cell: number, text: string) => string }[];
}

/**
 * A table as lines: a dim header, then a row each, the chosen one marked and reversed.
 *
 * @param table The table.
 * @param chosen The key of the chosen row, or null.
 * @returns The lines, and which of them is the chosen row (null when none is).
 */
export function drawTable(
  table: Table,
  chosen: string | null,
): { lines: string[]; chosen: number | null } {
  const widths = table.headers.map((header, column) =>
    Math.max(textWidth(header), ...table.rows.map((row) => textWidth(row.cells[column])))
  );
  const join = (cells: string[]) =>
    cells.map((cell, column) => column === cells.length - 1 ? cell : padText(cell, widths[column]))
      .join("  ");
  const lines = [`  \x1b[2m${join(table.headers)}\x1b[22m`];
  let at: number | null = null;
  for (const row of table.rows) {
    const cells = row.cells.map((cell, column) => row.paint?.(column, cell) ?? cell);
    if (row.key !== null && row.key === chosen) {
      at = lines.length;
      lines.push(`${REVERSE_ON}> ${join(cells)}`);
    } else lines.push(`  ${join(cells)}`);
  }
  return { lines, chosen: at };
}
