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

check() {
  "$1/bin/schemathesis" --version >/dev/null || pf_die "the venv's schemathesis does not run"
  "$1/bin/python" -c 'import openapi_spec_validator' || pf_die "openapi-spec-validator does not import"
}
pf_venv test-venv "$repo/test/contract/requirements.txt" check
