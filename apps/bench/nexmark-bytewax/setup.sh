#!/usr/bin/env bash
# The Bytewax side of the Nexmark benchmark: a Python venv with bytewax 0.21.1, outside the repo's
# tracked files (in $WEIR_CACHE_DIR, default <repo>/.weir-cache, which .gitignore covers).
#   apps/bench/nexmark-bytewax/setup.sh      create or reuse the venv; prints its python's path
# Idempotent: a venv whose bytewax is already 0.21.1 is reused without touching the network.
# Progress goes to stderr; stdout holds only the python path, so callers can do py=$(setup.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cache="${WEIR_CACHE_DIR:-$root/.weir-cache}"
venv="$cache/bytewax-venv"
py="$venv/bin/python"
want="0.21.1"
python="${WEIR_PYTHON:-python3}"

have_bytewax() {
  [ -x "$py" ] && [ "$("$py" -c 'import importlib.metadata as m; print(m.version("bytewax"))' 2>/dev/null)" = "$want" ]
}

if have_bytewax; then echo "$py"; exit 0; fi

command -v "$python" >/dev/null || {
  echo "setup.sh: no '$python' on PATH; install Python 3.8-3.12 (bytewax $want has wheels for those) or set WEIR_PYTHON" >&2
  exit 1
}

# python3 -m venv needs the venv and ensurepip modules; Debian splits them into python3-venv.
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
  if command -v apt-get >/dev/null; then
    echo "setup.sh: installing python3-venv from apt" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
  else
    echo "setup.sh: '$python' lacks the venv/ensurepip modules and there is no apt-get; install python3-venv" >&2
    exit 1
  fi
fi

mkdir -p "$cache"
if [ ! -x "$py" ]; then
  echo "setup.sh: creating venv $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv" >&2
fi
echo "setup.sh: installing bytewax==$want into $venv" >&2
"$py" -m pip install -q --disable-pip-version-check "bytewax==$want" >&2
have_bytewax || { echo "setup.sh: bytewax $want not importable from $py after pip install" >&2; exit 1; }
echo "$py"
