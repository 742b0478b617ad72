#!/usr/bin/env bash
# Builds the contract test's Python venv (schemathesis, openapi-spec-validator) from
# test/contract/requirements.txt, once per (requirements, Python) pair, in the shared cache:
# $POKEFLOW_CACHE/test-venv-<hash>. Prints the venv's path on stdout. Fast (no pip call) when
# the venv is already complete. A venv of its own, apart from the chaos suite's, so the two
# pin sets never have to agree.
# Usage: scripts/test-venv.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
PF_TAG=test-venv
# shellcheck source=scripts/common.sh
source "$here/common.sh"

req="$repo/test/contract/requirements.txt"
[[ -f $req ]] || pf_die "missing $req"
python="${POKEFLOW_PYTHON:-python3}"
pf_need "$python" flock sha256sum

pyver=$("$python" -c 'import sys; print(sys.version.split()[0]); print(sys.executable)') ||
  pf_die "$python does not run"
key=$( { cat "$req"; printf '%s\n' "$pyver"; } | sha256sum | cut -c1-12)
venv="$POKEFLOW_CACHE/test-venv-$key"
stamp="$venv/.pokeflow-complete"

if pf_stamp_ok "$stamp" "$key"; then
  printf '%s\n' "$venv"
  exit 0
fi

mkdir -p "$POKEFLOW_CACHE"
exec 9>"$venv.lock"
flock 9
if ! pf_stamp_ok "$stamp" "$key"; then
  rm -rf "$venv"
  "$python" -m venv "$venv" ||
    pf_die "could not create a venv with $python (on Debian: apt-get install python3-venv)"
  pf_log "installing test/contract/requirements.txt into $venv"
  pf_step "pip install -r test/contract/requirements.txt" "$POKEFLOW_CACHE/logs/test-venv-pip.log" \
    "$venv/bin/pip" install --disable-pip-version-check --no-input -r "$req"
  "$venv/bin/schemathesis" --version >/dev/null || pf_die "the venv's schemathesis does not run"
  "$venv/bin/python" -c 'import openapi_spec_validator' || pf_die "openapi-spec-validator does not import"
  pf_stamp_write "$stamp" "$key"
  pf_log "ready: $venv"
fi
printf '%s\n' "$venv"
