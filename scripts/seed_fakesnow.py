"""Seeds a fakesnow server with realistic sample metrics.

3,000 media buys over 12 campaigns, 150 days each (450,000 rows per table), with
impressions/clicks/spend, video starts/completions/views, post-click/post-view
conversions and their value, and MRC viewability (eligible, measurable, viewable
impressions), whose shape follows a weekly cycle; and "late revisions": with --revise,
2 % of the last 7 days' rows are restated with new numbers and a later updated_at, as
late-arriving data does (late conversions too). Hourly: the last 3 days hour by hour
(TIMESTAMP_LTZ instants) for impressions and videos, following a daily curve (quiet at
night, busiest in the evening, UTC).
"""
import argparse

import snowflake.connector

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--buys", type=int, default=3000)
p.add_argument("--days", type=int, default=150)
p.add_argument("--revise", action="store_true")
p.add_argument("--check", action="store_true", help="exit 0 if the server already holds the sample data, 1 if not")
a = p.parse_args()

con = snowflake.connector.connect(
    account="fakesnow", user="fake", password="snow", host="127.0.0.1", port=a.port,
    protocol="http", database="ANALYTICS", schema="PUBLIC",
)
cur = con.cursor()
run = cur.execute

if a.check:
    # fakesnow keeps its tables in memory: a restarted server is empty again.
    try:
        cur.execute("SELECT count(*) FROM ANALYTICS.PUBLIC.PLATFORM_BUY_HOURLY_VIDEOS")
        raise SystemExit(0 if cur.fetchone()[0] > 0 else 1)
    except snowflake.connector.errors.ProgrammingError:
        raise SystemExit(1)

if a.revise:
    for table, sets in (
        ("PLATFORM_BUY_DAILY_IMPRESSIONS", "impressions = impressions + 250, clicks = clicks + 3, spend = spend + 1.25"),
        ("PLATFORM_BUY_DAILY_VIDEOS", "video_starts = video_starts + 40, video_completions = video_completions + 25, video_views = video_views + 60"),
        ("PLATFORM_BUY_DAILY_CONVERSIONS", "post_view_conversions = post_view_conversions + 2, conversion_value = conversion_value + 84.50"),
    ):
        run(f"UPDATE {table} SET {sets}, updated_at = current_timestamp "
            f"WHERE date >= dateadd(day, -7, current_date) AND (media_buy_id * 7 + datediff(day, date, current_date)) % 50 = 0")
    print("revised 2% of the last 7 days")
    raise SystemExit(0)

run("CREATE DATABASE IF NOT EXISTS ANALYTICS")
run("CREATE SCHEMA IF NOT EXISTS ANALYTICS.PUBLIC")
run("CREATE OR REPLACE TABLE PLATFORM_BUY_DAILY_IMPRESSIONS (date date, media_buy_id number(38,0), "
    "impressions number(38,0), clicks number(38,0), spend number(18,2), created_at timestamp_ntz, updated_at timestamp_ntz)")
run("CREATE OR REPLACE TABLE PLATFORM_BUY_DAILY_VIDEOS (date date, media_buy_id number(38,0), "
    "video_starts number(38,0), video_completions number(38,0), video_views number(38,0), created_at timestamp_ntz, updated_at timestamp_ntz)")
# Volume per buy varies (hash of the id); weekends run at 70 %.
base = "(2000 + (b.range * 7919) % 48000)"
weekly = "(CASE WHEN dayofweekiso(dateadd(day, -d.range, current_date)) >= 6 THEN 7 ELSE 10 END)"
run(f"""INSERT INTO PLATFORM_BUY_DAILY_IMPRESSIONS
        SELECT dateadd(day, -d.range, current_date), b.range,
               {base} * {weekly} / 10 + d.range,
               ({base} * {weekly} / 10) / (150 + b.range % 250),
               ((({base} * {weekly} / 10) * (250 + b.range % 900)) / 1000)::number(18,2) / 100,
               dateadd(day, -d.range + 1, current_date)::timestamp_ntz, dateadd(day, -d.range + 1, current_date)::timestamp_ntz
          FROM range(1, {a.buys + 1}) b, range(0, {a.days}) d""")
run(f"""INSERT INTO PLATFORM_BUY_DAILY_VIDEOS
        SELECT dateadd(day, -d.range, current_date), b.range,
               ({base} * {weekly} / 10) / 4, ({base} * {weekly} / 10) / 6, ({base} * {weekly} / 10) / 5,
               dateadd(day, -d.range + 1, current_date)::timestamp_ntz, dateadd(day, -d.range + 1, current_date)::timestamp_ntz
          FROM range(1, {a.buys + 1}) b, range(0, {a.days}) d""")
