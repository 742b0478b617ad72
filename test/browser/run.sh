#!/usr/bin/env bash
# Browser test of the api's pages (CTest "browser: ..."): starts the whole pipeline
# (api, fraud, updater, reverser in one pokeflow process) on free ports against the local stack,
# with its tables in a PostgreSQL schema of its own and topics and groups of its own, then runs
# test/browser/pages.test.cjs with node's test runner: Debian's chromium, headless, driven by
# playwright-core from web/package-lock.json (scripts/web-install.sh).
# Screenshots of every page go to $BROWSER_ARTIFACTS (build/test-artifacts/browser);
# UPDATE_SCREENSHOTS=1 also copies them to docs/screenshots/ for the README.
# Env: POKEFLOW_BIN, CHROMIUM (/usr/bin/chromium).
set -euo pipefail
PF_TAG=browser
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=scripts/common.sh
source "$repo/scripts/common.sh"
pf_need curl psql python3 node

bin=${POKEFLOW_BIN:-$repo/build/pokeflow}
chromium=${CHROMIUM:-/usr/bin/chromium}
artifacts=${BROWSER_ARTIFACTS:-$repo/build/test-artifacts/browser}
[[ -x $bin ]] || pf_die "no pokeflow binary at $bin: run make build (or set POKEFLOW_BIN)"
[[ -x $chromium ]] || pf_die "no chromium at $chromium: run make setup (it installs Debian's chromium)"
web_modules=$("$repo/scripts/web-install.sh")
rm -rf "$artifacts"
mkdir -p "$artifacts/screenshots"

pg_port=${POKEFLOW_STACK_PG_PORT:-55432}
kbase=${POKEFLOW_STACK_KAFKA_PORT_BASE:-19092}
brokers=${POKEFLOW_KAFKA_BROKERS:-127.0.0.1:$kbase,127.0.0.1:$((kbase + 1)),127.0.0.1:$((kbase + 2))}
schema=pf_browser
kafka_args=(--orders-topic=pf-browser-orders --states-topic=pf-browser-state --dlq-topic=pf-browser-dlq
  --fraud-group=pf-browser-fraud --updater-group=pf-browser-updater)
token=browser-token
psql_run() {
  PGPASSWORD=poke_password PGCONNECT_TIMEOUT=5 psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" \
    -U poke_user -d poke_orders -tAc "$1" </dev/null
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

psql_run "select 1" >/dev/null || pf_die "PostgreSQL is not answering on 127.0.0.1:$pg_port: start the stack (make up)"
psql_run "SET client_min_messages TO warning; DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema"
"$bin" topics init --profile=safe --kafka-brokers="$brokers" "${kafka_args[@]:0:3}" >"$artifacts/topics.log" 2>&1 ||
  pf_die "topics init failed: read $artifacts/topics.log"

api_port=$(free_port)
admin_port=$(free_port)
pid=
cleanup() {
  local rc=$?
  if [[ -n $pid ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  "$bin" topics delete --kafka-brokers="$brokers" "${kafka_args[@]:0:3}" >/dev/null 2>&1 || true
  psql_run "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  exit $rc
}
trap cleanup EXIT
PGOPTIONS="-c search_path=$schema" "$bin" --role=api,fraud,updater,reverser --api-port="$api_port" \
  --api-url="http://127.0.0.1:$api_port" --admin-port="$admin_port" --api-token="$token" \
  --kafka-brokers="$brokers" "${kafka_args[@]}" --fraud-rules="$repo/config/fraud-rules.ini" \
  >"$artifacts/pokeflow.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  curl -fsS -o /dev/null "http://127.0.0.1:$admin_port/readyz" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || pf_die "pokeflow exited at start: read $artifacts/pokeflow.log"
  sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$admin_port/readyz" ||
  pf_die "pokeflow is not ready after 30 s: read $artifacts/pokeflow.log"

set +e
BASE_URL="http://127.0.0.1:$api_port" API_TOKEN=$token WEB_MODULES=$web_modules CHROMIUM=$chromium \
  SCREENSHOTS="$artifacts/screenshots" timeout 480 node --test --test-concurrency=1 "$here/pages.test.cjs" 2>&1 |
  tee "$artifacts/node-test.log"
rc=${PIPESTATUS[0]}
set -e
[[ $rc -eq 0 ]] || pf_die "browser tests failed (exit $rc): read $artifacts/node-test.log and $artifacts/pokeflow.log; screenshots in $artifacts/screenshots"
if [[ ${UPDATE_SCREENSHOTS:-0} == 1 ]]; then
  mkdir -p "$repo/docs/screenshots"
  cp "$artifacts"/screenshots/*.png "$repo/docs/screenshots/"
  pf_log "screenshots copied to docs/screenshots/"
fi
