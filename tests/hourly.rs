//! Hourly families (issue 12) synced from the real fakesnow: `hour_start` read from
//! TIMESTAMP_NTZ in Europe/Paris and America/New_York, from TIMESTAMP_TZ and from
//! TIMESTAMP_LTZ, across both daylight-saving changes of 2026 in each zone (23- and
//! 25-hour days); wall-clock hours that name no single instant set aside; late
//! revisions, re-syncs that write nothing, deletions, unknown media buys; the daily
//! sync untouched. Expected instants are computed by PostgreSQL from the same text the
//! source was given, independently of the extension's own conversion.

mod common;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use common::*;
use postgres::Client;

/// One source row: family, media buy, HOUR_START as the source has it, and whether it
/// names no single instant (set aside).
struct Hour {
    family: &'static str,
    buy: i64,
    text: String,
    aside: Option<&'static str>,
}

/// The local wall-clock labels 00:00..23:00 of `day` in `zone`, as a platform on a
/// local clock reports them: a skipped hour is still listed (bad data: nonexistent),
/// a repeated hour is listed twice (ambiguous).
fn ntz_day(family: &'static str, buy: i64, day: NaiveDate, zone: Tz) -> Vec<Hour> {
    let mut out = Vec::new();
    for h in 0..24 {
        let local = day.and_hms_opt(h, 0, 0).unwrap();
        let text = local.format("%Y-%m-%d %H:%M:%S").to_string();
        match zone.from_local_datetime(&local) {
            chrono::LocalResult::Single(_) => out.push(Hour {
                family,
                buy,
                text,
                aside: None,
            }),
            chrono::LocalResult::None => out.push(Hour {
                family,
                buy,
                text,
                aside: Some("nonexistent_hour"),
            }),
            chrono::LocalResult::Ambiguous(..) => {
                for _ in 0..2 {
                    out.push(Hour {
                        family,
                        buy,
                        text: text.clone(),
                        aside: Some("ambiguous_hour"),
                    })
                }
            }
        }
    }
    out
}

/// Every real hour of local `day` in `zone` (23, 24 or 25), as instants written with
/// the zone's offset at that instant (TIMESTAMP_TZ) or in UTC (`utc`: TIMESTAMP_LTZ).
fn instant_day(family: &'static str, buy: i64, day: NaiveDate, zone: Tz, utc: bool) -> Vec<Hour> {
    let mut t = zone
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc);
    let mut out = Vec::new();
    while t.with_timezone(&zone).date_naive() == day {
        let text = if utc {
            t.format("%Y-%m-%d %H:%M:%S+00:00").to_string()
        } else {
            t.with_timezone(&zone)
                .format("%Y-%m-%d %H:%M:%S%:z")
                .to_string()
        };
        out.push(Hour {
            family,
            buy,
            text,
            aside: None,
        });
        t += Duration::hours(1);
    }
    out
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// (family, source relation, Snowflake type of HOUR_START, zone of NTZ hours)
const FAMILIES: [(&str, &str, &str, Option<&str>); 4] = [
    (
        "h_paris",
        "HOURLY_PARIS",
        "timestamp_ntz",
        Some("Europe/Paris"),
    ),
    (
        "h_ny",
        "HOURLY_NY",
        "timestamp_ntz",
        Some("America/New_York"),
    ),
    ("h_tz", "HOURLY_TZ", "timestamp_tz", None),
    ("h_ltz", "HOURLY_LTZ", "timestamp_ltz", None),
];

fn source_rows() -> Vec<Hour> {
    let paris: Tz = "Europe/Paris".parse().unwrap();
    let ny: Tz = "America/New_York".parse().unwrap();
    let mut rows = Vec::new();
    for buy in 1..=3 {
        for day in [d(2026, 3, 29), d(2026, 10, 25)] {
            rows.extend(ntz_day("h_paris", buy, day, paris));
            rows.extend(instant_day("h_tz", buy, day, paris, false));
        }
        for day in [d(2026, 3, 8), d(2026, 11, 1)] {
            rows.extend(ntz_day("h_ny", buy, day, ny));
            rows.extend(instant_day("h_ltz", buy, day, ny, true));
        }
    }
    rows
}

