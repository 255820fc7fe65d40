#!/usr/bin/env bash
# A stand-in for `gh` in tests: records its arguments and the body it read on stdin in
# ~/.gh-standin/calls.log. It is signed in, as gh is, when GH_TOKEN (or GITHUB_TOKEN) is set or
# ~/.config/gh/hosts.yml exists. `auth status` says so; `pr create` prints a pull request URL, as
# gh does, unless its body holds "[gh-refuse]" (GitHub's answer when the branch has no commits)
# or its --head is not a branch of the checkout's origin (GitHub's answer to a head it lacks).
set -euo pipefail
mkdir -p "$HOME/.gh-standin"
body=$(cat)
{
  printf 'args:'
  printf ' %q' "$@"
  printf '\nbody:\n%s\n\n' "$body"
} >>"$HOME/.gh-standin/calls.log"
signed_in() { [[ -n ${GH_TOKEN:-} || -n ${GITHUB_TOKEN:-} || -f $HOME/.config/gh/hosts.yml ]]; }
case "${1:-} ${2:-}" in
"auth status")
  if signed_in; then
    echo "github.com"
    echo "  ✓ Logged in to github.com account standin (GH_TOKEN)"
    exit 0
  fi
  echo "You are not logged into any GitHub hosts. To log in, run: gh auth login" >&2
  exit 1
  ;;
"pr create")
  if ! signed_in; then
    echo "To get started with GitHub CLI, please run:  gh auth login" >&2
    echo "Alternatively, populate the GH_TOKEN environment variable with a GitHub API authentication token." >&2
    exit 4
  fi
  head="" base="main"
  for ((i = 3; i < $#; i++)); do
    case "${!i}" in
    --head) j=$((i + 1)) && head=${!j} ;;
    --base) j=$((i + 1)) && base=${!j} ;;
    esac
  done
  if [[ $body == *"[gh-refuse]"* ]]; then
    echo "pull request create failed: GraphQL: No commits between $base and ${head:-?} (createPullRequest)" >&2
    exit 1
  fi
  if [[ -n $head ]] && ! git ls-remote --exit-code --heads origin "refs/heads/$head" >/dev/null 2>&1; then
    echo "pull request create failed: GraphQL: Head sha can't be blank, Base sha can't be blank, No commits between $base and $head, Head ref must be a branch (createPullRequest)" >&2
    exit 1
  fi
  count=$(grep -c '^args: pr create' "$HOME/.gh-standin/calls.log")
  echo "https://github.example.test/acme/web/pull/$count"
  ;;
*)
  echo "gh stand-in: only auth status and pr create" >&2
  exit 1
  ;;
esac
