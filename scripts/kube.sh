#!/usr/bin/env bash
# Kubernetes in a box: a real kube-apiserver, kube-controller-manager and kube-scheduler
# (k8s.io/kubernetes v1.37.2, built by scripts/kube-install.sh), etcd from Debian, and kwok
# playing the kubelets of three fake nodes (pods get a status, no process runs: no container
# runtime works here). Everything listens on 127.0.0.1; all state is in one directory.
#
#   scripts/kube.sh up       start (or report the running box); prints the KUBECONFIG path
#   scripts/kube.sh down     stop every process of the box and delete its state (logs stay)
#   scripts/kube.sh status   what runs, and the API server's /readyz
#   scripts/kube.sh kubectl ARGS...   the box's kubectl (same version), with its KUBECONFIG
#
# The namespace $POKEFLOW_KUBE_NAMESPACE (default pokeflow) enforces the restricted Pod
# Security level, as the chart claims to satisfy it.
#
# Environment: POKEFLOW_KUBE_DIR (state, default <repo>/.kube), POKEFLOW_KUBE_PORT (API server,
# default 16443; etcd, controller-manager, scheduler use the next ports up to +4).
set -euo pipefail

PF_TAG=kube
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=scripts/common.sh
source "$here/common.sh"

dir=${POKEFLOW_KUBE_DIR:-$repo/.kube}
api_port=${POKEFLOW_KUBE_PORT:-16443}
etcd_port=$((api_port + 1))
etcd_peer_port=$((api_port + 2))
cm_port=$((api_port + 3))
sched_port=$((api_port + 4))
ns=${POKEFLOW_KUBE_NAMESPACE:-pokeflow}
nodes=(kwok-node-0 kwok-node-1 kwok-node-2)
kubeconfig=$dir/kubeconfig
procs=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

# Debian's etcd 3.4 lacks the progress notifications that client-go's streaming list (WatchList)
# needs: every informer's watch would fail and fall back, slowing every controller to a crawl.
export KUBE_FEATURE_WatchListClient=false

pid_alive() { [[ -f $dir/run/$1.pid ]] && kill -0 "$(<"$dir/run/$1.pid")" 2>/dev/null; }

# start NAME CMD...: runs CMD in its own session, output in logs/NAME.log, pid in run/NAME.pid.
start() {
  local name=$1
  shift
  setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/run/$name.pid"
}

# wait_for WHAT SECONDS CMD...: polls CMD every 0.2 s; on timeout dies naming WHAT and its log.
wait_for() {
  local what=$1 secs=$2 log=$3
  shift 3
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      [[ -f $log ]] && tail -n 20 "$log" >&2
      pf_die "$what not ready within ${secs}s (log: $log)"
    fi
    sleep 0.2
  done
}

# A process that died while we wait for it is a failure now, not at the timeout.
alive_and() {
  local name=$1
  shift
  pid_alive "$name" || return 2
  "$@"
}

kubectl() { "$kubebox" kubectl --kubeconfig "$kubeconfig" "$@"; }

readyz() {
  curl -fsS --max-time 2 --cacert "$dir/pki/ca.crt" -H "Authorization: Bearer $(<"$dir/pki/admin.token")" \
    "https://127.0.0.1:$api_port/readyz"
}

make_pki() {
  local p=$dir/pki
  mkdir -p "$p"
  (
    cd "$p"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=pokeflow-kube-box-ca \
      -keyout ca.key -out ca.crt
    openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout apiserver.key -out apiserver.csr
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile apiserver.ext -out apiserver.crt
    # Service account tokens are signed with this key pair.
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
    # Static tokens: the admin (a cluster admin through system:masters) for people, tests,
    # the controller-manager, the scheduler and kwok. A box, not a production cluster.
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >admin.token
    printf '%s,admin,admin,system:masters\n' "$(<admin.token)" >tokens.csv
  ) >"$dir/logs/pki.log" 2>&1 || pf_die "certificates could not be made (log: $dir/logs/pki.log)"
}

write_kubeconfig() {
  cat >"$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: box
    cluster:
      server: https://127.0.0.1:$api_port
      certificate-authority: $dir/pki/ca.crt
users:
  - name: admin
    user:
      token: $(<"$dir/pki/admin.token")
contexts:
  - name: box
    context: {cluster: box, user: admin, namespace: $ns}
current-context: box
EOF
  chmod 600 "$kubeconfig"
}

nodes_yaml() {
  local n
  for n in "${nodes[@]}"; do
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $n
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: $n
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable: {cpu: "16", memory: 64Gi, pods: "110"}
  capacity: {cpu: "16", memory: 64Gi, pods: "110"}
EOF
  done
}

namespace_yaml() {
  cat <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $ns
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
    pod-security.kubernetes.io/warn: restricted
    pod-security.kubernetes.io/audit: restricted
EOF
}

