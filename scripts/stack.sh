#!/usr/bin/env bash
# The local stack: PostgreSQL 15 and a 3-node Apache Kafka cluster (KRaft, combined
# broker+controller), all on 127.0.0.1, state under $REPO/.stack, with every client
# connection going through Toxiproxy (one proxy for PostgreSQL, one per broker) so network
# faults can be injected (`net ...`). Usage: see usage() below or docs/stack.md. Works as root
# (PostgreSQL then runs as the `postgres` user) or as a normal user.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
PF_TAG=stack
# shellcheck source=common.sh
source "$here/common.sh"

STACK="${POKEFLOW_STACK_DIR:-$repo/.stack}"
# Client ports (what pokeflow, tests and tools connect to) are Toxiproxy's; the servers
# listen on the direct ports behind them. See docs/stack.md, "How traffic flows".
PG_PORT="${POKEFLOW_STACK_PG_PORT:-55432}"
PG_DIRECT_PORT="${POKEFLOW_STACK_PG_DIRECT_PORT:-$((PG_PORT + 1))}"
KAFKA_PORT_BASE="${POKEFLOW_STACK_KAFKA_PORT_BASE:-19092}"
KAFKA_DIRECT_PORT_BASE="${POKEFLOW_STACK_KAFKA_DIRECT_PORT_BASE:-$((KAFKA_PORT_BASE + 200))}"
REPLICATION_PORT_BASE="${POKEFLOW_STACK_REPLICATION_PORT_BASE:-$((KAFKA_PORT_BASE + 300))}"
CONTROLLER_PORT_BASE="${POKEFLOW_STACK_CONTROLLER_PORT_BASE:-19192}"
# JMX on 127.0.0.1 only, for the benchmark's request counts (stack.sh kafka-requests).
JMX_PORT_BASE="${POKEFLOW_STACK_JMX_PORT_BASE:-$((KAFKA_PORT_BASE + 400))}"
TOXIPROXY_PORT="${POKEFLOW_STACK_TOXIPROXY_PORT:-8474}"
STOP_TIMEOUT="${POKEFLOW_STACK_STOP_TIMEOUT:-30}"
UP_TIMEOUT="${POKEFLOW_STACK_UP_TIMEOUT:-90}"
KAFKA_HEAP_OPTS="${POKEFLOW_STACK_KAFKA_HEAP:--Xms128m -Xmx512m}"
PG_BIN="${POKEFLOW_STACK_PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_DB=poke_orders PG_USER=poke_user PG_PASSWORD=poke_password
NODES=(1 2 3)

LOGS="$STACK/logs"
RUN="$STACK/run"

for v in PG_PORT PG_DIRECT_PORT KAFKA_PORT_BASE KAFKA_DIRECT_PORT_BASE REPLICATION_PORT_BASE \
  CONTROLLER_PORT_BASE JMX_PORT_BASE TOXIPROXY_PORT STOP_TIMEOUT UP_TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || pf_die "POKEFLOW_STACK_$v must be a number, got '${!v}'"
done
TOXIPROXY_API="http://127.0.0.1:$TOXIPROXY_PORT"

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
  net status              the proxies (client port -> server port) and the faults on them
  net latency TARGET DELAY [JITTER]
                          every reply on TARGET's connections arrives DELAY later (+-JITTER),
                          e.g. net latency pg 300ms
  net slow TARGET RATE [DELAY [JITTER]]
                          limit each connection to RATE KB/s each way (and add DELAY+-JITTER)
  net cut TARGET          black hole: connections stay open, new ones are accepted, but no
                          byte passes either way (like a firewall DROP)
  net down TARGET         the proxy closes every connection and refuses new ones (like RST)
  net heal [TARGET]       remove every fault (of TARGET, or everywhere)
                          TARGET: pg | broker ID | kafka (all brokers); DELAY/JITTER: 300ms, 2s
  leader TOPIC PARTITION  print the id of the broker leading that partition
  pids                    component and pid, one per line, for what is running
                          (postgresql, kafka-N, toxiproxy)
  kafka-requests          requests each broker has handled since it started, by type, read
                          over JMX (127.0.0.1:$JMX_PORT_BASE+): "kafka-N TYPE COUNT" lines
  bootstrap               print the Kafka bootstrap list
  kafka-tool NAME ARGS... run a Kafka CLI tool against the stack (--bootstrap-server is
                          added): topics, consumer-groups, configs, reassign-partitions,
                          leader-election, metadata-quorum
