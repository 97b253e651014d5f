#!/usr/bin/env bash
# The main job on the embedded default: builds and installs the extension, starts a
# local PostgreSQL 15 cluster and a fakesnow server seeded with realistic sample data
# (3,000 media buys, 12 campaigns, 150 days, four metric families, late revisions),
# enables the conversions and viewability families, runs bravo_sync(30) twice (first
# load, then after late revisions), prints one campaign's numbers, then enables the
# hourly families, runs bravo_sync_hourly() and prints the campaign's last 48 hours,
# and exports everything to a local S3 peer (moto), printing the download URL and
# fetching it.
# Idempotent: state lives in .state/demo and is reused; `rm -rf .state/demo` resets it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ROOT=$(pwd)
STATE="$ROOT/.state/demo"
PGPORT=${BRAVO_DEMO_PGPORT:-55433}
SFPORT=${BRAVO_DEMO_SFPORT:-18765}
S3PORT=${BRAVO_DEMO_S3PORT:-18766}
BIN=/usr/lib/postgresql/15/bin
mkdir -p "$STATE"
chown postgres "$ROOT/.state" "$STATE" 2>/dev/null || true
chmod o+x "$ROOT" "$ROOT/.state" 2>/dev/null || true
pgrun() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

printf '\n== build and install the extension (release build, renamed into place)\n'
bash scripts/install.sh

printf '\n== PostgreSQL 15 on port %s (%s/pg)\n' "$PGPORT" "$STATE"
if [ ! -f "$STATE/pg/PG_VERSION" ]; then
    pgrun "$BIN/initdb" -D "$STATE/pg" -A trust -U postgres --no-sync >/dev/null
    cat >> "$STATE/pg/postgresql.conf" <<CONF
port = $PGPORT
unix_socket_directories = '$STATE'
listen_addresses = '127.0.0.1'
shared_preload_libraries = 'bravo_metrics'
CONF
fi
# The library is preloaded, so a running cluster is restarted to pick up the build
# just installed.
if pgrun "$BIN/pg_ctl" -D "$STATE/pg" status >/dev/null 2>&1; then
    pgrun "$BIN/pg_ctl" -D "$STATE/pg" -l "$STATE/pg.log" -w restart -m fast >/dev/null
else
    pgrun "$BIN/pg_ctl" -D "$STATE/pg" -l "$STATE/pg.log" -w start >/dev/null
fi
PSQL=(psql -X -q -h "$STATE" -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1)

printf '\n== fakesnow on port %s\n' "$SFPORT"
if ! (exec 3<>/dev/tcp/127.0.0.1/"$SFPORT") 2>/dev/null; then
    mkdir -p "$STATE/fakesnow"
    nohup .venv/bin/fakesnow -s -p "$SFPORT" -d "$STATE/fakesnow" > "$STATE/fakesnow.log" 2>&1 &
    for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$SFPORT") 2>/dev/null && break; sleep 0.2; done
fi
# Seed unless this server already holds the sample data (fakesnow keeps its tables in
# memory, so a server started after a reboot is empty even if it was seeded before).
if ! .venv/bin/python scripts/seed_fakesnow.py --port "$SFPORT" --check; then
    .venv/bin/python scripts/seed_fakesnow.py --port "$SFPORT"
fi

printf '\n== media_tool database\n'
"${PSQL[@]}" -d postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'media_tool'" | grep -q 1 || "${PSQL[@]}" -d postgres -c "CREATE DATABASE media_tool"
printf 'snow' > "$STATE/snowflake.secret"
chown postgres "$STATE/snowflake.secret" 2>/dev/null || true
chmod 600 "$STATE/snowflake.secret"
"${PSQL[@]}" -d media_tool <<SQL
CREATE EXTENSION IF NOT EXISTS bravo_metrics;
ALTER EXTENSION bravo_metrics UPDATE;   -- a demo database from an older build is upgraded in place
INSERT INTO media_buys (id, campaign_id, name)
SELECT g, 100 + g % 12, 'buy ' || g FROM generate_series(1, 3000) g ON CONFLICT (id) DO NOTHING;
ALTER DATABASE media_tool RESET bravo_metrics.snowflake_secret_file;  -- 0.2.0 demos set it here; now refused
ALTER DATABASE media_tool SET bravo_metrics.snowflake_account = 'demo';
ALTER DATABASE media_tool SET bravo_metrics.snowflake_user = 'demo';
ALTER DATABASE media_tool SET bravo_metrics.snowflake_protocol = 'http';
ALTER DATABASE media_tool SET bravo_metrics.snowflake_host = '127.0.0.1';
ALTER DATABASE media_tool SET bravo_metrics.snowflake_port = $SFPORT;
ALTER DATABASE media_tool SET bravo_metrics.snowflake_database = 'ANALYTICS';
ALTER DATABASE media_tool SET bravo_metrics.snowflake_schema = 'PUBLIC';
SQL

