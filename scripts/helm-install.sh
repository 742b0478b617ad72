#!/usr/bin/env bash
# Builds helm from its Go module into $POKEFLOW_CACHE/bin, once, and prints its path.
#
# Why from source: our machines reach the Go module proxy but no download site for release
# binaries, and a pinned module version is as reproducible as a pinned binary.
#
# Usage: scripts/helm-install.sh     build unless the pinned version is already there
#                                    (then instant); prints the helm path on stdout
set -euo pipefail

PF_TAG='helm-install'
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/common.sh
source "$here/common.sh"

HELM_VERSION=v3.22.0
# The Kubernetes version helm assumes without a cluster (helm template, lint, kubeVersion checks):
# helm's own Makefile derives it from its client-go (v0.37 -> 1.37); `go install` alone leaves
# it at 1.20, which fails our chart's kubeVersion. The tag goes into helm's version metadata so
# a helm built without it is rebuilt.
KUBE_MINOR=37
WANT=$HELM_VERSION+k8s1.$KUBE_MINOR
bin_dir=$POKEFLOW_CACHE/bin
helm=$bin_dir/helm

# helm's version is stamped by -ldflags; read it back rather than trusting a side file.
installed_version() {
  if [[ -x $helm ]]; then "$helm" version --template '{{.Version}}' 2>/dev/null || true; fi
}

if [[ $(installed_version) == "$WANT" ]]; then
  printf '%s\n' "$helm"
  exit 0
fi

pf_need go
mkdir -p "$bin_dir"
pf_log "building helm $HELM_VERSION from its Go module (first time only, a few minutes)"
# Serialise concurrent setups (make test and make demo) on the same cache.
exec 9>"$bin_dir/.helm.lock"
flock 9
if [[ $(installed_version) != "$WANT" ]]; then
  ldflags=(-s -w
    -X "helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
    -X "helm.sh/helm/v3/internal/version.metadata=k8s1.$KUBE_MINOR")
  for pkg in pkg/lint/rules pkg/chartutil; do
    ldflags+=(-X "helm.sh/helm/v3/$pkg.k8sVersionMajor=1" -X "helm.sh/helm/v3/$pkg.k8sVersionMinor=$KUBE_MINOR")
  done
  pf_step "build helm $HELM_VERSION" "$bin_dir/helm-build.log" \
    env GOBIN="$bin_dir" GOFLAGS="-mod=mod ${GOFLAGS:-}" CGO_ENABLED=0 \
    go install -trimpath -ldflags "${ldflags[*]}" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
got=$(installed_version)
[[ $got == "$WANT" ]] || pf_die "built helm reports version '$got', expected $WANT"
pf_log "helm $HELM_VERSION ready at $helm"
printf '%s\n' "$helm"
