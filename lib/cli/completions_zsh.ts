/**
 * The completion script for zsh: a `compdef` function over the tree, with descriptions and ship names from the cache.
 *
 * @module
 */

import { lookups, type Node, optionNames, sh, shArray, shValueCases } from "./completion_tree.ts";

/**
 * The zsh script of a command tree.
 *
 * @param program The command completed.
 * @param nodes Its commands.
 * @param cache The ship names cache, relative to the home.
 * @returns The script.
 */
export function zshScript(program: string, nodes: Node[], cache: string): string {
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
  const values = shValueCases(nodes);
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
