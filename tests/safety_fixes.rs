//! Correctness fixes of 0.3.0 against the real fakesnow server and a real PostgreSQL:
//! counts at the limit, set-aside rows with a NULL date, one `merged` status for
//! unknown media buys merged later, and infinite report bounds.

mod common;

use common::*;
use postgres::Client;

fn setup(buys: i64) -> (Source, Cluster, Client) {
    let src = Source::start();
    let pg = Cluster::start(ClusterOptions::default());
    let c = pg.media_tool("media_tool", src.port(), buys, 1);
    (src, pg, c)
}

fn imp(src: &Source, days_ago: i64, buy: i64, impressions: &str) {
    src.sql(&[&format!(
        "INSERT INTO PLATFORM_BUY_DAILY_IMPRESSIONS VALUES (dateadd(day, -{days_ago}, current_date), {buy}, {impressions}, 1, 1.50, current_timestamp, current_timestamp)"
    )]);
}

fn open_aside(c: &mut Client, reason: &str) -> Vec<(Option<i64>, String)> {
    c.query(
        "SELECT media_buy_id, detail FROM bravo_set_aside WHERE resolved_at IS NULL AND reason = $1 ORDER BY id",
        &[&reason],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// A count that fits in bigint but would overflow the rollups' sums is set aside
/// (out_of_range) instead of failing this and every later sync; 10^12 is merged.
#[test]
fn counts_above_the_limit_are_set_aside_and_syncs_keep_working() {
    let (src, _pg, mut c) = setup(3);
    imp(&src, 0, 1, "1000000000000");
    imp(&src, 0, 2, "1000000000001");
    imp(&src, 0, 3, "9223372036854775000");
    imp(&src, 1, 3, "9223372036854775000");
    for round in 0..3 {
        let rows = c
            .query("SELECT target, fetched, set_aside FROM bravo_sync(5)", &[])
            .unwrap_or_else(|e| panic!("sync {round}: {}", db_message(&e)));
        let imp_row = rows
            .iter()
            .find(|r| r.get::<_, String>(0) == "impressions")
            .unwrap();
        assert_eq!(imp_row.get::<_, i64>(1), 4);
        assert_eq!(imp_row.get::<_, i64>(2), 3, "round {round}");
    }
    let aside = open_aside(&mut c, "out_of_range");
    assert_eq!(aside.len(), 3, "{aside:?}");
    assert!(aside
        .iter()
        .all(|(_, d)| d.contains("above the limit of 1000000000000")));
    let (merged, total): (i64, i64) = {
        let r = c
            .query_one(
                "SELECT (SELECT impressions FROM platform_buy_daily_impressions WHERE media_buy_id = 1),
                        (SELECT impressions FROM bravo_campaign_totals(1))",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(merged, 1_000_000_000_000);
    assert_eq!(
        total, 1_000_000_000_000,
        "the campaign rollup holds exactly the merged row"
    );
}

/// A source row with a NULL date is fetched by every sync; it is set aside once, its
/// earlier copies superseded, and resolved when the source drops it.
#[test]
fn set_aside_rows_with_a_null_date_do_not_pile_up() {
    let (src, _pg, mut c) = setup(2);
    imp(&src, 0, 1, "10");
    src.sql(&[
        "INSERT INTO PLATFORM_BUY_DAILY_IMPRESSIONS VALUES (NULL, 2, 5, 1, 1.00, current_timestamp, current_timestamp)",
    ]);
    for _ in 0..4 {
        c.query("SELECT * FROM bravo_sync(3)", &[]).unwrap();
    }
    let open = open_aside(&mut c, "null_key");
    assert_eq!(open.len(), 1, "one open row per source row: {open:?}");
    let superseded: i64 = c
        .query_one(
            "SELECT count(*) FROM bravo_set_aside WHERE reason = 'null_key' AND resolution = 'superseded'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(superseded, 3);
    src.sql(&["DELETE FROM PLATFORM_BUY_DAILY_IMPRESSIONS WHERE date IS NULL"]);
    c.query("SELECT * FROM bravo_sync(3)", &[]).unwrap();
    assert!(
        open_aside(&mut c, "null_key").is_empty(),
        "resolved once the source dropped it"
    );
}

/// Rows for a media buy the media tool did not have yet end as `merged` whether the
/// fresh fetch merged them (inside the window) or the saved copy did (outside it).
#[test]
fn unknown_media_buys_merged_later_are_marked_merged_either_way() {
    let (src, _pg, mut c) = setup(1);
    imp(&src, 1, 98, "70"); // will be inside the later window
    imp(&src, 5, 99, "80"); // will be outside the later window
    c.query("SELECT * FROM bravo_sync(10)", &[]).unwrap();
    assert_eq!(open_aside(&mut c, "unknown_media_buy").len(), 2);
    c.batch_execute("INSERT INTO media_buys (id, campaign_id) VALUES (98, 1), (99, 1)")
        .unwrap();
    c.query("SELECT * FROM bravo_sync(3)", &[]).unwrap();
    let res: Vec<(i64, String)> = c
        .query(
            "SELECT media_buy_id, resolution FROM bravo_set_aside WHERE reason = 'unknown_media_buy' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        res,
        vec![(98, "merged".to_string()), (99, "merged".to_string())]
    );
    let merged: i64 = c
        .query_one(
            "SELECT sum(impressions)::bigint FROM platform_buy_daily_impressions WHERE media_buy_id IN (98, 99)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(merged, 150);
}

/// Infinite bounds: a daily report refuses them (22023, HINT); totals take them as
/// open bounds.
#[test]
fn infinite_report_bounds() {
    let (src, _pg, mut c) = setup(1);
    imp(&src, 0, 1, "10");
    c.query("SELECT * FROM bravo_sync(3)", &[]).unwrap();
    for q in [
        "SELECT * FROM bravo_campaign_daily(1, '-infinity', current_date)",
        "SELECT * FROM bravo_campaign_daily(1, current_date, 'infinity')",
    ] {
        let err = c.query(q, &[]).unwrap_err();
        assert_eq!(sqlstate(&err), "22023", "{q}");
        assert!(db_message(&err).contains("finite"), "{}", db_message(&err));
    }
    let n: i64 = c
        .query_one(
            "SELECT impressions FROM bravo_campaign_totals(1, '-infinity', 'infinity')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 10);
}
