//! The archive's bytes → gzip → S3 multipart upload (or a local file), on a thread
//! of its own.
//!
//! The caller (the backend) writes plain bytes through [`Pipeline::writer`]; they go
//! in chunks over a bounded channel to the pipeline's thread, which compresses them,
//! hashes the compressed stream (the archive's sha256) and cuts it into parts of at
//! least `part_size` bytes. Each part is uploaded by a task on the tokio runtime, at
//! most `in_flight` at a time. Memory is bounded by the channel, the part being
//! filled and the parts in flight, whatever the archive's size.
//!
//! On any error, on [`Pipeline::abort`], or if the pipeline is dropped without
//! [`Pipeline::finish`], the multipart upload is aborted (S3 discards its parts) or
//! the partial file removed: nothing is ever left under the final key but a complete
//! archive. A local file is written as a hidden partial file and renamed into place.

use std::collections::VecDeque;

use bytes::Bytes;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bravo_core::export::archive::{hex, ArchiveOut};
use bravo_core::{CoreError, SqlState};
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::{MultipartUpload, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::pgzip::ParallelGzip;
use crate::s3::map_error;

/// Where the archive goes.
pub enum Sink {
    S3 { store: Arc<AmazonS3>, key: String },
    File { dir: PathBuf, name: String },
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// gzip level, 0-9.
    pub level: u32,
    /// Threads compressing at once (see [`crate::pgzip`]).
    pub threads: usize,
    /// Bytes per block compressed by one thread.
    pub block: usize,
    /// Smallest part uploaded (S3: at least 5 MiB but for the last).
    pub part_size: usize,
    /// Parts uploading at once.
    pub in_flight: usize,
    /// Bytes the writer gathers before handing them over.
    pub chunk: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            level: 3,
            threads: 2,
            block: 1 << 20,
            part_size: 8 << 20,
            in_flight: 2,
            chunk: 256 << 10,
        }
    }
}

/// The archive as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Compressed bytes.
    pub bytes: u64,
    /// sha256 of the compressed archive (what a download yields).
    pub sha256: String,
    /// Parts uploaded (1 for a local file).
    pub parts: usize,
}

enum Msg {
    Data(Vec<u8>),
    /// The data from here to `EndFile` is one file's: hash it.
    BeginFile,
    EndFile,
    /// Every ended file's sha256, in order.
    Hashes(mpsc::Sender<Vec<String>>),
    Finish,
}

pub struct Pipeline {
    tx: Option<SyncSender<Msg>>,
    done: Receiver<Result<Summary, CoreError>>,
    abort: Arc<AtomicBool>,
    buf: Vec<u8>,
    chunk: usize,
}

/// Called while the backend waits (every few milliseconds): returns an error to stop
/// waiting (a cancel).
pub type Wait<'a> = &'a mut dyn FnMut() -> io::Result<()>;

fn cancelled() -> CoreError {
    CoreError::new(SqlState::QueryCanceled, "the export was cancelled")
}

fn io_error(what: &str, e: io::Error) -> CoreError {
    CoreError::new(SqlState::IoError, format!("{what}: {e}"))
}

impl Pipeline {
    /// Starts the pipeline's thread; S3 parts are uploaded on `rt`.
    pub fn start(rt: Handle, sink: Sink, opts: Options) -> Pipeline {
        let (tx, rx) = mpsc::sync_channel::<Msg>(8);
        let (done_tx, done) = mpsc::channel();
        let abort = Arc::new(AtomicBool::new(false));
        let flag = abort.clone();
        std::thread::Builder::new()
            .name("bravo-export".into())
            .spawn(move || {
                let r = run(&rt, sink, opts, rx, &flag);
                let _ = done_tx.send(r);
            })
            .expect("spawn the export thread");
        Pipeline {
            tx: Some(tx),
            done,
            abort,
            buf: Vec::with_capacity(opts.chunk),
            chunk: opts.chunk.max(1),
        }
    }

    /// A writer into the pipeline; `wait` is called while the pipeline is busy.
    pub fn writer<'a>(&'a mut self, wait: Wait<'a>) -> PipeWriter<'a> {
        PipeWriter { p: self, wait }
    }

