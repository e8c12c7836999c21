//! JSON text written byte by byte: the pieces shared by the direct
//! encoders (Prela JSON lines here, the OTLP/HTTP JSON mapping in
//! `prela-export-otlp`).
//!
//! Each function appends to a `Vec<u8>` and cannot fail. What they write
//! is tested against what `serde_json` (and, for [`ascii_string`], Python's
//! `json.dumps`) writes for the same input.

/// "00" to "99", two bytes each.
pub(crate) const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";

/// Appends `s` as a JSON string escaped as `serde_json` escapes it: `"`
/// and `\`, the short escapes for backspace, form feed, newline, carriage
/// return and tab, `\u00XX` for the other control characters, everything
/// else (non-ASCII included) as it is.
pub fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // The usual string needs no escape: one pass that looks at every byte
    // (no early exit, so the compiler can compare many bytes at a time),
    // then one copy.
    let needs_escape = bytes.iter().fold(false, |acc, &b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !needs_escape {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        escape_ascii(out, b);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends `s` as a JSON string escaped as Python's `json.dumps` escapes
/// it by default (`ensure_ascii`): as [`string`] does, and also DEL and
/// every non-ASCII character as `\uXXXX` (lowercase hex, a UTF-16
/// surrogate pair beyond the Basic Multilingual Plane), so the text is
/// pure ASCII.
pub fn ascii_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let needs_escape = bytes.iter().fold(false, |acc, &b| {
        acc | !(0x20..0x7f).contains(&b) | (b == b'"') | (b == b'\\')
    });
    if !needs_escape {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut units = [0u16; 2];
    for c in s.chars() {
        match u8::try_from(c) {
            Ok(b) if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' => out.push(b),
            Ok(b) if b < 0x7f => escape_ascii(out, b),
            _ => {
                for &unit in c.encode_utf16(&mut units).iter() {
                    out.extend_from_slice(&unicode_escape(unit));
                }
            }
        }
    }
    out.push(b'"');
}

/// The escape of an ASCII byte that cannot stand in a JSON string.
fn escape_ascii(out: &mut Vec<u8>, b: u8) {
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        _ => out.extend_from_slice(&unicode_escape(u16::from(b))),
    }
}

/// `\uXXXX` for a UTF-16 code unit, lowercase.
pub(crate) fn unicode_escape(unit: u16) -> [u8; 6] {
    let mut e = *b"\\u0000";
    crate::id::encode_hex(&unit.to_be_bytes(), &mut e[2..]);
    e
}

/// Appends each of `items` with `write`, `sep` between them: the body of a
/// JSON array or object.
#[inline]
pub fn separated<T>(
    out: &mut Vec<u8>,
    sep: &[u8],
    items: impl IntoIterator<Item = T>,
    mut write: impl FnMut(&mut Vec<u8>, T),
) {
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(sep);
        }
        write(out, item);
    }
}

/// Appends `n` in decimal, two digits at a time (a timestamp in
/// nanoseconds has 19).
pub fn decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        buf[at] = b'0' + n as u8;
    }
    out.extend_from_slice(&buf[at..]);
}

/// Appends a signed integer in decimal.
pub fn integer(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    decimal(out, n.unsigned_abs());
}

/// Appends `bytes` as lowercase hex digits (no quotes).
pub fn hex(out: &mut Vec<u8>, bytes: &[u8]) {
    // Formatted on the stack and appended in one piece per 16 bytes (an id
    // is 8 or 16).
    let mut buf = [0u8; 32];
    for chunk in bytes.chunks(16) {
        let n = 2 * chunk.len();
        crate::id::encode_hex(chunk, &mut buf[..n]);
        out.extend_from_slice(&buf[..n]);
    }
}

/// Python's `repr(float)` of a finite or non-finite `v`, formatted on the
/// stack: the shortest digits that read back as `v`, in fixed notation
/// when the decimal exponent is in [-4, 16), else in `1e+16` style; `NaN`,
/// `Infinity` and `-Infinity` for the values JSON numbers cannot hold.
pub fn python_float(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(PythonFloat::new(v).as_bytes());
}

/// A float as Python's `repr` writes it, in a stack buffer (at most 24
/// bytes: sign, 17 digits, point, exponent).
pub(crate) struct PythonFloat {
    buf: [u8; 32],
    len: usize,
}

