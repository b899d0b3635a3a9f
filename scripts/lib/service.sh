# Helpers shared by the scripts that run a throwaway service for the tests (kafka.sh,
# jaeger.sh): loopback ports, and stopping a process we started. Sourced, not run.

# A port on 127.0.0.1 nothing listens on now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Whether port $1 on 127.0.0.1 can be bound (to keep a service's port across restarts).
port_free() {
  python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1",int(sys.argv[1]))); s.close()' "$1" 2>/dev/null
}

# Stop the process whose pid is in file $1: TERM, up to 30 s to exit, then KILL; removes the file.
stop_pid_file() {
  local file="$1" pid i
  pid="$(cat "$file")"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$file"
}
