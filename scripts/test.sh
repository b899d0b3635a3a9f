#!/usr/bin/env bash
# The test command (`npm test`): install and start everything the tests need,
# then type-check and test every package through nx. Works on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# Native build prerequisites of the Kafka client (librdkafka), when that package is present.
if [ -f scripts/kafka-deps.sh ]; then
  step "system packages for the Kafka client"
  bash scripts/kafka-deps.sh
fi

step "npm packages"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # CKJS_LINKING=dynamic: build the Kafka client against the system's libraries (its prebuilt download is unreachable here).
  CKJS_LINKING=dynamic npm install --no-audit --no-fund
else
  echo "node_modules is up to date"
fi

step "PostgreSQL (for @weir/recovery)"
WEIR_PG_URL="$(bash scripts/postgres.sh up)"
export WEIR_PG_URL
echo "$WEIR_PG_URL"

if [ -f scripts/kafka.sh ] && [ -z "${WEIR_KAFKA_BROKERS:-}" ]; then
  step "Kafka broker (for @weir/connectors-kafka)"
  WEIR_KAFKA_BROKERS="$(bash scripts/kafka.sh up)"
  export WEIR_KAFKA_BROKERS
  echo "$WEIR_KAFKA_BROKERS"
fi

# (Who sets WEIR_JAEGER_OTLP also sets WEIR_JAEGER_QUERY and WEIR_JAEGER_METRICS_FILE.)
if [ -f scripts/jaeger.sh ] && [ -z "${WEIR_JAEGER_OTLP:-}" ]; then
  step "Jaeger (for @weir/tracing; the first run builds it with Go, which takes minutes)"
  jaeger_urls="$(bash scripts/jaeger.sh up)"
  WEIR_JAEGER_OTLP="$(sed -n 1p <<<"$jaeger_urls")"
  WEIR_JAEGER_QUERY="$(sed -n 2p <<<"$jaeger_urls")"
  WEIR_JAEGER_METRICS_FILE="$(bash scripts/jaeger.sh metrics-file)"
  export WEIR_JAEGER_OTLP WEIR_JAEGER_QUERY WEIR_JAEGER_METRICS_FILE
  printf '%s\n' "$WEIR_JAEGER_OTLP" "$WEIR_JAEGER_QUERY" "$WEIR_JAEGER_METRICS_FILE"
fi

step "type-check and test every package"
nx_flags=(--outputStyle=stream --parallel=1)
if [ -n "${CI:-}" ]; then nx_flags+=(--skip-nx-cache); fi
npx nx run-many -t typecheck test "${nx_flags[@]}"

step "done: every package type-checked and tested"
