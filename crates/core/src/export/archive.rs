//! The export's `.tar` stream, with no temporary file: every file, then the manifest.
//!
//! A tar header carries its file's size before the file, so the data is read twice
//! from the same snapshot: a measuring pass that only adds up lengths (nothing is
//! formatted or hashed; one read may measure several files), then the pass that
//! writes each file into the stream (hashed by the [`ArchiveOut`] it goes to),
//! checking it has exactly the measured rows and bytes. The manifest (every file's rows, bytes and sha256) comes
//! last, once the hashes are known. The caller owns the data (SPI cursors in the
//! extension) through [`Producer`]; the stream goes to any `Write` (the gzip and
//! upload side in the extension).

use std::io::{self, Write};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Produces the archive's files from one consistent snapshot.
pub trait Producer {
    /// Every file's (rows, bytes), in the order of the names given to
    /// [`write_archive`], as [`Producer::produce`] will write them.
    fn measure(&mut self) -> io::Result<Vec<(u64, u64)>>;

    /// Writes file `index` to `out` and returns its number of rows.
    fn produce(&mut self, index: usize, out: &mut dyn Write) -> io::Result<u64>;
}

/// Where the archive's stream goes, hashing the files in it: the extension hashes
/// on its pipeline's thread, off the backend that formats the rows.
pub trait ArchiveOut: Write {
    /// The bytes written from now until [`ArchiveOut::end_file`] are one file's.
    fn begin_file(&mut self) -> io::Result<()>;
    fn end_file(&mut self) -> io::Result<()>;
    /// Each file's sha256 (lowercase hex), in the order written; waits for any still
    /// being hashed.
    fn file_hashes(&mut self) -> io::Result<Vec<String>>;
}

/// An [`ArchiveOut`] that hashes on the calling thread.
pub struct Hashed<W> {
    inner: W,
    file: Option<Sha256>,
    done: Vec<String>,
}

impl<W: Write> Hashed<W> {
    pub fn new(inner: W) -> Self {
        Hashed {
            inner,
            file: None,
            done: Vec::new(),
        }
    }

    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for Hashed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(h) = &mut self.file {
            h.update(&buf[..n]);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> ArchiveOut for Hashed<W> {
    fn begin_file(&mut self) -> io::Result<()> {
        self.file = Some(Sha256::new());
        Ok(())
    }

    fn end_file(&mut self) -> io::Result<()> {
        let h = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("end_file without begin_file"))?;
        self.done.push(hex(&h.finalize()));
        Ok(())
    }

    fn file_hashes(&mut self) -> io::Result<Vec<String>> {
        Ok(self.done.clone())
    }
}

/// Counts what is written through it.
struct Counting<'a> {
    inner: &'a mut dyn ArchiveOut,
    bytes: u64,
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// One file of the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileEntry {
    /// The path inside the archive.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// `manifest.json`: what the archive holds and when its snapshot was taken.
#[derive(Clone, Debug, Serialize)]
pub struct Manifest {
    pub schema_version: u32,
    pub export_id: String,
    /// The snapshot's time, RFC 3339 in UTC.
    pub snapshot_time: String,
    pub extension_version: String,
    pub files: Vec<FileEntry>,
}

/// The manifest's version of the archive layout.
pub const SCHEMA_VERSION: u32 = 1;

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

const BLOCK: usize = 512;

/// Writes the archive: `<root>/<name>` for each of `names` (produced by
/// `producer`), then `<root>/manifest.json`, then the end-of-archive blocks. Returns
/// the manifest. `mtime` (Unix seconds) stamps every entry.
pub fn write_archive(
    out: &mut dyn ArchiveOut,
    root: &str,
    names: &[String],
    header: ManifestHeader,
    mtime: u64,
    producer: &mut dyn Producer,
) -> io::Result<Manifest> {
    let sizes = producer.measure()?;
    if sizes.len() != names.len() {
        return Err(io::Error::other(format!(
            "{} files measured for {} names",
            sizes.len(),
            names.len()
        )));
    }
    let mut files = Vec::with_capacity(names.len());
    for (i, (name, &(rows, bytes))) in names.iter().zip(&sizes).enumerate() {
        let path = format!("{root}/{name}");
        entry_header(out, &path, bytes, mtime)?;
        out.begin_file()?;
        let mut sink = Counting {
            inner: &mut *out,
            bytes: 0,
        };
        let written_rows = producer.produce(i, &mut sink)?;
        let written = sink.bytes;
        out.end_file()?;
        if (written_rows, written) != (rows, bytes) {
            return Err(io::Error::other(format!(
                "{path} changed between its two passes ({rows} rows, {bytes} bytes, then {written_rows} rows, {written} bytes): the export's snapshot was not consistent"
            )));
        }
        pad(out, bytes)?;
        files.push(FileEntry {
            path,
            rows,
            bytes,
            sha256: String::new(),
        });
    }
    let hashes = out.file_hashes()?;
    if hashes.len() != files.len() {
        return Err(io::Error::other(format!(
            "{} hashes for {} files",
            hashes.len(),
            files.len()
        )));
    }
    for (f, h) in files.iter_mut().zip(hashes) {
        f.sha256 = h;
    }
    let manifest = Manifest {
        schema_version: SCHEMA_VERSION,
        export_id: header.export_id,
        snapshot_time: header.snapshot_time,
        extension_version: header.extension_version,
        files,
    };
    let mut json = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
    json.push(b'\n');
    entry_header(
        out,
        &format!("{root}/manifest.json"),
        json.len() as u64,
        mtime,
    )?;
    out.write_all(&json)?;
    pad(out, json.len() as u64)?;
    out.write_all(&[0u8; 2 * BLOCK])?;
    Ok(manifest)
}

/// The manifest's fields that the caller knows.
#[derive(Clone, Debug)]
pub struct ManifestHeader {
    pub export_id: String,
    pub snapshot_time: String,
    pub extension_version: String,
}

fn entry_header(out: &mut dyn ArchiveOut, path: &str, size: u64, mtime: u64) -> io::Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path)?;
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    out.write_all(h.as_bytes())
}

