//! Literal timeouts: `"500ms"`, `"30s"`, `"10m"`, `"1h"`, read at compile time, with a
//! reason for every way one can be wrong.

/// The units of a timeout, in milliseconds.
const UNITS: &[(&str, u64)] = &[("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)];

/// `"500ms"`, `"30s"`, `"10m"`, `"1h"` as milliseconds: a positive whole number (`_` may
/// separate digits) and one unit, spaces allowed around and between them. The error is the
/// reason, for a message.
pub(crate) fn duration_millis(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(String::from(
            "the timeout is empty; write a number and a unit, like \"10m\" (units: ms, s, m, h)",
        ));
    }
    if trimmed.starts_with('-') {
        return Err(format!(
            "\"{text}\" is negative; a timeout is a positive number and a unit, like \"10m\""
        ));
    }
    let digits_end = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '_'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits_end);
    let unit = unit.trim_start();
    if !number.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "\"{text}\" does not start with a number; write a number and a unit, like \"10m\" (units: ms, s, m, h)"
        ));
    }
    if unit.starts_with('.') || unit.starts_with(',') {
        return Err(format!(
            "\"{text}\" is not a whole number; use a smaller unit instead, like \"90m\" for an hour and a half"
        ));
    }
    if unit.contains(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "\"{text}\" has more than one number; write one number and one unit, like \"90m\" rather than \"1h30m\""
        ));
    }
    if unit.is_empty() {
        return Err(format!(
            "\"{text}\" has no unit; write \"{number}s\", \"{number}m\" or another unit (ms, s, m, h)"
        ));
    }
    let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(unknown_unit(text, number, unit));
    };
    let count: u64 = number.replace('_', "").parse().map_err(|_| too_long(text))?;
    if count == 0 {
        return Err(String::from(
            "a zero timeout never waits; give a positive one, like \"10m\", \
             or write on_escalate = deny to return Denied at once",
        ));
    }
    count.checked_mul(scale).ok_or_else(|| too_long(text))
}

fn too_long(text: &str) -> String {
    format!("\"{text}\" is too long: a timeout must fit in 64 bits of milliseconds (about 584 million years)")
}

fn unknown_unit(text: &str, number: &str, unit: &str) -> String {
    let lower = unit.to_ascii_lowercase();
    let fix = match lower.as_str() {
        "ms" | "s" | "m" | "h" => format!("units are lowercase: write \"{number}{lower}\""),
        "msec" | "msecs" | "milli" | "millis" | "millisecond" | "milliseconds" => {
            format!("write \"{number}ms\"")
        }
        "sec" | "secs" | "second" | "seconds" => format!("write \"{number}s\""),
        "min" | "mins" | "minute" | "minutes" => format!("write \"{number}m\""),
        "hr" | "hrs" | "hour" | "hours" => format!("write \"{number}h\""),
        "d" | "day" | "days" => match number
            .replace('_', "")
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(24))
        {
            Some(hours) => format!("write \"{hours}h\""),
            None => String::from("write it in hours"),
        },
        "us" | "µs" | "ns" => String::from("the smallest unit is ms"),
        _ => String::from("the units are ms, s, m and h"),
    };
    format!("unknown unit `{unit}` in \"{text}\"; {fix}")
}

#[cfg(test)]
mod tests {
    use super::duration_millis;

    #[test]
    fn timeouts_in_every_unit() {
        assert_eq!(duration_millis("500ms"), Ok(500));
        assert_eq!(duration_millis("30s"), Ok(30_000));
        assert_eq!(duration_millis("10m"), Ok(600_000));
        assert_eq!(duration_millis("1h"), Ok(3_600_000));
        assert_eq!(duration_millis(" 1_000 s "), Ok(1_000_000));
        assert_eq!(duration_millis(&format!("{}ms", u64::MAX)), Ok(u64::MAX));
    }

    #[test]
    fn bad_timeouts_say_why() {
        for (text, why) in [
            ("", "empty"),
            ("10", "no unit"),
            ("0s", "zero"),
            ("0ms", "zero"),
            ("-5s", "negative"),
            ("1.5h", "whole number"),
            ("1h30m", "more than one number"),
            ("10d", "write \"240h\""),
            ("10 min", "write \"10m\""),
            ("10H", "lowercase"),
            ("10y", "the units are ms, s, m and h"),
            ("ms", "does not start with a number"),
            ("5124095576030432h", "too long"),
            ("99999999999999999999ms", "too long"),
        ] {
            let error = duration_millis(text).expect_err(text);
            assert!(error.contains(why), "{text:?}: {error}");
        }
    }
}
