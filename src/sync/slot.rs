//! A family's time key on the PostgreSQL side: `date` (a daily family) or `hour_start`
//! (an hourly one), carried as a slot number (`bravo_core::grain`), and the window's
//! start in the same terms.

use bravo_core::grain::{self, Grain};
use pgrx::datum::{Date, DatumWithOid, TimestampWithTimeZone};
use pgrx::prelude::*;

use super::arrays;
use crate::error::BravoError;

const MICROS_PER_MINUTE: i64 = 60_000_000;

/// A slot as the datum PostgreSQL compares the time column with.
pub fn datum(grain: Grain, slot: i32) -> DatumWithOid<'static> {
    match grain {
        Grain::Day => Date::saturating_from_raw(slot).into(),
        Grain::Hour => instant(slot).into(),
    }
}

/// A slot as a `timestamptz` (hourly families).
pub fn instant(slot: i32) -> TimestampWithTimeZone {
    TimestampWithTimeZone::try_from(i64::from(slot) * MICROS_PER_MINUTE)
        .expect("every i32 minute slot is a valid timestamptz")
}

/// The slot of a `timestamptz` read from the table (whole minutes: the hourly tables
/// refuse anything else with a CHECK).
pub fn of_instant(t: TimestampWithTimeZone) -> i32 {
    let micros: i64 = t.into_inner();
    i32::try_from(micros.div_euclid(MICROS_PER_MINUTE)).unwrap_or(if micros < 0 {
        i32::MIN
    } else {
        i32::MAX
    })
}

/// Where a sync's window starts: the first day of the lookback (daily families), or
/// the first instant of that day in `bravo_metrics.sync_time_zone` (hourly ones).
#[derive(Clone, Copy, Debug)]
pub struct WindowStart {
    pub grain: Grain,
    pub slot: i32,
    /// The window's first day in that zone (the run log's `window_start`).
    pub day: chrono::NaiveDate,
}

impl WindowStart {
    /// `lookback_days` days before today in `zone` (an IANA or PostgreSQL zone name).
    pub fn compute(grain: Grain, zone: &str, lookback_days: i32) -> Result<Self, BravoError> {
        // The first day, and its first instant in `zone` as minutes since 2000-01-01 UTC.
        let (day, minutes) = Spi::get_two_with_args::<i32, i32>(
            "SELECT (w.d - date '2000-01-01')::int4, \
                    ((pg_catalog.date_part('epoch', pg_catalog.timezone($1, w.d::timestamp))::int8 - 946684800) / 60)::int4 \
               FROM (SELECT (pg_catalog.timezone($1, pg_catalog.now()))::date - $2::int AS d) w",
            &[zone.into(), lookback_days.into()],
        )
        .map_err(|e| BravoError::internal("cannot compute the window", e))?;
        let (day, minutes) = day.zip(minutes).expect("a window start");
        let slot = match grain {
            Grain::Day => day,
            Grain::Hour => minutes,
        };
        let day = bravo_core::compare::from_epoch_days(day).ok_or_else(|| {
            BravoError::new(
                PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
                "the window's first day is out of range",
            )
        })?;
        Ok(WindowStart { grain, slot, day })
    }

    /// The key's time column.
    pub fn column(&self) -> &'static str {
        self.grain.time_column()
    }

    /// The start as a datum of the time column's type.
    pub fn datum(&self) -> DatumWithOid<'static> {
        datum(self.grain, self.slot)
    }

    /// The first day (daily families).
    pub fn date(&self) -> Option<chrono::NaiveDate> {
        match self.grain {
            Grain::Day => bravo_core::compare::from_epoch_days(self.slot),
            Grain::Hour => None,
        }
    }

    /// As text: a date, or a UTC instant.
    pub fn text(&self) -> String {
        grain::slot_text(self.grain, self.slot)
    }
}

/// Keys' times buffered for a statement: `date[]` (days since 2000-01-01) or
/// `timestamptz[]` (microseconds since 2000-01-01 UTC).
pub enum Times {
    Days(Vec<i32>),
    Hours(Vec<i64>),
}

impl Times {
    pub fn new(grain: Grain) -> Self {
        match grain {
            Grain::Day => Times::Days(Vec::new()),
            Grain::Hour => Times::Hours(Vec::new()),
        }
    }

    pub fn push(&mut self, slot: i32) {
        match self {
            // Out-of-range days become +-infinity, as `datum` makes them.
            Times::Days(v) => v.push(Date::saturating_from_raw(slot).to_pg_epoch_days()),
            Times::Hours(v) => v.push(instant(slot).into_inner()),
        }
    }

    /// Moves the buffered times into a statement argument.
    pub fn take(&mut self) -> DatumWithOid<'static> {
        match self {
            Times::Days(v) => arrays::dates(std::mem::take(v)),
            Times::Hours(v) => arrays::timestamptzs(std::mem::take(v)),
        }
    }

    /// The SQL array type the argument binds as.
    pub fn array_type(&self) -> &'static str {
        match self {
            Times::Days(_) => "date[]",
            Times::Hours(_) => "timestamptz[]",
        }
    }
}

/// Reads column `ordinal` of a target row as a slot (`-infinity` when NULL, as the
/// comparison orders it first).
pub fn read(grain: Grain, row: &pgrx::spi::SpiHeapTupleData, ordinal: usize) -> i32 {
    match grain {
        Grain::Day => row
            .get::<Date>(ordinal)
            .ok()
            .flatten()
            .unwrap_or_else(Date::negative_infinity)
            .to_pg_epoch_days(),
        Grain::Hour => row
            .get::<TimestampWithTimeZone>(ordinal)
            .ok()
            .flatten()
            .map(of_instant)
            .unwrap_or(i32::MIN),
    }
}
