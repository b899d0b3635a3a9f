#!/usr/bin/env bash
# System packages @weir/connectors-kafka needs, installed with apt when missing:
#   - to build its client (@confluentinc/kafka-javascript compiles librdkafka and links it
#     dynamically: `CKJS_LINKING=dynamic npm install`): libssl-dev zlib1g-dev libzstd-dev
#     libsasl2-dev, and a C/C++ toolchain;
#   - to run the test broker (scripts/kafka.sh): a Java 17+ runtime and Maven.
# Idempotent and quick when everything is there. Run it before `npm install`.
set -euo pipefail

want=()
for pkg in libssl-dev zlib1g-dev libzstd-dev libsasl2-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || want+=("$pkg")
done
command -v g++ >/dev/null || want+=(g++)
command -v make >/dev/null || want+=(make)
command -v python3 >/dev/null || want+=(python3)
command -v java >/dev/null || want+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || want+=(maven)

if [ ${#want[@]} -eq 0 ]; then
  echo "kafka-deps.sh: all present"
  exit 0
fi

sudo=()
if [ "$(id -u)" != "0" ]; then
  command -v sudo >/dev/null || { echo "kafka-deps.sh: need root (or sudo) to install: ${want[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "kafka-deps.sh: installing ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${want[@]}"
