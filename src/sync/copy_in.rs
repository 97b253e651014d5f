//! New rows go in through PostgreSQL's own COPY FROM machinery, fed from memory.
//!
//! `CopyFrom` with a data callback is what logical replication's initial table sync
//! uses (`tablesync.c`): the rows take COPY's bulk path (multi-row heap inserts, one
//! WAL record per page), and everything else behaves as for any COPY into the table:
//! its constraints and foreign keys are checked, its triggers fire (the reporting
//! rollups' statement triggers see one transition table per call), partitions route.
//! The caller runs it as the table's owner ([`super::owner::Owner::run`]), which is
//! also who `COPY` would check. A table with row-level security is written with
//! `INSERT` instead (COPY does not apply policies); `apply.rs` decides.
//!
//! The data is COPY's text format, built by `apply.rs` ([`escape_into`] for text
//! values); the callback hands it over in the pieces COPY asks for.

use std::cell::RefCell;
use std::ffi::{c_int, c_void, CString};

use pgrx::pg_sys;
use pgrx::prelude::*;

thread_local! {
    /// The text being copied and how much of it COPY has read.
    static FEED: RefCell<(Vec<u8>, usize)> = const { RefCell::new((Vec::new(), 0)) };
}

/// COPY's data callback: at most `maxread` bytes of [`FEED`]; 0 at the end.
#[pg_guard]
unsafe extern "C-unwind" fn feed(outbuf: *mut c_void, _minread: c_int, maxread: c_int) -> c_int {
    FEED.with(|f| {
        let (data, pos) = &mut *f.borrow_mut();
        let n = (data.len() - *pos).min(maxread.max(0) as usize);
        // SAFETY: COPY passes a buffer of at least `maxread` bytes; `n` <= maxread and
        // the source range is inside `data`.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr().add(*pos), outbuf.cast::<u8>(), n) };
        *pos += n;
        n as c_int
    })
}

/// Appends `value` to `out` escaped for COPY's text format (backslash, tab, newline,
/// carriage return).
pub fn escape_into(out: &mut Vec<u8>, value: &str) {
    for b in value.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// Copies `data` (COPY text format, one line per row, `columns` in order) into table
/// `relid` in the current transaction. Returns the number of rows. Errors (a
/// constraint, a trigger) are raised as PostgreSQL errors, as from any statement.
pub fn copy_rows(relid: pg_sys::Oid, columns: &[String], data: Vec<u8>) -> u64 {
    FEED.with(|f| *f.borrow_mut() = (data, 0));
    let names: Vec<CString> = columns
        .iter()
        .map(|c| CString::new(c.as_str()).expect("column names have no NUL"))
        .collect();
    // SAFETY: in a transaction, as tablesync.c does it: the relation is opened and
    // locked for the copy and kept locked until the transaction ends; the parse state,
    // the column list and the COPY state are palloc'd in the current memory context
    // and freed with it; the callback reads only FEED, set above. Any error raised
    // inside unwinds through pgrx's guards and aborts the (sub)transaction, which
    // releases the relation, the snapshot and COPY's resources.
    let n = unsafe {
        let rel = pg_sys::table_open(relid, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE);
        let pstate = pg_sys::make_parsestate(std::ptr::null_mut());
        pg_sys::addRangeTableEntryForRelation(
            pstate,
            rel,
            pg_sys::RowExclusiveLock as c_int,
            std::ptr::null_mut(),
            false,
            false,
        );
        let mut attnames: *mut pg_sys::List = std::ptr::null_mut();
        for n in &names {
            attnames = pg_sys::lappend(
                attnames,
                pg_sys::makeString(pg_sys::pstrdup(n.as_ptr())).cast(),
            );
        }
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
        let cstate = pg_sys::BeginCopyFrom(
            pstate,
            rel,
            std::ptr::null_mut(),
            std::ptr::null(),
            false,
            Some(feed),
            attnames,
            std::ptr::null_mut(),
        );
        let n = pg_sys::CopyFrom(cstate);
        pg_sys::EndCopyFrom(cstate);
        pg_sys::PopActiveSnapshot();
        pg_sys::CommandCounterIncrement();
        pg_sys::free_parsestate(pstate);
        pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        n
    };
    FEED.with(|f| *f.borrow_mut() = (Vec::new(), 0));
    n
}
