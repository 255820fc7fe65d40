#!/usr/bin/env bash
# ohcommodore VM setup: turns a fresh VM into a fleet member (flagship or ship).
#
# The orchestrator (`ohcommodore init`, `ship create`) first installs the program at
# ~/.local/bin/ohcommodore and writes ~/.ohcommodore/.env (mode 0600, KEY='value' lines), then
# uploads this file as ~/.ohcommodore/init.sh and runs `bash ~/.ohcommodore/init.sh` as the VM's
# user. INIT_PATH / INIT_URL (a custom setup script) are handled by the orchestrator, which
# uploads that script instead of this one; this script does not read them.
#
# Every step is a function named step_<name>, runs in order, and is idempotent: running the
# script again changes nothing and succeeds. Optional steps warn and continue on failure;
# essential ones (repo when TARGET_REPO is set, program, identity, scheduler) stop the script
# with exit code 1 and the last line "init.sh: step <name> failed". See cloudinit/README.md.

set -uo pipefail

# One stream, so the last line is always the verdict, whatever the orchestrator captures.
exec 2>&1

: "${HOME:?init.sh: HOME is not set}"
# Tools installed per user land here; later steps and the scheduler must find them.
export PATH="$HOME/.local/bin:$HOME/.cargo/bin:$PATH"

readonly PROGRAM="$HOME/.local/bin/ohcommodore"
readonly OHC_DIR="$HOME/.ohcommodore"
readonly OHC_ENV="$OHC_DIR/.env"
# Written for bash 3.2 too (a Mac's /bin/bash runs it for the local provider): no associative
# arrays, and a possibly empty array is expanded as ${a[@]+"${a[@]}"} (set -u).

# The steps in the order they run, each `<name>:<what it does>`; step_<name> does it.
STEP_TABLE=(
  "zsh:install the Z shell"
  "gh:sign gh and git in to GitHub"
  "repo:clone or update TARGET_REPO"
  "zellij:install zellij"
  "rustup:install Rust with rustup"
  "ohmyzsh:install Oh My Zsh"
  "chezmoi:apply dotfiles with chezmoi"
  "duckdb:install the DuckDB CLI"
  "sshconfig:let SSH reach other fleet members"
  "secrets:give login shells the Claude Code credentials"
  "program:check ~/.local/bin/ohcommodore is installed"
  "identity:write identity.json (and the flagship's tables)"
  "scheduler:run the scheduler"
  "shell:make zsh the login shell"
)
STEPS=()
for entry in "${STEP_TABLE[@]}"; do STEPS+=("${entry%%:*}"); done
INPUTS=(ROLE VM_NAME GH_TOKEN TARGET_REPO DOTFILES_PATH DOTFILES_URL SKIP_STEPS
  FLAGSHIP_NAME FLAGSHIP_DEST SHIP_KEYLESS CLAUDE_CODE_OAUTH_TOKEN ANTHROPIC_API_KEY
  OHCOMMODORE_NOTIFY)
readonly STEP_TABLE STEPS INPUTS

WARNINGS=()
STEP_RESULT="ok" # what a step reports on success: ok, already done, skipped (...)
STEP_WHY=""      # why a step failed
REPO_DIR=""      # set by step_repo; identity records it as the work directory

# ---------------------------------------------------------------------------------------------
# Helpers

say() { printf '%s\n' "$*"; }

warn() {
  say "WARNING: $*"
}

# Remembers a warning for the summary line, once per name.
add_warning() {
  local name
  for name in ${WARNINGS[@]+"${WARNINGS[@]}"}; do [[ $name == "$1" ]] && return 0; done
  WARNINGS+=("$1")
}

# Root needs no sudo (containers); everyone else gets sudo that fails instead of asking.
as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

# Every download: bounded in time, HTTPS only, fails on HTTP errors.
download() {
  local url=$1 file=$2
  curl -fsSL --proto '=https' --tlsv1.2 --connect-timeout 20 --max-time 300 --retry 2 \
    -o "$file" "$url"
}

have() { command -v "$1" >/dev/null 2>&1; }

