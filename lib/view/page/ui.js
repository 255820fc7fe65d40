// The page's toolkit: Preact and htm (the server gives the browser these imports as the files it
// serves), and small helpers every panel uses. Everything a ship produced reaches the page as
// JSON and is rendered as text nodes by Preact (htm builds elements, never HTML strings): no
// markup from the fleet is ever parsed. `text()` makes sure a value is a string first.

// deno-lint-ignore no-import-prefix -- the server maps it to the file it serves (page/assets.ts)
import { Component, h, render } from "npm:preact@11.2.0";
// deno-lint-ignore no-import-prefix -- as above
import htm from "npm:htm@3.1.1";

export { Component, h, render };

/** Tagged templates that build Preact elements. */
export const html = htm.bind(h);

/**
 * A value as text: strings stay, nothing is empty, anything else is its JSON.
 *
 * @param {unknown} value
 * @returns {string}
 */
export function text(value) {
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return "";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/**
 * A cost in dollars.
 *
 * @param {number | null | undefined} usd
 * @returns {string}
 */
export function usd(usd) {
  return typeof usd === "number" ? `$${usd.toFixed(usd >= 100 ? 0 : usd >= 1 ? 2 : 4)}` : "–";
}

/**
 * A length of time, e.g. "4m 12s".
 *
 * @param {number | null | undefined} ms
 * @returns {string}
 */
export function duration(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "–";
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

/**
 * How long ago an ISO time was, e.g. "3m ago".
 *
 * @param {string | null | undefined} iso
 * @param {number} now
 * @returns {string}
 */
export function ago(iso, now) {
  const at = Date.parse(text(iso));
  if (!Number.isFinite(at)) return "–";
  return `${duration(now - at)} ago`;
}

/**
 * A link only for an https address (a pull request); anything else is shown as text, so a
 * `javascript:` URL from a ship never becomes a link.
 *
 * @param {unknown} url
 * @param {string} label
 */
export function Link({ url, label }) {
  const href = text(url);
  if (!/^https:\/\/[^\s]+$/.test(href)) return html`<span>${href}</span>`;
  return html`<a href=${href} target="_blank" rel="noopener noreferrer">${label ?? href}</a>`;
}

/**
 * A status as a coloured badge.
 *
 * @param {{ status: unknown }} props
 */
export function Badge({ status }) {
  const name = text(status);
  const kind = /^(done|running_ok|verify_passed|integrated)$/.test(name)
    ? "ok"
    : /^(error|failed|timeout|rate_limited|stalled|blocked|budget_exhausted|stopped)$/.test(name)
    ? "bad"
    : /^(running|verifying|integrating|pending|dispatched)$/.test(name)
    ? "busy"
    : /^(held)$/.test(name)
    ? "warn"
    : "idle";
  return html`<span class=${`badge ${kind}`}>${name}</span>`;
}
