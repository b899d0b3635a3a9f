#!/usr/bin/env bash
# Sanity check of the Jaeger the tests use (scripts/jaeger.sh): sends one span of service
# weir-jaeger-check to /v1/traces and one gauge to /v1/metrics as OTLP/JSON, then confirms that the
# query API lists the service and returns the trace, and that the gauge reached the metrics file.
# Uses WEIR_JAEGER_OTLP, WEIR_JAEGER_QUERY and WEIR_JAEGER_METRICS_FILE when set, else `scripts/jaeger.sh up`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${WEIR_JAEGER_OTLP:-}" ]; then
  urls="$(bash scripts/jaeger.sh up)"
  WEIR_JAEGER_OTLP="$(sed -n 1p <<<"$urls")"
  WEIR_JAEGER_QUERY="$(sed -n 2p <<<"$urls")"
  WEIR_JAEGER_METRICS_FILE="$(bash scripts/jaeger.sh metrics-file)"
fi
otlp="$WEIR_JAEGER_OTLP"
query="${WEIR_JAEGER_QUERY:?WEIR_JAEGER_QUERY is not set}"
metrics="${WEIR_JAEGER_METRICS_FILE:?WEIR_JAEGER_METRICS_FILE is not set}"
service=weir-jaeger-check

fail() { echo "jaeger-check: FAIL: $*" >&2; exit 1; }

post() {
  local path="$1" body="$2" code
  code="$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "$body" "$otlp$path")"
  case "$code" in 2??) echo "POST $otlp$path -> $code" ;; *) fail "POST $otlp$path -> $code" ;; esac
}

# Poll for up to 10 s until the command succeeds.
eventually() {
  local i
  for i in $(seq 1 20); do
    "$@" && return 0
    sleep 0.5
  done
  return 1
}

trace_id="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
span_id="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
run="$trace_id"
now="$(date +%s%N)"
start=$((now - 5000000))
resource='{"attributes":[{"key":"service.name","value":{"stringValue":"'$service'"}}]}'
echo "service $service, trace $trace_id"

post /v1/traces '{"resourceSpans":[{"resource":'"$resource"',"scopeSpans":[{"scope":{"name":"'$service'"},"spans":[{
  "traceId":"'$trace_id'","spanId":"'$span_id'","name":"check-span","kind":2,
  "startTimeUnixNano":"'$start'","endTimeUnixNano":"'$now'",
  "attributes":[{"key":"weir.check.run","value":{"stringValue":"'$run'"}}]}]}]}]}'

post /v1/metrics '{"resourceMetrics":[{"resource":'"$resource"',"scopeMetrics":[{"scope":{"name":"'$service'"},"metrics":[{
  "name":"weir.jaeger.check.gauge","unit":"1","description":"scripts/jaeger-check.sh",
  "gauge":{"dataPoints":[{"asDouble":42.5,"timeUnixNano":"'$now'",
    "attributes":[{"key":"weir.check.run","value":{"stringValue":"'$run'"}}]}]}}]}]}]}'

has_service() { curl -sf --max-time 5 "$query/api/services" | grep -q "\"$service\""; }
eventually has_service || fail "$service not in $query/api/services: $(curl -s "$query/api/services")"
echo "GET $query/api/services -> $(curl -sf "$query/api/services")"

has_trace() { curl -sf --max-time 5 "$query/api/traces/$trace_id" | grep -q '"operationName":"check-span"'; }
eventually has_trace || fail "trace $trace_id not found at $query/api/traces/$trace_id"
echo "GET $query/api/traces/$trace_id -> span check-span of $service found"

has_metric() { grep -qF "Str($run)" "$metrics" && grep -qF 'Name: weir.jaeger.check.gauge' "$metrics"; }
eventually has_metric || fail "gauge weir.jaeger.check.gauge (run $run) not in $metrics"
echo "metrics file $metrics:"
# The dump of the batch holding this run's gauge.
awk -v run="Str($run)" '/^ResourceMetrics #0/ { block = "" } { block = block $0 "\n" }
  index($0, run) { found = 1 } found && /^[[:space:]]*$/ { exit } END { printf "%s", block }' "$metrics" | sed 's/^/  | /'
echo "jaeger-check: OK"