# `timeout SECONDS COMMAND...` is GNU coreutils; a Mac has none. There perl stands in for it:
# the command runs in its own process group, which the limit stops whole (exit 124), and a
# TERM, INT or HUP sent to us is passed on to that group.
# shellcheck disable=SC2016 # perl's variables, not the shell's
readonly TIMEOUT_PERL='
  my $limit = shift @ARGV;
  my $pid = fork() // die "timeout: cannot fork: $!\n";
  if ($pid == 0) {
    setpgrp(0, 0);
    exec { $ARGV[0] } @ARGV or die "timeout: cannot run $ARGV[0]: $!\n";
  }
  setpgrp($pid, $pid);
  $SIG{$_} = sub { kill $_[0], -$pid } for qw(TERM INT HUP);
  $SIG{ALRM} = sub { kill "TERM", -$pid; waitpid($pid, 0); exit 124 };
  alarm $limit;
  my $done;
  do { $done = waitpid($pid, 0) } until $done == $pid || ($done == -1 && !$!{EINTR});
  exit($? & 127 ? 128 + ($? & 127) : $? >> 8);
'
if ! have timeout; then
  if have perl; then
    timeout() { perl -e "$TIMEOUT_PERL" "$@"; }
  else
    warn "neither timeout nor perl is installed: commands run without time limits"
    add_warning timeout
    timeout() { shift && "$@"; }
  fi
fi

# `"${WITHOUT_INPUTS[@]}" COMMAND...` runs a command without this script's inputs (ROLE,
# GH_TOKEN, ...): downloaded installers and the detached scheduler need none of them.
WITHOUT_INPUTS=(env)
for input in "${INPUTS[@]}"; do WITHOUT_INPUTS+=(-u "$input"); done
readonly WITHOUT_INPUTS

# git over the network, bounded in time and never asking: no credential prompt, no host key
# question (BatchMode), a new host key accepted once. Set per call, not exported, so the
# scheduler started later does not inherit them.
git_net() {
  local seconds=$1
  shift
  GIT_TERMINAL_PROMPT=0 \
    GIT_SSH_COMMAND="${GIT_SSH_COMMAND:-ssh -o BatchMode=yes -o ConnectTimeout=20 -o StrictHostKeyChecking=accept-new}" \
    timeout "$seconds" git "$@" </dev/null
}

# A scratch directory for downloads, removed however the script ends.
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/ohcommodore-init.XXXXXX") || {
  say "init.sh: cannot create a temporary directory"
  exit 1
}
trap 'rm -rf -- "$SCRATCH"' EXIT

# Loads KEY='value' lines, but only from a file this user owns and nobody else can write:
# sourcing runs code, so a file others can change must not be trusted.
load_env_file() {
  local file=$1 mode
  [[ -f $file ]] || return 0
  if [[ ! -O $file ]]; then
    warn "ignoring $file: it is owned by someone else"
    add_warning env
    return 0
  fi
  # GNU stat, else BSD stat (a Mac running the local provider).
  if ! mode=$(stat -c '%a' -- "$file" 2>/dev/null || stat -f '%Lp' -- "$file" 2>/dev/null); then
    warn "ignoring $file: cannot read its mode"
    add_warning env
    return 0
  fi
  if (((8#$mode & 8#022) != 0)); then
    warn "ignoring $file: it is writable by group or others (mode $mode); chmod 600 it"
    add_warning env
    return 0
  fi
  set -a
  # shellcheck disable=SC1090 # the file is chosen at run time
  . "$file" || {
    warn "$file did not load cleanly"
    add_warning env
  }
  set +a
}

# Precedence: the environment, then ~/.ohcommodore/.env, then ./.env (the original read .env).
# Files load lowest first; values the environment already had are put back afterwards.
load_inputs() {
  local name saved given=()
  for name in "${INPUTS[@]}"; do
    if [[ -n ${!name:-} ]]; then
      given+=("$name")
      printf -v "OHC_INIT_GIVEN_$name" '%s' "${!name}"
    fi
  done
  if [[ -f .env && ! .env -ef $OHC_ENV ]]; then load_env_file "$PWD/.env"; fi
  load_env_file "$OHC_ENV"
  for name in ${given[@]+"${given[@]}"}; do
    saved="OHC_INIT_GIVEN_$name"
    printf -v "$name" '%s' "${!saved}"
    export "${name?}"
    unset "$saved"
  done
}

is_essential() {
  case $1 in
    program | identity | scheduler) return 0 ;;
    repo) [[ -n ${TARGET_REPO:-} ]] ;;
    *) return 1 ;;
  esac
}

