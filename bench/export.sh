#!/bin/bash
# Export benchmark (issue 13; not a test): bravo_export of two metric tables of ROWS
# rows each (plus media_buys and the run log) to a local S3 peer (moto), side by side
# with the baseline measured in the same run: COPY (SELECT ... ORDER BY key) TO STDOUT
# (FORMAT csv) | gzip of the same rows. Also the export backend's peak memory
# (private: RssAnon, sampled) at a third and at all of the rows. Needs bravo_metrics installed
# (bash scripts/install.sh) and the venv (scripts/setup.sh). Its own throw-away
# cluster and moto server.
#
#     bash bench/export.sh [pg_port] [s3_port]
#
# Environment: ROWS (per table, default 1500000 = 50,000 buys x 30 days), ROUNDS
# (default 3, alternating baseline and export), BENCH_DIR (default /tmp/bravo_export_bench),
# REUSE=1 (keep the cluster and data of the last run with the same ROWS: no load).
set -euo pipefail
cd "$(dirname "$0")/.."
port=${1:-55496}
s3port=${2:-55495}
bin=/usr/lib/postgresql/15/bin
dir=${BENCH_DIR:-/tmp/bravo_export_bench}
rows=${ROWS:-1500000}
rounds=${ROUNDS:-3}
buys=50000
days=$(( (rows + buys - 1) / buys ))
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }

reuse=0
if [ "${REUSE:-0}" = 1 ] && [ "$(cat "$dir/rows" 2>/dev/null)" = "$rows" ]; then reuse=1; fi
if [ $reuse = 0 ]; then
    rm -rf "$dir"; mkdir -p "$dir"; chown -R postgres "$dir" 2>/dev/null || true
    as_pg "$bin/initdb" -D "$dir/pg" -A trust -U postgres >/dev/null
fi
as_pg "$bin/pg_ctl" -D "$dir/pg" -l "$dir/server.log" -w start -o "-p $port -k $dir \
    -c shared_buffers=1GB -c wal_level=minimal -c max_wal_senders=0 -c max_wal_size=8GB -c jit=off" >/dev/null
