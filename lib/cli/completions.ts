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
import { VM_NAME } from "../fleet/names.ts";
import { memberPaths } from "../paths.ts";

/** The shells a script can be generated for. */
export const COMPLETION_SHELLS = ["bash", "zsh", "fish"] as const;

/** One of {@link COMPLETION_SHELLS}. */
export type CompletionShell = typeof COMPLETION_SHELLS[number];

/** Values completed from the ship names cache. */
export type ShipCompletion = "ship" | "address" | "ships";

type Values = { kind: "words"; words: string[] } | { kind: ShipCompletion };

const hints = new WeakMap<object, Values>();

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
  hints.set(
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
interface Node {
  path: string;
  commands: { name: string; description: string }[];
  options: { names: string[]; description: string; takesValue: boolean }[];
  /** Keyed by an option's name or `#<n>` for the n-th positional argument. */
  values: Map<string, Values>;
}

function nodesOf(root: CommandUnknownOpts): Node[] {
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

function valuesOf(target: Argument | Option): Values | undefined {
  const hint = hints.get(target);
  if (hint) return hint;
  const choices = target.argChoices;
  return choices ? { kind: "words", words: [...choices] } : undefined;
}

function firstLine(text: string): string {
  return text.split("\n")[0].trim();
}

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

/** Quotes a word for bash and zsh: single quotes, with each `'` closed, escaped and reopened. */
function sh(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Quotes a word for fish, whose single quotes give meaning to `\\` and `\'`. */
function fish(word: string): string {
  return `'${word.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

function shArray(words: string[]): string {
  return `(${words.map(sh).join(" ")})`;
}

function optionNames(node: Node, valued?: boolean): string[] {
  return node.options
    .filter((option) => valued === undefined || option.takesValue === valued)
    .flatMap((option) => option.names);
}

// The value cases of every node, keyed "<path>/<option or #n>".
function valueCases(nodes: Node[], body: (values: Values) => string, quote = sh): string[] {
  return nodes.flatMap((node) =>
    [...node.values].map(([key, values]) => `    ${quote(`${node.path}/${key}`)}) ${body(values)}`)
  );
}

// The functions bash and zsh scripts share: the command tree, its values, the ship names.
function lookups(
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

function bashScript(program: string, nodes: Node[], cache: string): string {
  const f = `_${program.replaceAll("-", "_")}`;
  const nodeCases = nodes.map((node) =>
    `    ${sh(node.path)}) subs=${shArray(node.commands.map((c) => c.name))}` +
    ` opts=${shArray(optionNames(node))} valued=${shArray(optionNames(node, true))} ;;`
  );
  const values = valueCases(
    nodes,
    (values) =>
      values.kind === "words"
        ? `kind=words vals=${shArray(values.words)} ;;`
        : `kind=${values.kind} ;;`,
  );
  return `# bash completion for ${program}, generated from its commands by "${program} completions bash".
# Install: add to ~/.bashrc   source <(${program} completions bash)

${lookups(f, nodeCases, values, program, cache, `printf '%s\\n' "$line"`)}
${f}_has() {
  local word=$1
  shift
  for candidate; do [[ $candidate == "$word" ]] && return 0; done
  return 1
}

${f}() {
  local -a subs=() opts=() valued=() vals=() typed=() candidates=()
  local at='' kind='' cur='' pending='' prefix='' word candidate strip=''
  local i pos=0 rest=0
  # Words as typed: bash itself splits "captain@ship" and "--ships=a" at "@" and "=".
  local line=\${COMP_LINE:0:COMP_POINT}
  read -ra typed <<< "$line"
  if [[ -n $line && ! $line =~ [[:space:]]$ ]]; then
    cur=\${typed[\${#typed[@]}-1]}
    unset "typed[\${#typed[@]}-1]"
  fi
  ${f}_node ''
  for ((i = 1; i < \${#typed[@]}; i++)); do
    word=\${typed[i]}
    if [[ -n $pending ]]; then
      pending=''
    elif ((rest)) || [[ $word != -* ]]; then
      if ((!rest)) && ${f}_has "$word" "\${subs[@]}"; then
        at=\${at:+$at }$word
        ${f}_node "$at"
        pos=0
      else
        pos=$((pos + 1))
      fi
    elif [[ $word == -- ]]; then
      rest=1
    elif [[ $word != *=* ]] && ${f}_has "$word" "\${valued[@]}"; then
      pending=$word
    fi
  done
  if [[ -n $pending ]]; then
    ${f}_values "$at" "$pending"
  elif ((!rest)) && [[ $cur == --*=* ]]; then
    prefix=\${cur%%=*}=
    ${f}_values "$at" "\${cur%%=*}"
  elif ((!rest)) && [[ $cur == -* ]]; then
    candidates=("\${opts[@]}")
  elif ((!rest && \${#subs[@]})); then
    candidates=("\${subs[@]}")
  else
    ${f}_values "$at" "#$pos"
  fi
  case $kind in
    words) candidates=("\${vals[@]}") ;;
    ship) while IFS= read -r word; do candidates+=("$word"); done < <(${f}_ships) ;;
    address) while IFS= read -r word; do candidates+=("captain@$word"); done < <(${f}_ships) ;;
    ships)
      # Complete the last name of the list; the ones before it stay.
      word=\${cur#"$prefix"}
      [[ $word == *,* ]] && prefix+=\${word%,*},
      while IFS= read -r word; do candidates+=("$word"); done < <(${f}_ships)
      ;;
  esac
  # Bash replaces only its own current word: the part after the last "=" or ":", or from
  # the last "@" on (readline keeps "@" as a prefix of the word it completes).
  word=\${COMP_WORDS[COMP_CWORD]}
  ((COMP_CWORD > 0)) && [[ \${COMP_WORDS[COMP_CWORD - 1]} == @ && $cur == *"@$word" ]] &&
    word=@$word
  [[ $cur == *"$word" ]] && strip=\${cur%"$word"}
  COMPREPLY=()
  for candidate in "\${candidates[@]}"; do
    candidate=$prefix$candidate
    [[ $candidate == "$cur"* ]] && COMPREPLY+=("\${candidate#"$strip"}")
  done
}

complete -F ${f} ${program}
`;
}

function zshScript(program: string, nodes: Node[], cache: string): string {
  const f = `_${program.replaceAll("-", "_")}`;
  // _describe reads "name:description"; a colon in a name is escaped.
  const described = (name: string, description: string) =>
    name.replaceAll(":", "\\:") + (description ? `:${description}` : "");
  const nodeCases = nodes.map((node) =>
    `    ${sh(node.path)}) subs=${
      shArray(node.commands.map((c) => described(c.name, c.description)))
    }\n` +
    `      opts=${
      shArray(node.options.flatMap((o) => o.names.map((name) => described(name, o.description))))
    }\n` +
    `      valued=${shArray(optionNames(node, true))} ;;`
  );
  const values = valueCases(
    nodes,
    (values) =>
      values.kind === "words"
        ? `kind=words vals=${shArray(values.words)} ;;`
        : `kind=${values.kind} ;;`,
  );
  return `#compdef ${program}
# zsh completion for ${program}, generated from its commands by "${program} completions zsh".
# Install: add to ~/.zshrc, after compinit   source <(${program} completions zsh)
# or save it as _${program} in a directory of $fpath.

${lookups(f, nodeCases, values, program, cache, `print -r -- "$line"`)}
${f}() {
  emulate -L zsh
  setopt extendedglob
  local -a subs opts valued vals names
  local at='' kind='' cur=\${words[CURRENT]} pending='' word
  local -i i pos=0 rest=0
  ${f}_node ''
  for ((i = 2; i < CURRENT; i++)); do
    word=\${words[i]}
    if [[ -n $pending ]]; then
      pending=''
    elif (( rest )) || [[ $word != -* ]]; then
      if (( !rest && \${subs[(I)\${(b)word}(|:*)]} )); then
        at=\${at:+$at }$word
        ${f}_node "$at"
        pos=0
      else
        pos+=1
      fi
    elif [[ $word == -- ]]; then
      rest=1
    elif [[ $word != *=* ]] && (( \${valued[(Ie)$word]} )); then
      pending=$word
    fi
  done
  if [[ -n $pending ]]; then
    ${f}_values "$at" "$pending"
  elif (( !rest )) && [[ $cur == --*=* ]]; then
    compset -P '*='
    ${f}_values "$at" "\${cur%%=*}"
  elif (( !rest )) && [[ $cur == -* ]]; then
    _describe -t options option opts
    return
  elif (( !rest && $#subs )); then
    _describe -t commands command subs
    return
  else
    ${f}_values "$at" "#$pos"
  fi
  names=(\${(f)"$(${f}_ships)"})
  case $kind in
    words) compadd -a vals ;;
    ship) compadd -a names ;;
    address) compadd -P captain@ -a names ;;
    ships) compset -P '*,'; compadd -a names ;;
  esac
}

if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  ${f} "$@"
elif (( \${+functions[compdef]} )); then
  compdef ${f} ${program}
else
  print -u2 -- "${program} completions: run compinit before sourcing this script"
fi
`;
}

function fishScript(program: string, nodes: Node[], cache: string): string {
  const f = `__${program.replaceAll("-", "_")}`;
  const list = (words: string[]) => words.map(fish).join(" ");
  const tabbed = (name: string, description: string) =>
    fish(description ? `${name}\t${description}` : name);
  const nodeCases = nodes.map((node) =>
    `        case ${fish(node.path)}\n` +
    `            set -g ${f}_subs ${
      node.commands.map((c) => tabbed(c.name, c.description)).join(" ")
    }\n` +
    `            set -g ${f}_opts ${
      node.options.flatMap((o) => o.names.map((name) => tabbed(name, o.description))).join(" ")
    }\n` +
    `            set -g ${f}_valued ${list(optionNames(node, true))}`
  );
  const values = nodes.flatMap((node) =>
    [...node.values].map(([key, values]) =>
      `        case ${fish(`${node.path}/${key}`)}\n` +
      (values.kind === "words"
        ? `            printf '%s\\n' ${list(values.words)}`
        : `            ${f}_${values.kind}`)
    )
  );
  return `# fish completion for ${program}, generated from its commands by "${program} completions fish".
# Install: ${program} completions fish > ~/.config/fish/completions/${program}.fish

function ${f}_node
    switch $argv[1]
${nodeCases.join("\n")}
        case '*'
            set -g ${f}_subs
            set -g ${f}_opts
            set -g ${f}_valued
    end
end

# Ship names from the cache that "${program} fleet status" writes; only VM names, since
# the file is not trusted.
function ${f}_ship
    set -l file "$HOME"/${fish(cache)}
    test -r $file; or return 0
    string match -r -- ${fish(VM_NAME.source)} <$file
end

function ${f}_address
    for name in (${f}_ship)
        printf 'captain@%s\\n' $name
    end
end

# The last name of a comma-separated list; the ones before it stay.
function ${f}_ships
    set -l before (string match -r -- '^.*,' $${f}_current)
    for name in (${f}_ship)
        printf '%s%s\\n' "$before" $name
    end
end

# Prints the candidates for the value of option or positional "#<n>" $argv[2] at $argv[1].
function ${f}_values
    switch "$argv[1]/$argv[2]"
${values.join("\n")}
    end
end

function ${f}_complete
    set -l typed (commandline -opc)
    set -g ${f}_current (commandline -ct)
    set -l cur $${f}_current
    set -l at ''
    set -l pending ''
    set -l pos 0
    set -l rest 0
    ${f}_node ''
    for word in $typed[2..-1]
        if test -n "$pending"
            set pending ''
        else if test $rest = 1; or not string match -q -- '-*' $word
            if test $rest = 0; and contains -- $word (string replace -r -- '\\t.*' '' $${f}_subs)
                set at (string join ' ' -- $at $word | string trim)
                ${f}_node "$at"
                set pos 0
            else
                set pos (math $pos + 1)
            end
        else if test "$word" = --
            set rest 1
        else if not string match -q -- '*=*' $word; and contains -- $word $${f}_valued
            set pending $word
        end
    end
    if test -n "$pending"
        ${f}_values "$at" $pending
    else if test $rest = 0; and string match -q -- '--*=*' $cur
        set -l option (string replace -r -- '=.*' '' $cur)
        set ${f}_current (string replace -r -- '^[^=]*=' '' $cur)
        for value in (${f}_values "$at" $option)
            printf '%s=%s\\n' $option $value
        end
    else if test $rest = 0; and string match -q -- '-*' $cur
        printf '%s\\n' $${f}_opts
    else if test $rest = 0; and set -q ${f}_subs[1]
        printf '%s\\n' $${f}_subs
    else
        ${f}_values "$at" "#$pos"
    end
end

complete -c ${program} -f -a '(${f}_complete)'
`;
}
