#!/bin/bash
# Hourly report benchmark (issue 12; not a test): bravo_campaign_hourly for a 200-buy
# campaign over 7 local days (168 hours, Europe/Paris), p50/p99 with pgbench (one
# client, prepared, a random campaign per call), at two history sizes in the same run,
# side by side with the hand-written SQL over the hourly table. Needs bravo_metrics
# installed (bash scripts/install.sh). Its own throw-away cluster.
#
#     bash bench/report/hourly.sh [port]
#
# Environment: BUYS (default 10000 = 50 campaigns x 200 buys), HOURS (hours of history,
# default "500 5000" = 5 M and 50 M rows in each hourly table, impressions and videos),
# DURATION (seconds per pgbench run, default 10), ROUNDS (interleaved measuring rounds,
# default 3), BENCH_DIR (default /tmp/bravo_hourly_bench).
# The history is loaded with the rollup triggers off, then the rollup rebuilt
# (bravo_report_rebuild), as after a restore. 50 M rows per table take about 25 minutes
# and 20 GB of disk.
set -euo pipefail
port=${1:-55497}
bin=/usr/lib/postgresql/15/bin
dir=${BENCH_DIR:-/tmp/bravo_hourly_bench}
buys=${BUYS:-10000}
scales=${HOURS:-"500 5000"}
duration=${DURATION:-10}
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }

rm -rf "$dir"; mkdir -p "$dir/logs"; chown -R postgres "$dir" 2>/dev/null || true
as_pg "$bin/initdb" -D "$dir/pg" -A trust -U postgres >/dev/null
as_pg "$bin/pg_ctl" -D "$dir/pg" -l "$dir/server.log" -w start -o "-p $port -k $dir \
    -c shared_buffers=2GB -c work_mem=64MB -c maintenance_work_mem=1GB \
    -c wal_level=minimal -c max_wal_senders=0 -c max_wal_size=8GB -c checkpoint_timeout=30min \
    -c jit=off -c random_page_cost=1.1 -c effective_cache_size=12GB" >/dev/null
trap 'as_pg "$bin/pg_ctl" -D "$dir/pg" -m fast stop >/dev/null 2>&1 || true' EXIT
psql() { as_pg "$bin/psql" -X -q -h "$dir" -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"; }
pct() {  # pgbench logs -> "p50 p99 n" in ms (column 3: latency in microseconds)
    sort -n -k3 "$@" | awk '{ v[NR] = $3 } END {
        i50 = int(NR * 0.50 + 0.999); i99 = int(NR * 0.99 + 0.999);
        printf "%.3f %.3f %d", v[i50] / 1000, v[i99] / 1000, NR }'
}
campaigns=$((buys / 200))
cat > "$dir/fn.sql" <<SQL
\set cid random(1, $campaigns)
SELECT * FROM bravo_campaign_hourly(:cid, current_date - 6, current_date, 'Europe/Paris');
SQL
cat > "$dir/sql.sql" <<SQL
\set cid random(1, $campaigns)
SELECT h.t, h.t AT TIME ZONE 'Europe/Paris', coalesce(i.impressions, 0), coalesce(i.clicks, 0), coalesce(i.spend, 0),
       coalesce(v.video_starts, 0), coalesce(v.video_completions, 0), coalesce(v.video_views, 0),
       i.clicks::numeric / NULLIF(i.impressions, 0), v.video_completions::numeric / NULLIF(v.video_starts, 0)
  FROM generate_series((current_date - 6)::timestamp AT TIME ZONE 'Europe/Paris',
                       (current_date + 1)::timestamp AT TIME ZONE 'Europe/Paris' - interval '1 hour', interval '1 hour') h(t)
  LEFT JOIN (SELECT p.hour_start AS t, sum(p.impressions) AS impressions, sum(p.clicks) AS clicks, sum(p.spend) AS spend
               FROM platform_buy_hourly_impressions p JOIN media_buys m ON m.id = p.media_buy_id
              WHERE m.campaign_id = :cid
                AND p.hour_start >= (current_date - 6)::timestamp AT TIME ZONE 'Europe/Paris'
                AND p.hour_start < (current_date + 1)::timestamp AT TIME ZONE 'Europe/Paris'
              GROUP BY 1) i ON i.t = h.t
  LEFT JOIN (SELECT p.hour_start AS t, sum(p.video_starts) AS video_starts, sum(p.video_completions) AS video_completions,
                    sum(p.video_views) AS video_views
               FROM platform_buy_hourly_videos p JOIN media_buys m ON m.id = p.media_buy_id
              WHERE m.campaign_id = :cid
                AND p.hour_start >= (current_date - 6)::timestamp AT TIME ZONE 'Europe/Paris'
                AND p.hour_start < (current_date + 1)::timestamp AT TIME ZONE 'Europe/Paris'
              GROUP BY 1) v ON v.t = h.t
 ORDER BY 1;
