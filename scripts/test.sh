#!/usr/bin/env bash
# Installs what is missing (scripts/setup.sh), then runs every check and test:
#   rustfmt, clippy -D warnings, the Snowflake client and test-double suites (real
#   fakesnow + loopback double), the extension's in-database tests (cargo pgrx test,
#   as the postgres user), and the integration suites against real PostgreSQL 15
#   clusters with real fakesnow.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TERM_COLOR=never

step() { printf '\n== %s\n' "$*"; }

step "rustfmt"
cargo fmt --all -- --check

step "clippy -D warnings"
cargo clippy --workspace --all-targets --features pg15 -- -D warnings

step "Snowflake client and test double (fakesnow + loopback double)"
cargo test -p bravo_snowflake -p bravo_testkit

step "install the extension into PostgreSQL 15"
cargo pgrx install --pg-config /usr/bin/pg_config

step "extension tests: in-database #[pg_test]s, then the integration suites (real PostgreSQL 15 clusters, real fakesnow, the loopback double)"
PGRX_DIR=/tmp/bravo-pgrx
rm -rf "$PGRX_DIR" && mkdir -p "$PGRX_DIR" /tmp/bravo-it && chown postgres "$PGRX_DIR" /tmp/bravo-it
RUST_TEST_THREADS=2 cargo pgrx test pg15 --runas postgres --pgdata "$PGRX_DIR/data" -- --no-fail-fast 2>/dev/null || RUST_TEST_THREADS=2 cargo pgrx test pg15 --runas postgres --pgdata "$PGRX_DIR/data"

if [ -x pg_test/run.sh ]; then
    step "SQL regression tests (pg_test/)"
    bash pg_test/run.sh
fi
step "all tests passed"
