//! [`Redactor`]: a span processor that scrubs secrets and personal data
//! before any exporter sees a span.

use std::fmt;
use std::time::Instant;

use prela_core::value::Str;
use prela_core::{ExportError, KeyValue, SpanData, SpanProcessor, Status, Value};

/// What replaces a masked value.
pub const MASK: &str = "[REDACTED]";

/// What to scrub. [`RedactionRules::default`] masks secrets (bearer tokens,
/// `sk-`/`pk_`-style API keys, `Authorization` values, AWS access keys) and
/// drops `authorization`, `cookie`, `password`, `api_key`-like attribute
/// keys; e-mail addresses and card numbers are off until enabled.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedactionRules {
    /// Attribute keys dropped entirely (matched case-insensitively; a key
    /// matches when it equals an entry or ends with `.` + entry).
    pub drop_keys: Vec<String>,
    /// Mask bearer tokens, API keys and `Authorization` values.
    pub secrets: bool,
    /// Mask e-mail addresses.
    pub emails: bool,
    /// Mask card numbers (13 to 19 digits passing the Luhn check).
    pub card_numbers: bool,
    /// Extra literal strings to mask wherever they appear.
    pub literals: Vec<String>,
}

impl Default for RedactionRules {
    fn default() -> Self {
        RedactionRules {
            drop_keys: [
                "authorization",
                "cookie",
                "set-cookie",
                "password",
                "passwd",
                "secret",
                "api_key",
                "apikey",
                "x-api-key",
                "access_token",
                "refresh_token",
            ]
            .map(str::to_owned)
            .to_vec(),
            secrets: true,
            emails: false,
            card_numbers: false,
            literals: Vec::new(),
        }
    }
}

impl RedactionRules {
    /// The defaults plus e-mail addresses and card numbers.
    pub fn strict() -> Self {
        RedactionRules {
            emails: true,
            card_numbers: true,
            ..RedactionRules::default()
        }
    }

    fn drops(&self, key: &str) -> bool {
        self.drop_keys.iter().any(|d| {
            key.eq_ignore_ascii_case(d)
                || (key.len() > d.len()
                    && key.as_bytes()[key.len() - d.len() - 1] == b'.'
                    && key[key.len() - d.len()..].eq_ignore_ascii_case(d))
        })
    }

    /// `text` with every match masked, or `None` when nothing matched.
    pub fn scrub(&self, text: &str) -> Option<String> {
        let mut spans: Vec<(usize, usize)> = Vec::new();
        if self.secrets {
            secrets(text, &mut spans);
        }
        if self.emails {
            emails(text, &mut spans);
        }
        if self.card_numbers {
            cards(text, &mut spans);
        }
        for lit in self.literals.iter().filter(|l| !l.is_empty()) {
            let mut from = 0;
            while let Some(i) = text[from..].find(lit.as_str()) {
                spans.push((from + i, from + i + lit.len()));
                from += i + lit.len();
            }
        }
        if spans.is_empty() {
            return None;
        }
        spans.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (s, e) in spans {
            if s < at {
                at = at.max(e);
                continue;
            }
            out.push_str(&text[at..s]);
            out.push_str(MASK);
            at = e;
        }
        out.push_str(&text[at.min(text.len())..]);
        Some(out)
    }

    fn value(&self, v: &mut Value) -> bool {
        match v {
            Value::String(s) => match self.scrub(s) {
                Some(clean) => {
                    *s = Str::Owned(clean);
                    true
                }
                None => false,
            },
            Value::Array(items) => items.iter_mut().fold(false, |acc, i| self.value(i) | acc),
            Value::Map(entries) => {
                let before = entries.len();
                entries.retain(|(k, _)| !self.drops(k));
                let dropped = entries.len() != before;
                entries
                    .iter_mut()
                    .fold(dropped, |acc, (_, v)| self.value(v) | acc)
            }
            _ => false,
        }
    }

