/**
 * A pull request opened on a ship (`ohcommodore agent _pr`, run by the inbox's scheduler), with
 * the ship's `gh` and token, from a branch already on origin: `gh pr create --head <head>
 * [--base <base>] --title <title> --body-file -`, the body on stdin. The command carries the
 * request in a here-document, as a task's does, and prints `{"type": "ohcommodore_pr",
 * "outcome": {"url", "error"?}}` last. Tasks with `pr` open theirs the same way
 * ({@link openPullRequest}).
 *
 * @example Open one pull request for an integration branch
 * ```ts
 * import { Fleet } from "@smithclay/ohcommodore";
 * import { prCommand, prOutcomeOf } from "./open_pr.ts";
 * await using fleet = await Fleet.open();
 * const ship = await fleet.ship("ship-web");
 * const sent = await ship.send(
 *   prCommand({ head: "plan/p1", title: "Plan p1", body: "Fixes #12\nFixes #13\n" }),
 * );
 * const { url, error } = prOutcomeOf(await ship.inbox.waitFor(sent.id));
 * console.log(url ?? error);
 * ```
 *
 * @module
 */

import { quote } from "../clip.ts";
import { OhcommodoreError, UsageError } from "../errors.ts";
import { readIdentity } from "../identity.ts";
import type { Message } from "../inbox/message.ts";
import { writeAll } from "../lines.ts";
import { memberPaths } from "../paths.ts";
import { branchNameProblem } from "./task_check.ts";
import { printedLine, stdinCommand } from "./task_command.ts";
import { openPullRequest, type PullRequestSpec } from "./pull_request.ts";
import { shipPath } from "./task_git.ts";

/** A pull request to open on a ship: `head` must be on origin. */
export type PrSpec = PullRequestSpec;

/** What `agent _pr` came to. */
export interface PrOutcome {
  /** The pull request's URL; null when none was opened. */
  url: string | null;
  /** Why none was opened. */
  error?: string;
}

/** The first line of every pull request's command. */
export const PR_MARK = "# ohcommodore pr";

/** The type of the outcome line `agent _pr` prints last. */
export const PR_TYPE = "ohcommodore_pr";

/**
 * Checks a pull request's settings.
 *
 * @param spec The pull request.
 * @returns It, checked.
 * @throws {UsageError} Naming what is wrong.
 */
export function checkPrSpec(spec: PrSpec): PrSpec {
  for (const key of ["head", "base"] as const) {
    if (key === "base" && spec?.base === undefined) continue;
    const wrong = branchNameProblem(spec?.[key] as string);
    if (wrong) {
      throw new UsageError(
        `${quote(spec?.[key])} is not a branch name git takes (${key}): ${wrong}`,
      );
    }
  }
  if (typeof spec.title !== "string" || spec.title.trim() === "") {
    throw new UsageError(`A pull request needs a title`);
  }
  if (typeof spec.body !== "string") throw new UsageError(`A pull request's body is text`);
  return spec;
}

/**
 * The inbox command that opens a pull request on a ship; title and body reach gh on stdin.
 *
 * @example
 * ```ts
 * import { prCommand } from "./open_pr.ts";
 * console.log(prCommand({ head: "fix", title: "Fix", body: "" }).split("\n")[0]); // # ohcommodore pr
 * ```
 *
 * @param spec The pull request.
 * @returns The command.
 * @throws {UsageError} For a bad spec.
 */
export function prCommand(spec: PrSpec): string {
  return stdinCommand(PR_MARK, "_pr", checkPrSpec(spec));
}

/**
 * A pull request's outcome from its finished inbox message: what `agent _pr` printed, else why
 * the message failed.
 *
 * @example
 * ```ts
 * import { prOutcomeOf } from "./open_pr.ts";
 * import type { Message } from "../inbox/message.ts";
 * declare const message: Message;
 * const { url, error } = prOutcomeOf(message);
 * ```
 *
 * @param message The message.
 * @returns The outcome.
 */
export function prOutcomeOf(message: Message): PrOutcome {
  if (message.status !== "done" && message.status !== "error") {
    return {
      url: null,
      error: `The pull request has not been opened yet: it is ${message.status}`,
    };
  }
  const printed = printedLine(message.result, PR_TYPE) as Partial<PrOutcome> | undefined;
  if (printed && "url" in printed) {
    return { url: printed.url ?? null, ...(printed.error ? { error: printed.error } : {}) };
  }
  const tail = (message.stderr ?? "").trim().split("\n").slice(-3).join("\n");
  return { url: null, error: message.error ?? (tail || "it ended without an outcome") };
}

/**
 * Opens the pull request with this ship's gh, in its checkout, and prints the outcome last.
 *
 * @param spec The pull request (from stdin).
 * @param options Where it runs (for tests: the home).
 * @returns The exit code: 0 when it was opened, else 1.
 */
export async function runOpenPr(spec: PrSpec, options: { home?: string } = {}): Promise<number> {
  const outcome = await openHere(spec, options.home).then(
    (url): PrOutcome => ({ url }),
    (error: Error): PrOutcome => ({ url: null, error: error.message }),
  );
  await writeAll(
    Deno.stdout,
    new TextEncoder().encode(JSON.stringify({ type: PR_TYPE, outcome }) + "\n"),
  );
  return outcome.url ? 0 : 1;
}

// The pull request opened with this member's gh, in its checkout: its URL.
async function openHere(spec: PrSpec, home: string | undefined): Promise<string> {
  checkPrSpec(spec);
  const identity = await readIdentity(home);
  const workdir = identity.workdir ?? memberPaths(home).home;
  const path = shipPath(home);
  try {
    return await openPullRequest({ workdir, path }, spec);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new OhcommodoreError(
        `gh (GitHub CLI) is not installed on ${identity.name} (not on PATH: ${path}): install ` +
          `it there (https://cli.github.com), or put it in ~/.local/bin`,
      );
    }
    throw new OhcommodoreError(`gh pr create failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
