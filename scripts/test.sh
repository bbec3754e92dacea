#!/usr/bin/env bash
# Runs every test: builds the package, starts the services the tests need that the machine does
# not already run (memcached and a Redis Cluster, see services.sh; PostgreSQL, MariaDB and Redis
# run on every machine), runs the node:test suites and the type tests. `npm test` runs this;
# `.ci/run` runs it too.
set -euo pipefail
cd "$(dirname "$0")/.."

npm run --silent build
bash scripts/services.sh
bash scripts/browser.sh

mapfile -t files < <(find test -name '*.test.ts' | sort)
node --import tsx --test --test-concurrency=2 --test-reporter=tap "${files[@]}"
npx tsc -p test/types/tsconfig.json
echo "type tests passed on node $(node --version)"
