//! Launches the real fakesnow 0.12.1 server (`fakesnow -s`) for plan-A tests, and seeds it.
//!
//! ```no_run
//! let fs = bravo_testkit::fakesnow::Fakesnow::start().unwrap();
//! let mut s = fs.session(Some("DB"), Some("PUBLIC")).unwrap();
//! s.execute("create table t (x int)").unwrap();
//! // point the client at http://127.0.0.1:{fs.port()} as fakesnow/fake/snow
//! ```
//!
//! The binary is `$BRAVO_FAKESNOW_BIN`, else `<workspace>/.venv/bin/fakesnow`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

/// How long [`Fakesnow::start`] waits for the server to answer a login.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running fakesnow server; killed on drop.
pub struct Fakesnow {
    child: Child,
    port: u16,
    log: PathBuf,
}

/// The workspace root: the nearest ancestor of this crate holding `bravo_metrics.control`.
pub fn workspace_root() -> Result<PathBuf> {
    let start = Path::new(env!("CARGO_MANIFEST_DIR"));
    start
        .ancestors()
        .find(|d| d.join("bravo_metrics.control").is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| anyhow!("no bravo_metrics.control above {}", start.display()))
}

/// The fakesnow executable to run.
pub fn fakesnow_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("BRAVO_FAKESNOW_BIN") {
        return Ok(PathBuf::from(p));
    }
    let p = workspace_root()?.join(".venv/bin/fakesnow");
    if !p.is_file() {
        bail!("{} not found; run `python3 -m venv .venv && .venv/bin/pip install 'fakesnow[server]==0.12.1'` or set BRAVO_FAKESNOW_BIN", p.display());
    }
    Ok(p)
}

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free loopback port")
        .port()
}

impl Fakesnow {
    /// Starts fakesnow with in-memory databases shared by all sessions.
    pub fn start() -> Result<Fakesnow> {
        Fakesnow::launch(None)
    }

    /// Starts fakesnow with on-disk databases in `dir` (`-d DIR`), shared by all sessions.
    pub fn start_with_dir(dir: &Path) -> Result<Fakesnow> {
        Fakesnow::launch(Some(dir))
    }

    fn launch(dir: Option<&Path>) -> Result<Fakesnow> {
        let bin = fakesnow_bin()?;
        let port = free_port();
        let log =
            std::env::temp_dir().join(format!("bravo-fakesnow-{}-{port}.log", std::process::id()));
        let stderr = File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let mut cmd = Command::new(&bin);
        cmd.args(["-s", "-p", &port.to_string(), "--host", "127.0.0.1"]);
        if let Some(d) = dir {
            cmd.arg("-d").arg(d);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(stderr.try_clone()?)
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("spawn {}", bin.display()))?;
        let mut fs = Fakesnow { child, port, log };
        fs.wait_ready()?;
        Ok(fs)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "fakesnow exited with {status} before answering:\n{}",
                    self.stderr_tail()
                );
            }
            if Session::login(self.port, None, None).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "fakesnow did not answer a login on port {} within {START_TIMEOUT:?}:\n{}",
                    self.port,
                    self.stderr_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A new HTTP session for seeding, with optional database and schema.
    pub fn session(&self, database: Option<&str>, schema: Option<&str>) -> Result<Session> {
        Session::login(self.port, database, schema)
    }

    /// Runs statements in one fresh session (no database selected); returns each `data`.
    pub fn execute_all(&self, sqls: &[&str]) -> Result<Vec<Value>> {
        let mut s = self.session(None, None)?;
        sqls.iter().map(|q| s.execute(q)).collect()
    }

    /// The last 4 KiB of the server's output.
    pub fn stderr_tail(&self) -> String {
        let mut f = match File::open(&self.log) {
            Ok(f) => f,
            Err(e) => return format!("(no log: {e})"),
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(4096)));
        let mut s = String::new();
        let _ = f.read_to_string(&mut s);
        s
    }
}

impl Drop for Fakesnow {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A fakesnow session driven with plain HTTP (independent of the client under test).
pub struct Session {
    port: u16,
    token: String,
}

/// Runs blocking reqwest off any tokio runtime the caller may be inside.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().expect("HTTP helper thread panicked"))
}

fn post(url: &str, token: Option<&str>, body: &Value) -> Result<Value> {
    off_runtime(|| {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let mut req = client
            .post(url)
            .header("Accept", "application/snowflake")
            .json(body);
        if let Some(t) = token {
            req = req.header("Authorization", format!("Snowflake Token=\"{t}\""));
        }
        let resp = req.send()?;
        let status = resp.status();
        let text = resp.text()?;
        if !status.is_success() {
            bail!(
                "HTTP {status}: {}",
                text.chars().take(500).collect::<String>()
            );
        }
        serde_json::from_str(&text).with_context(|| {
            format!(
                "non-JSON answer: {}",
                text.chars().take(200).collect::<String>()
            )
        })
    })
}

impl Session {
    /// Logs in as fakesnow/fake/snow (always with `SESSION_PARAMETERS`).
    pub fn login(port: u16, database: Option<&str>, schema: Option<&str>) -> Result<Session> {
        let mut url =
            reqwest::Url::parse(&format!("http://127.0.0.1:{port}/session/v1/login-request"))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(d) = database {
                q.append_pair("databaseName", d);
            }
            if let Some(s) = schema {
                q.append_pair("schemaName", s);
            }
            q.append_pair("requestId", &uuid::Uuid::new_v4().to_string());
        }
        let body = json!({"data": {
            "ACCOUNT_NAME": "fakesnow", "LOGIN_NAME": "fake", "PASSWORD": "snow",
            "CLIENT_APP_ID": "Go", "CLIENT_APP_VERSION": "1.11.0",
            "SESSION_PARAMETERS": {}}});
        let v = post(url.as_str(), None, &body)?;
        let token = v["data"]["token"]
            .as_str()
            .ok_or_else(|| anyhow!("login answer has no token: {v}"))?;
        Ok(Session {
            port,
            token: token.to_string(),
        })
    }

    /// Runs one statement; returns `data`, or an error with Snowflake's code and message.
    pub fn execute(&mut self, sql: &str) -> Result<Value> {
        let url = format!(
            "http://127.0.0.1:{}/queries/v1/query-request?requestId={}",
            self.port,
            uuid::Uuid::new_v4()
        );
        let body =
            json!({"sqlText": sql, "asyncExec": false, "sequenceId": 1, "queryContextDTO": {}});
        let v = post(&url, Some(&self.token), &body)?;
        if v["success"] != json!(true) {
            bail!("{sql}: {} {}", v["code"], v["message"]);
        }
        Ok(v["data"].clone())
    }
}
