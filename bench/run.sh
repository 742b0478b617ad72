#!/usr/bin/env bash
# make bench: measures pokeflow against the machine's own limits, in one run on the local stack.
#   1 limits      pgbench with the pipeline's per-order SQL (L_pg), wrk on the admin /healthz
#   2 api         POST /orders latency at fixed rates (loadgen open model); highest rate with p99 < 10 ms
#   3 end to end  highest rate whose backlog stays bounded and where verify passes; create->terminal
#   4 footprint   RSS of each role at that rate, start -> /readyz ok
#   5 ratios      and the targets, each "met" or "missed"
#   6 cost        at a fixed rate (300/s) and at the highest end-to-end rate: CPU time per order
#                 of every process (each role, PostgreSQL with its backends, each broker,
#                 Toxiproxy), PostgreSQL transactions and WAL syncs per order, Kafka requests
#                 per order by type (broker JMX, scripts/stack.sh kafka-requests)
# Writes OUT/<stamp>.json and OUT/<stamp>.md (OUT = bench/results). Never fails on speed.
#
# usage: bench/run.sh [--smoke] [--out DIR] [--keep]
#   --smoke  seconds-long run of every part (for make test); results go to a temp dir
#   --keep   keep the benchmark's database schema afterwards (for a look with psql)
# env: POKEFLOW_BIN (default build/pokeflow), BENCH_CLIENTS (pgbench clients, 16),
#      BENCH_BATCH_CLIENTS (pgbench clients for L_pg_batch, 4)
#
# Everything runs in a private PostgreSQL schema (PGOPTIONS search_path) and on private Kafka
# topics and groups, so the shared database and the demo topics are left alone.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
PF_TAG=bench # read by pf_log in common.sh
export PF_TAG
# shellcheck source=../scripts/common.sh
source "$repo/scripts/common.sh"

