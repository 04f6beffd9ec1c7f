#!/usr/bin/env bash
# Installs the Debian packages duckpond builds and tests with, only those
# that are missing. Runs apt-get (as root, or through sudo when there is one).
# clang builds the fuzz drivers; libclang-rt-14-dev holds the libFuzzer and
# sanitizer runtimes, which clang only recommends (and recommends are not
# installed here); clang-format (14 on Debian 12) is the format check's.
set -euo pipefail
pkgs=(
    gcc make pkg-config npm
    libssl-dev libpq-dev libmicrohttpd-dev libjansson-dev zlib1g-dev
    postgresql-client postgresql postgresql-15 python3 python3-psycopg2 nodejs
    curl wrk chromium
    clang clang-format libclang-rt-14-dev
)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
# node and npm may come from elsewhere than Debian; do not fight them
want=()
for p in "${missing[@]}"; do
    case "$p" in
    npm | nodejs) command -v "${p/nodejs/node}" >/dev/null || want+=("$p") ;;
    *) want+=("$p") ;;
    esac
done
[ ${#want[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
echo "install-debs: apt-get install ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
