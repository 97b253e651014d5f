//! Scalar conversions shared by the Arrow and JSON decoders: exact decimals and
//! Snowflake's epoch-based temporal encodings (pre-1970 safe).

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

pub(crate) const NANOS_PER_SEC: i128 = 1_000_000_000;

/// `10^exp` as i128 (`exp <= 38`).
pub(crate) fn pow10(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

/// Parses decimal text (`-12.35`, `1e3`, `+.5`) into `(unscaled, scale)`. Exact.
pub(crate) fn parse_decimal(text: &str) -> Option<(i128, u32)> {
    let t = text.trim();
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i32>().ok()?),
        None => (t, 0),
    };
    let (negative, digits) = match mantissa.as_bytes().first()? {
        b'-' => (true, &mantissa[1..]),
        b'+' => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (int_part, frac_part) = match digits.find('.') {
        Some(i) => (&digits[..i], &digits[i + 1..]),
        None => (digits, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut value: i128 = 0;
    for c in int_part.chars().chain(frac_part.chars()) {
        let d = c.to_digit(10)? as i128;
        value = value.checked_mul(10)?.checked_add(d)?;
    }
    let mut scale = frac_part.len() as i64 - exp as i64;
    if scale < 0 {
        value = value.checked_mul(pow10(u32::try_from(-scale).ok()?)?)?;
        scale = 0;
    }
    let scale = u32::try_from(scale).ok()?;
    Some((if negative { -value } else { value }, scale))
}

/// Changes the scale of an unscaled value; fails if digits would be lost.
pub(crate) fn rescale(value: i128, from: u32, to: u32) -> Option<i128> {
    if to >= from {
        value.checked_mul(pow10(to - from)?)
    } else {
        let div = pow10(from - to)?;
        (value % div == 0).then_some(value / div)
    }
}

/// A decimal text as an exact value at `scale`.
pub(crate) fn decimal_at_scale(text: &str, scale: u32) -> Option<i128> {
    let (v, s) = parse_decimal(text)?;
    rescale(v, s, scale)
}

/// Seconds-with-fraction text (`"-1.500000000"`) as nanoseconds.
pub(crate) fn seconds_text_to_nanos(text: &str) -> Option<i128> {
    let (v, s) = parse_decimal(text)?;
    if s > 9 {
        // Truncate sub-nanosecond digits toward negative infinity.
        let div = pow10(s - 9)?;
        Some(v.div_euclid(div))
    } else {
        rescale(v, s, 9)
    }
}

/// `value × 10^(9−scale)` nanoseconds.
pub(crate) fn scaled_to_nanos(value: i128, scale: u32) -> Option<i128> {
    if scale <= 9 {
        value.checked_mul(pow10(9 - scale)?)
    } else {
        Some(value.div_euclid(pow10(scale - 9)?))
    }
}

pub(crate) fn date_from_days(days: i64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::try_days(days)?)
}

pub(crate) fn time_from_nanos(ns: i128) -> Option<NaiveTime> {
    if !(0..86_400 * NANOS_PER_SEC).contains(&ns) {
        return None;
    }
    NaiveTime::from_num_seconds_from_midnight_opt(
        (ns / NANOS_PER_SEC) as u32,
        (ns % NANOS_PER_SEC) as u32,
    )
}

pub(crate) fn instant_from_nanos(ns: i128) -> Option<DateTime<Utc>> {
    let secs = i64::try_from(ns.div_euclid(NANOS_PER_SEC)).ok()?;
    let nanos = ns.rem_euclid(NANOS_PER_SEC) as u32;
    DateTime::from_timestamp(secs, nanos)
}

pub(crate) fn naive_from_nanos(ns: i128) -> Option<NaiveDateTime> {
    instant_from_nanos(ns).map(|d| d.naive_utc())
}

/// An instant with Snowflake's timezone code (`offset minutes + 1440`).
pub(crate) fn tz_from_nanos(ns: i128, tz_code: i64) -> Option<DateTime<FixedOffset>> {
    let offset_min = tz_code - 1440;
    if !(-1440..=1440).contains(&offset_min) {
        return None;
    }
    let offset = FixedOffset::east_opt(i32::try_from(offset_min * 60).ok()?)?;
    Some(offset.from_utc_datetime(&naive_from_nanos(ns)?))
}

/// Lower-case hex to bytes.
pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let t = text.trim().as_bytes();
    if !t.len().is_multiple_of(2) {
        return None;
    }
    t.chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("-12.35"), Some((-1235, 2)));
        assert_eq!(parse_decimal("1e3"), Some((1000, 0)));
        assert_eq!(parse_decimal("1.5E-2"), Some((15, 3)));
        assert_eq!(parse_decimal("abc"), None);
        assert_eq!(parse_decimal(""), None);
        assert_eq!(decimal_at_scale("0.1", 2), Some(10));
        assert_eq!(
            decimal_at_scale("12345678901234567890123456789012345678", 0),
            Some(12345678901234567890123456789012345678)
        );
        assert_eq!(decimal_at_scale("1.25", 1), None, "would lose a digit");
        assert_eq!(decimal_at_scale("1.20", 1), Some(12));
    }

    #[test]
    fn temporal_pre_1970() {
        assert_eq!(seconds_text_to_nanos("-1.500000000"), Some(-1_500_000_000));
        let t = naive_from_nanos(-1_500_000_000).unwrap();
        assert_eq!(t.to_string(), "1969-12-31 23:59:58.500");
        assert_eq!(date_from_days(-1).unwrap().to_string(), "1969-12-31");
        assert_eq!(date_from_days(19782).unwrap().to_string(), "2024-02-29");
        assert_eq!(scaled_to_nanos(-1234, 3), Some(-1_234_000_000));
        assert_eq!(
            time_from_nanos(3_723_000_000_004).unwrap().to_string(),
            "01:02:03.000000004"
        );
        assert!(time_from_nanos(-1).is_none());
        let tz = tz_from_nanos(0, 1440 + 330).unwrap();
        assert_eq!(tz.to_rfc3339(), "1970-01-01T05:30:00+05:30");
        assert!(tz_from_nanos(0, 5000).is_none());
        assert_eq!(decode_hex("00aBff"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(decode_hex("0"), None);
    }
}
