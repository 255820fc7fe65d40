/**
 * Shell completion scripts for bash, zsh and fish, generated from the commander command tree so
 * that they never drift from it: every visible command, option and choice is read from the tree.
 *
 * What cannot be read from the tree is said where the argument or option is declared, with
 * {@link completeWith}: a ship's name (`ship ssh <name>`), an address (`captain@<ship>`) or a
 * comma-separated list of ships (`--ships a,b`, see {@link shipsOption}). Ship names come from a
 * cache file ({@link MemberPaths.shipNamesCache}) that `fleet status` refreshes; completing never
 * runs the program and never touches the network. The cache is treated as untrusted: the scripts
 * offer only lines that are VM names, and every name this module writes into a script is quoted.
 *
 * @example Print the bash script for a command tree
 * ```ts
 * import { Command } from "npm:@commander-js/extra-typings@15.1.0";
 * import { completionScript } from "./completions.ts";
 *
 * const root = new Command("ohcommodore");
 * root.command("fleet").command("status").option("--json");
 * console.log(completionScript(root, "bash"));
 * ```
 *
 * @module
 */

import type { Argument, CommandUnknownOpts, Option } from "./deps.ts";
import { Option as CommanderOption } from "./deps.ts";
import { relative } from "node:path";
import { UsageError } from "../errors.ts";
import { memberPaths } from "../paths.ts";
import { hint, nodesOf, type ShipCompletion } from "./completion_tree.ts";
import { bashScript } from "./completions_bash.ts";
import { fishScript } from "./completions_fish.ts";
import { zshScript } from "./completions_zsh.ts";

export type { ShipCompletion } from "./completion_tree.ts";

/** The shells a script can be generated for. */
export const COMPLETION_SHELLS = ["bash", "zsh", "fish"] as const;

/** One of {@link COMPLETION_SHELLS}. */
export type CompletionShell = typeof COMPLETION_SHELLS[number];

/**
 * Says how to complete an argument's or option's value: from the ship names cache (`"ship"`: a
 * name; `"address"`: `captain@<name>`; `"ships"`: a comma-separated list) or from fixed words.
 * Choices given to commander are completed without this.
 *
 * @example A ship name argument
 * ```ts
 * import { Argument } from "npm:@commander-js/extra-typings@15.1.0";
 * import { completeWith } from "./completions.ts";
 *
 * const name = completeWith(new Argument("<name>", "the ship's name"), "ship");
 * ```
 *
 * @param target The argument or option.
 * @param values What completes its value.
 * @returns `target`, for chaining.
 */
export function completeWith<T extends Argument | Option>(
  target: T,
  values: ShipCompletion | readonly string[],
): T {
  hint(
    target,
    typeof values === "string" ? { kind: values } : { kind: "words", words: [...values] },
  );
  return target;
}

/**
 * The `--ships <names>` option of fleet-wide commands: a comma-separated list of ship names or
 * prefixes, completed from the ship names cache.
 *
 * @example
 * ```ts
 * import { Command } from "npm:@commander-js/extra-typings@15.1.0";
 * import { shipsOption } from "./completions.ts";
 *
 * new Command("exec").addOption(shipsOption("only these ships"));
 * ```
 *
 * @param description The option's help text.
 * @returns The option.
 */
export function shipsOption(description: string): Option<"--ships <names>"> {
  return completeWith(new CommanderOption("--ships <names>", description), "ships");
}

/** What the completion of one command knows: reached by the words in `path`. */
/**
 * Generates the completion script of a command tree for a shell.
 *
 * @example
 * ```ts
 * import { Command } from "npm:@commander-js/extra-typings@15.1.0";
 * import { completionScript } from "./completions.ts";
 *
 * const script = completionScript(new Command("ohcommodore"), "fish");
 * ```
 *
 * @param root The program's root command; its name is the command completed.
 * @param shell `bash`, `zsh` or `fish`.
 * @returns The script.
 * @throws {UsageError} When `shell` is none of {@link COMPLETION_SHELLS}.
 */
export function completionScript(root: CommandUnknownOpts, shell: string): string {
  if (!(COMPLETION_SHELLS as readonly string[]).includes(shell)) {
    throw new UsageError(
      `Unknown shell "${shell}": choose one of ${COMPLETION_SHELLS.join(", ")}`,
    );
  }
  const program = root.name();
  if (!/^[A-Za-z0-9_-]+$/.test(program)) {
    throw new TypeError(`Cannot name shell functions after "${program}"`);
  }
  const nodes = nodesOf(root);
  const cache = relative("/home", memberPaths("/home").shipNamesCache);
  switch (shell as CompletionShell) {
    case "bash":
      return bashScript(program, nodes, cache);
    case "zsh":
      return zshScript(program, nodes, cache);
    case "fish":
      return fishScript(program, nodes, cache);
  }
}
