#!/usr/bin/env bash
# tls_connect.sh -- what TLS costs a connection: psycopg2 connecting,
# running SELECT 1 and closing, in a loop for SECONDS, against one duckpond
# server that offers TLS, with sslmode=disable and with sslmode=require
# (TLS 1.3, a fresh RSA-2048 certificate of a throwaway CA made here with
# the openssl command), one after the other in each of RUNS rounds, and the
# median of the rounds. Trust on loopback (no users file), so the figures
# are the handshake's cost alone, without SCRAM's.
#
#   bench/tls_connect.sh              (RUNS=3, SECONDS_EACH=3)
#   QUICK=1 bench/tls_connect.sh      (one round of one second)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.bash

PY=/usr/bin/python3 # Debian's psycopg2 lives there
if [ "${QUICK:-0}" = 1 ]; then RUNS=${RUNS:-1} SECONDS_EACH=${SECONDS_EACH:-1}; else
    RUNS=${RUNS:-3} SECONDS_EACH=${SECONDS_EACH:-3}; fi

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=bench CA" \
    -keyout "$WORK/ca.key" -out "$WORK/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$WORK/server.key" \
    -out "$WORK/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$WORK/ext.cnf"
openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" -CAcreateserial \
    -days 1 -extfile "$WORK/ext.cnf" -out "$WORK/server.crt" 2>/dev/null

start_duckpond tls --tls-cert "$WORK/server.crt" --tls-key "$WORK/server.key"

"$PY" - "$PORT_tls" "$RUNS" "$SECONDS_EACH" <<'PY'
import statistics, sys, time
import psycopg2

port, runs, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
modes = ("disable", "require")


def rate(mode):
    """Connections a second: connect, SELECT 1, close, for the given seconds."""
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="bench", dbname="duckpond", sslmode=mode)
        cur = conn.cursor()
        cur.execute("select 1")
        cur.fetchone()
        conn.close()
        n += 1
    return n / (time.monotonic() - t0)


results = {m: [] for m in modes}
for _ in range(runs):
    for m in modes:
        results[m].append(rate(m))
med = {m: statistics.median(v) for m, v in results.items()}
print(f"{'sslmode':<10} {'connections/s (median)':>24} {'runs':>30}")
for m in modes:
    print(f"{m:<10} {med[m]:>24.0f} {' '.join(f'{x:.0f}' for x in results[m]):>30}")
print(f"TLS costs {1000 / med['require'] - 1000 / med['disable']:.2f} ms a connection; "
      f"with TLS {med['require'] / med['disable']:.2f} of the plain rate")
PY
