#!/usr/bin/env bash
# A throwaway Jaeger all-in-one (Jaeger v2, an OpenTelemetry Collector distribution) with in-memory
# storage on 127.0.0.1, for the tests of @weir/tracing.
#   scripts/jaeger.sh up            build the binary (Go) if missing, start if not running; prints the
#                                   OTLP/HTTP base URL http://127.0.0.1:PORT (POST /v1/traces, /v1/metrics)
#                                   and, on a second line, the query base URL http://127.0.0.1:PORT
#                                   (/api/services, /api/traces, the UI)
#   scripts/jaeger.sh url           prints the OTLP/HTTP base URL of the running instance
#   scripts/jaeger.sh query-url     prints its query base URL
#   scripts/jaeger.sh metrics-file  prints the file the metrics it receives are written to
#   scripts/jaeger.sh down          stops it (spans are kept in memory only and are lost; `up` brings it
#                                   back on the same ports)
#   scripts/jaeger.sh clean         stops it and deletes its state
# Idempotent. Environment:
#   WEIR_JAEGER_DIR      this instance's state (ports, config, pid, logs); default .weir-cache/jaeger.
#                        Give another directory to run a second, independent instance.
#   WEIR_JAEGER_VERSION  github.com/jaegertracing/jaeger version, from the Go module proxy; default v1.76.0
#   WEIR_CACHE_DIR       where the built binary is cached, outside the clone so that fresh clones on the
#                        same machine reuse it: $WEIR_CACHE_DIR/jaeger/<version>/jaeger (~120 MB; the first
#                        build takes minutes); default ~/.cache/weir
# Needs go (the version Jaeger's go.mod asks for, or GOTOOLCHAIN=auto to fetch it), curl and python3.
#
# Metrics: the OTLP receiver's metrics go to the `debug` exporter (verbosity: detailed,
# use_internal_logger: false), which writes a text dump of each batch to the process's stdout; stdout is
# sent to $WEIR_JAEGER_DIR/metrics.log (`metrics-file`), truncated at every start. Each metric appears there
# as "-> Name: <name>" followed by its data points ("Value: ...", "-> <attribute>: Str(...)").
# This build has no `file` exporter; its exporters are debug, otlp, otlphttp, nop, jaeger_storage_exporter,
# kafka and prometheus (cmd/jaeger/internal/components.go). The collector's own log (stderr) is jaeger.log.
# Listeners: OTLP/HTTP only (no gRPC), the query HTTP and gRPC servers, all on free 127.0.0.1 ports; the
# collector's own telemetry (metrics on :8888 by default) is off, and no health-check, zpages, pprof,
# expvar or remote-sampling extension is started.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=lib/service.sh
source "$root/scripts/lib/service.sh"
version="${WEIR_JAEGER_VERSION:-v1.76.0}"
dir="${WEIR_JAEGER_DIR:-$root/.weir-cache/jaeger}"
cache="${WEIR_CACHE_DIR:-$HOME/.cache/weir}/jaeger/$version"
bin="$cache/jaeger"
pkg="github.com/jaegertracing/jaeger/cmd/jaeger"

log() { echo "jaeger.sh: $*" >&2; }

build_binary() {
  [ -x "$bin" ] && return 0
  command -v go >/dev/null || { log "go not found (install Go from https://go.dev/dl)"; exit 1; }
  mkdir -p "$cache/src"
  # One build at a time per cache (two fresh clones starting together); the lock is let go before
  # jaeger starts, so that it does not inherit it.
  exec 9>"$cache/.build.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if [ ! -x "$bin" ]; then
    log "building $pkg@$version with $(go env GOVERSION) into $bin (several minutes the first time)"
    local started=$SECONDS
    (
      cd "$cache/src"
      # A scratch module whose only dependency is Jaeger, as a tool (go get -tool needs Go 1.24+).
      [ -f go.mod ] || go mod init weir.local/jaeger
      go get -tool "$pkg@$version"
      go build -trimpath -buildvcs=false \
        -ldflags "-X github.com/jaegertracing/jaeger/internal/version.latestVersion=$version" \
        -o "$bin.tmp.$$" "$pkg"
    ) >&2
    mv -f "$bin.tmp.$$" "$bin"
    log "built in $((SECONDS - started)) s: $bin ($(du -m "$bin" | cut -f1) MB)"
  fi
  exec 9>&-
}

url() { echo "http://127.0.0.1:$(cat "$dir/otlp.port")"; }
query_url() { echo "http://127.0.0.1:$(cat "$dir/query.port")"; }