is_skipped() {
  local name
  for name in ${SKIP_LIST[@]+"${SKIP_LIST[@]}"}; do
    [[ $name == "$1" ]] && return 0
  done
  return 1
}

# Runs one step and reports how it ended; an essential step that fails ends the script.
run_step() {
  local name=$1 what=$2 status
  say "==> $name: $what"
  if is_skipped "$name"; then
    if is_essential "$name"; then
      say "    $name is essential and cannot be skipped (SKIP_STEPS); running it anyway"
    else
      say "    $name: skipped (SKIP_STEPS)"
      return 0
    fi
  fi
  STEP_RESULT="ok"
  STEP_WHY=""
  "step_$name"
  status=$?
  if [[ $status -eq 0 ]]; then
    say "    $name: $STEP_RESULT"
    return 0
  fi
  local why=${STEP_WHY:-exit code $status}
  if is_essential "$name"; then
    say "    ERROR: $name failed ($why)"
    say "init.sh: step $name failed"
    exit 1
  fi
  say "    WARNING: $name failed ($why); continuing"
  add_warning "$name"
}

# The machine's architecture in the two spellings release assets use.
arch_gnu() {
  case $(uname -m) in
    x86_64 | amd64) say x86_64 ;;
    aarch64 | arm64) say aarch64 ;;
    *) return 1 ;;
  esac
}

arch_deb() {
  case $(uname -m) in
    x86_64 | amd64) say amd64 ;;
    aarch64 | arm64) say arm64 ;;
    *) return 1 ;;
  esac
}

# Puts a downloaded executable into ~/.local/bin under its own name.
install_tool() {
  local target
  target="$HOME/.local/bin/$(basename "$1")"
  if ! mkdir -p "$HOME/.local/bin" || ! install -m 0755 "$1" "$target"; then
    STEP_WHY="cannot install $target"
    return 1
  fi
}

# ---------------------------------------------------------------------------------------------
# Steps

step_zsh() {
  if have zsh; then
    STEP_RESULT="already done"
    return 0
  fi
  have apt-get || { STEP_WHY="zsh is missing and there is no apt-get"; return 1; }
  local install=(timeout 900 apt-get -y -q -o DPkg::Lock::Timeout=120 install zsh)
  # A fresh image may have empty package lists: update once, then try again.
  if ! as_root env DEBIAN_FRONTEND=noninteractive "${install[@]}"; then
    as_root env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get -q -o DPkg::Lock::Timeout=120 update ||
      { STEP_WHY="apt-get update failed (sudo -n, network?)"; return 1; }
    as_root env DEBIAN_FRONTEND=noninteractive "${install[@]}" ||
      { STEP_WHY="apt-get install zsh failed"; return 1; }
  fi
  have zsh || { STEP_WHY="zsh is still not on PATH"; return 1; }
}

# gh refuses to store a token while GH_TOKEN is set, so its login runs without it; the token
# travels on stdin (a here-string), never on a command line where ps would show it.
gh_stored() { timeout 120 env -u GH_TOKEN -u GITHUB_TOKEN gh "$@"; }

