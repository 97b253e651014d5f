//! IANA time zones (chrono-tz).

use chrono_tz::Tz;

pub fn parse_iana(name: &str) -> Result<Tz, String> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| format!("\"{}\" is not a known IANA time zone", name.trim()))
}
