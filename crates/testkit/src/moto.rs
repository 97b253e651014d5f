//! Launches the real moto S3 server (`moto_server`, from the venv's pinned
//! `moto[server]`) on loopback, for the export's tests. moto keeps buckets in memory
//! and does not check signatures; its `?uploads` listing shows whether a multipart
//! upload was left open.
//!
//! The binary is `$BRAVO_MOTO_BIN`, else `<workspace>/.venv/bin/moto_server`.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::fakesnow::{free_port, workspace_root};

/// A running moto server; killed on drop.
pub struct Moto {
    child: Child,
    port: u16,
    log: PathBuf,
    http: reqwest::blocking::Client,
}

impl Moto {
    pub fn start() -> Result<Moto> {
        let bin = match std::env::var_os("BRAVO_MOTO_BIN") {
            Some(p) => PathBuf::from(p),
            None => workspace_root()?.join(".venv/bin/moto_server"),
        };
        if !bin.is_file() {
            bail!("{} not found; run scripts/setup.sh", bin.display());
        }
        let port = free_port();
        let log =
            std::env::temp_dir().join(format!("bravo-moto-{}-{port}.log", std::process::id()));
        let out = File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("spawn {}", bin.display()))?;
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        let mut m = Moto {
            child,
            port,
            log,
            http,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = m.child.try_wait()? {
                bail!("moto_server exited with {status}: {}", m.log_text());
            }
            if m.http.get(m.endpoint()).send().is_ok() {
                return Ok(m);
            }
            if Instant::now() > deadline {
                bail!(
                    "moto_server did not answer on port {port}: {}",
                    m.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn create_bucket(&self, bucket: &str) -> Result<()> {
        let r = self
            .http
            .put(format!("{}/{bucket}", self.endpoint()))
            .send()?;
        if !r.status().is_success() {
            bail!("create bucket {bucket}: {}", r.status());
        }
        Ok(())
    }

    /// Multipart uploads started and neither completed nor aborted.
    pub fn open_multipart_uploads(&self, bucket: &str) -> Result<usize> {
        let body = self
            .http
            .get(format!("{}/{bucket}?uploads", self.endpoint()))
            .send()?
            .text()?;
        Ok(body.matches("<Upload>").count())
    }

    /// The keys in `bucket` (at most 1,000).
    pub fn keys(&self, bucket: &str) -> Result<Vec<String>> {
        let body = self
            .http
            .get(format!("{}/{bucket}?list-type=2", self.endpoint()))
            .send()?
            .text()?;
        Ok(body
            .split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_string)
            .collect())
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