    fn attributes(&self, attrs: &mut Vec<KeyValue>) -> u32 {
        let before = attrs.len();
        attrs.retain(|kv| !self.drops(kv.key.as_str()));
        let dropped = u32::try_from(before - attrs.len()).unwrap_or(u32::MAX);
        for kv in attrs.iter_mut() {
            self.value(&mut kv.value);
        }
        dropped
    }

    /// Scrubs a span in place: attributes, event attributes, the status
    /// message. Dropped attributes are added to the dropped counts.
    pub fn apply(&self, span: &mut SpanData) {
        span.dropped_attributes_count = span
            .dropped_attributes_count
            .saturating_add(self.attributes(&mut span.attributes));
        for e in &mut span.events {
            e.dropped_attributes_count = e
                .dropped_attributes_count
                .saturating_add(self.attributes(&mut e.attributes));
        }
        if let Status::Error { message } = &mut span.status {
            if let Some(clean) = self.scrub(message) {
                *message = Str::Owned(clean);
            }
        }
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'+' | b'/' | b'=')
}

/// The end of a token starting at `i`.
fn token_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_token_byte(b[i]) {
        i += 1;
    }
    i
}

/// API-key prefixes and the shortest whole token that counts as a key.
const KEY_PREFIXES: [(&[u8], usize); 9] = [
    (b"sk-", 16),
    (b"sk_live_", 16),
    (b"sk_test_", 16),
    (b"pk_live_", 16),
    (b"rk_live_", 16),
    (b"ghp_", 20),
    (b"github_pat_", 20),
    (b"xoxb-", 16),
    (b"akia", 16),
];

