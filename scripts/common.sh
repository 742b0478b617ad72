# shellcheck shell=bash
# Shared helpers for scripts/*.sh. Source it; it defines functions and POKEFLOW_CACHE only.
#
#   POKEFLOW_CACHE            cache root, outside the clone so every clone and CI run on this
#                             machine reuses what an earlier one built (override by exporting it)
#   pf_log MSG...             one progress line on stderr
#   pf_die MSG...             one error line on stderr, exit 1
#   pf_need CMD...            pf_die unless every CMD is on PATH
#   pf_as_root CMD...         run CMD as root (directly, or through sudo), pf_die if impossible
#   pf_stamp_ok FILE KEY      true if FILE exists and holds exactly KEY
#   pf_stamp_write FILE KEY   record KEY in FILE (atomically)
#   pf_step NAME LOG CMD...   run one setup step with its output in LOG; on failure print the
#                             log's tail and one line naming the step and the log, exit 1
#
# Tool caches live inside POKEFLOW_CACHE too (Go modules and build cache, Maven's local
# repository, pip's and npm's download caches), so an empty POKEFLOW_CACHE really is a machine
# that has downloaded nothing: CI proves every setup step from nothing on every run.

if [[ -z ${POKEFLOW_CACHE:-} ]]; then
  if [[ -z ${XDG_CACHE_HOME:-} && -z ${HOME:-} ]]; then
    printf '[pokeflow] error: neither POKEFLOW_CACHE, XDG_CACHE_HOME nor HOME is set\n' >&2
    exit 1
  fi
  POKEFLOW_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/pokeflow"
fi

# Exported (not only set) so go/mvn/pip/npm started by any script or test see them.
export GOMODCACHE="$POKEFLOW_CACHE/go/mod"
export GOCACHE="$POKEFLOW_CACHE/go/build"
# -modcacherw: Go makes its module cache read-only, which would stop `rm -rf` of a cache.
# GOTOOLCHAIN=local: use the machine's Go, never download another toolchain.
export GOFLAGS="-modcacherw${GOFLAGS:+ $GOFLAGS}"
export GOTOOLCHAIN=local
export POKEFLOW_M2_REPO="$POKEFLOW_CACHE/m2"
export PIP_CACHE_DIR="$POKEFLOW_CACHE/pip"
export npm_config_cache="$POKEFLOW_CACHE/npm"

pf_log() { printf '[%s] %s\n' "${PF_TAG:-pokeflow}" "$*" >&2; }

pf_die() {
  printf '[%s] error: %s\n' "${PF_TAG:-pokeflow}" "$*" >&2
  exit 1
}

pf_need() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || pf_die "'$c' is not installed (run scripts/setup.sh)"
  done
}

pf_as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    # Without a terminal sudo cannot ask for a password; -n makes that fail at once, clearly.
    if [[ -t 0 ]]; then sudo "$@"; else sudo -n "$@"; fi
  else
    pf_die "need root for: $* (run as root, or install and configure sudo)"
  fi
}

pf_stamp_ok() {
  [[ -f $1 ]] && [[ $(<"$1") == "$2" ]]
}

pf_stamp_write() {
  printf '%s\n' "$2" >"$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
}

pf_step() {
  local name=$1 log=$2
  shift 2
  mkdir -p "$(dirname "$log")"
  if ! "$@" >"$log" 2>&1; then
    tail -n 25 "$log" >&2
    printf '[%s] error: step "%s" failed (%s); full log: %s\n' "${PF_TAG:-pokeflow}" "$name" "$*" "$log" >&2
    exit 1
  fi
}

# pf_venv NAME REQUIREMENTS CHECK: the Python venv $POKEFLOW_CACHE/NAME-<hash> with
# REQUIREMENTS installed, built once per (requirements, Python) pair; prints its path. CHECK is a
# function called with the venv's path once pip is done; it must fail if the venv is unusable.
# Fast (no pip call) when the venv is already complete.
pf_venv() {
  local name=$1 req=$2 check=$3 python=${POKEFLOW_PYTHON:-python3} pyver key venv stamp
  [[ -f $req ]] || pf_die "missing $req"
  pf_need "$python" flock sha256sum
  # The Python version is part of the key: a venv is bound to the interpreter that made it.
  pyver=$("$python" -c 'import sys; print(sys.version.split()[0]); print(sys.executable)') ||
    pf_die "$python does not run"
  key=$( { cat "$req"; printf '%s\n' "$pyver"; } | sha256sum | cut -c1-12)
  venv="$POKEFLOW_CACHE/$name-$key"
  stamp="$venv/.pokeflow-complete"
  if ! pf_stamp_ok "$stamp" "$key"; then
    mkdir -p "$POKEFLOW_CACHE"
    (
      exec 9>"$venv.lock"
      flock 9
      # Another process may have finished it while we waited for the lock.
      pf_stamp_ok "$stamp" "$key" && exit 0
      # A venv cannot be moved (its scripts hold absolute paths), so it is built in place and
      # only the stamp, written last, says it is complete; a half-built one is started over.
      rm -rf "$venv"
      "$python" -m venv "$venv" ||
        pf_die "could not create a venv with $python (on Debian: apt-get install python3-venv)"
      local shown=${req#"${repo:-}"/}
      pf_log "installing $shown into $venv"
      pf_step "pip install -r $shown" "$POKEFLOW_CACHE/logs/$name-pip.log" \
        "$venv/bin/pip" install --disable-pip-version-check --no-input -r "$req"
      "$check" "$venv"
      pf_stamp_write "$stamp" "$key"
      pf_log "ready: $venv"
    ) || exit 1
  fi
  printf '%s\n' "$venv"
}
