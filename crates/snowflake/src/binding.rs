//! Encoding of positional bindings (spec §6): every value travels as a string.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use serde_json::{json, Map, Value};

use crate::types::Binding;

const NANOS_PER_SEC: i128 = 1_000_000_000;

fn epoch_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

fn naive_epoch_nanos(dt: &NaiveDateTime) -> i128 {
    let utc = dt.and_utc();
    utc.timestamp() as i128 * NANOS_PER_SEC + utc.timestamp_subsec_nanos() as i128
}

fn time_nanos(t: &NaiveTime) -> i128 {
    // A leap second (nanosecond >= 1e9) is folded into the last second.
    t.num_seconds_from_midnight() as i128 * NANOS_PER_SEC
        + (t.nanosecond() as i128).min(NANOS_PER_SEC - 1)
}

/// `(type, value)` of one binding; `value` is `None` for NULL.
pub fn encode_binding(binding: &Binding) -> (&'static str, Option<String>) {
    match binding {
        Binding::Null => ("ANY", None),
        Binding::Int(v) => ("FIXED", Some(v.to_string())),
        Binding::Decimal(s) => ("FIXED", Some(s.clone())),
        Binding::Real(f) => (
            "REAL",
            Some(if f.is_nan() {
                "NaN".to_string()
            } else if f.is_infinite() {
                if *f > 0.0 { "inf" } else { "-inf" }.to_string()
            } else {
                f.to_string()
            }),
        ),
        Binding::Text(s) => ("TEXT", Some(s.clone())),
        Binding::Bool(b) => ("BOOLEAN", Some(b.to_string())),
        Binding::Date(d) => {
            let days = d.signed_duration_since(epoch_date()).num_days();
            ("DATE", Some((days as i128 * 86_400_000).to_string()))
        }
        Binding::Time(t) => ("TIME", Some(time_nanos(t).to_string())),
        Binding::TimestampNtz(dt) => ("TIMESTAMP_NTZ", Some(naive_epoch_nanos(dt).to_string())),
        Binding::TimestampLtz(dt) => (
            "TIMESTAMP_LTZ",
            Some(naive_epoch_nanos(&dt.naive_utc()).to_string()),
        ),
        Binding::TimestampTz(dt) => {
            let offset_min = dt.offset().local_minus_utc() / 60;
            (
                "TIMESTAMP_TZ",
                Some(format!(
                    "{} {}",
                    naive_epoch_nanos(&dt.naive_utc()),
                    offset_min + 1440
                )),
            )
        }
        Binding::Binary(bytes) => {
            let mut hex = String::with_capacity(bytes.len() * 2);
            for b in bytes {
                hex.push_str(&format!("{b:02x}"));
            }
            ("BINARY", Some(hex))
        }
    }
}

/// The `bindings` object: `{"1": {"type": ..., "value": ...}, ...}`.
pub fn encode_bindings(bindings: &[Binding]) -> Map<String, Value> {
    bindings
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let (ty, value) = encode_binding(b);
            ((i + 1).to_string(), json!({"type": ty, "value": value}))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, FixedOffset, TimeZone, Utc};

    #[test]
    fn encodes_every_type() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(encode_binding(&Binding::Null), ("ANY", None));
        assert_eq!(
            encode_binding(&Binding::Int(-42)),
            ("FIXED", Some("-42".into()))
        );
        assert_eq!(
            encode_binding(&Binding::Decimal("-12.35".into())),
            ("FIXED", Some("-12.35".into()))
        );
        assert_eq!(
            encode_binding(&Binding::Real(1.5)),
            ("REAL", Some("1.5".into()))
        );
        assert_eq!(
            encode_binding(&Binding::Real(f64::NEG_INFINITY)).1.unwrap(),
            "-inf"
        );
        assert_eq!(
            encode_binding(&Binding::Bool(true)),
            ("BOOLEAN", Some("true".into()))
        );
        assert_eq!(
            encode_binding(&Binding::Date(d(2024, 1, 1))),
            ("DATE", Some("1704067200000".into()))
        );
        assert_eq!(
            encode_binding(&Binding::Date(d(1969, 12, 31))).1.unwrap(),
            "-86400000"
        );
        assert_eq!(
            encode_binding(&Binding::Time(
                NaiveTime::from_hms_nano_opt(1, 2, 3, 4).unwrap()
            )),
            ("TIME", Some("3723000000004".into()))
        );
        let ntz = d(2013, 4, 5)
            .and_hms_nano_opt(1, 2, 3, 123_456_000)
            .unwrap();
        assert_eq!(
            encode_binding(&Binding::TimestampNtz(ntz)),
            ("TIMESTAMP_NTZ", Some("1365123723123456000".into()))
        );
        let pre = d(1969, 12, 31)
            .and_hms_nano_opt(23, 59, 59, 500_000_000)
            .unwrap();
        assert_eq!(
            encode_binding(&Binding::TimestampNtz(pre)).1.unwrap(),
            "-500000000"
        );
        let ltz: DateTime<Utc> = Utc.from_utc_datetime(&ntz);
        assert_eq!(
            encode_binding(&Binding::TimestampLtz(ltz)),
            ("TIMESTAMP_LTZ", Some("1365123723123456000".into()))
        );
        let tz: DateTime<FixedOffset> = FixedOffset::east_opt(120 * 60)
            .unwrap()
            .from_utc_datetime(&ntz);
        assert_eq!(
            encode_binding(&Binding::TimestampTz(tz)),
            ("TIMESTAMP_TZ", Some("1365123723123456000 1560".into()))
        );
        assert_eq!(
            encode_binding(&Binding::Binary(vec![0, 0xab, 0x10])),
            ("BINARY", Some("00ab10".into()))
        );
        let m = encode_bindings(&[Binding::Int(1), Binding::Null]);
        assert_eq!(m["1"], json!({"type": "FIXED", "value": "1"}));
        assert_eq!(m["2"], json!({"type": "ANY", "value": null}));
    }
}
