#!/usr/bin/env bash
# Fetches DuckDB 1.4.4 from the npm registry into deps/duckdb (git-ignored):
# lib/libduckdb.so from @duckdb/node-bindings-linux-x64 and include/duckdb.h
# from the duckdb source package. Each tarball is checked against the sha256
# pinned here (and in DESIGN.md); a mismatch is refused.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dest="$top/deps/duckdb"
dl="$top/deps/download"

LIB_PKG='@duckdb/node-bindings-linux-x64@1.4.4-r.4'
LIB_TGZ='duckdb-node-bindings-linux-x64-1.4.4-r.4.tgz'
LIB_SHA='732fac4dc6b8f198870b9c4bb6ddf13544466daca00ad28ba2f1d80de5d7aa4b'
HDR_PKG='duckdb@1.4.4'
HDR_TGZ='duckdb-1.4.4.tgz'
HDR_SHA='5bb967dcbcd517670ba5f169f238fb9d6787e53752c60ebe24386169d76941ed'

if [ -f "$dest/lib/libduckdb.so" ] && [ -f "$dest/include/duckdb.h" ]; then
    exit 0
fi
command -v npm >/dev/null || { echo "fetch-duckdb: npm is needed to fetch DuckDB (apt-get install npm)" >&2; exit 1; }
mkdir -p "$dl" "$dest/lib" "$dest/include"

fetch() { # package tarball sha256
    local pkg=$1 tgz=$2 sha=$3
    if [ ! -f "$dl/$tgz" ]; then
        echo "fetch-duckdb: npm pack $pkg"
        (cd "$dl" && npm pack --silent "$pkg" >/dev/null)
    fi
    local got
    got=$(sha256sum "$dl/$tgz" | cut -d' ' -f1)
    if [ "$got" != "$sha" ]; then
        echo "fetch-duckdb: checksum mismatch for $tgz" >&2
        echo "  expected $sha" >&2
        echo "  got      $got" >&2
        echo "  refusing to use it; the file is removed" >&2
        rm -f "$dl/$tgz"
        exit 1
    fi
}

fetch "$LIB_PKG" "$LIB_TGZ" "$LIB_SHA"
fetch "$HDR_PKG" "$HDR_TGZ" "$HDR_SHA"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$dl/$LIB_TGZ" -C "$tmp" package/libduckdb.so
tar -xzf "$dl/$HDR_TGZ" -C "$tmp" package/src/duckdb/src/include/duckdb.h
mv "$tmp/package/src/duckdb/src/include/duckdb.h" "$dest/include/duckdb.h"
mv "$tmp/package/libduckdb.so" "$dest/lib/libduckdb.so"
echo "fetch-duckdb: DuckDB 1.4.4 in deps/duckdb"
