//! A merge statement's column arguments, each built as one array in one call.
//!
//! pgrx turns a `Vec<T>` into an array element by element (`accumArrayResult`, which
//! copies every by-reference element once more before the array copies it again). A
//! sync binds up to `apply::FLUSH_ROWS` rows per column and statement, 1.5 M rows per
//! table in a first load: here the elements become datums in a plain vector, and
//! `construct_array` copies them into the array once. Money is parsed into
//! `numeric` here, so the statement unnests `numeric[]` with no text in between.

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::IntoDatum;

/// An array of type `elem` from its elements' datums.
fn array(mut elems: Vec<pg_sys::Datum>, elem: pg_sys::Oid) -> DatumWithOid<'static> {
    let n = i32::try_from(elems.len()).expect("a statement binds at most FLUSH_ROWS rows");
    let (mut len, mut byval, mut align) = (0i16, false, 0 as std::ffi::c_char);
    // SAFETY: `elems` holds `n` datums of type `elem`: by value, or pointers to values
    // allocated in the current memory context that live until the call returns.
    // `get_typlenbyvalalign` reads the type's length, by-value flag and alignment from
    // the catalog cache into the three locals; `construct_array` copies the elements
    // into a new array in the current memory context; `get_array_type` only reads the
    // catalog cache.
    unsafe {
        pg_sys::get_typlenbyvalalign(elem, &mut len, &mut byval, &mut align);
        let array = pg_sys::construct_array(elems.as_mut_ptr(), n, elem, len.into(), byval, align);
        DatumWithOid::new(pg_sys::Datum::from(array), pg_sys::get_array_type(elem))
    }
}

/// An array of a by-value type from its elements.
fn by_value<T>(values: Vec<T>, elem: pg_sys::Oid) -> DatumWithOid<'static>
where
    pg_sys::Datum: From<T>,
{
    array(values.into_iter().map(pg_sys::Datum::from).collect(), elem)
}

/// `int8[]`.
pub fn int8s(values: Vec<i64>) -> DatumWithOid<'static> {
    by_value(values, pg_sys::INT8OID)
}

/// `date[]` from days since 2000-01-01 (PostgreSQL's `DateADT`).
pub fn dates(days: Vec<i32>) -> DatumWithOid<'static> {
    by_value(days, pg_sys::DATEOID)
}

/// `timestamptz[]` from microseconds since 2000-01-01 UTC (`TimestampTz`).
pub fn timestamptzs(micros: Vec<i64>) -> DatumWithOid<'static> {
    by_value(micros, pg_sys::TIMESTAMPTZOID)
}

/// `text[]`.
pub fn texts(values: Vec<String>) -> DatumWithOid<'static> {
    let datums = values
        .into_iter()
        .map(|s| s.into_datum().expect("a text is never NULL"))
        .collect();
    array(datums, pg_sys::TEXTOID)
}

/// `numeric[]` from exact decimal text (`bravo_core::validate::Value::Money`), parsed
/// by numeric's input function as COPY does: looked up once, called per element.
pub fn numerics(values: Vec<String>) -> DatumWithOid<'static> {
    let mut flinfo = pg_sys::FmgrInfo::default();
    let (mut input, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
    // SAFETY: both read the catalog cache into the locals; `fmgr_info` fills
    // `flinfo`, which lives until the last call below.
    unsafe {
        pg_sys::getTypeInputInfo(pg_sys::NUMERICOID, &mut input, &mut ioparam);
        pg_sys::fmgr_info(input, &mut flinfo);
    }
    let mut text = Vec::with_capacity(64);
    let datums = values
        .into_iter()
        .map(|s| {
            text.clear();
            text.extend_from_slice(s.as_bytes());
            text.push(0);
            // SAFETY: `text` is NUL-terminated and outlives the call; the input function
            // reads it and returns a numeric allocated in the current memory context (it
            // raises an ERROR, as any cast would, on text that is not a number).
            unsafe { pg_sys::InputFunctionCall(&mut flinfo, text.as_mut_ptr().cast(), ioparam, -1) }
        })
        .collect();
    array(datums, pg_sys::NUMERICOID)
}
