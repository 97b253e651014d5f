//! The media tool's own key types, against a real PostgreSQL 15 and the real fakesnow
//! server: `media_buys.id` as text (in a collation that orders differently from bytes),
//! as uuid (Snowflake sending upper-case uuids), as varchar fed by a Snowflake NUMBER,
//! and as bigint fed by a Snowflake VARCHAR. Each is synced exactly, re-synced in both
//! key orders with an update and a deletion, bad ids set aside with the source's own
//! value, and the reports answer for text and uuid campaign ids.

mod common;

use common::*;
use postgres::Client;

const DAYS: i64 = 40;

/// Text ids that differ by case, accents (precomposed and combining), digits vs
/// letters, and non-ASCII: byte order (Rust, COLLATE "C", Snowflake) differs from the
/// ICU order the media tool's column uses.
const TEXT_IDS: [&str; 14] = [
    "B-1", "a-1", "a-10", "a-9", "Ä-2", "é", "e\u{301}", "Z", "ü-3", "日本-4", "10", "9", "b", "A",
];

fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `(i, id)` rows as a VALUES list, ids 1-based.
fn values(ids: &[String]) -> String {
    ids.iter()
        .enumerate()
        .map(|(i, id)| format!("({}, {})", i + 1, sql_str(id)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Creates both sources with MEDIA_BUY_ID of `sf_type`, filled for `ids` (an id as SQL
/// is `id_sql` applied to the VALUES column `v.id`).
fn fill_sources(src: &Source, sf_type: &str, ids: &[String], id_sql: &str) {
    let v = values(ids);
    src.sql(&[
        &format!("CREATE OR REPLACE TABLE PLATFORM_BUY_DAILY_IMPRESSIONS (date date, media_buy_id {sf_type}, impressions number(38,0), clicks number(38,0), spend number(18,2), created_at timestamp_ntz, updated_at timestamp_ntz)"),
        &format!("CREATE OR REPLACE TABLE PLATFORM_BUY_DAILY_VIDEOS (date date, media_buy_id {sf_type}, video_starts number(38,0), video_completions number(38,0), video_views number(38,0), created_at timestamp_ntz, updated_at timestamp_ntz)"),
        &format!("INSERT INTO PLATFORM_BUY_DAILY_IMPRESSIONS SELECT dateadd(day, -d.range, current_date), {id_sql}, 1000 + v.i * 7 + d.range, 10 + (v.i + d.range) % 50, ((v.i * 131 + d.range * 17) % 100000)::number(18,2) / 100, current_timestamp, current_timestamp FROM (VALUES {v}) AS v(i, id), range(0, {DAYS}) d"),
        &format!("INSERT INTO PLATFORM_BUY_DAILY_VIDEOS SELECT dateadd(day, -d.range, current_date), {id_sql}, 500 + v.i, 200 + d.range, 300 + (v.i % 13), current_timestamp, current_timestamp FROM (VALUES {v}) AS v(i, id), range(0, {DAYS}) d"),
    ]);
}

/// A media tool database whose `media_buys` was created by `ddl` before the extension
/// (so the metric tables and rollups take its key types), with `ids` in campaigns
/// `campaign(i)`, pointed at fakesnow.
fn media_tool(pg: &Cluster, port: u16, ddl: &str, ids: &[String], campaigns: &[String]) -> Client {
    let db = "media_tool";
    // The default collation orders text by ICU's root locale (as en_US and most
    // production databases do, unlike bytes): every text column the extension creates
    // gets it too.
    pg.client("postgres")
        .batch_execute(&format!(
            "CREATE DATABASE {db} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'und' LOCALE 'C.UTF-8'"
        ))
        .unwrap();
    let secret = pg.secret_file("keys.secret", "snow");
    let mut c = pg.client(db);
    c.batch_execute(ddl).unwrap();
    let rows: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            format!(
                "({}, {})",
                sql_str(id),
                sql_str(&campaigns[i % campaigns.len()])
            )
        })
        .collect();
    c.batch_execute(&format!(
        "INSERT INTO media_buys (id, campaign_id) VALUES {}; CREATE EXTENSION bravo_metrics;",
        rows.join(", ")
    ))
    .unwrap();
    point_at(&mut c, db, port, &secret);
    drop(c);
    pg.client(db)
}

/// (fetched, inserted, updated, unchanged, deleted, set_aside) of impressions.
fn sync(c: &mut Client, days: i32) -> [i64; 6] {
    let rows = c
        .query("SELECT * FROM bravo_sync($1)", &[&days])
        .unwrap_or_else(|e| panic!("bravo_sync: {}", db_message(&e)));
    let r = rows
        .iter()
        .find(|r| r.get::<_, String>("target") == "impressions")
        .expect("impressions synced");
    [
        r.get("fetched"),
        r.get("inserted"),
        r.get("updated"),
        r.get("unchanged"),
        r.get("deleted"),
        r.get("set_aside"),
    ]
}

/// Rows of the impressions window (since today - 30) that differ from what the sources
/// hold for `ids`, both ways; `id_pg` turns the VALUES column `v.id` (text) into the
/// key's type.
fn impressions_diff(c: &mut Client, ids: &[String], id_pg: &str) -> i64 {
    c.query_one(
        &format!(
            "WITH v (i, id) AS (VALUES {}),
                  expected AS (SELECT current_date - d AS date, {id_pg} AS media_buy_id,
                                      1000 + v.i * 7 + d AS impressions, 10 + (v.i + d) % 50 AS clicks,
                                      ((v.i * 131 + d * 17) % 100000)::numeric / 100 AS spend
                                 FROM v, generate_series(0, 30) d),
                  actual AS (SELECT date, media_buy_id, impressions, clicks, spend
                               FROM platform_buy_daily_impressions WHERE date >= current_date - 30)
             SELECT (SELECT count(*) FROM (SELECT * FROM expected EXCEPT SELECT * FROM actual) x)
                  + (SELECT count(*) FROM (SELECT * FROM actual EXCEPT SELECT * FROM expected) y)",
            values(ids)
        ),
        &[],
    )
    .unwrap()
    .get(0)
}

/// The campaign report for `campaign` (as text) next to a plain GROUP BY over the metric
/// tables: (impressions, clicks, spend, video_views) both ways.
fn report_vs_group_by(c: &mut Client, campaign: &str, cast: &str) -> (Vec<String>, Vec<String>) {
    let reported = c
        .query_one(
            &format!(
                "SELECT impressions::text, clicks::text, spend::text, video_views::text, media_buys::text
                   FROM bravo_campaign_totals($1::text{cast})"
            ),
            &[&campaign],
        )
        .unwrap_or_else(|e| panic!("report: {}", db_message(&e)));
    let plain = c
        .query_one(
            &format!(
                "SELECT (SELECT sum(p.impressions) FROM platform_buy_daily_impressions p JOIN media_buys m ON m.id = p.media_buy_id
                          WHERE m.campaign_id = $1::text{cast})::text,
                        (SELECT sum(p.clicks) FROM platform_buy_daily_impressions p JOIN media_buys m ON m.id = p.media_buy_id
                          WHERE m.campaign_id = $1::text{cast})::text,
                        (SELECT round(sum(p.spend), 2) FROM platform_buy_daily_impressions p JOIN media_buys m ON m.id = p.media_buy_id
                          WHERE m.campaign_id = $1::text{cast})::text,
                        (SELECT sum(p.video_views) FROM platform_buy_daily_videos p JOIN media_buys m ON m.id = p.media_buy_id
                          WHERE m.campaign_id = $1::text{cast})::text,
                        (SELECT count(*) FROM media_buys m WHERE m.campaign_id = $1::text{cast})::text"
            ),
            &[&campaign],
        )
        .unwrap();
    let row = |r: &postgres::Row| (0..5).map(|i| r.get::<_, String>(i)).collect::<Vec<_>>();
    (row(&reported), row(&plain))
}

#[test]
fn text_ids_in_an_icu_collation_sync_in_byte_order_and_report_by_text_campaign() {
    let ids: Vec<String> = TEXT_IDS.iter().map(|s| s.to_string()).collect();
    let campaigns: Vec<String> = ["camp-x", "Camp-y", "camp-é"].map(String::from).to_vec();
    let src = Source::start();
    // One id the media tool does not know yet.
    let mut sf_ids = ids.clone();
    sf_ids.push("zz-new".into());
    fill_sources(&src, "varchar", &sf_ids, "v.id");
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = media_tool(
        &pg,
        src.port(),
        "CREATE TABLE media_buys (id text COLLATE \"und-x-icu\" PRIMARY KEY,
                                  campaign_id text NOT NULL, name text,
                                  created_at timestamptz NOT NULL DEFAULT now(),
                                  updated_at timestamptz NOT NULL DEFAULT now())",
        &ids,
        &campaigns,
    );
    // The premise: the column's own order is not byte order.
    let icu: Vec<String> = c
        .query("SELECT id FROM media_buys ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut bytes = ids.clone();
    bytes.sort();
    assert_ne!(icu, bytes, "und-x-icu orders these ids like bytes");
    let c_order: Vec<String> = c
        .query("SELECT id FROM media_buys ORDER BY id COLLATE \"C\"", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(c_order, bytes, "COLLATE \"C\" is byte order");
    let key_type: String = c
        .query_one(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
              WHERE attrelid = 'platform_buy_daily_impressions'::regclass AND attname = 'media_buy_id'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(key_type, "text");

    // First load (media buy first), then a re-sync of the last 20 days (date first).
    let n = ids.len() as i64;
    assert_eq!(sync(&mut c, 30), [31 * (n + 1), 31 * n, 0, 0, 0, 31]);
    assert_eq!(impressions_diff(&mut c, &ids, "v.id"), 0);
    // The metric table's own order is not byte order either: the window is read
    // COLLATE "C", or the two streams would disagree.
    let table_order: Vec<String> = c
        .query(
            "SELECT DISTINCT media_buy_id FROM platform_buy_daily_impressions ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_ne!(table_order, bytes);
    let aside: (i64, String) = {
        let r = c
            .query_one(
                "SELECT count(*), min(media_buy_key) FROM bravo_set_aside
                  WHERE reason = 'unknown_media_buy' AND target = 'impressions' AND resolved_at IS NULL",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(aside, (31, "zz-new".to_string()));
    assert_eq!(sync(&mut c, 20), [21 * (n + 1), 0, 0, 21 * n, 0, 21]);

    // An update and a deletion in Snowflake, for ids that differ only by accent form.
    src.sql(&[
        "UPDATE PLATFORM_BUY_DAILY_IMPRESSIONS SET clicks = clicks + 1 WHERE media_buy_id = 'e\u{301}' AND date = current_date",
        "DELETE FROM PLATFORM_BUY_DAILY_IMPRESSIONS WHERE media_buy_id = 'é' AND date = current_date - 1",
    ]);
    c.batch_execute("SET bravo_metrics.delete_missing = on")
        .unwrap();
    let r = sync(&mut c, 20);
    assert_eq!((r[2], r[4]), (1, 1), "{r:?}");
    let (precomposed, combining): (i64, i64) = {
        let r = c
            .query_one(
                "SELECT (SELECT count(*) FROM platform_buy_daily_impressions WHERE media_buy_id = 'é' AND date >= current_date - 30),
                        (SELECT clicks FROM platform_buy_daily_impressions WHERE media_buy_id = 'e' || chr(769) AND date = current_date)
                                - (10 + (7 + 0) % 50)",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((precomposed, combining), (30, 1));

    // The new media buy arrives: its rows are merged and the set-aside rows resolved.
    c.batch_execute("INSERT INTO media_buys (id, campaign_id) VALUES ('zz-new', 'camp-x')")
        .unwrap();
    let r = sync(&mut c, 30);
    assert_eq!(r[1], 31, "{r:?}");
    let open: i64 = c
        .query_one(
            "SELECT count(*) FROM bravo_set_aside WHERE resolved_at IS NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(open, 0);

    // A media buy's rows deleted by hand: its rollup rows (keyed by text) go too.
    c.batch_execute(
        "DELETE FROM platform_buy_daily_impressions WHERE media_buy_id = 'Z';
         DELETE FROM platform_buy_daily_videos WHERE media_buy_id = 'Z';",
    )
    .unwrap();
    let left: i64 = c
        .query_one(
            "SELECT count(*) FROM bravo.bravo_media_buy_rollup WHERE media_buy_id = 'Z'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "emptied rollup rows are pruned");
    let exact: i64 = c
        .query_one(
            "SELECT count(*) FROM (SELECT media_buy_id, date_trunc('month', date)::date AS month, sum(impressions) AS s
                                     FROM platform_buy_daily_impressions GROUP BY 1, 2) p
               FULL JOIN bravo.bravo_media_buy_rollup r USING (media_buy_id, month)
              WHERE p.s IS DISTINCT FROM r.impressions",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(exact, 0, "the media buy rollup equals the GROUP BY");

    // A metric table whose ids are in another collation than media_buys' is refused
    // before anything is fetched (joins could not hash them), with the fix.
    c.batch_execute(
        "ALTER TABLE platform_buy_daily_videos ALTER COLUMN media_buy_id TYPE text COLLATE \"C\"",
    )
    .unwrap();
    let err = c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap_err();
    assert_eq!(sqlstate(&err), "42P22", "{}", db_message(&err));
    assert!(
        db_message(&err).contains("COLLATE \"und-x-icu\""),
        "{}",
        db_message(&err)
    );
    c.batch_execute(
        "ALTER TABLE platform_buy_daily_videos ALTER COLUMN media_buy_id TYPE text COLLATE \"und-x-icu\"",
    )
    .unwrap();

    // Reports by text campaign id, exactly the plain GROUP BY.
    for camp in &campaigns {
        let (reported, plain) = report_vs_group_by(&mut c, camp, "");
        assert_eq!(reported, plain, "campaign {camp}");
    }
    let buys: Vec<String> = c
        .query(
            "SELECT media_buy_id FROM bravo_media_buy_totals('camp-x')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        buys.contains(&"zz-new".to_string()) && buys.len() == 6,
        "{buys:?}"
    );
}

/// A deterministic upper-case uuid per index.
fn upper_uuid(i: usize) -> String {
    format!(
        "{:08X}-ABCD-4EF0-9{:03X}-{:012X}",
        (i as u64) * 0x1F3D_5B79 % 0x1_0000_0000,
        i,
        (i as u64) * 0xFEDC_BA98_7654 % 0x1_0000_0000_0000
    )
}

#[test]
fn uuid_ids_from_upper_case_snowflake_text_sync_and_report_by_uuid_campaign() {
    let sf_ids: Vec<String> = (1..=12).map(upper_uuid).collect();
    let ids: Vec<String> = sf_ids.iter().map(|s| s.to_lowercase()).collect();
    let campaigns = vec![
        "c0ffee00-0000-4000-8000-000000000001".to_string(),
        "C0FFEE00-0000-4000-8000-000000000002".to_string(),
    ];
    let src = Source::start();
    let mut with_bad = sf_ids.clone();
    with_bad.push("NOT-A-UUID".into());
    fill_sources(&src, "varchar", &with_bad, "v.id");
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = media_tool(
        &pg,
        src.port(),
        "CREATE TABLE media_buys (id uuid PRIMARY KEY, campaign_id uuid NOT NULL, name text,
                                  created_at timestamptz NOT NULL DEFAULT now(),
                                  updated_at timestamptz NOT NULL DEFAULT now())",
        &ids,
        &campaigns,
    );
    let n = ids.len() as i64;
    assert_eq!(sync(&mut c, 30), [31 * (n + 1), 31 * n, 0, 0, 0, 31]);
    assert_eq!(impressions_diff(&mut c, &sf_ids, "v.id::uuid"), 0);
    let bad: (i64, Option<String>, String, String) = {
        let r = c
            .query_one(
                "SELECT count(*), min(media_buy_key), min(source_row->>'media_buy_id'), min(detail)
                   FROM bravo_set_aside WHERE reason = 'out_of_range' AND target = 'impressions'",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2), r.get(3))
    };
    assert_eq!((bad.0, bad.1, bad.2.as_str()), (31, None, "NOT-A-UUID"));
    assert!(bad.3.contains("is not a uuid"), "{}", bad.3);
    assert_eq!(sync(&mut c, 20), [21 * (n + 1), 0, 0, 21 * n, 0, 21]);

    for (camp, cast) in [(&campaigns[0], "::uuid"), (&campaigns[1], "::uuid")] {
        let (reported, plain) = report_vs_group_by(&mut c, camp, cast);
        assert_eq!(reported, plain, "campaign {camp}");
    }
    // A quoted literal (the text overload) and a uuid value give the same report.
    let same: bool = c
        .query_one(
            &format!(
                "SELECT (SELECT row(t.*)::text FROM bravo_campaign_totals('{0}') t)
                      = (SELECT row(t.*)::text FROM bravo_campaign_totals('{0}'::uuid) t)",
                campaigns[1]
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert!(same);
    let days: i64 = c
        .query_one(
            &format!(
                "SELECT count(*) FROM bravo_campaign_daily('{}', current_date - 9, current_date) WHERE impressions > 0",
                campaigns[0]
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(days, 10);
    let buys: i64 = c
        .query_one(
            &format!(
                "SELECT count(*) FROM bravo_media_buy_totals('{}'::uuid) WHERE impressions > 0",
                campaigns[1]
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(buys, 6);
}

#[test]
fn a_number_source_feeds_varchar_ids_and_a_varchar_source_feeds_bigint_ids() {
    // NUMBER -> varchar(12): ordered as text on both sides ('10' < '9').
    let ids: Vec<String> = (1..=12).map(|i| i.to_string()).collect();
    let src = Source::start();
    fill_sources(&src, "number(38,0)", &ids, "v.i");
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = media_tool(
        &pg,
        src.port(),
        "CREATE TABLE media_buys (id varchar(12) PRIMARY KEY, campaign_id varchar(12) NOT NULL, name text,
                                  created_at timestamptz NOT NULL DEFAULT now(),
                                  updated_at timestamptz NOT NULL DEFAULT now())",
        &ids,
        &["k1".to_string()],
    );
    assert_eq!(sync(&mut c, 30), [31 * 12, 31 * 12, 0, 0, 0, 0]);
    assert_eq!(impressions_diff(&mut c, &ids, "v.id::varchar(12)"), 0);
    assert_eq!(sync(&mut c, 20), [21 * 12, 0, 0, 21 * 12, 0, 0]);
    drop(c);
    drop(pg);

    // VARCHAR -> bigint: converted in Snowflake; an id that is no number is set aside
    // with the text Snowflake had.
    let src = Source::start();
    let mut sf_ids = ids.clone();
    sf_ids.push("x7".into());
    fill_sources(&src, "varchar", &sf_ids, "v.id");
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 12, 3);
    assert_eq!(sync(&mut c, 30), [31 * 13, 31 * 12, 0, 0, 0, 31]);
    assert_eq!(impressions_diff(&mut c, &ids, "v.id::bigint"), 0);
    let (raw, detail): (String, String) = {
        let r = c
            .query_one(
                "SELECT min(source_row->>'media_buy_id'), min(detail) FROM bravo_set_aside WHERE reason = 'out_of_range' AND target = 'impressions'",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(raw, "x7");
    assert!(detail.contains("'x7' is not an integer"), "{detail}");
    assert_eq!(sync(&mut c, 20), [21 * 13, 0, 0, 21 * 12, 0, 21]);
}

#[test]
fn a_restored_uuid_database_reports_by_uuid_and_keeps_the_reporting_grant() {
    let ids: Vec<String> = (1..=6).map(|i| upper_uuid(i).to_lowercase()).collect();
    let campaign = "c0ffee00-0000-4000-8000-00000000000a".to_string();
    let src = Source::start();
    fill_sources(&src, "varchar", &ids, "v.id");
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = media_tool(
        &pg,
        src.port(),
        "CREATE TABLE media_buys (id uuid PRIMARY KEY, campaign_id uuid NOT NULL, name text,
                                  created_at timestamptz NOT NULL DEFAULT now(),
                                  updated_at timestamptz NOT NULL DEFAULT now())",
        &ids,
        std::slice::from_ref(&campaign),
    );
    sync(&mut c, 30);
    c.batch_execute("CREATE ROLE analyst LOGIN; SELECT bravo_grant_reporting('analyst');")
        .unwrap();
    let before = report_vs_group_by(&mut c, &campaign, "::uuid");
    assert_eq!(before.0, before.1);

    // pg_dump / pg_restore: CREATE EXTENSION runs before the dump recreates the uuid
    // media_buys; the reports and rollups follow it once the tables are back.
    let dump = pg.dir.join("uuid.dump");
    let tool = |name: &str, args: &[&str]| {
        let out = as_postgres(&format!("/usr/lib/postgresql/15/bin/{name}"))
            .args([
                "-h",
                pg.dir.to_str().unwrap(),
                "-p",
                &pg.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    tool(
        "pg_dump",
        &["-Fc", "-f", dump.to_str().unwrap(), "media_tool"],
    );
    pg.client("postgres")
        .batch_execute("CREATE DATABASE restored")
        .unwrap();
    tool("pg_restore", &["-d", "restored", dump.to_str().unwrap()]);
    let mut r = pg.client("restored");
    let signature: String = r
        .query_one(
            "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.proname = 'bravo_campaign_totals'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(signature, "bravo_campaign_totals(uuid,date,date)");
    let member: bool = r
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                             WHERE e.extname = 'bravo_metrics' AND d.deptype = 'e'
                               AND d.objid = 'bravo_campaign_totals(uuid,date,date)'::regprocedure)",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(member, "the retyped function is an extension member");
    let after = report_vs_group_by(&mut r, &campaign, "::uuid");
    assert_eq!(after, before, "the restored database reports the same");
    let mut analyst = pg.client_as("restored", "analyst");
    let n: i64 = analyst
        .query_one(
            &format!("SELECT impressions FROM bravo_campaign_totals('{campaign}')"),
            &[],
        )
        .unwrap_or_else(|e| panic!("analyst: {}", db_message(&e)))
        .get(0);
    assert_eq!(n.to_string(), before.0[0]);
    let rollup_key: String = r
        .query_one(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
              WHERE attrelid = 'bravo.bravo_campaign_rollup'::regclass AND attname = 'campaign_id'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(rollup_key, "uuid");
}
