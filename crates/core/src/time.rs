//! Timestamps in the Prela JSON form: ISO-8601 / RFC 3339 in UTC with
//! microseconds and a `+00:00` offset, e.g. `2026-11-22T03:31:22.167762+00:00`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::json::text::PAIRS;

/// Error returned when a timestamp cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseTimeError {
    input: String,
}

impl fmt::Display for ParseTimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid timestamp {:?}: expected ISO-8601 like 2026-11-22T03:31:22.167762+00:00",
            self.input
        )
    }
}

impl std::error::Error for ParseTimeError {}

/// `t` as whole seconds since the Unix epoch (rounded towards negative
/// infinity) and the nanoseconds past them (0 to 999,999,999).
pub fn unix_parts(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            match d.subsec_nanos() {
                0 => (-secs, 0),
                n => (-secs - 1, 1_000_000_000 - n),
            }
        }
    }
}

/// Nanoseconds since the Unix epoch: 0 before it, `u64::MAX` past 2554.
#[inline]
pub fn unix_nanos(t: SystemTime) -> u64 {
    let (secs, subsec) = unix_parts(t);
    match u64::try_from(secs) {
        Ok(secs) => secs
            .checked_mul(1_000_000_000)
            .and_then(|n| n.checked_add(u64::from(subsec)))
            .unwrap_or(u64::MAX),
        Err(_) => 0,
    }
}

/// Microseconds since the Unix epoch (negative before 1970, rounded
/// towards negative infinity).
pub fn unix_micros(t: SystemTime) -> i64 {
    let (secs, subsec) = unix_parts(t);
    secs.checked_mul(1_000_000)
        .and_then(|us| us.checked_add(i64::from(subsec / 1000)))
        .unwrap_or(if secs < 0 { i64::MIN } else { i64::MAX })
}

