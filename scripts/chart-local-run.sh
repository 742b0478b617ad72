#!/usr/bin/env bash
# Chart-driven local run: proves the chart's wiring matches what the binary reads. Renders
# helm/pokeflow (values: test/helm/values/local.yaml plus any -f FILE given), turns every
# Deployment, the hook Job and the loadgen Job into local processes of build/pokeflow with the
# pods' exact args and env (Service names -> 127.0.0.1, ConfigMap -> files, one admin port per
# process; test/helm/cmd/localrun does the translation), then against the local stack (make up):
#   1. runs the hook's steps (migrate, topics init, topics grow), each must exit 0;
#   2. starts replicaCount processes per Deployment (each its own admin port; several api
#      replicas each their own api port behind a round-robin on the Service's port, standing in
#      for the Service: test/helm/cmd/roundrobin) and waits until each answers its readiness probe;
#   3. creates an order through the api and waits until it is terminal;
#   4. runs the loadgen Job to completion (exit 0);
#   5. stops everything with SIGTERM, each must exit 0; every api replica behind a round-robin
#      must have been given connections.
#
# Usage: scripts/chart-local-run.sh [-f VALUES.yaml ...]
#        (-f test/helm/values/scale-local.yaml: 2 api, 3 fraud, 3 updater, 2 reverser, 6 partitions)
# Env:   POKEFLOW_BIN (build/pokeflow), POKEFLOW_LOCALRUN_ADMIN_BASE (19400),
#        POKEFLOW_LOCALRUN_API_BASE (19500, api replicas' ports when there are several),
#        POKEFLOW_LOCALRUN_TIMEOUT seconds per wait (60)
set -euo pipefail

PF_TAG=chart-local-run
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=scripts/common.sh
source "$here/common.sh"
pf_need go curl

bin=${POKEFLOW_BIN:-$repo/build/pokeflow}
admin_base=${POKEFLOW_LOCALRUN_ADMIN_BASE:-19400}
api_base=${POKEFLOW_LOCALRUN_API_BASE:-19500}
timeout=${POKEFLOW_LOCALRUN_TIMEOUT:-60}
[[ -x $bin ]] || pf_die "no pokeflow binary at $bin: run make build (or set POKEFLOW_BIN)"
extra_values=()
while [[ $# -gt 0 ]]; do
  case $1 in
    -f) [[ $# -ge 2 ]] || pf_die "-f needs a values file"; extra_values+=(-f "$2"); shift 2 ;;
    -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) pf_die "unknown argument '$1'" ;;
  esac
done

helm=$("$here/helm-install.sh")
work=$(mktemp -d)
declare -A pid_of=() rr_pid=()
cleanup() {
  local n
  for n in "${!pid_of[@]}"; do kill -KILL "${pid_of[$n]}" 2>/dev/null || true; done
  for n in "${!rr_pid[@]}"; do kill -KILL "${rr_pid[$n]}" 2>/dev/null || true; done
  if [[ ${keep_logs:-0} -eq 1 ]]; then pf_log "logs kept in $work/logs"; else rm -rf "$work"; fi
}
trap cleanup EXIT
keep_logs=1
mkdir -p "$work/logs" "$work/plan"

"$helm" template pokeflow "$repo/helm/pokeflow" -f "$repo/test/helm/values/local.yaml" \
  "${extra_values[@]}" >"$work/manifest.yaml" 2> >(grep -v 'found symbolic link' >&2)
(cd "$repo/test/helm" && GOFLAGS="-mod=readonly ${GOFLAGS:-}" go run ./cmd/localrun \
  -manifest "$work/manifest.yaml" -out "$work/plan" -admin-base "$admin_base" -api-base "$api_base")

# Runs plan entry NAME in the foreground or background with exactly the pod's args and env.
# The working directory is the repository, standing in for the image's WORKDIR / + /config.
run() {  # NAME [bg]
  local -a args env
  mapfile -d '' args <"$work/plan/$1.args"
  mapfile -d '' env <"$work/plan/$1.env"
  if [[ ${2:-} == bg ]]; then
    (cd "$repo" && exec env -i PATH=/usr/bin:/bin "${env[@]}" "$bin" "${args[@]}") \
      >"$work/logs/$1.log" 2>&1 &
    pid_of[$1]=$!
  else
    (cd "$repo" && exec env -i PATH=/usr/bin:/bin "${env[@]}" "$bin" "${args[@]}") \
      >"$work/logs/$1.log" 2>&1
  fi
}

fail() { tail -n 20 "$work/logs/$1.log" >&2 || true; pf_die "$2"; }

wait_ready() {  # NAME PORT PATH
  local i code=
  for ((i = 0; i < timeout * 2; i++)); do
    kill -0 "${pid_of[$1]}" 2>/dev/null || fail "$1" "$1 exited before becoming ready"
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2$3" || true)
    [[ $code == 200 ]] && return 0
    sleep 0.5
  done
  fail "$1" "$1 did not answer $3 with 200 on port $2 within ${timeout}s (last: $code)"
}

passed=0
deployments=() loadgen_jobs=() services=() api_name= api_port=
while IFS=$'\t' read -r kind name port path; do
  case $kind in
    hook)
      run "$name" || fail "$name" "hook step $name failed"
      pf_log "hook step $name ok"
      passed=$((passed + 1))
      ;;
    deployment)
      deployments+=("$name $port $path")
      [[ $name =~ -api(-[0-9]+)?$ && -z $api_name ]] && api_name=$name
      ;;
    job) loadgen_jobs+=("$name") ;;
    service) services+=("$name $port $path") ;;  # path: the backends' ports
  esac