# Secret file paths are cluster-wide and superuser-only (ALTER SYSTEM), never per database.
"${PSQL[@]}" -d media_tool -c "ALTER SYSTEM SET bravo_metrics.snowflake_secret_file = '$STATE/snowflake.secret'"
"${PSQL[@]}" -d media_tool -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5

printf '\n== the metric families: conversions and viewability are off until enabled\n'
"${PSQL[@]}" -d media_tool -c "SELECT bravo_enable_family('conversions'), bravo_enable_family('viewability')" >/dev/null
"${PSQL[@]}" -d media_tool -c "SELECT family, table_name, enabled, required FROM bravo_families ORDER BY position"

printf '\n== SELECT * FROM bravo_sync(30)\n'
"${PSQL[@]}" -d media_tool -c "SELECT * FROM bravo_sync(30)"
printf '\n== late revisions arrive in Snowflake; sync again\n'
.venv/bin/python scripts/seed_fakesnow.py --port "$SFPORT" --revise
"${PSQL[@]}" -d media_tool -c "SELECT * FROM bravo_sync(30)"

printf '\n== campaign 105, last 30 days\n'
if "${PSQL[@]}" -d media_tool -tc "SELECT to_regprocedure('bravo_campaign_totals(bigint,date,date)') IS NOT NULL" | grep -q t; then
    "${PSQL[@]}" -d media_tool -x -c "SELECT impressions, clicks, spend, video_starts, video_completions, video_views,
           ctr, cpm, cpc, completion_rate, view_rate, cpcv, media_buys, first_date, last_date,
           latest_date, days_behind, last_sync_at
      FROM bravo_campaign_totals(105, current_date - 30, current_date)"
else
    "${PSQL[@]}" -d media_tool -x -c "
      SELECT count(DISTINCT b.id) AS media_buys, sum(i.impressions) AS impressions, sum(i.clicks) AS clicks, sum(i.spend) AS spend,
             round(sum(i.clicks)::numeric / nullif(sum(i.impressions), 0), 6) AS ctr
        FROM media_buys b JOIN platform_buy_daily_impressions i ON i.media_buy_id = b.id
       WHERE b.campaign_id = 105 AND i.date >= current_date - 30"
fi
printf '\n== campaign 105, conversions and viewability, last 30 days\n'
"${PSQL[@]}" -d media_tool -x -c "SELECT conversions, post_click_conversions, post_view_conversions, conversion_value,
       round(conversion_rate, 4) AS conversion_rate, round(cpa, 2) AS cpa, round(roas, 2) AS roas,
       eligible_impressions, measurable_impressions, viewable_impressions,
       round(measurable_rate, 4) AS measurable_rate, round(viewability_rate, 4) AS viewability_rate,
       round(vcpm, 2) AS vcpm
  FROM bravo_campaign_totals(105, current_date - 30, current_date)"
if "${PSQL[@]}" -d media_tool -tc "SELECT to_regprocedure('bravo_media_buy_totals(bigint,date,date)') IS NOT NULL" | grep -q t; then
    printf '\n== campaign 105 per media buy, last 30 days (first 5 buys)\n'
    "${PSQL[@]}" -d media_tool -c "SELECT media_buy_id, impressions, clicks, spend, round(ctr, 4) AS ctr, round(cpm, 2) AS cpm, video_starts, round(completion_rate, 4) AS completion_rate FROM bravo_media_buy_totals(105, current_date - 30, current_date) LIMIT 5"