/// The `SystemTime` for microseconds since the Unix epoch.
pub fn from_unix_micros(us: i64) -> SystemTime {
    if us >= 0 {
        UNIX_EPOCH + Duration::from_micros(us.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_micros(us.unsigned_abs())
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01. Howard Hinnant's
/// `days_from_civil`.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A UTC calendar time broken into fields, at microsecond resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct UtcTime {
    /// Year, e.g. 2026.
    pub year: i64,
    /// Month, 1 to 12.
    pub month: u32,
    /// Day of the month, 1 to 31.
    pub day: u32,
    /// Hour, 0 to 23.
    pub hour: u32,
    /// Minute, 0 to 59.
    pub minute: u32,
    /// Second, 0 to 59.
    pub second: u32,
    /// Microsecond, 0 to 999 999.
    pub micros: u32,
}

impl UtcTime {
    /// Breaks a `SystemTime` into UTC fields (truncated to microseconds).
    pub fn from_system_time(t: SystemTime) -> Self {
        let us = unix_micros(t);
        let secs = us.div_euclid(1_000_000);
        let micros = us.rem_euclid(1_000_000) as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        UtcTime {
            year,
            month,
            day,
            hour: sod / 3600,
            minute: sod / 60 % 60,
            second: sod % 60,
            micros,
        }
    }
}

/// The length of [`write_timestamp`]'s text for a year of four digits.
pub const TIMESTAMP_LEN: usize = 32;

/// `t` as the bytes of `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`, digit by digit
/// (every span has two timestamps or more, and `write!` with padded
/// fields is several times slower); `None` for a year outside 0 to 9999,
/// which [`write_timestamp`] writes with more digits or a sign.
pub fn timestamp_bytes(t: SystemTime) -> Option<[u8; TIMESTAMP_LEN]> {
    digits(&UtcTime::from_system_time(t))
}

fn digits(u: &UtcTime) -> Option<[u8; TIMESTAMP_LEN]> {
    let year = u32::try_from(u.year).ok().filter(|y| *y <= 9999)?;
    let mut b = *b"0000-00-00T00:00:00.000000+00:00";
    // Two digits at a time, each pair at its offset (every value is below
    // 100 here; `% 100` makes that plain to the compiler too).
    for (at, value) in [
        (0, year / 100),
        (2, year),
        (5, u.month),
        (8, u.day),
        (11, u.hour),
        (14, u.minute),
        (17, u.second),
        (20, u.micros / 10_000),
        (22, u.micros / 100),
        (24, u.micros),
    ] {
        let pair = (value % 100) as usize * 2;
        b[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    Some(b)
}

/// Writes `t` as `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`.
pub fn write_timestamp(out: &mut String, t: SystemTime) {
    use fmt::Write;
    let u = UtcTime::from_system_time(t);
    if let Some(b) = digits(&u) {
        // The bytes are ASCII digits and punctuation.
        out.push_str(std::str::from_utf8(&b).unwrap_or_default());
        return;
    }
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        u.year, u.month, u.day, u.hour, u.minute, u.second, u.micros
    );
}

/// `t` as `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`.
pub fn format_timestamp(t: SystemTime) -> String {
    let mut s = String::with_capacity(32);
    write_timestamp(&mut s, t);
    s
}

/// `t`'s UTC date as `YYYY-MM-DD`.
pub fn format_date(t: SystemTime) -> String {
    let u = UtcTime::from_system_time(t);
    format!("{:04}-{:02}-{:02}", u.year, u.month, u.day)
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let s = self.b.get(self.pos..self.pos + n)?;
        let mut v = 0u32;
        for &c in s {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        self.pos += n;
        Some(v)
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        if self.b.get(self.pos) == Some(&c) {
            self.pos += 1;
            Some(())
        } else {
            None
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }
}

fn parse_inner(s: &str) -> Option<SystemTime> {
    let mut c = Cursor {
        b: s.as_bytes(),
        pos: 0,
    };
    let year = c.digits(4)?;
    c.expect(b'-')?;
    let month = c.digits(2)?;
    c.expect(b'-')?;
    let day = c.digits(2)?;
    match c.peek()? {
        b'T' | b't' | b' ' => c.pos += 1,
        _ => return None,
    }
    let hour = c.digits(2)?;
    c.expect(b':')?;
    let minute = c.digits(2)?;
    c.expect(b':')?;
    let second = c.digits(2)?;
    let mut nanos: u64 = 0;
    if c.peek() == Some(b'.') {
        c.pos += 1;
        let start = c.pos;
        while let Some(d) = c.peek().filter(u8::is_ascii_digit) {
            if c.pos - start < 9 {
                nanos = nanos * 10 + u64::from(d - b'0');
            }
            c.pos += 1;
        }
        let n = c.pos - start;
        if n == 0 {
            return None;
        }
        for _ in n..9 {
            nanos *= 10;
        }
    }
    let offset_secs: i64 = match c.peek() {
        Some(b'Z' | b'z') => {
            c.pos += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            c.pos += 1;
            let oh = c.digits(2)?;
            c.expect(b':')?;
            let om = c.digits(2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let off = i64::from(oh * 3600 + om * 60);
            if sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    if c.pos != c.b.len() {
        return None;
    }
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let second = second.min(59); // a leap second folds onto :59
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
    let base = if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    };
    Some(base + Duration::from_nanos(nanos))
}

/// Parses an ISO-8601 / RFC 3339 timestamp with an explicit offset (`Z` or
/// `±HH:MM`), with or without a fraction of a second (the Python SDK leaves
/// the fraction out when it is zero).
pub fn parse_timestamp(s: &str) -> Result<SystemTime, ParseTimeError> {
    parse_inner(s).ok_or_else(|| ParseTimeError {
        input: s.chars().take(64).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_agree_with_duration_since() {
        use std::time::Duration;
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let nanos_std = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
                .unwrap_or(0)
        };
        // Nanoseconds as one signed number, split with Euclid's division:
        // the parts worked out another way.
        let parts_i128 = |t: SystemTime| {
            let n: i128 = match t.duration_since(UNIX_EPOCH) {
                Ok(d) => d.as_nanos() as i128,
                Err(e) => -(e.duration().as_nanos() as i128),
            };
            (
                n.div_euclid(1_000_000_000) as i64,
                n.rem_euclid(1_000_000_000) as u32,
            )
        };
        let check = |t: SystemTime| {
            assert_eq!(unix_parts(t), parts_i128(t), "{t:?}");
            assert_eq!(unix_nanos(t), nanos_std(t), "{t:?}");
        };
        for _ in 0..100_000 {
            // xorshift: times over the whole range either side of the epoch.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let d = Duration::new(x % (1 << 36), (x >> 36) as u32 % 1_000_000_000);
            if let Some(t) = UNIX_EPOCH.checked_add(d) {
                check(t);
            }
            if let Some(t) = UNIX_EPOCH.checked_sub(d) {
                check(t);
            }
        }
        check(UNIX_EPOCH);
        check(SystemTime::now());
        assert_eq!(unix_nanos(UNIX_EPOCH + Duration::from_nanos(1)), 1);
        assert_eq!(unix_nanos(UNIX_EPOCH - Duration::from_nanos(1)), 0);
        assert_eq!(
            unix_nanos(UNIX_EPOCH + Duration::from_secs(18_446_744_074)),
            u64::MAX
        );
        assert_eq!(unix_micros(UNIX_EPOCH - Duration::from_nanos(1500)), -2);
        assert_eq!(unix_micros(UNIX_EPOCH - Duration::from_micros(3)), -3);
    }

    #[test]
    fn formats_like_python_isoformat() {
        let t = parse_timestamp("2026-11-22T03:31:22.167762+00:00").unwrap();
        assert_eq!(format_timestamp(t), "2026-11-22T03:31:22.167762+00:00");
        assert_eq!(unix_micros(t), 1_795_318_282_167_762);
        let t = parse_timestamp("2026-11-22T03:31:22+00:00").unwrap();
        assert_eq!(format_timestamp(t), "2026-11-22T03:31:22.000000+00:00");
        assert_eq!(format_date(t), "2026-11-22");
    }

    /// The digit-by-digit writer agrees with padded `write!` fields for
    /// years 0 to 9999, and leaves other years to them.
    #[test]
    fn digit_writer_matches_padded_formatting() {
        use std::time::Duration;
        let padded = |t: SystemTime| {
            let u = UtcTime::from_system_time(t);
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
                u.year, u.month, u.day, u.hour, u.minute, u.second, u.micros
            )
        };
        // Year 0 to 9999 is -62,167,219,200 to 253,402,300,799 s.
        let (first, last) = (-62_167_219_200i64, 253_402_300_799i64);
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut times = vec![UNIX_EPOCH];
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = first + (x % (last - first + 1) as u64) as i64;
            let micros = (x >> 40) % 1_000_000;
            let d = Duration::from_secs(secs.unsigned_abs()) + Duration::from_micros(micros);
            times.extend(if secs >= 0 {
                UNIX_EPOCH.checked_add(d)
            } else {
                UNIX_EPOCH.checked_sub(d)
            });
        }
        for t in times {
            let mut out = String::new();
            write_timestamp(&mut out, t);
            assert_eq!(out, padded(t));
            assert!(timestamp_bytes(t).is_some(), "{out}");
        }
        let beyond = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        assert_eq!(timestamp_bytes(beyond), None);
        assert_eq!(format_timestamp(beyond), padded(beyond));
    }

    #[test]
    fn offsets_and_z() {
        let a = parse_timestamp("2026-11-22T03:31:22.5Z").unwrap();
        let b = parse_timestamp("2026-11-22T05:01:22.500+01:30").unwrap();
        assert_eq!(a, b);
        assert_eq!(format_timestamp(a), "2026-11-22T03:31:22.500000+00:00");
    }

    #[test]
    fn epoch_edges_and_leap_years() {
        assert_eq!(
            format_timestamp(UNIX_EPOCH),
            "1970-01-01T00:00:00.000000+00:00"
        );
        let t = parse_timestamp("1969-12-31T23:59:59.999999+00:00").unwrap();
        assert_eq!(unix_micros(t), -1);
        assert_eq!(format_timestamp(t), "1969-12-31T23:59:59.999999+00:00");
        assert!(parse_timestamp("2024-02-29T00:00:00Z").is_ok());
        assert!(parse_timestamp("2023-02-29T00:00:00Z").is_err());
        for days in [-800_000i64, -1, 0, 1, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "2026-11-22",
            "2026-11-22T03:31:22",
            "2026-11-22T03:31:22.+00:00",
            "2026-13-01T00:00:00Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T03:31:22Zjunk",
            "2026-11-22T03:31:22+0000",
        ] {
            let e = parse_timestamp(bad).unwrap_err();
            assert!(e.to_string().contains("invalid timestamp"));
        }
    }
}
