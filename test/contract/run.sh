#!/usr/bin/env bash
# Contract test of the api's /openapi.json against the live api (CTest "contract: ...").
#   1. starts `pokeflow --role=api` on free ports, against the local stack, with its tables in
#      a PostgreSQL schema of its own (search_path) and topics of its own, so the generated
#      DELETE /orders and the odd orders never touch another test's data;
#   2. openapi-spec-validator checks the document it serves (OpenAPI 3.1);
#   3. schemathesis generates requests from it (every operation, positive and negative data,
#      stateful sequences) with a bounded number of examples and a fixed seed, and runs every
#      check: no 5xx, each status, content type, header and body as documented, schema-valid
#      data accepted and schema-invalid data rejected, bearer auth enforced.
# Needs the local stack (make up; make test starts it). Env: POKEFLOW_BIN, CONTRACT_EXAMPLES
# (per operation, 50), CONTRACT_SEED (7), CONTRACT_ARTIFACTS (build/test-artifacts/contract).
set -euo pipefail
PF_TAG=contract
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=scripts/common.sh
source "$repo/scripts/common.sh"
pf_need curl psql python3

bin=${POKEFLOW_BIN:-$repo/build/pokeflow}
examples=${CONTRACT_EXAMPLES:-50}
seed=${CONTRACT_SEED:-7}
artifacts=${CONTRACT_ARTIFACTS:-$repo/build/test-artifacts/contract}
[[ -x $bin ]] || pf_die "no pokeflow binary at $bin: run make build (or set POKEFLOW_BIN)"
venv=$("$repo/scripts/test-venv.sh")
mkdir -p "$artifacts"

pg_port=${POKEFLOW_STACK_PG_PORT:-55432}
brokers=${POKEFLOW_KAFKA_BROKERS:-127.0.0.1:${POKEFLOW_STACK_KAFKA_PORT_BASE:-19092},127.0.0.1:$((${POKEFLOW_STACK_KAFKA_PORT_BASE:-19092} + 1)),127.0.0.1:$((${POKEFLOW_STACK_KAFKA_PORT_BASE:-19092} + 2))}
schema=pf_contract
topic_args=(--orders-topic=pf-contract-orders --states-topic=pf-contract-state --dlq-topic=pf-contract-dlq)
token=contract-token
psql_run() {
  PGPASSWORD=poke_password PGCONNECT_TIMEOUT=5 psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" \
    -U poke_user -d poke_orders -tAc "$1" </dev/null
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

psql_run "select 1" >/dev/null || pf_die "PostgreSQL is not answering on 127.0.0.1:$pg_port: start the stack (make up)"
psql_run "SET client_min_messages TO warning; DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema"
"$bin" topics init --profile=safe --kafka-brokers="$brokers" "${topic_args[@]}" >"$artifacts/topics.log" 2>&1 ||
  pf_die "topics init failed: read $artifacts/topics.log"

api_port=$(free_port)
admin_port=$(free_port)
api_pid=
cleanup() {
  local rc=$?
  if [[ -n $api_pid ]]; then
    kill -TERM "$api_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$api_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$api_pid" 2>/dev/null || true
  fi
  "$bin" topics delete --kafka-brokers="$brokers" "${topic_args[@]}" >/dev/null 2>&1 || true
  psql_run "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  exit $rc
}
trap cleanup EXIT
# libpq reads PGOPTIONS: every connection of this api uses the private schema.
PGOPTIONS="-c search_path=$schema" "$bin" --role=api --api-port="$api_port" --admin-port="$admin_port" \
  --api-token="$token" --kafka-brokers="$brokers" "${topic_args[@]}" >"$artifacts/api.log" 2>&1 &
api_pid=$!
for _ in $(seq 1 300); do
  curl -fsS -o /dev/null "http://127.0.0.1:$admin_port/readyz" 2>/dev/null && break
  kill -0 "$api_pid" 2>/dev/null || pf_die "the api exited at start: read $artifacts/api.log"
  sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$admin_port/readyz" || pf_die "the api is not ready after 30 s: read $artifacts/api.log"
base=http://127.0.0.1:$api_port

curl -fsS "$base/openapi.json" -o "$artifacts/openapi.json" || pf_die "GET /openapi.json failed"
"$venv/bin/python" - "$artifacts/openapi.json" <<'EOF' || pf_die "openapi-spec-validator rejected /openapi.json"
import json, sys
from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator
doc = json.load(open(sys.argv[1]))
validate(doc, cls=OpenAPIV31SpecValidator)
print(f"[contract] openapi-spec-validator: /openapi.json is a valid OpenAPI {doc['openapi']} document "
      f"({len(doc['paths'])} paths)")
EOF

pf_log "schemathesis: $examples examples per operation, seed $seed, every check, against $base"
# --exclude-path-regex: the embedded files are plain GETs without parameters; fetching each once
# is done by the browser test. The report goes to the artifacts.
cd "$artifacts"
set +e
"$venv/bin/schemathesis" run "$base/openapi.json" \
  --checks all --max-examples "$examples" --seed "$seed" --workers 2 \
  --header "Authorization: Bearer $token" --request-timeout 15 \
  --generation-database none --exclude-tag static --no-color \
  --report junit --report-junit-path "$artifacts/schemathesis-junit.xml" 2>&1 | tee "$artifacts/schemathesis.log"
rc=${PIPESTATUS[0]}
set -e
grep -E "generated|passed|failed" "$artifacts/schemathesis.log" | tail -n 3 >&2 || true
[[ $rc -eq 0 ]] || pf_die "schemathesis found responses that do not match /openapi.json (exit $rc): read $artifacts/schemathesis.log and $artifacts/api.log"
if grep -q '"level":"error"' "$artifacts/api.log"; then
  grep '"level":"error"' "$artifacts/api.log" | head -n 5 >&2
  pf_die "the api logged errors while schemathesis ran: read $artifacts/api.log"
fi
printf '1 passed, 0 failed\n'