smoke=0 keep=0 out=""
while (($#)); do
  case $1 in
    --smoke) smoke=1 ;;
    --keep) keep=1 ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    --out=*) out=${1#--out=} ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) pf_die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

BIN=${POKEFLOW_BIN:-$repo/build/pokeflow}
[[ -x $BIN ]] || pf_die "$BIN not found: run make build (or set POKEFLOW_BIN)"
pf_need pgbench psql wrk jq curl
clients=${BENCH_CLIENTS:-16}
batch_clients=${BENCH_BATCH_CLIENTS:-4}  # 100 orders per statement: a few clients already fill 2 cores

if ((smoke)); then
  pgbench_s=2 wrk_s=2 api_step_s=1 api_rates=(100 200) e2e_step_s=2 e2e_rates=(20 40) wait_s=30 refine=0
  cost_rate=30 cost_s=3
  out=${out:-$(mktemp -d /tmp/pokeflow-bench-smoke.XXXXXX)}
else
  # Rates double until a step fails; then one bisection between the last pass and first fail.
  pgbench_s=15 wrk_s=10 api_step_s=10 api_rates=(250 500 1000 2000 4000 8000 16000 32000)
  e2e_step_s=20 e2e_rates=(100 200 400 800 1600 3200 6400 12800) wait_s=60 refine=1
  cost_rate=300 cost_s=20
  out=${out:-$repo/bench/results}
fi
mkdir -p "$out"
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
work=$(mktemp -d /tmp/pokeflow-bench.XXXXXX)

# ---------------------------------------------------------------- stack, schema, topics
started_stack=0
if ! "$repo/scripts/stack.sh" status >/dev/null 2>&1; then started_stack=1; fi
"$repo/scripts/stack.sh" up >&2

schema="pokeflow_bench_$$"
export PGHOST=127.0.0.1 PGPORT=55432 PGDATABASE=poke_orders PGUSER=poke_user PGPASSWORD=poke_password
export PGOPTIONS="-c search_path=$schema"
id="bench-$$"
topic_args=(--orders-topic="$id-orders" --states-topic="$id-state" --dlq-topic="$id-dlq")
declare -A pids=() admin=()
api_port=$((20000 + $$ % 20000))

q() { psql -X -q -tA -v ON_ERROR_STOP=1 -c "$1"; }

cleanup() {
  local rc=$? r
  for r in "${!pids[@]}"; do kill -TERM "${pids[$r]}" 2>/dev/null || true; done
  for r in "${!pids[@]}"; do
    for _ in $(seq 100); do kill -0 "${pids[$r]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${pids[$r]}" 2>/dev/null || true
  done
  "$BIN" topics delete "${topic_args[@]}" >/dev/null 2>&1 || true
  if ((keep)); then pf_log "kept schema $schema (PGOPTIONS='-c search_path=$schema')"
  else PGOPTIONS='' psql -X -q -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true; fi
  if ((started_stack)); then "$repo/scripts/stack.sh" down >&2 || true; fi
  if ((rc == 0)); then rm -rf "$work"; else pf_log "logs kept in $work"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PGOPTIONS='' q "CREATE SCHEMA $schema" >/dev/null
"$BIN" migrate >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; pf_die "migrate failed"; }
"$BIN" topics init --profile=safe "${topic_args[@]}" >"$work/topics.log" 2>&1 ||
  { cat "$work/topics.log" >&2; pf_die "topics init failed"; }

now_ms() { date +%s%3N; }
# Ids keep growing: a late Kafka message from an earlier step must never meet a new order.
reset_tables() { q "TRUNCATE poke_orders, poke_outbox, poke_order_transitions"; }
backlog() { q "SELECT (SELECT count(*) FROM poke_orders WHERE state = 'pending') + (SELECT count(*) FROM poke_outbox)"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# ---------------------------------------------------------------- 1. limits: pgbench
pf_log "1/5 pgbench: the pipeline's SQL per order, $clients clients, ${pgbench_s}s"
pgbench -n -M extended -c "$clients" -j 2 -T "$pgbench_s" -f "$here/pgbench/order.sql" >"$work/pgbench.log" 2>&1 ||
  { cat "$work/pgbench.log" >&2; pf_die "pgbench failed"; }
l_pg=$(awk '/^tps = / {print $3}' "$work/pgbench.log")
pgbench_lat=$(awk '/^latency average = / {print $4}' "$work/pgbench.log")
[[ -n $l_pg ]] || { cat "$work/pgbench.log" >&2; pf_die "no tps in pgbench output"; }
pf_log "L_pg = $l_pg orders/s"
reset_tables
pf_log "1/5 pgbench: the same SQL with 100 orders per statement, $batch_clients clients, $((pgbench_s + 3))s"
pgbench -n -M extended -c "$batch_clients" -j 2 -T "$((pgbench_s + 3))" -f "$here/pgbench/order-batch.sql" >"$work/pgbench-batch.log" 2>&1 ||
  { cat "$work/pgbench-batch.log" >&2; pf_die "pgbench (batches of 100) failed"; }
l_pg_batch=$(awk '/^tps = / {print $3 * 100}' "$work/pgbench-batch.log")
[[ -n $l_pg_batch ]] || { cat "$work/pgbench-batch.log" >&2; pf_die "no tps in pgbench output (batches of 100)"; }
pf_log "L_pg_batch = $l_pg_batch orders/s"
reset_tables

# ---------------------------------------------------------------- roles (and 4. time to ready)
common=(--kafka-brokers="$("$repo/scripts/stack.sh" bootstrap)" "${topic_args[@]}"
  --fraud-group="$id-fraud" --updater-group="$id-updater" --api-port="$api_port"
  --api-url="http://127.0.0.1:$api_port" --fraud-rules="$repo/config/fraud-rules.ini" --log-level=warn)
declare -A ready_ms=()
start_role() { # ROLE ADMIN_PORT
  local role=$1 port=$2 t0 t
  admin[$role]=$port
  t0=$(now_ms)
  "$BIN" --role="$role" --admin-port="$port" "${common[@]}" >"$work/$role.log" 2>&1 &
  pids[$role]=$!
  while :; do
    if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/readyz" 2>/dev/null; then break; fi
    kill -0 "${pids[$role]}" 2>/dev/null || { tail -20 "$work/$role.log" >&2; pf_die "$role exited at start"; }
    t=$(now_ms)
    ((t - t0 < 60000)) || { tail -20 "$work/$role.log" >&2; pf_die "$role not ready after 60 s"; }
    sleep 0.01
  done
  ready_ms[$role]=$(($(now_ms) - t0))
  pf_log "$role ready in ${ready_ms[$role]} ms (pid ${pids[$role]})"
}
start_role api $((api_port + 1))
start_role fraud $((api_port + 2))
start_role updater $((api_port + 3))
start_role reverser $((api_port + 4))

# ---------------------------------------------------------------- 1. limits: HTTP ceiling
pf_log "1/5 wrk: GET /healthz on the api process's admin listener, ${wrk_s}s"
wrk -t2 -c64 -d"${wrk_s}s" --latency "http://127.0.0.1:${admin[api]}/healthz" >"$work/wrk.log" 2>&1 ||
  { cat "$work/wrk.log" >&2; pf_die "wrk failed"; }
http_ceiling=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.log")
pf_log "HTTP ceiling = $http_ceiling requests/s"

loadgen() { # RATE SECONDS SUMMARY [LEDGER]
  local args=(--role=loadgen --admin-port=0 --api-url="http://127.0.0.1:$api_port" --rate="$1" --duration="$2s"
    --connections=64 --summary-json="$3" --log-level=warn
    --pokemon-file="$repo/config/pokemon.txt" --countries-file="$repo/config/countries.txt")
  [[ -n ${4:-} ]] && args+=(--ledger="$4")
  "$BIN" "${args[@]}" >>"$work/loadgen.log" 2>&1 || true
  [[ -s $3 ]] || { tail -20 "$work/loadgen.log" >&2; pf_die "loadgen wrote no summary"; }
}
drain() { # wait (bounded) until the pipeline has finished what earlier steps sent
  local end=$((SECONDS + wait_s))
  while (($(backlog) > 0 && SECONDS < end)); do sleep 1; done
}

# ---------------------------------------------------------------- 2. api latency ladder
api_json="[]"
api_ok_rate=0 api_max=0
# A step "holds" the rate when >= 95% of it was acknowledged without errors; the ladder climbs
# while steps hold (to find the max rate) and remembers the highest one that also had p99 < 10 ms.
api_step() { # RATE -> 0 if the rate was held
  local rate=$1 s="$work/api-$1.json" p99 ach err
  loadgen "$rate" "$api_step_s" "$s"
  api_json=$(jq --argjson r "$rate" --slurpfile s "$s" '. + [{rate: $r} + $s[0]]' <<<"$api_json")
  p99=$(jq .latency_ms.p99 "$s") ach=$(jq .achieved_rate "$s") err=$(jq .error_count "$s")
  pf_log "api $rate/s: achieved $ach/s p99 $p99 ms errors $err"
  api_max=$(jq -n --argjson a "$api_max" --argjson b "$ach" '[$a, $b] | max')
  drain
  jq -e -n --argjson a "$ach" --argjson r "$rate" --argjson e "$err" '$a >= 0.95 * $r and $e == 0' >/dev/null || return 1
  if jq -e -n --argjson p "$p99" '$p < 10' >/dev/null && ((rate > api_ok_rate)); then api_ok_rate=$rate; fi
}
pf_log "2/5 api: create-order latency at fixed rates, ${api_step_s}s each"
fail_rate=0
held_rate=0
for rate in "${api_rates[@]}"; do
  if api_step "$rate"; then held_rate=$rate; else fail_rate=$rate; break; fi
done
if ((refine && fail_rate > 0 && held_rate > 0)); then api_step $(((held_rate + fail_rate) / 2)) || true; fi
half=$(jq -n --argjson m "$api_max" '($m / 2) | floor')
p99_half=null
if ((half > 0)); then
  loadgen "$half" "$api_step_s" "$work/api-half.json"
  p99_half=$(jq .latency_ms.p99 "$work/api-half.json")
  pf_log "api at half the max ($half/s): p99 $p99_half ms"
  drain
fi

# ---------------------------------------------------------------- 3. end to end ladder (+ 4. RSS)
e2e_json="[]"
e2e_ok_rate=0
declare -A best_rss=()
e2e_step() { # RATE -> 0 if verify passed and the backlog stayed bounded
  local rate=$1 s="$work/e2e-$1.json" ledger="$work/e2e-$1.csv" v="$work/verify-$1.json" lg_pid bl=0 peak=0 r
  local -A rss=()
  reset_tables
  loadgen "$rate" "$e2e_step_s" "$s" "$ledger" &
  lg_pid=$!
  while kill -0 "$lg_pid" 2>/dev/null; do
    bl=$(backlog)
    ((bl > peak)) && peak=$bl
    for r in "${!pids[@]}"; do
      local k; k=$(rss_kib "${pids[$r]}")
      ((k > ${rss[$r]:-0})) && rss[$r]=$k
    done
    sleep 1
  done
  wait "$lg_pid"
  bl=$(backlog)  # at the end of the load: what the pipeline has not caught up with
  "$BIN" verify --ledger "$ledger" --fraud-rules "$repo/config/fraud-rules.ini" --deadline 60s \
    --wait "${wait_s}s" --json "$v" >/dev/null 2>>"$work/verify.log" || true
  [[ -s $v ]] || { tail -20 "$work/verify.log" >&2; pf_die "verify wrote no result"; }
  local rss_json="{}"
  for r in "${!rss[@]}"; do rss_json=$(jq --arg r "$r" --argjson k "${rss[$r]}" '. + {($r): ($k / 1024 | . * 10 | round / 10)}' <<<"$rss_json"); done
  e2e_json=$(jq --argjson r "$rate" --argjson bl "$bl" --argjson pk "$peak" --slurpfile s "$s" --slurpfile v "$v" \
    --argjson rss "$rss_json" \
    '. + [{rate: $r, backlog_at_end: $bl, backlog_peak: $pk, loadgen: $s[0], verify: $v[0], rss_mib: $rss}]' <<<"$e2e_json")
  pf_log "e2e $rate/s: achieved $(jq .achieved_rate "$s")/s, backlog at end $bl, verify ok=$(jq .ok "$v")" \
    "violations=$(jq .violations "$v") finalize p99 $(jq .finalize_ms.p99 "$v") ms"
  # Bounded: at the end of the load at most ~2 s worth of orders are still on their way.
  if jq -e '.ok' "$v" >/dev/null && ((bl <= 2 * rate)) &&
    jq -e -n --argjson a "$(jq .achieved_rate "$s")" --argjson r "$rate" '$a >= 0.95 * $r' >/dev/null; then
    for r in "${!rss[@]}"; do best_rss[$r]=${rss[$r]}; done
    return 0
  fi
  return 1
}
pf_log "3/5 end to end: ${e2e_step_s}s per rate, then verify --wait ${wait_s}s"
fail_rate=0
for rate in "${e2e_rates[@]}"; do
  if e2e_step "$rate"; then e2e_ok_rate=$rate; else fail_rate=$rate; break; fi
done
if ((refine && fail_rate > 0 && e2e_ok_rate > 0)); then
  mid=$(((e2e_ok_rate + fail_rate) / 2))
  if e2e_step "$mid"; then e2e_ok_rate=$mid; fi
fi

# ---------------------------------------------------------------- 6. cost per order
clk_tck=$(getconf CLK_TCK)
cpu_ticks() { # PID [WITH_CHILDREN] -> utime+stime (+ reaped children's) in clock ticks
  # Fields after the command name's last ')': state is 1, so utime..cstime are 12..15.
  awk -v c="${2:-0}" '{ sub(/^.*\) /, ""); t = $12 + $13; if (c) t += $14 + $15; print t }' \
    "/proc/$1/stat" 2>/dev/null || echo 0
}
cpu_snapshot() { # -> "name ticks" lines: the roles, PostgreSQL (postmaster, its live backends
  # and every backend that has exited since: the postmaster reaps them), brokers, Toxiproxy
  local r name pid t c
  for r in "${!pids[@]}"; do echo "$r $(cpu_ticks "${pids[$r]}")"; done
  while read -r name pid; do
    if [[ $name == postgresql ]]; then
      t=$(cpu_ticks "$pid" 1)
      for c in $(pgrep -P "$pid"); do t=$((t + $(cpu_ticks "$c"))); done
      echo "postgresql $t"
    else
      echo "$name $(cpu_ticks "$pid")"
    fi
  done < <("$repo/scripts/stack.sh" pids)
}
pg_counters() { # -> "xacts wal_syncs wal_records" (database-wide; psql's own few included)
  q "SELECT (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()),
            (SELECT wal_sync FROM pg_stat_wal), (SELECT wal_records FROM pg_stat_wal)" | tr '|' ' '
}
kafka_requests() { # -> JSON {type: count summed over brokers}
  "$repo/scripts/stack.sh" kafka-requests | jq -R -s 'split("\n") | map(select(length > 0) | split(" "))
    | reduce .[] as $l ({}; .[$l[1]] += ($l[2] | tonumber))'
}
to_json() { jq -R -s 'split("\n") | map(select(length > 0) | split(" ")) | map({(.[0]): (.[1] | tonumber)}) | add // {}'; }

cost_json="[]"
cost_step() { # RATE: one run at RATE for cost_s, drained; deltas per acknowledged order
  local rate=$1 s="$work/cost-$1.json" ledger="$work/cost-$1.csv" v="$work/cost-verify-$1.json"
  local cpu0 cpu1 pg0 pg1 k0 k1 t0 t1 acked
  reset_tables
  sleep 1
  # JMX reads start a JVM each: outside the CPU window (their few requests count, at most 2).
  k0=$(kafka_requests)
  cpu0=$(cpu_snapshot | to_json) pg0=$(pg_counters) t0=$(now_ms)
  loadgen "$rate" "$cost_s" "$s" "$ledger"
  drain
  sleep 1  # PostgreSQL publishes a backend's counters when its transaction ends, at most 1 s late
  cpu1=$(cpu_snapshot | to_json) pg1=$(pg_counters) t1=$(now_ms)
  k1=$(kafka_requests)
  acked=$(jq .acknowledged "$s")
  "$BIN" verify --ledger "$ledger" --fraud-rules "$repo/config/fraud-rules.ini" --deadline 60s \
    --wait "${wait_s}s" --json "$v" >/dev/null 2>>"$work/verify.log" || true
  cost_json=$(jq --argjson rate "$rate" --argjson acked "${acked:-0}" --argjson tck "$clk_tck" \
    --argjson secs "$(((t1 - t0) / 1000))" --argjson c0 "$cpu0" --argjson c1 "$cpu1" \
    --arg pg0 "$pg0" --arg pg1 "$pg1" --argjson k0 "$k0" --argjson k1 "$k1" --slurpfile v "$v" '
    def per(x): if $acked > 0 then (x / $acked * 1000 | round / 1000) else null end;
    ($pg0 | split(" ") | map(tonumber)) as $p0 | ($pg1 | split(" ") | map(tonumber)) as $p1 |
    ($c1 | with_entries(.value = ((.value - ($c0[.key] // 0)) * 1000 / $tck))) as $ms |
    ($k1 | with_entries(.value = (.value - ($k0[.key] // 0))) | with_entries(select(.value > 0))) as $kr |
    ([$ms | to_entries[] | select(.key | IN("api", "fraud", "updater", "reverser")) | .value] | add // 0) as $roles |
    ([$ms | to_entries[] | .value] | add // 0) as $all |
    . + [{rate: $rate, orders: $acked, seconds: $secs,
          cpu_ms_per_order: ($ms | with_entries(.value = per(.value))),
          roles_cpu_ms_per_order: per($roles), total_cpu_ms_per_order: per($all),
          pg_xacts_per_order: per($p1[0] - $p0[0]), pg_wal_syncs_per_order: per($p1[1] - $p0[1]),
          pg_wal_records_per_order: per($p1[2] - $p0[2]),
          kafka_requests_per_order: ($kr | with_entries(.value = per(.value))),
          # Fetch counts FetchConsumer and FetchFollower too: only Fetch goes into the total.
          kafka_requests_total_per_order: per([$kr | to_entries[] | select(.key | IN("FetchConsumer", "FetchFollower") | not) | .value] | add // 0),
          verify_ok: $v[0].ok}]' <<<"$cost_json")
  pf_log "cost at $rate/s: $(jq -r '.[-1] | "\(.orders) orders, total CPU \(.total_cpu_ms_per_order) ms/order (roles \(.roles_cpu_ms_per_order)), PG xacts \(.pg_xacts_per_order)/order, Kafka requests \(.kafka_requests_total_per_order)/order"' <<<"$cost_json")"
}
pf_log "6/6 cost: CPU, transactions and requests per order at $cost_rate/s for ${cost_s}s, drained"
cost_step "$cost_rate"
if ((!smoke && e2e_ok_rate > 0 && e2e_ok_rate != cost_rate)); then
  pf_log "6/6 cost: the same at the highest end-to-end rate, $e2e_ok_rate/s"
  cost_step "$e2e_ok_rate"
fi

# ---------------------------------------------------------------- 4 + 5. footprint, ratios, targets
rss_json="{}" ready_json="{}"
for r in "${!pids[@]}"; do
  [[ -n ${best_rss[$r]:-} ]] && rss_json=$(jq --arg r "$r" --argjson k "${best_rss[$r]}" '. + {($r): ($k / 1024 | . * 10 | round / 10)}' <<<"$rss_json")
  ready_json=$(jq --arg r "$r" --argjson ms "${ready_ms[$r]}" '. + {($r): $ms}' <<<"$ready_json")
done

jq -n --arg stamp "$stamp" --argjson smoke "$smoke" --arg host "$(uname -n)" --argjson cpus "$(nproc)" \
  --arg mem "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)" \
  --arg version "$("$BIN" --version 2>/dev/null | head -1)" --arg commit "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --argjson l_pg "$l_pg" --argjson l_pg_batch "$l_pg_batch" --argjson cost "$cost_json" --argjson pgbench_lat "${pgbench_lat:-null}" --argjson clients "$clients" --argjson batch_clients "$batch_clients" \
  --argjson http "$http_ceiling" --argjson api "$api_json" --argjson api_ok "$api_ok_rate" --argjson api_max "$api_max" \
  --argjson half "$half" --argjson p99_half "$p99_half" --argjson e2e "$e2e_json" --argjson e2e_ok "$e2e_ok_rate" \
  --argjson rss "$rss_json" --argjson ready "$ready_json" \
  --argjson durations "{\"pgbench_s\":$pgbench_s,\"wrk_s\":$wrk_s,\"api_step_s\":$api_step_s,\"e2e_step_s\":$e2e_step_s,\"verify_wait_s\":$wait_s}" '
  def status(ok): if ok == null then "n/a" elif ok then "met" else "missed" end;
  ($e2e | map(select(.rate == $e2e_ok)) | .[0]) as $best |
  {
    stamp: $stamp, smoke: ($smoke == 1), commit: $commit, version: $version,
    machine: {host: $host, cpus: $cpus, memory: $mem}, durations: $durations,
    limits: {l_pg_orders_per_s: $l_pg, l_pg_batch_orders_per_s: $l_pg_batch, pgbench_clients: $clients, pgbench_batch_clients: $batch_clients, pgbench_latency_ms: $pgbench_lat,
             http_ceiling_rps: $http},
    api: {steps: $api, max_rate_p99_under_10ms: $api_ok, max_achieved_rate: $api_max,
          half_max_rate: $half, p99_at_half_max_ms: $p99_half},
    end_to_end: {steps: $e2e, max_rate: $e2e_ok,
                 finalize_ms: ($best.verify.finalize_ms // null), verify: ($best.verify // null)},
    footprint: {rss_mib_at_max_e2e: $rss, ready_ms: $ready},
    cost: $cost,
    ratios: {e2e_over_l_pg: (if $l_pg > 0 then ($e2e_ok / $l_pg * 1000 | round / 1000) else null end),
             e2e_over_l_pg_batch: (if $l_pg_batch > 0 then ($e2e_ok / $l_pg_batch * 1000 | round / 1000) else null end),
             api_max_over_http_ceiling: (if $http > 0 then ($api_max / $http * 1000 | round / 1000) else null end)},
    targets: {
      e2e_at_least_70pct_of_l_pg: status(if $l_pg > 0 then $e2e_ok >= 0.7 * $l_pg else null end),
      e2e_at_least_l_pg: status(if $l_pg > 0 then $e2e_ok >= $l_pg else null end),
      post_p99_le_10ms_at_half_max: status(if $p99_half == null then null else $p99_half <= 10 end),
      post_p99_le_5ms_at_250: status($api | map(select(.rate == 250)) | if length == 0 then null else .[0].latency_ms.p99 <= 5 end),
      finalize_p99_le_250ms_at_half_e2e: status($e2e | map(select(.rate == (($e2e_ok / 2) | floor) and .verify.finalize_ms.p99 != null))
        | if length == 0 then null else .[0].verify.finalize_ms.p99 <= 250 end),
      total_cpu_le_2ms_per_order_at_300: status($cost | map(select(.rate == 300)) | if length == 0 then null else .[0].total_cpu_ms_per_order <= 2 end),
      roles_cpu_le_0_3ms_per_order_at_300: status($cost | map(select(.rate == 300)) | if length == 0 then null else .[0].roles_cpu_ms_per_order <= 0.3 end),
      rss_api_le_64mib: status(if $rss.api == null then null else $rss.api <= 64 end),
      rss_workers_le_32mib: status(if ($rss | length) < 4 then null else ([$rss.fraud, $rss.updater, $rss.reverser] | max) <= 32 end),
      ready_le_300ms: status(([$ready[]] | max) <= 300)
    }
  }' >"$out/$stamp.json"

# ---------------------------------------------------------------- markdown
jq -r '
  def n: if . == null then "–" else tostring end;
  "## pokeflow benchmark \(.stamp)\(if .smoke then " (smoke run: too short to mean anything)" else "" end)",
  "",
  "Machine: \(.machine.cpus) CPUs, \(.machine.memory), commit \(.commit). Everything (PostgreSQL, 3 Kafka brokers, the four roles, loadgen, pgbench, wrk) shares this machine.",
  "",
  "| part | measure | value |",
  "|---|---|---|",
  "| 1 limits | L_pg: pgbench, the pipeline SQL per order (\(.limits.pgbench_clients) clients) | \(.limits.l_pg_orders_per_s | round) orders/s |",
  "| 1 limits | L_pg_batch: the same SQL, 100 orders per statement (\(.limits.pgbench_batch_clients) clients) | \(.limits.l_pg_batch_orders_per_s | round) orders/s |",
  "| 1 limits | HTTP ceiling: wrk on /healthz | \(.limits.http_ceiling_rps | round) requests/s |",
  "| 2 api | highest rate with POST p99 < 10 ms | \(.api.max_rate_p99_under_10ms) orders/s |",
  "| 2 api | max achieved rate | \(.api.max_achieved_rate | round) orders/s |",
  "| 2 api | POST p99 at half that (\(.api.half_max_rate)/s) | \(.api.p99_at_half_max_ms | n) ms |",
  "| 3 end to end | highest rate, backlog bounded, verify ok | \(.end_to_end.max_rate) orders/s |",
  "| 3 end to end | create → terminal p50 / p99 / max | \(.end_to_end.finalize_ms.p50 | n) / \(.end_to_end.finalize_ms.p99 | n) / \(.end_to_end.finalize_ms.max | n) ms |",
  "| 3 end to end | verify at that rate | \(if .end_to_end.verify == null then "–" else "\(.end_to_end.verify.acknowledged) acknowledged, \(.end_to_end.verify.violations) violations" end) |",
  (.footprint.rss_mib_at_max_e2e | to_entries[] | "| 4 footprint | RSS \(.key) at that rate | \(.value) MiB |"),
  (.footprint.ready_ms | to_entries[] | "| 4 footprint | \(.key): start → /readyz ok | \(.value) ms |"),
  "| 5 ratios | end to end / L_pg | \(.ratios.e2e_over_l_pg | n) |",
  "| 5 ratios | end to end / L_pg_batch | \(.ratios.e2e_over_l_pg_batch | n) |",
  "| 5 ratios | api max / HTTP ceiling | \(.ratios.api_max_over_http_ceiling | n) |",
  "",
  "| target | status |",
  "|---|---|",
  "| end to end ≥ 70% of L_pg | \(.targets.e2e_at_least_70pct_of_l_pg) |",
  "| end to end ≥ L_pg | \(.targets.e2e_at_least_l_pg) |",
  "| POST p99 ≤ 10 ms at half the max rate | \(.targets.post_p99_le_10ms_at_half_max) |",
  "| POST p99 ≤ 5 ms at 250/s | \(.targets.post_p99_le_5ms_at_250) |",
  "| create → terminal p99 ≤ 250 ms at half the max end-to-end rate | \(.targets.finalize_p99_le_250ms_at_half_e2e) |",
  "| total CPU ≤ 2 ms per order at 300/s | \(.targets.total_cpu_le_2ms_per_order_at_300) |",
  "| roles CPU ≤ 0.3 ms per order at 300/s | \(.targets.roles_cpu_le_0_3ms_per_order_at_300) |",
  "| RSS api ≤ 64 MiB | \(.targets.rss_api_le_64mib) |",
  "| RSS each worker ≤ 32 MiB | \(.targets.rss_workers_le_32mib) |",
  "| ready ≤ 300 ms | \(.targets.ready_le_300ms) |",
  "",
  "API steps (loadgen open model, latency from the intended send time):",
  "",
  "| target /s | achieved /s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors |",
  "|---|---|---|---|---|---|---|---|",
  (.api.steps[] | "| \(.rate) | \(.achieved_rate) | \(.latency_ms.p50) | \(.latency_ms.p90) | \(.latency_ms.p99) | \(.latency_ms.p99_9) | \(.latency_ms.max) | \(.error_count) |"),
  "",
  "End-to-end steps:",
  "",
  "| rate /s | achieved /s | backlog at end | verify | violations | create→terminal p99 ms |",
  "|---|---|---|---|---|---|",
  (.end_to_end.steps[] | "| \(.rate) | \(.loadgen.achieved_rate) | \(.backlog_at_end) | \(if .verify.ok then "ok" else "FAILED" end) | \(.verify.violations) | \(.verify.finalize_ms.p99) |"),
  "",
  "Cost per order (CPU ms of each process from /proc over the run and its drain; PostgreSQL includes its backends; Kafka requests from the brokers'"'"' JMX, summed over the 3 brokers):",
  "",
  (.cost[] | "At \(.rate)/s, \(.orders) orders over \(.seconds) s (verify \(if .verify_ok then "ok" else "FAILED" end)):", "",
    "| process | CPU ms per order |", "|---|---|",
    (.cpu_ms_per_order | to_entries | sort_by(.key)[] | "| \(.key) | \(.value | n) |"),
    "| **roles (api, fraud, updater, reverser)** | **\(.roles_cpu_ms_per_order | n)** |",
    "| **total** | **\(.total_cpu_ms_per_order | n)** |", "",
    "PostgreSQL per order: \(.pg_xacts_per_order | n) transactions, \(.pg_wal_syncs_per_order | n) WAL syncs, \(.pg_wal_records_per_order | n) WAL records. Kafka requests per order: \(.kafka_requests_total_per_order | n) (\(.kafka_requests_per_order | to_entries | sort_by(-.value) | map("\(.key) \(.value)") | join(", ")))", "")
' "$out/$stamp.json" >"$out/$stamp.md"

pf_log "results: $out/$stamp.json and $out/$stamp.md"
cat "$out/$stamp.md"
