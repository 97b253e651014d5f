//! The SQL regression suite in pg_test/ (pg_regress with expected output), run against
//! a fresh PostgreSQL 15 cluster with the installed extension.

mod common;

use common::*;

#[test]
fn pg_test_sql_regression_suite_has_no_diffs() {
    let pg = Cluster::start(ClusterOptions::default());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("bash")
        .arg(root.join("pg_test/run.sh"))
        .arg(pg.dir.to_str().unwrap())
        .arg(pg.port.to_string())
        .output()
        .expect("run pg_test/run.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(
        out.status.success(),
        "pg_regress reported differences:\n{text}"
    );
    assert!(text.contains("tests passed"), "{text}");
}
