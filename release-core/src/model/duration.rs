//! Human durations (`30s`, `2m`, `1h30m`, `800ms`) and counts-or-percentages (`25%`, `3`).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written the way operators write it: `500ms`, `30s`, `2m`, `1h30m`, `1d`.
///
/// It serializes back in its canonical form (largest units first), so a manifest round-trips.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    /// A duration of `mins` minutes.
    pub const fn from_mins(mins: u64) -> Self {
        Self(Duration::from_secs(mins * 60))
    }

    /// The standard-library duration.
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// True when the duration is zero.
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl From<Duration> for HumanDuration {
    fn from(d: Duration) -> Self {
        Self(d)
    }
}

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not a duration: {reason}; write a number followed by a unit such as `500ms`, `30s`, `2m`, `1h30m` or `1d`"
)]
pub struct DurationParseError {
    /// The text that was read.
    pub input: String,
    /// What was wrong with it.
    pub reason: &'static str,
}

impl FromStr for HumanDuration {
    type Err = DurationParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| DurationParseError {
            input: s.to_owned(),
            reason,
        };
        let text = s.trim();
        if text.is_empty() {
            return Err(err("it is empty"));
        }
        let mut total: u128 = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(err("a unit must follow a number"));
            }
            let value: u128 = rest[..digits]
                .parse()
                .map_err(|_| err("the number is too large"))?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let nanos_per: u128 = match unit {
                "ns" => 1,
                "us" | "µs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                "d" => 86_400_000_000_000,
                "" => return Err(err("the number has no unit")),
                _ => return Err(err("the unit is not one of ms, s, m, h, d")),
            };
            total = value
                .checked_mul(nanos_per)
                .and_then(|n| total.checked_add(n))
                .ok_or_else(|| err("the duration is too large"))?;
        }
        let secs =
            u64::try_from(total / 1_000_000_000).map_err(|_| err("the duration is too large"))?;
        // The remainder is below 1e9 by construction, so it fits in u32.
        let nanos = (total % 1_000_000_000) as u32;
        Ok(Self(Duration::new(secs, nanos)))
    }
}

impl fmt::Display for HumanDuration {
    /// Exact: parsing the text gives the same duration back (the journal stores durations
    /// as this text, and a resumed run must plan what the started one planned).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        let mut ms = nanos / 1_000_000;
        let units: [(u128, &str); 5] = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1_000, "s"),
            (1, "ms"),
        ];
        for (size, unit) in units {
            if ms >= size {
                write!(f, "{}{}", ms / size, unit)?;
                ms %= size;
            }
        }
        let below_a_millisecond = nanos % 1_000_000;
        if below_a_millisecond != 0 {
            write!(f, "{below_a_millisecond}ns")?;
        }
        Ok(())
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as `30s`, `2m` or `1h30m`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                if v == 0 {
                    Ok(HumanDuration::default())
                } else {
                    Err(E::custom(format!(
                        "`{v}` has no unit; write `{v}s`, `{v}m` or `{v}ms`"
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(format!(
                        "`{v}` is negative; a duration is never negative"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for HumanDuration {
    fn schema_name() -> Cow<'static, str> {
        "HumanDuration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^([0-9]+(ns|us|ms|s|m|h|d))+$",
            "description": "A duration such as `500ms`, `30s`, `2m`, `1h30m` or `1d`."
        })
    }
}

/// A count or a percentage of a total, as in Kubernetes' `maxSurge: 25%`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CountOrPercent {
    /// An absolute count.
    Count(u32),
    /// A percentage, 0–100 (more is allowed for surge).
    Percent(u32),
}

impl CountOrPercent {
    /// Resolves against `total`, rounding a percentage up (surge) or down (unavailable) as asked.
    pub fn resolve(self, total: u32, round_up: bool) -> u32 {
        match self {
            Self::Count(n) => n,
            Self::Percent(p) => {
                let scaled = u64::from(total) * u64::from(p);
                let v = if round_up {
                    scaled.div_ceil(100)
                } else {
                    scaled / 100
                };
                u32::try_from(v).unwrap_or(u32::MAX)
            }
        }
    }
}

impl fmt::Display for CountOrPercent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(n) => write!(f, "{n}"),
            Self::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl FromStr for CountOrPercent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let fix = "write a whole number (`2`) or a percentage (`25%`)";
        if let Some(p) = t.strip_suffix('%') {
            p.trim()
                .parse()
                .map(Self::Percent)
                .map_err(|_| format!("`{s}` is not a percentage; {fix}"))
        } else {
            t.parse()
                .map(Self::Count)
                .map_err(|_| format!("`{s}` is not a count; {fix}"))
        }
    }
}

