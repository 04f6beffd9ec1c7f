#!/usr/bin/env python3
"""The line protocol client of bench/ilp.sh: sends the lines of FILE to a
duckpond server and prints the seconds from the first byte sent until
every row is acknowledged.

    bench/ilp_send.py tcp PORT CONNS FILE HTTP_PORT ROWS
        CONNS connections at once, each sending its share of the lines in
        256 KiB writes; done when duckpond_ilp_rows_total (rows committed)
        reaches ROWS
    bench/ilp_send.py http HTTP_PORT CLIENTS FILE LINES_PER_BODY
        CLIENTS keep-alive clients at once, POST /write bodies of
        LINES_PER_BODY lines each; done when every request has had its 204
"""
import http.client, re, socket, sys, threading, time, urllib.request


def shares(data, n):
    """data cut into n pieces at line ends."""
    out, at = [], 0
    for k in range(1, n + 1):
        end = len(data) if k == n else data.index(b"\n", len(data) * k // n) + 1
        out.append(data[at:end])
        at = end
    return out


def metric(port, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    return int(re.search(r"^" + name + r" (\d+)$", text, re.M).group(1))


def tcp(port, conns, data, http_port, rows):
    def send(piece):
        s = socket.create_connection(("127.0.0.1", port))
        for i in range(0, len(piece), 256 << 10):
            s.sendall(piece[i:i + (256 << 10)])
        s.close()
    base = metric(http_port, "duckpond_ilp_rows_total")
    threads = [threading.Thread(target=send, args=(p,)) for p in shares(data, conns)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    while metric(http_port, "duckpond_ilp_rows_total") < base + rows:
        time.sleep(0.01)
    return time.time() - t0


def http_bodies(port, clients, data, per_body):
    lines = data.split(b"\n")[:-1]
    bodies = [b"\n".join(lines[i:i + per_body]) + b"\n" for i in range(0, len(lines), per_body)]
    failures = []

    def run(mine):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for b in mine:
            while True:
                c.request("POST", "/write", body=b)
                r = c.getresponse()
                r.read()
                if r.status != 503:
                    break
                time.sleep(0.05)
            if r.status != 204:
                failures.append(r.status)
        c.close()
    threads = [threading.Thread(target=run, args=(bodies[k::clients],)) for k in range(clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        sys.exit(f"ilp_send: {len(failures)} requests failed: {failures[:5]}")
    return time.time() - t0


def main():
    mode = sys.argv[1]
    data = open(sys.argv[4], "rb").read()
    if mode == "tcp":
        secs = tcp(int(sys.argv[2]), int(sys.argv[3]), data, int(sys.argv[5]), int(sys.argv[6]))
    else:
        secs = http_bodies(int(sys.argv[2]), int(sys.argv[3]), data, int(sys.argv[5]))
    print(f"{secs:.3f}")


main()