EOF
}

kafka_port() { echo $((KAFKA_PORT_BASE + $1 - 1)); }  # the proxy clients use
kafka_direct_port() { echo $((KAFKA_DIRECT_PORT_BASE + $1 - 1)); }
replication_port() { echo $((REPLICATION_PORT_BASE + $1 - 1)); }
controller_port() { echo $((CONTROLLER_PORT_BASE + $1 - 1)); }
jmx_port() { echo $((JMX_PORT_BASE + $1 - 1)); }
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

pg_accepts() { # [PORT]: poke_user can query poke_orders there (default: the client port, the proxy)
  PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=2 psql -X -q -h 127.0.0.1 -p "${1:-$PG_PORT}" -U "$PG_USER" \
    -d "$PG_DB" -tAc 'select 1' </dev/null 2>/dev/null | grep -qx 1
}

pg_admin() { # SQL -> output; connects over the socket as the cluster owner
  "${pg_runas[@]}" psql -X -q -h "$(pg_dir)/sock" -p "$PG_DIRECT_PORT" -d postgres -v ON_ERROR_STOP=1 -tAc "$1" </dev/null
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
  port_busy "$PG_DIRECT_PORT" && pf_die "port $PG_DIRECT_PORT (PostgreSQL) is taken by another process; set POKEFLOW_STACK_PG_DIRECT_PORT"
  pg_prepare
  # A crashed postmaster leaves postmaster.pid; PostgreSQL itself checks whether that pid is
  # still a postmaster, so the file can be left for it to judge.
  # The log is opened here, by us, so it works even where `postgres` cannot reach .stack/logs.
  local pg
  pg=$(pg_dir)
  setsid "${pg_runas[@]}" "$PG_BIN/postgres" -D "$pg/data" -p "$PG_DIRECT_PORT" \
    -c listen_addresses=127.0.0.1 -c unix_socket_directories="$pg/sock" \
    </dev/null >>"$LOGS/postgresql.log" 2>&1 &
  record_pid pg $! "$pg/data"
}

pg_wait() { # waits until poke_user can query poke_orders (directly, not through the proxy)
  local deadline=$((SECONDS + UP_TIMEOUT)) provisioned=
  while ((SECONDS < deadline)); do
    alive "$(pg_pid)" || pf_die "PostgreSQL exited during start: read $LOGS/postgresql.log"
    if [[ -z $provisioned ]] && "${pg_runas[@]}" pg_isready -q -d postgres -h "$(pg_dir)/sock" -p "$PG_DIRECT_PORT" 2>/dev/null; then
      pg_provision || pf_die "could not create $PG_USER/$PG_DB: read $LOGS/postgresql.log"
      provisioned=1
    fi
    if [[ -n $provisioned ]] && pg_accepts "$PG_DIRECT_PORT"; then return 0; fi
    sleep 0.2
  done
  pf_die "PostgreSQL did not accept queries as $PG_USER on 127.0.0.1:$PG_DIRECT_PORT within ${UP_TIMEOUT}s: read $LOGS/postgresql.log"
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
    "$(kafka_marker "$1") $(kafka_jmx_opts "$1")"
}

kafka_jmx_opts() { # ID: JMX without auth, bound to loopback only
  local p
  p=$(jmx_port "$1")
  echo "-Dcom.sun.management.jmxremote -Dcom.sun.management.jmxremote.port=$p" \
    "-Dcom.sun.management.jmxremote.rmi.port=$p -Dcom.sun.management.jmxremote.host=127.0.0.1" \
    "-Djava.rmi.server.hostname=127.0.0.1 -Dcom.sun.management.jmxremote.authenticate=false" \
    "-Dcom.sun.management.jmxremote.ssl=false -Dcom.sun.management.jmxremote.local.only=true"
}

