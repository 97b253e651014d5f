//! Metric families as data, against a real PostgreSQL 15 and the real fakesnow server:
//! all four shipped families synced exactly, a family whose source is missing skipped
//! and recorded (or failing the sync when required), re-pointing, disabling, and a
//! metric column added to a family, all without a rebuild.

mod common;

use std::collections::BTreeMap;

use common::*;
use postgres::Client;

const BUYS: i64 = 20;
const DAYS: i64 = 40;

/// The conversions source `name`, filled like `Source::fill` fills the others.
fn add_conversions(src: &Source, name: &str) {
    src.sql(&[
        &format!("CREATE OR REPLACE TABLE {name} (date date, media_buy_id number(38,0), post_click_conversions number(38,0), post_view_conversions number(38,0), conversion_value number(18,2), created_at timestamp_ntz, updated_at timestamp_ntz)"),
        &format!("INSERT INTO {name} SELECT dateadd(day, -d.range, current_date), b.range, (b.range + d.range) % 7, (b.range * 3 + d.range) % 11, ((b.range * 37 + d.range * 11) % 50000)::number(18,2) / 100, current_timestamp, current_timestamp FROM range(1, {}) b, range(0, {DAYS}) d", BUYS + 1),
    ]);
}

/// The viewability source, filled like `Source::fill` fills the others.
fn add_viewability(src: &Source) {
    src.sql(&[
        "CREATE OR REPLACE TABLE PLATFORM_BUY_DAILY_VIEWABILITY (date date, media_buy_id number(38,0), eligible_impressions number(38,0), measurable_impressions number(38,0), viewable_impressions number(38,0), created_at timestamp_ntz, updated_at timestamp_ntz)",
        &format!("INSERT INTO PLATFORM_BUY_DAILY_VIEWABILITY SELECT dateadd(day, -d.range, current_date), b.range, 1000 + b.range * 7 + d.range, 1000 + b.range * 7 + d.range - (b.range % 5) * 10, 500 + b.range + d.range, current_timestamp, current_timestamp FROM range(1, {}) b, range(0, {DAYS}) d", BUYS + 1),
    ]);
}

/// Rows of a family's window that differ from what the generator put in Snowflake, in
/// either direction (0: identical row by row, money exact).
fn diff(c: &mut Client, table: &str, expected_select: &str, columns: &str) -> i64 {
    c.query_one(
        &format!(
            "WITH expected AS (SELECT current_date - d AS date, b AS media_buy_id, {expected_select}
                                 FROM generate_series(1, {BUYS}::bigint) b, generate_series(0, 30) d),
                  actual AS (SELECT date, media_buy_id, {columns} FROM {table} WHERE date >= current_date - 30)
             SELECT (SELECT count(*) FROM (SELECT * FROM expected EXCEPT SELECT * FROM actual) x)
                  + (SELECT count(*) FROM (SELECT * FROM actual EXCEPT SELECT * FROM expected) y)"
        ),
        &[],
    )
    .unwrap()
    .get(0)
}

fn conversions_diff(c: &mut Client) -> i64 {
    diff(
        c,
        "platform_buy_daily_conversions",
        "(b + d) % 7, (b * 3 + d) % 11, ((b * 37 + d * 11) % 50000)::numeric / 100",
        "post_click_conversions, post_view_conversions, conversion_value",
    )
}

fn viewability_diff(c: &mut Client) -> i64 {
    diff(
        c,
        "platform_buy_daily_viewability",
        "1000 + b * 7 + d, 1000 + b * 7 + d - (b % 5) * 10, 500 + b + d",
        "eligible_impressions, measurable_impressions, viewable_impressions",
    )
}

fn impressions_diff(c: &mut Client) -> i64 {
    diff(
        c,
        "platform_buy_daily_impressions",
        "1000 + b * 7 + d, 10 + (b + d) % 50, ((b * 131 + d * 17) % 100000)::numeric / 100",
        "impressions, clicks, spend",
    )
}

/// family -> (fetched, inserted, updated, unchanged)
fn sync(c: &mut Client) -> BTreeMap<String, [i64; 4]> {
    c.query("SELECT * FROM bravo_sync(30)", &[])
        .unwrap_or_else(|e| panic!("bravo_sync: {}", db_message(&e)))
        .iter()
        .map(|r| {
            (
                r.get::<_, String>("target"),
                [
                    r.get("fetched"),
                    r.get("inserted"),
                    r.get("updated"),
                    r.get("unchanged"),
                ],
            )
        })
        .collect()
}