impl Serialize for CountOrPercent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Count(n) => s.serialize_u32(*n),
            Self::Percent(_) => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for CountOrPercent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = CountOrPercent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count such as `2` or a percentage such as `25%`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                u32::try_from(v)
                    .map(CountOrPercent::Count)
                    .map_err(|_| E::custom(format!("`{v}` is too large for a count")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("`{v}` is negative; a count is never negative")))
                    .and_then(|v| self.visit_u64(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for CountOrPercent {
    fn schema_name() -> Cow<'static, str> {
        "CountOrPercent".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "oneOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^[0-9]+%$" }
            ],
            "description": "A count such as `2` or a percentage such as `25%`."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_round_trip() {
        for (text, secs) in [("30s", 30), ("2m", 120), ("1h30m", 5400), ("1d", 86_400)] {
            let d: HumanDuration = text.parse().unwrap();
            assert_eq!(d.0, Duration::from_secs(secs));
            assert_eq!(d.to_string(), text);
        }
        assert_eq!(
            "800ms".parse::<HumanDuration>().unwrap().0,
            Duration::from_millis(800)
        );
        // Below a millisecond too: the text is exact (it was rounded down to whole
        // milliseconds, so a journaled release could plan differently when resumed).
        for d in [
            Duration::from_micros(1_500),
            Duration::from_nanos(1),
            Duration::new(90, 250_000_001),
            Duration::from_nanos(999_999),
        ] {
            let text = HumanDuration(d).to_string();
            assert_eq!(text.parse::<HumanDuration>().unwrap().0, d, "{text}");
        }
        assert_eq!(
            HumanDuration(Duration::from_micros(1_500)).to_string(),
            "1ms500000ns"
        );
    }

    #[test]
    fn bad_durations_name_the_fix() {
        let e = "10".parse::<HumanDuration>().unwrap_err();
        assert!(e.to_string().contains("no unit"), "{e}");
        let e = "5 parsecs".parse::<HumanDuration>().unwrap_err();
        assert!(e.to_string().contains("30s"), "{e}");
        assert!("".parse::<HumanDuration>().is_err());
        assert!("99999999999999999999999d".parse::<HumanDuration>().is_err());
    }

    #[test]
    fn percentages_resolve_like_kubernetes() {
        let p: CountOrPercent = "25%".parse().unwrap();
        assert_eq!(p.resolve(10, true), 3);
        assert_eq!(p.resolve(10, false), 2);
        assert_eq!(CountOrPercent::Count(2).resolve(10, true), 2);
    }
}

/// A percentage written `99.5%` (or as a plain number 0–100).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Percentage(pub f64);

impl Percentage {
    /// The percentage as a ratio, 0–1.
    pub fn ratio(self) -> f64 {
        self.0 / 100.0
    }
}

impl fmt::Display for Percentage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

impl Serialize for Percentage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Percentage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl V {
            fn check<E: de::Error>(v: f64) -> Result<Percentage, E> {
                if v.is_finite() && (0.0..=100.0).contains(&v) {
                    Ok(Percentage(v))
                } else {
                    Err(E::custom(format!("`{v}` is not between 0% and 100%")))
                }
            }
        }
        impl Visitor<'_> for V {
            type Value = Percentage;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a percentage such as `99.5%`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Percentage, E> {
                let num = v.trim().strip_suffix('%').unwrap_or(v).trim();
                num.parse::<f64>()
                    .map_err(|_| {
                        E::custom(format!("`{v}` is not a percentage; write e.g. `99.5%`"))
                    })
                    .and_then(Self::check)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Percentage, E> {
                Self::check(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Percentage, E> {
                Self::check(v as f64)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Percentage, E> {
                Self::check(v as f64)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Percentage {
    fn schema_name() -> Cow<'static, str> {
        "Percentage".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "oneOf": [
                { "type": "number", "minimum": 0, "maximum": 100 },
                { "type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?%$" }
            ],
            "description": "A percentage such as `99.5%`."
        })
    }
}
