//! A column's value as the export reads it from PostgreSQL — binary, not text — and
//! the calendar arithmetic both file formats share. Reading binary values and
//! formatting them here is what keeps the export near `COPY`'s speed: no output
//! function or `to_char` per value, no parsing back of text.

/// One value of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Null,
    /// `smallint`, `integer`, `bigint`.
    Int(i64),
    /// An exact decimal's text, as PostgreSQL writes it (`12.50`, `NaN`, `Infinity`).
    Decimal(&'a str),
    /// A `numeric` in PostgreSQL's stored form (see [`super::numeric`]): written as
    /// [`Value::Decimal`] of the text `numeric_out` would give.
    Numeric(&'a [u8]),
    /// `text`, `varchar`, `char`, or any other type's text.
    Text(&'a str),
    Bool(bool),
    Uuid([u8; 16]),
    /// A date: days since 1970-01-01.
    Date(i64),
    /// An instant in UTC: days since 1970-01-01 and microseconds into that day
    /// (`0..86_400_000_000`).
    Instant {
        days: i64,
        micros: u64,
    },
    /// `infinity` (`true`) or `-infinity` (`false`), of a date or an instant.
    Infinity(bool),
}

/// Microseconds in a day.
pub const DAY_MICROS: u64 = 86_400_000_000;

/// The proleptic Gregorian (year, month, day) of `days` since 1970-01-01; year 0 is
/// 1 BC. Howard Hinnant's `civil_from_days`, exact over the whole `i64` day range
/// PostgreSQL can hold.
pub fn civil(days: i64) -> (i64, u32, u32) {
    if (0..=3_000_000_000).contains(&days) {
        let d = days as u32;
        // From 1970 on: unsigned 32-bit arithmetic, whose divisions by constants are
        // cheap multiplications (the export formats millions of dates).
        let z = d + 719_468;
        let era = z / 146_097;
        let doe = z % 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + u32::from(m <= 2);
        return (i64::from(y), m, d);
    }
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The first and last day PostgreSQL writes with a plain four-digit year:
/// 1000-01-01 and 9999-12-31, as days since 1970-01-01.
const FOUR_DIGIT_YEARS: std::ops::RangeInclusive<i64> = -354_285..=2_932_896;

/// 1970-01-01 ..= 9999-12-31: where MongoDB's relaxed `$date` is an ISO string.
pub(crate) const RELAXED_DAYS: std::ops::RangeInclusive<i64> = 0..=2_932_896;

const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends `n < 100` as two digits.
fn push2(out: &mut Vec<u8>, n: u64) {
    let i = (n as usize % 100) * 2;
    out.extend_from_slice(&PAIRS[i..i + 2]);
}

/// Appends `n` with at least `width` digits (zero-padded).
pub(crate) fn push_padded(out: &mut Vec<u8>, n: u64, width: usize) {
    let mut buf = itoa::Buffer::new();
    let s = buf.format(n);
    for _ in s.len()..width {
        out.push(b'0');
    }
    out.extend_from_slice(s.as_bytes());
}

/// Decimal digits of `n` (1 for 0).
pub(crate) fn digits(n: u64) -> u64 {
    n.checked_ilog10().map_or(1, |d| u64::from(d) + 1)
}

/// Length of an `i64` in decimal, sign included.
pub(crate) fn int_len(n: i64) -> u64 {
    digits(n.unsigned_abs()) + u64::from(n < 0)
}

/// `YYYY-MM-DD` of `days` since 1970-01-01 for years 1–9999 (more digits above,
/// PostgreSQL's own form); `None` for a year ≤ 0 (BC), which the caller writes its
/// own way.
pub(crate) fn push_ymd(out: &mut Vec<u8>, days: i64) -> Option<()> {
    let (y, m, d) = civil(days);
    if y <= 0 {
        return None;
    }
    if y < 10_000 {
        push2(out, y as u64 / 100);
        push2(out, y as u64 % 100);
    } else {
        push_padded(out, y as u64, 4);
    }
    out.push(b'-');
    push2(out, u64::from(m));
    out.push(b'-');
    push2(out, u64::from(d));
    Some(())
}

/// Length of what [`push_ymd`] writes, or (for a year ≤ 0) of the BC form's
/// `YYYY-MM-DD` without its suffix; and whether the year is BC.
pub(crate) fn ymd_len(days: i64) -> (u64, bool) {
    if FOUR_DIGIT_YEARS.contains(&days) {
        return (10, false);
    }
    let y = civil(days).0;
    let bc = y <= 0;
    let shown = if bc { 1 - y } else { y } as u64;
    (digits(shown).max(4) + 6, bc)
}

/// `HH:MM:SS` then `.` and `fraction_digits` digits of the second (6 or 3).
pub(crate) fn push_time(out: &mut Vec<u8>, micros: u64, fraction_digits: u32) {
    let secs = micros / 1_000_000;
    push2(out, secs / 3600);
    out.push(b':');
    push2(out, secs / 60 % 60);
    out.push(b':');
    push2(out, secs % 60);
    out.push(b'.');
    let frac = micros % 1_000_000;
    if fraction_digits == 6 {
        push2(out, frac / 10_000);
        push2(out, frac / 100 % 100);
        push2(out, frac % 100);
    } else {
        push_padded(out, frac / 1000, 3);
    }
}

/// Why a value cannot be written (a `numeric` payload that is not one).
pub(crate) fn bad_numeric() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "a numeric value is not in PostgreSQL's stored form",
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate};
    use proptest::prelude::*;

    /// An owned value, for generating rows.
    #[derive(Clone, Debug)]
    pub(crate) enum Owned {
        Null,
        Int(i64),
        Decimal(String),
        Numeric(Vec<u8>),
        Text(String),
        Bool(bool),
        Uuid([u8; 16]),
        Date(i64),
        Instant(i64, u64),
        Infinity(bool),
    }

    #[derive(Clone, Debug)]
    pub(crate) struct Row(Vec<Owned>);

    impl Row {
        pub(crate) fn values(&self) -> Vec<Value<'_>> {
            self.0
                .iter()
                .map(|o| match o {
                    Owned::Null => Value::Null,
                    Owned::Int(n) => Value::Int(*n),
                    Owned::Decimal(s) => Value::Decimal(s),
                    Owned::Numeric(p) => Value::Numeric(p),
                    Owned::Text(s) => Value::Text(s),
                    Owned::Bool(b) => Value::Bool(*b),
                    Owned::Uuid(u) => Value::Uuid(*u),
                    Owned::Date(d) => Value::Date(*d),
                    Owned::Instant(d, m) => Value::Instant {
                        days: *d,
                        micros: *m,
                    },
                    Owned::Infinity(p) => Value::Infinity(*p),
                })
                .collect()
        }
    }

    /// Rows of every kind of value, the calendar's and the quoting's edges included.
    pub(crate) fn rows() -> impl Strategy<Value = Row> {
        let days = prop_oneof![
            -1_000i64..3_000_000,
            -2_000_000_000i64..2_000_000_000,
            Just(-719_529i64),
            Just(2_932_897i64),
        ];
        let value = prop_oneof![
            Just(Owned::Null),
            any::<i64>().prop_map(Owned::Int),
            "-?[0-9]{1,20}(\\.[0-9]{0,6})?|NaN|Infinity|-Infinity".prop_map(Owned::Decimal),
            "-?[1-9][0-9]{0,20}(\\.[0-9]{0,6})?"
                .prop_map(|t| Owned::Numeric(crate::export::numeric::encode(&t))),
            "[a-z,\"\\\\\n\r\u{1}\u{e9}. ]{0,8}".prop_map(Owned::Text),
            any::<bool>().prop_map(Owned::Bool),
            any::<[u8; 16]>().prop_map(Owned::Uuid),
            days.clone().prop_map(Owned::Date),
            (days, 0..DAY_MICROS).prop_map(|(d, m)| Owned::Instant(d, m)),
            any::<bool>().prop_map(Owned::Infinity),
        ];
        proptest::collection::vec(value, 0..8).prop_map(Row)
    }

    #[test]
    fn known_days() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(-1), (1969, 12, 31));
        assert_eq!(civil(10_957), (2000, 1, 1));
        assert_eq!(civil(11_016), (2000, 2, 29));
        assert_eq!(civil(-719_528), (0, 1, 1));
    }

    proptest! {
        #[test]
        fn civil_agrees_with_chrono(days in prop_oneof![-95_000_000i64..95_000_000, -1_000i64..4_000_000]) {
            let d = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
                + chrono::Duration::days(days);
            prop_assert_eq!(civil(days), (i64::from(d.year()), d.month(), d.day()));
        }
    }

    #[test]
    fn times_and_padding() {
        let mut out = Vec::new();
        push_time(&mut out, 3_723_000_004, 6);
        out.push(b' ');
        push_time(&mut out, 86_399_999_999, 3);
        out.push(b' ');
        push_ymd(&mut out, 2_932_896 + 1).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "01:02:03.000004 23:59:59.999 10000-01-01"
        );
        assert!(push_ymd(&mut Vec::new(), -719_529).is_none());
    }

    proptest! {
        #[test]
        fn lengths_agree_with_what_is_written(days in -1_000_000_000i64..1_000_000_000, n in any::<i64>()) {
            let mut out = Vec::new();
            let (len, bc) = ymd_len(days);
            prop_assert_eq!(push_ymd(&mut out, days).is_none(), bc);
            if !bc {
                prop_assert_eq!(out.len() as u64, len);
            }
            prop_assert_eq!(int_len(n), n.to_string().len() as u64);
        }
    }

    #[test]
    fn the_four_digit_range_is_what_it_says() {
        assert_eq!(civil(*FOUR_DIGIT_YEARS.start()), (1000, 1, 1));
        assert_eq!(civil(*FOUR_DIGIT_YEARS.end()), (9999, 12, 31));
        assert_eq!(civil(*RELAXED_DAYS.start()), (1970, 1, 1));
    }
}
