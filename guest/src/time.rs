//! Lenient parsing of the API's dates and times, so that records can be ordered by instant.
//!
//! The DPS API mixes `YYYY-MM-DD` and RFC 3339 date-times (with or without fractions, `Z` or an
//! offset). A tiny parser keeps the component small; the `time` crate would add ~100 KB.

/// Milliseconds in a (UTC) day.
pub const DAY_MS: i64 = 86_400_000;

/// Milliseconds since the Unix epoch of a `YYYY-MM-DD` date (midnight UTC) or an RFC 3339
/// date-time. `None` when the text is neither.
pub fn parse_instant_millis(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = digits(&bytes[0..4])?;
    let month = digits(&bytes[5..7])?;
    let day = digits(&bytes[8..10])?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let midnight = days_from_civil(year, month, day) * DAY_MS;
    let rest = &bytes[10..];
    if rest.is_empty() {
        return Some(midnight);
    }
    if !matches!(rest[0], b'T' | b't' | b' ') || rest.len() < 9 || rest[3] != b':' || rest[6] != b':' {
        return None;
    }
    let (hour, minute, second) = (digits(&rest[1..3])?, digits(&rest[4..6])?, digits(&rest[7..9])?);
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &rest[9..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let len = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 {
            return None;
        }
        let mut scaled = 0;
        for (i, digit) in fraction[..len.min(3)].iter().enumerate() {
            scaled += i64::from(digit - b'0') * [100, 10, 1][i];
        }
        millis = scaled;
        rest = &fraction[len..];
    }
    let offset_minutes = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let minutes = digits(&[*h1, *h2])? * 60 + digits(&[*m1, *m2])?;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return None,
    };
    Some(midnight + ((hour * 60 + minute - offset_minutes) * 60 + second) * 1000 + millis)
}

/// RFC 3339 text (UTC, seconds precision) of an instant in milliseconds since the epoch.
pub fn format_rfc3339(epoch_millis: i64) -> String {
    let seconds = epoch_millis.div_euclid(1000);
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// RFC 3339 text (UTC, milliseconds) of an instant: orders the runs of one second too.
pub fn format_rfc3339_millis(epoch_millis: i64) -> String {
    let seconds = format_rfc3339(epoch_millis);
    format!("{}.{:03}Z", &seconds[..seconds.len() - 1], epoch_millis.rem_euclid(1000))
}

fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0i64, |acc, b| b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0')))
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days-from-civil and its inverse: exact for the proleptic Gregorian calendar.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_only_is_midnight_utc() {
        assert_eq!(parse_instant_millis("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_instant_millis("2026-03-24"), parse_instant_millis("2026-03-24T00:00:00Z"));
    }

    #[test]
    fn date_times_with_fractions_and_offsets_compare_as_instants() {
        let zulu = parse_instant_millis("2024-10-22T00:00:00.000Z").unwrap();
        assert_eq!(parse_instant_millis("2024-10-22T02:00:00+02:00"), Some(zulu));
        assert_eq!(parse_instant_millis("2024-10-21T23:30:00-00:30"), Some(zulu));
        assert_eq!(parse_instant_millis("2024-10-22T00:00:00.25Z"), Some(zulu + 250));
        assert_eq!(parse_instant_millis("2024-10-22T00:00:00.123456789Z"), Some(zulu + 123));
    }

    #[test]
    fn garbage_and_impossible_dates_are_refused() {
        for text in [
            "",
            "2026",
            "2026-13-01",
            "2026-02-30",
            "2026-03-24T25:00:00Z",
            "2026-03-24T00:00:00",
            "2026-03-24T00:00:00.Z",
            "yesterday",
            "2026-03-24X",
        ] {
            assert_eq!(parse_instant_millis(text), None, "{text}");
        }
        assert!(parse_instant_millis("2024-02-29").is_some());
        assert!(parse_instant_millis("2026-02-29").is_none());
    }

    #[test]
    fn millisecond_formatting_round_trips() {
        let text = "2026-11-24T00:40:01.007Z";
        assert_eq!(format_rfc3339_millis(parse_instant_millis(text).unwrap()), text);
    }

    #[test]
    fn formatting_round_trips() {
        for text in ["1970-01-01T00:00:00Z", "2026-11-23T23:51:19Z", "2000-02-29T12:00:00Z", "1969-12-31T23:59:59Z"] {
            assert_eq!(format_rfc3339(parse_instant_millis(text).unwrap()), text);
        }
    }
}