    fn send(&mut self, msg: Msg, wait: Wait<'_>) -> io::Result<()> {
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| io::Error::other("pipeline closed"))?;
        let mut msg = msg;
        loop {
            match tx.try_send(msg) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(m)) => {
                    msg = m;
                    wait()?;
                    std::thread::sleep(Duration::from_millis(1));
                }
                // The thread stopped on an error: finish() or the next wait reports it.
                Err(TrySendError::Disconnected(_)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        "export pipeline stopped",
                    ))
                }
            }
        }
    }

    fn flush_buf(&mut self, wait: Wait<'_>) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(self.chunk));
        self.send(Msg::Data(data), wait)
    }

    /// The error that stopped the pipeline's thread (waiting a little for its report:
    /// a writer sees the channel close just before the thread reports).
    pub fn failure(&self) -> Option<CoreError> {
        match self.done.recv_timeout(Duration::from_secs(2)) {
            Ok(Err(e)) => Some(e),
            _ => None,
        }
    }

    /// Completes the archive: the last part, the multipart completion (or the rename).
    pub fn finish(mut self, wait: Wait<'_>) -> Result<Summary, CoreError> {
        let sent = self
            .flush_buf(wait)
            .and_then(|()| self.send(Msg::Finish, wait));
        if let Err(e) = sent {
            if e.kind() != io::ErrorKind::BrokenPipe {
                // A cancel while handing over: abort.
                self.abort.store(true, Ordering::SeqCst);
                self.tx = None;
                let _ = self.done.recv_timeout(Duration::from_secs(5));
                return Err(cancelled());
            }
        }
        self.tx = None;
        loop {
            match self.done.recv_timeout(Duration::from_millis(5)) {
                Ok(r) => return r,
                Err(RecvTimeoutError::Timeout) => {
                    if wait().is_err() {
                        // Cancelled while completing: the thread deletes what it completed.
                        self.abort.store(true, Ordering::SeqCst);
                        let _ = self.done.recv_timeout(Duration::from_secs(5));
                        return Err(cancelled());
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(CoreError::new(
                        SqlState::IoError,
                        "the export thread stopped",
                    ))
                }
            }
        }
    }

    /// Stops: aborts the upload (or removes the partial file) and waits at most
    /// `patience` for that; true if it was confirmed.
    pub fn abort(mut self, patience: Duration) -> bool {
        self.abort.store(true, Ordering::SeqCst);
        self.tx = None;
        self.done.recv_timeout(patience).is_ok()
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        if self.tx.is_some() {
            self.abort.store(true, Ordering::SeqCst);
            self.tx = None;
        }
    }
}

/// `Write` into a [`Pipeline`].
pub struct PipeWriter<'a> {
    p: &'a mut Pipeline,
    wait: Wait<'a>,
}

impl ArchiveOut for PipeWriter<'_> {
    fn begin_file(&mut self) -> io::Result<()> {
        self.p.flush_buf(self.wait)?;
        self.p.send(Msg::BeginFile, self.wait)
    }

    fn end_file(&mut self) -> io::Result<()> {
        self.p.flush_buf(self.wait)?;
        self.p.send(Msg::EndFile, self.wait)
    }

    /// Waits until the pipeline's thread has hashed everything handed over.
    fn file_hashes(&mut self) -> io::Result<Vec<String>> {
        self.p.flush_buf(self.wait)?;
        let (tx, rx) = mpsc::channel();
        self.p.send(Msg::Hashes(tx), self.wait)?;
        loop {
            match rx.recv_timeout(Duration::from_millis(5)) {
                Ok(h) => return Ok(h),
                Err(RecvTimeoutError::Timeout) => (self.wait)()?,
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        "export pipeline stopped",
                    ))
                }
            }
        }
    }
}

