#!/usr/bin/env bash
# Browser test of the api's pages (CTest "browser: ..."): starts the whole pipeline
# (api, fraud, updater, reverser in one pokeflow process) on free ports against the local stack,
# with its tables in a PostgreSQL schema of its own and topics and groups of its own, then runs
# test/browser/pages.test.cjs with node's test runner: Debian's chromium, headless, driven by
# playwright-core from web/package-lock.json (scripts/web-install.sh).
# Screenshots of every page go to $BROWSER_ARTIFACTS (build/test-artifacts/browser);
# UPDATE_SCREENSHOTS=1 also copies them to docs/screenshots/ for the README.
# Env: POKEFLOW_BIN, CHROMIUM (/usr/bin/chromium).
set -euo pipefail
PF_TAG=browser
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=scripts/common.sh
source "$repo/scripts/common.sh"
pf_need node

bin=${POKEFLOW_BIN:-$repo/build/pokeflow}
chromium=${CHROMIUM:-/usr/bin/chromium}
artifacts=${BROWSER_ARTIFACTS:-$repo/build/test-artifacts/browser}
[[ -x $bin ]] || pf_die "no pokeflow binary at $bin: run make build (or set POKEFLOW_BIN)"
[[ -x $chromium ]] || pf_die "no chromium at $chromium: run make setup (it installs Debian's chromium)"
web_modules=$("$repo/scripts/web-install.sh")
rm -rf "$artifacts"
mkdir -p "$artifacts/screenshots"

# shellcheck source=test/lib/private-run.sh
source "$repo/test/lib/private-run.sh"
pf_private_start browser api,fraud,updater,reverser "$artifacts/pokeflow.log" --fraud-rules="$repo/config/fraud-rules.ini"

set +e
BASE_URL=$base API_TOKEN=$token WEB_MODULES=$web_modules CHROMIUM=$chromium \
  SCREENSHOTS="$artifacts/screenshots" timeout 480 node --test --test-concurrency=1 "$here/pages.test.cjs" 2>&1 |
  tee "$artifacts/node-test.log"
rc=${PIPESTATUS[0]}
set -e
[[ $rc -eq 0 ]] || pf_die "browser tests failed (exit $rc): read $artifacts/node-test.log and $artifacts/pokeflow.log; screenshots in $artifacts/screenshots"
if [[ ${UPDATE_SCREENSHOTS:-0} == 1 ]]; then
  mkdir -p "$repo/docs/screenshots"
  cp "$artifacts"/screenshots/*.png "$repo/docs/screenshots/"
  pf_log "screenshots copied to docs/screenshots/"
fi
