#!/usr/bin/env bash
# The main job on a fresh machine: packages, local Neo4j, migrate, load the bundled sample, hunt, print
# the chains, serve the API. With NEO4J_URI set, that server is used and no local one is started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-deps.sh
bash neo4j/neo4j.sh start
exec node --import tsx src/cli.ts demo "$@"
