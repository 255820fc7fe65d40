/**
 * What git said when it failed, as a person needs it: its `error:` and `fatal:` lines with the
 * files it lists under them (which file blocked a switch), the `!` lines of a rejected push
 * (what was rejected, and why) and the errors a remote's hooks gave, without the `hint:` lines
 * and the "Aborting" that end its output.
 *
 * @module
 */

import { OhcommodoreError } from "../errors.ts";
import { registerErrorClass } from "../error_data.ts";

/** The most entries of a list git gives under an error (files that block a switch) kept. */
const MAX_LISTED = 10;

/** The longest error kept, in characters: git may list thousands of files. */
const MAX_ERROR_CHARS = 2000;

/**
 * Git's error lines, each with the list it gives under it joined on.
 *
 * @example A blocked switch names the file
 * ```ts
 * import { gitErrorLines } from "./git_errors.ts";
 * const stderr = "error: The following untracked working tree files would be overwritten by " +
 *   "checkout:\n\tnotes.txt\nPlease move or remove them before you switch branches.\nAborting\n";
 * console.log(gitErrorLines(stderr));
 * // ["error: The following untracked working tree files would be overwritten by checkout: notes.txt"]
 * ```
 *
 * @param stderr What git printed on stderr.
 * @returns The lines that say what failed, in git's order; empty when it said none.
 */
export function gitErrorLines(stderr: string): string[] {
  const entries: { line: string; listed: string[] }[] = [];
  let open: { line: string; listed: string[] } | undefined;
  for (const raw of stderr.split(/\r?\n|\r/)) {
    const line = raw.trimEnd();
    // The files of a list are indented under the line that introduces it.
    if (open && /^(\t|\s{2,})\S/.test(line)) {
      open.listed.push(line.trim());
      continue;
    }
    const trimmed = line.trim();
    if (/^(error|fatal):/i.test(trimmed) || /^remote: (error|fatal)\b/i.test(trimmed)) {
      open = { line: trimmed, listed: [] };
    } else if (/^! /.test(trimmed)) {
      // A rejected ref: ` ! [rejected]        b -> b (fetch first)`, its columns closed up.
      open = { line: trimmed.replace(/\s+/g, " "), listed: [] };
    } else {
      open = undefined;
      continue;
    }
    entries.push(open);
  }
  return entries.map(({ line, listed }) => {
    if (!listed.length) return redactUrls(line);
    const more = listed.length > MAX_LISTED ? `, and ${listed.length - MAX_LISTED} more` : "";
    return redactUrls(`${line} ${listed.slice(0, MAX_LISTED).join(", ")}${more}`);
  });
}

/**
 * What a failed git command says, on one line: its error lines joined with "; ", else its last
 * line that is not a hint, else the fallback.
 *
 * @example A rejected push
 * ```ts
 * import { describeGitFailure } from "./git_errors.ts";
 * const stderr = "To /srv/web.git\n ! [rejected]        fix -> fix (fetch first)\n" +
 *   "error: failed to push some refs to '/srv/web.git'\nhint: Updates were rejected\n";
 * console.log(describeGitFailure(stderr, "git push exited 1"));
 * // ! [rejected] fix -> fix (fetch first); error: failed to push some refs to '/srv/web.git'
 * ```
 *
 * @param stderr What git printed on stderr.
 * @param fallback What to say when it printed nothing of use.
 * @returns The description.
 */
export function describeGitFailure(stderr: string, fallback: string): string {
  const lines = gitErrorLines(stderr);
  const said = lines.length ? lines.join("; ") : redactUrls(
    stderr.split(/\r?\n|\r/).map((line) => line.trim())
      .findLast((line) => line !== "" && !/^hint:/i.test(line)) ?? "",
  );
  if (!said) return fallback;
  return said.length > MAX_ERROR_CHARS ? said.slice(0, MAX_ERROR_CHARS - 1) + "…" : said;
}

// A URL's password (`https://user:token@host/…`) is never repeated: a token may be in it.
function redactUrls(line: string): string {
  return line.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s:@]*:[^/\s@]*@/gi, "$1***@");
}

/**
 * A git command that failed: its message is {@link describeGitFailure}'s, and its error lines
 * are kept, so a caller can tell a push that origin's moving branch rejected from other failures.
 *
 * @example Retry only a push that lost a race
 * ```ts
 * import { GitError, isRejectedAsBehind } from "./git_errors.ts";
 * const error = new GitError("push", 1, "! [rejected] main -> main (fetch first)\n");
 * console.log(error instanceof GitError, isRejectedAsBehind(error)); // true true
 * ```
 */
export class GitError extends OhcommodoreError {
  /** Git's subcommand, e.g. `push`. */
  readonly subcommand: string;
  /** Git's exit code; null when it was killed for taking too long. */
  readonly gitExitCode: number | null;
  /** Its error lines ({@link gitErrorLines}). */
  readonly lines: string[];

  /**
   * Creates the error from what git said.
   *
   * @param subcommand Git's subcommand.
   * @param gitExitCode Its exit code, or null when it was killed.
   * @param stderr What it printed on stderr.
   * @param message What to say instead of git's lines (a timeout, say).
   */
  constructor(subcommand: string, gitExitCode: number | null, stderr: string, message?: string) {
    super(message ?? describeGitFailure(stderr, `git ${subcommand} exited ${gitExitCode}`));
    this.subcommand = subcommand;
    this.gitExitCode = gitExitCode;
    this.lines = gitErrorLines(stderr);
  }
}
registerErrorClass(GitError);

/**
 * Whether a push was rejected because the remote's branch has commits the pushed one lacks
 * (someone pushed meanwhile): fetching and building on them again may succeed.
 *
 * @example
 * ```ts
 * import { GitError, isRejectedAsBehind } from "./git_errors.ts";
 * console.log(isRejectedAsBehind(new GitError("push", 128, "fatal: unable to access\n"))); // false
 * ```
 *
 * @param error What a push threw.
 * @returns True for a `! [rejected] … (fetch first)` or `(non-fast-forward)`.
 */
export function isRejectedAsBehind(error: unknown): boolean {
  return error instanceof GitError && error.subcommand === "push" &&
    error.lines.some((line) => /^! \[rejected\] .*\((fetch first|non-fast-forward)\)/.test(line));
}
