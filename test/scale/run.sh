#!/usr/bin/env bash
# The scale test (chaos/pokeflow_chaos/scale.py) against the local stack with build/pokeflow:
# 2 api + 3 fraud + 3 updater + 2 reverser replicas under constant load, topics grown from 3 to
# 6 partitions, one replica of each role SIGKILLed and another added; verify clean, no order
# with more than one transition, every group recovered. Report in $SCALE_ARTIFACTS (default
# build/test-artifacts/scale).
#   test/scale/run.sh           quick (make test, about 2 min)
#   test/scale/run.sh long      two kill rounds at a higher rate (make chaos)
# Fails, saying why, when something it needs is missing (venv, stack, binary): never skips.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mode=${1:-quick}
case "$mode" in quick) flags=() ;; long) flags=(--long) ;; *) echo "usage: $0 [quick|long]" >&2; exit 2 ;; esac
cd "$repo"
venv=$(scripts/chaos-venv.sh)
export PYTHONPATH="$repo/chaos${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
out=${SCALE_ARTIFACTS:-$repo/build/test-artifacts/scale}/$mode
rm -rf "$out"
exec "$venv/bin/python" -m pokeflow_chaos.scale "${flags[@]}" --out "$out"
