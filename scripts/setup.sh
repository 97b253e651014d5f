#!/usr/bin/env bash
# Installs what is missing, idempotently: Debian packages, cargo-pgrx 0.18.1 (pgrx
# initialised against the system PostgreSQL 15), a Python venv (.venv) with the pinned
# fakesnow emulator and the S3 and MongoDB peers of the export, and with --tests
# (scripts/test.sh) cargo-deny 0.20.2 for the dependency audit and s3s-fs 0.14.1 (an
# S3 server that checks signatures). Safe to run again; it skips what is already there.
set -euo pipefail
tests=0
for arg in "$@"; do
    case "$arg" in
        --tests) tests=1 ;;
        *) echo "usage: $0 [--tests]" >&2; exit 2 ;;
    esac
done
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

say() { printf '\n== %s\n' "$*"; }

need_pkgs=()
for p in postgresql-15 postgresql-server-dev-15 libclang-dev sudo pkg-config python3-venv; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
    say "apt-get install ${need_pkgs[*]}"
    apt-get update -q
    apt-get install -y -q "${need_pkgs[@]}"
fi
# The Debian package starts a cluster of its own; it is not used (tests make their own).

if ! cargo pgrx --version 2>/dev/null | grep -q "0.18.1"; then
    say "cargo install cargo-pgrx 0.18.1 (takes several minutes)"
    cargo install cargo-pgrx --version 0.18.1 --locked
fi
if ! grep -qs 'pg15 *= *"/usr/bin/pg_config"' "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
    say "cargo pgrx init --pg15 /usr/bin/pg_config"
    cargo pgrx init --pg15 /usr/bin/pg_config
fi

# The dependency audit in scripts/test.sh (deny.toml); the demo does not need it.
# Installed only when missing or of another version (about 15 minutes on 2 cores).
# s3s-fs: the S3 server that checks signatures and presigned URLs (the export's tests).
# 0.14.1 is the newest release that builds with Rust 1.95 (0.15 and later need 1.96).
if [ "$tests" = 1 ] && ! s3s-fs --version 2>/dev/null | grep -q " 0.14.1"; then
    say "cargo install s3s-fs 0.14.1 (takes a few minutes)"
    cargo install --locked s3s-fs --version 0.14.1 --features binary
fi
if [ "$tests" = 1 ] && ! cargo deny --version 2>/dev/null | grep -qx "cargo-deny 0.20.2"; then
    say "cargo install cargo-deny 0.20.2 (takes several minutes)"
    cargo install --locked cargo-deny --version 0.20.2
fi

# The venv holds exactly scripts/requirements.lock: fakesnow (Snowflake), moto[server]
# (S3), pymongo (its bson decoder) and mongomock (MongoDB aggregations).
if [ ! -x .venv/bin/fakesnow ] || ! diff -q <(.venv/bin/pip freeze 2>/dev/null | sort -f) <(sort -f scripts/requirements.lock) >/dev/null; then
    say "Python venv .venv with the pinned fakesnow, moto, pymongo and mongomock"
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements.lock
fi
say "setup complete"
