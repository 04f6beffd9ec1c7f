#!/usr/bin/env python3
"""TLS against a real duckpond server on 127.0.0.1: a throwaway CA and a
server certificate for localhost and 127.0.0.1 are made here with the
openssl command (never committed); psql, psycopg2 and node-postgres
connect with sslmode=verify-full and run a query; a wrong CA is refused
by the clients; TLS 1.1 is refused by the server and the failure logged;
plaintext to a server with --tls-required is refused with 28000 "no
encryption"; bytes sent after SSLRequest and before the handshake end the
connection; a handshake that stalls is closed at the authentication
deadline; curl --cacert reaches the HTTPS API and plain HTTP does not;
an unknown user's SCRAM salt is the same on every try and another for
another name; the start-up refusals of a non-loopback listen address."""
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import warnings

import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import dptest  # noqa: E402
import pgraw  # noqa: E402
from dptest import check  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)  # TLS 1.1 is asked for on purpose
HERE = os.path.dirname(os.path.abspath(__file__))
work = tempfile.mkdtemp(prefix="duckpond-tls-")
PASSWORD = "tls-test-password"


def run(*cmd, stdin=None):
    """Runs a command; returns (exit status, stdout + stderr)."""
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def make_ca(name):
    """A throwaway CA in work/name.crt and .key."""
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        "/CN=duckpond test CA " + name, "-keyout", f"{work}/{name}.key", "-out", f"{work}/{name}.crt")
    return f"{work}/{name}.crt"


def make_server_cert(ca):
    """work/server.crt and .key, for localhost and 127.0.0.1, signed by the CA ca."""
    ext = f"{work}/ext.cnf"
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", f"{work}/server.key", "-out", f"{work}/server.csr")
    rc, out = run("openssl", "x509", "-req", "-in", f"{work}/server.csr", "-CA", f"{work}/{ca}.crt",
                  "-CAkey", f"{work}/{ca}.key", "-CAcreateserial", "-days", "2", "-extfile", ext,
                  "-out", f"{work}/server.crt")
    if rc != 0:
        raise RuntimeError(out)


def log_text(proc):
    with open(proc.log_path, errors="backslashreplace") as f:
        return f.read()


def tls_context(cafile, **kw):
    ctx = ssl.create_default_context(cafile=cafile)
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def clients_verify_full(port, ca, wrong_ca):
    """psql, psycopg2 and node-postgres with verify-full and the test CA; a wrong CA refused."""
    env = {**os.environ, "PGPASSWORD": PASSWORD}
    conninfo = f"host=localhost port={port} user=tester dbname=duckpond sslmode=verify-full sslrootcert={ca}"
    p = subprocess.run(["psql", "-X", "-A", "-t", "-c", "select 40 + 2", "-c", "\\conninfo", conninfo],
                       capture_output=True, text=True, env=env, timeout=30)
    check("psql connects with sslmode=verify-full and queries", p.returncode == 0 and p.stdout.startswith("42\n")
          and "SSL connection (protocol: TLSv1." in p.stdout, p.stdout + p.stderr)
    p = subprocess.run(["psql", "-X", "-A", "-t", "-c", "select 1",
                        f"host=127.0.0.1 port={port} user=tester dbname=duckpond sslmode=verify-full "
                        f"sslrootcert={wrong_ca}"], capture_output=True, text=True, env=env, timeout=30)
    check("psql refuses the certificate of another CA", p.returncode != 0 and "certificate verify failed" in p.stderr,
          p.stderr)

    conn = psycopg2.connect(host="127.0.0.1", port=port, user="tester", password=PASSWORD, dbname="duckpond",
                            sslmode="verify-full", sslrootcert=ca)
    cur = conn.cursor()
    cur.execute("select 'secret ' || 7")
    check("psycopg2 connects with sslmode=verify-full (127.0.0.1) and queries",
          cur.fetchone() == ("secret 7",) and conn.info.ssl_in_use, conn.info.ssl_attribute("protocol"))
    check("psycopg2's TLS is 1.2 or newer", conn.info.ssl_attribute("protocol") in ("TLSv1.2", "TLSv1.3"),
          conn.info.ssl_attribute("protocol"))
    conn.close()