fi
if "${PSQL[@]}" -d media_tool -tc "SELECT to_regprocedure('bravo_sync_hourly(integer,boolean)') IS NOT NULL" | grep -q t; then
    printf '\n== hourly families: enabled, then SELECT * FROM bravo_sync_hourly() (their own lookback: 3 days)\n'
    "${PSQL[@]}" -d media_tool -c "SELECT bravo_enable_family('impressions_hourly'), bravo_enable_family('videos_hourly')" >/dev/null
    "${PSQL[@]}" -d media_tool -c "SELECT * FROM bravo_sync_hourly()"
    printf '\n== campaign 105, the last 48 hours (UTC)\n'
    "${PSQL[@]}" -d media_tool -c "SELECT local_hour, impressions, clicks, spend, round(ctr, 4) AS ctr, round(cpm, 2) AS cpm,
           video_starts, round(completion_rate, 4) AS completion_rate
      FROM bravo_campaign_hourly(105, current_date - 2, current_date, 'UTC')
     WHERE hour_start > now() - interval '48 hours' AND hour_start <= now()"
fi
"${PSQL[@]}" -d media_tool -c "SELECT run_id, trigger, status, window_start, finished_at - started_at AS took FROM bravo_sync_runs ORDER BY run_id DESC LIMIT 3"

# Is the data there? The doctor's checks (README, "Troubleshooting").
if "${PSQL[@]}" -d media_tool -tc "SELECT to_regprocedure('bravo_doctor()') IS NOT NULL" | grep -q t; then
    printf '\n== SELECT * FROM bravo_doctor()\n'
    "${PSQL[@]}" -d media_tool -c "SELECT \"check\", status, detail, hint FROM bravo_doctor()"
fi

# The complete export to a local S3 peer (moto), configured as the README says.
if "${PSQL[@]}" -d media_tool -tc "SELECT to_regprocedure('bravo_export(text,interval)') IS NOT NULL" | grep -q t; then
    printf '
== moto S3 on port %s; SELECT * FROM bravo_export() to s3://demo-exports/
' "$S3PORT"
    if ! (exec 3<>/dev/tcp/127.0.0.1/"$S3PORT") 2>/dev/null; then
        nohup .venv/bin/moto_server -H 127.0.0.1 -p "$S3PORT" > "$STATE/moto.log" 2>&1 &
        for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$S3PORT") 2>/dev/null && break; sleep 0.2; done
    fi
    .venv/bin/python -c "import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:$S3PORT/demo-exports', method='PUT'))"
    printf '[default]\naws_access_key_id = AKIDDEMO\naws_secret_access_key = demo-secret\n' > "$STATE/s3.credentials"
    chown postgres "$STATE/s3.credentials" 2>/dev/null || true
    chmod 600 "$STATE/s3.credentials"
    "${PSQL[@]}" -d media_tool -c "ALTER SYSTEM SET bravo_metrics.export_credentials_file = '$STATE/s3.credentials'"
    "${PSQL[@]}" -d media_tool -c "ALTER SYSTEM SET bravo_metrics.export_s3_endpoint = 'http://127.0.0.1:$S3PORT'"
    "${PSQL[@]}" -d media_tool -c "SELECT pg_reload_conf()" >/dev/null
    "${PSQL[@]}" -d media_tool -c "ALTER DATABASE media_tool SET bravo_metrics.export_destination = 's3://demo-exports/daily/'"
    read -r url sha bytes ms < <("${PSQL[@]}" -d media_tool -At -F ' ' -c "SELECT url, archive_sha256, archive_bytes, ms FROM bravo_export(url_expires => interval '1 day')")
    printf 'exported in %s ms; download URL (1 day): %s\n' "$ms" "$url"
    .venv/bin/python - "$url" "$sha" "$bytes" <<'PY'
import hashlib, io, sys, tarfile, urllib.request
url, sha, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
body = urllib.request.urlopen(url).read()
assert len(body) == size and hashlib.sha256(body).hexdigest() == sha, "the download is the archive"
with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as t:
    members = t.getmembers()
print(f"fetched {len(body)} bytes, sha256 {sha[:16]}..., {len(members)} files:")
for m in members:
    print(f"  {m.name:70s} {m.size:>12,d} bytes")
PY
fi
printf '\nPostgreSQL: psql -h %s -p %s -U postgres media_tool   (stop: %s/pg_ctl -D %s/pg stop)\n' "$STATE" "$PGPORT" "$BIN" "$STATE"