fn starts_with_ignore_case(hay: &[u8], prefix: &[u8]) -> bool {
    hay.len() >= prefix.len() && hay[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// One pass over the token starts: `Bearer <t>` / `Basic <t>` credentials
/// and tokens with a known API-key prefix. No allocation.
fn secrets(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    if b.len() < 8 {
        return; // shorter than any secret we mask
    }
    let mut i = 0;
    while i < b.len() {
        if !is_token_byte(b[i]) {
            i += 1;
            continue;
        }
        let end = token_end(b, i);
        let token = &b[i..end];
        if token.eq_ignore_ascii_case(b"bearer") || token.eq_ignore_ascii_case(b"basic") {
            if end < b.len() && b[end] == b' ' {
                let (s, e) = (end + 1, token_end(b, end + 1));
                if e - s >= 8 {
                    out.push((s, e));
                    i = e;
                    continue;
                }
            }
        } else if token.len() >= 16 {
            // A key may follow `=` or `/` inside the token (api_key=sk-...).
            let mut k = i;
            while k < end {
                if (k == i || matches!(b[k - 1], b'=' | b'/'))
                    && KEY_PREFIXES
                        .iter()
                        .any(|(p, min)| end - k >= *min && starts_with_ignore_case(&b[k..end], p))
                {
                    out.push((k, end));
                    break;
                }
                k += 1;
            }
        }
        i = end;
    }
}

fn emails(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let local = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-');
    let domain = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-');
    for (at, _) in text.match_indices('@') {
        let mut s = at;
        while s > 0 && local(b[s - 1]) {
            s -= 1;
        }
        let mut e = at + 1;
        while e < b.len() && domain(b[e]) {
            e += 1;
        }
        while e > at + 1 && b[e - 1] == b'.' {
            e -= 1;
        }
        let dom = &text[at + 1..e];
        if s < at
            && dom.contains('.')
            && !dom.starts_with('.')
            && dom.rsplit('.').next().is_some_and(|tld| tld.len() >= 2)
        {
            out.push((s, e));
        }
    }
}

fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(*d);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

fn cards(text: &str, out: &mut Vec<(usize, usize)>) {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        // Digits with single spaces or dashes between groups.
        let (start, mut j) = (i, i);
        let mut digits = Vec::with_capacity(19);
        while j < b.len() && digits.len() < 20 {
            if b[j].is_ascii_digit() {
                digits.push(b[j] - b'0');
                j += 1;
            } else if matches!(b[j], b' ' | b'-')
                && j + 1 < b.len()
                && b[j + 1].is_ascii_digit()
                && j > start
                && b[j - 1].is_ascii_digit()
            {
                j += 1;
            } else {
                break;
            }
        }
        if (13..=19).contains(&digits.len()) && luhn(&digits) {
            out.push((start, j));
        }
        i = j.max(i + 1);
    }
}

/// Scrubs every span with [`RedactionRules`], then hands it to the inner
/// processor. Put it first: `Redactor::new(BatchProcessor::builder(..)..)`.
pub struct Redactor<P> {
    rules: RedactionRules,
    inner: P,
}

impl<P> fmt::Debug for Redactor<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl<P: SpanProcessor> Redactor<P> {
    /// The default rules in front of `inner`.
    pub fn new(inner: P) -> Self {
        Self::with_rules(RedactionRules::default(), inner)
    }

    /// Custom rules in front of `inner`.
    pub fn with_rules(rules: RedactionRules, inner: P) -> Self {
        Redactor { rules, inner }
    }
}

impl<P: SpanProcessor> SpanProcessor for Redactor<P> {
    fn on_end(&self, mut span: SpanData) {
        self.rules.apply(&mut span);
        self.inner.on_end(span);
    }

    fn force_flush(&self, deadline: Instant) -> Result<(), ExportError> {
        self.inner.force_flush(deadline)
    }

    fn shutdown(&self, deadline: Instant) -> Result<(), ExportError> {
        self.inner.shutdown(deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(rules: &RedactionRules, t: &str) -> String {
        rules.scrub(t).unwrap_or_else(|| t.to_owned())
    }

    #[test]
    fn secrets_are_masked_by_default() {
        let r = RedactionRules::default();
        assert_eq!(
            s(&r, "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def"),
            "Authorization: Bearer [REDACTED]"
        );
        assert_eq!(
            s(&r, "key=sk-proj-AbCdEf0123456789xyz done"),
            "key=[REDACTED] done"
        );
        assert_eq!(
            s(&r, "stripe sk_live_51H8abcdefghijklmno"),
            "stripe [REDACTED]"
        );
        assert_eq!(
            s(&r, "aws AKIAIOSFODNN7EXAMPLE here"),
            "aws [REDACTED] here"
        );
        assert_eq!(
            s(&r, "token ghp_0123456789abcdefghijABCDEFGHIJ"),
            "token [REDACTED]"
        );
        // Not secrets: short, or the prefix inside a word.
        for keep in [
            "task-sk-1",
            "sk-short",
            "the basic idea",
            "desk-1234567890123456",
            "bearer of news",
        ] {
            assert_eq!(s(&r, keep), keep);
        }
        assert!(
            r.scrub("a@b.com 4111 1111 1111 1111").is_none(),
            "e-mail and cards are opt-in"
        );
    }

    #[test]
    fn emails_and_cards_when_enabled() {
        let r = RedactionRules::strict();
        assert_eq!(
            s(&r, "write to ada.lovelace+ai@example.co.uk."),
            "write to [REDACTED]."
        );
        assert_eq!(s(&r, "card 4111 1111 1111 1111 ok"), "card [REDACTED] ok");
        assert_eq!(s(&r, "card 4111-1111-1111-1111"), "card [REDACTED]");
        assert_eq!(
            s(&r, "order 4111111111111112"),
            "order 4111111111111112",
            "fails Luhn"
        );
        assert_eq!(s(&r, "id 1234567890"), "id 1234567890", "too short");
        assert_eq!(s(&r, "not@mail"), "not@mail");
    }

    #[test]
    fn keys_drop_case_insensitively_and_by_suffix() {
        let r = RedactionRules::default();
        assert!(r.drops("Authorization"));
        assert!(r.drops("http.request.header.authorization"));
        assert!(r.drops("db.PASSWORD"));
        assert!(!r.drops("password_policy"));
        assert!(!r.drops("tokens"));
    }
}
