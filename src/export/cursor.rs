//! Reading tables for the export: one snapshot for every query, values in binary.
//!
//! The snapshot is taken once and registered; every query of the export runs with it
//! as the active snapshot and as a read-only SPI query (which takes no snapshot of its
//! own), so all tables — and both passes over each (see
//! `bravo_core::export::archive`) — see the same data, whatever the caller's
//! isolation level and whatever commits meanwhile.

use std::ffi::{CStr, CString};
use std::io;

use bravo_core::export::value::{Value, DAY_MICROS};
use pgrx::pg_sys;
use pgrx::varlena::{vardata_any, varsize_any_exhdr};

use crate::runtime;

/// The export's registered snapshot; unregistered on drop.
pub struct Snapshot(pg_sys::Snapshot);

impl Snapshot {
    /// The transaction's snapshot (in READ COMMITTED, a new one), registered.
    pub fn take() -> Snapshot {
        // SAFETY: on the backend thread inside a transaction (a SQL function); the
        // snapshot is registered with the current resource owner and unregistered once,
        // by Drop (which runs before the transaction's abort cleanup on an error).
        unsafe { Snapshot(pg_sys::RegisterSnapshot(pg_sys::GetTransactionSnapshot())) }
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        // SAFETY: registered by `take` and unregistered only here.
        unsafe { pg_sys::UnregisterSnapshot(self.0) };
    }
}

/// Why reading stopped: a cancel request (the caller then lets PostgreSQL raise it).
pub fn cancelled() -> io::Error {
    io::Error::new(io::ErrorKind::Interrupted, "cancel requested")
}

/// Rows fetched per round trip.
const BATCH: i64 = 5000;

/// Days from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch for dates and instants).
const PG_EPOCH_DAYS: i64 = 10_957;

/// How one column's datum becomes a [`Value`]: binary for the types the export knows,
/// through the type's output function (text) for any other.
enum Reader {
    Int2,
    Int4,
    Int8,
    Bool,
    Date,
    Instant,
    Uuid,
    /// `text`, `varchar`, `char`: the varlena's bytes.
    Text,
    /// `numeric`: the varlena's bytes, PostgreSQL's stored form.
    Numeric,
    /// Any other type: its output function's text.
    Output(Box<pg_sys::FmgrInfo>),
}

impl Reader {
    /// # Safety
    /// `typid` is a valid type; called in a transaction.
    unsafe fn of(typid: pg_sys::Oid) -> Reader {
        match typid {
            pg_sys::INT2OID => Reader::Int2,
            pg_sys::INT4OID => Reader::Int4,
            pg_sys::INT8OID => Reader::Int8,
            pg_sys::BOOLOID => Reader::Bool,
            pg_sys::DATEOID => Reader::Date,
            pg_sys::TIMESTAMPTZOID => Reader::Instant,
            pg_sys::UUIDOID => Reader::Uuid,
            pg_sys::TEXTOID | pg_sys::VARCHAROID | pg_sys::BPCHAROID => Reader::Text,
            pg_sys::NUMERICOID => Reader::Numeric,
            _ => {
                let mut func = pg_sys::InvalidOid;
                let mut varlena = false;
                // SAFETY: the caller's contract; FmgrInfo is plain data that
                // fmgr_info fills in full.
                let fmgr = unsafe {
                    pg_sys::getTypeOutputInfo(typid, &mut func, &mut varlena);
                    let mut fmgr = Box::new(std::mem::zeroed::<pg_sys::FmgrInfo>());
                    pg_sys::fmgr_info(func, &mut *fmgr);
                    fmgr
                };
                Reader::Output(fmgr)
            }
        }
    }

    /// # Safety
    /// `d` is a non-NULL datum of this reader's type, alive (with whatever the output
    /// function allocates in the current memory context) for `'a`.
    unsafe fn read<'a>(&mut self, d: pg_sys::Datum) -> io::Result<Value<'a>> {
        // SAFETY: the caller's contract: by-reference datums point to a live value of
        // the reader's type (a uuid's 16 bytes, a varlena, an output function's input).
        Ok(unsafe {
            match self {
                Reader::Int2 => Value::Int(i64::from(d.value() as i16)),
                Reader::Int4 => Value::Int(i64::from(d.value() as i32)),
                Reader::Int8 => Value::Int(d.value() as i64),
                Reader::Bool => Value::Bool(d.value() != 0),
                Reader::Date => match d.value() as i32 {
                    i32::MAX => Value::Infinity(true),
                    i32::MIN => Value::Infinity(false),
                    days => Value::Date(i64::from(days) + PG_EPOCH_DAYS),
                },
                Reader::Instant => match d.value() as i64 {
                    i64::MAX => Value::Infinity(true),
                    i64::MIN => Value::Infinity(false),
                    us => Value::Instant {
                        days: us.div_euclid(DAY_MICROS as i64) + PG_EPOCH_DAYS,
                        micros: us.rem_euclid(DAY_MICROS as i64) as u64,
                    },
                },
                Reader::Uuid => {
                    let p = d.cast_mut_ptr::<[u8; 16]>();
                    Value::Uuid(*p)
                }
                Reader::Text => Value::Text(utf8(varlena_bytes(d))?),
                Reader::Numeric => Value::Numeric(varlena_bytes(d)),
                Reader::Output(fmgr) => {
                    let p = pg_sys::OutputFunctionCall(&mut **fmgr, d);
                    Value::Text(utf8(CStr::from_ptr(p).to_bytes())?)
                }
            }
        })
    }
}

