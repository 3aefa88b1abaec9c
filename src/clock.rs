//! Time helpers: every deadline the crate computes from a number it was
//! given (by Graph, a store, the configuration) goes through here, so none
//! can overflow, and every calendar date goes through `httpdate` (hyper's
//! own, range-checked), never through arithmetic written here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// A century: the farthest deadline the crate sets.
const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Seconds since the Unix epoch now (0 on a clock set before 1970).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `now + delay`, or a century from now when that overflows.
pub(crate) fn later(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay)
        .or_else(|| now.checked_add(CENTURY))
        .unwrap_or(now)
}

/// The instant `secs` seconds after the Unix epoch, when the platform can
/// represent it.
pub(crate) fn from_unix(secs: u64) -> Option<SystemTime> {
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// `now + left`, when the platform can represent it.
pub(crate) fn system_after(now: SystemTime, left: Duration) -> Option<SystemTime> {
    now.checked_add(left)
}

/// An HTTP date (IMF-fixdate, RFC 850 or asctime, as `Retry-After` may
/// carry), or `None` for anything else, years past 9999 included.
#[cfg_attr(not(feature = "retry"), allow(dead_code))]
pub(crate) fn parse_http_date(text: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(text).ok()
}

/// The calendar day and time of `at` in UTC, as `Fri, 25 Dec 2026 10:00
/// UTC`; `None` past the year 9999 (or before 1970), which no calendar
/// here shows.
pub(crate) fn calendar(at: SystemTime) -> Option<String> {
    // httpdate formats 1970 through 9999 and panics outside: check first.
    let last = UNIX_EPOCH.checked_add(Duration::from_secs(253_402_300_799))?;
    if at < UNIX_EPOCH || at > last {
        return None;
    }
    // `Fri, 25 Dec 2026 10:00:00 GMT` without the seconds.
    let full = httpdate::fmt_http_date(at);
    Some(format!("{} UTC", full.get(..22)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_saturate_instead_of_overflowing() {
        let now = Instant::now();
        assert_eq!(
            later(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        let far = later(now, Duration::MAX);
        assert!(far > now + Duration::from_secs(99 * 365 * 86_400));
        assert!(from_unix(u64::MAX).is_none());
        assert_eq!(from_unix(0), Some(UNIX_EPOCH));
        assert!(system_after(SystemTime::now(), Duration::MAX).is_none());
    }

    #[test]
    fn calendar_days_are_shown_within_what_a_calendar_holds() {
        let at = |secs| from_unix(secs).unwrap();
        assert_eq!(calendar(at(0)).unwrap(), "Thu, 01 Jan 1970 00:00 UTC");
        // A leap day, and the last second httpdate formats.
        assert_eq!(
            calendar(at(951_782_400)).unwrap(),
            "Tue, 29 Feb 2000 00:00 UTC"
        );
        assert_eq!(
            calendar(at(1_798_675_200)).unwrap(),
            "Thu, 31 Dec 2026 00:00 UTC"
        );
        assert_eq!(
            calendar(at(253_402_300_799)).unwrap(),
            "Fri, 31 Dec 9999 23:59 UTC"
        );
        assert_eq!(calendar(at(253_402_300_800)), None);
        assert_eq!(calendar(UNIX_EPOCH - Duration::from_secs(1)), None);
    }

    #[test]
    fn http_dates_in_range_parse_and_the_rest_are_none() {
        let cases = [
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(784_111_777)),
            ("Sunday, 06-Nov-94 08:49:37 GMT", Some(784_111_777)),
            ("Thu, 29 Feb 2024 12:00:00 GMT", Some(1_709_208_000)),
            ("Mon, 15 Jan 2024 08:00:00 GMT", Some(1_705_305_600)),
            ("Sun, 06 Nov 99999999999999 08:49:37 GMT", None),
            ("Sun, 06 Nov 1994 25:49:37 GMT", None),
            ("-120", None),
            ("", None),
        ];
        for (text, secs) in cases {
            assert_eq!(parse_http_date(text), secs.and_then(from_unix), "{text}");
        }
    }
}