def node_verify_full(port, ca, wrong_ca):
    """node-postgres with the CA given (rejectUnauthorized, so the name is checked too); a wrong CA refused."""
    script = r"""
const fs = require('fs');
const { Client } = require(process.argv[1]);
const c = new Client({ host: 'localhost', port: +process.argv[2], user: 'tester', password: process.argv[3],
  database: 'duckpond', ssl: { ca: fs.readFileSync(process.argv[4]), rejectUnauthorized: true } });
c.connect().then(() => c.query('select $1::int * 2 as v', [21]))
  .then((r) => { console.log('value ' + r.rows[0].v + ' encrypted ' + c.connection.stream.encrypted); return c.end(); })
  .catch((e) => { console.log('error ' + e.message); process.exit(1); });
"""
    p = subprocess.run(["node", "-e", script, os.path.join(HERE, "node_modules", "pg"), str(port), PASSWORD, ca],
                       capture_output=True, text=True, timeout=60)
    check("node-postgres connects with TLS verified against the test CA and queries",
          p.returncode == 0 and "value 42 encrypted true" in p.stdout, p.stdout + p.stderr)
    p = subprocess.run(["node", "-e", script, os.path.join(HERE, "node_modules", "pg"), str(port), PASSWORD,
                        wrong_ca], capture_output=True, text=True, timeout=60)
    check("node-postgres refuses the certificate of another CA", p.returncode != 0 and "error" in p.stdout,
          p.stdout + p.stderr)


def stalled_handshakes(port):
    """An SSLRequest and then nothing, or half a ClientHello: closed at the authentication deadline."""
    socks = []
    for tail in (b"", b"\x16\x03\x01\x02"):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(struct.pack("!ii", 8, pgraw.SSL_REQUEST))
        answer = sock.recv(1)
        sock.sendall(tail)
        socks.append((sock, answer))
    t0 = time.monotonic()
    ends = []
    for sock, answer in socks:
        try:
            data = sock.recv(100)  # blocks until the server closes it (10 s at most)
        except OSError:
            data = b""
        ends.append((answer, data, time.monotonic() - t0))
        sock.close()
    check("a stalled TLS handshake is closed at --authentication-timeout",
          all(a == b"S" and d == b"" and 1.5 <= t < 6 for a, d, t in ends), ends)


def plaintext_refused(proc, port, ca):
    """--tls-required: plaintext refused with 28000; TLS 1.1 refused and logged; data before the handshake."""
    sock = pgraw.connect(port)
    pgraw.startup(sock, "tester")
    kind, body = pgraw.read_msg(sock)
    fields = pgraw.error_fields(body)
    check("a plaintext startup is refused with FATAL 28000 \"no encryption\"",
          kind == b"E" and fields.get("S") == "FATAL" and fields.get("C") == "28000"
          and "no encryption" in fields.get("M", ""), (kind, fields))
    sock.close()
    p = subprocess.run(["psql", "-X", "-c", "select 1",
                        f"host=127.0.0.1 port={port} user=tester dbname=duckpond sslmode=disable"],
                       capture_output=True, text=True, env={**os.environ, "PGPASSWORD": PASSWORD}, timeout=30)
    check("psql with sslmode=disable is told why", p.returncode != 0 and "no encryption" in p.stderr
          and "sslmode=require" in p.stderr, p.stderr)
    try:
        psycopg2.connect(host="127.0.0.1", port=port, user="tester", password=PASSWORD, dbname="duckpond",
                         sslmode="disable")
        check("psycopg2 with sslmode=disable is refused", False)
    except psycopg2.OperationalError as e:
        check("psycopg2 with sslmode=disable is refused", "no encryption" in str(e), str(e))

    try:
        pgraw.connect(port, tls_context(ca, maximum_version=ssl.TLSVersion.TLSv1_1,
                                        minimum_version=ssl.TLSVersion.TLSv1))
        check("a TLS 1.1 client is refused", False)
    except (ssl.SSLError, ConnectionError, OSError) as e:
        check("a TLS 1.1 client is refused", True, str(e))  # the server's log says it was the server

    sock = pgraw.connect(port)
    sock.sendall(struct.pack("!ii", 8, pgraw.SSL_REQUEST) + b"injected")
    kind, body = pgraw.read_msg(sock)
    fields = pgraw.error_fields(body)
    check("bytes after SSLRequest, before the handshake, end the connection (08P01)",
          kind == b"E" and fields.get("C") == "08P01" and "unencrypted data" in fields.get("M", ""), (kind, fields))
    sock.close()
    dptest.stop(proc)
    log = log_text(proc)
    check("the TLS 1.1 handshake failure is logged with its reason",
          "closed: TLS handshake failed:" in log and "unsupported protocol" in log, log[-2000:])
    check("the refused plaintext startup is logged", "FATAL 28000: no encryption" in log, log[-2000:])
    check("the stalled handshakes are logged as authentication timeouts",
          log.count("closed: authentication timeout") == 2, log[-2000:])


