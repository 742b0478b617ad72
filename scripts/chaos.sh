#!/usr/bin/env bash
# make chaos: every chaos experiment under load against the local stack and pokeflow roles,
# report in chaos/reports/<date>/ (chaos/run.py --help for --only, --quick, --rate, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/chaos-venv.sh)
exec "$venv/bin/python" chaos/run.py "$@"
