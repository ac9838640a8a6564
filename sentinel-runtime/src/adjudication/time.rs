//! Timestamps as the sidecar writes them: JavaScript's `Date.prototype.toISOString`
//! (`2026-11-30T10:52:00.417Z`, UTC, milliseconds).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, as `toISOString` writes it.
pub(crate) fn now_iso() -> String {
    format_iso(SystemTime::now())
}

/// `time` as `toISOString` writes it. Times before 1970 are written as 1970-01-01.
pub(crate) fn format_iso(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let millis = since.as_millis();
    let seconds = (millis / 1000) as i64;
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        millis % 1000
    )
}

/// Reads the `toISOString` form (milliseconds optional). Anything else is `None`: the
/// sidecar writes only this form, and a time that cannot be read fails closed.
pub(crate) fn parse_iso(text: &str) -> Option<SystemTime> {
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = bytes.get(range)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(at, sep)| bytes.get(at) != Some(&sep)) {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let millis = match &bytes[19..] {
        b"Z" => 0,
        [b'.', _, _, _, b'Z'] => number(20..23)?,
        _ => return None,
    };
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let millis = u64::try_from(seconds)
        .ok()?
        .checked_mul(1000)?
        .checked_add(millis as u64)?;
    UNIX_EPOCH.checked_add(Duration::from_millis(millis))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil-date algorithms (proleptic Gregorian calendar).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_what_to_iso_string_writes() {
        // new Date(1796035920417).toISOString() === '2026-11-30T10:52:00.417Z'
        let time = UNIX_EPOCH + Duration::from_millis(1_796_035_920_417);
        assert_eq!(format_iso(time), "2026-11-30T10:52:00.417Z");
        assert_eq!(parse_iso("2026-11-30T10:52:00.417Z"), Some(time));
        assert_eq!(format_iso(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // A leap day: new Date(Date.UTC(2024, 1, 29)).getTime() === 1709164800000
        let leap = UNIX_EPOCH + Duration::from_millis(1_709_164_800_000);
        assert_eq!(format_iso(leap), "2024-02-29T00:00:00.000Z");
        assert_eq!(parse_iso("2024-02-29T00:00:00Z"), Some(leap));
    }

    #[test]
    fn refuses_every_other_form() {
        for text in [
            "",
            "2026-11-30",
            "2026-11-30T10:52:00.417",
            "2026-11-30T10:52:00.417+00:00",
            "2026-11-30 10:52:00.417Z",
            "2026-13-01T00:00:00.000Z",
            "2023-02-29T00:00:00.000Z",
            "2026-11-30T24:00:00.000Z",
            "2026-11-30T10:52:00.41Z",
            "+2026-11-30T10:52:00.417Z",
            "2026-11-30T10:52:00.4170Z",
        ] {
            assert_eq!(parse_iso(text), None, "{text}");
        }
    }
}
