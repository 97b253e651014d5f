//! What the export holds: every enabled family's metric table (CSV and MongoDB
//! Extended JSON), `media_buys` and the run log (CSV), each read in its primary key's
//! order (both passes must produce the same bytes; a plain scan may start anywhere
//! with synchronized scans).

use std::io::{self, Write};

use bravo_core::export::ejson::Layout;
use bravo_core::export::naming::camel_case;
use bravo_core::export::{archive::Producer, csv, ColumnKind};
use pgrx::prelude::*;

use super::cursor::{each_row, Snapshot};
use crate::error::BravoError;
use crate::schemas::Schemas;

/// A table to export.
pub struct Table {
    /// Schema-qualified, quoted.
    pub qualified: String,
    pub columns: Vec<(String, String)>,
    pub key: Vec<String>,
}

impl Table {
    /// Reads `schema.name`'s columns (name, `format_type`) and primary key.
    fn load(schema: &str, name: &str) -> Result<Table, BravoError> {
        let qualified = format!("{schema}.{}", quote(name));
        let cols = Spi::connect(|c| {
            c.select(
                "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod)
                   FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = $1::pg_catalog.regclass AND a.attnum > 0 AND NOT a.attisdropped
                  ORDER BY a.attnum",
                None,
                &[qualified.as_str().into()],
            )?
            .map(|r| {
                Ok((
                    r.get::<String>(1)?.unwrap_or_default(),
                    r.get::<String>(2)?.unwrap_or_default(),
                ))
            })
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()
        })
        .map_err(|e| BravoError::config(format!("cannot read the columns of {qualified}: {e}")))?;
        let key = Spi::connect(|c| {
            c.select(
                "SELECT a.attname::text
                   FROM pg_catalog.pg_index i
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                  WHERE i.indrelid = $1::pg_catalog.regclass AND i.indisprimary
                  ORDER BY pg_catalog.array_position(i.indkey::pg_catalog.int2[], a.attnum)",
                None,
                &[qualified.as_str().into()],
            )?
            .map(|r| Ok(r.get::<String>(1)?.unwrap_or_default()))
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()
        })
        .map_err(|e| BravoError::config(format!("cannot read the key of {qualified}: {e}")))?;
        Ok(Table {
            qualified,
            columns: cols,
            key,
        })
    }

    /// The SELECT of every column as text: dates `YYYY-MM-DD`, instants RFC 3339 in
    /// UTC with microseconds, the rest in its type's output (exact numerics), ordered
    /// by the primary key (all columns without one).
    fn query(&self) -> String {
        let exprs: Vec<String> = self
            .columns
            .iter()
            .map(|(c, t)| {
                let c = quote(c);
                match t.as_str() {
                    "date" => format!("pg_catalog.to_char({c}, 'YYYY-MM-DD')"),
                    "timestamp with time zone" => format!(
                        "pg_catalog.to_char(pg_catalog.timezone('UTC', {c}), 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
                    ),
                    _ => format!("{c}::pg_catalog.text"),
                }
            })
            .collect();
        let order = if self.key.is_empty() {
            (1..=self.columns.len())
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            self.key
                .iter()
                .map(|k| quote(k))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "SELECT {} FROM {} ORDER BY {order}",
            exprs.join(", "),
            self.qualified
        )
    }

    /// The MongoDB layout, if every column has a rule and there is a key.
    fn layout(&self) -> Result<Layout, BravoError> {
        let cols: Vec<(&str, ColumnKind)> = self
            .columns
            .iter()
            .map(|(c, t)| {
                ColumnKind::of_pg_type(t).map(|k| (c.as_str(), k)).ok_or_else(|| {
                    BravoError::config(format!(
                        "column {c} of {} has type {t}, which the MongoDB export has no rule for",
                        self.qualified
                    ))
                    .hint("Metric columns are integers or numerics; keys bigint, integer, text, varchar or uuid.")
                })
            })
            .collect::<Result<_, _>>()?;
        let key: Vec<&str> = self.key.iter().map(String::as_str).collect();
        Layout::new(&cols, &key).map_err(|e| BravoError::config(format!("{}: {e}", self.qualified)))
    }
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// One file of the archive.
pub struct File {
    pub path: String,
    table: usize,
    query: String,
    json: Option<Layout>,
}

/// The export's tables and files, produced under one snapshot.
pub struct Export {
    pub tables: Vec<Table>,
    pub files: Vec<File>,
    snapshot: Snapshot,
    /// Times each file was produced (the second time is the one into the archive).
    passes: Vec<u8>,
    progress: Progress,
}

/// NOTICEs on a long export, at most every `bravo_metrics.progress_interval` ms
/// (0: none), as the sync sends them.
struct Progress {
    interval_ms: u128,
    last: std::time::Instant,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            interval_ms: crate::settings::PROGRESS_INTERVAL_MS.get().max(0) as u128,
            last: std::time::Instant::now(),
        }
    }

    fn file_done(&mut self, pass: u8, done: usize, of: usize, path: &str, rows: u64) {
        if self.interval_ms == 0 || self.last.elapsed().as_millis() < self.interval_ms {
            return;
        }
        self.last = std::time::Instant::now();
        let what = if pass == 1 { "measured" } else { "written" };
        pgrx::notice!("bravo_export: {what} {path} ({rows} rows), file {done} of {of}");
    }
}

