#!/usr/bin/env bash
# Builds the Toxiproxy server (the TCP proxy the local stack routes PostgreSQL and Kafka
# client traffic through, so network faults can be injected) from its Go module into
# $POKEFLOW_CACHE/bin/toxiproxy-server, once, and prints its path.
#
# Why from source: as for helm, our machines reach the Go module proxy but no download site
# for release binaries, and a pinned module version is as reproducible as a pinned binary.
#
# Usage: scripts/toxiproxy-install.sh            build unless the pinned version is there
#                                                (then instant); prints the path on stdout
#        scripts/toxiproxy-install.sh --version  print the pinned version
set -euo pipefail

PF_TAG='toxiproxy-install'
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/common.sh
source "$here/common.sh"

# The only place the version is written (chaos/Dockerfile builds the same one through this
# script for the Kubernetes chaos image).
TOXIPROXY_VERSION=v2.12.0
MODULE=github.com/Shopify/toxiproxy/v2

if [[ ${1:-} == --version ]]; then
  printf '%s\n' "$TOXIPROXY_VERSION"
  exit 0
fi
[[ $# -eq 0 ]] || pf_die "usage: scripts/toxiproxy-install.sh [--version]"

bin_dir=$POKEFLOW_CACHE/bin
server=$bin_dir/toxiproxy-server

# The version is stamped by -ldflags; read it back rather than trusting a side file.
installed_version() {
  if [[ -x $server ]]; then "$server" -version 2>/dev/null | awk '{print $NF}' || true; fi
}

if [[ $(installed_version) == "$TOXIPROXY_VERSION" ]]; then
  printf '%s\n' "$server"
  exit 0
fi

pf_need go flock
mkdir -p "$bin_dir"
# Serialise concurrent setups (make test and make demo) on the same cache.
exec 9>"$bin_dir/.toxiproxy.lock"
flock 9
if [[ $(installed_version) != "$TOXIPROXY_VERSION" ]]; then
  pf_log "building toxiproxy-server $TOXIPROXY_VERSION from its Go module (first time only, about a minute)"
  # `go install` names the binary after its package directory (cmd/server); it is built into
  # a scratch GOBIN and renamed, so the cache never holds a half-written or oddly named file.
  tmp=$(mktemp -d "$bin_dir/.toxiproxy-build.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  pf_step "build toxiproxy-server $TOXIPROXY_VERSION" "$bin_dir/toxiproxy-build.log" \
    env GOBIN="$tmp" GOFLAGS="-mod=mod ${GOFLAGS:-}" CGO_ENABLED=0 \
    go install -trimpath -ldflags "-s -w -X $MODULE.Version=$TOXIPROXY_VERSION" \
    "$MODULE/cmd/server@$TOXIPROXY_VERSION"
  mv -f "$tmp/server" "$server"
fi
got=$(installed_version)
[[ $got == "$TOXIPROXY_VERSION" ]] || pf_die "built toxiproxy-server reports version '$got', expected $TOXIPROXY_VERSION"
pf_log "toxiproxy-server $TOXIPROXY_VERSION ready at $server"
printf '%s\n' "$server"
