#!/usr/bin/env bash
# Metric families benchmark (issue 11: a conversions + viewability sync costs per row at
# most 1.2x an impressions sync). Installs a release build, then runs bench/families.rs.
# Sizes: BENCH_MEDIA_BUYS (default 50000 -> 1.5 M rows per table), BENCH_ROUNDS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install.sh
mkdir -p /tmp/bravo-it && chown postgres /tmp/bravo-it
cargo bench --features pg15 --bench families
