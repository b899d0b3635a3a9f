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

resolve_jars() {
  [ -f "$lib/.complete" ] && return 0
  command -v mvn >/dev/null || { log "mvn not found (apt-get install maven)"; exit 1; }
  log "resolving org.apache.kafka:kafka_2.13:$version with Maven into $lib"
  mkdir -p "$lib"
  # kafka-tools gives the topic command used to check that metadata requests work;
  # connect-runtime (a web server) is not needed for that. slf4j-simple sends the broker's log to a file.
  cat > "$lib/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>weir.local</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$version</version>
      <exclusions><exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion></exclusions>
    </dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
EOF
  rm -rf "$lib/jars"
  # (-q still prints colour resets on some Maven versions: strip escape codes.)
  mvn -B -q -Dstyle.color=never -f "$lib/pom.xml" dependency:copy-dependencies -DoutputDirectory="$lib/jars" \
    -DincludeScope=runtime 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2
  touch "$lib/.complete"
}

url() { echo "127.0.0.1:$(cat "$dir/broker.port")"; }

# The broker is ours when the pid in the pid file is alive and is a java started on this instance's config.
running() {
  [ -f "$dir/broker.pid" ] || return 1
  local pid
  pid="$(cat "$dir/broker.pid")"
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/server.properties"
}

java_tool() {
  java -Xmx128m -XX:TieredStopAtLevel=1 -Dorg.slf4j.simpleLogger.defaultLogLevel=error -cp "$lib/jars/*" "$@"
}

write_config() {
  local bport="$1" cport="$2"
  cat > "$dir/server.properties" <<EOF
# Written by scripts/kafka.sh: one node that is both broker and KRaft controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$bport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.hours=24
log.segment.bytes=67108864
EOF
}

wait_ready() {
  local deadline=$((SECONDS + 120))
  while true; do
    if ! kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null; then
      log "the broker exited while starting; last lines of $dir/server.log:"
      tail -n 30 "$dir/server.log" >&2 || true
      exit 1
    fi
    # Accepting connections, then answering a metadata request (listing topics).
    if (exec 3<>"/dev/tcp/127.0.0.1/$(cat "$dir/broker.port")") 2>/dev/null \
      && java_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$(url)" --list \
        --command-config <(echo "request.timeout.ms=5000") >/dev/null 2>&1; then
      return 0
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "the broker did not become ready within 120 s; see $dir/server.log"
      exit 1
    fi
    sleep 1
  done
}

start() {
  command -v java >/dev/null || { log "java not found (apt-get install openjdk-17-jre-headless)"; exit 1; }
  resolve_jars
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
  write_config "$bport" "$cport"
  if [ ! -f "$dir/data/meta.properties" ]; then
    local cluster
    cluster="$(java_tool kafka.tools.StorageTool random-uuid)"
    java_tool kafka.tools.StorageTool format -t "$cluster" -c "$dir/server.properties" >/dev/null
  fi
  # setsid: the broker outlives the shell (and the test run) that started it.
  setsid nohup java -Xms256m -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dorg.slf4j.simpleLogger.showDateTime=true \
    -cp "$lib/jars/*" kafka.Kafka "$dir/server.properties" > "$dir/server.log" 2>&1 < /dev/null &
  echo $! > "$dir/broker.pid"
  wait_ready
}

stop() {
  running || { rm -f "$dir/broker.pid"; return 0; }
  stop_pid_file "$dir/broker.pid"
}

cmd="${1:-up}"
case "$cmd" in
  up)
    running || start
    url
    ;;
  url)
    running || { log "not running (run 'scripts/kafka.sh up')"; exit 1; }
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
