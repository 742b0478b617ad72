#!/usr/bin/env bash
# Installs web/package-lock.json (Swagger UI and uPlot, compiled into the binary; playwright-core,
# which drives Debian's chromium in the browser tests) into the shared cache, once per lock file:
# $POKEFLOW_CACHE/web-<hash>/node_modules. Prints that node_modules path on stdout.
#
# npm runs with --ignore-scripts: no package's install script runs (swagger-ui-dist pulls in an
# analytics package whose postinstall would try to reach the internet), and nothing is fetched
# at run time. Fast (no npm call) when the install is complete.
#
# Usage: scripts/web-install.sh            install unless present; print the node_modules path
#        scripts/web-install.sh --print-dir print the path it would use (no install)
set -euo pipefail

PF_TAG=web-install
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=scripts/common.sh
source "$here/common.sh"

lock=$repo/web/package-lock.json
pkg=$repo/web/package.json
[[ -f $lock && -f $pkg ]] || pf_die "missing web/package.json or web/package-lock.json"
key=$(cat "$pkg" "$lock" | sha256sum | cut -c1-12)
dir=$POKEFLOW_CACHE/web-$key
stamp=$dir/.pokeflow-complete

if [[ ${1:-} == --print-dir ]]; then
  printf '%s\n' "$dir/node_modules"
  exit 0
fi

if pf_stamp_ok "$stamp" "$key"; then
  printf '%s\n' "$dir/node_modules"
  exit 0
fi

# Node.js 18 or newer with npm. A machine without them gets Debian's (nodejs 18, npm 9).
node_ok() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
    node -e 'process.exit(parseInt(process.versions.node) >= 18 ? 0 : 1)' 2>/dev/null
}
if ! node_ok; then
  pf_log "Node.js >= 18 with npm not found: installing Debian's nodejs and npm"
  pf_as_root env DEBIAN_FRONTEND=noninteractive apt-get -q update
  pf_as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends install nodejs npm
  node_ok || pf_die "Node.js >= 18 with npm is still missing after apt-get install nodejs npm"
fi

mkdir -p "$POKEFLOW_CACHE"
exec 9>"$dir.lock"
flock 9
if ! pf_stamp_ok "$stamp" "$key"; then
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$pkg" "$lock" "$dir/"
  log=$POKEFLOW_CACHE/logs/web-npm-ci.log
  pf_log "installing web/package-lock.json into $dir (npm ci)"
  (cd "$dir" && export SCARF_ANALYTICS=false && pf_step "npm ci (web/package-lock.json)" "$log" \
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=warn)
  for f in swagger-ui-dist/swagger-ui-bundle.js swagger-ui-dist/swagger-ui.css uplot/dist/uPlot.iife.min.js \
      uplot/dist/uPlot.min.css playwright-core/package.json; do
    [[ -f $dir/node_modules/$f ]] || pf_die "npm ci finished but node_modules/$f is missing (read $log)"
  done
  pf_stamp_write "$stamp" "$key"
  pf_log "ready: $dir/node_modules"
fi
printf '%s\n' "$dir/node_modules"
