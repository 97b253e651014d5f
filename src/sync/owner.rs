//! As which role a sync writes the metric tables.
//!
//! The metric tables belong to the media tool (often to its application role), not to
//! the extension. Writing them runs code the table's owner controls: its triggers,
//! rules, column defaults, CHECK constraints, index expressions. Run as a superuser
//! (every sync runs as the extension's owner: `bravo_sync` and `bravo_run_now` are
//! SECURITY DEFINER, the scheduler connects as the bootstrap superuser), that code
//! would make its owner a superuser. So, like PostgreSQL's own VACUUM, ANALYZE and
//! REFRESH MATERIALIZED VIEW, every write to a metric table runs **as the table's
//! owner, in a security-restricted operation** (no SET ROLE, no temp objects, no
//! session state changes), with `search_path = pg_catalog, <table's schema>, pg_temp`.
//!
//! What stays as the extension's owner: reading (a plain table read runs no code of
//! the owner's: row security is bypassed by superusers, and views, foreign tables and
//! other relation kinds are refused by [`check`]), and the extension's own bookkeeping
//! (run log, set-aside rows, temp tables of the sync).
//!
//! A table owned by a superuser can still carry a trigger whose function belongs to
//! an ordinary role (a role granted TRIGGER on it): that function would run as the
//! superuser, so such a table is refused (42501) with a HINT.

use std::ffi::CString;
use std::panic::AssertUnwindSafe;

use pgrx::prelude::*;

use crate::error::BravoError;

/// The owner of a metric table, and how to run as it.
#[derive(Clone, Debug)]
pub struct Owner {
    pub role: pg_sys::Oid,
    pub name: String,
    pub superuser: bool,
    search_path: CString,
}

fn spi_err(e: pgrx::spi::Error) -> BravoError {
    BravoError::internal("cannot inspect a metric table", e)
}

/// Every relation a read or write can reach (the table, or every partition of it) must
/// be a plain or partitioned table: a view, a foreign table or a rule would run another
/// role's code.
pub fn check_kind(table: &str, what: &str) -> Result<(), BravoError> {
    let odd = Spi::get_two_with_args::<String, String>(
        "SELECT pg_catalog.min(rel), pg_catalog.min(kind) FROM ( \
           SELECT t.relid::pg_catalog.regclass::text AS rel, c.relkind::text AS kind \
             FROM (SELECT $1::pg_catalog.regclass AS relid \
                   UNION SELECT relid FROM pg_catalog.pg_partition_tree($1::pg_catalog.regclass)) t \
             JOIN pg_catalog.pg_class c ON c.oid = t.relid \
            WHERE c.relkind NOT IN ('r', 'p') LIMIT 1) s",
        &[table.into()],
    )
    .map_err(spi_err)?;
    if let (Some(rel), Some(kind)) = odd {
        return Err(BravoError::new(
            PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            format!("{what} {rel} is not a table (relkind '{kind}')"),
        )
        .hint("bravo_metrics reads and writes only plain or partitioned tables: views, foreign tables and other relations could run another role's code during a sync."));
    }
    let rules = Spi::get_one_with_args::<String>(
        "SELECT pg_catalog.min(r.rulename::text) FROM pg_catalog.pg_rewrite r \
          WHERE r.ev_class IN (SELECT $1::pg_catalog.regclass UNION SELECT relid FROM pg_catalog.pg_partition_tree($1::pg_catalog.regclass))",
        &[table.into()],
    )
    .map_err(spi_err)?;
    if let Some(rule) = rules {
        return Err(BravoError::new(
            PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            format!("{what} {table} has the rule {rule}"),
        )
        .hint("bravo_metrics does not read or write tables with rules; use a trigger instead."));
    }
    Ok(())
}

