#!/usr/bin/env bash
# make sanitize: builds pokeflow, unit and integration with ASan + UBSan (gcc, own build dir,
# linked dynamically against the same static deps: see POKEFLOW_SANITIZE in CMakeLists.txt),
# brings the local stack up, runs the unit and integration tests against it, and fails on a
# failed test or on any sanitizer report, including one from a pokeflow process that the
# integration tests started and whose exit status nobody checked (reports go to log files).
# usage: scripts/sanitize.sh [BUILD_DIR] [JOBS]; CTEST_ARGS adds ctest arguments (e.g. -R ...).
set -euo pipefail
PF_TAG=sanitize
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/common.sh"
repo=$(cd "$here/.." && pwd)
build=${1:-build-asan}
jobs=${2:-2}
cd "$repo"

prefix=$("$here/build-deps.sh" --print-prefix)
[[ -f $prefix/lib/librdkafka.a && -f $prefix/lib/libpq.a ]] ||
  pf_die "static deps missing under $prefix: run 'make setup' first"
web_modules=$("$here/web-install.sh" --print-dir)
[[ -f $web_modules/swagger-ui-dist/swagger-ui-bundle.js ]] ||
  pf_die "front-end packages missing under $web_modules: run 'make setup' first"
if [[ ! -f $build/build.ninja ]] || ! grep -qF "POKEFLOW_SANITIZE:BOOL=ON" "$build/CMakeCache.txt" 2>/dev/null; then
  pf_step "configure $build" "$build/configure.log" \
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g -DNDEBUG" \
    -DPOKEFLOW_DEPS_PREFIX="$prefix" -DPOKEFLOW_WEB_MODULES="$web_modules" -DPOKEFLOW_SANITIZE=ON
fi
# -O1: the usual optimisation for ASan (readable reports, far cheaper to compile than -O2).
pf_log "building $build (ASan + UBSan)"
cmake --build "$build" -j "$jobs" --target unit
cmake --build "$build" -j "$jobs" --target pokeflow integration

logs=$repo/$build/sanitizer-logs
rm -rf "$logs"
mkdir -p "$logs"
# halt_on_error: the first report ends the process, so a test sees it fail. Leak checking is on:
# every process here exits through main (a hard stop too), so a leak is a real one.
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=0:strict_string_checks=1:log_path=$logs/asan:${POKEFLOW_ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"
export LSAN_OPTIONS="suppressions=$repo/test/sanitize/lsan.supp"

started=0
if ! "$here/stack.sh" status >/dev/null 2>&1; then started=1; fi
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

rc=0
# Every test labelled unit or integration (the Catch suites and the script tests that start
# pokeflow processes: helm local runs, bench smoke, toxiproxy, browser, contract) except the image
# test, whose static rootfs cannot run this dynamically linked binary.
ctest --test-dir "$build" --output-on-failure --no-tests=error -L '^(unit|integration)$' -E '^image: ' \
  ${CTEST_ARGS:-} || rc=$?
if compgen -G "$logs/*" >/dev/null; then
  pf_log "sanitizer reports (full text in $logs):"
  grep -h -E 'ERROR: |runtime error|SUMMARY' "$logs"/* | sort | uniq -c | head -n 40 >&2
  rc=1
fi
[[ $rc -eq 0 ]] || pf_die "sanitized tests failed or reported (see above; reports in $logs)"
pf_log "unit and integration tests clean under ASan + UBSan"
