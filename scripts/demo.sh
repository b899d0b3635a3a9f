#!/usr/bin/env bash
# The demo command (`npm run demo`): install if needed, then run an example dataflow end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Kafka client is built against the system's libraries: install them first, or it is built
# without zstd (and stays so until reinstalled).
bash scripts/kafka-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  CKJS_LINKING=dynamic npm install --no-audit --no-fund
fi
echo "==> weir run apps/examples/src/wordcount.ts"
node packages/cli/bin/weir.js run apps/examples/src/wordcount.ts
