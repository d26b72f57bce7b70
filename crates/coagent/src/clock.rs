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
    fn formats_are_stable() {
        let t: Timestamp = "2026-11-24T06:11:52.345Z".parse().expect("time");
        let ms = t.as_millisecond();
        assert_eq!(rfc3339(ms), "2026-11-24T06:11:52Z");
        assert_eq!(file_stamp(ms), "20261124T061152Z");
        assert_eq!(human_duration(125_000), "2m");
        assert_eq!(human_duration(7_500_000), "2h05m");
    }
}