.venv/bin/moto_server -H 127.0.0.1 -p "$s3port" > "$dir/moto.log" 2>&1 &
moto=$!
trap 'as_pg "$bin/pg_ctl" -D "$dir/pg" -m fast stop >/dev/null 2>&1 || true; kill $moto 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$s3port") 2>/dev/null && break; sleep 0.2; done
.venv/bin/python -c "import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:$s3port/bench', method='PUT'))"
printf '[default]\naws_access_key_id = AKIDBENCH\naws_secret_access_key = bench-secret\n' > "$dir/s3.credentials"
chown postgres "$dir/s3.credentials" 2>/dev/null || true; chmod 600 "$dir/s3.credentials"
psql() { as_pg "$bin/psql" -X -q -h "$dir" -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"; }
psql -d postgres -c "LOAD 'bravo_metrics'" -c "ALTER SYSTEM SET bravo_metrics.export_credentials_file = '$dir/s3.credentials'" \
     -c "ALTER SYSTEM SET bravo_metrics.export_s3_endpoint = 'http://127.0.0.1:$s3port'" -c "SELECT pg_reload_conf()" >/dev/null

# db rows: a database with `rows` rows per metric table (impressions, videos).
load() {
    local db=$1 n=$2
    local d=$(( (n + buys - 1) / buys ))
    psql -d postgres -c "CREATE DATABASE $db" >/dev/null
    psql -d "$db" >/dev/null <<SQL
CREATE EXTENSION bravo_metrics;
INSERT INTO media_buys (id, campaign_id) SELECT g, g % 300 + 1 FROM generate_series(1, $buys) g;
ALTER TABLE platform_buy_daily_impressions DISABLE TRIGGER USER;
ALTER TABLE platform_buy_daily_videos DISABLE TRIGGER USER;
INSERT INTO platform_buy_daily_impressions (media_buy_id, date, impressions, clicks, spend)
SELECT b, current_date - d, 1000 + (b * 7 + d) % 90000, (b + d) % 400, ((b * 13 + d) % 10000000) / 100.0
  FROM generate_series(0, $d - 1) d CROSS JOIN LATERAL generate_series(1, $buys + 0 * d) b LIMIT $n;
INSERT INTO platform_buy_daily_videos (media_buy_id, date, video_starts, video_completions, video_views)
SELECT b, current_date - d, 300 + (b * 5 + d) % 9000, 100 + (b + d) % 2000, 250 + (b * 3 + d) % 7000
  FROM generate_series(0, $d - 1) d CROSS JOIN LATERAL generate_series(1, $buys + 0 * d) b LIMIT $n;
ALTER TABLE platform_buy_daily_impressions ENABLE TRIGGER USER;
ALTER TABLE platform_buy_daily_videos ENABLE TRIGGER USER;
VACUUM ANALYZE;
CHECKPOINT;
SQL
}
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

if [ $reuse = 0 ]; then
    load big "$rows"
    load small $(( rows / 3 ))
    echo "$rows" > "$dir/rows"
fi
total=$(( 2 * rows ))

# Baseline: the same rows, COPY in key order to CSV, through gzip (default level 6);
# seconds. Its uncompressed size is measured once, untimed.
copy_sql() { echo "COPY (SELECT * FROM $1 ORDER BY media_buy_id, date) TO STDOUT (FORMAT csv, HEADER)"; }
baseline() {
    local t0 t1
    t0=$(date +%s%N)
    for t in platform_buy_daily_impressions platform_buy_daily_videos; do
        psql -d big -c "$(copy_sql $t)" | gzip -6 > /dev/null
    done
    t1=$(date +%s%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}
# The export at gzip level $2: seconds, uncompressed bytes of the two tables' files
# (CSV + JSON), archive bytes.
export_once() {
    local db=$1 level=$2
    psql -d "$db" -At -F ' ' -c "SET bravo_metrics.export_gzip_level = $level" -c "SELECT ms / 1000.0,
            (SELECT sum((f->>'bytes')::bigint) FROM jsonb_array_elements(files) f WHERE f->>'path' ~ '(daily_|Daily)'),
            archive_bytes FROM bravo_export('s3://bench/')"
}
peak_kb() {  # peak private memory (RssAnon, sampled every 50 ms) of the backend running an export, kB
    local out="$dir/peak.$1" pid="" peak=0 v
    rm -f "$out"
    psql -d "$1" -At -c "SELECT pg_backend_pid()" -c "SELECT pg_sleep(0.5)" \
         -c "SELECT count(*) FROM bravo_export('s3://bench/')" > "$out" &
    local job=$!
    while [ -z "$pid" ]; do sleep 0.05; pid=$(head -1 "$out" 2>/dev/null || true); done
    while kill -0 "$job" 2>/dev/null; do
        v=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
        [ "${v:-0}" -gt "$peak" ] && peak=$v
        sleep 0.05
    done
    echo "$peak"
}

base_bytes=0; base_gz=0
for t in platform_buy_daily_impressions platform_buy_daily_videos; do
    base_bytes=$(( base_bytes + $(psql -d big -c "$(copy_sql $t)" | wc -c) ))
    base_gz=$(( base_gz + $(psql -d big -c "$(copy_sql $t)" | gzip -6 | wc -c) ))
done
default_level=$(psql -d big -At -c "LOAD 'bravo_metrics'" -c "SHOW bravo_metrics.export_gzip_level")
bt=""; et=""; e6t=""
for r in $(seq "$rounds"); do
    bt="$bt $(baseline)"
    read -r s eb ab <<<"$(export_once big "$default_level")"; et="$et $s"; exp_bytes=$eb; arch=$ab
    read -r s eb ab6 <<<"$(export_once big 6)"; e6t="$e6t $s"
done
bs=$(echo $bt | median); es=$(echo $et | median); e6s=$(echo $e6t | median)
small_kb=$(peak_kb small); big_kb=$(peak_kb big)
echo "| measurement | bravo_export (default gzip level $default_level) | baseline: COPY ... TO STDOUT (csv) \| gzip (level 6) | ratio | target |"
echo "|---|---|---|---|---|"
awk -v n="$total" -v es="$es" -v bs="$bs" -v eb="$exp_bytes" -v bb="$base_bytes" -v ets="$et" -v bts="$bt" -v e6s="$e6s" -v e6t="$e6t" 'BEGIN {
    printf "| seconds for %d rows (median of rounds:%s / %s) | %.2f s | %.2f s | | |\n", n, ets, bts, es, bs;
    printf "| rows per second | %.0f | %.0f | %.2fx | >= 0.8x |\n", n / es, n / bs, (n / es) / (n / bs);
    printf "| uncompressed MB per second (export: CSV + MongoDB JSON, %.0f MB; baseline: CSV, %.0f MB) | %.1f | %.1f | %.2fx | |\n", eb / 1e6, bb / 1e6, eb / 1e6 / es, bb / 1e6 / bs, (eb / es) / (bb / bs);
    printf "| the export at gzip level 6, seconds (median of rounds:%s); rows per second | %.2f s; %.0f | | %.2fx | |\n", e6t, e6s, n / e6s, (n / e6s) / (n / bs);
}'
echo "| archive size (export: CSV + JSON; baseline: CSV only) | $(( arch / 1000000 )) MB (level 6: $(( ab6 / 1000000 )) MB) | $(( base_gz / 1000000 )) MB | | |"
echo "| export backend peak private memory (RssAnon) at $(( rows / 3 )) / $rows rows per table | ${small_kb} kB / ${big_kb} kB | | $(awk -v a="$small_kb" -v b="$big_kb" 'BEGIN { printf "%.2fx", b / a }') | flat |"
