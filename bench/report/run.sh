#!/bin/bash
# Campaign reporting benchmark (not a test). Needs bravo_metrics installed into the
# system PostgreSQL 15 (bash scripts/install.sh). Starts its own throw-away cluster, builds
# the history with generate_series, creates the extension over it (the rollup is
# built from the legacy rows), then measures each reporting function side by side
# with the hand-written SQL an analyst would write, with pgbench (-f, --log), one
# client, prepared statements, in the same run; then the sync cost of the triggers.
#
#     bench/report/run.sh [port]        # as root or as postgres; ~10 min
#
# Environment: SCALES (media buys per history, default "12500 50000" = 5 M and 20 M
# rows per metric table at 400 days), DURATION (seconds per pgbench run, default 5),
# SYNC_COST (1 = measure the trigger cost on the largest history, default 1),
# BASELINE_VERSION (a released version whose trigger cost is measured on a copy of the
# same history in the same run, default 0.3.0; empty skips),
# BENCH_DIR (default /tmp/bravo_report_bench; its cluster is removed at the end).
set -euo pipefail
port=${1:-55498}
here=$(cd "$(dirname "$0")" && pwd)
bin=/usr/lib/postgresql/15/bin
dir=${BENCH_DIR:-/tmp/bravo_report_bench}
scales=${SCALES:-"12500 50000"}
duration=${DURATION:-5}
days=400
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }

