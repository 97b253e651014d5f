//! What the export holds: every enabled family's metric table (CSV and MongoDB
//! Extended JSON), `media_buys` and the run log (CSV), each read in its primary key's
//! order (the measuring pass and the writing pass must see the same rows in the same
//! order; a plain scan may start anywhere with synchronized scans). Values are read in
//! binary and formatted in Rust (`bravo_core::export`).

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
    /// Every column, in key order (see [`Table::query`]).
    query: String,
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
        let mut t = Table {
            qualified,
            columns: cols,
            key,
            query: String::new(),
        };
        t.query = t.query();
        Ok(t)
    }

    /// The SELECT of every column, ordered by the primary key (all columns without
    /// one). The ORDER BY names the table's columns (`t.`), not the output's.
    fn query(&self) -> String {
        let cols: Vec<String> = self.columns.iter().map(|(c, _)| quote(c)).collect();
        let order: Vec<String> = if self.key.is_empty() {
            cols.iter().map(|c| format!("t.{c}")).collect()
        } else {
            self.key.iter().map(|k| format!("t.{}", quote(k))).collect()
        };
        format!(
            "SELECT {} FROM {} AS t ORDER BY {}",
            cols.join(", "),
            self.qualified,
            order.join(", ")
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
    json: Option<Layout>,
}

/// The export's tables and files, produced under one snapshot.
pub struct Export {
    pub tables: Vec<Table>,
    pub files: Vec<File>,
    snapshot: Snapshot,
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

    /// Whether a NOTICE is due (and, if so, the clock restarts).
    fn due(&mut self) -> bool {
        if self.interval_ms == 0 || self.last.elapsed().as_millis() < self.interval_ms {
            return false;
        }
        self.last = std::time::Instant::now();
        true
    }

    fn table_measured(&mut self, table: &str, rows: u64) {
        if self.due() {
            pgrx::notice!("bravo_export: measured {table} ({rows} rows)");
        }
    }

    fn file_written(&mut self, done: usize, of: usize, path: &str, rows: u64) {
        if self.due() {
            pgrx::notice!("bravo_export: written {path} ({rows} rows), file {done} of {of}");
        }
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
            files.push(File {
                path: format!("csv/{name}.csv"),
                table: tables.len(),
                json: None,
            });
            files.push(File {
                path: format!("mongodb/{}.json", camel_case(name)),
                table: tables.len(),
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
                json: None,
            });
            tables.push(t);
        }
        Ok(Export {
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

impl Export {
    /// The header line of file `index`, if it has one (the CSV files).
    fn header(&self, index: usize) -> Option<Vec<u8>> {
        let f = &self.files[index];
        f.json.is_none().then(|| {
            let t = &self.tables[f.table];
            let names: Vec<&str> = t.columns.iter().map(|(c, _)| c.as_str()).collect();
            let mut out = Vec::new();
            csv::push_header(&mut out, &names);
            out
        })
    }
}

impl Producer for Export {
    /// One read per table measures all of its files (a metric table's CSV and JSON).
    fn measure(&mut self) -> io::Result<Vec<(u64, u64)>> {
        let mut sizes: Vec<(u64, u64)> = (0..self.files.len())
            .map(|i| (0, self.header(i).map_or(0, |h| h.len() as u64)))
            .collect();
        for (ti, t) in self.tables.iter().enumerate() {
            let mine: Vec<usize> = (0..self.files.len())
                .filter(|&i| self.files[i].table == ti)
                .collect();
            let rows = Spi::connect(|_| {
                each_row(&self.snapshot, &t.query, |v| {
                    for &i in &mine {
                        sizes[i].1 += match &self.files[i].json {
                            None => csv::row_len(v)?,
                            Some(layout) => layout.row_len(v)?,
                        };
                    }
                    Ok(())
                })
            })?;
            for &i in &mine {
                sizes[i].0 = rows;
            }
            self.progress.table_measured(&t.qualified, rows);
        }
        Ok(sizes)
    }

    fn produce(&mut self, index: usize, out: &mut dyn Write) -> io::Result<u64> {
        // Rows are formatted into one buffer, handed on every FLUSH bytes.
        const FLUSH: usize = 128 << 10;
        let mut buf = Vec::with_capacity(FLUSH + 4096);
        buf.extend(self.header(index).unwrap_or_default());
        let f = &self.files[index];
        let rows = Spi::connect(|_| {
            each_row(&self.snapshot, &self.tables[f.table].query, |v| {
                match &f.json {
                    None => csv::push_row(&mut buf, v)?,
                    Some(layout) => layout.push_row(&mut buf, v)?,
                }
                if buf.len() >= FLUSH {
                    out.write_all(&buf)?;
                    buf.clear();
                }
                Ok(())
            })
        })?;
        out.write_all(&buf)?;
        let of = self.files.len();
        self.progress.file_written(index + 1, of, &f.path, rows);
        Ok(rows)
    }
}