/// Checks what a sync may safely write in `table` (schema-qualified, quoted) and
/// returns its owner.
pub fn check(table: &str, what: &str) -> Result<Owner, BravoError> {
    let row = Spi::get_three_with_args::<pg_sys::Oid, String, bool>(
        "SELECT c.relowner, pg_catalog.pg_get_userbyid(c.relowner)::text, r.rolsuper \
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_roles r ON r.oid = c.relowner \
          WHERE c.oid = $1::pg_catalog.regclass",
        &[table.into()],
    )
    .map_err(spi_err)?;
    let (Some(role), Some(name), Some(superuser)) = row else {
        return Err(BravoError::internal(
            "cannot inspect a metric table",
            format!("{table} has no owner"),
        ));
    };
    check_kind(table, what)?;
    if superuser {
        let found = Spi::get_three_with_args::<String, String, String>(
            "SELECT pg_catalog.min(tg), pg_catalog.min(fn), pg_catalog.min(fo) FROM ( \
               SELECT t.tgname::text AS tg, t.tgfoid::pg_catalog.regprocedure::text AS fn, \
                      pg_catalog.pg_get_userbyid(p.proowner)::text AS fo \
                 FROM pg_catalog.pg_trigger t \
                 JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid \
                 JOIN pg_catalog.pg_roles r ON r.oid = p.proowner \
                WHERE t.tgrelid IN (SELECT $1::pg_catalog.regclass UNION SELECT relid FROM pg_catalog.pg_partition_tree($1::pg_catalog.regclass)) \
                  AND NOT t.tgisinternal AND t.tgenabled <> 'D' AND NOT r.rolsuper \
                ORDER BY 1 LIMIT 1) s",
            &[table.into()],
        )
        .map_err(spi_err)?;
        if let (Some(trigger), Some(function), Some(fowner)) = found {
            return Err(BravoError::new(
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!(
                    "{what} {table} is owned by superuser {name}, and its trigger {trigger} runs {function}, owned by {fowner}, who is not a superuser"
                ),
            )
            .detail("A sync writes a metric table as the table's owner, so that trigger would run with superuser rights.")
            .hint(format!(
                "Make {fowner} the owner of the table (ALTER TABLE {table} OWNER TO {fowner}; syncs then write as {fowner}), or drop or disable the trigger."
            )));
        }
    }
    let schema = Spi::get_one_with_args::<String>(
        "SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_class c \
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::pg_catalog.regclass",
        &[table.into()],
    )
    .map_err(spi_err)?
    .unwrap_or_else(|| "public".into());
    Ok(Owner {
        role,
        name,
        superuser,
        search_path: CString::new(format!("pg_catalog, {schema}, pg_temp"))
            .unwrap_or_else(|_| c"pg_catalog, pg_temp".into()),
    })
}

impl Owner {
    /// True when running as the owner changes nothing (the sync already runs as it).
    fn is_current(&self) -> bool {
        // SAFETY: returns the current user id of this backend; no arguments, no side effects.
        self.role == unsafe { pg_sys::GetUserId() }
    }

    /// Lets the owner read a temp table of this sync (a write joins with it).
    pub fn grant_select(&self, temp_table: &str) -> Result<(), BravoError> {
        if self.is_current() || self.superuser {
            return Ok(());
        }
        let role = Spi::get_one_with_args::<String>(
            "SELECT pg_catalog.quote_ident($1)",
            &[self.name.clone().into()],
        )
        .map_err(spi_err)?
        .unwrap_or_default();
        Spi::run(&format!("GRANT SELECT ON {temp_table} TO {role}"))
            .map_err(|e| BravoError::internal("cannot share a temp table with the table owner", e))
    }

    /// Runs `f` (SPI statements that write the table) as the owner, in a
    /// security-restricted operation with a pinned search_path; everything is restored
    /// afterwards, also when `f` raises.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        if self.is_current() {
            return f();
        }
        let mut saved_user = pg_sys::InvalidOid;
        let mut saved_context: std::ffi::c_int = 0;
        // SAFETY: plain getters/setters of backend-local state, called on the backend
        // thread; the previous values are restored in `finally`, and an abort restores
        // them too (as for SECURITY DEFINER functions).
        let nest = unsafe {
            pg_sys::GetUserIdAndSecContext(&mut saved_user, &mut saved_context);
            let nest = pg_sys::NewGUCNestLevel();
            pg_sys::SetUserIdAndSecContext(
                self.role,
                saved_context
                    | pg_sys::SECURITY_LOCAL_USERID_CHANGE as std::ffi::c_int
                    | pg_sys::SECURITY_RESTRICTED_OPERATION as std::ffi::c_int,
            );
            pg_sys::set_config_option(
                c"search_path".as_ptr(),
                self.search_path.as_ptr(),
                pg_sys::GucContext::PGC_USERSET,
                pg_sys::GucSource::PGC_S_SESSION,
                pg_sys::GucAction::GUC_ACTION_SAVE,
                true,
                0,
                false,
            );
            nest
        };
        PgTryBuilder::new(AssertUnwindSafe(f))
            .finally(|| unsafe {
                // SAFETY: see above.
                pg_sys::AtEOXact_GUC(true, nest);
                pg_sys::SetUserIdAndSecContext(saved_user, saved_context);
            })
            .execute()
    }
}
