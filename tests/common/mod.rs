//! Integration-test harness: a real PostgreSQL 15 cluster per test (the extension must
//! be installed into /usr/lib/postgresql/15 first: `scripts/test.sh` does that), run as
//! the `postgres` OS user, plus helpers to point a database at fakesnow or at the
//! synthetic Snowflake double.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub mod citus;

pub use bravo_testkit::fakesnow::{free_port, Fakesnow};
use postgres::{Client, NoTls};

const BIN: &str = "/usr/lib/postgresql/15/bin";
static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn is_root() -> bool {
    unsafe extern "C" {
        fn geteuid() -> u32;
    }
    // SAFETY: geteuid(2) takes no arguments, always succeeds and touches no memory.
    unsafe { geteuid() == 0 }
}

/// Runs a program as the `postgres` OS user when we are root.
pub fn as_postgres(program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", program]);
        c
    } else {
        Command::new(program)
    }
}

fn chown_postgres(path: &Path) {
    if is_root() {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(path)
            .status()
            .expect("chown");
        assert!(ok.success(), "chown {path:?}");
    }
}

pub struct Cluster {
    pub dir: PathBuf,
    pub port: u16,
    pub data: PathBuf,
    pub log: PathBuf,
}

#[derive(Default)]
pub struct ClusterOptions {
    pub preload: bool,
    pub conf: Vec<String>,
}

