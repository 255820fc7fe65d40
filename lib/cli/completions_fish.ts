/**
 * The completion script for fish: `complete` lines over the tree, with descriptions and ship names from the cache.
 *
 * @module
 */

import { VM_NAME } from "../fleet/names.ts";
import { fishQuote, type Node, optionNames } from "./completion_tree.ts";

/**
 * The fish script of a command tree.
 *
 * @param program The command completed.
 * @param nodes Its commands.
 * @param cache The ship names cache, relative to the home.
 * @returns The script.
 */
export function fishScript(program: string, nodes: Node[], cache: string): string {
  const f = `__${program.replaceAll("-", "_")}`;
  const list = (words: string[]) => words.map(fishQuote).join(" ");
  const tabbed = (name: string, description: string) =>
    fishQuote(description ? `${name}\t${description}` : name);
  const nodeCases = nodes.map((node) =>
    `        case ${fishQuote(node.path)}\n` +
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
      `        case ${fishQuote(`${node.path}/${key}`)}\n` +
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
    set -l file "$HOME"/${fishQuote(cache)}
    test -r $file; or return 0
    string match -r -- ${fishQuote(VM_NAME.source)} <$file
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
