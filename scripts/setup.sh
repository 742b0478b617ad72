#!/usr/bin/env bash
# The one setup step (make setup): everything a fresh Debian 12 machine needs to build, test
# and demo pokeflow. Idempotent; a warm run only checks and takes seconds.
#
#   1. Debian packages (apt-get update + install, only when one is missing; root or sudo)
#   2. static librdkafka + libpq (scripts/build-deps.sh, once per machine, in the cache)
#   3. kafka-install.sh, chaos-venv.sh, helm-install.sh, web-install.sh, test-venv.sh,
#      toxiproxy-install.sh from scripts/, where present
#   4. the Go modules of the chart tests (test/helm), so no test downloads anything
#
# Runs unattended (CI=true, no stdin). Caches live in $POKEFLOW_CACHE (see scripts/common.sh).
set -euo pipefail

PF_TAG=setup
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=scripts/common.sh
source "$here/common.sh"

PACKAGES=(
  # toolchain and build
  build-essential cmake ninja-build pkg-config ccache dpkg-dev xz-utils bzip2
  # C++ libraries (headers, and the static archives the static link uses)
  libboost1.81-dev rapidjson-dev libcli11-dev catch2
  libssl-dev libzstd-dev liblz4-dev zlib1g-dev
  # shared librdkafka/libpq for quick dynamic dev builds (cmake without POKEFLOW_DEPS_PREFIX)
  librdkafka-dev libpq-dev
  # local stack, tests, load
  postgresql-15 postgresql-contrib openjdk-17-jre-headless maven kcat prometheus wrk
  python3-venv jq curl ca-certificates procps iproute2 util-linux postgresql-client-15
  # browser tests of the api's pages (driven headless by playwright-core, see scripts/web-install.sh)
  chromium
  # Kubernetes in a box (scripts/kube.sh): the API server's store
  etcd-server
  # make fuzz: clang and its runtimes (libFuzzer, ASan, UBSan: libclang-rt-14-dev, which clang-14
  # only recommends)
  clang-14 libclang-rt-14-dev
)

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  pf_die "this setup needs Debian 12 (apt-get and dpkg-query not found)"
fi
if ! (. /etc/os-release && [[ ${ID:-} == debian && ${VERSION_ID:-} == 12 ]]); then
  pf_log "warning: not Debian 12; package names and versions are chosen for Debian 12 (bookworm)"
fi

# --- 1. Debian packages -------------------------------------------------------------------
installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PACKAGES[@]}" 2>/dev/null |
  awk '$2 == "ii" { print $1 }') || true
missing=()
for p in "${PACKAGES[@]}"; do
  grep -qxF "$p" <<<"$installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  pf_log "installing Debian packages: ${missing[*]}"
  # noninteractive + keep existing conffiles: nothing may ask a question without a terminal.
  apt_env=(env DEBIAN_FRONTEND=noninteractive)
  pf_step "apt-get update" "$POKEFLOW_CACHE/logs/apt-get-update.log" \
    pf_as_root "${apt_env[@]}" apt-get -q update
  pf_step "apt-get install ${missing[*]}" "$POKEFLOW_CACHE/logs/apt-get-install.log" \
    pf_as_root "${apt_env[@]}" apt-get -q -y --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install "${missing[@]}"
else
  pf_log "Debian packages: all ${#PACKAGES[@]} present"
fi

# --- 2. static third-party libraries ------------------------------------------------------
"$here/build-deps.sh"
deps_prefix=$("$here/build-deps.sh" --print-prefix)

# --- 3. installers owned by other parts of the project -------------------------------------
for step in kafka-install chaos-venv helm-install web-install test-venv toxiproxy-install; do
  script=$here/$step.sh
  if [[ -x $script ]]; then
    pf_log "running scripts/$step.sh"
    "$script"
  elif [[ -e $script ]]; then
    pf_log "warning: scripts/$step.sh exists but is not executable; skipped"
  fi
done

# --- 4. Go modules the chart tests build with (test/helm/go.mod, go.sum is complete) ----------
# Downloaded here so that tests never reach for the network; they run with -mod=readonly.
pf_need go
pf_log "Go modules for test/helm ($(go env GOVERSION))"
(cd "$repo/test/helm" && pf_step "go mod download (test/helm)" "$POKEFLOW_CACHE/logs/go-mod-download.log" \
  go mod download)

web_modules=$("$here/web-install.sh" --print-dir)
cat <<EOF
pokeflow setup done
  cache         $POKEFLOW_CACHE
  static deps   $deps_prefix
  web packages  $web_modules
  configure     cmake -G Ninja -B build -DPOKEFLOW_DEPS_PREFIX=$deps_prefix -DPOKEFLOW_WEB_MODULES=$web_modules
EOF