/// The source's values for a row: impressions and spend from its buy and position.
fn values(i: usize, buy: i64) -> (i64, String) {
    (100 * buy + i as i64, format!("{}.{:02}", buy, i % 100))
}

fn setup() -> (Source, Cluster, Client) {
    let src = Source::start();
    let rows = source_rows();
    for (family, relation, ty, _) in FAMILIES {
        src.sql(&[&format!(
            "CREATE OR REPLACE TABLE ANALYTICS.PUBLIC.{relation} (hour_start {ty}, media_buy_id number(38,0), impressions number(38,0), spend number(18,2))"
        )]);
        let tuples: Vec<String> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.family == family)
            .map(|(i, r)| {
                let (imp, spend) = values(i, r.buy);
                format!("('{}', {}, {imp}, {spend})", r.text, r.buy)
            })
            .collect();
        src.sql(&[&format!(
            "INSERT INTO ANALYTICS.PUBLIC.{relation} VALUES {}",
            tuples.join(", ")
        )]);
    }
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 3, 1);
    // The four hourly families, as a user adds them to the catalog.
    for (pos, (family, relation, _, zone)) in FAMILIES.iter().enumerate() {
        c.execute(
            "INSERT INTO bravo_families (family, table_name, source_relation, grain, key_columns, position, source_time_zone)
             VALUES ($1, 'platform_buy_' || $1, $2, 'hour', '{media_buy_id,hour_start}', 10 + $3::int, $4)",
            &[family, relation, &(pos as i32), zone],
        )
        .unwrap();
        c.execute(
            "INSERT INTO bravo_family_metrics (family, column_name, kind, position)
             VALUES ($1, 'impressions', 'count', 1), ($1, 'spend', 'money', 2)",
            &[family],
        )
        .unwrap();
        c.execute("SELECT bravo_enable_family($1)", &[family])
            .unwrap();
    }
    // What the source was given, for PostgreSQL to convert on its own.
    c.batch_execute(
        "CREATE TABLE given (family text, media_buy_id bigint, hour_text text, aside text, impressions bigint, spend numeric)",
    )
    .unwrap();
    for (i, r) in rows.iter().enumerate() {
        let (imp, spend) = values(i, r.buy);
        c.execute(
            "INSERT INTO given VALUES ($1, $2, $3, $4, $5, $6::text::numeric)",
            &[&r.family, &r.buy, &r.text, &r.aside, &imp, &spend],
        )
        .unwrap();
    }
    (src, pg, c)
}

/// Rows of family `f`'s table that differ from what PostgreSQL makes of the given
/// text (NTZ in the family's zone, TZ/LTZ as instants), in either direction.
fn diff(c: &mut Client, family: &str, zone: Option<&str>) -> i64 {
    let instant = match zone {
        Some(z) => format!("(g.hour_text::timestamp AT TIME ZONE '{z}')"),
        None => "g.hour_text::timestamptz".to_string(),
    };
    c.query_one(
        &format!(
            "WITH want AS (SELECT g.media_buy_id, {instant} AS hour_start, g.impressions, g.spend
                             FROM given g WHERE g.family = $1 AND g.aside IS NULL),
                  have AS (SELECT media_buy_id, hour_start, impressions, spend FROM platform_buy_{family})
             SELECT (SELECT count(*) FROM (SELECT * FROM want EXCEPT ALL SELECT * FROM have) a)
                  + (SELECT count(*) FROM (SELECT * FROM have EXCEPT ALL SELECT * FROM want) b)"
        ),
        &[&family],
    )
    .unwrap()
    .get(0)
}