kafka_render() { # ID: writes the node's server.properties
  local id=$1 dir="$STACK/kafka/$1" voters="" n
  for n in "${NODES[@]}"; do voters+="${voters:+,}$n@127.0.0.1:$(controller_port "$n")"; done
  mkdir -p "$dir/data"
  sed -e "s|@NODE_ID@|$id|g" -e "s|@VOTERS@|$voters|g" -e "s|@PORT@|$(kafka_port "$id")|g" \
    -e "s|@DIRECT_PORT@|$(kafka_direct_port "$id")|g" -e "s|@REPLICATION_PORT@|$(replication_port "$id")|g" \
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
  local id=$1 libs=$2 pid port rport cport
  pid=$(kafka_pid "$id")
  if alive "$pid"; then
    [[ $(proc_state "$pid") == T ]] && pf_log "warning: Kafka node $id (pid $pid) is paused (SIGSTOP)"
    return 0
  fi
  port=$(kafka_direct_port "$id") rport=$(replication_port "$id") cport=$(controller_port "$id")
  port_busy "$port" && pf_die "port $port (Kafka node $id) is taken by another process; set POKEFLOW_STACK_KAFKA_DIRECT_PORT_BASE"
  port_busy "$rport" && pf_die "port $rport (Kafka node $id, replication) is taken by another process; set POKEFLOW_STACK_REPLICATION_PORT_BASE"
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

broker_serving() { # ID [PORT]: true once the node answers metadata itself and lists itself
  # A node opens its client listener only after the controller unfenced it, and a killed
  # node stays listed by the others until its session times out, so each node is asked
  # directly (its own listener, not the proxy) instead of trusting the cluster's list.
  local id=$1 port=${2:-$(kafka_direct_port "$1")} meta
  meta=$(kcat -L -b "127.0.0.1:$port" -m 2 2>/dev/null </dev/null) || return 1
  # On the proxy port kcat maps the answer to the broker advertised there; on the direct
  # port (advertised nowhere) it stays the bootstrap connection, which can only be this node.
  grep -q -e "(from broker $id: " -e "(from broker -1: 127.0.0.1:$port/bootstrap)" <<<"$meta" &&
    grep -q "^ *broker $id at " <<<"$meta"
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

# ---------------------------------------------------------------- Toxiproxy (the client-side proxies)

# One proxy per server, named as the chaos experiments and `net` address them. The proxies
# listen on the client ports; the servers behind them on the direct ports.
proxy_names() { echo pg; local id; for id in "${NODES[@]}"; do echo "kafka-$id"; done; }
proxy_listen() { # NAME -> port
  case $1 in pg) echo "$PG_PORT" ;; kafka-*) kafka_port "${1#kafka-}" ;; esac
}
proxy_upstream() { # NAME -> port
  case $1 in pg) echo "$PG_DIRECT_PORT" ;; kafka-*) kafka_direct_port "${1#kafka-}" ;; esac
}

toxi_bin() {
  local bin
  bin=$("$here/toxiproxy-install.sh") || pf_die "toxiproxy-server is not installed and toxiproxy-install.sh failed (run make setup outside any network namespace)"
  echo "$bin"
}
toxi_config() { echo "$STACK/toxiproxy.json"; }
toxi_pid() { pid_of toxiproxy "-config $(toxi_config)"; }

toxi_render() { # the proxies as Toxiproxy's -config and /populate take them
  local name sep="" out="["
  for name in $(proxy_names); do
    out+="$sep{\"name\":\"$name\",\"listen\":\"127.0.0.1:$(proxy_listen "$name")\",\"upstream\":\"127.0.0.1:$(proxy_upstream "$name")\",\"enabled\":true}"
    sep=","
  done
  printf '%s]\n' "$out" >"$(toxi_config).tmp"
  mv -f "$(toxi_config).tmp" "$(toxi_config)"
}