# The instance is ours when the pid in the pid file is alive and is a jaeger started on this instance's config.
running() {
  [ -f "$dir/jaeger.pid" ] || return 1
  local pid
  pid="$(cat "$dir/jaeger.pid")"
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/config.yaml"
}

write_config() {
  local oport="$1" qport="$2" gport="$3"
  cat > "$dir/config.yaml" <<EOF
# Written by scripts/jaeger.sh: Jaeger $version with in-memory storage, everything on 127.0.0.1.
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    # No batch processor: a span is stored (and a metric written) before the POST is answered.
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
    metrics:
      receivers: [otlp]
      exporters: [debug]
  telemetry:
    # The collector's own metrics would listen on :8888; they are not needed.
    metrics:
      level: none
    traces:
      level: none
    logs:
      level: info

extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memstore
    # Otherwise the query service traces itself to the default OTLP endpoint (localhost:4317).
    enable_tracing: false
    http:
      endpoint: 127.0.0.1:$qport
    grpc:
      endpoint: 127.0.0.1:$gport

receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:$oport

exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
  debug:
    verbosity: detailed
    # To stdout, which scripts/jaeger.sh sends to metrics.log.
    use_internal_logger: false
    sampling_initial: 1000
    sampling_thereafter: 1
EOF
}

ready() {
  curl -sf --max-time 5 -o /dev/null "$(query_url)/api/services" \
    && curl -sf --max-time 5 -o /dev/null -X POST -H 'Content-Type: application/json' \
      -d '{"resourceSpans":[]}' "$(url)/v1/traces"
}

wait_ready() {
  local deadline=$((SECONDS + 120))
  while true; do
    if ! kill -0 "$(cat "$dir/jaeger.pid")" 2>/dev/null; then
      log "jaeger exited while starting; last lines of $dir/jaeger.log:"
      tail -n 30 "$dir/jaeger.log" >&2 || true
      exit 1
    fi
    ready && return 0
    if [ $SECONDS -ge $deadline ]; then
      log "jaeger did not become ready within 120 s; see $dir/jaeger.log"
      exit 1
    fi
    sleep 0.5
  done
}

start() {
  command -v curl >/dev/null || { log "curl not found (apt-get install curl)"; exit 1; }
  build_binary
  mkdir -p "$dir"
  local oport qport gport
  # Keep the ports of an existing instance (clients of a stopped instance reconnect to the same address).
  if [ -f "$dir/otlp.port" ] && [ -f "$dir/query.port" ] && [ -f "$dir/query-grpc.port" ] \
    && port_free "$(cat "$dir/otlp.port")" && port_free "$(cat "$dir/query.port")" \
    && port_free "$(cat "$dir/query-grpc.port")"; then
    oport="$(cat "$dir/otlp.port")"
    qport="$(cat "$dir/query.port")"
    gport="$(cat "$dir/query-grpc.port")"
  else
    oport="$(free_port)"
    qport="$(free_port)"
    while [ "$qport" = "$oport" ]; do qport="$(free_port)"; done
    gport="$(free_port)"
    while [ "$gport" = "$oport" ] || [ "$gport" = "$qport" ]; do gport="$(free_port)"; done
    echo "$oport" > "$dir/otlp.port"
    echo "$qport" > "$dir/query.port"
    echo "$gport" > "$dir/query-grpc.port"
  fi
  write_config "$oport" "$qport" "$gport"
  # setsid: jaeger outlives the shell (and the test run) that started it.
  setsid nohup "$bin" --config "$dir/config.yaml" > "$dir/metrics.log" 2> "$dir/jaeger.log" < /dev/null &
  echo $! > "$dir/jaeger.pid"
  wait_ready
}

stop() {
  running || { rm -f "$dir/jaeger.pid"; return 0; }
  stop_pid_file "$dir/jaeger.pid"
}

need_running() {
  running || { log "not running (run 'scripts/jaeger.sh up')"; exit 1; }
}

cmd="${1:-up}"
case "$cmd" in
  up)
    running || start
    url
    query_url
    ;;
  url)
    need_running
    url
    ;;
  query-url)
    need_running
    query_url
    ;;
  metrics-file)
    need_running
    echo "$dir/metrics.log"
    ;;
  down)
    stop
    ;;
  clean)
    stop
    rm -rf "$dir"
    ;;
  *)
    echo "usage: scripts/jaeger.sh up|url|query-url|metrics-file|down|clean" >&2; exit 2 ;;
esac
