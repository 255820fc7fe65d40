/**
 * The completion script for bash: a `complete -F` function over the tree, with ship names from the cache.
 *
 * @module
 */

import { lookups, type Node, optionNames, sh, shArray, shValueCases } from "./completion_tree.ts";

/**
 * The bash script of a command tree.
 *
 * @param program The command completed.
 * @param nodes Its commands.
 * @param cache The ship names cache, relative to the home.
 * @returns The script.
 */
export function bashScript(program: string, nodes: Node[], cache: string): string {
  const f = `_${program.replaceAll("-", "_")}`;
  const nodeCases = nodes.map((node) =>
    `    ${sh(node.path)}) subs=${shArray(node.commands.map((c) => c.name))}` +
    ` opts=${shArray(optionNames(node))} valued=${shArray(optionNames(node, true))} ;;`
  );
  const values = shValueCases(nodes);
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
