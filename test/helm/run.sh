#!/usr/bin/env bash
# Chart tests: helm lint --strict and helm template with the defaults and every values file,
# each rendered object decoded strictly against the Kubernetes API types, bad values rejected
# by the schema. Builds helm first if needed (scripts/helm-install.sh). Exits non-zero on failure.
#
# Usage: test/helm/run.sh [go test flags, e.g. -run TestChaos -v]
set -euo pipefail

PF_TAG=helm-test
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=scripts/common.sh
source "$repo/scripts/common.sh"
pf_need go

HELM=$("$repo/scripts/helm-install.sh")
export HELM
cd "$here"
# Modules come from $POKEFLOW_CACHE/go/mod, filled by `make setup` (scripts/setup.sh step 4);
# -mod=readonly: go.sum is complete, and a test never edits it or downloads. -count=1: helm's
# output is the input, and go test cannot see chart files change.
GOFLAGS="-mod=readonly ${GOFLAGS:-}" go test -count=1 "$@" ./...
