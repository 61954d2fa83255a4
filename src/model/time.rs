//! The view types' times (`DateTime<Utc>`) on the wire: written as chrono
//! writes them (RFC 3339, `2026-01-04T09:05:07.123456Z`), read back by the
//! small parser below instead of chrono's `Deserialize`, whose general
//! parser (every format chrono reads, RFC 2822 among them) took room in the
//! browser bundle for the one form the server sends. Use it on a field with
//! `#[serde(with = "crate::model::time")]` (or `time::option` for an
//! `Option<DateTime<Utc>>`).

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;

pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    at.serialize(s)
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let text = Cow::<'de, str>::deserialize(d)?;
    parse(&text).ok_or_else(|| not_a_time(&text))
}

fn not_a_time<E: serde::de::Error>(text: &str) -> E {
    E::custom(format!("not an RFC 3339 date and time: {text:?}"))
}

/// The same for an optional time (`null` on the wire for `None`).
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        at.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<Cow<'de, str>>::deserialize(d)? {
            None => Ok(None),
            Some(text) => parse(&text).map(Some).ok_or_else(|| not_a_time(&text)),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` as an instant (a fraction
/// past nanoseconds is cut, a leap second `:60` read as chrono reads it);
/// `None` for anything else, or a date or time that does not exist.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    let num = |from: usize, to: usize| -> Option<u32> {
        let digits = b.get(from..to)?;
        digits.iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, mut second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut i = 19;
    let mut nanos = 0u32;
    if at(i, b".") {
        i += 1;
        let start = i;
        while at(i, b"0123456789") {
            i += 1;
        }
        if i == start {
            return None;
        }
        let kept = (i - start).min(9);
        nanos = num(start, start + kept)? * 10u32.pow(9 - kept as u32);
    }
    let offset_seconds = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && at(i + 3, b":") => {
            let (h, m) = (num(i + 1, i + 3)?, num(i + 4, i + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let seconds = i64::from(h * 3600 + m * 60);
            if *sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return None,
    };
    // A leap second: chrono keeps it as second 59 with 1–2 s of nanoseconds.
    if second == 60 {
        second = 59;
        nanos += 1_000_000_000;
    }
    let local = NaiveDate::from_ymd_opt(year as i32, month, day)?
        .and_hms_nano_opt(hour, minute, second, nanos)?;
    Some(
        local
            .checked_sub_signed(TimeDelta::seconds(offset_seconds))?
            .and_utc(),
    )
}

/// A duration for people: "850 ms", "12 s", "3 min 20 s", "2 h 5 min".
pub fn duration_words(millis: i64) -> String {
    let s = millis / 1000;
    match millis {
        m if m < 1_000 => format!("{m} ms"),
        _ if s < 60 => format!("{s} s"),
        _ if s < 3_600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3_600, (s % 3_600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Timelike};

    #[test]
    fn reads_every_time_as_chrono_writes_it() {
        // Seconds from 1970 to about 2100, each with a fraction of none,
        // milliseconds, microseconds (what Postgres keeps) or nanoseconds.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for n in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let seconds = (x % 4_102_444_800) as i64;
            let nanos = match n % 4 {
                0 => 0,
                1 => (x % 1000) as u32 * 1_000_000,
                2 => (x % 1_000_000) as u32 * 1000,
                _ => (x % 1_000_000_000) as u32,
            };
            let at = Utc.timestamp_opt(seconds, nanos).single().expect("a time");
            let json = serde_json::to_string(&at).expect("serialize");
            let text: String = serde_json::from_str(&json).expect("a string");
            assert_eq!(parse(&text), Some(at), "{text}");
            let chrono_reads: DateTime<Utc> = serde_json::from_str(&json).expect("chrono");
            assert_eq!(chrono_reads, at);
        }
    }

    #[test]
    fn reads_offsets_as_chrono_does() {
        for text in [
            "2026-01-04T10:05:07.5+01:00",
            "2026-01-04T05:35:07.5-03:30",
            "2026-01-04T09:05:07.500000+00:00",
            "2026-01-04t09:05:07.5z",
            "2026-01-04 09:05:07.5Z",
            "2026-01-04T09:05:07.5000000001Z",
            "2016-12-31T23:59:60Z",
            "2016-12-31T23:59:60.25Z",
            "2000-02-29T23:30:00-01:00",
        ] {
            let chrono_reads = DateTime::parse_from_rfc3339(text)
                .expect(text)
                .with_timezone(&Utc);
            assert_eq!(parse(text), Some(chrono_reads), "{text}");
        }
        let at = parse("2026-01-04T10:05:07.5+01:00").expect("a time");
        assert_eq!((at.hour(), at.nanosecond()), (9, 500_000_000));
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for text in [
            "",
            "2026-01-04",
            "2026-01-04T09:05:07",
            "2026-01-04T09:05:07.Z",
            "2026-01-04T09:05:07ZZ",
            "2026-01-04T09:05:07+0100",
            "2026-01-04T09:05:07+01:00 ",
            "2026-13-04T09:05:07Z",
            "2026-02-30T09:05:07Z",
            "2026-01-04T24:05:07Z",
            "2026-01-04T09:60:07Z",
            "2026-01-04T09:05:61Z",
            "2026-01-04T09:05:07+24:00",
            "+2026-01-04T09:05:07Z",
            "2026/01/04T09:05:07Z",
            "2026-01-04T09:05:0xZ",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Both {
        #[serde(with = "super")]
        at: DateTime<Utc>,
        #[serde(with = "super::option")]
        maybe: Option<DateTime<Utc>>,
    }

    #[test]
    fn fields_keep_chronos_wire_format() {
        let at = Utc
            .timestamp_opt(1_767_517_507, 123_456_000)
            .single()
            .expect("a time");
        for maybe in [None, Some(at)] {
            let both = Both { at, maybe };
            let json = serde_json::to_string(&both).expect("serialize");
            let plain = serde_json::json!({ "at": at, "maybe": maybe }).to_string();
            assert_eq!(json, plain);
            assert_eq!(serde_json::from_str::<Both>(&json).expect("read"), both);
        }
        assert!(serde_json::from_str::<Both>(r#"{"at":"yesterday","maybe":null}"#).is_err());
    }
}
