# The single-node KRaft broker (broker + controller in one JVM) that kafka.sh runs on 127.0.0.1 and
# netns.sh runs inside a network namespace: jars, config, start, readiness, liveness. Sourced, not run.
# The caller sets:
#   version    org.apache.kafka:kafka_2.13 version
#   lib        jar cache (<lib>/jars/*.jar, <lib>/.complete once resolved)
#   dir        this instance's state: server.properties, data/, server.log, broker.pid
#   heap       broker heap (-Xmx)
#   kafka_ns   optional: a network namespace to run java (and the readiness checks) in; empty = this one
# and defines log MESSAGE.

# CMD… in kafka_ns (or right here when it is empty). `ip netns exec` execs CMD: the pid stays CMD's.
kafka_in_ns() {
  if [ -n "${kafka_ns:-}" ]; then ip netns exec "$kafka_ns" "$@"; else "$@"; fi
}

kafka_need_java() {
  command -v java >/dev/null || { log "java not found (apt-get install openjdk-17-jre-headless)"; exit 1; }
}

# Resolve the broker's jars with Maven into $lib unless already there. One resolution at a time per cache
# (kafka.sh and netns.sh may start together on a fresh machine).
kafka_resolve_jars() {
  [ -f "$lib/.complete" ] && return 0
  command -v mvn >/dev/null || { log "mvn not found (apt-get install maven)"; exit 1; }
  mkdir -p "$lib"
  exec 8>"$lib/.resolve.lock"
  flock 8
  if [ ! -f "$lib/.complete" ]; then
    log "resolving org.apache.kafka:kafka_2.13:$version with Maven into $lib"
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
  fi
  exec 8>&-
}

# The broker is ours when the pid in the pid file is alive and is a java started on this instance's config.
kafka_running() {
  [ -f "$dir/broker.pid" ] || return 1
  local pid
  pid="$(cat "$dir/broker.pid")"
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/server.properties"
}

kafka_java_tool() {
  kafka_in_ns java -Xmx128m -XX:TieredStopAtLevel=1 -Dorg.slf4j.simpleLogger.defaultLogLevel=error -cp "$lib/jars/*" "$@"
}

# kafka_write_config HOST BPORT CPORT AUTO_CREATE: the client listener on HOST:BPORT (advertised as such),
# the controller on 127.0.0.1:CPORT (the loopback of kafka_ns when set); AUTO_CREATE is true or false.
kafka_write_config() {
  local host="$1" bport="$2" cport="$3" auto_create="$4"
  cat > "$dir/server.properties" <<EOF
# Written by scripts/$(basename "$0"): one node that is both broker and KRaft controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://$host:$bport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://$host:$bport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
auto.create.topics.enable=$auto_create
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

# Format the data directory (a new cluster id) unless it already is.
kafka_format() {
  [ -f "$dir/data/meta.properties" ] && return 0
  local cluster
  cluster="$(kafka_java_tool kafka.tools.StorageTool random-uuid)"
  kafka_java_tool kafka.tools.StorageTool format -t "$cluster" -c "$dir/server.properties" >/dev/null
}

# Start the JVM in the background (setsid: it outlives the shell and the test run that started it);
# its pid goes to $dir/broker.pid. The log is truncated unless $1 is "append".
kafka_launch() {
  local pre=()
  if [ -n "${kafka_ns:-}" ]; then pre=(ip netns exec "$kafka_ns"); fi
  if [ "${1:-}" = append ]; then exec 7>>"$dir/server.log"; else exec 7>"$dir/server.log"; fi
  setsid nohup "${pre[@]}" java -Xms256m -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dorg.slf4j.simpleLogger.showDateTime=true \
    -cp "$lib/jars/*" kafka.Kafka "$dir/server.properties" >&7 2>&1 < /dev/null 7>&- &
  echo $! > "$dir/broker.pid"
  exec 7>&-
}

# kafka_wait_ready HOST PORT: accepting connections, then answering a metadata request (listing topics).
kafka_wait_ready() {
  local host="$1" port="$2" deadline=$((SECONDS + 120))
  while true; do
    if ! kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null; then
      log "the broker exited while starting; last lines of $dir/server.log:"
      tail -n 30 "$dir/server.log" >&2 || true
      exit 1
    fi
    if kafka_in_ns bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null \
      && kafka_java_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$host:$port" --list \
        --command-config <(echo "request.timeout.ms=5000") >/dev/null 2>&1; then
      return 0
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "the broker did not become ready within 120 s; see $dir/server.log"
      exit 1
    fi
    sleep 0.5
  done
}
