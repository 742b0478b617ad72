#!/usr/bin/env bash
# make demo: the stack, every pipeline role, the seed's 5-user load, and the proof that no
# order was lost. FULL=1 runs the original shape (5 users x 1000 orders, 2 s apart).
set -euo pipefail
PF_TAG=demo
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/common.sh"
repo=$(cd "$here/.." && pwd)
cd "$repo"
bin=${POKEFLOW_BIN:-build/pokeflow}
[[ -x $bin ]] || pf_die "no $bin: run make build"

if [[ ${FULL:-0} == 1 ]]; then orders=1000; delay=2s; else orders=${DEMO_ORDERS:-25}; delay=${DEMO_DELAY:-2s}; fi
run=$repo/.stack/demo
mkdir -p "$run"
ledger=$run/ledger.csv
rm -f "$ledger"

"$here/stack.sh" up
"$bin" migrate
"$bin" topics init   # the seed's profile: poke-orders starts with replication 1

pf_log "starting api, fraud, updater and reverser (logs: $run/roles.log)"
"$bin" --role=api,fraud,updater,reverser --reverser-timeout=2m --reverser-interval=10s >"$run/roles.log" 2>&1 &
roles=$!
trap 'kill -TERM $roles 2>/dev/null; wait $roles 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS http://127.0.0.1:9100/readyz >/dev/null 2>&1 && break
  kill -0 $roles 2>/dev/null || { tail -20 "$run/roles.log"; pf_die "the roles exited during start"; }
  sleep 0.2
done
curl -fsS http://127.0.0.1:9100/readyz >/dev/null || pf_die "roles not ready: $(curl -s http://127.0.0.1:9100/readyz)"

pf_log "loadgen: 5 users x $orders orders, $delay apart (user 5 is always rejected by the fraud rules)"
"$bin" --role=loadgen --admin-port=0 --users=5 --orders-per-user="$orders" --delay="$delay" \
  --ledger="$ledger" --summary-json="$run/loadgen.json"

pf_log "verify: every acknowledged order must reach the state the rules predict"
"$bin" verify --ledger="$ledger" --wait=60s --json="$run/verify.json"
echo
pf_log "all orders in the database by state (earlier runs and tests included):"
PGPASSWORD=poke_password psql -X -h 127.0.0.1 -p "${POKEFLOW_STACK_PG_PORT:-55432}" -U poke_user -d poke_orders \
  -c "SELECT state, count(*) FROM poke_orders GROUP BY state ORDER BY state"
pf_log "done; the stack keeps running (make down stops it)"
