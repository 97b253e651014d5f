#!/usr/bin/env bash
# Refresh benchmark (issue 14: bravo_refresh of a 200-buy campaign over 3 days in at most
# 1 s against the loopback source). Installs a release build, then runs bench/refresh.rs.
# Sizes: BENCH_MEDIA_BUYS (default 50000 -> 1.5 M rows per table), BENCH_ROUNDS (5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install.sh
mkdir -p /tmp/bravo-it && chown postgres /tmp/bravo-it
cargo bench --features pg15 --bench refresh