/// (family, status, message) of the last run, in sync order.
fn last_run_families(c: &mut Client) -> Vec<(String, String, Option<String>)> {
    c.query(
        "SELECT t.target, t.status, t.message FROM bravo_sync_run_targets t
          WHERE t.run_id = (SELECT max(run_id) FROM bravo_sync_runs)
          ORDER BY (SELECT position FROM bravo_families f WHERE f.family = t.target)",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

fn all_rows_digest(c: &mut Client) -> String {
    let mut out = metrics_digest(c);
    for t in [
        "platform_buy_daily_conversions",
        "platform_buy_daily_viewability",
    ] {
        let d: String = c
            .query_one(
                &format!(
                    "SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY media_buy_id, date), '')) FROM {t} t"
                ),
                &[],
            )
            .unwrap()
            .get(0);
        out.push_str(&d);
    }
    out
}

#[test]
fn four_families_sync_exactly_and_a_missing_source_skips_only_its_family() {
    let src = Source::start();
    src.fill(BUYS, DAYS);
    add_conversions(&src, "PLATFORM_BUY_DAILY_CONVERSIONS");
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), BUYS, 3);

    // Out of the box: the two families of 0.3.0, the new ones off and without tables.
    let r = sync(&mut c);
    assert_eq!(
        r.keys().collect::<Vec<_>>(),
        ["impressions", "videos"],
        "new families are off until enabled"
    );
    let tables: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname IN ('platform_buy_daily_conversions', 'platform_buy_daily_viewability')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0);

    // Both new families enabled; viewability's source does not exist in Snowflake yet.
    c.batch_execute(
        "SELECT bravo_enable_family('conversions'); SELECT bravo_enable_family('viewability');",
    )
    .unwrap();
    let r = sync(&mut c);
    assert_eq!(r["conversions"], [620, 620, 0, 0]);
    assert_eq!(r["viewability"], [0, 0, 0, 0]);
    assert_eq!(r["impressions"], [620, 0, 0, 620]);
    assert_eq!(conversions_diff(&mut c), 0);
    assert_eq!(impressions_diff(&mut c), 0);
    let fams = last_run_families(&mut c);
    let status: Vec<(&str, &str)> = fams
        .iter()
        .map(|(f, s, _)| (f.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        status,
        [
            ("impressions", "synced"),
            ("videos", "synced"),
            ("conversions", "synced"),
            ("viewability", "missing_source")
        ]
    );
    let msg = fams[3].2.clone().unwrap();
    assert!(
        msg.contains("PLATFORM_BUY_DAILY_VIEWABILITY") && msg.contains("does not exist"),
        "{msg}"
    );
    let run_status: String = c
        .query_one(
            "SELECT status FROM bravo_sync_runs ORDER BY run_id DESC LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(run_status, "succeeded");
    // The status function says so too.
    let row = c
        .query_one(
            "SELECT missing_sources, hint FROM bravo_schedule_status()",
            &[],
        )
        .unwrap();
    let missing: Vec<String> = row.get(0);
    let hint: String = row.get(1);
    assert_eq!(missing, ["viewability"]);
    assert!(
        hint.contains("skipped the metric family viewability: its source relation does not exist"),
        "{hint}"
    );

    // Required: the same missing source fails the whole sync, and nothing changes.
    c.batch_execute("SELECT bravo_enable_family('viewability', required => true)")
        .unwrap();
    src.sql(&["UPDATE PLATFORM_BUY_DAILY_CONVERSIONS SET post_click_conversions = post_click_conversions + 1 WHERE media_buy_id = 4"]);
    let before = all_rows_digest(&mut c);
    let e = c.batch_execute("SELECT bravo_sync(30)").unwrap_err();
    assert_eq!(sqlstate(&e), "HV00R", "{}", db_message(&e));
    let m = db_message(&e);
    assert!(
        m.contains("required metric family \"viewability\"") && m.contains("required => false"),
        "{m}"
    );
    assert_eq!(
        all_rows_digest(&mut c),
        before,
        "a failed sync changes nothing"
    );

    // The source appears: all four families merge exactly, conversions' revision too.
    add_viewability(&src);
    let r = sync(&mut c);
    assert_eq!(r["viewability"], [620, 620, 0, 0]);
    assert_eq!(r["conversions"], [620, 0, 31, 589]);
    assert_eq!(r["videos"], [620, 0, 0, 620]);
    assert_eq!(viewability_diff(&mut c), 0);
    let off_by_one: i64 = c
        .query_one(
            "SELECT count(*) FROM platform_buy_daily_conversions WHERE media_buy_id = 4 AND date >= current_date - 30
                AND post_click_conversions = (4 + (current_date - date)) % 7 + 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(off_by_one, 31);
    assert!(last_run_families(&mut c)
        .iter()
        .all(|(_, s, m)| s == "synced" && m.is_none()));
    let missing: Option<Vec<String>> = c
        .query_one("SELECT missing_sources FROM bravo_schedule_status()", &[])
        .unwrap()
        .get(0);
    assert_eq!(missing, None);
}

#[test]
fn families_are_repointed_extended_and_disabled_without_a_rebuild() {
    let src = Source::start();
    src.fill(BUYS, DAYS);
    add_conversions(&src, "PLATFORM_BUY_DAILY_CONVERSIONS");
    add_viewability(&src);
    // A second conversions relation, with an extra column and other values.
    src.sql(&[
        "CREATE OR REPLACE TABLE CONVERSIONS_V2 (DATE date, MEDIA_BUY_ID number(38,0), POST_CLICK_CONVERSIONS number(38,0), POST_VIEW_CONVERSIONS number(38,0), CONVERSION_VALUE number(18,4), APP_INSTALLS number(38,0), CREATED_AT timestamp_ntz, UPDATED_AT timestamp_ntz)",
        &format!("INSERT INTO CONVERSIONS_V2 SELECT dateadd(day, -d.range, current_date), b.range, 1, 2, 3.1416, b.range, current_timestamp, current_timestamp FROM range(1, {}) b, range(0, {DAYS}) d", BUYS + 1),
    ]);
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), BUYS, 3);
    c.batch_execute("SELECT bravo_enable_family('conversions')")
        .unwrap();
    sync(&mut c);
    assert_eq!(conversions_diff(&mut c), 0);

    // Re-pointed with an UPDATE of the catalog.
    c.batch_execute(
        "UPDATE bravo_families SET source_relation = 'ANALYTICS.PUBLIC.CONVERSIONS_V2' WHERE family = 'conversions'",
    )
    .unwrap();
    let r = sync(&mut c);
    assert_eq!(r["conversions"], [620, 0, 620, 0]);
    let v2: i64 = c
        .query_one(
            "SELECT count(*) FROM platform_buy_daily_conversions WHERE date >= current_date - 30
                AND (post_click_conversions, post_view_conversions, conversion_value) = (1, 2, 3.1416)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(v2, 620);
    let source: String = c
        .query_one(
            "SELECT source FROM bravo_sync_run_targets WHERE target = 'conversions' ORDER BY run_id DESC LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(source, "ANALYTICS.PUBLIC.CONVERSIONS_V2");

    // A metric column added to the family: a catalog row, then enable adds the column.
    c.batch_execute(
        "INSERT INTO bravo_family_metrics (family, column_name, kind, position) VALUES ('conversions', 'app_installs', 'count', 4);
         SELECT bravo_enable_family('conversions');",
    )
    .unwrap();
    let r = sync(&mut c);
    assert_eq!(r["conversions"], [620, 0, 620, 0]);
    let installs: i64 = c
        .query_one(
            "SELECT count(*) FROM platform_buy_daily_conversions WHERE date >= current_date - 30 AND app_installs = media_buy_id",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(installs, 620);

    // Disabled: later syncs leave the table and its rows alone.
    let kept: String = c
        .query_one(
            "SELECT md5(string_agg(t::text, ',' ORDER BY media_buy_id, date)) FROM platform_buy_daily_conversions t",
            &[],
        )
        .unwrap()
        .get(0);
    c.batch_execute("SELECT bravo_disable_family('conversions')")
        .unwrap();
    src.sql(&["UPDATE CONVERSIONS_V2 SET POST_CLICK_CONVERSIONS = 9"]);
    let r = sync(&mut c);
    assert_eq!(r.keys().collect::<Vec<_>>(), ["impressions", "videos"]);
    let after: String = c
        .query_one(
            "SELECT md5(string_agg(t::text, ',' ORDER BY media_buy_id, date)) FROM platform_buy_daily_conversions t",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(after, kept);

    // A catalog source that is not a relation name is refused.
    c.batch_execute(
        "SELECT bravo_enable_family('conversions'); UPDATE bravo_families SET source_relation = 'X; DROP TABLE Y' WHERE family = 'conversions'",
    )
    .unwrap();
    let e = c.batch_execute("SELECT bravo_sync(30)").unwrap_err();
    assert_eq!(sqlstate(&e), "22023", "{}", db_message(&e));
}
