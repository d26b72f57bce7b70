//! A bloat signal drawn as a `<meter>` whose colour is the signal's level.
//!
//! A browser colours a meter by where its value falls among `low`, `high` and `optimum`,
//! a rule that knows only "more is worse" or "more is better". The monitor's levels do
//! not follow one rule: the pace (`dos_per_hour`) is bad when *low*, the latency counts
//! only while it rises, and a warm-up holds the pace at OK whatever it reads. So the
//! bounds are chosen from the level, and the fill still shows the value against its
//! threshold. Each bound keeps a margin from the value, so a browser that counts a
//! boundary to either side draws the same colour.

use minijinja::Value;

/// The attributes of the meter for a signal at `level` ("OK", "WARN", "FAIL", "IDLE") with
/// `value` against `threshold`.
pub fn attributes(level: &str, value: f64, threshold: f64) -> Bounds {
    let max = if threshold > 0.0 { threshold } else { 1.0 };
    let v = value.clamp(0.0, max);
    // A value in the upper half puts the optimum at 0 (below `low`), one in the lower half
    // at `max` (above `high`): either way the value keeps a margin from every boundary,
    // a value of 0 (no DOs this hour) included.
    let upper = v >= max / 2.0;
    let (low, high, optimum) = match (level, upper) {
        // Optimum below: low < value ≤ high is suboptimum.
        ("WARN", true) => (v / 2.0, max, 0.0),
        // Optimum above: low ≤ value < high is suboptimum.
        ("WARN", false) => (v / 2.0, (v + max) / 2.0, max),
        // Optimum below: value > high is worse than suboptimum.
        ("FAIL", true) => (v / 2.0, v / 2.0, 0.0),
        // Optimum above: value < low is worse than suboptimum.
        ("FAIL", false) => ((v + max) / 2.0, (v + max) / 2.0, max),
        // OK (or idle): the optimum between low and high, so the whole gauge is optimum.
        _ => (0.0, max, 0.0),
    };
    Bounds {
        max,
        low,
        high,
        optimum,
        value: v,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub max: f64,
    pub low: f64,
    pub high: f64,
    pub optimum: f64,
    pub value: f64,
}

impl Bounds {
    fn html(&self) -> String {
        format!(
            r#"min="0" max="{}" low="{}" high="{}" optimum="{}" value="{}""#,
            self.max, self.low, self.high, self.optimum, self.value
        )
    }
}

/// The template function `meter(level, value, threshold)`: the attributes as markup
/// (numbers only, nothing from the session).
pub fn function(level: String, value: f64, threshold: f64) -> Value {
    Value::from_safe_string(attributes(&level, value, threshold).html())
}

/// The template filter `threshold`: a threshold as people read it (`5`, `0.5`, `64k`),
/// not as the float it is stored as (`5.0`, `64000.0`).
pub fn threshold(t: f64) -> String {
    if t >= 1_000.0 && t.fract() == 0.0 {
        coagent::bloat::kilo(t as u64)
    } else if t.fract() == 0.0 {
        format!("{t:.0}")
    } else {
        format!("{t}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_read_as_written_in_config_toml() {
        let shown: Vec<String> = [5.0, 1.0, 0.5, 30.0, 64_000.0, 16_500.0]
            .into_iter()
            .map(threshold)
            .collect();
        assert_eq!(shown, ["5", "1", "0.5", "30", "64k", "16.5k"]);
    }

    #[derive(Debug, PartialEq)]
    enum Region {
        Optimum,
        Suboptimum,
        EvenLessGood,
    }

    /// The HTML standard's meter regions (§4.10.14), with its clamping; `strict` counts a
    /// value on an inner boundary to the other side, as a browser may.
    fn region(b: &Bounds, strict: bool) -> Region {
        let (min, max) = (0.0, b.max);
        let value = b.value.clamp(min, max);
        let low = b.low.clamp(min, max);
        let high = b.high.clamp(low, max);
        let optimum = b.optimum.clamp(min, max);
        // A clamped value sits on the gauge's ends, which every browser counts inside.
        let le = |a: f64, c: f64| {
            if strict && a == c && a != min && a != max {
                false
            } else {
                a <= c
            }
        };
        if low <= optimum && optimum <= high {
            if le(low, value) && le(value, high) {
                Region::Optimum
            } else {
                Region::Suboptimum
            }
        } else if optimum < low {
            if le(value, low) {
                Region::Optimum
            } else if le(value, high) {
                Region::Suboptimum
            } else {
                Region::EvenLessGood
            }
        } else if le(high, value) {
            Region::Optimum
        } else if le(low, value) {
            Region::Suboptimum
        } else {
            Region::EvenLessGood
        }
    }

    fn colour(level: &str, value: f64, threshold: f64) -> Region {
        let b = attributes(level, value, threshold);
        let (lenient, strict) = (region(&b, false), region(&b, true));
        assert_eq!(lenient, strict, "{level} {value} of {threshold}: {b:?}");
        lenient
    }

    #[test]
    fn a_healthy_pace_above_its_minimum_is_green_not_red() {
        // 3 DOs an hour against a minimum of 1: the old bounds (optimum 0, high at the
        // threshold) drew this full and in the worst colour.
        assert_eq!(colour("OK", 3.0, 1.0), Region::Optimum);
        assert_eq!(colour("OK", 0.0, 1.0), Region::Optimum);
        // And a stopped chat (no DO this hour) is not drawn green.
        assert_eq!(colour("FAIL", 0.0, 1.0), Region::EvenLessGood);
    }

    #[test]
    fn the_colour_follows_the_level_wherever_the_value_stands() {
        for threshold in [1.0_f64, 2.0, 5.0, 64_000.0, 0.0] {
            for share in [0.0, 0.01, 0.3, 0.5, 0.8, 0.99, 1.0, 1.5, 40.0] {
                let v = threshold.max(1.0) * share;
                assert_eq!(colour("OK", v, threshold), Region::Optimum);
                assert_eq!(colour("WARN", v, threshold), Region::Suboptimum);
                assert_eq!(colour("FAIL", v, threshold), Region::EvenLessGood);
            }
        }
    }

    #[test]
    fn the_fill_is_the_value_against_its_threshold() {
        let b = attributes("WARN", 26_300.0, 64_000.0);
        assert_eq!((b.value, b.max), (26_300.0, 64_000.0));
        assert_eq!(attributes("FAIL", 9.0, 5.0).value, 5.0);
        assert_eq!(attributes("OK", 0.5, 0.0).max, 1.0);
    }
}
