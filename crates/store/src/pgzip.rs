//! gzip on several threads, as `pigz` does it: one ordinary gzip member that any
//! gzip reader decompresses, made of blocks compressed in parallel.
//!
//! The stream is cut into blocks; each is compressed by a worker thread as raw
//! deflate with the previous block's last 32 KiB as its dictionary (so the ratio is
//! that of one stream), ending with a sync flush (byte-aligned) except the last,
//! which ends the deflate stream. Blocks are emitted in order; the CRC-32 and length
//! of the whole input close the member. Memory is bounded by the blocks in flight.

use std::collections::VecDeque;
use std::io;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::{Compress, Compression, FlushCompress, Status};

/// deflate's window: the dictionary a block gets from the one before.
const WINDOW: usize = 32 << 10;

struct Job {
    dict: Vec<u8>,
    data: Vec<u8>,
    last: bool,
    reply: SyncSender<io::Result<Vec<u8>>>,
}

pub struct ParallelGzip {
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    max_pending: usize,
    block: Vec<u8>,
    block_size: usize,
    dict: Vec<u8>,
    crc: crc32fast::Hasher,
    total: u64,
    header: bool,
}

impl ParallelGzip {
    /// `threads` workers compress blocks of `block_size` bytes at `level` (0–9).
    pub fn new(level: u32, threads: usize, block_size: usize) -> ParallelGzip {
        let threads = threads.max(1);
        let (tx, rx) = mpsc::sync_channel::<Job>(threads);
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..threads)
            .map(|i| {
                let rx = rx.clone();
                std::thread::Builder::new()
                    .name(format!("bravo-gzip-{i}"))
                    .spawn(move || work(level.min(9), &rx))
                    .expect("spawn a gzip thread")
            })
            .collect();
        ParallelGzip {
            jobs: Some(tx),
            workers,
            pending: VecDeque::new(),
            max_pending: 2 * threads,
            block: Vec::with_capacity(block_size),
            block_size: block_size.max(WINDOW),
            dict: Vec::new(),
            crc: crc32fast::Hasher::new(),
            total: 0,
            header: false,
        }
    }

    /// Compresses `data`; `emit` gets the compressed bytes, in order, as blocks finish.
    pub fn write(
        &mut self,
        mut data: &[u8],
        emit: &mut dyn FnMut(Vec<u8>) -> io::Result<()>,
    ) -> io::Result<()> {
        self.start(emit)?;
        self.crc.update(data);
        self.total += data.len() as u64;
        while !data.is_empty() {
            let n = data.len().min(self.block_size - self.block.len());
            self.block.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.block.len() == self.block_size {
                self.submit(false, emit)?;
            }
        }
        Ok(())
    }

    /// Ends the stream: the last block, then the CRC-32 and the length.
    pub fn finish(mut self, emit: &mut dyn FnMut(Vec<u8>) -> io::Result<()>) -> io::Result<()> {
        self.start(emit)?;
        self.submit(true, emit)?;
        while let Some(r) = self.pending.pop_front() {
            emit(received(&r)?)?;
        }
        let mut trailer = Vec::with_capacity(8);
        trailer.extend_from_slice(&self.crc.clone().finalize().to_le_bytes());
        trailer.extend_from_slice(&(self.total as u32).to_le_bytes());
        emit(trailer)
    }

    fn start(&mut self, emit: &mut dyn FnMut(Vec<u8>) -> io::Result<()>) -> io::Result<()> {
        if self.header {
            return Ok(());
        }
        self.header = true;
        // Magic, deflate, no flags, no mtime, no extra flags, OS unknown.
        emit(vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])
    }

    fn submit(
        &mut self,
        last: bool,
        emit: &mut dyn FnMut(Vec<u8>) -> io::Result<()>,
    ) -> io::Result<()> {
        let data = std::mem::replace(&mut self.block, Vec::with_capacity(self.block_size));
        let tail = data.len().saturating_sub(WINDOW);
        let dict = std::mem::replace(&mut self.dict, data[tail..].to_vec());
        let (reply, result) = mpsc::sync_channel(1);
        let jobs = self.jobs.as_ref().ok_or_else(stopped)?;
        jobs.send(Job {
            dict,
            data,
            last,
            reply,
        })
        .map_err(|_| stopped())?;
        self.pending.push_back(result);
        while self.pending.len() > self.max_pending {
            let r = self.pending.pop_front().expect("a pending block");
            emit(received(&r)?)?;
        }
        Ok(())
    }
}