/// A fresh directory for one cluster under /tmp/bravo-it, and its data directory path.
fn new_cluster_dir() -> (PathBuf, PathBuf) {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = PathBuf::from(format!("/tmp/bravo-it/pg-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir cluster dir");
    // Only the directory itself: other tests' clusters come and go under it.
    if is_root() {
        let _ = Command::new("chown")
            .args(["postgres:postgres", "/tmp/bravo-it"])
            .arg(&dir)
            .status();
    }
    let data = dir.join("data");
    (dir, data)
}

impl Cluster {
    pub fn start(opts: ClusterOptions) -> Cluster {
        let (dir, data) = new_cluster_dir();
        let out = as_postgres(&format!("{BIN}/initdb"))
            .args([
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .output()
            .expect("initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let mut conf = vec![
            format!("port = {port}"),
            format!("unix_socket_directories = '{}'", dir.display()),
            "listen_addresses = '127.0.0.1'".to_string(),
            "fsync = off".to_string(),
            "max_worker_processes = 16".to_string(),
            "log_line_prefix = '%m [%p] %b '".to_string(),
            "bravo_metrics.snowflake_max_retries = 1".to_string(),
        ];
        if opts.preload {
            conf.push("shared_preload_libraries = 'bravo_metrics'".to_string());
        }
        conf.extend(opts.conf);
        Cluster::configure_and_start(dir, data, port, "bravo_metrics tests", &conf)
    }

    /// Appends `lines` to the data directory's postgresql.conf (under `# heading`) and
    /// starts the cluster.
    fn configure_and_start(
        dir: PathBuf,
        data: PathBuf,
        port: u16,
        heading: &str,
        lines: &[String],
    ) -> Cluster {
        let mut existing =
            std::fs::read_to_string(data.join("postgresql.conf")).expect("read conf");
        existing.push_str(&format!("\n# {heading}\n"));
        existing.push_str(&lines.join("\n"));
        existing.push('\n');
        std::fs::write(data.join("postgresql.conf"), existing).expect("write conf");
        let log = dir.join("server.log");
        let cluster = Cluster {
            dir,
            port,
            data,
            log,
        };
        chown_postgres(&cluster.dir);
        cluster.pg_ctl_start();
        cluster
    }

    /// A streaming standby of `primary` (pg_basebackup -R), with `conf` appended, started.
    pub fn standby_of(primary: &Cluster, conf: &[&str]) -> Cluster {
        let (dir, data) = new_cluster_dir();
        let out = as_postgres(&format!("{BIN}/pg_basebackup"))
            .args([
                "-h",
                primary.dir.to_str().unwrap(),
                "-p",
                &primary.port.to_string(),
                "-U",
                "postgres",
                "-D",
                data.to_str().unwrap(),
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
                "--no-sync",
            ])
            .output()
            .expect("pg_basebackup");
        assert!(
            out.status.success(),
            "pg_basebackup failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let mut lines = vec![
            format!("port = {port}"),
            format!("unix_socket_directories = '{}'", dir.display()),
        ];
        lines.extend(conf.iter().map(|l| l.to_string()));
        Cluster::configure_and_start(dir, data, port, "standby", &lines)
    }

    /// Promotes a standby and waits until it accepts writes.
    pub fn promote(&self) {
        let out = as_postgres(&format!("{BIN}/pg_ctl"))
            .args([
                "-D",
                self.data.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "promote",
            ])
            .output()
            .expect("pg_ctl promote");
        assert!(
            out.status.success(),
            "pg_ctl promote failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the (stopped) cluster again.
    pub fn pg_ctl_start(&self) {
        let out = as_postgres(&format!("{BIN}/pg_ctl"))
            .args([
                "-D",
                self.data.to_str().unwrap(),
                "-l",
                self.log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ])
            .output()
            .expect("pg_ctl start");
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log_text()
        );
    }

    pub fn stop(&self, mode: &str) {
        let _ = as_postgres(&format!("{BIN}/pg_ctl"))
            .args([
                "-D",
                self.data.to_str().unwrap(),
                "-m",
                mode,
                "-w",
                "-t",
                "60",
                "stop",
            ])
            .output();
    }

    pub fn restart(&self) {
        self.stop("fast");
        self.pg_ctl_start();
    }

    pub fn reload(&self) {
        let mut c = self.client("postgres");
        c.batch_execute("SELECT pg_reload_conf()").expect("reload");
    }

    pub fn conninfo(&self, db: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={db}",
            self.dir.display(),
            self.port
        )
    }

    pub fn client(&self, db: &str) -> Client {
        self.client_as(db, "postgres")
    }

    pub fn client_as(&self, db: &str, user: &str) -> Client {
        let info = format!(
            "host={} port={} user={user} dbname={db}",
            self.dir.display(),
            self.port
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match Client::connect(&info, NoTls) {
                Ok(c) => return c,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("connect {info}: {e}"),
            }
        }
    }

    /// Password authentication (scram-sha-256) for every role but `postgres`, over the
    /// socket and TCP, as a production cluster would have it.
    pub fn require_passwords(&self) {
        std::fs::write(
            self.data.join("pg_hba.conf"),
            "local all postgres trust\n\
             local all all scram-sha-256\n\
             host all postgres 127.0.0.1/32 trust\n\
             host all all 127.0.0.1/32 scram-sha-256\n",
        )
        .expect("write pg_hba.conf");
        chown_postgres(&self.data.join("pg_hba.conf"));
        self.reload();
    }

    /// A connection as `user` authenticated by password over TCP.
    pub fn client_password(&self, db: &str, user: &str, password: &str) -> Client {
        let info = format!(
            "host=127.0.0.1 port={} user={user} password={password} dbname={db}",
            self.port
        );
        Client::connect(&info, NoTls).unwrap_or_else(|e| panic!("connect as {user}: {e}"))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Appends settings to postgresql.conf (applied by reload or restart).
    pub fn append_conf(&self, lines: &[&str]) {
        let path = self.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&path).expect("read conf");
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        std::fs::write(&path, text).expect("write conf");
    }

    /// Writes a file readable only by the server (mode 0600, owned by postgres).
    pub fn secret_file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, content).expect("write secret");
        chown_postgres(&path);
        let ok = Command::new("chmod")
            .arg("600")
            .arg(&path)
            .status()
            .expect("chmod");
        assert!(ok.success());
        path
    }

    /// Creates database `db` with the extension, `media_buys` ids 1..=buys (campaign =
    /// id % campaigns + 1), and points it at a Snowflake endpoint on 127.0.0.1:port.
    pub fn media_tool(&self, db: &str, port: u16, buys: i64, campaigns: i64) -> Client {
        let mut admin = self.client("postgres");
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .expect("create db");
        let secret = self.secret_file(&format!("{db}.secret"), "snow");
        let mut c = self.client(db);
        c.batch_execute("CREATE EXTENSION bravo_metrics")
            .expect("create extension");
        c.execute(
            "INSERT INTO media_buys (id, campaign_id) SELECT g, g % $2::bigint + 1 FROM generate_series(1, $1::bigint) g",
            &[&buys, &campaigns],
        )
        .expect("media buys");
        point_at(&mut c, db, port, &secret);
        drop(c);
        self.client(db)
    }
}

/// `ALTER SYSTEM SET name = 'value'`, reload, and wait until this session sees it
/// (new sessions then see it too: the postmaster has re-read the file).
pub fn alter_system(c: &mut Client, name: &str, value: &str) {
    c.batch_execute(&format!(
        "ALTER SYSTEM SET {name} = '{}'",
        value.replace('\'', "''")
    ))
    .expect("alter system");
    c.batch_execute("SELECT pg_reload_conf()").expect("reload");
    wait_for(Duration::from_secs(10), "the reloaded setting", || {
        let now: Option<String> = c
            .query_one("SELECT current_setting($1, true)", &[&name])
            .ok()?
            .get(0);
        (now.as_deref() == Some(value)).then_some(())
    });
}

/// Points database `db` at the Snowflake endpoint http://127.0.0.1:port: connection
/// settings with ALTER DATABASE, the secret file with ALTER SYSTEM (the README's
/// configuration; secret file paths are refused per database).
pub fn point_at(c: &mut Client, db: &str, port: u16, secret: &Path) {
    alter_system(
        c,
        "bravo_metrics.snowflake_secret_file",
        &secret.display().to_string(),
    );
    c.batch_execute(&format!(
        "ALTER DATABASE {db} SET bravo_metrics.snowflake_account = 'fakesnow';
         ALTER DATABASE {db} SET bravo_metrics.snowflake_user = 'fake';
         ALTER DATABASE {db} SET bravo_metrics.snowflake_protocol = 'http';
         ALTER DATABASE {db} SET bravo_metrics.snowflake_host = '127.0.0.1';
         ALTER DATABASE {db} SET bravo_metrics.snowflake_port = {port};
         ALTER DATABASE {db} SET bravo_metrics.snowflake_database = 'ANALYTICS';
         ALTER DATABASE {db} SET bravo_metrics.snowflake_schema = 'PUBLIC';
         ALTER DATABASE {db} SET bravo_metrics.progress_interval = 0;"
    ))
    .expect("point at snowflake");
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop("immediate");
        if std::env::var_os("BRAVO_KEEP_CLUSTERS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A digest of every row of both metric tables: equal digests, identical tables.
pub fn metrics_digest(c: &mut Client) -> String {
    c.query_one(
        "SELECT md5(coalesce((SELECT string_agg(t::text, ',' ORDER BY media_buy_id, date) FROM platform_buy_daily_impressions t), ''))
             || md5(coalesce((SELECT string_agg(t::text, ',' ORDER BY media_buy_id, date) FROM platform_buy_daily_videos t), ''))",
        &[],
    )
    .unwrap()
    .get(0)
}

/// The SQLSTATE of a failed statement.
pub fn sqlstate(e: &postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.code().code().to_string())
        .unwrap_or_else(|| format!("not a db error: {e}"))
}

pub fn db_message(e: &postgres::Error) -> String {
    e.as_db_error()
        .map(|d| {
            format!(
                "{} | {} | {}",
                d.message(),
                d.detail().unwrap_or(""),
                d.hint().unwrap_or("")
            )
        })
        .unwrap_or_else(|| e.to_string())
}

/// Polls `f` until it returns Some, or panics after `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A fakesnow server with the two source tables in ANALYTICS.PUBLIC.
pub struct Source {
    pub fs: Fakesnow,
}

impl Source {
    pub fn start() -> Source {
        let fs = Fakesnow::start().expect("start fakesnow");
        let s = Source { fs };
        s.sql(&[
            "CREATE DATABASE IF NOT EXISTS ANALYTICS",
            "CREATE SCHEMA IF NOT EXISTS ANALYTICS.PUBLIC",
            "CREATE OR REPLACE TABLE ANALYTICS.PUBLIC.PLATFORM_BUY_DAILY_IMPRESSIONS (date date, media_buy_id number(38,0), impressions number(38,0), clicks number(38,0), spend number(18,2), created_at timestamp_ntz, updated_at timestamp_ntz)",
            "CREATE OR REPLACE TABLE ANALYTICS.PUBLIC.PLATFORM_BUY_DAILY_VIDEOS (date date, media_buy_id number(38,0), video_starts number(38,0), video_completions number(38,0), video_views number(38,0), created_at timestamp_ntz, updated_at timestamp_ntz)",
        ]);
        s
    }

    pub fn port(&self) -> u16 {
        self.fs.port()
    }

    pub fn sql(&self, sqls: &[&str]) -> Vec<serde_json::Value> {
        let mut session = self
            .fs
            .session(Some("ANALYTICS"), Some("PUBLIC"))
            .expect("fakesnow session");
        sqls.iter()
            .map(|q| {
                session
                    .execute(q)
                    .unwrap_or_else(|e| panic!("fakesnow: {q}: {e}"))
            })
            .collect()
    }

    /// Fills both tables: buys 1..=buys, days 0..days back from `today`, deterministic values.
    pub fn fill(&self, buys: i64, days: i64) {
        self.sql(&[
            &format!("INSERT INTO PLATFORM_BUY_DAILY_IMPRESSIONS SELECT dateadd(day, -d.range, current_date), b.range, 1000 + b.range * 7 + d.range, 10 + (b.range + d.range) % 50, ((b.range * 131 + d.range * 17) % 100000)::number(18,2) / 100, current_timestamp, current_timestamp FROM range(1, {}) b, range(0, {days}) d", buys + 1),
            &format!("INSERT INTO PLATFORM_BUY_DAILY_VIDEOS SELECT dateadd(day, -d.range, current_date), b.range, 500 + b.range, 200 + d.range, 300 + (b.range % 13), current_timestamp, current_timestamp FROM range(1, {}) b, range(0, {days}) d", buys + 1),
        ]);
    }
}
