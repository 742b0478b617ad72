#!/usr/bin/env bash
# The local stack: PostgreSQL 15 and a 3-node Apache Kafka cluster (KRaft, combined
# broker+controller), all on 127.0.0.1, state under $REPO/.stack. Usage: see usage() below
# or docs/stack.md. Works as root (PostgreSQL then runs as the `postgres` user) or as a
# normal user.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
PF_TAG=stack
# shellcheck source=common.sh
source "$here/common.sh"

STACK="${POKEFLOW_STACK_DIR:-$repo/.stack}"
PG_PORT="${POKEFLOW_STACK_PG_PORT:-55432}"
KAFKA_PORT_BASE="${POKEFLOW_STACK_KAFKA_PORT_BASE:-19092}"
CONTROLLER_PORT_BASE="${POKEFLOW_STACK_CONTROLLER_PORT_BASE:-19192}"
STOP_TIMEOUT="${POKEFLOW_STACK_STOP_TIMEOUT:-30}"
UP_TIMEOUT="${POKEFLOW_STACK_UP_TIMEOUT:-90}"
KAFKA_HEAP_OPTS="${POKEFLOW_STACK_KAFKA_HEAP:--Xms128m -Xmx512m}"
PG_BIN="${POKEFLOW_STACK_PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_DB=poke_orders PG_USER=poke_user PG_PASSWORD=poke_password
NODES=(1 2 3)

LOGS="$STACK/logs"
RUN="$STACK/run"

for v in PG_PORT KAFKA_PORT_BASE CONTROLLER_PORT_BASE STOP_TIMEOUT UP_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || pf_die "POKEFLOW_STACK_$v must be a number, got '${!v}'"
done

usage() {
  cat <<EOF
usage: scripts/stack.sh COMMAND
  up                      start whatever is not running; wait until all is ready
  down                    stop everything (graceful, SIGKILL after ${STOP_TIMEOUT}s)
  status                  one line per component; exit 1 if any is not running
  reset                   down, then delete $STACK
  broker stop|kill|pause|resume|start|restart ID
                          SIGTERM / SIGKILL / SIGSTOP / SIGCONT / start / stop+start (ID 1..3)
  pg stop|start|restart   PostgreSQL
  leader TOPIC PARTITION  print the id of the broker leading that partition
  pids                    component and pid, one per line, for what is running
  bootstrap               print the Kafka bootstrap list
  kafka-tool NAME ARGS... run a Kafka CLI tool against the stack (--bootstrap-server is
                          added): topics, consumer-groups, configs, reassign-partitions,
                          leader-election, metadata-quorum
EOF
}

kafka_port() { echo $((KAFKA_PORT_BASE + $1 - 1)); }
controller_port() { echo $((CONTROLLER_PORT_BASE + $1 - 1)); }
bootstrap() {
  local id out=()
  for id in "${NODES[@]}"; do out+=("127.0.0.1:$(kafka_port "$id")"); done
  local IFS=,
  echo "${out[*]}"
}
check_node_id() {
  [[ ${1:-} =~ ^[123]$ ]] || pf_die "broker id must be 1, 2 or 3, got '${1:-}'"
}

# ---------------------------------------------------------------- processes and pid files

# A pid counts only while its command line still names this stack's marker, so a stale pid
# file whose number was reused by another process is never signalled.
pid_of() { # NAME MARKER -> pid on stdout, or nothing
  local f="$RUN/$1.pid" pid
  [[ -f $f ]] || return 0
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  local cmd
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 0
  if [[ $cmd == *"$2"* ]]; then echo "$pid"; fi
}
proc_state() { # PID -> R/S/D/T/Z...
  awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true
}
alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null && [[ $(proc_state "$1") != Z ]]; }

