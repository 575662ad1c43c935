//! Time zones named on the command line: `ingest --timezone` (the zone of log timestamps without
//! an offset) and `report --timezone` (the zone whose days the report compares).

use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};

/// A time zone the user named, or why it is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown time zone {0:?}: give an IANA name (Europe/Berlin), UTC, local, or an offset such as +05:30"
)]
pub struct UnknownTimeZone(pub String);

/// The zone `name` stands for: `UTC`, `local` (this machine's zone), a fixed offset from UTC
/// (`+05:30`, `-0800`, `+02`), or an IANA name (`America/New_York`), looked up in the system's
/// time zone database.
///
/// # Errors
///
/// A name that is none of these.
pub fn parse(name: &str) -> Result<TimeZone, UnknownTimeZone> {
    if name.eq_ignore_ascii_case("UTC") || name.eq_ignore_ascii_case("Z") {
        // No database lookup: jiff lists the zoneinfo directory before its first named zone.
        return Ok(TimeZone::UTC);
    }
    if name.eq_ignore_ascii_case("local") {
        return Ok(TimeZone::system());
    }
    if let Some(seconds) = offset_seconds(name) {
        return Offset::from_seconds(seconds)
            .map(TimeZone::fixed)
            .map_err(|_| UnknownTimeZone(name.to_string()));
    }
    TimeZone::get(name).map_err(|_| UnknownTimeZone(name.to_string()))
}

/// The seconds east of UTC of `+HH`, `+HHMM` or `+HH:MM` (or with `-`); `None` for anything
/// else, including minutes past 59 and hours past 25.
fn offset_seconds(text: &str) -> Option<i32> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits: Vec<u8> = rest.bytes().filter(|&b| b != b':').collect();
    let colons = rest.len() - digits.len();
    let valid_colon = colons == 0 || (colons == 1 && rest.as_bytes().get(2) == Some(&b':'));
    if !valid_colon || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number = |d: &[u8]| d.iter().fold(0, |n, &b| n * 10 + i32::from(b - b'0'));
    let (hours, minutes) = match digits.len() {
        2 if colons == 0 => (number(&digits), 0),
        4 => (number(&digits[..2]), number(&digits[2..])),
        _ => return None,
    };
    (hours <= 25 && minutes <= 59).then_some(sign * (hours * 3600 + minutes * 60))
}

/// How a report names `tz`: its IANA name, `UTC`, or its offset at `at` (`+05:30`) for a fixed
/// zone or a system zone without a name.
pub fn label(tz: &TimeZone, at: Timestamp) -> String {
    match tz.iana_name() {
        Some(name) => name.to_string(),
        None if tz.to_offset(at) == Offset::UTC => "UTC".to_string(),
        None => tz.to_offset(at).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset_of(name: &str) -> i32 {
        parse(name)
            .unwrap()
            .to_offset(Timestamp::UNIX_EPOCH)
            .seconds()
    }

    #[test]
    fn offsets_in_the_usual_spellings() {
        assert_eq!(offset_of("+05:30"), 19_800);
        assert_eq!(offset_of("+0545"), 20_700);
        assert_eq!(offset_of("-08:00"), -28_800);
        assert_eq!(offset_of("-03"), -10_800);
        assert_eq!(offset_of("+00:00"), 0);
        assert_eq!(offset_of("utc"), 0);
        for bad in [
            "+5", "+05:3", "+05:60", "+26:00", "05:00", "+05::00", "+0:530", "+05:30x",
        ] {
            assert_eq!(parse(bad), Err(UnknownTimeZone(bad.to_string())), "{bad}");
        }
    }

    #[test]
    fn iana_names_come_from_the_database() {
        let berlin = parse("Europe/Berlin").unwrap();
        let summer: Timestamp = "2026-07-01T00:00:00Z".parse().unwrap();
        let winter: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(berlin.to_offset(summer).seconds(), 7_200);
        assert_eq!(berlin.to_offset(winter).seconds(), 3_600);
        assert_eq!(label(&berlin, summer), "Europe/Berlin");
        assert!(parse("Europe/Atlantis").is_err());
    }

    #[test]
    fn labels_of_zones_without_a_name() {
        let at = Timestamp::UNIX_EPOCH;
        assert_eq!(label(&parse("+05:30").unwrap(), at), "+05:30");
        assert_eq!(label(&parse("-0800").unwrap(), at), "-08");
        assert_eq!(label(&TimeZone::UTC, at), "UTC");
    }
}
