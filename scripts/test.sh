#!/usr/bin/env bash
# Installs what is missing (scripts/setup.sh --tests), then runs every check and test:
#   rustfmt, clippy -D warnings, the dependency audit (cargo deny: bans, licenses,
#   sources; deny.toml says why advisories are not checked here), the Snowflake client
#   and test-double suites (real fakesnow + loopback double), the export's destinations
#   (real moto S3), the extension's
#   in-database tests (cargo pgrx test, as the postgres user), and the integration
#   suites against real PostgreSQL 15 clusters with real fakesnow, and a real Citus
#   cluster (a coordinator and two workers) for the scale-out layout.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
# Citus 13.2.2 for the scale-out suite (tests/citus.rs): built once, then kept.
bash scripts/citus.sh
export CARGO_TERM_COLOR=never
# One clean build per run: incremental caches would only cost disk.
export CARGO_INCREMENTAL=0

step() { printf '\n== %s\n' "$*"; }

step "rustfmt"
cargo fmt --all -- --check

step "clippy -D warnings"
cargo clippy --workspace --all-targets --features pg15 -- -D warnings

step "dependency audit (cargo deny check bans licenses sources; deny.toml)"
cargo deny --locked check bans licenses sources

step "core crate (plain Rust, property tests), Snowflake client and test double (fakesnow + loopback double), export destinations (real moto S3)"
cargo test --no-fail-fast -p bravo_core -p bravo_snowflake -p bravo_testkit -p bravo_store

step "in-database tests (#[pg_test], pgrx's test framework as the postgres user)"
PGRX_DIR=/tmp/bravo-pgrx
rm -rf "$PGRX_DIR" && mkdir -p "$PGRX_DIR" /tmp/bravo-it && chown postgres "$PGRX_DIR" /tmp/bravo-it
# What `cargo pgrx test pg15 --runas postgres --pgdata DIR` runs (the same variables,
# which pgrx-tests reads to install the test build and start its cluster), limited to
# the library: every #[pg_test] lives there, and `cargo pgrx test` would also build
# every integration test a second time with the pg_test feature (disk and link time).
CARGO_PGRX_TEST_RUNAS=postgres CARGO_PGRX_TEST_PGDATA="$PGRX_DIR/data" \
  CARGO_TARGET_DIR="$PWD/target" PGRX_BUILD_PROFILE=dev PGRX_FEATURES="pg15 pg_test" \
  PGRX_NO_DEFAULT_FEATURES=true PGRX_ALL_FEATURES=false PGRX_NO_SCHEMA=false \
  cargo test --lib --no-default-features --features "pg15 pg_test" "tests::pg_"

step "integration tests (real PostgreSQL 15 clusters, real fakesnow, the loopback double, the pg_test/ SQL regression suite)"
bash scripts/install.sh --debug
cargo test --features pg15 --no-fail-fast --test '*' -- --test-threads=2

step "all tests passed"
