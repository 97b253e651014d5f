#!/usr/bin/env bash
# Intraday refresh benchmark (issue 14: a refresh that finds 1 % changed rows in a
# 1.5 M-row window costs at most 10 % of a full 30-day re-sync). Installs a release
# build, then runs bench/intraday.rs. Sizes: BENCH_MEDIA_BUYS (default 50000 -> 1.5 M
# rows per table), BENCH_CHANGED_PCT (1), BENCH_ROUNDS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install.sh
mkdir -p /tmp/bravo-it && chown postgres /tmp/bravo-it
cargo bench --features pg15 --bench intraday | tee bench/intraday-last-run.md