run("CREATE OR REPLACE TABLE PLATFORM_BUY_DAILY_CONVERSIONS (date date, media_buy_id number(38,0), "
    "post_click_conversions number(38,0), post_view_conversions number(38,0), conversion_value number(18,2), "
    "created_at timestamp_ntz, updated_at timestamp_ntz)")
run("CREATE OR REPLACE TABLE PLATFORM_BUY_DAILY_VIEWABILITY (date date, media_buy_id number(38,0), "
    "eligible_impressions number(38,0), measurable_impressions number(38,0), viewable_impressions number(38,0), "
    "created_at timestamp_ntz, updated_at timestamp_ntz)")
# Conversions: 2-6 % of clicks post-click, one post-view per ~2,000-5,000 impressions,
# worth 20-80 each. Viewability: every impression eligible, 85-97 % measurable, 45-75 %
# of those viewable (MRC: 50 % of pixels for 1 s display / 2 s video).
imps = f"({base} * {weekly} / 10)"
clicks = f"({imps} / (150 + b.range % 250))"
run(f"""INSERT INTO PLATFORM_BUY_DAILY_CONVERSIONS
        SELECT dateadd(day, -d.range, current_date), b.range,
               {clicks} * (2 + b.range % 5) / 100,
               {imps} / (2000 + (b.range * 31) % 3000),
               (({clicks} * (2 + b.range % 5) / 100 + {imps} / (2000 + (b.range * 31) % 3000)) * (2000 + (b.range * 13) % 6000))::number(18,2) / 100,
               dateadd(day, -d.range + 1, current_date)::timestamp_ntz, dateadd(day, -d.range + 1, current_date)::timestamp_ntz
          FROM range(1, {a.buys + 1}) b, range(0, {a.days}) d""")
run(f"""INSERT INTO PLATFORM_BUY_DAILY_VIEWABILITY
        SELECT dateadd(day, -d.range, current_date), b.range,
               {imps} + d.range,
               ({imps} + d.range) * (85 + b.range % 13) / 100,
               ({imps} + d.range) * (85 + b.range % 13) / 100 * (45 + (b.range * 7) % 31) / 100,
               dateadd(day, -d.range + 1, current_date)::timestamp_ntz, dateadd(day, -d.range + 1, current_date)::timestamp_ntz
          FROM range(1, {a.buys + 1}) b, range(0, {a.days}) d""")
run("CREATE OR REPLACE TABLE PLATFORM_BUY_HOURLY_IMPRESSIONS (hour_start timestamp_ltz, media_buy_id number(38,0), "
    "impressions number(38,0), clicks number(38,0), spend number(18,2))")
run("CREATE OR REPLACE TABLE PLATFORM_BUY_HOURLY_VIDEOS (hour_start timestamp_ltz, media_buy_id number(38,0), "
    "video_starts number(38,0), video_completions number(38,0), video_views number(38,0))")
# The hours of the last 3 days up to the current one; weight by hour of day (UTC):
# 2 at night, up to 9 in the evening, out of ~130 a day.
hour = "dateadd(hour, -h.range, date_trunc('hour', current_timestamp))"
weight = f"(2 + (CASE WHEN extract(hour FROM {hour}) BETWEEN 7 AND 22 THEN extract(hour FROM {hour}) - 5 ELSE 0 END) / 2)"
himps = f"({base} * {weight} / 130)"
run(f"""INSERT INTO PLATFORM_BUY_HOURLY_IMPRESSIONS
        SELECT {hour}, b.range, {himps}, {himps} / (150 + b.range % 250),
               (({himps} * (250 + b.range % 900)) / 1000)::number(18,2) / 100
          FROM range(1, {a.buys + 1}) b, range(0, 72) h""")
run(f"""INSERT INTO PLATFORM_BUY_HOURLY_VIDEOS
        SELECT {hour}, b.range, {himps} / 4, {himps} / 6, {himps} / 5
          FROM range(1, {a.buys + 1}) b, range(0, 72) h""")
run("SELECT count(*) FROM PLATFORM_BUY_DAILY_IMPRESSIONS")
print(f"seeded {cur.fetchone()[0]} rows per table ({a.buys} media buys x {a.days} days)")
