#!/usr/bin/env bash
# Sync benchmark (issue: first load vs COPY, re-syncs vs naive upsert, memory, fakesnow
# end to end). Installs a release build of the extension, then runs bench/sync.rs.
# Sizes: BENCH_MEDIA_BUYS (default 50000 -> 1.5 M rows per table), BENCH_FAKESNOW_BUYS,
# BENCH_HISTORY_DAYS (default 400 -> 20 M rows per table; 0 skips the history part).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install.sh
mkdir -p /tmp/bravo-it && chown postgres /tmp/bravo-it
cargo bench --features pg15 --bench sync
