#!/usr/bin/env python3
"""Writes ROWS line protocol lines to FILE for bench/ilp.sh: row i (from 0)
is a trade when even, a quote when odd, with the values bench/ilp_raw.c
appends for the same i (nanosecond timestamps). With --csv, writes the
trades and quotes as two CSV files FILE.trades.csv and FILE.quotes.csv
(ISO timestamps) for the COPY baselines instead.

    bench/ilp_gen.py FILE ROWS [--csv]
"""
import sys

SYMS = ["AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "IBM"]
T0_US = 1764403200000000


def main():
    path, rows = sys.argv[1], int(sys.argv[2])
    csv = "--csv" in sys.argv[3:]
    if csv:
        import datetime
        base = datetime.datetime(2025, 11, 29, 8, 0, 0)
        tr, qu = open(path + ".trades.csv", "w"), open(path + ".quotes.csv", "w")
    else:
        out = open(path, "w")
    buf = []
    for i in range(rows):
        sym = SYMS[i % 8]
        px = 100 + (i % 1000) / 100
        if csv:
            ts = (base + datetime.timedelta(microseconds=i)).isoformat(sep=" ")
            if i % 2 == 0:
                tr.write(f"{ts},{sym},{px!r},{i % 500 + 1}\n")
            else:
                qu.write(f"{ts},{sym},{px!r},{px + 0.01!r},{i % 300 + 1},{i % 200 + 1}\n")
            continue
        ts = (T0_US + i) * 1000
        if i % 2 == 0:
            buf.append(f"trades,sym={sym} price={px!r},size={i % 500 + 1}i {ts}\n")
        else:
            buf.append(f"quotes,sym={sym} bid={px!r},ask={px + 0.01!r},bid_size={i % 300 + 1}i,"
                       f"ask_size={i % 200 + 1}i {ts}\n")
        if len(buf) >= 100000:
            out.write("".join(buf))
            buf = []
    if not csv:
        out.write("".join(buf))


main()
