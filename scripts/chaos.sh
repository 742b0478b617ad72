#!/usr/bin/env bash
# make chaos: every chaos experiment under load against the local stack and pokeflow roles,
# report in chaos/reports/<date>/ (chaos/run.py --help for --only, --quick, --rate, ...), then,
# on a full run (no arguments), the long scale test (chaos/pokeflow_chaos/scale.py --long:
# replicas of every role killed and added under load) with its report in <date>/scale/.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/chaos-venv.sh)
[[ $# -gt 0 ]] && exec "$venv/bin/python" chaos/run.py "$@"
rc=0
"$venv/bin/python" chaos/run.py || rc=$?
[[ $rc -eq 2 ]] && exit 2  # a prerequisite is missing: the scale test would miss it too
report=$(readlink -f chaos/reports/latest)
PYTHONPATH="$PWD/chaos" "$venv/bin/python" -m pokeflow_chaos.scale --long --out "$report/scale" || rc=1
exit "$rc"
