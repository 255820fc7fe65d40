/**
 * Telling a run that ended on a usage or rate limit, and when the limit resets when Claude Code
 * says: `Claude AI usage limit reached|<unix seconds>`, or a sentence ("Your limit will reset at
 * 5pm (Europe/Warsaw)", "resets 4:50am"), or the API's `rate_limit_error`.
 *
 * @module
 */

/** A limit a run ended on. */
export interface Limit {
  /** When it resets (ISO 8601), when Claude said so in a form that names the moment. */
  resetAt: string | null;
  /** What Claude said. */
  message: string;
}

const LIMITED = /usage limit reached|hit your limit|rate_limit_error|rate limit exceeded/i;

/**
 * The limit a run ended on, if it did.
 *
 * @param run What the run printed: its result object and stderr.
 * @returns The limit, or undefined.
 */
export function limitOf(
  run: { result: Record<string, unknown> | null; stderr: string; exitCode?: number },
): Limit | undefined {
  // A run that succeeded may well speak of rate limits (it fixed one): only a failed run is
  // read for one.
  if (run.result?.is_error !== true && (run.exitCode ?? 1) === 0) return undefined;
  const text = [typeof run.result?.result === "string" ? run.result.result : "", run.stderr]
    .join("\n");
  if (!LIMITED.test(text)) return undefined;
  const epoch = text.match(/limit reached\|(\d{9,11})\b/i);
  const resetAt = epoch ? new Date(Number(epoch[1]) * 1000).toISOString() : null;
  const said = text.split("\n").find((line) => LIMITED.test(line))?.trim() ?? "usage limit";
  return { resetAt, message: `usage limit: ${said.replace(/\|\d+$/, "")}` };
}