fn pad(out: &mut dyn ArchiveOut, size: u64) -> io::Result<()> {
    let rem = (size % BLOCK as u64) as usize;
    if rem != 0 {
        out.write_all(&[0u8; BLOCK][..BLOCK - rem])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Files of `n` lines each; `drift` makes pass 2 differ from pass 1.
    struct Lines {
        sizes: Vec<usize>,
        calls: usize,
        drift: bool,
    }

    impl Lines {
        fn file(&self, index: usize) -> Vec<u8> {
            let mut out = Vec::new();
            for k in 0..self.sizes[index] {
                writeln!(out, "{index},{k}").unwrap();
            }
            out
        }
    }

    impl Producer for Lines {
        fn measure(&mut self) -> io::Result<Vec<(u64, u64)>> {
            self.calls += 1;
            Ok((0..self.sizes.len())
                .map(|i| (self.sizes[i] as u64, self.file(i).len() as u64))
                .collect())
        }

        fn produce(&mut self, index: usize, out: &mut dyn Write) -> io::Result<u64> {
            self.calls += 1;
            let mut body = self.file(index);
            if self.drift {
                // The same size, one row fewer: caught by the row count.
                body.truncate(body.len() - 5);
                body.extend_from_slice(b"xxxx\n");
                out.write_all(&body)?;
                return Ok(self.sizes[index] as u64 - 1);
            }
            out.write_all(&body)?;
            Ok(self.sizes[index] as u64)
        }
    }

    fn header() -> ManifestHeader {
        ManifestHeader {
            export_id: "42".into(),
            snapshot_time: "2026-12-02T01:00:00Z".into(),
            extension_version: "0.5.0".into(),
        }
    }

    #[test]
    fn a_tar_reader_finds_every_file_as_the_manifest_at_the_end_says() {
        let names = vec![
            "csv/a.csv".to_string(),
            "mongodb/b.json".into(),
            "empty.csv".into(),
        ];
        let mut p = Lines {
            sizes: vec![1000, 3, 0],
            calls: 0,
            drift: false,
        };
        let mut hashed = Hashed::new(Vec::new());
        let m = write_archive(
            &mut hashed,
            "bravo-export-42",
            &names,
            header(),
            1_700_000_000,
            &mut p,
        )
        .unwrap();
        let out = hashed.into_inner();
        assert_eq!(p.calls, 4, "one measure, each file produced once");
        assert_eq!(out.len() % BLOCK, 0);

        let mut ar = tar::Archive::new(&out[..]);
        let mut seen = Vec::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().to_string();
            let mut body = Vec::new();
            e.read_to_end(&mut body).unwrap();
            seen.push((path, body));
        }
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[3].0, "bravo-export-42/manifest.json");
        let manifest: serde_json::Value = serde_json::from_slice(&seen[3].1).unwrap();
        assert_eq!(manifest["export_id"], "42");
        assert_eq!(manifest["files"].as_array().unwrap().len(), 3);
        for (f, (path, body)) in m.files.iter().zip(&seen[..3]) {
            assert_eq!(&f.path, path);
            assert_eq!(f.bytes, body.len() as u64);
            assert_eq!(f.sha256, hex(&Sha256::digest(body)));
            assert_eq!(f.rows, body.iter().filter(|&&b| b == b'\n').count() as u64);
        }
    }

    #[test]
    fn a_file_that_changes_between_passes_fails_the_archive() {
        let mut p = Lines {
            sizes: vec![10],
            calls: 0,
            drift: true,
        };
        let err = write_archive(
            &mut Hashed::new(Vec::new()),
            "x",
            &["a.csv".into()],
            header(),
            0,
            &mut p,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("changed between its two passes"),
            "{err}"
        );
    }

    #[test]
    fn a_producers_error_stops_the_archive() {
        struct Failing;
        impl Producer for Failing {
            fn measure(&mut self) -> io::Result<Vec<(u64, u64)>> {
                Ok(vec![(1, 2)])
            }
            fn produce(&mut self, _: usize, _: &mut dyn Write) -> io::Result<u64> {
                Err(io::Error::other("cancelled"))
            }
        }
        let err = write_archive(
            &mut Hashed::new(Vec::new()),
            "x",
            &["a.csv".into()],
            header(),
            0,
            &mut Failing,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "cancelled");
    }
}
