/**
 * The dashboard's answers, in one form: the security headers every answer carries (a
 * Content-Security-Policy that allows the page's own scripts and styles only, no framing, no
 * caching), JSON and plain text, the 401 that says how to get in, and an error as data with the
 * status it earns.
 *
 * @example Answer with JSON, the headers set
 * ```ts
 * import { json, SECURITY_HEADERS } from "./dashboard_responses.ts";
 *
 * const response = json(200, { ok: true });
 * for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.headers.set(name, value);
 * ```
 *
 * @module
 */

import { AgentStartError } from "../fleet/agent_start_error.ts";
import { NotFoundError, UsageError } from "../errors.ts";
import { errorToData } from "../error_data.ts";

const JSON_TYPE = "application/json; charset=utf-8";
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The headers every answer of the dashboard carries. */
export const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-store",
};

/**
 * A JSON answer.
 *
 * @param status Its status.
 * @param value What it says, as JSON.
 * @returns The answer.
 */
export function json(status: number, value: unknown): Response {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": JSON_TYPE } });
}

/**
 * A plain-text answer, one line.
 *
 * @param status Its status.
 * @param text What it says.
 * @returns The answer.
 */
export function plain(status: number, text: string): Response {
  return new Response(`${text}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/**
 * The answer to a request without the token: 401, and where to find it.
 *
 * @returns The answer.
 */
export function unauthorized(): Response {
  return plain(
    401,
    `Unauthorized: open the address "ohcommodore dashboard" printed, with its token`,
  );
}

/**
 * An error as data, with the status a person's mistake (400), a missing thing (404) or a task
 * given to some ships only (502) earns; 500 for the rest.
 *
 * @param error The error.
 * @returns The answer.
 */
export function failure(error: unknown): Response {
  const status = error instanceof NotFoundError
    ? 404
    : error instanceof UsageError
    ? 400
    : error instanceof AgentStartError
    ? 502
    : 500;
  return json(status, { error: errorToData(error) });
}