/// The bytes of a varlena datum (detoasted, and copied into the current memory
/// context only if it was toasted).
///
/// # Safety
/// `d` is a live varlena datum; the bytes live as long as it (or the context).
unsafe fn varlena_bytes<'a>(d: pg_sys::Datum) -> &'a [u8] {
    // SAFETY: the caller's contract.
    unsafe {
        let v = pg_sys::pg_detoast_datum_packed(d.cast_mut_ptr());
        std::slice::from_raw_parts(vardata_any(v).cast::<u8>(), varsize_any_exhdr(v))
    }
}

fn utf8(bytes: &[u8]) -> io::Result<&str> {
    std::str::from_utf8(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "a value is not UTF-8: the export needs a UTF8 database",
        )
    })
}

/// Runs `query` under `snap` and calls `f` with each row's values, read in binary
/// (see [`Reader`]). Stops with [`cancelled`] at a cancel request. SPI must be
/// connected.
pub fn each_row(
    snap: &Snapshot,
    query: &str,
    mut f: impl FnMut(&[Value<'_>]) -> io::Result<()>,
) -> io::Result<u64> {
    let q = CString::new(query).map_err(io::Error::other)?;
    // SAFETY: SPI is connected (the caller's contract); the snapshot is registered and
    // alive for the whole call. The portal keeps its own registration of the snapshot,
    // so popping it right after the open is fine. The batch context is a child of the
    // SPI procedure context (freed with it on an error) and is switched away from
    // before it is reset; every tuple table is freed after its batch, and the values
    // read from it (borrowing its tuples and the batch context) do not outlive it.
    unsafe {
        pg_sys::PushActiveSnapshot(snap.0);
        let portal = pg_sys::SPI_cursor_open_with_args(
            std::ptr::null(),
            q.as_ptr(),
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null(),
            true,
            pg_sys::CURSOR_OPT_NO_SCROLL as i32,
        );
        pg_sys::PopActiveSnapshot();
        // Each batch's values (and whatever the output functions allocate on the way)
        // live in a context of their own, reset after the batch: memory stays flat
        // whatever the table's size. Deleted with the SPI context if an error unwinds.
        let batch_cx = pg_sys::AllocSetContextCreateInternal(
            pg_sys::CurrentMemoryContext,
            c"bravo_export batch".as_ptr(),
            0,
            pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
        );
        let mut rows = 0u64;
        let mut readers: Vec<Reader> = Vec::new();
        let mut datums: Vec<pg_sys::Datum> = Vec::new();
        let mut nulls: Vec<bool> = Vec::new();
        let result = (|| loop {
            if runtime::cancel_requested() {
                return Err(cancelled());
            }
            pg_sys::SPI_cursor_fetch(portal, true, BATCH);
            let n = pg_sys::SPI_processed as usize;
            let tt = pg_sys::SPI_tuptable;
            if n == 0 || tt.is_null() {
                return Ok(rows);
            }
            let desc = (*tt).tupdesc;
            let ncols = (*desc).natts as usize;
            if readers.is_empty() {
                readers = (*desc)
                    .attrs
                    .as_slice(ncols)
                    .iter()
                    .map(|a| Reader::of(a.atttypid))
                    .collect();
                datums = vec![pg_sys::Datum::from(0usize); ncols];
                nulls = vec![false; ncols];
            }
            let mut out = Ok(());
            let caller_cx = pg_sys::MemoryContextSwitchTo(batch_cx);
            // One row's values, reused for every row of the batch (they borrow the
            // batch's tuples and context, freed below after this vector is gone).
            let mut values: Vec<Value<'_>> = Vec::with_capacity(ncols);
            for i in 0..n {
                let tuple = *(*tt).vals.add(i);
                pg_sys::heap_deform_tuple(tuple, desc, datums.as_mut_ptr(), nulls.as_mut_ptr());
                values.clear();
                out = (|| {
                    for (c, reader) in readers.iter_mut().enumerate() {
                        values.push(if nulls[c] {
                            Value::Null
                        } else {
                            reader.read(datums[c])?
                        });
                    }
                    f(&values)
                })();
                if out.is_err() {
                    break;
                }
                rows += 1;
            }
            drop(values);
            pg_sys::MemoryContextSwitchTo(caller_cx);
            pg_sys::MemoryContextReset(batch_cx);
            pg_sys::SPI_freetuptable(tt);
            out?;
        })();
        pg_sys::SPI_cursor_close(portal);
        pg_sys::MemoryContextDelete(batch_cx);
        result
    }
}
