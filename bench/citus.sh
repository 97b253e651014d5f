#!/usr/bin/env bash
# Scale-out benchmark (issue 16): the same syncs and reports on a single node and on a
# Citus cluster (a coordinator and two workers on this machine). Installs Citus and a
# release build, then runs bench/citus.rs. Sizes: BENCH_MEDIA_BUYS (default 20000 ->
# 620,000 rows per table), BENCH_SHARDS (8), BENCH_ROUNDS (3), BENCH_CAMPAIGNS (20).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/citus.sh
bash scripts/install.sh
mkdir -p /tmp/bravo-it && chown postgres /tmp/bravo-it
cargo bench --features pg15 --bench citus | tee bench/citus-last-run.md