impl Drop for ParallelGzip {
    fn drop(&mut self) {
        self.jobs = None;
        self.pending.clear();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

fn stopped() -> io::Error {
    io::Error::other("a gzip thread stopped")
}

fn received(r: &Receiver<io::Result<Vec<u8>>>) -> io::Result<Vec<u8>> {
    r.recv().map_err(|_| stopped())?
}

fn work(level: u32, jobs: &Mutex<Receiver<Job>>) {
    let mut c = Compress::new(Compression::new(level), false);
    loop {
        let job = match jobs.lock() {
            Ok(rx) => match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
            Err(_) => return,
        };
        let out = compress(&mut c, &job);
        let _ = job.reply.send(out);
    }
}

/// One block as raw deflate: a sync flush at its end, or the stream's end if last.
fn compress(c: &mut Compress, job: &Job) -> io::Result<Vec<u8>> {
    c.reset();
    if !job.dict.is_empty() {
        c.set_dictionary(&job.dict).map_err(io::Error::other)?;
    }
    let flush = if job.last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(job.data.len() / 2 + 1024);
    let start = c.total_in();
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(out.capacity().max(64 << 10));
        }
        let consumed = (c.total_in() - start) as usize;
        let status = c
            .compress_vec(&job.data[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let consumed = (c.total_in() - start) as usize;
        let done = match status {
            Status::StreamEnd => true,
            // A sync flush is complete once all input is in and output space is left.
            _ => !job.last && consumed == job.data.len() && out.len() < out.capacity(),
        };
        if done {
            // Held until its part is uploaded: only what it needs.
            out.shrink_to_fit();
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gzip(input: &[u8], threads: usize, block: usize, pieces: usize) -> Vec<u8> {
        let mut z = ParallelGzip::new(6, threads, block);
        let mut out = Vec::new();
        let mut emit = |b: Vec<u8>| -> io::Result<()> {
            out.extend_from_slice(&b);
            Ok(())
        };
        for chunk in input.chunks(input.len().div_ceil(pieces.max(1)).max(1)) {
            z.write(chunk, &mut emit).unwrap();
        }
        z.finish(&mut emit).unwrap();
        out
    }

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        // A single-member reader: the stream must be one ordinary gzip member.
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn sample(n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 100);
        let mut i = 0u64;
        while v.len() < n {
            v.extend_from_slice(
                format!(
                    "{},2026-11-{:02},{},{}.{:02}\n",
                    i / 30,
                    i % 30 + 1,
                    i * 7919 % 100_000,
                    i % 977,
                    i % 100
                )
                .as_bytes(),
            );
            i += 1;
        }
        v.truncate(n);
        v
    }

    #[test]
    fn one_ordinary_gzip_member_whatever_the_threads_and_blocks() {
        let input = sample(3_000_000);
        let single = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), Compression::new(6));
            std::io::Write::write_all(&mut e, &input).unwrap();
            e.finish().unwrap()
        };
        for (threads, block, pieces) in [(1, 64 << 10, 7), (2, 100_000, 1), (3, 1 << 20, 333)] {
            let gz = gzip(&input, threads, block, pieces);
            assert_eq!(gunzip(&gz), input, "{threads} threads, {block} B blocks");
            // The dictionary keeps the ratio within 1% of one single-threaded stream.
            assert!(
                (gz.len() as f64) < single.len() as f64 * 1.01,
                "{} vs {}",
                gz.len(),
                single.len()
            );
        }
    }

    #[test]
    fn empty_and_tiny_inputs() {
        assert_eq!(gunzip(&gzip(b"", 2, 1 << 16, 1)), b"");
        assert_eq!(gunzip(&gzip(b"x", 2, 1 << 16, 1)), b"x");
        let exact = sample(WINDOW * 2);
        assert_eq!(gunzip(&gzip(&exact, 2, WINDOW, 2)), exact);
    }
}
