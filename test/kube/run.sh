#!/usr/bin/env bash
# The chart on a real Kubernetes API server: builds the box if needed (scripts/kube-install.sh),
# starts it (scripts/kube.sh, state in a temporary directory, its own ports), runs the Go tests
# of test/kube against it, and stops it. A box that cannot start is a failure naming the part.
#
# Usage: test/kube/run.sh [go test flags, e.g. -run TestBox/helm -v]
set -euo pipefail

PF_TAG=kube-test
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=scripts/common.sh
source "$repo/scripts/common.sh"
pf_need go

KUBEBOX=$("$repo/scripts/kube-install.sh")
HELM=$("$repo/scripts/helm-install.sh")
CHAOS_PYTHON=$("$repo/scripts/chaos-venv.sh")/bin/python
export KUBEBOX HELM CHAOS_PYTHON

state=$(mktemp -d "${TMPDIR:-/tmp}/pokeflow-kube.XXXXXX")
export POKEFLOW_KUBE_DIR=$state/.kube
# helm's caches and config stay inside the box's state: nothing leaks into $HOME.
export HELM_CACHE_HOME=$state/helm/cache HELM_CONFIG_HOME=$state/helm/config HELM_DATA_HOME=$state/helm/data
stop() {
  local rc=$?
  "$repo/scripts/kube.sh" down >/dev/null 2>&1 || true
  if [[ $rc -ne 0 ]]; then
    pf_log "failed; the box's logs are in $POKEFLOW_KUBE_DIR/logs"
  else
    rm -rf "$state"
  fi
  exit $rc
}
trap stop EXIT
"$repo/scripts/kube.sh" up >/dev/null
export KUBECONFIG=$POKEFLOW_KUBE_DIR/kubeconfig

cd "$here"
# -mod=readonly: go.sum is complete and a test never downloads (make setup did). -trimpath and
# CGO_ENABLED=0 as scripts/kube-install.sh builds kubebox: the same flags reuse its ~2,700
# compiled packages from the build cache (other flags recompile them: minutes on 2 cores).
GOFLAGS="-mod=readonly -p=2 ${GOFLAGS:-}" CGO_ENABLED=0 nice -n 10 go test -trimpath -count=1 -timeout 20m "$@" .
