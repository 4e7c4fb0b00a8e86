#!/usr/bin/env bash
# The whole test suite: typecheck, lint, then every test against a real Neo4j. Without NEO4J_URI, a
# separate local test server (ports 7688/7475, state in .neo4j/instances/test) is started, so tests,
# which clear the graph they use, never touch the demo's data. Test files run one at a time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-deps.sh
bash scripts/ensure-test-deps.sh
echo "== typecheck"; npx tsc --noEmit
echo "== lint"; npx biome check .
started=""
if [[ -z ${NEO4J_URI:-} ]]; then
  export LH_NEO4J_INSTANCE=test NEO4J_BOLT_PORT=${LH_TEST_BOLT_PORT:-7688} NEO4J_HTTP_PORT=${LH_TEST_HTTP_PORT:-7475}
  if ! bash neo4j/neo4j.sh status >/dev/null; then started=yes; fi
  bash neo4j/neo4j.sh start
  # Stop the test server afterwards only if this run started it.
  [[ -n $started ]] && trap 'bash neo4j/neo4j.sh stop >/dev/null' EXIT
else
  echo "Testing against NEO4J_URI=$NEO4J_URI (the tests clear that database)"
fi
export LINEAGE_CORPUS=${LINEAGE_CORPUS:-../shared/datasets}
export LOG_LEVEL=${LOG_LEVEL:-warn}
echo "== tests"
# --test-force-exit: a file whose setup failed must not hang the run on open connections.
node --import tsx --test --test-concurrency=1 --test-force-exit test/*.test.ts
