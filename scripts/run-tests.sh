#!/usr/bin/env bash
# make test after setup: build, bring the local stack up, run every CTest test (unit,
# integration, helm, chaos), bring the stack down again if this run started it.
# usage: scripts/run-tests.sh [BUILD_DIR] [JOBS]
set -euo pipefail
PF_TAG=test
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/common.sh"
repo=$(cd "$here/.." && pwd)
build=${1:-build}
jobs=${2:-2}
cd "$repo"

"$here/build.sh" "$build" "$jobs"

started=0
if ! "$here/stack.sh" status >/dev/null 2>&1; then
  started=1
  pf_log "starting the local stack"
fi
cleanup() {
  local rc=$?
  if [[ $started == 1 ]]; then
    pf_log "stopping the local stack"
    "$here/stack.sh" down || true
  fi
  exit $rc
}
trap cleanup EXIT
"$here/stack.sh" up

# Integration tests share one stack, so they run one at a time; unit tests are cheap.
ctest --test-dir "$build" --output-on-failure --no-tests=error ${CTEST_ARGS:-}
