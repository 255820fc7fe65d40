/**
 * The command tree as completion scripts see it: each command's path, subcommands, options and
 * what completes their values, read from commander; and the quoting and the shell functions the
 * bash and zsh scripts share. The scripts themselves are made in one file per shell.
 *
 * @module
 */

import { firstLine } from "../clip.ts";
import type { Argument, CommandUnknownOpts, Option } from "./deps.ts";
import { VM_NAME } from "../fleet/names.ts";

/** Values completed from the ship names cache. */
export type ShipCompletion = "ship" | "address" | "ships";

/** What completes a value: fixed words, or names from the ship names cache. */
export type Values = { kind: "words"; words: string[] } | { kind: ShipCompletion };

// Set by completeWith where an argument or option is declared.
const hints = new WeakMap<object, Values>();

/**
 * Records what completes an argument's or option's value.
 *
 * @param target The argument or option.
 * @param values What completes it.
 */
export function hint(target: object, values: Values): void {
  hints.set(target, values);
}

/** A command of the tree, as the scripts need it. */
export interface Node {
  path: string;
  commands: { name: string; description: string }[];
  options: { names: string[]; description: string; takesValue: boolean }[];
  /** Keyed by an option's name or `#<n>` for the n-th positional argument. */
  values: Map<string, Values>;
}

/** Every visible command of the tree, the root first. */
export function nodesOf(root: CommandUnknownOpts): Node[] {
  const help = root.createHelp();
  // Commander accepts the root's options after subcommands too.
  const globals = help.visibleOptions(root).filter((option) =>
    option.long !== "--help" && option.long !== "--version"
  );
  const nodes: Node[] = [];
  const visit = (command: CommandUnknownOpts, path: string[]) => {
    const subcommands = help.visibleCommands(command).filter((sub) => !sub.name().startsWith("_"));
    const own = help.visibleOptions(command);
    const options = command === root ? own : [...own, ...globals];
    const values = new Map<string, Values>();
    for (const option of options) {
      const completion = valuesOf(option);
      if (!completion) continue;
      for (const name of [option.short, option.long]) if (name) values.set(name, completion);
    }
    help.visibleArguments(command).forEach((argument, index) => {
      const completion = valuesOf(argument);
      if (completion) values.set(`#${index}`, completion);
    });
    nodes.push({
      path: path.join(" "),
      commands: subcommands.map((sub) => ({
        name: sub.name(),
        description: firstLine(sub.summary() || sub.description()),
      })),
      options: options.map((option) => ({
        names: [option.short, option.long].filter((name): name is string => Boolean(name)),
        description: firstLine(option.description),
        takesValue: option.required || option.optional,
      })),
      values,
    });
    for (const sub of subcommands) visit(sub, [...path, sub.name()]);
  };
  visit(root, []);
  return nodes;
}

/** What completes an argument's or option's value: its hint, else its choices. */
function valuesOf(target: Argument | Option): Values | undefined {
  const hint = hints.get(target);
  if (hint) return hint;
  const choices = target.argChoices;
  return choices ? { kind: "words", words: [...choices] } : undefined;
}

/** Quotes a word for bash and zsh: single quotes, with each `'` closed, escaped and reopened. */
export function sh(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Quotes a word for fish, whose single quotes give meaning to `\\` and `\'`. */
export function fishQuote(word: string): string {
  return `'${word.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/** A bash or zsh array of quoted words. */
export function shArray(words: string[]): string {
  return `(${words.map(sh).join(" ")})`;
}

/** A node's option names (`-n`, `--count`); only those that take a value, or do not, if told. */
export function optionNames(node: Node, valued?: boolean): string[] {
  return node.options
    .filter((option) => valued === undefined || option.takesValue === valued)
    .flatMap((option) => option.names);
}

/** The value cases of every node, keyed "<path>/<option or #n>". */
function valueCases(nodes: Node[], body: (values: Values) => string, quote = sh): string[] {
  return nodes.flatMap((node) =>
    [...node.values].map(([key, values]) => `    ${quote(`${node.path}/${key}`)}) ${body(values)}`)
  );
}

/** The value cases of bash and zsh scripts: the kind of each value, and its words. */
export function shValueCases(nodes: Node[]): string[] {
  return valueCases(
    nodes,
    (values) =>
      values.kind === "words"
        ? `kind=words vals=${shArray(values.words)} ;;`
        : `kind=${values.kind} ;;`,
  );
}

/** The functions bash and zsh scripts share: the command tree, its values, the ship names. */
export function lookups(
  f: string,
  nodeCases: string[],
  values: string[],
  program: string,
  cache: string,
  printLine: string,
): string {
  return `# Sets subs, opts and valued (options that take a value) for the command at path "$1".
${f}_node() {
  case $1 in
${nodeCases.join("\n")}
    *) subs=() opts=() valued=() ;;
  esac
}

# Sets kind (and vals for kind=words) for the value of option or positional "#<n>" "$2" at "$1".
${f}_values() {
  kind='' vals=()
  case "$1/$2" in
${values.join("\n")}
  esac
}

# Ship names from the cache that "${program} fleet status" writes; only VM names, since
# the file is not trusted.
${f}_ships() {
  local line re=${sh(VM_NAME.source)}
  [[ -r "$HOME"/${sh(cache)} ]] || return 0
  while IFS= read -r line || [[ -n $line ]]; do
    [[ $line =~ $re ]] && ${printLine}
  done < "$HOME"/${sh(cache)}
}`;
}
