# Sourced by the script tests (browser, contract) that run one pokeflow process of their own
# against the local stack: tables in a PostgreSQL schema of its own (PGOPTIONS search_path),
# topics and consumer groups of its own, api and admin on free ports, stopped and cleaned up on
# exit. Needs: $repo, $bin and $artifacts set and scripts/common.sh sourced.
#   pf_private_start NAME ROLES LOG [pokeflow options…]
# sets schema, brokers, topic_args, group_args, token, api_port, admin_port, base and pid, and
# returns once /readyz answers 200 (or dies naming LOG).

pf_private_psql() {
  PGPASSWORD=poke_password PGCONNECT_TIMEOUT=5 psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 \
    -p "${POKEFLOW_STACK_PG_PORT:-55432}" -U poke_user -d poke_orders -tAc "$1" </dev/null
}

pf_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

pf_private_cleanup() {
  local rc=$?
  if [[ -n ${pid:-} ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  "$bin" topics delete --kafka-brokers="$brokers" "${topic_args[@]}" >/dev/null 2>&1 || true
  pf_private_psql "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  exit "$rc"
}

pf_private_start() {
  local name=$1 roles=$2 log=$3
  shift 3
  pf_need curl psql python3
  local kbase=${POKEFLOW_STACK_KAFKA_PORT_BASE:-19092}
  brokers=${POKEFLOW_KAFKA_BROKERS:-127.0.0.1:$kbase,127.0.0.1:$((kbase + 1)),127.0.0.1:$((kbase + 2))}
  schema=pf_$name
  topic_args=(--orders-topic="pf-$name-orders" --states-topic="pf-$name-state" --dlq-topic="pf-$name-dlq")
  group_args=(--fraud-group="pf-$name-fraud" --updater-group="pf-$name-updater")
  token=$name-token
  pid=
  pf_private_psql "select 1" >/dev/null ||
    pf_die "PostgreSQL is not answering on 127.0.0.1:${POKEFLOW_STACK_PG_PORT:-55432}: start the stack (make up)"
  pf_private_psql "SET client_min_messages TO warning; DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema"
  "$bin" topics init --profile=safe --kafka-brokers="$brokers" "${topic_args[@]}" >"$artifacts/topics.log" 2>&1 ||
    pf_die "topics init failed: read $artifacts/topics.log"
  api_port=$(pf_free_port)
  admin_port=$(pf_free_port)
  base=http://127.0.0.1:$api_port
  trap pf_private_cleanup EXIT
  # libpq reads PGOPTIONS: every connection of this process uses the private schema.
  PGOPTIONS="-c search_path=$schema" "$bin" --role="$roles" --api-port="$api_port" --api-url="$base" \
    --admin-port="$admin_port" --api-token="$token" --kafka-brokers="$brokers" "${topic_args[@]}" \
    "${group_args[@]}" "$@" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "http://127.0.0.1:$admin_port/readyz" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || pf_die "pokeflow ($roles) exited at start: read $log"
    sleep 0.1
  done
  pf_die "pokeflow ($roles) is not ready after 30 s: read $log"
}