def https(http_port, ca):
    rc, out = run("curl", "-sS", "--max-time", "20", "--cacert", ca, f"https://localhost:{http_port}/health")
    check("curl --cacert reaches the HTTPS API", rc == 0 and '"status":"ok"' in out, out)
    rc, out = run("curl", "-sS", "--max-time", "20", "--cacert", ca, "-H", "Content-Type: application/json",
                  "-d", '{"sql": "select 6 * 7 as v"}', f"https://127.0.0.1:{http_port}/v1/query")
    check("a query over HTTPS without a token is refused (401)", rc == 0 and "28000" in out, out)
    rc, out = run("curl", "-sS", "--max-time", "20", "--tlsv1.1", "--tls-max", "1.1", "--cacert", ca,
                  f"https://localhost:{http_port}/health")
    check("HTTPS refuses TLS 1.1", rc != 0, out)
    rc, out = run("curl", "-sS", "--max-time", "20", f"http://127.0.0.1:{http_port}/health")
    check("plain HTTP gets no answer from the HTTPS port", rc != 0 and '"status"' not in out, out)


def mock_salts(port, ca, users_file):
    tls = tls_context(ca)
    a1 = pgraw.scram_salt(port, "ghost", tls)
    a2 = pgraw.scram_salt(port, "ghost", tls)
    b = pgraw.scram_salt(port, "phantom", tls)
    real = pgraw.scram_salt(port, "tester", tls)
    with open(users_file) as f:
        stored = [line.split(":")[3].split("$")[0] for line in f if line.startswith("tester:")][0]
    check("an unknown user's SCRAM salt is the same on every try", a1 == a2, (a1, a2))
    check("another unknown name gets another salt", a1 != b, (a1, b))
    check("unknown users' salts look like real ones (16 bytes)", len(a1) == len(real) == 24, (a1, real))
    check("a real user's salt is the one in the users file", real == stored, (real, stored))


def exposure_refused(users_file):
    """Non-loopback listen addresses: refused before anything listens (exit 2) without users or TLS."""
    cases = [
        ("a non-loopback address without a users file", ["--listen", "0.0.0.0"], "without a users file"),
        ("a non-loopback address without TLS", ["--listen", "0.0.0.0", "--users", users_file], "without TLS"),
        ("--tls-required without a certificate", ["--tls-required"], "needs a certificate"),
        ("--tls-cert without --tls-key", ["--tls-cert", f"{work}/server.crt"], "needs both"),
        ("a key that does not match the certificate",
         ["--tls-cert", f"{work}/server.crt", "--tls-key", f"{work}/ca.key"], "private key"),
    ]
    for name, args, words in cases:
        p = subprocess.run([dptest.BIN, "serve", "--db", ":memory:", "--pg-port", "0", "--http-port", "0", *args],
                           capture_output=True, text=True, timeout=30)
        check("refused at start: " + name, p.returncode == 2 and words in p.stderr, (p.returncode, p.stderr))


def main():
    ca = make_ca("ca")
    wrong_ca = make_ca("other")
    make_server_cert("ca")
    users_file = f"{work}/users"
    rc, out = run(dptest.BIN, "passwd", "--users", users_file, "tester", stdin=PASSWORD + "\n")
    if rc != 0:
        raise RuntimeError(out)
    http_port = dptest.free_port()
    tls_args = ["--tls-cert", f"{work}/server.crt", "--tls-key", f"{work}/server.key"]
    proc, port = dptest.start(work, "--users", users_file, *tls_args, "--tls-required",
                              "--http-port", str(http_port), "--authentication-timeout", "2")
    try:
        clients_verify_full(port, ca, wrong_ca)
        https(http_port, ca)
        mock_salts(port, ca, users_file)
        stalled_handshakes(port)
        plaintext_refused(proc, port, ca)
    finally:
        if proc.poll() is None:
            dptest.stop(proc)
    # TLS offered, not required: plaintext still works (trust on loopback), and sslmode=require too
    proc, port = dptest.start(work, *tls_args)
    try:
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        outs = [subprocess.run(["psql", "-X", "-A", "-t", "-c", "select 1",
                                f"host=127.0.0.1 port={port} user=tester dbname=duckpond sslmode={mode}"],
                               capture_output=True, text=True, env=env, timeout=30) for mode in ("disable", "require")]
        check("TLS offered: sslmode=disable and sslmode=require both connect",
              all(o.returncode == 0 and o.stdout == "1\n" for o in outs), [o.stdout + o.stderr for o in outs])
        # trust here: node-postgres's startup parameters meet the users file's SCRAM elsewhere
        node_verify_full(port, ca, wrong_ca)
    finally:
        dptest.stop(proc)
    exposure_refused(users_file)


try:
    main()
finally:
    if os.environ.get("KEEP_WORK"):
        print("work kept in", work)
    else:
        shutil.rmtree(work, ignore_errors=True)
dptest.finish()
