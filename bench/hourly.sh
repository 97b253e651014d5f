#!/usr/bin/env bash
# Hourly sync benchmark (issue 12: first load <= 1.1x COPY, re-sync with no change >= 5x
# faster than a naive upsert, memory flat). Installs a release build, then runs
# bench/hourly.rs. Sizes: BENCH_MEDIA_BUYS (default 10000 -> 1.68 M rows per hourly
# table), BENCH_FIRST_LOAD_ROUNDS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install.sh
mkdir -p /tmp/bravo-it && chown postgres /tmp/bravo-it
cargo bench --features pg15 --bench hourly
