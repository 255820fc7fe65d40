/**
 * Arguments and option values that several commands take, declared once: an `<id>` (a message's
 * or a task's, or a unique prefix), a whole number in a range, and the longest `--timeout`. Each
 * checks what was typed while the command line is read, so bad input is refused (exit 2) before
 * anything opens a fleet or an inbox, or prints a word of progress.
 *
 * @module
 */

import { Argument, Option } from "./deps.ts";
import { formatDuration, MAX_DURATION_MS, parseDuration } from "../duration.ts";
import { parseMessageId } from "../inbox/message.ts";
import { parseWholeNumber, type WholeNumberRange } from "../whole_number.ts";

/** Said in every `--timeout`'s help: longer durations are refused (exit 2). */
const AT_MOST: string = `at most ${formatDuration(MAX_DURATION_MS)}`;

/**
 * The `<id>` argument of a command that acts on one message or task: its id or a unique prefix,
 * checked (an empty one would match them all) and lowercased.
 *
 * @example The argument of `inbox show`
 * ```ts
 * import { Command } from "npm:@commander-js/extra-typings@15.1.0";
 * import { idArgument } from "./arguments.ts";
 *
 * new Command("show").addArgument(idArgument("message")).action((id) => console.log(id));
 * ```
 *
 * @param what What the id names: a `message` or a `task`.
 * @returns The argument.
 */
export function idArgument(what: "message" | "task"): Argument<"<id>", undefined, string> {
  const description = what === "task" ? "the task id (or a unique prefix)" : "message id or prefix";
  return new Argument("<id>", description).argParser((id) => parseMessageId(id, what));
}

/**
 * A parser for an option's or argument's whole number: `9007199254740993` or `0` are refused
 * with the text as typed, never rounded.
 *
 * @example `--max-turns <n>`, from 1 to 10,000
 * ```ts
 * import { Command } from "npm:@commander-js/extra-typings@15.1.0";
 * import { wholeNumber } from "./arguments.ts";
 *
 * new Command("run").option("--max-turns <n>", "turns", wholeNumber("--max-turns", { max: 1e4 }));
 * ```
 *
 * @param name What the number is, for the message (`--count`).
 * @param range The least and the most allowed.
 * @returns The parser.
 */
export function wholeNumber(name: string, range: WholeNumberRange = {}): (text: string) => number {
  return (text) => parseWholeNumber(text, name, range);
}

/**
 * The `-t, --timeout <duration>` option, read as milliseconds while the command line is read (a
 * duration past {@link AT_MOST} or that is no duration is refused, exit 2).
 *
 * @example A command that may run 30 minutes unless told
 * ```ts
 * import { Command } from "npm:@commander-js/extra-typings@15.1.0";
 * import { timeoutOption } from "./arguments.ts";
 *
 * new Command("run").addOption(timeoutOption("how long it may run", "30m"))
 *   .action((options) => console.log(options.timeout)); // 1800000
 * ```
 *
 * @param description What the duration is for; the longest allowed is added.
 * @param fallback The default, as a person would type it; none when omitted.
 * @returns The option.
 */
export function timeoutOption(
  description: string,
  fallback?: string,
): Option<"-t, --timeout <duration>", undefined, number | undefined, number> {
  const option = new Option("-t, --timeout <duration>", `${description} (${AT_MOST})`)
    .argParser(parseDuration);
  return fallback === undefined ? option : option.default(parseDuration(fallback), fallback);
}