done <"$work/plan/plan.tsv"
[[ -n $api_name ]] || pf_die "the chart rendered no api Deployment"

# The Services' stand-ins first, so the updater's first requests already find them.
if [[ ${#services[@]} -gt 0 ]]; then
  (cd "$repo/test/helm" && GOFLAGS="-mod=readonly ${GOFLAGS:-}" go build -o "$work/roundrobin" ./cmd/roundrobin)
fi
for s in "${services[@]}"; do
  read -r name port backends <<<"$s"
  "$work/roundrobin" -listen "127.0.0.1:$port" -backends "$(sed 's/\([0-9][0-9]*\)/127.0.0.1:\1/g' <<<"$backends")" \
    >"$work/logs/$name-service.log" 2>&1 &
  rr_pid[$name]=$!
  [[ $name == *-api ]] && api_port=$port
  pf_log "service $name: round-robin on 127.0.0.1:$port over api replicas on ports $backends"
done
for d in "${deployments[@]}"; do
  read -r name port path <<<"$d"
  run "$name" bg
done
for d in "${deployments[@]}"; do
  read -r name port path <<<"$d"
  wait_ready "$name" "$port" "$path"
  pf_log "$name ready (admin port $port)"
  passed=$((passed + 1))
done

# The api's Service (its round-robin) or else the api's own address, as the chart gave it.
[[ -n $api_port ]] || api_port=$(tr '\0' '\n' <"$work/plan/$api_name.args" | sed -n 's/^--api-port=//p')
[[ -n $api_port ]] || pf_die "cannot find --api-port in the api's args"
api=http://127.0.0.1:$api_port
body=$(curl -fsS -X POST "$api/orders" -H 'Content-Type: application/json' \
  -d '{"user_id": 1, "pokemon": "Pikachu", "country": "Japan", "price": 10}') ||
  fail "$api_name" "POST /orders failed"
id=$(sed -n 's/.*"id" *: *\([0-9][0-9]*\).*/\1/p' <<<"$body")
[[ -n $id ]] || pf_die "POST /orders returned no id: $body"
state=
for ((i = 0; i < timeout * 2; i++)); do
  state=$(curl -fsS "$api/orders/$id" | sed -n 's/.*"state" *: *"\([a-z]*\)".*/\1/p' || true)
  [[ $state =~ ^(success|rejected|failed|reversed)$ ]] && break
  sleep 0.5
done
[[ $state == success ]] ||
  pf_die "order $id is '$state' after ${timeout}s; want success (user 1, Pikachu, price 10 passes the rules)"
pf_log "order $id went pending -> $state through api, fraud and updater"
passed=$((passed + 1))

for j in "${loadgen_jobs[@]}"; do
  run "$j" || fail "$j" "loadgen Job $j exited non-zero"
  pf_log "loadgen Job $j completed"
  passed=$((passed + 1))
done

# Several consumer replicas split their group's partitions: none may sit idle (the partition
# count, kafka.partitions, must be at least the replica count), judged by its last assignment.
# The group may still be rebalancing when the loadgen Job ends (replicas join one by one, and a
# slow machine or a sanitizer build stretches that): wait up to 60 s for it to settle.
last_assignment() {
  grep '"msg":"kafka partitions assigned"' "$work/logs/$1.log" | tail -n 1 | sed -n 's/.*"count":\([0-9]*\).*/\1/p'
  true  # no assignment logged yet: grep finds nothing, which pipefail would make fatal
}
for d in "${deployments[@]}"; do
  read -r name _ _ <<<"$d"
  [[ $name =~ -(fraud|updater)-[0-9]+$ ]] || continue
  for _ in $(seq 1 120); do
    count=$(last_assignment "$name")
    [[ ${count:-0} -gt 0 ]] && break
    sleep 0.5
  done
  [[ ${count:-0} -gt 0 ]] || fail "$name" "$name has no partition assigned after 60 s (last assignment: ${count:-none})"
  pf_log "$name consumes ${count} partition(s)"
  passed=$((passed + 1))
done

for d in "${deployments[@]}"; do
  read -r name _ _ <<<"$d"
  kill -TERM "${pid_of[$name]}"
done
for d in "${deployments[@]}"; do
  read -r name _ _ <<<"$d"
  rc=0
  wait "${pid_of[$name]}" || rc=$?
  unset "pid_of[$name]"
  [[ $rc -eq 0 ]] || fail "$name" "$name exited $rc on SIGTERM, expected 0"
  passed=$((passed + 1))
done
# Each replica behind a Service's stand-in must have been reached (a Service spreads
# connections; one replica taking all of them would mean the others are unreachable).
for s in "${services[@]}"; do
  read -r name _ _ <<<"$s"
  kill -TERM "${rr_pid[$name]}"
  wait "${rr_pid[$name]}" || true
  unset "rr_pid[$name]"
  pf_log "service $name: $(tr '\n' ';' <"$work/logs/$name-service.log")"
  grep -q '^backend ' "$work/logs/$name-service.log" || pf_die "service $name reported no backends"
  if grep -q ' connections 0$' "$work/logs/$name-service.log"; then
    pf_die "service $name: an api replica got no connection: $(tr '\n' ';' <"$work/logs/$name-service.log")"
  fi
  passed=$((passed + 1))
done
keep_logs=0
echo "chart-local-run: $passed passed, 0 failed"