toxi_api() { # METHOD PATH [JSON BODY] -> response body; fails on an HTTP error, naming it
  local out code
  out=$(curl -sS --max-time 5 -X "$1" -w '\n%{http_code}' ${3:+-H 'Content-Type: application/json' --data "$3"} \
    "$TOXIPROXY_API$2" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }
  code=${out##*$'\n'}
  out=${out%$'\n'*}
  if [[ $code != 2* ]]; then
    printf 'Toxiproxy %s %s: HTTP %s %s\n' "$1" "$2" "$code" "$out" >&2
    return 1
  fi
  printf '%s\n' "$out"
}

toxi_start() { # starts Toxiproxy if needed; returns without waiting
  local pid name port
  pid=$(toxi_pid)
  alive "$pid" && return 0
  port_busy "$TOXIPROXY_PORT" && pf_die "port $TOXIPROXY_PORT (Toxiproxy API) is taken by another process; set POKEFLOW_STACK_TOXIPROXY_PORT"
  for name in $(proxy_names); do
    port=$(proxy_listen "$name")
    port_busy "$port" && pf_die "port $port (the $name proxy clients connect to) is taken by another process (a stack from before the proxies? scripts/stack.sh down, then up)"
  done
  toxi_render
  local bin
  bin=$(toxi_bin)
  setsid "$bin" -host 127.0.0.1 -port "$TOXIPROXY_PORT" -config "$(toxi_config)" \
    </dev/null >>"$LOGS/toxiproxy.log" 2>&1 &
  record_pid toxiproxy $! "-config $(toxi_config)"
}

toxi_wait() { # waits until the API answers and every proxy exists (created again if deleted)
  local deadline=$((SECONDS + UP_TIMEOUT))
  until toxi_api GET /version >/dev/null 2>&1; do
    alive "$(toxi_pid)" || pf_die "Toxiproxy exited during start: read $LOGS/toxiproxy.log"
    ((SECONDS < deadline)) || pf_die "Toxiproxy API not answering on $TOXIPROXY_API within ${UP_TIMEOUT}s: read $LOGS/toxiproxy.log"
    sleep 0.05
  done
  # /populate creates missing proxies and leaves existing ones as they are (with their faults).
  toxi_render
  toxi_api POST /populate "$(<"$(toxi_config)")" >/dev/null ||
    pf_die "could not create the proxies (see above; $LOGS/toxiproxy.log)"
}

toxi_stop() {
  local pid
  pid=$(toxi_pid)
  alive "$pid" || { rm -f "$RUN/toxiproxy.pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || true
  fi
  rm -f "$RUN/toxiproxy.pid"
}

toxi_faults() { # one line per proxy with a fault: "NAME<TAB>description"
  toxi_api GET /proxies 2>/dev/null | jq -r '
    to_entries[] | .value as $p
    | [ (if $p.enabled then empty else "down (connections refused)" end),
        ($p.toxics[] | "\(.type) \(.stream) \(.attributes | to_entries | map("\(.key)=\(.value)") | join(" "))") ]
    | select(length > 0) | "\($p.name)\t\(join("; "))"'
}

# ---------------------------------------------------------------- net: fault commands

net_targets() { # TARGET... -> proxy names; dies on a bad target
  case "${1:-}" in
    pg) echo pg ;;
    kafka) local id; for id in "${NODES[@]}"; do echo "kafka-$id"; done ;;
    broker) check_node_id "${2:-}"; echo "kafka-$2" ;;
    *) pf_die "net: TARGET must be pg, broker ID or kafka, got '${1:-}'" ;;
  esac
}
net_target_words() { case "${1:-}" in broker) echo 2 ;; *) echo 1 ;; esac; }

