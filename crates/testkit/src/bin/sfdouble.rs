//! `sfdouble`: a fast local "Snowflake" serving synthetic ad metrics (see `bravo_testkit::synthetic`).
//!
//! ```text
//! sfdouble --port P --media-buys 50000 --days 30 --end-date 2026-11-23 --changed-pct 3 \
//!          --revision 1 --chunk-rows 100000 [--inline-rows 1000] [--no-gzip] \
//!          [--fail-after-chunks K] [--slow-chunk-ms MS] [--slow-after-chunks K]
//! ```
//! Prints `sfdouble listening on http://127.0.0.1:PORT` once ready, then serves until killed.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use chrono::NaiveDate;

fn parse(args: &[String]) -> Result<(u16, SyntheticOptions)> {
    let mut port = 0u16;
    let mut o = SyntheticOptions::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--no-gzip" {
            o.gzip = false;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            bail!("usage: sfdouble [--port P] [--media-buys N] [--days D] [--end-date YYYY-MM-DD] [--changed-pct P] [--revision R] [--chunk-rows N] [--inline-rows N] [--no-gzip] [--fail-after-chunks K] [--slow-chunk-ms MS] [--slow-after-chunks K]");
        }
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        let bad = || format!("bad value {value:?} for {flag}");
        match flag.as_str() {
            "--port" => port = value.parse().with_context(bad)?,
            "--media-buys" => o.media_buys = value.parse().with_context(bad)?,
            "--days" => o.days = value.parse().with_context(bad)?,
            "--end-date" => {
                o.end_date = NaiveDate::parse_from_str(value, "%Y-%m-%d").with_context(bad)?
            }
            "--changed-pct" => o.changed_pct = value.parse().with_context(bad)?,
            "--revision" => o.revision = value.parse().with_context(bad)?,
            "--chunk-rows" => o.chunk_rows = value.parse().with_context(bad)?,
            "--inline-rows" => o.inline_rows = value.parse().with_context(bad)?,
            "--fail-after-chunks" => o.fail_after_chunks = Some(value.parse().with_context(bad)?),
            "--slow-chunk-ms" => {
                o.slow_chunk = Some(Duration::from_millis(value.parse().with_context(bad)?))
            }
            "--slow-after-chunks" => o.slow_after_chunks = value.parse().with_context(bad)?,
            _ => bail!("unknown option {flag}"),
        }
    }
    if o.changed_pct > 100 {
        bail!("--changed-pct must be 0..=100");
    }
    Ok((port, o))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (port, opts) = parse(&args)?;
    let source = SyntheticSource::start_on_port(port, opts)?;
    println!("sfdouble listening on {}", source.base_url());
    std::io::stdout().flush()?;
    loop {
        std::thread::park();
    }
}