impl PythonFloat {
    pub(crate) fn new(v: f64) -> Self {
        let mut f = PythonFloat {
            buf: [0; 32],
            len: 0,
        };
        if v.is_nan() {
            f.push(b"NaN");
        } else if v.is_infinite() {
            f.push(if v > 0.0 { b"Infinity" } else { b"-Infinity" });
        } else if v == 0.0 {
            f.push(if v.is_sign_negative() {
                b"-0.0"
            } else {
                b"0.0"
            });
        } else {
            f.finite(v);
        }
        f
    }

    fn finite(&mut self, v: f64) {
        let mut shortest = zmij::Buffer::new();
        let Some((digits, n, decpt)) = decimal_parts(shortest.format_finite(v.abs()).as_bytes())
        else {
            return;
        };
        let digits = &digits[..n];
        if v < 0.0 {
            self.push(b"-");
        }
        let n = n as i32;
        if -4 < decpt && decpt <= 16 {
            if decpt <= 0 {
                self.push(b"0.");
                for _ in 0..-decpt {
                    self.push(b"0");
                }
                self.push(digits);
            } else if decpt >= n {
                self.push(digits);
                for _ in 0..decpt - n {
                    self.push(b"0");
                }
                self.push(b".0");
            } else {
                let (int, frac) = digits.split_at(decpt as usize);
                self.push(int);
                self.push(b".");
                self.push(frac);
            }
        } else {
            let (first, rest) = digits.split_at(1.min(digits.len()));
            self.push(first);
            if !rest.is_empty() {
                self.push(b".");
                self.push(rest);
            }
            let e = decpt - 1;
            self.push(if e < 0 { b"e-" } else { b"e+" });
            let e = e.unsigned_abs();
            if e < 10 {
                self.push(b"0");
            }
            let mut at = 0;
            let mut three = [0u8; 3];
            for (i, d) in [e / 100, e / 10 % 10, e % 10].into_iter().enumerate() {
                three[i] = b'0' + d as u8;
            }
            while at < 2 && three[at] == b'0' {
                at += 1;
            }
            self.push(&three[at..]);
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            dst.copy_from_slice(bytes);
            self.len = end;
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits, signs, points and letters are ever pushed.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// The significant digits of a decimal number written as `zmij` (or
/// `{:e}`) writes it, `123.45`, `0.0001`, `1.5e-7` or `1e16`, without
/// leading or trailing zeros, and where the point goes: the number is
/// `0.DIGITS × 10^decpt`. `None` for text that is not such a number, or for
/// zero.
fn decimal_parts(text: &[u8]) -> Option<([u8; 24], usize, i32)> {
    let (mantissa, exp) = match text.iter().position(|&b| b == b'e' || b == b'E') {
        Some(at) => (
            &text[..at],
            std::str::from_utf8(&text[at + 1..])
                .ok()?
                .parse::<i32>()
                .ok()?,
        ),
        None => (text, 0),
    };
    let mut digits = [0u8; 24];
    let mut n = 0;
    // Zeros after the last other digit, written only if one follows.
    let mut zeros = 0;
    let mut before_point = 0i32;
    let mut point = false;
    for &b in mantissa {
        match b {
            b'.' if !point => point = true,
            // A leading zero only moves the point.
            b'0' if n == 0 => before_point -= i32::from(point),
            b'0' => {
                zeros += 1;
                before_point += i32::from(!point);
            }
            b'1'..=b'9' => {
                for _ in 0..zeros {
                    *digits.get_mut(n)? = b'0';
                    n += 1;
                }
                zeros = 0;
                *digits.get_mut(n)? = b;
                n += 1;
                before_point += i32::from(!point);
            }
            _ => return None,
        }
    }
    (n > 0).then_some((digits, n, before_point + exp))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Every float reads back as itself, with as few digits as std's
    /// shortest form. The digits are std's too, except at an exact tie
    /// between two last digits, where std rounds half up and Python's
    /// `repr` (and ours) half to even: `2**-25` is `2.9802322387695312e-08`
    /// in Python, `2.9802322387695313e-8` in std.
    #[test]
    fn floats_have_the_shortest_digits_and_read_back() {
        let mut ties = 0;
        for v in prela_testkit::floats_to_check(1, 250_000) {
            let ours = PythonFloat::new(v);
            let ours = ours.as_str();
            assert_eq!(
                ours.parse::<f64>().unwrap().to_bits(),
                v.to_bits(),
                "{ours}"
            );
            let std_form = format!("{:e}", v.abs());
            let (a, n, e) = decimal_parts(ours.trim_start_matches('-').as_bytes()).unwrap();
            let (b, m, f) = decimal_parts(std_form.as_bytes()).unwrap();
            let (a, b) = (&a[..n], &b[..m]);
            if a == b && e == f {
                continue;
            }
            // A tie: same length, same place, last digits one apart, ours even.
            ties += 1;
            assert!(
                n == m
                    && e == f
                    && a[..n - 1] == b[..m - 1]
                    && a[n - 1].abs_diff(b[m - 1]) == 1
                    && a[n - 1] % 2 == 0,
                "{ours} against std's {std_form}"
            );
        }
        assert!(ties > 0, "the edge cases have ties, such as 2**-25");
    }

    #[test]
    fn decimal_parts_of_each_form() {
        let parts = |t: &str| {
            decimal_parts(t.as_bytes())
                .map(|(d, n, e)| (String::from_utf8_lossy(&d[..n]).into_owned(), e))
        };
        assert_eq!(parts("123.45"), Some(("12345".into(), 3)));
        assert_eq!(parts("0.0001"), Some(("1".into(), -3)));
        assert_eq!(parts("100.0"), Some(("1".into(), 3)));
        assert_eq!(parts("1.05"), Some(("105".into(), 1)));
        assert_eq!(parts("1e16"), Some(("1".into(), 17)));
        assert_eq!(parts("1.5e-7"), Some(("15".into(), -6)));
        assert_eq!(parts("5e-324"), Some(("5".into(), -323)));
        assert_eq!(parts("2.5E+3"), Some(("25".into(), 4)));
        assert_eq!(
            parts("1000000000000000000000000000000.0"),
            Some(("1".into(), 31))
        );
        assert_eq!(parts("0.0"), None);
        assert_eq!(parts("1.2.3"), None);
        assert_eq!(parts("1e"), None);
        assert_eq!(parts("12345678901234567890123456"), None);
    }

    fn all_ascii_and_more() -> Vec<String> {
        let mut cases: Vec<String> = (0u8..=0x7f).map(|b| format!("a{}b", b as char)).collect();
        cases.extend(
            [
                "",
                "plain",
                "tab\there \"quoted\" back\\slash",
                "é",
                "naïve café",
                "日本語",
                "emoji 🦀 and 𝄞",
                "\u{7f}\u{80}\u{ffff}",
                "mixed\n日本\u{1}",
                "line separator \u{2028}",
            ]
            .map(String::from),
        );
        cases
    }

    #[test]
    fn string_escapes_as_serde_json_does() {
        for s in all_ascii_and_more() {
            let mut out = Vec::new();
            string(&mut out, &s);
            assert_eq!(out, serde_json::to_vec(&s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn ascii_string_escapes_as_python_json_dumps_does() {
        // What Python 3's json.dumps writes for these strings.
        for (s, python) in [
            ("plain", r#""plain""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("\u{8}\u{c}\n\r\t", r#""\b\f\n\r\t""#),
            ("\u{0}\u{1f}", r#""\u0000\u001f""#),
            ("\u{7f}", r#""\u007f""#),
            ("café", r#""caf\u00e9""#),
            ("日本", r#""\u65e5\u672c""#),
            ("🦀", r#""\ud83e\udd80""#),
            ("\u{ffff}", r#""\uffff""#),
        ] {
            let mut out = Vec::new();
            ascii_string(&mut out, s);
            assert_eq!(String::from_utf8(out).unwrap(), python, "{s:?}");
        }
    }

    #[test]
    fn ascii_string_is_ascii_and_reads_back() {
        for s in all_ascii_and_more() {
            let mut out = Vec::new();
            ascii_string(&mut out, &s);
            assert!(out.is_ascii(), "{s:?}");
            let back: String = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn integers_match_display() {
        let mut cases = vec![0i64, 1, 9, 10, 11, 99, 100, 101, 999, 1000, -1, -10, -100];
        cases.push(1_795_318_282_167_762_123);
        cases.extend([i64::MAX, i64::MIN, i64::MAX - 1, i64::MIN + 1]);
        let mut x = 1u64;
        for _ in 0..19 {
            cases.push(x as i64);
            cases.push(x as i64 - 1);
            cases.push(-(x as i64));
            x = x.wrapping_mul(10);
        }
        for n in cases {
            let mut out = Vec::new();
            integer(&mut out, n);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
        let mut out = Vec::new();
        decimal(&mut out, u64::MAX);
        assert_eq!(String::from_utf8(out).unwrap(), u64::MAX.to_string());
    }

    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        let mut out = Vec::new();
        hex(&mut out, &[0x00, 0x0f, 0xa5, 0xff]);
        assert_eq!(out, b"000fa5ff");
    }
}
