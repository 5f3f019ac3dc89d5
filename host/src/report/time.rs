//! The days of the events, read with jiff: every instant counts on its UTC calendar day (cost
//! days start at midnight UTC), and the report writes days as people do (`30 Nov 2026`).

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

const SECONDS_PER_DAY: i64 = 86_400;

/// The UTC day of an RFC 3339 instant (`2026-11-02T00:00:00.000Z`), of a date (`2026-11-02`, as
/// a subscription's period is given) or of a date-time without an offset; `None` for anything else.
pub fn day(text: &str) -> Option<Date> {
    if let Ok(instant) = text.parse::<Timestamp>() {
        return Some(TimeZone::UTC.to_datetime(instant).date());
    }
    text.parse::<DateTime>().ok().map(|datetime| datetime.date())
}

/// Days since 1970-01-01: the position of a day on a time axis.
pub fn number(day: Date) -> i64 {
    TimeZone::UTC.to_timestamp(DateTime::from(day)).map_or(0, |instant| instant.as_second().div_euclid(SECONDS_PER_DAY))
}

/// The day `number` days after 1970-01-01 (`None` outside the years jiff spans).
pub fn from_number(number: i64) -> Option<Date> {
    let instant = Timestamp::from_second(number.checked_mul(SECONDS_PER_DAY)?).ok()?;
    Some(TimeZone::UTC.to_datetime(instant).date())
}

/// `30 Nov 2026`.
pub fn long(day: Date) -> String {
    day.strftime("%-d %b %Y").to_string()
}

/// `30 Nov`, for the ticks of an axis of days.
pub fn short(day: Date) -> String {
    day.strftime("%-d %b").to_string()
}

/// `Nov`, or `Nov 2026` where a year starts (and on the first tick), for an axis of months.
pub fn month(day: Date, with_year: bool) -> String {
    day.strftime(if with_year { "%b %Y" } else { "%b" }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_dates_and_offsetless_times_give_their_utc_day() {
        let november_2 = Date::constant(2026, 11, 2);
        assert_eq!(day("2026-11-02T00:00:00.000Z"), Some(november_2));
        assert_eq!(day("2026-11-02T23:30:00+00:00"), Some(november_2));
        assert_eq!(day("2026-11-03T01:00:00+02:00"), Some(Date::constant(2026, 11, 2)), "the UTC day");
        assert_eq!(day("2026-11-02"), Some(november_2));
        assert_eq!(day("2026-11-02T12:00:00"), Some(november_2));
        assert_eq!(day("yesterday"), None);
        assert_eq!(day(""), None);
    }

    #[test]
    fn day_numbers_count_from_the_epoch_and_back() {
        assert_eq!(number(Date::constant(1970, 1, 1)), 0);
        assert_eq!(number(Date::constant(1969, 12, 31)), -1);
        let day = Date::constant(2026, 11, 30);
        assert_eq!(from_number(number(day)), Some(day));
        assert_eq!(from_number(i64::MAX), None);
        assert_eq!(long(day), "30 Nov 2026");
        assert_eq!(short(Date::constant(2026, 11, 2)), "2 Nov");
        assert_eq!(month(day, true), "Nov 2026");
    }
}
