#!/usr/bin/env bash
# The chaos suite's tests.
#   test/chaos/run.sh static   `chaos validate` on every experiment (local, k8s and MSK
#                              variants) and the helpers' unit tests; needs no stack, no binary
#   test/chaos/run.sh quick    static, then experiments 1, 2 (seed and fixed), 4, 8 and 9 against
#                              the local stack with build/pokeflow (chaos/run.py --quick)
#   test/chaos/run.sh full     static, then every experiment (as `make chaos`)
# Fails, saying why, when something it needs is missing (venv, stack, binary): never skips.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mode=${1:-quick}
case "$mode" in static | quick | full) ;; *) echo "usage: $0 [static|quick|full]" >&2; exit 2 ;; esac
cd "$repo"

venv=$(scripts/chaos-venv.sh)
export PYTHONPATH="$repo/chaos${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1

fail=0 count=0
for f in chaos/experiments/*.yaml chaos/k8s/*.yaml chaos/msk/*.yaml; do
  count=$((count + 1))
  if out=$("$venv/bin/chaos" --no-log-file validate "$f" 2>&1); then
    echo "valid: $f"
  else
    echo "INVALID: $f"; printf '%s\n' "$out" | tail -5; fail=1
  fi
done
((count > 0)) || { echo "no experiment files found" >&2; exit 1; }
((fail == 0)) || { echo "chaos validate failed" >&2; exit 1; }

"$venv/bin/python" -m pytest -q -p no:cacheprovider test/chaos

case "$mode" in
  quick) exec "$venv/bin/python" chaos/run.py --quick ;;
  full) exec "$venv/bin/python" chaos/run.py ;;
esac