impl Write for PipeWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // At most a chunk at a time: the channel bounds memory.
        let n = data.len().min(self.p.chunk - self.p.buf.len());
        self.p.buf.extend_from_slice(&data[..n]);
        if self.p.buf.len() >= self.p.chunk {
            self.p.flush_buf(self.wait)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The compressed stream's destination.
enum Out {
    S3 {
        rt: Handle,
        store: Arc<AmazonS3>,
        path: Path,
        upload: Box<dyn MultipartUpload>,
        in_flight: VecDeque<JoinHandle<object_store::Result<()>>>,
        max: usize,
        parts: usize,
    },
    File {
        file: File,
        partial: PathBuf,
        target: PathBuf,
    },
}

impl Out {
    fn open(rt: &Handle, sink: Sink, opts: &Options) -> Result<Out, CoreError> {
        match sink {
            Sink::S3 { store, key } => {
                let path = Path::parse(&key).map_err(|e| map_error(e.into()))?;
                let upload = rt.block_on(store.put_multipart(&path)).map_err(map_error)?;
                Ok(Out::S3 {
                    rt: rt.clone(),
                    store,
                    path,
                    upload,
                    in_flight: VecDeque::new(),
                    max: opts.in_flight.max(1),
                    parts: 0,
                })
            }
            Sink::File { dir, name } => {
                let target = dir.join(&name);
                if target.exists() {
                    return Err(CoreError::new(
                        SqlState::IoError,
                        format!("{} exists already", target.display()),
                    ));
                }
                let partial = dir.join(format!(".{name}.partial"));
                let file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&partial)
                    .map_err(|e| io_error(&format!("cannot create {}", partial.display()), e))?;
                Ok(Out::File {
                    file,
                    partial,
                    target,
                })
            }
        }
    }

    /// Uploads (or writes) one part, given as the pieces it is made of: no large
    /// contiguous buffer is ever allocated.
    fn part(&mut self, data: Vec<Bytes>) -> Result<(), CoreError> {
        match self {
            Out::S3 {
                rt,
                upload,
                in_flight,
                max,
                parts,
                ..
            } => {
                in_flight.push_back(rt.spawn(upload.put_part(PutPayload::from_iter(data))));
                *parts += 1;
                while in_flight.len() >= *max {
                    let h = in_flight.pop_front().expect("a part in flight");
                    joined(rt.block_on(h))?;
                }
                Ok(())
            }
            Out::File { file, partial, .. } => data
                .iter()
                .try_for_each(|d| file.write_all(d))
                .map_err(|e| io_error(&format!("cannot write {}", partial.display()), e)),
        }
    }

    fn complete(&mut self) -> Result<usize, CoreError> {
        match self {
            Out::S3 {
                rt,
                upload,
                in_flight,
                parts,
                ..
            } => {
                while let Some(h) = in_flight.pop_front() {
                    joined(rt.block_on(h))?;
                }
                rt.block_on(upload.complete()).map_err(map_error)?;
                Ok(*parts)
            }
            Out::File {
                file,
                partial,
                target,
            } => {
                file.sync_all()
                    .map_err(|e| io_error(&format!("cannot sync {}", partial.display()), e))?;
                fs::rename(&*partial, &*target).map_err(|e| {
                    io_error(&format!("cannot rename into {}", target.display()), e)
                })?;
                if let Some(dir) = target.parent() {
                    let _ = File::open(dir).and_then(|d| d.sync_all());
                }
                Ok(1)
            }
        }
    }

    /// Undoes everything: aborts the multipart upload (its parts are discarded),
    /// or removes the partial file.
    fn abort(&mut self) {
        match self {
            Out::S3 {
                rt,
                upload,
                in_flight,
                ..
            } => {
                for h in in_flight.drain(..) {
                    h.abort();
                    let _ = rt.block_on(h);
                }
                let _ = rt.block_on(upload.abort());
            }
            Out::File { partial, .. } => {
                let _ = fs::remove_file(&*partial);
            }
        }
    }

    /// Removes a completed archive (a cancel that came while it was completing).
    fn remove_completed(&mut self) {
        match self {
            Out::S3 {
                rt, store, path, ..
            } => {
                let _ = rt.block_on(store.delete(path));
            }
            Out::File { target, .. } => {
                let _ = fs::remove_file(&*target);
            }
        }
    }
}

fn joined(r: Result<object_store::Result<()>, tokio::task::JoinError>) -> Result<(), CoreError> {
    match r {
        Ok(r) => r.map_err(map_error),
        Err(e) => Err(CoreError::new(
            SqlState::IoError,
            format!("upload task failed: {e}"),
        )),
    }
}

fn run(
    rt: &Handle,
    sink: Sink,
    opts: Options,
    rx: Receiver<Msg>,
    abort: &AtomicBool,
) -> Result<Summary, CoreError> {
    let mut out = Out::open(rt, sink, &opts)?;
    let mut gz = Some(ParallelGzip::new(opts.level, opts.threads, opts.block));
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut part: Vec<Bytes> = Vec::new();
    let mut part_len = 0usize;
    let mut failed: Option<CoreError> = None;
    // Compressed bytes, in order, gathered into parts.
    let mut emit = |data: Vec<u8>, out: &mut Out, last: bool| -> io::Result<()> {
        hasher.update(&data);
        bytes += data.len() as u64;
        part_len += data.len();
        if !data.is_empty() {
            part.push(Bytes::from(data));
        }
        if part_len >= opts.part_size || (last && part_len > 0) {
            part_len = 0;
            out.part(std::mem::take(&mut part)).map_err(|e| {
                failed = Some(e);
                io::Error::other("upload failed")
            })?;
        }
        Ok(())
    };
    // The file being hashed (the backend formats; hashing is done here).
    let mut file: Option<Sha256> = None;
    let mut hashes: Vec<String> = Vec::new();
    let result = (|| loop {
        match rx.recv() {
            Ok(Msg::BeginFile) => file = Some(Sha256::new()),
            Ok(Msg::EndFile) => {
                let h = file.take().ok_or_else(|| {
                    CoreError::new(SqlState::IoError, "a file ended that did not begin")
                })?;
                hashes.push(hex(&h.finalize()));
            }
            Ok(Msg::Hashes(reply)) => {
                let _ = reply.send(hashes.clone());
            }
            Ok(Msg::Data(d)) => {
                if abort.load(Ordering::SeqCst) {
                    return Err(cancelled());
                }
                if let Some(h) = &mut file {
                    h.update(&d);
                }
                let gz = gz.as_mut().ok_or_else(cancelled)?;
                gz.write(&d, &mut |b| emit(b, &mut out, false))
                    .map_err(|e| io_error("gzip", e))?;
            }
            Ok(Msg::Finish) => {
                let gz = gz.take().ok_or_else(cancelled)?;
                gz.finish(&mut |b| emit(b, &mut out, false))
                    .map_err(|e| io_error("gzip", e))?;
                // The last part, whatever its size.
                emit(Vec::new(), &mut out, true).map_err(|e| io_error("gzip", e))?;
                return Ok(());
            }
            Err(_) => return Err(cancelled()),
        }
    })();
    let result = match (result, failed) {
        (Err(_), Some(upload)) => Err(upload),
        (r, _) => r,
    };
    if let Err(e) = result {
        out.abort();
        return Err(e);
    }
    if abort.load(Ordering::SeqCst) {
        out.abort();
        return Err(cancelled());
    }
    let parts = match out.complete() {
        Ok(p) => p,
        Err(e) => {
            out.abort();
            return Err(e);
        }
    };
    if abort.load(Ordering::SeqCst) {
        out.remove_completed();
        return Err(cancelled());
    }
    Ok(Summary {
        bytes,
        sha256: hex(&hasher.finalize()),
        parts,
    })
}