/// (target -> [fetched, inserted, updated, unchanged, deleted, set_aside])
fn sync(c: &mut Client, sql: &str) -> std::collections::BTreeMap<String, [i64; 6]> {
    c.query(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", db_message(&e)))
        .iter()
        .map(|r| {
            (
                r.get::<_, String>("target"),
                [
                    r.get("fetched"),
                    r.get("inserted"),
                    r.get("updated"),
                    r.get("unchanged"),
                    r.get("deleted"),
                    r.get("set_aside"),
                ],
            )
        })
        .collect()
}

/// Rows of a table per local day in `zone`: (day, rows) for one media buy.
fn hours_per_local_day(c: &mut Client, family: &str, zone: &str) -> Vec<(String, i64)> {
    c.query(
        &format!(
            "SELECT (hour_start AT TIME ZONE '{zone}')::date::text, count(*) FROM platform_buy_{family}
              WHERE media_buy_id = 1 GROUP BY 1 ORDER BY 1"
        ),
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

#[test]
fn hours_of_every_timestamp_type_land_as_instants_across_daylight_saving_changes() {
    let (src, _pg, mut c) = setup();

    // Without a lookback, bravo_metrics.hourly_lookback_days (3) applies: none of the
    // DST days of 2026 is that recent, so nothing is fetched.
    let r = sync(&mut c, "SELECT * FROM bravo_sync_hourly()");
    assert_eq!(
        r.keys().collect::<Vec<_>>(),
        ["h_ltz", "h_ny", "h_paris", "h_tz"]
    );
    assert!(r.values().all(|v| v[0] == 0), "{r:?}");

    // 280 days back reaches 2026-03-08.
    let r = sync(&mut c, "SELECT * FROM bravo_sync_hourly(280)");
    let logged: bool = c
        .query_one(
            "SELECT window_start = (now() AT TIME ZONE 'UTC')::date - 280 AND status = 'succeeded'
               FROM bravo_sync_runs ORDER BY run_id DESC LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(logged, "the run log has the window's first day");
    // Paris NTZ: 2 x 24 labels + the repeated 02:00 per buy; 02:00 on 03-29 skipped,
    // both 02:00 on 10-25 ambiguous: 3 x 3 set aside, 3 x 46 merged.
    assert_eq!(r["h_paris"], [3 * 49, 3 * 46, 0, 0, 0, 9]);
    assert_eq!(r["h_ny"], [3 * 49, 3 * 46, 0, 0, 0, 9]);
    // Instants: 23 + 25 real hours per buy, all merged.
    assert_eq!(r["h_tz"], [3 * 48, 3 * 48, 0, 0, 0, 0]);
    assert_eq!(r["h_ltz"], [3 * 48, 3 * 48, 0, 0, 0, 0]);
    for (family, _, _, zone) in FAMILIES {
        assert_eq!(diff(&mut c, family, zone), 0, "{family}");
    }
    // A daylight-saving day has 23 or 25 rows, each an instant an hour apart.
    assert_eq!(
        hours_per_local_day(&mut c, "h_tz", "Europe/Paris"),
        [
            ("2026-03-29".to_string(), 23),
            ("2026-10-25".to_string(), 25)
        ]
    );
    assert_eq!(
        hours_per_local_day(&mut c, "h_ltz", "America/New_York"),
        [
            ("2026-03-08".to_string(), 23),
            ("2026-11-01".to_string(), 25)
        ]
    );
    let gaps: i64 = c
        .query_one(
            "SELECT count(*) FROM (SELECT hour_start - lag(hour_start) OVER (ORDER BY hour_start) AS gap
                                     FROM platform_buy_h_tz WHERE media_buy_id = 2
                                      AND (hour_start AT TIME ZONE 'Europe/Paris')::date = '2026-10-25') s
              WHERE gap <> interval '1 hour'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(gaps, 0, "25 consecutive hours");

    // The set-aside rows say why, show the hour as the source had it, and have no hour.
    let aside: Vec<(String, String, String, bool)> = c
        .query(
            "SELECT reason, detail, source_row->>'hour_start', hour_start IS NULL FROM bravo_set_aside
              WHERE target = 'h_paris' AND media_buy_id = 1 ORDER BY source_row->>'hour_start', id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(aside.len(), 3);
    assert_eq!(aside[0].0, "nonexistent_hour");
    assert_eq!(aside[0].2, "2026-03-29 02:00:00");
    assert!(
        aside[0].1.contains("does not exist in Europe/Paris"),
        "{}",
        aside[0].1
    );
    assert_eq!(aside[1].0, "ambiguous_hour");
    assert_eq!(aside[2].2, "2026-10-25 02:00:00");
    assert!(aside.iter().all(|a| a.3));

    // The daily sync does not touch the hourly families, nor the hourly the daily.
    let daily = sync(&mut c, "SELECT * FROM bravo_sync(3)");
    assert_eq!(daily.keys().collect::<Vec<_>>(), ["impressions", "videos"]);

    // A re-sync with no change writes nothing.
    let fingerprint = |c: &mut Client| -> String {
        c.query_one(
            "SELECT md5(string_agg(ctid::text || xmin::text, ',' ORDER BY media_buy_id, hour_start)) FROM platform_buy_h_tz",
            &[],
        )
        .unwrap()
        .get(0)
    };
    let before = fingerprint(&mut c);
    let r = sync(&mut c, "SELECT * FROM bravo_sync_hourly(280)");
    assert_eq!(r["h_tz"], [144, 0, 0, 144, 0, 0]);
    assert_eq!(r["h_paris"], [147, 0, 0, 138, 0, 9]);
    assert_eq!(fingerprint(&mut c), before);

    // Late revisions of two hours (the extra hour of 10-25 among them), a vanished
    // hour, and an hour for a media buy the media tool does not have yet.
    src.sql(&[
        "UPDATE ANALYTICS.PUBLIC.HOURLY_TZ SET impressions = impressions + 1000 WHERE media_buy_id = 1 AND hour_start IN ('2026-10-25 02:00:00+02:00'::timestamp_tz, '2026-10-25 02:00:00+01:00'::timestamp_tz)",
        "DELETE FROM ANALYTICS.PUBLIC.HOURLY_TZ WHERE media_buy_id = 3 AND hour_start = '2026-03-29 05:00:00+02:00'::timestamp_tz",
        "INSERT INTO ANALYTICS.PUBLIC.HOURLY_TZ VALUES ('2026-10-25 12:00:00+01:00', 4, 9, 0.09)",
    ]);
    c.batch_execute(
        "UPDATE given SET impressions = impressions + 1000
          WHERE family = 'h_tz' AND media_buy_id = 1 AND hour_text IN ('2026-10-25 02:00:00+02:00', '2026-10-25 02:00:00+01:00');
         DELETE FROM given WHERE family = 'h_tz' AND media_buy_id = 3 AND hour_text = '2026-03-29 05:00:00+02:00';
         SET bravo_metrics.delete_missing = on;",
    )
    .unwrap();
    let r = sync(&mut c, "SELECT * FROM bravo_sync_hourly(280)");
    assert_eq!(r["h_tz"], [144, 0, 2, 141, 1, 1]);
    assert_eq!(diff(&mut c, "h_tz", None), 0);
    let unknown: (String, bool) = c
        .query_one(
            "SELECT reason, hour_start = '2026-10-25 11:00:00+00' FROM bravo_set_aside
              WHERE target = 'h_tz' AND media_buy_key = '4' AND resolved_at IS NULL",
            &[],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(unknown, ("unknown_media_buy".to_string(), true));
    // Once the media tool has buy 4, the next sync merges its hour.
    c.batch_execute("INSERT INTO media_buys (id, campaign_id) VALUES (4, 1)")
        .unwrap();
    let r = sync(&mut c, "SELECT * FROM bravo_sync_hourly(280)");
    assert_eq!(r["h_tz"], [144, 1, 0, 143, 0, 0]);
    let merged: i64 = c
        .query_one(
            "SELECT impressions FROM platform_buy_h_tz WHERE media_buy_id = 4 AND hour_start = '2026-10-25 11:00:00+00'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(merged, 9);

    // Freshness and the doctor read each hourly table's latest hour from its index
    // (bravo._bravo_latest_hour): the same hour max() finds, and its local day.
    for fam in ["h_ltz", "h_ny", "h_paris", "h_tz"] {
        type Instant = Option<chrono::DateTime<chrono::Utc>>;
        let (latest_hour, latest_date, max_hour, max_day): (Instant, Option<NaiveDate>, Instant, Option<NaiveDate>) = c
            .query_one(
                &format!(
                    "SELECT f.latest_hour, f.latest_date, m.h,
                            (m.h AT TIME ZONE coalesce(nullif(current_setting('bravo_metrics.sync_time_zone', true), ''), 'UTC'))::date
                       FROM bravo_freshness f,
                            (SELECT max(hour_start) AS h FROM platform_buy_{fam}) m
                      WHERE f.family = $1"
                ),
                &[&fam],
            )
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .unwrap();
        assert!(max_hour.is_some(), "{fam} has rows");
        assert_eq!((latest_hour, latest_date), (max_hour, max_day), "{fam}");
        let doctor: String = c
            .query_one(
                "SELECT detail FROM bravo_doctor() WHERE \"check\" = 'rows ' || $1",
                &[&format!("platform_buy_{fam}")],
            )
            .unwrap()
            .get(0);
        let day = max_day.unwrap().to_string();
        assert!(doctor.contains(&day), "{fam}: {doctor} names {day}");
    }
}

#[test]
fn an_hourly_sync_with_no_hourly_family_or_a_bad_zone_is_refused_clearly() {
    let src = Source::start();
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 3, 1);
    let e = c.batch_execute("SELECT bravo_sync_hourly(2)").unwrap_err();
    assert_eq!(sqlstate(&e), "55000");
    assert_eq!(
        db_message(&e).split(" | ").next().unwrap(),
        "no hourly metric family is enabled"
    );
    assert!(db_message(&e).contains("bravo_enable_family('impressions_hourly')"));

    // The shipped hourly families: a table keyed by an instant on whole minutes.
    c.batch_execute("SELECT bravo_enable_family('impressions_hourly')")
        .unwrap();
    let e = c
        .batch_execute(
            "INSERT INTO platform_buy_hourly_impressions (media_buy_id, hour_start, impressions, clicks, spend)
             VALUES (1, '2026-11-30 10:00:30+00', 1, 0, 0)",
        )
        .unwrap_err();
    assert_eq!(sqlstate(&e), "23514");
    let key: String = c
        .query_one(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'platform_buy_hourly_impressions'::regclass AND contype = 'p'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(key, "PRIMARY KEY (media_buy_id, hour_start)");

    // The hourly rollup's trigger function refuses to run on any other table.
    c.batch_execute(
        "CREATE TABLE decoy (media_buy_id bigint, hour_start timestamptz, impressions bigint, clicks bigint, spend numeric);
         CREATE TRIGGER decoy_ins AFTER INSERT ON decoy REFERENCING NEW TABLE AS new_rows
             FOR EACH STATEMENT EXECUTE FUNCTION bravo._bravo_hourly_metric_trigger();",
    )
    .unwrap();
    let e = c
        .batch_execute("INSERT INTO decoy VALUES (1, '2026-11-30 10:00+00', 1, 1, 1)")
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42501", "{}", db_message(&e));

    // A zone that is none is refused when the family is enabled...
    c.batch_execute("UPDATE bravo_families SET source_time_zone = 'Mars/Olympus' WHERE family = 'videos_hourly'")
        .unwrap();
    let e = c
        .batch_execute("SELECT bravo_enable_family('videos_hourly')")
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22023");
    // ... and by the sync, for a family enabled before the zone went bad.
    c.batch_execute("UPDATE bravo_families SET source_time_zone = 'Mars/Olympus' WHERE family = 'impressions_hourly'")
        .unwrap();
    let e = c.batch_execute("SELECT bravo_sync_hourly(2)").unwrap_err();
    assert_eq!(sqlstate(&e), "22023", "{}", db_message(&e));
    assert!(
        db_message(&e).contains("Mars/Olympus"),
        "{}",
        db_message(&e)
    );
    // A daily family cannot have one.
    let e = c
        .batch_execute(
            "UPDATE bravo_families SET source_time_zone = 'UTC' WHERE family = 'impressions'",
        )
        .unwrap_err();
    assert_eq!(sqlstate(&e), "23514");
}

/// A row of bravo_reconcile_hourly: family, media buy, day, measure, hours when a
/// measure is NULL, difference.
type Difference = (String, String, String, Option<String>, Option<i32>, String);

/// The shipped hourly families, synced from fakesnow next to the daily ones, behind
/// the hourly reports and the reconciliation. Hours of three Paris days (24, 25 and 24
/// hours); the daily rows are the sums of those hours per Paris day except for three
/// planted differences, which the reconciliation lists exactly.
#[test]
fn hourly_reports_follow_local_hours_and_the_reconciliation_finds_exactly_the_differences() {
    let paris: Tz = "Europe/Paris".parse().unwrap();
    let src = Source::start();
    src.sql(&[
        "CREATE OR REPLACE TABLE ANALYTICS.PUBLIC.PLATFORM_BUY_HOURLY_IMPRESSIONS (hour_start timestamp_tz, media_buy_id number(38,0), impressions number(38,0), clicks number(38,0), spend number(18,2))",
        "CREATE OR REPLACE TABLE ANALYTICS.PUBLIC.PLATFORM_BUY_HOURLY_VIDEOS (hour_start timestamp_ltz, media_buy_id number(38,0), video_starts number(38,0), video_completions number(38,0), video_views number(38,0))",
    ]);
    // (buy, Paris day) -> sums of impressions, clicks, spend cents; videos per hour are constant.
    let mut sums: std::collections::BTreeMap<(i64, NaiveDate), (i64, i64, i64, i64)> =
        Default::default();
    let (mut imp_rows, mut vid_rows) = (Vec::new(), Vec::new());
    for buy in 1..=4i64 {
        let mut i = 0i64;
        for day in [d(2026, 10, 24), d(2026, 10, 25), d(2026, 10, 26)] {
            for h in instant_day("x", buy, day, paris, true) {
                i += 1;
                let (imp, clicks, cents) = (100 + buy * 10 + i % 7, buy + i % 3, 17 * buy + i);
                // Buy 4 lost its first two hours of 10-24 in the hourly source.
                let lost = buy == 4 && day == d(2026, 10, 24) && i <= 2;
                if !lost {
                    imp_rows.push(format!(
                        "('{}', {buy}, {imp}, {clicks}, {}.{:02})",
                        h.text,
                        cents / 100,
                        cents % 100
                    ));
                }
                vid_rows.push(format!("('{}', {buy}, {}, 5, 7)", h.text, 10 + buy));
                let e = sums.entry((buy, day)).or_default();
                *e = (e.0 + imp, e.1 + clicks, e.2 + cents, e.3 + 1);
            }
        }
    }
    src.sql(&[
        &format!(
            "INSERT INTO ANALYTICS.PUBLIC.PLATFORM_BUY_HOURLY_IMPRESSIONS VALUES {}",
            imp_rows.join(", ")
        ),
        &format!(
            "INSERT INTO ANALYTICS.PUBLIC.PLATFORM_BUY_HOURLY_VIDEOS VALUES {}",
            vid_rows.join(", ")
        ),
    ]);
    let mut daily_imp = Vec::new();
    let mut daily_vid = Vec::new();
    for (&(buy, day), &(imp, clicks, cents, n)) in &sums {
        // Planted: buy 2's 10-25 impressions are 5 higher; buy 3 has no daily row on 10-26.
        let imp = if buy == 2 && day == d(2026, 10, 25) {
            imp + 5
        } else {
            imp
        };
        if !(buy == 3 && day == d(2026, 10, 26)) {
            daily_imp.push(format!(
                "('{day}', {buy}, {imp}, {clicks}, {}.{:02}, current_timestamp, current_timestamp)",
                cents / 100,
                cents % 100
            ));
        }
        daily_vid.push(format!(
            "('{day}', {buy}, {}, {}, {}, current_timestamp, current_timestamp)",
            (10 + buy) * n,
            5 * n,
            7 * n
        ));
    }
    src.sql(&[
        &format!(
            "INSERT INTO ANALYTICS.PUBLIC.PLATFORM_BUY_DAILY_IMPRESSIONS VALUES {}",
            daily_imp.join(", ")
        ),
        &format!(
            "INSERT INTO ANALYTICS.PUBLIC.PLATFORM_BUY_DAILY_VIDEOS VALUES {}",
            daily_vid.join(", ")
        ),
    ]);

    let pg = Cluster::start(ClusterOptions::default());
    // Campaign = id % 2 + 1: buys 2 and 4 in campaign 1, buys 1 and 3 in campaign 2.
    let mut c = pg.media_tool("media_tool", src.port(), 4, 2);
    c.batch_execute(
        "SELECT bravo_enable_family('impressions_hourly'), bravo_enable_family('videos_hourly');
         SELECT * FROM bravo_sync(60); SELECT * FROM bravo_sync_hourly(60);
         CREATE ROLE analyst LOGIN; SELECT bravo_grant_reporting('analyst');",
    )
    .unwrap_or_else(|e| panic!("{}", db_message(&e)));

    // The hourly report of 10-25 in Paris: 25 hours, 02:00 twice (+02 then +01), no
    // holes, sums equal to the hourly rows of the campaign's buys in each hour.
    let rows = c
        .query(
            "SELECT hour_start, local_hour::text, utc_offset::text, impressions, clicks, spend::text, ctr::text
               FROM bravo_campaign_hourly(1, '2026-10-25', '2026-10-25', 'Europe/Paris')",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 25);
    let labels: Vec<String> = rows.iter().map(|r| r.get(1)).collect();
    assert_eq!(labels[2], "2026-10-25 02:00:00");
    assert_eq!(labels[3], "2026-10-25 02:00:00");
    let offsets: Vec<String> = rows.iter().map(|r| r.get(2)).collect();
    assert_eq!(
        (offsets[2].as_str(), offsets[3].as_str()),
        ("02:00:00", "01:00:00")
    );
    let mismatches: i64 = c
        .query_one(
            "WITH r AS (SELECT * FROM bravo_campaign_hourly(1, '2026-10-24', '2026-10-26', 'Europe/Paris')),
                  t AS (SELECT p.hour_start, sum(p.impressions)::bigint AS impressions, sum(p.clicks)::bigint AS clicks, sum(p.spend) AS spend
                          FROM platform_buy_hourly_impressions p JOIN media_buys m ON m.id = p.media_buy_id
                         WHERE m.campaign_id = 1 GROUP BY 1)
             SELECT count(*) FROM r FULL JOIN t USING (hour_start)
              WHERE r.impressions IS DISTINCT FROM coalesce(t.impressions, 0)
                 OR r.clicks IS DISTINCT FROM coalesce(t.clicks, 0)
                 OR r.spend IS DISTINCT FROM coalesce(t.spend, 0)
                 OR r.ctr IS DISTINCT FROM t.clicks::numeric / NULLIF(t.impressions, 0)
                 OR r.hour_start IS NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(mismatches, 0, "every hour, as a plain GROUP BY says");
    let n: i64 = c
        .query_one("SELECT count(*) FROM bravo_campaign_hourly(1, '2026-10-24', '2026-10-26', 'Europe/Paris')", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 73);

    // In a half-hour zone the same hours land in Kolkata's hours: 24 a day, same total.
    let (n, total, want): (i64, i64, i64) = c
        .query_one(
            "SELECT (SELECT count(*) FROM bravo_campaign_hourly(2, '2026-10-25', '2026-10-25', 'Asia/Kolkata')),
                    (SELECT sum(impressions)::bigint FROM bravo_campaign_hourly(2, '2026-10-25', '2026-10-25', 'Asia/Kolkata')),
                    (SELECT sum(p.impressions)::bigint FROM platform_buy_hourly_impressions p JOIN media_buys m ON m.id = p.media_buy_id
                      WHERE m.campaign_id = 2 AND p.hour_start >= '2026-10-25 00:00 Asia/Kolkata'
                        AND p.hour_start < '2026-10-26 00:00 Asia/Kolkata')",
            &[],
        )
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .unwrap();
    assert_eq!((n, total), (24, want));

    // Hour of day over the three days: 24 rows; 02:00 happened 4 times, others 3.
    let hod: Vec<(i32, i32, i64)> = c
        .query(
            "SELECT hour_of_day, hours, impressions FROM bravo_campaign_hour_of_day(1, '2026-10-24', '2026-10-26', 'Europe/Paris')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(hod.len(), 24);
    assert!(
        hod.iter().all(|&(h, n, _)| n == if h == 2 { 4 } else { 3 }),
        "{hod:?}"
    );
    let total: i64 = hod.iter().map(|h| h.2).sum();
    let want: i64 = c
        .query_one(
            "SELECT sum(impressions)::bigint FROM bravo_campaign_hourly(1, '2026-10-24', '2026-10-26', 'Europe/Paris')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(total, want);

    // The reconciliation in Paris days finds exactly the planted differences.
    let found: Vec<Difference> = c
        .query(
            "SELECT family, media_buy_id, day::text, measure, CASE WHEN measure IS NULL THEN hours END,
                    coalesce(difference::text, '') FROM bravo_reconcile_hourly('2026-10-24', '2026-10-26', 'Europe/Paris')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect();
    let lost: (i64, i64, i64) = {
        // Buy 4's two lost hours: i = 1 and 2.
        let v = |i: i64| (100 + 40 + i % 7, 4 + i % 3, 17 * 4 + i);
        (v(1).0 + v(2).0, v(1).1 + v(2).1, v(1).2 + v(2).2)
    };
    let (b3_imp, b3_clicks, b3_cents, _) = sums[&(3, d(2026, 10, 26))];
    let cents = |c: i64| {
        format!(
            "{}{}.{:02}",
            if c < 0 { "-" } else { "" },
            c.abs() / 100,
            c.abs() % 100
        )
    };
    let want: Vec<Difference> = vec![
        (
            "impressions_hourly",
            "2",
            "2026-10-25",
            Some("impressions"),
            None,
            "-5".to_string(),
        ),
        (
            "impressions_hourly",
            "3",
            "2026-10-26",
            Some("impressions"),
            None,
            b3_imp.to_string(),
        ),
        (
            "impressions_hourly",
            "3",
            "2026-10-26",
            Some("clicks"),
            None,
            b3_clicks.to_string(),
        ),
        (
            "impressions_hourly",
            "3",
            "2026-10-26",
            Some("spend"),
            None,
            cents(b3_cents),
        ),
        (
            "impressions_hourly",
            "4",
            "2026-10-24",
            None,
            Some(22),
            "0".to_string(),
        ),
        (
            "impressions_hourly",
            "4",
            "2026-10-24",
            Some("impressions"),
            None,
            (-lost.0).to_string(),
        ),
        (
            "impressions_hourly",
            "4",
            "2026-10-24",
            Some("clicks"),
            None,
            (-lost.1).to_string(),
        ),
        (
            "impressions_hourly",
            "4",
            "2026-10-24",
            Some("spend"),
            None,
            cents(-lost.2),
        ),
    ]
    .into_iter()
    .map(|(f, b, d, m, h, x)| {
        (
            f.to_string(),
            b.to_string(),
            d.to_string(),
            m.map(str::to_string),
            h,
            x,
        )
    })
    .collect();
    let mut found_sorted = found.clone();
    found_sorted.sort();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(found_sorted, want_sorted);

    // A reporting role reads the hourly reports; a campaign move moves the hours too.
    let mut analyst = pg.client_as("media_tool", "analyst");
    let n: i64 = analyst
        .query_one("SELECT count(*) FROM bravo_campaign_hourly(1, '2026-10-25', '2026-10-26', 'America/New_York')", &[])
        .unwrap_or_else(|e| panic!("{}", db_message(&e)))
        .get(0);
    assert_eq!(n, 48);
    c.batch_execute("UPDATE media_buys SET campaign_id = 2 WHERE id = 2")
        .unwrap();
    let (c1, c2, b2, b4): (i64, i64, i64, i64) = c
        .query_one(
            "SELECT (SELECT sum(impressions)::bigint FROM bravo_campaign_hourly(1, '2026-10-24', '2026-10-26', 'UTC')),
                    (SELECT sum(impressions)::bigint FROM bravo_campaign_hourly(2, '2026-10-24', '2026-10-26', 'UTC')),
                    (SELECT sum(impressions)::bigint FROM platform_buy_hourly_impressions WHERE media_buy_id IN (1, 2, 3)
                        AND hour_start >= '2026-10-24 00:00+00' AND hour_start < '2026-10-27 00:00+00'),
                    (SELECT sum(impressions)::bigint FROM platform_buy_hourly_impressions WHERE media_buy_id = 4
                        AND hour_start >= '2026-10-24 00:00+00' AND hour_start < '2026-10-27 00:00+00')",
            &[],
        )
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .unwrap();
    assert_eq!((c1, c2), (b4, b2));
}
