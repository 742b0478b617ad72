#!/usr/bin/env bash
# Proves the image needs nothing but its final stage's files: assembles them with
# scripts/image-rootfs.sh, then runs pokeflow inside them with chroot, as the image's USER,
# with only the image's ENV, against the local stack (make up): migrate, topics init, an api and
# a fraud worker that must both answer /readyz 200 and exit 0 on SIGTERM.
#
# Needs root (chroot), curl, build/pokeflow (or $POKEFLOW_BUILD_DIR) and the stack running.
# Ports: POKEFLOW_TEST_API_PORT (18000), POKEFLOW_TEST_ADMIN_PORT (19300; the worker gets +1);
# the stack: POKEFLOW_TEST_PG_PORT (55432), POKEFLOW_TEST_KAFKA_BROKERS (127.0.0.1:19092,...).
set -euo pipefail

PF_TAG=image-rootfs-test
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/common.sh
source "$repo/scripts/common.sh"
pf_need curl chroot
chroot_bin=$(command -v chroot)
[[ $(id -u) -eq 0 ]] || pf_die "chroot needs root: run as root"

api_port=${POKEFLOW_TEST_API_PORT:-18000}
admin_port=${POKEFLOW_TEST_ADMIN_PORT:-19300}
pg_port=${POKEFLOW_TEST_PG_PORT:-55432}
brokers=${POKEFLOW_TEST_KAFKA_BROKERS:-127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094}
kafka_port=${brokers%%,*}
kafka_port=${kafka_port##*:}
(exec 3<>"/dev/tcp/127.0.0.1/$pg_port") 2>/dev/null ||
  pf_die "PostgreSQL is not listening on 127.0.0.1:$pg_port: start the stack (make up)"
(exec 3<>"/dev/tcp/127.0.0.1/$kafka_port") 2>/dev/null ||
  pf_die "Kafka is not listening on 127.0.0.1:$kafka_port: start the stack (make up)"

work=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

"$repo/scripts/image-rootfs.sh" --meta "$work/meta" "$work/root"
# Besides the image's ENV, only where the stack is (what a pod gets from its chart).
env_args=("POKEFLOW_PG_PORT=$pg_port" "POKEFLOW_KAFKA_BROKERS=$brokers") user='' workdir=/ entry=''
while read -r kind value; do
  case $kind in
    env) env_args+=("$value") ;;
    user) user=$value ;;
    workdir) workdir=$value ;;
    entrypoint) entry=$value ;;
  esac
done <"$work/meta"
[[ -n $entry ]] || pf_die "the Dockerfile's final stage has no ENTRYPOINT"
[[ -n $user && $user != 0* && $user != root* ]] || pf_die "the image must run as a non-root USER (got '$user')"
[[ $user == *:* ]] || user=$user:$user

# Runs the entrypoint inside the tree exactly as a container would: its user, its ENV only.
# It execs (env and chroot exec too), so call it in a subshell or with &: the PID is pokeflow's.
in_image() {
  cd / && exec env -i "${env_args[@]}" "$chroot_bin" --userspec="$user" "$work/root" "$entry" "$@"
}
[[ $workdir == / ]] || pf_die "chroot starts in /, but the image's WORKDIR is $workdir"
# The point of FROM scratch: nothing to exec but pokeflow.
if env -i "$chroot_bin" "$work/root" /bin/sh -c 'exit 0' 2>/dev/null; then
  pf_die "the image tree unexpectedly contains a shell"
fi

wait_ready() {  # NAME PORT PID
  local i code
  for ((i = 0; i < 120; i++)); do
    kill -0 "$3" 2>/dev/null || pf_die "$1 exited before becoming ready (log: see above)"
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/readyz" || true)
    [[ $code == 200 ]] && { pf_log "$1 ready on admin port $2"; return 0; }
    sleep 0.5
  done
  pf_die "$1 did not answer /readyz 200 within 60 s (last status: $code)"
}

stop_ok() {  # NAME PID
  local rc=0
  kill -TERM "$2"
  wait "$2" || rc=$?
  [[ $rc -eq 0 ]] || pf_die "$1 exited $rc on SIGTERM, expected 0"
  pf_log "$1 stopped cleanly"
}

(in_image migrate) || pf_die "'pokeflow migrate' failed inside the image tree"
(in_image topics init) || pf_die "'pokeflow topics init' failed inside the image tree"

in_image --role=api --api-host=127.0.0.1 --api-port="$api_port" \
  --admin-host=127.0.0.1 --admin-port="$admin_port" &
pids+=($!)
api_pid=$!
in_image --role=fraud --admin-host=127.0.0.1 --admin-port=$((admin_port + 1)) &
pids+=($!)
fraud_pid=$!

wait_ready api "$admin_port" "$api_pid"
wait_ready fraud $((admin_port + 1)) "$fraud_pid"
stop_ok fraud "$fraud_pid"
stop_ok api "$api_pid"
pids=()
echo "2 passed, 0 failed"
