//! Launches the real s3s-fs S3 server (crates.io `s3s-fs --features binary`, installed
//! by `scripts/setup.sh --tests`) on loopback. Unlike moto it checks SigV4 signatures:
//! requests signed with another key, and presigned URLs that were tampered with or
//! have expired, are refused. Buckets are the top directories of its root.
//!
//! The binary is `$BRAVO_S3S_FS_BIN`, else `s3s-fs` on the PATH or in `~/.cargo/bin`.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::fakesnow::free_port;

pub const ACCESS_KEY: &str = "AKIDS3SFSTEST";
pub const SECRET_KEY: &str = "s3s-fs-test-secret";

/// A running s3s-fs; killed (and its root removed) on drop.
pub struct S3sFs {
    child: Child,
    port: u16,
    root: PathBuf,
    log: PathBuf,
}

fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("BRAVO_S3S_FS_BIN") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let cargo_bin = home.join(".cargo/bin/s3s-fs");
    if cargo_bin.is_file() {
        cargo_bin
    } else {
        PathBuf::from("s3s-fs")
    }
}

impl S3sFs {
    pub fn start() -> Result<S3sFs> {
        let port = free_port();
        let root = std::env::temp_dir().join(format!("bravo-s3s-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&root)?;
        let log = root.with_extension("log");
        let out = File::create(&log)?;
        let bin = binary();
        let child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&root)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("spawn {} (run scripts/setup.sh --tests)", bin.display()))?;
        let mut s = S3sFs {
            child,
            port,
            root,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = s.child.try_wait()? {
                bail!(
                    "s3s-fs exited with {status}: {}",
                    std::fs::read_to_string(&s.log).unwrap_or_default()
                );
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(s);
            }
            if Instant::now() > deadline {
                bail!("s3s-fs did not listen on port {port}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates bucket `name` (a directory of the root).
    pub fn create_bucket(&self, name: &str) -> Result<()> {
        std::fs::create_dir_all(self.root.join(name))?;
        Ok(())
    }

    /// The files stored in `bucket`, relative paths, hidden ones included.
    pub fn files(&self, bucket: &str) -> Vec<String> {
        fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
            if let Ok(rd) = std::fs::read_dir(dir) {
                for e in rd.flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        walk(&p, base, out);
                    } else if let Ok(rel) = p.strip_prefix(base) {
                        out.push(rel.to_string_lossy().into_owned());
                    }
                }
            }
        }
        let mut out = Vec::new();
        let base = self.root.join(bucket);
        walk(&base, &base, &mut out);
        out.sort();
        out
    }
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
        let _ = std::fs::remove_file(&self.log);
    }
}
