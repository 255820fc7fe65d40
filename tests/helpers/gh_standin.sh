#!/usr/bin/env bash
# A stand-in for `gh pr create` in tests: records its arguments and the body it read on stdin
# in ~/.gh-standin/calls.log, and prints a pull request URL as gh does.
set -euo pipefail
mkdir -p "$HOME/.gh-standin"
{
  printf 'args:'
  printf ' %q' "$@"
  printf '\nbody:\n'
  cat
  printf '\n'
} >>"$HOME/.gh-standin/calls.log"
[[ ${1:-} == pr && ${2:-} == create ]] || { echo "gh stand-in: only pr create" >&2; exit 1; }
count=$(grep -c '^args:' "$HOME/.gh-standin/calls.log")
echo "https://github.example.test/acme/web/pull/$count"
