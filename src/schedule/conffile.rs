//! What the configuration files ask for, as opposed to what is in force.
//!
//! PostgreSQL checks a setting's value (our check hooks) whenever it reads the files.
//! A refused value is logged (`LOG: invalid value for parameter ...` from the
//! postmaster, or `WARNING` while the library is being preloaded at startup) and not
//! applied: after a reload the setting keeps its previous value, and at startup it
//! keeps its built-in default. Nothing tells the worker, which would then run the
//! built-in default schedule as if it had been asked for. So the worker reads the files
//! the way PostgreSQL does (postgresql.conf with its includes, then
//! postgresql.auto.conf; the last line for a name wins) and checks the value itself.

use std::ffi::{CStr, CString};

use pgrx::prelude::*;
use pgrx::PgMemoryContexts;

/// One setting's line in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSetting {
    pub value: String,
    pub file: String,
    pub line: i32,
}

impl FileSetting {
    /// `file:line`, for messages.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// The effective file line of each of `names` (`None`: not in the files), or `None`
/// when the files cannot be read or parsed (PostgreSQL then applies nothing from them
/// either, so what is in force is all there is to know).
pub fn read(names: &[&str]) -> Option<Vec<Option<FileSetting>>> {
    // SAFETY: a read of a GUC string pointer owned by PostgreSQL (`config_file`), on the
    // process's main thread; it is set at startup and checked for NULL below.
    let main = unsafe { pg_sys::ConfigFileName };
    if main.is_null() {
        return None;
    }
    let mut cx = PgMemoryContexts::new("bravo_metrics configuration files");
    // SAFETY: runs on the process's main thread, in a memory context of its own that is
    // deleted when `cx` drops, so everything ParseConfigFile pallocs (the list, its
    // strings) is freed then and is only read before that: the results are copied into
    // owned Rust strings inside the closure. `main` was checked for NULL, `auto` lives
    // for the call, `head`/`tail` start as an empty list as ParseConfigFile requires,
    // and the list is walked with a NULL check on every node and string; DataDir is a
    // PostgreSQL-owned global, only compared with NULL. ParseConfigFile reports parse
    // problems at `quiet` (DEBUG2) and returns false rather than raising for them; if an
    // ERROR does unwind out of it (out of memory), dropping `cx` switches back to the
    // previous context before deleting its own.
    unsafe {
        cx.switch_to(|_| {
            let mut head: *mut pg_sys::ConfigVariable = std::ptr::null_mut();
            let mut tail: *mut pg_sys::ConfigVariable = std::ptr::null_mut();
            let quiet = pg_sys::DEBUG2 as i32;
            if !pg_sys::ParseConfigFile(
                main,
                true,
                std::ptr::null(),
                0,
                0,
                quiet,
                &mut head,
                &mut tail,
            ) {
                return None;
            }
            if !pg_sys::DataDir.is_null() {
                let auto = CString::new("postgresql.auto.conf").expect("no NUL");
                if !pg_sys::ParseConfigFile(
                    auto.as_ptr(),
                    false,
                    std::ptr::null(),
                    0,
                    0,
                    quiet,
                    &mut head,
                    &mut tail,
                ) {
                    return None;
                }
            }
            let mut found: Vec<Option<FileSetting>> = vec![None; names.len()];
            let text = |p: *const std::ffi::c_char| {
                if p.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(p).to_string_lossy().into_owned()
                }
            };
            let mut item = head;
            while !item.is_null() {
                let name = text((*item).name);
                if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(&name)) {
                    found[i] = Some(FileSetting {
                        value: text((*item).value),
                        file: text((*item).filename),
                        line: (*item).sourceline,
                    });
                }
                item = (*item).next;
            }
            Some(found)
        })
    }
}
