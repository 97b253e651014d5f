//! PostgreSQL's `numeric` in its stored (binary) form, written as the exact text
//! `numeric_out` gives — without calling it, which costs the export as much as the
//! rest of a row.
//!
//! The stored form (PostgreSQL's `src/backend/utils/adt/numeric.c`), after the
//! varlena header: a 16-bit header word, then base-10000 digits as native-endian
//! 16-bit integers. The header is either *short* (`10` in the top bits: sign, display
//! scale and a 7-bit weight in the same word), *long* (`00` positive or `01`
//! negative, the display scale in the low 14 bits, then a 16-bit weight word), or
//! *special* (`11`: NaN, +Infinity, -Infinity). The value is
//! `Σ digit[i] × 10000^(weight − i)`, shown with `dscale` decimals.

const SIGN_MASK: u16 = 0xC000;
const NEG: u16 = 0x4000;
const SHORT: u16 = 0x8000;
const SPECIAL: u16 = 0xC000;
const EXT_SIGN_MASK: u16 = 0xF000;
const NAN: u16 = 0xC000;
const PINF: u16 = 0xD000;
const NINF: u16 = 0xF000;
const SHORT_SIGN: u16 = 0x2000;
const SHORT_DSCALE_MASK: u16 = 0x1F80;
const SHORT_DSCALE_SHIFT: u16 = 7;
const SHORT_WEIGHT_SIGN: u16 = 0x0040;
const SHORT_WEIGHT_MASK: u16 = 0x003F;
const DSCALE_MASK: u16 = 0x3FFF;

/// A decoded numeric.
enum Form<'a> {
    Special(&'static str),
    Finite {
        negative: bool,
        weight: i32,
        dscale: u32,
        /// Base-10000 digits, native-endian `i16` pairs.
        digits: &'a [u8],
    },
}

fn word(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn decode(payload: &[u8]) -> Option<Form<'_>> {
    let header = word(payload, 0)?;
    match header & SIGN_MASK {
        SPECIAL => Some(Form::Special(match header & EXT_SIGN_MASK {
            NAN => "NaN",
            PINF => "Infinity",
            NINF => "-Infinity",
            _ => return None,
        })),
        SHORT => {
            let magnitude = i32::from(header & SHORT_WEIGHT_MASK);
            let weight = if header & SHORT_WEIGHT_SIGN != 0 {
                magnitude - 64
            } else {
                magnitude
            };
            Some(Form::Finite {
                negative: header & SHORT_SIGN != 0,
                weight,
                dscale: u32::from((header & SHORT_DSCALE_MASK) >> SHORT_DSCALE_SHIFT),
                digits: payload.get(2..).filter(|d| d.len() % 2 == 0)?,
            })
        }
        sign => Some(Form::Finite {
            negative: sign == NEG,
            weight: i32::from(word(payload, 2)? as i16),
            dscale: u32::from(header & DSCALE_MASK),
            digits: payload.get(4..).filter(|d| d.len() % 2 == 0)?,
        }),
    }
}

/// Base-10000 digit `i` (0 before and past the stored ones).
fn digit(digits: &[u8], i: i64) -> u32 {
    let Ok(i) = usize::try_from(i) else {
        return 0;
    };
    match digits.get(2 * i..2 * i + 2) {
        Some(b) => u32::from(i16::from_ne_bytes([b[0], b[1]]).max(0) as u16),
        None => 0,
    }
}

/// Appends the text `numeric_out` gives for the stored numeric `payload`; `None` if
/// the payload is not a numeric.
pub fn push(out: &mut Vec<u8>, payload: &[u8]) -> Option<()> {
    match decode(payload)? {
        Form::Special(s) => out.extend_from_slice(s.as_bytes()),
        Form::Finite {
            negative,
            weight,
            dscale,
            digits,
        } => {
            if negative {
                out.push(b'-');
            }
            if weight < 0 {
                out.push(b'0');
            } else {
                for i in 0..=i64::from(weight) {
                    let d = digit(digits, i);
                    if i == 0 {
                        out.extend_from_slice(itoa::Buffer::new().format(d).as_bytes());
                    } else {
                        push4(out, d);
                    }
                }
            }
            if dscale > 0 {
                out.push(b'.');
                let mut left = dscale as usize;
                let mut i = i64::from(weight) + 1;
                while left > 0 {
                    push4(out, digit(digits, i));
                    let n = left.min(4);
                    out.truncate(out.len() - (4 - n));
                    left -= n;
                    i += 1;
                }
            }
        }
    }
    Some(())
}