step_gh() {
  if [[ -z ${GH_TOKEN:-} ]]; then
    STEP_RESULT="skipped (no GH_TOKEN)"
    return 0
  fi
  have gh || { STEP_WHY="gh is not installed"; return 1; }
  local stored helper
  stored=$(gh_stored auth token --hostname github.com 2>/dev/null) || stored=""
  helper=$(git config --global --get-all credential.https://github.com.helper 2>/dev/null) || helper=""
  if [[ $stored == "$GH_TOKEN" && $helper == *"gh auth git-credential"* ]]; then
    STEP_RESULT="already done"
    return 0
  fi
  if [[ $stored != "$GH_TOKEN" ]]; then
    gh_stored auth login --hostname github.com --git-protocol https --with-token <<<"$GH_TOKEN" ||
      { STEP_WHY="gh auth login failed (token invalid or no network?)"; return 1; }
  fi
  gh_stored auth setup-git --hostname github.com || { STEP_WHY="gh auth setup-git failed"; return 1; }
}

# owner/repo means GitHub over HTTPS (gh's credential helper signs in); anything else is a git
# URL used as given.
repo_url() {
  if [[ $1 =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]]; then
    say "https://github.com/${1%.git}.git"
  else
    say "$1"
  fi
}

# The directory name: the last path part, without a trailing slash or .git.
repo_name() {
  local name=${1%/}
  name=${name%.git}
  name=${name##*/}
  name=${name##*:}
  say "$name"
}

step_repo() {
  if [[ -z ${TARGET_REPO:-} ]]; then
    STEP_RESULT="skipped (no TARGET_REPO)"
    return 0
  fi
  local url name dir
  url=$(repo_url "$TARGET_REPO")
  name=$(repo_name "$TARGET_REPO")
  if [[ -z $name || $name == . || $name == .. ]]; then
    STEP_WHY="cannot tell a directory name from TARGET_REPO \"$TARGET_REPO\""
    return 1
  fi
  dir="$HOME/$name"
  if [[ -d $dir/.git ]]; then
    REPO_DIR=$dir
    local origin
    origin=$(git -C "$dir" remote get-url origin 2>/dev/null) || origin=""
    [[ $origin == "$url" ]] || say "    note: ~/$name has origin \"$origin\", not \"$url\"; keeping it"
    # The clone is usable either way; a failed fetch (no network) is only a warning.
    if git_net 300 -C "$dir" fetch --prune --quiet origin; then
      STEP_RESULT="already done (~/$name cloned; fetched origin)"
    else
      warn "git fetch in ~/$name failed; keeping the existing clone"
      add_warning "repo fetch"
      STEP_RESULT="already done (~/$name cloned; fetch failed)"
    fi
    return 0
  fi
  if [[ -e $dir ]] && ! rmdir -- "$dir" 2>/dev/null; then
    STEP_WHY="$dir exists and is not a git clone; move it away"
    return 1
  fi
  # Clone beside the target and rename, so an interrupted clone never looks finished.
  local partial="$dir.partial-$$"
  rm -rf -- "$partial"
  if ! git_net 900 clone --quiet -- "$url" "$partial"; then
    rm -rf -- "$partial"
    STEP_WHY="git clone $url failed"
    return 1
  fi
  mv -- "$partial" "$dir" || { STEP_WHY="cannot move the clone to ~/$name"; return 1; }
  REPO_DIR=$dir
  STEP_RESULT="ok (cloned into ~/$name)"
}

step_zellij() {
  if have zellij; then
    STEP_RESULT="already done"
    return 0
  fi
  local arch
  arch=$(arch_gnu) || { STEP_WHY="no zellij build for $(uname -m)"; return 1; }
  local url="https://github.com/zellij-org/zellij/releases/latest/download/zellij-$arch-unknown-linux-musl.tar.gz"
  download "$url" "$SCRATCH/zellij.tar.gz" || { STEP_WHY="download of $url failed"; return 1; }
  if ! mkdir -p "$SCRATCH/zellij" || ! tar -xzf "$SCRATCH/zellij.tar.gz" -C "$SCRATCH/zellij" ||
    [[ ! -f $SCRATCH/zellij/zellij ]]; then
    STEP_WHY="the zellij archive has no zellij binary"
    return 1
  fi
  install_tool "$SCRATCH/zellij/zellij"
}

step_rustup() {
  if have rustup; then
    STEP_RESULT="already done"
    return 0
  fi
  download https://sh.rustup.rs "$SCRATCH/rustup-init.sh" ||
    { STEP_WHY="download of https://sh.rustup.rs failed"; return 1; }
  # -y: no questions; it adds ~/.cargo/env to the shell profiles. Downloaded installers run
  # without this script's inputs: they need no tokens.
  timeout 1200 "${WITHOUT_INPUTS[@]}" sh "$SCRATCH/rustup-init.sh" -y </dev/null ||
    { STEP_WHY="rustup-init failed"; return 1; }
}

step_ohmyzsh() {
  if [[ -d $HOME/.oh-my-zsh ]]; then
    STEP_RESULT="already done"
    return 0
  fi
  have zsh || { STEP_WHY="zsh is not installed"; return 1; }
  local url=https://raw.githubusercontent.com/ohmyzsh/ohmyzsh/master/tools/install.sh
  download "$url" "$SCRATCH/ohmyzsh.sh" || { STEP_WHY="download of $url failed"; return 1; }
  # Unattended: no shell change (step shell does that), no zsh started, an existing .zshrc kept.
  timeout 600 "${WITHOUT_INPUTS[@]}" RUNZSH=no CHSH=no KEEP_ZSHRC=yes sh "$SCRATCH/ohmyzsh.sh" \
    --unattended </dev/null ||
    { STEP_WHY="the Oh My Zsh installer failed"; return 1; }
}

# DOTFILES_URL is cloned (or updated) here; its dotfiles/ folder is the chezmoi source.
readonly DOTFILES_CLONE="$HOME/.local/share/ohcommodore/dotfiles"
DOTFILES_SOURCE=""

# Sets DOTFILES_SOURCE: DOTFILES_PATH, else the dotfiles/ folder of a clone of DOTFILES_URL.
dotfiles_source() {
  if [[ -n ${DOTFILES_PATH:-} ]]; then
    DOTFILES_SOURCE=$DOTFILES_PATH
    # A literal ~/ (the .env does not expand it) means the home directory.
    # shellcheck disable=SC2088
    [[ $DOTFILES_SOURCE == "~/"* ]] && DOTFILES_SOURCE="$HOME/${DOTFILES_SOURCE#\~/}"
    [[ -d $DOTFILES_SOURCE ]] || { STEP_WHY="DOTFILES_PATH $DOTFILES_SOURCE is not a directory"; return 1; }
    return 0
  fi
  if [[ -d $DOTFILES_CLONE/.git ]]; then
    git_net 300 -C "$DOTFILES_CLONE" pull --ff-only --quiet ||
      warn "updating $DOTFILES_CLONE failed; using what it has"
  else
    local url
    url=$(repo_url "$DOTFILES_URL")
    if ! mkdir -p "$(dirname "$DOTFILES_CLONE")" || ! git_net 600 clone --quiet -- "$url" "$DOTFILES_CLONE"; then
      STEP_WHY="git clone of DOTFILES_URL ($DOTFILES_URL) failed"
      return 1
    fi
  fi
  DOTFILES_SOURCE="$DOTFILES_CLONE/dotfiles"
  [[ -d $DOTFILES_SOURCE ]] || { STEP_WHY="DOTFILES_URL ($DOTFILES_URL) has no dotfiles/ folder"; return 1; }
}

step_chezmoi() {
  if [[ -z ${DOTFILES_PATH:-} && -z ${DOTFILES_URL:-} ]]; then
    STEP_RESULT="skipped (no DOTFILES_PATH or DOTFILES_URL)"
    return 0
  fi
  if ! have chezmoi; then
    download https://get.chezmoi.io "$SCRATCH/chezmoi.sh" ||
      { STEP_WHY="download of https://get.chezmoi.io failed"; return 1; }
    timeout 300 "${WITHOUT_INPUTS[@]}" sh "$SCRATCH/chezmoi.sh" -b "$HOME/.local/bin" </dev/null ||
      { STEP_WHY="the chezmoi installer failed"; return 1; }
  fi
  dotfiles_source || return 1
  if timeout 300 chezmoi verify --source "$DOTFILES_SOURCE" --no-tty </dev/null >/dev/null 2>&1; then
    STEP_RESULT="already done"
    return 0
  fi
  timeout 600 chezmoi apply --source "$DOTFILES_SOURCE" --force --no-tty </dev/null ||
    { STEP_WHY="chezmoi apply failed"; return 1; }
}

step_duckdb() {
  if have duckdb; then
    STEP_RESULT="already done"
    return 0
  fi
  local arch
  arch=$(arch_deb) || { STEP_WHY="no DuckDB build for $(uname -m)"; return 1; }
  local url="https://github.com/duckdb/duckdb/releases/latest/download/duckdb_cli-linux-$arch.zip"
  download "$url" "$SCRATCH/duckdb.zip" || { STEP_WHY="download of $url failed"; return 1; }
  # unzip is not in every image; python3 is.
  if have unzip; then
    unzip -o -q "$SCRATCH/duckdb.zip" -d "$SCRATCH"
  else
    python3 -m zipfile -e "$SCRATCH/duckdb.zip" "$SCRATCH"
  fi || { STEP_WHY="cannot unpack $url"; return 1; }
  install_tool "$SCRATCH/duckdb"
}

step_sshconfig() {
  local dir="$HOME/.ssh" config="$HOME/.ssh/config"
  # Created private: ssh refuses a group-writable config, and other ssh calls may run meanwhile.
  if ! mkdir -p "$dir" || ! chmod 700 "$dir" || ! (umask 077 && touch "$config") ||
    ! chmod 600 "$config"; then
    STEP_WHY="cannot prepare $config"
    return 1
  fi
  if grep -qxF 'Host *.exe.xyz' "$config"; then
    STEP_RESULT="already done"
    return 0
  fi
  # Fleet members reach each other by name: accept a new VM's host key once, as exedev.
  local last=""
  [[ -s $config ]] && last=$(tail -c 1 "$config")
  {
    if [[ -n $last ]]; then say ""; fi # finish an unterminated last line
    say "Host *.exe.xyz"
    say "  StrictHostKeyChecking accept-new"
    say "  User exedev"
  } >>"$config" || { STEP_WHY="cannot write $config"; return 1; }
}

# The line shells run: it exports only the two credentials, read from the owner-only .env, so
# their values are never copied into a readable file.
readonly SECRETS_MARK="# ohcommodore: Claude Code credentials"
# shellcheck disable=SC2016 # expanded by the shell that reads the rc file, not here
readonly SECRETS_LINE='if [ -r "$HOME/.ohcommodore/.env" ]; then eval "$(sed -n -E "s/^(CLAUDE_CODE_OAUTH_TOKEN|ANTHROPIC_API_KEY)=/export \1=/p" "$HOME/.ohcommodore/.env")"; fi '"$SECRETS_MARK"

add_secrets_line() {
  local file=$1 where=$2
  if [[ -f $file ]] && grep -qF "$SECRETS_MARK" "$file"; then return 0; fi
  touch "$file" || return 1
  if [[ $where == top ]]; then
    # Above everything: Ubuntu's .bashrc returns early in non-interactive shells
    # (`ssh ship claude -p ...`), and those are the ones that need the credentials.
    local content
    content=$(cat "$file") || return 1
    { say "$SECRETS_LINE"; if [[ -n $content ]]; then say "$content"; fi; } >"$file"
  else
    say "$SECRETS_LINE" >>"$file"
  fi
  CHANGED=1
}

step_secrets() {
  local names=() name
  for name in CLAUDE_CODE_OAUTH_TOKEN ANTHROPIC_API_KEY; do
    [[ -n ${!name:-} ]] && names+=("$name")
  done
  if [[ ${#names[@]} -eq 0 ]]; then
    STEP_RESULT="skipped (no CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_API_KEY)"
    return 0
  fi
  CHANGED=0
  if ! mkdir -p "$OHC_DIR" || ! chmod 700 "$OHC_DIR" || ! touch "$OHC_ENV" || ! chmod 600 "$OHC_ENV"; then
    STEP_WHY="cannot prepare $OHC_ENV"
    return 1
  fi
  # A credential given only in the environment is kept in the 0600 .env (printf is a builtin:
  # the value never reaches a command line).
  for name in "${names[@]}"; do
    if ! grep -q "^$name=" "$OHC_ENV"; then
      if [[ ${!name} == *"'"* || ${!name} == *$'\n'* ]]; then
        STEP_WHY="$name contains a quote or newline"
        return 1
      fi
      printf "%s='%s'\n" "$name" "${!name}" >>"$OHC_ENV" || { STEP_WHY="cannot write $OHC_ENV"; return 1; }
      CHANGED=1
    fi
  done
  add_secrets_line "$HOME/.bashrc" top || { STEP_WHY="cannot update ~/.bashrc"; return 1; }
  # zsh -c (ssh with zsh as login shell) reads only .zshenv; interactive zsh also reads .zshrc.
  add_secrets_line "$HOME/.zshenv" end || { STEP_WHY="cannot update ~/.zshenv"; return 1; }
  if [[ -f $HOME/.zshrc ]]; then
    add_secrets_line "$HOME/.zshrc" end || { STEP_WHY="cannot update ~/.zshrc"; return 1; }
  fi
  [[ $CHANGED -eq 1 ]] || STEP_RESULT="already done"
}

# Only checked here: starting the program costs a runtime start per VM, and the next two steps
# start it anyway (a program that cannot run fails "identity" with its own error).
step_program() {
  [[ -x $PROGRAM && -s $PROGRAM ]] || { STEP_WHY="$PROGRAM is missing, empty or not executable"; return 1; }
}

step_identity() {
  local args=(_setup --role "$ROLE" --name "$VM_NAME")
  [[ -n $REPO_DIR ]] && args+=(--workdir "$REPO_DIR")
  if [[ $ROLE == captain && -n ${FLAGSHIP_NAME:-} && -n ${FLAGSHIP_DEST:-} ]]; then
    args+=(--flagship-name "$FLAGSHIP_NAME" --flagship-dest "$FLAGSHIP_DEST")
    [[ ${SHIP_KEYLESS:-} == 1 ]] && args+=(--keyless)
  fi
  timeout 300 "$PROGRAM" "${args[@]}" </dev/null >/dev/null ||
    { STEP_WHY="ohcommodore _setup failed (does $PROGRAM run on this machine?)"; return 1; }
}

readonly UNIT_NAME=ohcommodore-scheduler.service
readonly UNIT_FILE="$HOME/.config/systemd/user/$UNIT_NAME"

# %h is the home directory. PATH includes ~/.local/bin, where the program and the tools live
# (the scheduler itself gives commands the credentials from ~/.ohcommodore/.env).
# KillMode=mixed: on stop only the scheduler gets SIGTERM, so it can let a running command finish;
# TimeoutStopSec=infinity: systemd's 90 s default would SIGKILL that command (each has a timeout).
# Restart=always: it comes back after any exit (a crash, a kill, even exit 0); only a stop by
# systemctl, which "ohcommodore scheduler stop" uses, keeps it down. RestartSec=1: deliveries wait.
# NO_COLOR: its log is the journal, and Deno colours what it prints itself (an uncaught error).
unit_text() {
  cat <<'EOF'
[Unit]
Description=ohcommodore scheduler: runs commands delivered to this member's inbox

[Service]
Type=simple
Environment=PATH=%h/.local/bin:%h/.cargo/bin:/usr/local/bin:/usr/bin:/bin
Environment=NO_COLOR=1
ExecStart=%h/.local/bin/ohcommodore _scheduler
Restart=always
RestartSec=1
KillMode=mixed
TimeoutStopSec=infinity

[Install]
WantedBy=default.target
EOF
}

scheduler_answers() { timeout 60 "$PROGRAM" scheduler status >/dev/null 2>&1; }
unit_active() { timeout 30 systemctl --user is-active --quiet "$UNIT_NAME"; }
# Running, and the version of the program now installed (an upgrade needs a restart).
scheduler_current() { timeout 60 "$PROGRAM" scheduler status --this-version >/dev/null 2>&1; }

# User units run only while their user has a session, unless the user lingers: without it the
# scheduler would stop when the ssh session that runs this script ends.
lingers() { [[ $(timeout 30 loginctl show-user "$(id -un)" --property=Linger --value 2>/dev/null) == yes ]]; }
ensure_linger() {
  lingers && return 0
  timeout 30 loginctl enable-linger "$(id -un)" >/dev/null 2>&1 && lingers && return 0
  timeout 30 sudo -n loginctl enable-linger "$(id -un)" >/dev/null 2>&1 && lingers
}

# A detached process: `start` leaves a scheduler of this version running and restarts one of
# another version; it says which it did. $1 says why there is no systemd unit.
detached_scheduler() {
  local said
  # It reads what it needs from identity.json and the .env itself.
  said=$(timeout 120 "${WITHOUT_INPUTS[@]}" "$PROGRAM" scheduler start </dev/null) ||
    { STEP_WHY="ohcommodore scheduler start failed"; return 1; }
  case $said in
    "already running"*) STEP_RESULT="already done (running, $1)" ;;
    *) STEP_RESULT="ok (${said%%,*}, detached process; $1)" ;;
  esac
}

step_scheduler() {
  if ! timeout 30 systemctl --user show-environment >/dev/null 2>&1; then
    detached_scheduler "no systemd user session" # containers
    return
  fi
  if ! ensure_linger; then
    warn "cannot enable lingering for $(id -un) (loginctl enable-linger): a user unit would stop at logout, so the scheduler runs detached and does not come back after a reboot"
    add_warning scheduler
    # A unit from an earlier run would be started again at the next login, and `scheduler start`
    # would go through it: take it away.
    if [[ -f $UNIT_FILE ]]; then
      timeout 120 systemctl --user disable --now "$UNIT_NAME" >/dev/null 2>&1 || true
      rm -f "$UNIT_FILE"
    fi
    detached_scheduler "no lingering for user units"
    return
  fi
  local changed=0
  if ! unit_text | cmp -s - "$UNIT_FILE"; then
    if ! mkdir -p "$(dirname "$UNIT_FILE")" || ! unit_text >"$UNIT_FILE"; then
      STEP_WHY="cannot write $UNIT_FILE"
      return 1
    fi
    changed=1
  fi
  if [[ $changed -eq 0 ]] && unit_active && timeout 30 systemctl --user is-enabled --quiet "$UNIT_NAME"; then
    if scheduler_current; then
      STEP_RESULT="already done (systemd user unit active)"
      return 0
    fi
    changed=1 # it runs an older program: the restart below replaces it
  fi
  # A detached scheduler from an earlier run without systemd would hold the lock.
  if ! unit_active && scheduler_answers; then
    timeout 120 "$PROGRAM" scheduler stop </dev/null || true
  fi
  local logs="journalctl --user -u $UNIT_NAME"
  # Only a unit that was already running needs a restart: enable --now starts a stopped one.
  local was_active=0
  unit_active && was_active=1
  timeout 60 systemctl --user daemon-reload || { STEP_WHY="systemctl --user daemon-reload failed"; return 1; }
  timeout 60 systemctl --user enable --now "$UNIT_NAME" || { STEP_WHY="systemctl --user enable --now failed ($logs)"; return 1; }
  if [[ $changed -eq 1 && $was_active -eq 1 ]]; then
    timeout 60 systemctl --user restart "$UNIT_NAME" || { STEP_WHY="systemctl --user restart failed ($logs)"; return 1; }
  fi
  # Started is not serving: wait (up to 30 s) until it answers on its socket. It takes a few
  # tenths of a second, so a coarser poll would add most of a second to every new member.
  for _ in $(seq 1 150); do
    scheduler_answers && return 0
    sleep 0.2
  done
  STEP_WHY="the unit started but the scheduler does not answer ($logs)"
  return 1
}

step_shell() {
  local zsh user current
  zsh=$(command -v zsh) || {
    STEP_RESULT="skipped (zsh is not installed)"
    return 0
  }
  user=$(id -un)
  current=$(getent passwd "$user" | cut -d: -f7)
  if [[ $current == "$zsh" || $current == */zsh ]]; then
    STEP_RESULT="already done"
    return 0
  fi
  as_root chsh -s "$zsh" "$user" </dev/null || chsh -s "$zsh" </dev/null ||
    { STEP_WHY="chsh failed (no passwordless sudo?)"; return 1; }
}

# ---------------------------------------------------------------------------------------------
# Main

load_inputs

if [[ -z ${ROLE:-} ]]; then
  say "init.sh: ROLE is not set: set ROLE=commodore or ROLE=captain in the environment or $OHC_ENV"
  exit 1
fi
if [[ $ROLE != commodore && $ROLE != captain ]]; then
  say "init.sh: ROLE \"$ROLE\" is not commodore or captain"
  exit 1
fi
if [[ -z ${VM_NAME:-} ]]; then
  say "init.sh: VM_NAME is not set: set it in the environment or $OHC_ENV"
  exit 1
fi

SKIP_LIST=()
raw_skips=()
IFS=, read -r -a raw_skips <<<"${SKIP_STEPS:-}"
for skip in ${raw_skips[@]+"${raw_skips[@]}"}; do
  skip=${skip//[[:space:]]/}
  [[ -n $skip ]] || continue
  if [[ " ${STEPS[*]} " != *" $skip "* ]]; then
    warn "SKIP_STEPS names unknown step \"$skip\" (steps: ${STEPS[*]})"
    add_warning SKIP_STEPS
    continue
  fi
  SKIP_LIST+=("$skip")
done

say "init.sh: setting up $ROLE@$VM_NAME"

for entry in "${STEP_TABLE[@]}"; do run_step "${entry%%:*}" "${entry#*:}"; done

if [[ ${#WARNINGS[@]} -eq 0 ]]; then
  say "init.sh: done in ${SECONDS}s (no warnings)"
else
  summary=$(IFS=,; say "${WARNINGS[*]}")
  say "init.sh: done in ${SECONDS}s (warnings: ${summary//,/, })"
fi