SQL
chown postgres "$dir"/*.sql 2>/dev/null || true
bench() {  # db script -> "p50 p99 n"
    local prefix="$dir/logs/$1.$2"
    as_pg "$bin/pgbench" -h "$dir" -p "$port" -U postgres -n -c 1 -M prepared -f "$dir/$2.sql" -t 20 "$1" >/dev/null 2>&1
    rm -f "$prefix".*
    as_pg "$bin/pgbench" -h "$dir" -p "$port" -U postgres -n -c 1 -M prepared -f "$dir/$2.sql" -T "$duration" \
        --log --log-prefix="$prefix" "$1" >/dev/null 2>"$dir/logs/pgbench.err"
    pct "$prefix".*
}
# Every history size is loaded first, each in its own database; then the calls are
# measured in ROUNDS interleaved rounds (5 M, 50 M, 5 M, 50 M, ...) so that a noisy
# moment of the machine hits both sizes alike, and each size reports the median of
# its rounds' p50 and p99.
rounds=${ROUNDS:-3}
declare -A loadsecs rowcount rollcount
for hours in $scales; do
    db=h_$hours
    psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    t0=$(date +%s)
    psql -d "$db" >/dev/null <<SQL
CREATE EXTENSION bravo_metrics;
INSERT INTO media_buys (id, campaign_id) SELECT g, g % $campaigns + 1 FROM generate_series(1, $buys) g;
SELECT bravo_enable_family('impressions_hourly');
SELECT bravo_enable_family('videos_hourly');
ALTER TABLE platform_buy_hourly_impressions DISABLE TRIGGER bravo_rollup_ins;
ALTER TABLE platform_buy_hourly_videos DISABLE TRIGGER bravo_rollup_ins;
-- Oldest hour first, as hourly syncs append them.
INSERT INTO platform_buy_hourly_impressions (media_buy_id, hour_start, impressions, clicks, spend)
SELECT b, date_trunc('hour', now()) - h * interval '1 hour', 1000 + (b * 7 + h) % 5000, (b + h) % 40, ((b * 13 + h) % 100000) / 100.0
  FROM generate_series($hours - 1, 0, -1) h CROSS JOIN LATERAL generate_series(1, $buys + 0 * h) b;
INSERT INTO platform_buy_hourly_videos (media_buy_id, hour_start, video_starts, video_completions, video_views)
SELECT b, date_trunc('hour', now()) - h * interval '1 hour', 300 + (b * 5 + h) % 900, 100 + (b + h) % 200, 250 + (b * 3 + h) % 700
  FROM generate_series($hours - 1, 0, -1) h CROSS JOIN LATERAL generate_series(1, $buys + 0 * h) b;
ALTER TABLE platform_buy_hourly_impressions ENABLE TRIGGER bravo_rollup_ins;
ALTER TABLE platform_buy_hourly_videos ENABLE TRIGGER bravo_rollup_ins;
SELECT bravo_report_rebuild();
VACUUM ANALYZE platform_buy_hourly_impressions;
VACUUM ANALYZE platform_buy_hourly_videos;
VACUUM ANALYZE bravo.bravo_campaign_hourly_rollup;
VACUUM ANALYZE media_buys;
-- The load's dirty buffers are written now, not during the measurement.
CHECKPOINT;
SQL
    loadsecs[$hours]=$(( $(date +%s) - t0 ))
    rowcount[$hours]=$(psql -d "$db" -Atc "SELECT (SELECT count(*) FROM platform_buy_hourly_impressions) || ' + ' || (SELECT count(*) FROM platform_buy_hourly_videos)")
    rollcount[$hours]=$(psql -d "$db" -Atc "SELECT count(*) FROM bravo.bravo_campaign_hourly_rollup")
    # Same answer both ways (one campaign, sums per hour).
    same=$(psql -d "$db" -Atc "SELECT count(*) FROM (SELECT hour_start, impressions, clicks, video_starts FROM bravo_campaign_hourly(7, current_date - 6, current_date, 'Europe/Paris')) a
        FULL JOIN (SELECT p.hour_start, sum(p.impressions)::bigint AS impressions, sum(p.clicks)::bigint AS clicks FROM platform_buy_hourly_impressions p JOIN media_buys m ON m.id = p.media_buy_id
                    WHERE m.campaign_id = 7 AND p.hour_start >= (current_date - 6)::timestamp AT TIME ZONE 'Europe/Paris'
                      AND p.hour_start < (current_date + 1)::timestamp AT TIME ZONE 'Europe/Paris' GROUP BY 1) b USING (hour_start)
        FULL JOIN (SELECT p.hour_start, sum(p.video_starts)::bigint AS video_starts FROM platform_buy_hourly_videos p JOIN media_buys m ON m.id = p.media_buy_id
                    WHERE m.campaign_id = 7 AND p.hour_start >= (current_date - 6)::timestamp AT TIME ZONE 'Europe/Paris'
                      AND p.hour_start < (current_date + 1)::timestamp AT TIME ZONE 'Europe/Paris' GROUP BY 1) v USING (hour_start)
        WHERE a.impressions IS DISTINCT FROM coalesce(b.impressions, 0) OR a.clicks IS DISTINCT FROM coalesce(b.clicks, 0)
           OR a.video_starts IS DISTINCT FROM coalesce(v.video_starts, 0)")
    [ "$same" = 0 ] || { echo "the report differs from the GROUP BY in $same hours" >&2; exit 1; }
done
median() { tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -A f50s f99s calls
for round in $(seq "$rounds"); do
    for hours in $scales; do
        read -r a b n <<<"$(bench "h_$hours" fn)"
        f50s[$hours]="${f50s[$hours]:-} $a"; f99s[$hours]="${f99s[$hours]:-} $b"
        calls[$hours]=$(( ${calls[$hours]:-0} + n ))
    done
done
echo "| hourly rows (history: impressions + videos) | load | rollup rows | bravo_campaign_hourly p50 / p99, median of $rounds rounds (calls) | p99 per round | hand-written SQL p50 / p99 (calls) |"
echo "|---|---|---|---|---|---|"
declare -A p99
for hours in $scales; do
    read -r s50 s99 sn <<<"$(bench "h_$hours" sql)"
    f50=$(echo ${f50s[$hours]} | median); f99=$(echo ${f99s[$hours]} | median)
    p99[$hours]=$f99
    echo "| ${rowcount[$hours]} | ${loadsecs[$hours]} s | ${rollcount[$hours]} | $f50 / $f99 ms (${calls[$hours]}) |${f99s[$hours]} | $s50 / $s99 ms ($sn) |"
done
set -- $scales
if [ $# -ge 2 ]; then
    awk -v a="${p99[$1]}" -v b="${p99[${@: -1}]}" 'BEGIN { printf "bravo_campaign_hourly p99 at the largest history / the smallest: %.2fx (target: within 20 %%, i.e. <= 1.2x; p99 <= 5 ms)\n", b / a }'
fi
