#!/usr/bin/env bash
# Builds kubebox, the Kubernetes-in-a-box binary (test/kube/cmd/kubebox: kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl and kwok in one program), into
# $POKEFLOW_CACHE/bin, once, and prints its path. scripts/kube.sh runs the box with it.
#
# Why from source: our machines reach the Go module proxy but no download site for release
# binaries; k8s.io/kubernetes v1.37.2 and sigs.k8s.io/kwok v0.8.0 are pinned in test/kube/go.mod.
# Why one binary: each of these programs links for a minute or more on 2 cores; one link
# serves all five, and they share every compiled package. Cold: see README (Kubernetes in a box).
#
# Usage: scripts/kube-install.sh     build unless this source is already built (then instant);
#                                    prints the kubebox path on stdout
set -euo pipefail

PF_TAG='kube-install'
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=scripts/common.sh
source "$here/common.sh"

KUBE_VERSION=v1.37.2
src=$repo/test/kube
bin_dir=$POKEFLOW_CACHE/bin
kubebox=$bin_dir/kubebox
stamp=$bin_dir/kubebox.stamp

# The build's inputs: the pinned modules and kubebox's own source.
want=$(cat "$src/go.mod" "$src/go.sum" "$src"/cmd/kubebox/*.go | sha256sum | cut -c1-16)-$KUBE_VERSION

built_ok() {
  [[ -x $kubebox ]] && pf_stamp_ok "$stamp" "$want" &&
    [[ $("$kubebox" kube-apiserver --version 2>/dev/null) == "Kubernetes $KUBE_VERSION" ]]
}

if built_ok; then
  printf '%s\n' "$kubebox"
  exit 0
fi

pf_need go
mkdir -p "$bin_dir"
exec 9>"$bin_dir/.kubebox.lock"
flock 9
if ! built_ok; then
  pf_log "building kubebox (Kubernetes $KUBE_VERSION control plane, kubectl, kwok) from its Go modules (first time only, 10 minutes or more on 2 cores)"
  # Without the version ldflags the apiserver reports v0.0.0 and the chart's kubeVersion refuses
  # it. nice and -p=2: the build is long and must not starve the rest of the machine.
  minor=${KUBE_VERSION#v1.}
  minor=${minor%%.*}
  pkg=k8s.io/component-base/version
  ldflags="-s -w -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  start=$(date +%s)
  (cd "$src" && pf_step "build kubebox" "$bin_dir/kubebox-build.log" \
    nice -n 10 env GOFLAGS="$GOFLAGS -mod=readonly -p=2" CGO_ENABLED=0 \
    go build -trimpath -ldflags "$ldflags" -o "$kubebox.tmp" ./cmd/kubebox)
  mv -f "$kubebox.tmp" "$kubebox"
  pf_stamp_write "$stamp" "$want"
  pf_log "kubebox built in $(($(date +%s) - start)) s"
fi
got=$("$kubebox" kube-apiserver --version 2>/dev/null || true)
[[ $got == "Kubernetes $KUBE_VERSION" ]] || pf_die "built kubebox reports '$got', expected Kubernetes $KUBE_VERSION"
printf '%s\n' "$kubebox"