to_ms() { # 300ms | 2s | 1.5s | 250 -> milliseconds
  local v=$1
  if [[ $v =~ ^([0-9]+)(ms)?$ ]]; then
    echo "${BASH_REMATCH[1]}"
  elif [[ $v =~ ^([0-9]+)(\.([0-9]{1,3}))?s$ ]]; then
    local frac=${BASH_REMATCH[3]:-0}
    while ((${#frac} < 3)); do frac+=0; done
    echo $((BASH_REMATCH[1] * 1000 + 10#$frac))
  else
    pf_die "net: '$v' is not a duration (e.g. 300ms, 2s)"
  fi
}

# Toxic names are fixed per kind and direction, so setting a fault again replaces it.
toxic_set() { # PROXY NAME TYPE STREAM ATTRIBUTES_JSON
  toxi_api DELETE "/proxies/$1/toxics/$2" >/dev/null 2>&1 || true
  toxi_api POST "/proxies/$1/toxics" \
    "{\"name\":\"$2\",\"type\":\"$3\",\"stream\":\"$4\",\"toxicity\":1.0,\"attributes\":$5}" >/dev/null ||
    pf_die "net: could not add the $3 fault to $1 (is the stack up? scripts/stack.sh up)"
}

net_heal_proxy() { # PROXY: every toxic removed, enabled again
  local names t
  names=$(toxi_api GET "/proxies/$1/toxics" | jq -r '.[].name') ||
    pf_die "net: no proxy $1 (is the stack up? scripts/stack.sh up)"
  for t in $names; do toxi_api DELETE "/proxies/$1/toxics/$t" >/dev/null || pf_die "net: could not remove $t from $1"; done
  toxi_api POST "/proxies/$1" '{"enabled":true}' >/dev/null || pf_die "net: could not enable $1"
}

cmd_net() {
  local action=${1:-} proxies p n stream
  pf_need curl jq
  [[ -n $action ]] && shift
  case "$action" in
    status)
      alive "$(toxi_pid)" || pf_die "Toxiproxy is not running (scripts/stack.sh up)"
      for p in $(proxy_names); do
        printf '%-8s 127.0.0.1:%s -> 127.0.0.1:%s\n' "$p" "$(proxy_listen "$p")" "$(proxy_upstream "$p")"
      done
      n=$(toxi_faults) || pf_die "Toxiproxy API not answering on $TOXIPROXY_API"
      if [[ -n $n ]]; then sed 's/^/fault    /; s/\t/: /' <<<"$n"; else echo "no faults"; fi
      return 0
      ;;
    heal)
      if (($# == 0)); then
        toxi_api POST /reset >/dev/null || pf_die "net heal: Toxiproxy API not answering on $TOXIPROXY_API (is the stack up?)"
        pf_log "net: every fault removed"
        return 0
      fi
      ;;
    latency | slow | cut | down) ;;
    *) pf_die "net: unknown action '$action' (status|latency|slow|cut|down|heal)" ;;
  esac
  proxies=$(net_targets "$@") || exit 1
  shift "$(net_target_words "${1:-}")"
  case "$action" in
    heal)
      for p in $proxies; do net_heal_proxy "$p"; done
      ;;
    latency)
      (($# >= 1 && $# <= 2)) || pf_die "net latency TARGET DELAY [JITTER]"
      local delay jitter
      delay=$(to_ms "$1") jitter=$(to_ms "${2:-0}")
      for p in $proxies; do
        toxic_set "$p" latency-downstream latency downstream "{\"latency\":$delay,\"jitter\":$jitter}"
      done
      ;;
    slow)
      (($# >= 1 && $# <= 3)) || pf_die "net slow TARGET RATE_KB_PER_S [DELAY [JITTER]]"
      [[ $1 =~ ^[1-9][0-9]*$ ]] || pf_die "net slow: RATE must be a whole number of KB/s above 0, got '$1'"
      local rate=$1 delay jitter
      delay=$(to_ms "${2:-0}") jitter=$(to_ms "${3:-0}")
      for p in $proxies; do
        for stream in upstream downstream; do
          toxic_set "$p" "bandwidth-$stream" bandwidth "$stream" "{\"rate\":$rate}"
        done
        if ((delay > 0 || jitter > 0)); then
          toxic_set "$p" latency-downstream latency downstream "{\"latency\":$delay,\"jitter\":$jitter}"
        fi
      done
      ;;
    cut)
      (($# == 0)) || pf_die "net cut TARGET"
      for p in $proxies; do
        # Toxiproxy's timeout toxic with timeout 0 drops every byte and never closes.
        for stream in upstream downstream; do toxic_set "$p" "cut-$stream" timeout "$stream" '{"timeout":0}'; done
      done
      ;;
    down)
      (($# == 0)) || pf_die "net down TARGET"
      for p in $proxies; do
        toxi_api POST "/proxies/$p" '{"enabled":false}' >/dev/null || pf_die "net: could not disable $p (is the stack up?)"
      done
      ;;
  esac
  pf_log "net $action: done for $(echo $proxies)"
}

# ---------------------------------------------------------------- commands

write_ready() {
  cat >"$STACK/READY.tmp" <<EOF
# written by scripts/stack.sh up at $(date -u +%FT%TZ); removed by down/reset
POKEFLOW_STACK_PG_URL=postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB
POKEFLOW_STACK_KAFKA_BOOTSTRAP=$(bootstrap)
POKEFLOW_STACK_TOXIPROXY_URL=$TOXIPROXY_API
EOF
  mv -f "$STACK/READY.tmp" "$STACK/READY"
}

prepare_dirs() {
  mkdir -p "$LOGS" "$RUN" "$STACK/kafka"
  # A world-traversable .stack lets `postgres` reach .stack/pg when we run as root.
  chmod 755 "$STACK"
}

through_proxies() { # every proxy without a fault reaches its server (end to end, as clients do)
  local faulted name id
  faulted=$(toxi_faults | cut -f1) || pf_die "Toxiproxy API not answering on $TOXIPROXY_API: read $LOGS/toxiproxy.log"
  if ! grep -qx pg <<<"$faulted"; then
    pg_accepts || pf_die "PostgreSQL answers on 127.0.0.1:$PG_DIRECT_PORT but not through its proxy on 127.0.0.1:$PG_PORT: read $LOGS/toxiproxy.log"
  fi
  for id in "${NODES[@]}"; do
    name=kafka-$id
    grep -qx "$name" <<<"$faulted" && continue
    broker_serving "$id" "$(kafka_port "$id")" ||
      pf_die "Kafka node $id serves on 127.0.0.1:$(kafka_direct_port "$id") but not through its proxy on 127.0.0.1:$(kafka_port "$id"): read $LOGS/toxiproxy.log"
  done
  if [[ -n $faulted ]]; then
    pf_log "warning: network faults are active (scripts/stack.sh net status; net heal removes them): $(echo $faulted)"
  fi
}

cmd_up() {
  pf_need java kcat psql pg_isready ss setsid curl jq
  [[ -x $PG_BIN/postgres ]] || pf_die "no PostgreSQL 15 in $PG_BIN (apt-get install postgresql-15)"
  prepare_dirs
  local libs id start=$SECONDS
  rm -f "$STACK/READY"
  libs=$(kafka_libs)
  toxi_start
  pg_start
  kafka_prepare "$libs" "${NODES[@]}"
  for id in "${NODES[@]}"; do kafka_start "$id" "$libs"; done
  toxi_wait
  pg_wait
  kafka_wait "${NODES[@]}"
  through_proxies
  write_ready
  pf_log "up in $((SECONDS - start))s: PostgreSQL 127.0.0.1:$PG_PORT ($PG_DB, $PG_USER), Kafka $(bootstrap), through Toxiproxy ($TOXIPROXY_API)"
}

cmd_down() {
  [[ -d $STACK ]] || return 0
  rm -f "$STACK/READY"
  local pids=()
  # All nodes at once, so that each one's controlled shutdown still finds a quorum.
  kafka_stop TERM "${NODES[@]}" & pids+=($!)
  pg_stop & pids+=($!)
  toxi_stop & pids+=($!)
  local rc=0 p
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  ((rc == 0)) || pf_die "some component did not stop cleanly (see messages above)"
  pf_log "down"
}

cmd_status() { # the servers are asked on their direct ports: a network fault is not "down"
  local bad=0 pid state id faults
  local pg_at="127.0.0.1:$PG_PORT -> :$PG_DIRECT_PORT"
  pid=$(pg_pid)
  if alive "$pid"; then
    state=$(proc_state "$pid")
    if [[ $state == T ]]; then
      echo "postgresql  paused   pid $pid  $pg_at"; bad=1
    elif pg_accepts "$PG_DIRECT_PORT"; then
      echo "postgresql  up       pid $pid  $pg_at  $PG_DB/$PG_USER"
    else
      echo "postgresql  starting pid $pid  $pg_at  (not accepting queries; $LOGS/postgresql.log)"; bad=1
    fi
  else
    echo "postgresql  down                $pg_at"; bad=1
  fi
  for id in "${NODES[@]}"; do
    local at="127.0.0.1:$(kafka_port "$id") -> :$(kafka_direct_port "$id")"
    pid=$(kafka_pid "$id")
    if alive "$pid"; then
      state=$(proc_state "$pid")
      if [[ $state == T ]]; then
        echo "kafka-$id     paused   pid $pid  $at"; bad=1
      elif broker_serving "$id"; then
        echo "kafka-$id     up       pid $pid  $at"
      else
        echo "kafka-$id     starting pid $pid  $at  (not serving yet; $LOGS/kafka-$id.log)"; bad=1
      fi
    else
      echo "kafka-$id     down                $at"; bad=1
    fi
  done
  pid=$(toxi_pid)
  if alive "$pid" && faults=$(toxi_faults); then
    if [[ -n $faults ]]; then faults="faults on: $(cut -f1 <<<"$faults" | xargs) (net status)"; else faults="no faults"; fi
    echo "toxiproxy   up       pid $pid  $TOXIPROXY_API  $faults"
  elif alive "$pid"; then
    echo "toxiproxy   starting pid $pid  $TOXIPROXY_API  (API not answering; $LOGS/toxiproxy.log)"; bad=1
  else
    echo "toxiproxy   down                $TOXIPROXY_API  (clients reach nothing)"; bad=1
  fi
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
      pf_need java kcat ss setsid curl
      prepare_dirs
      local libs
      libs=$(kafka_libs)
      [[ $action == restart ]] && kafka_stop TERM "$id"
      toxi_start
      kafka_start "$id" "$libs"
      toxi_wait
      kafka_wait "$id"
      ;;
    *) pf_die "broker: unknown action '$action' (stop|kill|pause|resume|start|restart)" ;;
  esac
}

cmd_pg() {
  case "${1:-}" in
    stop) pg_stop ;;
    start | restart)
      pf_need psql pg_isready ss setsid curl
      prepare_dirs
      [[ $1 == restart ]] && pg_stop
      toxi_start
      pg_start
      toxi_wait
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

cmd_kafka_requests() {
  local libs id tmp rc=0
  libs=$(kafka_libs)
  tmp=$(mktemp -d)
  for id in "${NODES[@]}"; do  # one JVM per broker, in parallel
    alive "$(kafka_pid "$id")" || continue
    {
      # JmxTool's csv: one 'object:attribute,"value"' line per request type and version.
      java -Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$libs/*" org.apache.kafka.tools.JmxTool \
        --jmx-url "service:jmx:rmi:///jndi/rmi://127.0.0.1:$(jmx_port "$id")/jmxrmi" \
        --object-name 'kafka.network:type=RequestMetrics,name=RequestsPerSec,*' --attributes Count \
        --one-time true --report-format csv 2>/dev/null |
        awk -v node="kafka-$id" '
          match($0, /request=[A-Za-z]+/) { t = substr($0, RSTART + 8, RLENGTH - 8)
            v = $0; sub(/^.*,"/, "", v); sub(/".*$/, "", v); n[t] += v; seen = 1 }
          END { for (t in n) print node, t, n[t]; exit !seen }' >"$tmp/$id" ||
        echo "broker $id on 127.0.0.1:$(jmx_port "$id")" >"$tmp/$id.failed"
    } &
  done
  wait
  for id in "${NODES[@]}"; do
    if [[ -e $tmp/$id.failed ]]; then pf_log "kafka-requests: no JMX answer from $(<"$tmp/$id.failed")"; rc=1
    elif [[ -e $tmp/$id ]]; then cat "$tmp/$id"; fi
  done
  rm -rf "$tmp"
  return $rc
}

cmd_pids() {
  local pid id
  pid=$(pg_pid); alive "$pid" && echo "postgresql $pid"
  for id in "${NODES[@]}"; do
    pid=$(kafka_pid "$id"); alive "$pid" && echo "kafka-$id $pid"
  done
  pid=$(toxi_pid); alive "$pid" && echo "toxiproxy $pid"
  return 0
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  broker) shift; cmd_broker "$@" ;;
  pg) shift; cmd_pg "$@" ;;
  net) shift; cmd_net "$@" ;;
  leader) shift; cmd_leader "$@" ;;
  pids) cmd_pids ;;
  kafka-requests) cmd_kafka_requests ;;
  bootstrap) bootstrap ;;
  kafka-tool) shift; cmd_kafka_tool "$@" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
