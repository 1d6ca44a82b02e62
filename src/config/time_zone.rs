//! `accounts[].time_zone`: the fixed UTC offset in which GridPane's backup
//! names (`YYYY-MM-DD HH:MM`) are read. Offsets only, no zone names: a
//! server's clock that follows daylight saving time is not described.

use chrono::FixedOffset;

/// `UTC`, `Z`, or `+HH:MM` / `-HH:MM` (also `+HHMM`, `+HH`).
pub(crate) fn parse_offset(raw: &str) -> Result<FixedOffset, String> {
    let t = raw.trim();
    let bad = || format!("\"{t}\" is not a UTC offset such as \"+02:00\", \"-05:00\" or \"UTC\"");
    if t.eq_ignore_ascii_case("utc") || t == "Z" {
        return FixedOffset::east_opt(0).ok_or_else(bad);
    }
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, t.get(1..).unwrap_or_default()),
        Some(b'-') => (-1, t.get(1..).unwrap_or_default()),
        _ => return Err(bad()),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    let colons = rest.matches(':').count();
    let well_formed = digits.chars().all(|c| c.is_ascii_digit())
        && (digits.len() == 2 && colons == 0
            || digits.len() == 4 && (colons == 0 || rest.get(2..3) == Some(":")) && colons <= 1);
    if !well_formed {
        return Err(bad());
    }
    let hours: i32 = digits
        .get(..2)
        .and_then(|h| h.parse().ok())
        .ok_or_else(bad)?;
    let minutes: i32 = digits
        .get(2..)
        .map_or(Ok(0), |m| if m.is_empty() { Ok(0) } else { m.parse() })
        .map_err(|_| bad())?;
    if hours > 14 || minutes > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_read_in_the_usual_spellings_and_anything_else_is_refused() {
        let secs = |s| parse_offset(s).map(|o| o.local_minus_utc());
        assert_eq!(secs("UTC"), Ok(0));
        assert_eq!(secs("+02:00"), Ok(7200));
        assert_eq!(secs("-0530"), Ok(-19800));
        assert_eq!(secs("+01"), Ok(3600));
        for bad in [
            "Europe/Paris",
            "+2",
            "+25:00",
            "+02:60",
            "02:00",
            "+02:00:00",
            "",
        ] {
            assert!(parse_offset(bad).is_err(), "{bad}");
        }
    }
}
