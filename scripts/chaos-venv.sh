#!/usr/bin/env bash
# Builds the chaos suite's Python venv from chaos/requirements.txt, once per (requirements,
# Python) pair, in the shared cache: $POKEFLOW_CACHE/chaos-venv-<hash>. Every clone on this
# machine reuses it. Prints the venv's path on stdout and points chaos/.venv at it.
# Fast (no pip call) when the venv is already complete. Usage: scripts/chaos-venv.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
PF_TAG=chaos-venv
# shellcheck source=common.sh
source "$here/common.sh"

req="$repo/chaos/requirements.txt"
[[ -f $req ]] || pf_die "missing $req"
python="${POKEFLOW_PYTHON:-python3}"
pf_need "$python" flock sha256sum

# The Python version is part of the key: a venv is bound to the interpreter that made it.
pyver=$("$python" -c 'import sys; print(sys.version.split()[0]); print(sys.executable)') ||
  pf_die "$python does not run"
key=$( { cat "$req"; printf '%s\n' "$pyver"; } | sha256sum | cut -c1-12)
venv="$POKEFLOW_CACHE/chaos-venv-$key"
stamp="$venv/.pokeflow-complete"

link() {
  # A symlink so `chaos/.venv/bin/chaos` works from the README; replaced atomically.
  ln -sfn "$venv" "$repo/chaos/.venv.tmp.$$" && mv -fT "$repo/chaos/.venv.tmp.$$" "$repo/chaos/.venv"
  printf '%s\n' "$venv"
}

if pf_stamp_ok "$stamp" "$key"; then
  link
  exit 0
fi

mkdir -p "$POKEFLOW_CACHE"
exec 9>"$venv.lock"
flock 9
# Another process may have finished it while we waited for the lock.
if ! pf_stamp_ok "$stamp" "$key"; then
  # A venv cannot be moved (its scripts hold absolute paths), so it is built in place and
  # only the stamp, written last, says it is complete; a half-built one is started over.
  rm -rf "$venv"
  "$python" -m venv "$venv" ||
    pf_die "could not create a venv with $python (on Debian: apt-get install python3-venv)"
  pf_log "installing chaos/requirements.txt into $venv"
  pf_step "pip install -r chaos/requirements.txt" "$POKEFLOW_CACHE/logs/chaos-venv-pip.log" \
    "$venv/bin/pip" install --disable-pip-version-check --no-input -r "$req"
  "$venv/bin/chaos" --version >/dev/null || pf_die "the venv's chaos CLI does not run"
  pf_stamp_write "$stamp" "$key"
  pf_log "ready: $venv"
fi
link