wait_gone() { # PID SECONDS -> 0 once gone, 1 on timeout
  local pid=$1 deadline=$((SECONDS + $2))
  while alive "$pid"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

record_pid() { # NAME PID MARKER: waits for the exec (until then /proc shows our shell's
  # command line, which pid_of would not recognise), then writes the pid file
  local deadline=$((SECONDS + 5)) cmd
  echo "$2" >"$RUN/$1.pid"
  while ((SECONDS < deadline)); do
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$2/cmdline") || return 0
    [[ $cmd == *"$3"* ]] && return 0
    sleep 0.05
  done
}

port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# ---------------------------------------------------------------- PostgreSQL

pg_runas=()
if [[ $(id -u) -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || pf_die "running as root needs the 'postgres' system user (apt-get install postgresql-15)"
  # setpriv execs in place (runuser would stay as a parent), so the pid we record is the postmaster.
  pg_runas=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi

# PostgreSQL refuses to run as root, so as root its directory must be owned by and reachable
# for `postgres`. When the clone sits somewhere `postgres` cannot traverse (e.g. under /root),
# the data lives in /var/tmp and .stack/pg is a symlink to it.
pg_root() {
  if [[ -L $STACK/pg || -d $STACK/pg ]]; then
    echo "$STACK/pg"
  elif [[ ${#pg_runas[@]} -gt 0 ]] && ! "${pg_runas[@]}" test -x "$STACK"; then
    echo "/var/tmp/pokeflow-stack-$(printf '%s' "$STACK" | sha256sum | cut -c1-12)"
  else
    echo "$STACK/pg"
  fi
}

pg_dir() { # the real PostgreSQL directory (data/, sock/), symlink resolved
  if [[ -L $STACK/pg ]]; then readlink "$STACK/pg"; else echo "$STACK/pg"; fi
}

pg_prepare() {
  local root
  root=$(pg_root)
  if [[ ! -e $STACK/pg ]]; then
    mkdir -p "$root"
    if [[ $root != "$STACK/pg" ]]; then
      ln -s "$root" "$STACK/pg"
      pf_log "postgres cannot reach $STACK; PostgreSQL data lives in $root (.stack/pg links there)"
    fi
  fi
  local pg
  pg=$(pg_dir)
  mkdir -p "$pg/sock"
  if [[ ${#pg_runas[@]} -gt 0 ]]; then chown postgres:postgres "$pg" "$pg/sock"; fi
  chmod 755 "$pg" "$pg/sock"
  # The kernel limits a unix socket path to 107 bytes.
  ((${#pg} < 80)) || pf_die "PostgreSQL socket dir $pg/sock is too long a path for a unix socket; set POKEFLOW_STACK_DIR to a shorter one"
  if [[ ! -f $pg/data/PG_VERSION ]]; then
    pf_log "initialising PostgreSQL data in $pg/data"
    rm -rf "$pg/data"
    if [[ ${#pg_runas[@]} -gt 0 ]]; then mkdir -p "$pg/data" && chown postgres:postgres "$pg/data"; fi
    # Peer auth on the socket for the OS user that owns the cluster (admin work below);
    # passwords over TCP, as pokeflow connects. --no-sync: a fresh, empty cluster.
    "${pg_runas[@]}" "$PG_BIN/initdb" -D "$pg/data" --no-sync -E UTF8 --locale=C.UTF-8 \
      --auth-local=peer --auth-host=scram-sha-256 >"$LOGS/pg-initdb.log" 2>&1 ||
      pf_die "initdb failed: read $LOGS/pg-initdb.log"
    sed -i '1i local all poke_user scram-sha-256' "$pg/data/pg_hba.conf"
    cat >>"$pg/data/postgresql.conf" <<EOF

# pokeflow local stack (port, address and socket dir are passed by scripts/stack.sh)
max_connections = 200
fsync = on
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    if [[ ${#pg_runas[@]} -gt 0 ]]; then chown postgres:postgres "$pg/data/pg_hba.conf" "$pg/data/postgresql.conf"; fi
  fi
}

pg_pid() { pid_of pg "$(pg_dir)/data"; }

pg_accepts() {
  PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=2 psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" \
    -d "$PG_DB" -tAc 'select 1' </dev/null 2>/dev/null | grep -qx 1
}

pg_admin() { # SQL -> output; connects over the socket as the cluster owner
  "${pg_runas[@]}" psql -X -q -h "$(pg_dir)/sock" -p "$PG_PORT" -d postgres -v ON_ERROR_STOP=1 -tAc "$1" </dev/null
}

pg_provision() {
  if [[ -z $(pg_admin "select 1 from pg_roles where rolname = '$PG_USER'") ]]; then
    pg_admin "create role $PG_USER login password '$PG_PASSWORD'" >/dev/null
  fi
  if [[ -z $(pg_admin "select 1 from pg_database where datname = '$PG_DB'") ]]; then
    pg_admin "create database $PG_DB owner $PG_USER" >/dev/null
  fi
}

pg_start() { # starts if needed; returns without waiting
  local pid
  pid=$(pg_pid)
  if alive "$pid"; then
    [[ $(proc_state "$pid") == T ]] && pf_log "warning: PostgreSQL (pid $pid) is paused (SIGSTOP)"
    return 0
  fi
  port_busy "$PG_PORT" && pf_die "port $PG_PORT (PostgreSQL) is taken by another process; set POKEFLOW_STACK_PG_PORT"
  pg_prepare
  # A crashed postmaster leaves postmaster.pid; PostgreSQL itself checks whether that pid is
  # still a postmaster, so the file can be left for it to judge.
  # The log is opened here, by us, so it works even where `postgres` cannot reach .stack/logs.
  local pg
  pg=$(pg_dir)
  setsid "${pg_runas[@]}" "$PG_BIN/postgres" -D "$pg/data" -p "$PG_PORT" \
    -c listen_addresses=127.0.0.1 -c unix_socket_directories="$pg/sock" \
    </dev/null >>"$LOGS/postgresql.log" 2>&1 &
  record_pid pg $! "$pg/data"
}

pg_wait() { # waits until poke_user can query poke_orders
  local deadline=$((SECONDS + UP_TIMEOUT)) provisioned=
  while ((SECONDS < deadline)); do
    alive "$(pg_pid)" || pf_die "PostgreSQL exited during start: read $LOGS/postgresql.log"
    if [[ -z $provisioned ]] && "${pg_runas[@]}" pg_isready -q -d postgres -h "$(pg_dir)/sock" -p "$PG_PORT" 2>/dev/null; then
      pg_provision || pf_die "could not create $PG_USER/$PG_DB: read $LOGS/postgresql.log"
      provisioned=1
    fi
    if [[ -n $provisioned ]] && pg_accepts; then return 0; fi
    sleep 0.2
  done
  pf_die "PostgreSQL did not accept queries as $PG_USER on 127.0.0.1:$PG_PORT within ${UP_TIMEOUT}s: read $LOGS/postgresql.log"
}

pg_stop() {
  local pid
  pid=$(pg_pid)
  alive "$pid" || { rm -f "$RUN/pg.pid"; return 0; }
  kill -CONT "$pid" 2>/dev/null || true
  # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM ("smart") would wait for every client.
  kill -INT "$pid"
  if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
    pf_log "PostgreSQL did not stop within ${STOP_TIMEOUT}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || true
  fi
  rm -f "$RUN/pg.pid"
}

# ---------------------------------------------------------------- Kafka

kafka_libs() {
  local libs
  libs=$("$here/kafka-install.sh") || pf_die "Kafka is not installed and kafka-install.sh failed"
  echo "$libs"
}

kafka_marker() { echo "-Dpokeflow.stack=$STACK -Dpokeflow.node.id=$1 "; }
kafka_pid() { pid_of "kafka-$1" "$(kafka_marker "$1")"; }

kafka_java_opts() { # ID
  # Small heaps and a serial collector: three JVMs share 2 cores with PostgreSQL and pokeflow.
  # The markers let pid_of tell our brokers from any other java.
  echo "$KAFKA_HEAP_OPTS -XX:+UseSerialGC -XX:CICompilerCount=2 -Xss512k -Djava.awt.headless=true" \
    "-Dlog4j2.configurationFile=$repo/config/kafka/log4j2.properties -Dkafka.logs.dir=$LOGS" \
    "$(kafka_marker "$1")"
}

kafka_render() { # ID: writes the node's server.properties
  local id=$1 dir="$STACK/kafka/$1" voters="" n
  for n in "${NODES[@]}"; do voters+="${voters:+,}$n@127.0.0.1:$(controller_port "$n")"; done
  mkdir -p "$dir/data"
  sed -e "s|@NODE_ID@|$id|g" -e "s|@VOTERS@|$voters|g" -e "s|@PORT@|$(kafka_port "$id")|g" \
    -e "s|@CONTROLLER_PORT@|$(controller_port "$id")|g" -e "s|@DATA_DIR@|$dir/data|g" \
    "$repo/config/kafka/server.properties" >"$dir/server.properties.tmp"
  mv -f "$dir/server.properties.tmp" "$dir/server.properties"
}

new_cluster_id() {
  # What StorageTool random-uuid prints (16 random bytes, base64url, no padding), without a
  # JVM start; Kafka avoids ids that begin with '-', which would read as an option.
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [[ $id != -* ]] && break
  done
  echo "$id"
}

kafka_format() { # ID LIBS: formats the node's storage once, with the stack's one cluster id
  local id=$1 libs=$2 dir="$STACK/kafka/$1"
  [[ -f $dir/data/meta.properties ]] && return 0
  java -cp "$libs/*" kafka.tools.StorageTool format -t "$(<"$STACK/kafka/cluster.id")" \
    -c "$dir/server.properties" >>"$LOGS/kafka-format-$id.log" 2>&1 ||
    pf_die "formatting Kafka node $id failed: read $LOGS/kafka-format-$id.log"
}

kafka_prepare() { # LIBS ID...: config for each node, storage formatted (in parallel: cold start)
  local libs=$1 id pids=() rc=0 p
  shift
  [[ -s $STACK/kafka/cluster.id ]] || new_cluster_id >"$STACK/kafka/cluster.id"
  for id in "$@"; do
    kafka_render "$id"
    if [[ ! -f $STACK/kafka/$id/data/meta.properties ]]; then
      kafka_format "$id" "$libs" &
      pids+=($!)
    fi
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return "$rc"
}

kafka_start() { # ID LIBS: starts the node if needed; returns without waiting
  local id=$1 libs=$2 pid port cport
  pid=$(kafka_pid "$id")
  if alive "$pid"; then
    [[ $(proc_state "$pid") == T ]] && pf_log "warning: Kafka node $id (pid $pid) is paused (SIGSTOP)"
    return 0
  fi
  port=$(kafka_port "$id") cport=$(controller_port "$id")
  port_busy "$port" && pf_die "port $port (Kafka node $id) is taken by another process; set POKEFLOW_STACK_KAFKA_PORT_BASE"
  port_busy "$cport" && pf_die "port $cport (Kafka controller $id) is taken by another process; set POKEFLOW_STACK_CONTROLLER_PORT_BASE"
  kafka_prepare "$libs" "$id"
  # shellcheck disable=SC2046 # the options are meant to split
  setsid java $(kafka_java_opts "$id") -cp "$libs/*" kafka.Kafka "$STACK/kafka/$id/server.properties" \
    </dev/null >>"$LOGS/kafka-$id.out" 2>&1 &
  record_pid "kafka-$id" $! "$(kafka_marker "$id")"
}

others_alive() { # ID: true if any other Kafka node runs
  local n
  for n in "${NODES[@]}"; do
    [[ $n != "$1" ]] && alive "$(kafka_pid "$n")" && return 0
  done
  return 1
}

kafka_stop() { # SIGNAL ID...: signals the nodes together, waits until they are gone
  local sig=$1 id pid p pids=() left alone_since=-1 deadline
  shift
  for id in "$@"; do
    pid=$(kafka_pid "$id")
    if alive "$pid"; then
      kill -CONT "$pid" 2>/dev/null || true
      kill "-$sig" "$pid" 2>/dev/null || true
      pids+=("$id:$pid")
    fi
  done
  deadline=$((SECONDS + STOP_TIMEOUT))
  while :; do
    left=()
    for p in "${pids[@]}"; do alive "${p#*:}" && left+=("$p"); done
    ((${#left[@]} == 0)) && break
    # A node's controlled shutdown needs a controller quorum (2 of 3). The last node alive
    # would wait minutes for one, so it gets a few seconds once it is alone.
    if ((${#left[@]} == 1)) && ! others_alive "${left[0]%%:*}"; then
      ((alone_since >= 0)) || alone_since=$SECONDS
    fi
    if ((SECONDS >= deadline)) || ((alone_since >= 0 && SECONDS - alone_since >= 5)); then
      for p in "${left[@]}"; do
        if ((alone_since >= 0)); then
          # Harmless: its partitions are recovered from the log at the next start.
          pf_log "Kafka node ${p%%:*}: no controller quorum left for its controlled shutdown, SIGKILL"
        else
          pf_log "Kafka node ${p%%:*} did not stop within ${STOP_TIMEOUT}s: SIGKILL (read $LOGS/kafka-${p%%:*}.log)"
        fi
        kill -KILL "${p#*:}" 2>/dev/null || true
        wait_gone "${p#*:}" 10 || true
      done
      break
    fi
    sleep 0.2
  done
  for id in "$@"; do rm -f "$RUN/kafka-$id.pid"; done
}

kafka_metadata() { # brokers' metadata as kcat prints it
  kcat -L -b "$(bootstrap)" -m 3 "$@" 2>/dev/null </dev/null
}

broker_serving() { # ID: true once the node answers metadata itself and lists itself
  # A node opens its client listener only after the controller unfenced it, and a killed
  # node stays listed by the others until its session times out, so each node is asked
  # directly instead of trusting the cluster's list.
  local id=$1 meta
  meta=$(kcat -L -b "127.0.0.1:$(kafka_port "$id")" -m 2 2>/dev/null </dev/null) || return 1
  grep -q "(from broker $id: " <<<"$meta" && grep -q "^ *broker $id at " <<<"$meta"
}

kafka_wait() { # ID...: waits until each node serves clients and is a registered broker
  local deadline=$((SECONDS + UP_TIMEOUT)) id missing pid
  while :; do
    missing=()
    for id in "$@"; do
      pid=$(kafka_pid "$id")
      alive "$pid" ||
        pf_die "Kafka node $id exited during start: read $LOGS/kafka-$id.log and $LOGS/kafka-$id.out"
      if [[ $(proc_state "$pid") == T ]] || ! broker_serving "$id"; then missing+=("$id"); fi
    done
    ((${#missing[@]} == 0)) && return 0
    if ((SECONDS >= deadline)); then
      local m logs=""
      for m in "${missing[@]}"; do logs+=" $LOGS/kafka-$m.log"; done
      pf_die "Kafka node(s) ${missing[*]} not serving as registered brokers within ${UP_TIMEOUT}s: read$logs"
    fi
    sleep 0.3
  done
}

# ---------------------------------------------------------------- commands

write_ready() {
  cat >"$STACK/READY.tmp" <<EOF
# written by scripts/stack.sh up at $(date -u +%FT%TZ); removed by down/reset
POKEFLOW_STACK_PG_URL=postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB
POKEFLOW_STACK_KAFKA_BOOTSTRAP=$(bootstrap)
EOF
  mv -f "$STACK/READY.tmp" "$STACK/READY"
}

prepare_dirs() {
  mkdir -p "$LOGS" "$RUN" "$STACK/kafka"
  # A world-traversable .stack lets `postgres` reach .stack/pg when we run as root.
  chmod 755 "$STACK"
}

cmd_up() {
  pf_need java kcat psql pg_isready ss setsid
  [[ -x $PG_BIN/postgres ]] || pf_die "no PostgreSQL 15 in $PG_BIN (apt-get install postgresql-15)"
  prepare_dirs
  local libs id start=$SECONDS
  rm -f "$STACK/READY"
  libs=$(kafka_libs)
  pg_start
  kafka_prepare "$libs" "${NODES[@]}"
  for id in "${NODES[@]}"; do kafka_start "$id" "$libs"; done
  pg_wait
  kafka_wait "${NODES[@]}"
  write_ready
  pf_log "up in $((SECONDS - start))s: PostgreSQL 127.0.0.1:$PG_PORT ($PG_DB, $PG_USER), Kafka $(bootstrap)"
}

cmd_down() {
  [[ -d $STACK ]] || return 0
  rm -f "$STACK/READY"
  local pids=()
  # All nodes at once, so that each one's controlled shutdown still finds a quorum.
  kafka_stop TERM "${NODES[@]}" & pids+=($!)
  pg_stop & pids+=($!)
  local rc=0 p
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  ((rc == 0)) || pf_die "some component did not stop cleanly (see messages above)"
  pf_log "down"
}

cmd_status() {
  local bad=0 pid state id
  pid=$(pg_pid)
  if alive "$pid"; then
    state=$(proc_state "$pid")
    if [[ $state == T ]]; then
      echo "postgresql  paused   pid $pid  127.0.0.1:$PG_PORT"; bad=1
    elif pg_accepts; then
      echo "postgresql  up       pid $pid  127.0.0.1:$PG_PORT  $PG_DB/$PG_USER"
    else
      echo "postgresql  starting pid $pid  127.0.0.1:$PG_PORT  (not accepting queries; $LOGS/postgresql.log)"; bad=1
    fi
  else
    echo "postgresql  down                127.0.0.1:$PG_PORT"; bad=1
  fi
  for id in "${NODES[@]}"; do
    pid=$(kafka_pid "$id")
    if alive "$pid"; then
      state=$(proc_state "$pid")
      if [[ $state == T ]]; then
        echo "kafka-$id     paused   pid $pid  127.0.0.1:$(kafka_port "$id")"; bad=1
      elif broker_serving "$id"; then
        echo "kafka-$id     up       pid $pid  127.0.0.1:$(kafka_port "$id")"
      else
        echo "kafka-$id     starting pid $pid  127.0.0.1:$(kafka_port "$id")  (not serving yet; $LOGS/kafka-$id.log)"; bad=1
      fi
    else
      echo "kafka-$id     down                127.0.0.1:$(kafka_port "$id")"; bad=1
    fi
  done
  return "$bad"
}

cmd_reset() {
  cmd_down
  [[ -d $STACK ]] || return 0
  if [[ -L $STACK/pg ]]; then rm -rf "$(readlink "$STACK/pg")"; fi
  rm -rf "$STACK"
  pf_log "removed $STACK"
}

cmd_broker() {
  local action=${1:-} id=${2:-} pid
  check_node_id "$id"
  case "$action" in
    stop) kafka_stop TERM "$id" ;;
    kill) kafka_stop KILL "$id" ;;
    pause | resume)
      pid=$(kafka_pid "$id")
      alive "$pid" || pf_die "Kafka node $id is not running"
      if [[ $action == pause ]]; then kill -STOP "$pid"; else kill -CONT "$pid"; fi
      ;;
    start | restart)
      pf_need java kcat ss setsid
      prepare_dirs
      local libs
      libs=$(kafka_libs)
      [[ $action == restart ]] && kafka_stop TERM "$id"
      kafka_start "$id" "$libs"
      kafka_wait "$id"
      ;;
    *) pf_die "broker: unknown action '$action' (stop|kill|pause|resume|start|restart)" ;;
  esac
}

cmd_pg() {
  case "${1:-}" in
    stop) pg_stop ;;
    start | restart)
      pf_need psql pg_isready ss setsid
      prepare_dirs
      [[ $1 == restart ]] && pg_stop
      pg_start
      pg_wait
      ;;
    *) pf_die "pg: unknown action '${1:-}' (stop|start|restart)" ;;
  esac
}

cmd_leader() {
  local topic=${1:-} part=${2:-} meta leader
  [[ -n $topic ]] || pf_die "leader: need TOPIC PARTITION"
  [[ $part =~ ^[0-9]+$ ]] || pf_die "leader: PARTITION must be a number, got '$part'"
  meta=$(kafka_metadata -t "$topic") || pf_die "leader: no metadata from $(bootstrap) (is the stack up?)"
  grep -q "topic \"$topic\" with" <<<"$meta" || pf_die "leader: no topic '$topic'"
  grep -q "topic \"$topic\" with 0 partitions: Broker: Unknown topic" <<<"$meta" && pf_die "leader: no topic '$topic'"
  leader=$(sed -n "s/^ *partition $part, leader \(-\{0,1\}[0-9]*\),.*/\1/p" <<<"$meta")
  [[ -n $leader ]] || pf_die "leader: topic '$topic' has no partition $part"
  [[ $leader != -1 ]] || pf_die "leader: $topic/$part has no leader right now"
  echo "$leader"
}

cmd_kafka_tool() { # NAME ARGS...: a Kafka CLI tool from the installed jars
  local name=${1:-} cls libs
  case "$name" in
    topics) cls=org.apache.kafka.tools.TopicCommand ;;
    consumer-groups) cls=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
    configs) cls=kafka.admin.ConfigCommand ;;
    reassign-partitions) cls=org.apache.kafka.tools.reassign.ReassignPartitionsCommand ;;
    leader-election) cls=org.apache.kafka.tools.LeaderElectionCommand ;;
    metadata-quorum) cls=org.apache.kafka.tools.MetadataQuorumCommand ;;
    *) pf_die "kafka-tool: unknown tool '$name' (topics|consumer-groups|configs|reassign-partitions|leader-election|metadata-quorum)" ;;
  esac
  shift
  libs=$(kafka_libs)
  exec java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$libs/*" "$cls" --bootstrap-server "$(bootstrap)" "$@"
}

cmd_pids() {
  local pid id
  pid=$(pg_pid); alive "$pid" && echo "postgresql $pid"
  for id in "${NODES[@]}"; do
    pid=$(kafka_pid "$id"); alive "$pid" && echo "kafka-$id $pid"
  done
  return 0
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  broker) shift; cmd_broker "$@" ;;
  pg) shift; cmd_pg "$@" ;;
  leader) shift; cmd_leader "$@" ;;
  pids) cmd_pids ;;
  bootstrap) bootstrap ;;
  kafka-tool) shift; cmd_kafka_tool "$@" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
