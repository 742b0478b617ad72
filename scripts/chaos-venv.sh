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

check() { "$1/bin/chaos" --version >/dev/null || pf_die "the venv's chaos CLI does not run"; }
venv=$(pf_venv chaos-venv "$repo/chaos/requirements.txt" check)
# A symlink so `chaos/.venv/bin/chaos` works from the README; replaced atomically.
ln -sfn "$venv" "$repo/chaos/.venv.tmp.$$" && mv -fT "$repo/chaos/.venv.tmp.$$" "$repo/chaos/.venv"
printf '%s\n' "$venv"