impl Export {
    /// Every enabled family's table that exists, `media_buys`, and the run log.
    pub fn plan(schemas: &Schemas, snapshot: Snapshot) -> Result<Export, BravoError> {
        let metric: Vec<String> = Spi::connect(|c| {
            c.select(
                &format!(
                    "SELECT f.table_name FROM {}.bravo_families f
                      WHERE f.enabled
                        AND pg_catalog.to_regclass($1 || '.' || pg_catalog.quote_ident(f.table_name)) IS NOT NULL
                      ORDER BY f.position",
                    schemas.internal
                ),
                None,
                &[schemas.media.as_str().into()],
            )?
            .map(|r| Ok(r.get::<String>(1)?.unwrap_or_default()))
            .collect::<Result<Vec<_>, pgrx::spi::Error>>()
        })
        .map_err(|e| BravoError::config(format!("cannot read the family catalog: {e}")))?;
        let mut tables = Vec::new();
        let mut files = Vec::new();
        for name in &metric {
            let t = Table::load(&schemas.media, name)?;
            let layout = t.layout()?;
            let query = t.query();
            files.push(File {
                path: format!("csv/{name}.csv"),
                table: tables.len(),
                query: query.clone(),
                json: None,
            });
            files.push(File {
                path: format!("mongodb/{}.json", camel_case(name)),
                table: tables.len(),
                query,
                json: Some(layout),
            });
            tables.push(t);
        }
        for (schema, name) in [
            (schemas.media.as_str(), "media_buys"),
            (schemas.internal.as_str(), "bravo_sync_runs"),
            (schemas.internal.as_str(), "bravo_sync_run_targets"),
        ] {
            let t = Table::load(schema, name)?;
            files.push(File {
                path: format!("csv/{name}.csv"),
                table: tables.len(),
                query: t.query(),
                json: None,
            });
            tables.push(t);
        }
        Ok(Export {
            passes: vec![0; files.len()],
            tables,
            files,
            snapshot,
            progress: Progress::new(),
        })
    }

    pub fn names(&self) -> Vec<String> {
        self.files.iter().map(|f| f.path.clone()).collect()
    }
}

impl Producer for Export {
    fn produce(&mut self, index: usize, out: &mut dyn Write) -> io::Result<u64> {
        let f = &self.files[index];
        let t = &self.tables[f.table];
        let ncols = t.columns.len();
        // A buffered writer between the rows and the pipeline: rows are small.
        let mut w = io::BufWriter::with_capacity(64 << 10, out);
        let rows = match &f.json {
            None => {
                let names: Vec<&str> = t.columns.iter().map(|(c, _)| c.as_str()).collect();
                csv::write_header(&mut w, &names)?;
                Spi::connect(|_| {
                    each_row(&self.snapshot, &f.query, ncols, |v| {
                        csv::write_row(&mut w, v)
                    })
                })?
            }
            Some(layout) => Spi::connect(|_| {
                each_row(&self.snapshot, &f.query, ncols, |v| {
                    layout.write_row(&mut w, v)
                })
            })?,
        };
        w.flush()?;
        self.passes[index] += 1;
        let of = self.files.len();
        self.progress.file_done(
            self.passes[index],
            index + 1,
            of,
            &self.files[index].path,
            rows,
        );
        Ok(rows)
    }
}
