#!/usr/bin/env bash
# Contract test of the api's /openapi.json against the live api (CTest "contract: ...").
#   1. starts `pokeflow --role=api` on free ports, against the local stack, with its tables in
#      a PostgreSQL schema of its own (search_path) and topics of its own, so the generated
#      DELETE /orders and the odd orders never touch another test's data;
#   2. openapi-spec-validator checks the document it serves (OpenAPI 3.1);
#   3. schemathesis generates requests from it (every operation, positive and negative data,
#      stateful sequences) with a bounded number of examples and a fixed seed, and runs every
#      check: no 5xx, each status, content type, header and body as documented, schema-valid
#      data accepted and schema-invalid data rejected, bearer auth enforced.
# Needs the local stack (make up; make test starts it). Env: POKEFLOW_BIN, CONTRACT_EXAMPLES
# (per operation, 50), CONTRACT_SEED (7), CONTRACT_ARTIFACTS (build/test-artifacts/contract).
set -euo pipefail
PF_TAG=contract
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=scripts/common.sh
source "$repo/scripts/common.sh"

bin=${POKEFLOW_BIN:-$repo/build/pokeflow}
examples=${CONTRACT_EXAMPLES:-50}
seed=${CONTRACT_SEED:-7}
artifacts=${CONTRACT_ARTIFACTS:-$repo/build/test-artifacts/contract}
[[ -x $bin ]] || pf_die "no pokeflow binary at $bin: run make build (or set POKEFLOW_BIN)"
venv=$("$repo/scripts/test-venv.sh")
mkdir -p "$artifacts"

# shellcheck source=test/lib/private-run.sh
source "$repo/test/lib/private-run.sh"
pf_private_start contract api "$artifacts/api.log"

curl -fsS "$base/openapi.json" -o "$artifacts/openapi.json" || pf_die "GET /openapi.json failed"
"$venv/bin/python" - "$artifacts/openapi.json" <<'EOF' || pf_die "openapi-spec-validator rejected /openapi.json"
import json, sys
from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator
doc = json.load(open(sys.argv[1]))
validate(doc, cls=OpenAPIV31SpecValidator)
print(f"[contract] openapi-spec-validator: /openapi.json is a valid OpenAPI {doc['openapi']} document "
      f"({len(doc['paths'])} paths)")
EOF

pf_log "schemathesis: $examples examples per operation, seed $seed, every check, against $base"
# --exclude-path-regex: the embedded files are plain GETs without parameters; fetching each once
# is done by the browser test. The report goes to the artifacts.
cd "$artifacts"
set +e
"$venv/bin/schemathesis" run "$base/openapi.json" \
  --checks all --max-examples "$examples" --seed "$seed" --workers 2 \
  --header "Authorization: Bearer $token" --request-timeout 15 \
  --generation-database none --exclude-tag static --no-color \
  --report junit --report-junit-path "$artifacts/schemathesis-junit.xml" 2>&1 | tee "$artifacts/schemathesis.log"
rc=${PIPESTATUS[0]}
set -e
grep -E "generated|passed|failed" "$artifacts/schemathesis.log" | tail -n 3 >&2 || true
[[ $rc -eq 0 ]] || pf_die "schemathesis found responses that do not match /openapi.json (exit $rc): read $artifacts/schemathesis.log and $artifacts/api.log"
if grep -q '"level":"error"' "$artifacts/api.log"; then
  grep '"level":"error"' "$artifacts/api.log" | head -n 5 >&2
  pf_die "the api logged errors while schemathesis ran: read $artifacts/api.log"
fi
printf '1 passed, 0 failed\n'
