#!/usr/bin/env bash
# The local stack's network faults (scripts/stack.sh net ...) against the running stack:
# every fault does what docs/stack.md says, `net heal` removes it, and a broker cut off from
# its clients stays in the cluster (registered, unfenced, in every ISR): a client-side cut is
# not a cluster partition. Needs the stack up (make test starts it); fails saying why.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
stack="$repo/scripts/stack.sh"
topic="net-test-$$"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

"$stack" status >/dev/null || { "$stack" status; echo "the local stack is not up (scripts/stack.sh up)" >&2; exit 1; }
cleanup() {
  "$stack" net heal >/dev/null 2>&1 || true
  "$stack" kafka-tool topics --delete --topic "$topic" >/dev/null 2>&1 || true
}
trap cleanup EXIT

pg() { # SQL: through the pg proxy, as clients connect
  PGPASSWORD=poke_password PGCONNECT_TIMEOUT=3 psql -X -q -h 127.0.0.1 -p 55432 -U poke_user -d poke_orders -tAc "$1" </dev/null
}
ms_now() { date +%s%3N; }

# --- the proxies, and no fault to begin with
out=$("$stack" net status)
for p in "pg       127.0.0.1:55432 -> 127.0.0.1:55433" "kafka-2  127.0.0.1:19093 -> 127.0.0.1:19293"; do
  grep -qF "$p" <<<"$out" && ok "proxy: $p" || fail "net status lacks '$p': $out"
done
grep -qx "no faults" <<<"$out" && ok "no faults at start" || fail "faults at start: $out"

# --- latency: a psql session (several round trips) takes at least the added delay
"$stack" net latency pg 300ms
grep -q "pg: latency downstream latency=300" <<<"$("$stack" net status)" && ok "latency listed" || fail "latency not listed"
t0=$(ms_now); v=$(pg "select 41 + 1"); t1=$(ms_now)
[[ $v == 42 ]] && ((t1 - t0 >= 300)) && ok "psql answered 42 in $((t1 - t0)) ms under +300 ms" ||
  fail "psql under latency: '$v' in $((t1 - t0)) ms (want 42 in >= 300 ms)"
"$stack" net heal pg
grep -qx "no faults" <<<"$("$stack" net status)" && ok "net heal pg removed it" || fail "latency still listed after heal"

# --- down: refused at once; heal: back
"$stack" net down pg
if err=$(pg "select 1" 2>&1); then fail "psql worked with the pg proxy down"; else
  grep -qi "refused" <<<"$err" && ok "pg proxy down: connection refused" || fail "pg down gave: $err"
fi
"$stack" up >/tmp/net-test-up.$$ 2>&1 && grep -q "network faults are active" /tmp/net-test-up.$$ &&
  ok "up with a fault active succeeds and warns" || fail "up with a fault: $(cat /tmp/net-test-up.$$)"
rm -f /tmp/net-test-up.$$
"$stack" net heal
[[ $(pg "select 1") == 1 ]] && ok "pg back after heal" || fail "pg not back after heal"

# --- cut broker 2 off from clients for longer than broker.session.timeout.ms (9 s) and
# replica.lag.time.max.ms (10 s): clients cannot reach it, the cluster keeps it.
"$stack" kafka-tool topics --create --topic "$topic" --partitions 3 --replication-factor 3 >/dev/null
"$stack" net cut broker 2
if timeout 20 kcat -L -b 127.0.0.1:19093 -m 3 >/dev/null 2>&1; then fail "kcat reached broker 2 through a cut proxy"; else ok "broker 2 unreachable for clients"; fi
sleep 15
meta=$(kcat -L -b 127.0.0.1:19092 -m 5 -t "$topic" 2>&1) || fail "no metadata from broker 1 during the cut: $meta"
grep -q "^ *broker 2 at 127.0.0.1:19093" <<<"$meta" && ok "broker 2 still registered (not fenced)" || fail "broker 2 gone from metadata: $meta"
bad=$(grep -E "^ *partition [0-9]+," <<<"$meta" | grep -v -E "isrs: ([0-9],)*2(,[0-9])*" || true)
[[ -z $bad && $(grep -c -E "^ *partition [0-9]+," <<<"$meta") == 3 ]] && ok "broker 2 in every ISR after 15 s cut off" ||
  fail "ISR lost broker 2 during a client-side cut: $meta"
# Direct replication kept working: a message produced through broker 1's proxy with acks=all
# needs every in-sync replica, broker 2 included.
p0=$(grep -E "^ *partition 0," <<<"$meta")
if [[ $p0 != *"leader 2,"* ]]; then
  echo hello | timeout 20 kcat -P -b 127.0.0.1:19092 -t "$topic" -p 0 -X acks=all -X message.timeout.ms=15000 &&
    ok "acks=all produce with broker 2 cut off from clients (replication direct)" || fail "acks=all produce failed during the cut"
fi
"$stack" net heal
timeout 30 kcat -L -b 127.0.0.1:19093 -m 10 >/dev/null 2>&1 && ok "broker 2 reachable after heal" || fail "broker 2 unreachable after heal"

echo "$((fails == 0 ? 1 : 0)) passed, $((fails > 0 ? 1 : 0)) failed"
((fails == 0))
