#!/usr/bin/env bash
# Configures (once) and builds the static pokeflow binary and the test executables.
# usage: scripts/build.sh [BUILD_DIR] [JOBS]
set -euo pipefail
PF_TAG=build
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/common.sh"
repo=$(cd "$here/.." && pwd)
build=${1:-build}
jobs=${2:-2}
cd "$repo"
prefix=$("$here/build-deps.sh" --print-prefix)
[[ -f $prefix/lib/librdkafka.a && -f $prefix/lib/libpq.a ]] ||
  pf_die "static deps missing under $prefix: run 'make setup' first"
# The front-end packages compiled into the binary (installed by make setup).
web_modules=$("$here/web-install.sh" --print-dir)
[[ -f $web_modules/swagger-ui-dist/swagger-ui-bundle.js ]] ||
  pf_die "front-end packages missing under $web_modules: run 'make setup' first"
if [[ ! -f $build/build.ninja ]] || ! grep -qF "POKEFLOW_DEPS_PREFIX:PATH=$prefix" "$build/CMakeCache.txt" 2>/dev/null ||
  ! grep -qF "POKEFLOW_WEB_MODULES:PATH=$web_modules" "$build/CMakeCache.txt" 2>/dev/null; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOKEFLOW_DEPS_PREFIX="$prefix" \
    -DPOKEFLOW_WEB_MODULES="$web_modules" >/dev/null
fi
cmake --build "$build" -j "$jobs"
if ldd "$build/pokeflow" >/dev/null 2>&1; then
  pf_die "$build/pokeflow is dynamically linked; the static build is broken"
fi
pf_log "built $build/pokeflow (static)"