/// The length of what [`push`] writes.
pub fn len(payload: &[u8]) -> Option<u64> {
    Some(match decode(payload)? {
        Form::Special(s) => s.len() as u64,
        Form::Finite {
            negative,
            weight,
            dscale,
            digits,
        } => {
            let int = if weight < 0 {
                1
            } else {
                super::value::digits(u64::from(digit(digits, 0))) + 4 * weight as u64
            };
            u64::from(negative) + int + if dscale > 0 { 1 + u64::from(dscale) } else { 0 }
        }
    })
}

/// `d < 10000` as four digits.
fn push4(out: &mut Vec<u8>, d: u32) {
    let d = d.min(9999);
    out.extend_from_slice(&[
        b'0' + (d / 1000) as u8,
        b'0' + (d / 100 % 10) as u8,
        b'0' + (d / 10 % 10) as u8,
        b'0' + (d % 10) as u8,
    ]);
}

/// The stored (long) form of `text` (a plain decimal such as `-12.3400`), as
/// PostgreSQL would store it: for tests here and in the other formats' tests.
#[cfg(test)]
pub(crate) fn encode(text: &str) -> Vec<u8> {
    let (negative, t) = match text.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, text),
    };
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let int = int.trim_start_matches('0');
    // Pad the integer part on the left and the fraction on the right to groups of 4.
    let lead = (4 - int.len() % 4) % 4;
    let int = format!("{}{int}", "0".repeat(lead));
    let tail = (4 - frac.len() % 4) % 4;
    let fracp = format!("{frac}{}", "0".repeat(tail));
    let mut groups: Vec<u16> = int
        .as_bytes()
        .chunks(4)
        .chain(fracp.as_bytes().chunks(4))
        .map(|c| std::str::from_utf8(c).unwrap().parse().unwrap())
        .collect();
    let mut weight = (int.len() / 4) as i32 - 1;
    // Strip leading and trailing zero digits, as PostgreSQL does.
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let sign = if negative && !groups.is_empty() {
        NEG
    } else {
        0
    };
    let mut out = Vec::new();
    out.extend_from_slice(&(sign | frac.len() as u16).to_ne_bytes());
    out.extend_from_slice(&(weight as i16).to_ne_bytes());
    for g in groups {
        out.extend_from_slice(&(g as i16).to_ne_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(payload: &[u8]) -> String {
        let mut out = Vec::new();
        push(&mut out, payload).unwrap();
        assert_eq!(len(payload), Some(out.len() as u64));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn long_forms() {
        for t in [
            "0",
            "0.00",
            "12.50",
            "-12.50",
            "10000",
            "123456789.000001",
            "0.0001",
            "-0.5",
            "99999999999999999999.99",
        ] {
            assert_eq!(text(&encode(t)), t);
        }
    }

    #[test]
    fn short_and_special_forms() {
        // 12.50 in the short form PostgreSQL stores: sign +, dscale 2, weight 0,
        // digits 12, 5000.
        let header: u16 = SHORT | (2 << SHORT_DSCALE_SHIFT);
        let mut p = header.to_ne_bytes().to_vec();
        p.extend_from_slice(&12i16.to_ne_bytes());
        p.extend_from_slice(&5000i16.to_ne_bytes());
        assert_eq!(text(&p), "12.50");
        // -0.0012: negative, dscale 4, weight -1 (sign-extended 7 bits), digit 12.
        let header: u16 = SHORT | SHORT_SIGN | (4 << SHORT_DSCALE_SHIFT) | SHORT_WEIGHT_SIGN | 0x3F;
        let mut p = header.to_ne_bytes().to_vec();
        p.extend_from_slice(&12i16.to_ne_bytes());
        assert_eq!(text(&p), "-0.0012");
        assert_eq!(text(&NAN.to_ne_bytes()), "NaN");
        assert_eq!(text(&PINF.to_ne_bytes()), "Infinity");
        assert_eq!(text(&NINF.to_ne_bytes()), "-Infinity");
        assert!(push(&mut Vec::new(), &[1]).is_none());
        assert!(len(&[0, 0, 0]).is_none());
    }

    proptest! {
        #[test]
        fn any_plain_decimal_round_trips(int in "[0-9]{1,24}", frac in "[0-9]{0,12}", neg in any::<bool>()) {
            let int = int.trim_start_matches('0');
            let int = if int.is_empty() { "0" } else { int };
            let all_zero = int == "0" && frac.bytes().all(|b| b == b'0');
            let t = format!(
                "{}{int}{}{frac}",
                if neg && !all_zero { "-" } else { "" },
                if frac.is_empty() { "" } else { "." }
            );
            prop_assert_eq!(text(&encode(&t)), t);
        }
    }
}
