//! Where time comes from. `COAGENT_NOW` (RFC 3339) pins the clock so that payloads are
//! byte-for-byte reproducible in tests; otherwise the system clock is used.

use jiff::Timestamp;

/// Milliseconds since the Unix epoch, UTC: the unit every record in the store uses.
pub type Millis = i64;

#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    Fixed(Timestamp),
}

impl Clock {
    /// `COAGENT_NOW` when set (an RFC 3339 instant, or Unix seconds), else the system clock.
    pub fn from_env() -> crate::Result<Clock> {
        match std::env::var("COAGENT_NOW") {
            Ok(v) if !v.trim().is_empty() => {
                parse_instant(v.trim()).map(Clock::Fixed).ok_or_else(|| {
                    crate::Error::invalid(
                        format!("COAGENT_NOW=`{v}` is not a time"),
                        Some("use RFC 3339, e.g. COAGENT_NOW=2026-01-02T03:04:05Z".to_string()),
                    )
                })
            }
            _ => Ok(Clock::System),
        }
    }

    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Fixed(t) => *t,
        }
    }

    pub fn now_ms(&self) -> Millis {
        self.now().as_millisecond()
    }
}

fn parse_instant(s: &str) -> Option<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    s.parse::<i64>()
        .ok()
        .and_then(|secs| Timestamp::from_second(secs).ok())
}

/// The start of a `--since` window: an age (`30m`, `12h`, `7d`, `2w` before `now`), a day
/// (`2026-11-01`, midnight UTC) or an instant (RFC 3339).
pub fn parse_since(text: &str, now: Millis) -> crate::Result<Millis> {
    let t = text.trim();
    let bad = || {
        crate::Error::invalid(
            format!("--since `{text}` is not an age, a day or a time"),
            Some(
                "e.g. --since 7d, --since 12h, --since 2026-11-01, --since 2026-11-01T09:00:00Z"
                    .to_string(),
            ),
        )
    };
    let per = match t.chars().last() {
        Some('s') => Some(1_000),
        Some('m') => Some(60_000),
        Some('h') => Some(3_600_000),
        Some('d') => Some(86_400_000),
        Some('w') => Some(7 * 86_400_000),
        _ => None,
    };
    if let Some(per) = per {
        let n: i64 = t[..t.len() - 1].trim().parse().map_err(|_| bad())?;
        return Ok(now.saturating_sub(n.saturating_mul(per)));
    }
    if let Ok(d) = t.parse::<jiff::civil::Date>() {
        return jiff::tz::TimeZone::UTC
            .to_timestamp(d.at(0, 0, 0, 0))
            .map(|ts| ts.as_millisecond())
            .map_err(|_| bad());
    }
    t.parse::<Timestamp>()
        .map(|ts| ts.as_millisecond())
        .map_err(|_| bad())
}

/// RFC 3339 UTC with second precision, e.g. `2026-11-24T06:11:52Z`.
pub fn rfc3339(ms: Millis) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => String::from("invalid-time"),
    }
}

/// Compact UTC stamp for file names, e.g. `20261124T061152Z`.
pub fn file_stamp(ms: Millis) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y%m%dT%H%M%SZ").to_string(),
        Err(_) => String::from("00000000T000000Z"),
    }
}

/// A short human duration: `42s`, `3m`, `2h05m`, `3d`.
pub fn human_duration(ms: Millis) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_ages_days_and_instants() {
        let now = 10 * 86_400_000;
        assert_eq!(parse_since("7d", now).expect("age"), 3 * 86_400_000);
        assert_eq!(parse_since("90m", now).expect("age"), now - 90 * 60_000);
        assert_eq!(parse_since("1970-01-02", now).expect("day"), 86_400_000);
        assert_eq!(
            parse_since("1970-01-01T00:00:01Z", now).expect("instant"),
            1000
        );
        for bad in ["", "yesterday", "7y", "d", "2026-13-01"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_are_stable() {
        let t: Timestamp = "2026-11-24T06:11:52.345Z".parse().expect("time");
        let ms = t.as_millisecond();
        assert_eq!(rfc3339(ms), "2026-11-24T06:11:52Z");
        assert_eq!(file_stamp(ms), "20261124T061152Z");
        assert_eq!(human_duration(125_000), "2m");
        assert_eq!(human_duration(7_500_000), "2h05m");
    }
}