/// How long [`Pipeline::abort`] waits by default for the upload's abort.
pub const ABORT_PATIENCE: Duration = Duration::from_secs(5);

/// Milliseconds since `t0`, for progress.
pub fn elapsed_ms(t0: Instant) -> u64 {
    t0.elapsed().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("bravo-pipe-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_local_archive_is_renamed_into_place_and_decompresses_to_what_was_written() {
        let rt = rt();
        let dir = tmpdir("ok");
        let mut p = Pipeline::start(
            rt.handle().clone(),
            Sink::File {
                dir: dir.clone(),
                name: "a.tar.gz".into(),
            },
            Options {
                chunk: 1000,
                ..Options::default()
            },
        );
        let mut ok = || Ok(());
        let mut expected = Vec::new();
        let mut files = [Vec::new(), Vec::new()];
        {
            let mut w = p.writer(&mut ok);
            // Unhashed bytes, a file, unhashed bytes, a file: each file hashed alone.
            for i in 0..100_000 {
                let file = match i {
                    10..50_000 => Some(0),
                    60_000..99_000 => Some(1),
                    _ => None,
                };
                match i {
                    10 | 60_000 => w.begin_file().unwrap(),
                    50_000 | 99_000 => w.end_file().unwrap(),
                    _ => {}
                }
                let line = format!("{i},row\n");
                w.write_all(line.as_bytes()).unwrap();
                expected.extend_from_slice(line.as_bytes());
                if let Some(f) = file {
                    files[f].extend_from_slice(line.as_bytes());
                }
            }
            let hashes = w.file_hashes().unwrap();
            let want: Vec<String> = files.iter().map(|f| hex(&Sha256::digest(f))).collect();
            assert_eq!(hashes, want);
        }
        let s = p.finish(&mut ok).unwrap();
        let bytes = fs::read(dir.join("a.tar.gz")).unwrap();
        assert_eq!(s.bytes, bytes.len() as u64);
        assert_eq!(s.sha256, hex(&Sha256::digest(&bytes)));
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, expected);
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "no partial file left"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_cancel_while_writing_leaves_nothing() {
        let rt = rt();
        let dir = tmpdir("cancel");
        let mut p = Pipeline::start(
            rt.handle().clone(),
            Sink::File {
                dir: dir.clone(),
                name: "a.tar.gz".into(),
            },
            Options {
                chunk: 10,
                ..Options::default()
            },
        );
        let mut n = 0;
        let mut cancel_later = || {
            n += 1;
            if n > 3 {
                Err(io::Error::other("cancel"))
            } else {
                Ok(())
            }
        };
        {
            let mut w = p.writer(&mut cancel_later);
            w.write_all(b"some bytes of the archive").unwrap();
        }
        assert!(p.abort(ABORT_PATIENCE), "the abort was confirmed");
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            0,
            "neither archive nor partial"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_existing_archive_is_never_overwritten() {
        let rt = rt();
        let dir = tmpdir("exists");
        fs::write(dir.join("a.tar.gz"), b"old").unwrap();
        let p = Pipeline::start(
            rt.handle().clone(),
            Sink::File {
                dir: dir.clone(),
                name: "a.tar.gz".into(),
            },
            Options::default(),
        );
        let mut ok = || Ok(());
        let e = p.finish(&mut ok).unwrap_err();
        assert_eq!(e.state, SqlState::IoError);
        assert_eq!(fs::read(dir.join("a.tar.gz")).unwrap(), b"old");
        fs::remove_dir_all(&dir).unwrap();
    }
}
