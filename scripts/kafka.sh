#!/usr/bin/env bash
# A throwaway single-node Apache Kafka broker (KRaft: broker + controller in one
# JVM) on 127.0.0.1, for the tests and benchmarks of @weir/connectors-kafka.
#   scripts/kafka.sh up      resolve the jars (Maven) if missing, start if not running; prints 127.0.0.1:PORT
#   scripts/kafka.sh url     prints the bootstrap address of the running broker
#   scripts/kafka.sh down    stops it (its data stays: `up` brings it back on the same port)
#   scripts/kafka.sh clean   stops it and deletes its data
# Idempotent. Environment:
#   WEIR_KAFKA_DIR       this instance's state (ports, config, data, log); default .weir-cache/kafka.
#                        Give another directory to run a second, independent broker.
#   WEIR_KAFKA_VERSION   org.apache.kafka:kafka_2.13 version from Maven Central; default 4.1.1
#   WEIR_KAFKA_LIB       where the jars are cached; default .weir-cache/kafka-lib/<version>
#   WEIR_KAFKA_HEAP      broker heap; default 512m
# Needs java (17+) and mvn on the PATH. Topics are never created automatically.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=lib/service.sh
source "$root/scripts/lib/service.sh"
version="${WEIR_KAFKA_VERSION:-4.1.1}"
dir="${WEIR_KAFKA_DIR:-$root/.weir-cache/kafka}"
lib="${WEIR_KAFKA_LIB:-$root/.weir-cache/kafka-lib/$version}"
heap="${WEIR_KAFKA_HEAP:-512m}"

log() { echo "kafka.sh: $*" >&2; }

# shellcheck source=lib/kafka.sh
source "$root/scripts/lib/kafka.sh"

url() { echo "127.0.0.1:$(cat "$dir/broker.port")"; }

start() {
  kafka_need_java
  kafka_resolve_jars
  mkdir -p "$dir"
  local bport cport
  # Keep the ports of an existing instance (clients of a stopped broker reconnect to the same address).
  if [ -f "$dir/broker.port" ] && [ -f "$dir/controller.port" ] && [ -f "$dir/data/meta.properties" ] \
    && port_free "$(cat "$dir/broker.port")" && port_free "$(cat "$dir/controller.port")"; then
    bport="$(cat "$dir/broker.port")"
    cport="$(cat "$dir/controller.port")"
  else
    rm -rf "$dir/data"
    bport="$(free_port)"
    cport="$(free_port)"
    while [ "$cport" = "$bport" ]; do cport="$(free_port)"; done
    echo "$bport" > "$dir/broker.port"
    echo "$cport" > "$dir/controller.port"
  fi
  kafka_write_config 127.0.0.1 "$bport" "$cport" false
  kafka_format
  kafka_launch
  kafka_wait_ready 127.0.0.1 "$bport"
}

stop() {
  kafka_running || { rm -f "$dir/broker.pid"; return 0; }
  stop_pid_file "$dir/broker.pid"
}

cmd="${1:-up}"
case "$cmd" in
  up)
    kafka_running || start
    url
    ;;
  url)
    kafka_running || { log "not running (run 'scripts/kafka.sh up')"; exit 1; }
    url
    ;;
  down)
    stop
    ;;
  clean)
    stop
    rm -rf "$dir"
    ;;
  *)
    echo "usage: scripts/kafka.sh up|url|down|clean" >&2; exit 2 ;;
esac
