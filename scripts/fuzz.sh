#!/usr/bin/env bash
# Builds the libFuzzer targets (test/fuzz, clang + ASan + UBSan, own build dir) and runs them.
# usage: scripts/fuzz.sh [--smoke] [--build-only] [TARGET...]
#   default       each target for FUZZ_SECONDS (60) on a working corpus seeded from
#                 test/fuzz/corpus/<target>; one target at a time, nice'd
#   --smoke       (CTest) every committed seed, then a short run (FUZZ_SECONDS, default 5)
#   --build-only  configure and build only
# A crash, a sanitizer report or a timeout fails the run; the reproducer stays in
# $FUZZ_BUILD/artifacts/<target>/ and the command to replay it is printed.
# Env: FUZZ_BUILD (build-fuzz), FUZZ_SECONDS, FUZZ_CXX (clang++-14), FUZZ_JOBS (2).
set -euo pipefail
PF_TAG=fuzz
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/common.sh"
repo=$(cd "$here/.." && pwd)
cd "$repo"

mode=run
targets=()
for a in "$@"; do
  case $a in
    --smoke) mode=smoke ;;
    --build-only) mode=build ;;
    -*) pf_die "unknown option $a (usage: scripts/fuzz.sh [--smoke|--build-only] [TARGET...])" ;;
    *) targets+=("$a") ;;
  esac
done
all_targets=(http_request json_codec config_file kafka_protocol)
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || pf_die "unknown fuzz target '$t' (have: ${all_targets[*]})"
done

build=${FUZZ_BUILD:-build-fuzz}
cxx=${FUZZ_CXX:-clang++-14}
jobs=${FUZZ_JOBS:-2}
if [[ $mode == smoke ]]; then seconds=${FUZZ_SECONDS:-5}; else seconds=${FUZZ_SECONDS:-60}; fi
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || pf_die "FUZZ_SECONDS must be a positive whole number, got '$seconds'"
pf_need cmake ninja "$cxx"
clang_res=$("$cxx" -print-resource-dir)
compgen -G "$clang_res/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null ||
  pf_die "libFuzzer runtime missing under $clang_res (Debian package libclang-rt-14-dev; run 'make setup')"

# Configure and build; a lock keeps parallel CTest runs from building the same tree at once.
mkdir -p "$build"
exec 9>"$build/.lock"
flock 9
if [[ ! -f $build/build.ninja ]]; then
  cmake -S test/fuzz -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" >"$build/configure.log" 2>&1 ||
    { tail -n 20 "$build/configure.log" >&2; pf_die "configuring $build failed (log: $build/configure.log)"; }
fi
cmake --build "$build" -j "$jobs" >"$build/build.log" 2>&1 ||
  { grep -E 'error|FAILED' "$build/build.log" | head -n 30 >&2; pf_die "building the fuzz targets failed (log: $build/build.log)"; }
flock -u 9
[[ $mode == build ]] && { pf_log "built ${all_targets[*]} in $build"; exit 0; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:suppressions=$repo/test/fuzz/ubsan.supp}

# Largest input per target: a request up to the api's limits (8 KiB header + 16 KiB body) and
# some pipelining; Kafka messages and config files are small, but deep nesting needs room.
max_len() {
  case $1 in
    http_request) echo 131072 ;;  # room for the 70 KB trailer regression seed
    json_codec) echo 262144 ;;
    config_file) echo 16384 ;;
    kafka_protocol) echo 16384 ;;
  esac
}

summary=$build/summary.tsv
failed=()
for t in "${targets[@]}"; do
  seeds=test/fuzz/corpus/$t
  [[ -d $seeds ]] && compgen -G "$seeds/*" >/dev/null || pf_die "no seed corpus in $seeds"
  artifacts=$build/artifacts/$t
  mkdir -p "$artifacts"
  if [[ $mode == smoke ]]; then work=$(mktemp -d "$build/smoke-$t.XXXXXX"); else work=$build/corpus/$t; fi
  mkdir -p "$work"
  log=$build/$t.log
  pf_log "$t: ${seconds}s (seeds $seeds, working corpus $work, log $log)"
  rc=0
  nice -n 19 "$build/fuzz_$t" "$work" "$seeds" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || rc=$?
  execs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log" | tail -n 1)
  files=$(find "$work" -type f | wc -l)
  if [[ $rc -ne 0 ]]; then
    grep -E 'ERROR|runtime error|SUMMARY|property violated|uncaught|deadly|Test unit written' "$log" | head -n 12 >&2 || true
    reproducer=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    pf_log "$t: FAILED (exit $rc); reproducer ${reproducer:-none written}; replay: $build/fuzz_$t ${reproducer:-<input>}"
    failed+=("$t")
    printf '%s\t%s\t%s\t%s\t%s\tFAILED %s\n' "$(date -u +%FT%TZ)" "$t" "$seconds" "${execs:-?}" "$files" "${reproducer:-}" >>"$summary"
  else
    pf_log "$t: ok, ${execs:-?} executions in ${seconds}s, corpus $files files"
    printf '%s\t%s\t%s\t%s\t%s\tok\n' "$(date -u +%FT%TZ)" "$t" "$seconds" "${execs:-?}" "$files" >>"$summary"
  fi
  [[ $mode == smoke ]] && rm -rf "$work"
done
[[ ${#failed[@]} -eq 0 ]] || pf_die "fuzz targets failed: ${failed[*]} (logs and reproducers under $build)"