rm -rf "$dir"; mkdir -p "$dir/logs"; cp -r "$here"/*.sql "$here/scripts" "$dir/"
chown -R postgres "$dir" 2>/dev/null || true
as_pg "$bin/initdb" -D "$dir/pg" -A trust -U postgres >/dev/null
as_pg "$bin/pg_ctl" -D "$dir/pg" -l "$dir/server.log" -w start -o "-p $port -k $dir \
    -c shared_buffers=2GB -c work_mem=64MB -c maintenance_work_mem=1GB \
    -c wal_level=minimal -c max_wal_senders=0 -c max_wal_size=16GB -c checkpoint_timeout=30min \
    -c jit=off -c random_page_cost=1.1 -c effective_cache_size=12GB" >/dev/null
trap 'as_pg "$bin/pg_ctl" -D "$dir/pg" -m fast stop >/dev/null 2>&1 || true' EXIT
psql() { as_pg "$bin/psql" -X -q -h "$dir" -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

to=$(date -d yesterday +%F); from=$(date -d "-365 days" +%F)   # the last 365 days
ids="{$(seq -s, 3 22)}"                                         # 20 typical campaigns
results="$dir/results.txt"; : > "$results"
echo "history,function,campaign,fn_p50_ms,fn_p99_ms,sql_p50_ms,sql_p99_ms,fn_runs,sql_runs" > "$dir/latency.csv"

pct() {  # pgbench log -> "p50 p99 n" in ms (column 3 is the latency in microseconds)
    sort -n -k3 "$@" | awk '{ v[NR] = $3 } END {
        i50 = int(NR * 0.50 + 0.999); i99 = int(NR * 0.99 + 0.999);
        printf "%.3f %.3f %d", v[i50] / 1000, v[i99] / 1000, NR }'
}
bench() {  # db script cid -> "p50 p99 n"
    local db=$1 script=$2 cid=$3 prefix="$dir/logs/$1.$2.$3"
    local args=(-n -c 1 -M prepared -f "$dir/scripts/$script.sql" -D cid="$cid" -D from="$from" -D to="$to" -D ids="$ids")
    as_pg "$bin/pgbench" -h "$dir" -p "$port" -U postgres "${args[@]}" -t 10 "$db" >/dev/null 2>&1   # warm up
    rm -f "$prefix".*
    as_pg "$bin/pgbench" -h "$dir" -p "$port" -U postgres "${args[@]}" -T "$duration" \
        --log --log-prefix="$prefix" "$db" >/dev/null 2>"$dir/logs/pgbench.err"
    pct "$prefix".*
}

for buys in $scales; do
    db=bench_$buys; rows=$((buys * days))
    echo "== history: $buys media buys x $days days = $rows rows per metric table" | tee -a "$results"
    psql -d postgres -c "CREATE DATABASE $db"
    t0=$(now)
    psql -d "$db" -v buys="$buys" -v days="$days" -v part=buys -f "$dir/load.sql"
    psql -d "$db" -v buys="$buys" -v days="$days" -v part=impressions -f "$dir/load.sql" &
    p1=$!
    psql -d "$db" -v buys="$buys" -v days="$days" -v part=videos -f "$dir/load.sql"
    wait $p1
    psql -d "$db" -v buys="$buys" -v days="$days" -v part=finish -f "$dir/load.sql"
    t1=$(now)
    psql -d "$db" -c "CREATE EXTENSION bravo_metrics"
    t2=$(now)
    psql -d "$db" -c "VACUUM ANALYZE"
    t3=$(now)
    echo "load $(secs "$t0" "$t1") s; CREATE EXTENSION (rollup built from legacy rows) $(secs "$t1" "$t2") s; VACUUM ANALYZE $(secs "$t2" "$t3") s" | tee -a "$results"
    psql -d "$db" -At -c "SELECT 'campaign rollup rows: ' || (SELECT count(*) FROM bravo.bravo_campaign_rollup) || ', size ' || pg_size_pretty(pg_total_relation_size('bravo.bravo_campaign_rollup')) || '; media buy rollup rows: ' || (SELECT count(*) FROM bravo.bravo_media_buy_rollup) || ', size ' || pg_size_pretty(pg_total_relation_size('bravo.bravo_media_buy_rollup')) || '; impressions table ' || pg_size_pretty(pg_total_relation_size('platform_buy_daily_impressions'))" | tee -a "$results"
    for case in "totals 1" "totals 2" "daily 1" "daily 2" "daily03 1" "buys 1" "buys 2" "batch 0"; do
        set -- $case
        read -r fp50 fp99 fn <<<"$(bench "$db" "${1}_fn" "$2")"
        read -r sp50 sp99 sn <<<"$(bench "$db" "${1}_sql" "$2")"
        label=$([ "$2" = 1 ] && echo "200 buys" || ([ "$2" = 2 ] && echo "20 buys" || echo "20 campaigns x 20 buys"))
        [ "$1" = daily03 ] && label="200 buys (0.3.0 columns only)"
        echo "$rows,$1,$label,$fp50,$fp99,$sp50,$sp99,$fn,$sn" >> "$dir/latency.csv"
    done
done

echo; echo "Latency, ms (one client, prepared; function vs hand-written SQL; range = last 365 days)" | tee -a "$results"
column -s, -t "$dir/latency.csv" | tee -a "$results"

if [ "${SYNC_COST:-1}" = 1 ]; then
    buys=${scales##* }
    echo; echo "Sync cost on the $((buys * days))-row history (platform_buy_daily_impressions):" | tee -a "$results"
    psql -d "bench_$buys" -v buys="$buys" -f "$dir/sync_cost.sql" | tee -a "$results"
fi
# The same trigger cost with a released version's rollup triggers, same history, same
# run: a copy of the database with that version installed instead (BASELINE_VERSION,
# default 0.3.0; empty skips).
base=${BASELINE_VERSION-0.3.0}
if [ "${SYNC_COST:-1}" = 1 ] && [ -n "$base" ]; then
    buys=${scales##* }
    cp "$here/../../sql/released/bravo_metrics--$base.sql" "$(pg_config --sharedir)/extension/"
    psql -d postgres -c "CREATE DATABASE bench_base TEMPLATE bench_$buys"
    psql -d bench_base -c "DROP EXTENSION bravo_metrics" -c "CREATE EXTENSION bravo_metrics VERSION '$base'" -c "VACUUM ANALYZE"
    echo; echo "Latency of version $base's reporting functions on the same history (baseline, same run), ms:" | tee -a "$results"
    echo "function,campaign,p50,p99,runs" > "$dir/base.csv"
    for case in "totals 1" "totals 2" "daily 1" "daily 2" "batch 0"; do
        set -- $case
        read -r fp50 fp99 fn <<<"$(bench bench_base "${1}_fn" "$2")"
        echo "$1,$([ "$2" = 1 ] && echo "200 buys" || ([ "$2" = 2 ] && echo "20 buys" || echo "20 campaigns x 20 buys")),$fp50,$fp99,$fn" >> "$dir/base.csv"
    done
    column -s, -t "$dir/base.csv" | tee -a "$results"
    echo; echo "Sync cost on the same history with version $base's rollup triggers (baseline, same run):" | tee -a "$results"
    psql -d bench_base -v buys="$buys" -f "$dir/sync_cost.sql" | tee -a "$results"
fi
cp "$results" "$here/last-run.txt" 2>/dev/null || true
echo "results: $results (copied to bench/report/last-run.txt)"