up() {
  kubebox=$("$here/kube-install.sh")
  pf_need etcd openssl curl setsid
  if pid_alive kube-apiserver && readyz >/dev/null 2>&1; then
    pf_log "already running"
    printf 'export KUBECONFIG=%s\n' "$kubeconfig"
    return 0
  fi
  down_quiet
  local t0=$SECONDS
  mkdir -p "$dir/logs" "$dir/run"
  make_pki
  write_kubeconfig

  start etcd etcd --name box --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "box=http://127.0.0.1:$etcd_peer_port" \
    --quota-backend-bytes $((512 * 1024 * 1024))
  wait_for etcd 30 "$dir/logs/etcd.log" alive_and etcd curl -fsS --max-time 2 "http://127.0.0.1:$etcd_port/health"

  # --endpoint-reconciler-type=none: the kubernetes Service's endpoint would be 127.0.0.1,
  # which Endpoints refuse; nothing in the box dials the API through that Service.
  start kube-apiserver "$kubebox" kube-apiserver \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --tls-cert-file "$dir/pki/apiserver.crt" --tls-private-key-file "$dir/pki/apiserver.key" \
    --client-ca-file "$dir/pki/ca.crt" --token-auth-file "$dir/pki/tokens.csv" \
    --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$dir/pki/sa.pub" --service-account-signing-key-file "$dir/pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 --endpoint-reconciler-type none \
    --profiling=false
  wait_for kube-apiserver 90 "$dir/logs/kube-apiserver.log" alive_and kube-apiserver readyz

  start kube-controller-manager "$kubebox" kube-controller-manager --kubeconfig "$kubeconfig" \
    --authentication-kubeconfig "$kubeconfig" --authorization-kubeconfig "$kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$cm_port" --leader-elect=false \
    --service-account-private-key-file "$dir/pki/sa.key" --root-ca-file "$dir/pki/ca.crt" \
    --use-service-account-credentials=false --profiling=false \
    --node-monitor-grace-period 5m
  start kube-scheduler "$kubebox" kube-scheduler --kubeconfig "$kubeconfig" \
    --authentication-kubeconfig "$kubeconfig" --authorization-kubeconfig "$kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$sched_port" --leader-elect=false --profiling=false
  "$kubebox" kwok-stages >"$dir/kwok-stages.yaml"
  start kwok "$kubebox" kwok --kubeconfig "$kubeconfig" --config "$dir/kwok-stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --cidr 10.244.0.1/16 --node-ip 127.0.0.1

  nodes_yaml | kubectl apply -f - >"$dir/logs/nodes.log" 2>&1 || pf_die "nodes not created (log: $dir/logs/nodes.log)"
  namespace_yaml | kubectl apply -f - >"$dir/logs/namespace.log" 2>&1 || pf_die "namespace $ns not created (log: $dir/logs/namespace.log)"
  # Nodes Ready (kwok), the namespace's default ServiceAccount (controller-manager), and
  # the scheduler serving: then a pod created now gets scheduled and run.
  wait_for "nodes Ready (kwok)" 60 "$dir/logs/kwok.log" alive_and kwok \
    kubectl wait --for=condition=Ready node --all --timeout=2s
  wait_for "namespace $ns's default ServiceAccount (controller-manager)" 60 "$dir/logs/kube-controller-manager.log" \
    alive_and kube-controller-manager kubectl -n "$ns" get serviceaccount default
  wait_for kube-scheduler 60 "$dir/logs/kube-scheduler.log" alive_and kube-scheduler \
    curl -fsSk --max-time 2 "https://127.0.0.1:$sched_port/healthz"
  pf_log "up in $((SECONDS - t0)) s: Kubernetes $("$kubebox" kube-apiserver --version | cut -d' ' -f2) on https://127.0.0.1:$api_port, ${#nodes[@]} kwok nodes, namespace $ns (restricted)"
  printf 'export KUBECONFIG=%s\n' "$kubeconfig"
}

# Stops in reverse order of start; TERM, then KILL after 10 s. Only the recorded pids.
stop_all() {
  local i name pid
  for ((i = ${#procs[@]} - 1; i >= 0; i--)); do
    name=${procs[i]}
    [[ -f $dir/run/$name.pid ]] || continue
    pid=$(<"$dir/run/$name.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/run/$name.pid"
  done
}

down_quiet() {
  [[ -d $dir ]] || return 0
  stop_all
  rm -rf "$dir/etcd" "$dir/pki" "$dir/run" "$kubeconfig" "$dir/kwok-stages.yaml"
}

down() {
  down_quiet
  pf_log "down (logs kept in $dir/logs)"
}

status() {
  local name rc=0
  for name in "${procs[@]}"; do
    if pid_alive "$name"; then
      printf '%-24s running (pid %s)\n' "$name" "$(<"$dir/run/$name.pid")"
    else
      printf '%-24s stopped\n' "$name"
      rc=1
    fi
  done
  if [[ -f $dir/pki/admin.token ]] && readyz >/dev/null 2>&1; then
    printf '%-24s ok (https://127.0.0.1:%s)\nKUBECONFIG=%s\n' readyz "$api_port" "$kubeconfig"
  else
    printf '%-24s not ready\n' readyz
    rc=1
  fi
  return $rc
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  kubectl)
    shift
    kubebox=$("$here/kube-install.sh")
    kubectl "$@"
    ;;
  *)
    printf 'usage: %s up|down|status|kubectl ARGS...\n' "$0" >&2
    exit 2
    ;;
esac
