# lib.bash -- what the bench/*.sh scripts share, sourced from the top of the
# tree: a temporary work directory, free ports on 127.0.0.1, duckpond and
# PostgreSQL 15 servers started there (PostgreSQL initdb'd into the work
# directory, run as the postgres user when we are root, since it refuses
# root), all stopped and removed on exit; peak RSS and ratios.
#
# After sourcing: BIN (the duckpond binary), PGBIN, WORK, PIDS.

BIN=${DUCKPOND_BIN:-$PWD/build/duckpond}
PGBIN=/usr/lib/postgresql/15/bin
WORK=$(mktemp -d /tmp/duckpond-bench-XXXXXX)
chmod 755 "$WORK"
PIDS=()

# Stops every server started here (duckpond gets SIGTERM and is waited for,
# so its shutdown checkpoint does not race the removal) and removes WORK.
bench_cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ -f "$WORK/pg/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap bench_cleanup EXIT

# PostgreSQL refuses to run as root: run it as the postgres user then.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_duckpond NAME [serve args]: starts a server on WORK/NAME.duckdb with
# the PostgreSQL protocol and HTTP on free ports; sets PORT_<NAME> (pg),
# HTTP_<NAME> and PID_<NAME>. Exits with the server's log if it does not
# come up. Loopback users are admins here: the benchmarks CHECKPOINT
# between cases, which the default role (rw) may not.
start_duckpond() {
    local name=$1 http
    shift
    http=$(free_port)
    "$BIN" serve --db "$WORK/$name.duckdb" --pg-port 0 --http-port "$http" --port-file "$WORK/$name.port" \
        --max-connections 200 --trust-role admin "$@" >"$WORK/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 100); do [ -s "$WORK/$name.port" ] && break; sleep 0.1; done
    if [ ! -s "$WORK/$name.port" ]; then
        echo "duckpond $name did not start:" >&2
        cat "$WORK/$name.log" >&2
        exit 1
    fi
    eval "PORT_$name=$(cat "$WORK/$name.port")"
    eval "HTTP_$name=$http"
    eval "PID_$name=$pid"
}

# start_postgres [NAME [OPTIONS]]: PostgreSQL 15 with default durability in
# WORK/NAME (pg) on a free port, with the server OPTIONS given ("-c x=y
# ..."); sets PORT_NAME. Database and user: postgres.
start_postgres() {
    local name=${1:-pg} opts=${2:-} port
    port=$(free_port)
    mkdir -p "$WORK/$name"
    chmod 700 "$WORK/$name"
    [ "$(id -u)" -eq 0 ] && chown postgres "$WORK/$name" && chmod 777 "$WORK"
    as_pg "$PGBIN/initdb" -D "$WORK/$name" -A trust -U postgres >/dev/null
    as_pg "$PGBIN/pg_ctl" -D "$WORK/$name" -l "$WORK/$name.log" -w \
        -o "-p $port -k $WORK -c listen_addresses=127.0.0.1 -c max_connections=200 $opts" start >/dev/null
    eval "PORT_$name=$port"
}

# The postmaster's process id (its children are the backends).
postgres_pid() { head -1 "$WORK/pg/postmaster.pid"; }

peak_rss_mib() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

# ratio A B: A / B with two decimals (0 when B is 0).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
