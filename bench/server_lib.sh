# Shared by bench/compare.sh and bench/load.sh (sourced, not run): the `simgate serve` process
# both benchmarks start on loopback. Expects $PYTHON (the project venv's python); uses and resets
# the global SERVER_PID.

# Stops the server: SIGTERM, up to 10 s for in-flight requests, then SIGKILL.
stop_server() {
    if [[ -n ${SERVER_PID:-} ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}

# Prints a free loopback TCP port.
free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
