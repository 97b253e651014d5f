#!/usr/bin/env bash
# Key types benchmark (issue 11: the media tool's own key types): a sync's per-row cost
# with text and uuid media buy ids next to bigint ids, same run. Installs a release
# build, then runs bench/keys.rs. Sizes: BENCH_MEDIA_BUYS (default 50000 -> 3 M rows
# per sync), BENCH_ROUNDS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install.sh
mkdir -p /tmp/bravo-it && chown postgres /tmp/bravo-it
cargo bench --features pg15 --bench keys
