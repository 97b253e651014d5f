//! The media buy key as the media tool typed it: `media_buys.id` may be `bigint`,
//! `integer`, `smallint`, `text`, `varchar` or `uuid` (or a domain over one), and every
//! metric table's `media_buy_id` has the same kind. How each kind is ordered on both
//! sides of the comparison is `bravo_core::key`'s business; this module reads the
//! types from the catalog and writes the SQL fragments that depend on them.

use std::collections::HashSet;

use bravo_core::{BuyId, KeyType};
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use crate::error::BravoError;
use crate::schemas::Schemas;

/// The key of one sync.
#[derive(Clone, Debug)]
pub struct KeySpec {
    pub kind: KeyType,
    /// `media_buys.id`'s type as SQL (`bigint`, `uuid`, `character varying(64)`, a
    /// domain's name), for casts.
    pub pg_type: String,
    /// `media_buys.id`'s collation ("" for a type without one).
    pub collation: String,
    /// `bravo_set_aside` has `media_buy_key` (since 0.4.0; the SQL may be older than
    /// the library until ALTER EXTENSION UPDATE).
    pub aside_has_key: bool,
}

/// (type as SQL, kind's typname, collation name or "") of `table.column`, a domain read
/// as its base type.
fn column_type(table: &str, column: &str) -> Result<Option<(String, String, String)>, BravoError> {
    Spi::connect(|c| {
        let t = c.select(
            "SELECT pg_catalog.format_type(a.atttypid, a.atttypmod), b.typname::text, \
                    coalesce((SELECT l.collname::text FROM pg_catalog.pg_collation l WHERE l.oid = a.attcollation), '') \
               FROM pg_catalog.pg_attribute a \
               JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
               JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END \
              WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
            None,
            &[table.into(), column.into()],
        )?;
        Ok(t.into_iter().next().and_then(|r| {
            Some((
                r.get::<String>(1).ok()??,
                r.get::<String>(2).ok()??,
                r.get::<String>(3).ok()??,
            ))
        }))
    })
    .map_err(|e: pgrx::spi::Error| BravoError::internal("cannot read a column's type", e))
}

/// The key of `media_buys`.
pub fn of_media_buys(schemas: &Schemas) -> Result<KeySpec, BravoError> {
    let table = format!("{}.media_buys", schemas.media);
    let Some((pg_type, typname, collation)) = column_type(&table, "id")? else {
        return Err(BravoError::new(
            PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
            format!("{table} has no column \"id\""),
        ));
    };
    let Some(kind) = KeyType::from_pg_typname(&typname) else {
        return Err(BravoError::new(
            PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
            format!("{table}.id has type {pg_type}, which cannot key the metric tables"),
        )
        .hint(format!("Media buy ids may be {}.", KeyType::SUPPORTED)));
    };
    let aside_has_key = column_type(
        &format!("{}.bravo_set_aside", schemas.internal),
        "media_buy_key",
    )?
    .is_some();
    if kind != KeyType::Int && !aside_has_key {
        return Err(BravoError::new(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("{table}.id is {pg_type}, and the extension's SQL is too old for ids that are not integers"),
        )
        .hint("Run ALTER EXTENSION bravo_metrics UPDATE;"));
    }
    Ok(KeySpec {
        kind,
        pg_type,
        collation,
        aside_has_key,
    })
}

impl KeySpec {
    /// Checks that a metric table's `media_buy_id` has the kind and collation of
    /// `media_buys.id`.
    pub fn check_target(&self, schema: &str, table: &str) -> Result<(), BravoError> {
        let full = format!("{schema}.{table}");
        let Some((pg_type, typname, collation)) = column_type(&full, "media_buy_id")? else {
            return Ok(()); // reported by merge::check_target
        };
        if KeyType::from_pg_typname(&typname) != Some(self.kind) {
            return Err(BravoError::new(
                PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
                format!(
                    "{full}.media_buy_id is {pg_type} but {schema}.media_buys.id is {}",
                    self.pg_type
                ),
            )
            .hint(format!(
                "Give {full}.media_buy_id the type of media_buys.id: ALTER TABLE {full} ALTER COLUMN media_buy_id TYPE {};",
                self.pg_type
            )));
        }
        if collation != self.collation {
            // Joins of the two (the rollups', the reports', the application's) cannot
            // hash text in two collations.
            return Err(BravoError::new(
                PgSqlErrorCode::ERRCODE_INDETERMINATE_COLLATION,
                format!(
                    "{full}.media_buy_id has collation \"{collation}\" but {schema}.media_buys.id has \"{}\"",
                    self.collation
                ),
            )
            .hint(format!(
                "Give both the same collation: ALTER TABLE {full} ALTER COLUMN media_buy_id TYPE {} COLLATE \"{}\";",
                self.pg_type, self.collation
            )));
        }
        Ok(())
    }

    /// The ids in `schema.media_buys`.
    pub fn known(&self, schema: &str) -> Result<HashSet<BuyId>, BravoError> {
        let sql = format!(
            "SELECT {} FROM {schema}.media_buys",
            self.kind.target_select_expr("id")
        );
        let kind = self.kind;
        Spi::connect(|c| {
            c.select(&sql, None, &[]).map(|t| {
                t.filter_map(|r| match kind {
                    KeyType::Int => r.get::<i64>(1).ok().flatten().map(BuyId::Int),
                    _ => r.get::<String>(1).ok().flatten().map(BuyId::Text),
                })
                .collect()
            })
        })
        .map_err(|e| BravoError::internal("cannot read media_buys", e))
    }

    /// The array type ids are bound as.
    pub fn array_type(&self) -> &'static str {
        match self.kind {
            KeyType::Int => "int8[]",
            _ => "text[]",
        }
    }

    /// `expr` (an element of a bound id array) as a value of the key's type.
    pub fn cast(&self, expr: &str) -> String {
        match self.kind {
            KeyType::Int => expr.to_string(),
            _ => format!("{expr}::{}", self.pg_type),
        }
    }

    /// The `bravo_set_aside` column that holds the key: `media_buy_id` (bigint) for
    /// integer keys, `media_buy_key` (text) otherwise.
    pub fn aside_column(&self) -> &'static str {
        match self.kind {
            KeyType::Int => "media_buy_id",
            _ => "media_buy_key",
        }
    }

    /// A set-aside row's key (columns prefixed with `prefix`) as the key's type.
    pub fn aside_key(&self, prefix: &str) -> String {
        match self.kind {
            KeyType::Int => format!("{prefix}media_buy_id"),
            _ => format!("{prefix}media_buy_key::{}", self.pg_type),
        }
    }
}
