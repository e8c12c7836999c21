//! W3C Baggage: user key-value pairs that travel with a trace.

use std::fmt;
use std::sync::Arc;

/// Most members a baggage header carries (W3C Baggage limit).
pub const MAX_MEMBERS: usize = 64;
/// Most bytes of a baggage header (W3C Baggage limit).
pub const MAX_BYTES: usize = 8192;

/// One baggage member: a value and optional properties (`;k=v;flag`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaggageEntry {
    value: String,
    properties: String,
}

impl BaggageEntry {
    /// The decoded value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The properties as written after the value, without the leading `;`
    /// (empty if none).
    pub fn properties(&self) -> &str {
        &self.properties
    }
}

/// An immutable set of baggage members. Cloning is cheap.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Baggage(Option<Arc<[(String, BaggageEntry)]>>);

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(is_tchar)
}

fn is_baggage_octet(c: u8) -> bool {
    matches!(c, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// Everything outside the baggage octets, and `%` itself: what a value's
/// encoding escapes. `CONTROLS` holds 0x00–0x1F and DEL; non-ASCII is
/// always escaped.
const ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%');

/// Percent-decodes a value; `None` on a bad escape, a character outside the
/// baggage octets, or invalid UTF-8.
fn decode(v: &str) -> Option<String> {
    let octets = v.bytes().all(|c| c == b'%' || is_baggage_octet(c));
    let escapes = v.split('%').skip(1).all(|after| {
        after
            .as_bytes()
            .get(..2)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if !(octets && escapes) {
        return None;
    }
    percent_encoding::percent_decode_str(v)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// Percent-encodes everything outside the baggage octets, and `%` itself.
fn encode(v: &str, out: &mut String) {
    out.extend(percent_encoding::utf8_percent_encode(v, ESCAPED));
}

fn valid_properties(props: &str) -> bool {
    props.split(';').all(|p| {
        let p = p.trim_matches(|c| c == ' ' || c == '\t');
        match p.split_once('=') {
            None => valid_key(p),
            Some((k, v)) => {
                valid_key(k.trim_end_matches([' ', '\t']))
                    && decode(v.trim_start_matches([' ', '\t'])).is_some()
            }
        }
    })
}

/// Error from building baggage in code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaggageError(String);

impl fmt::Display for BaggageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BaggageError {}

impl Baggage {
    /// No members.
    pub const EMPTY: Baggage = Baggage(None);

    /// Parses a `baggage` header value (several headers joined with `,`).
    ///
    /// Invalid members are skipped; members past 64, or past 8192 bytes of
    /// header, are dropped (the W3C limits). Values are percent-decoded.
    pub fn from_header(header: &str) -> Self {
        let mut members: Vec<(String, BaggageEntry)> = Vec::new();
        let mut bytes = 0usize;
        for raw in header.split(',') {
            let member = raw.trim_matches(|c| c == ' ' || c == '\t');
            if member.is_empty() {
                continue;
            }
            let (kv, props) = match member.split_once(';') {
                Some((kv, p)) => (kv, p.trim_matches(|c| c == ' ' || c == '\t')),
                None => (member, ""),
            };
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let k = k.trim_end_matches([' ', '\t']);
            let v = v.trim_matches(|c| c == ' ' || c == '\t');
            if !valid_key(k) || (!props.is_empty() && !valid_properties(props)) {
                continue;
            }
            let Some(value) = decode(v) else {
                continue;
            };
            let size = member.len() + usize::from(!members.is_empty());
            if members.len() == MAX_MEMBERS || bytes + size > MAX_BYTES {
                break;
            }
            bytes += size;
            let entry = BaggageEntry {
                value,
                properties: props.to_owned(),
            };
            match members.iter_mut().find(|(mk, _)| mk == k) {
                Some(slot) => slot.1 = entry,
                None => members.push((k.to_owned(), entry)),
            }
        }
        Self::from_vec(members)
    }

    fn from_vec(members: Vec<(String, BaggageEntry)>) -> Self {
        if members.is_empty() {
            Baggage(None)
        } else {
            Baggage(Some(members.into()))
        }
    }

    /// The members in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &BaggageEntry)> {
        self.0
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .map(|(k, e)| (k.as_str(), e))
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.0.as_deref().map_or(0, <[_]>::len)
    }

    /// `true` with no member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, e)| e.value())
    }

    /// New baggage with `key=value` set (replacing an existing value). The key
    /// must be an HTTP token; any value is allowed (it is percent-encoded on
    /// the wire).
    pub fn with(&self, key: &str, value: &str) -> Result<Self, BaggageError> {
        if !valid_key(key) {
            return Err(BaggageError(format!(
                "invalid baggage key {key:?}: expected an HTTP token (letters, digits, !#$%&'*+-.^_`|~)"
            )));
        }
        let mut members: Vec<(String, BaggageEntry)> = self
            .iter()
            .filter(|(k, _)| *k != key)
            .map(|(k, e)| (k.to_owned(), e.clone()))
            .collect();
        if members.len() >= MAX_MEMBERS {
            return Err(BaggageError(format!(
                "baggage already has {MAX_MEMBERS} members, the W3C limit"
            )));
        }
        members.push((
            key.to_owned(),
            BaggageEntry {
                value: value.to_owned(),
                properties: String::new(),
            },
        ));
        Ok(Self::from_vec(members))
    }

    /// The header value, percent-encoded, within the W3C limits (members that
    /// would exceed 8192 bytes are left out).
    pub fn header(&self) -> String {
        let mut out = String::new();
        let mut item = String::new();
        for (k, e) in self.iter() {
            item.clear();
            item.push_str(k);
            item.push('=');
            encode(e.value(), &mut item);
            if !e.properties.is_empty() {
                item.push(';');
                item.push_str(&e.properties);
            }
            let sep = usize::from(!out.is_empty());
            if out.len() + sep + item.len() > MAX_BYTES {
                continue;
            }
            if sep == 1 {
                out.push(',');
            }
            out.push_str(&item);
        }
        out
    }
}

impl fmt::Debug for Baggage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, e)| (k, e.value())))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spec_examples() {
        let b = Baggage::from_header(
            "key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue",
        );
        assert_eq!(b.len(), 3);
        assert_eq!(b.get("key1"), Some("value1"));
        assert_eq!(b.get("key2"), Some("value2"));
        assert_eq!(
            b.iter().next().unwrap().1.properties(),
            "property1;property2"
        );
        let b = Baggage::from_header("userId=Am%C3%A9lie,serverNode=DF%2028");
        assert_eq!(b.get("userId"), Some("Amélie"));
        assert_eq!(b.get("serverNode"), Some("DF 28"));
    }

    #[test]
    fn skips_invalid_members() {
        let b = Baggage::from_header("good=1,bad key=2,noeq,v=a b,pct=%zz,x=%FF,ok=2");
        assert_eq!(b.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["good", "ok"]);
    }

    #[test]
    fn limits() {
        let many: Vec<String> = (0..100).map(|i| format!("k{i}=v")).collect();
        assert_eq!(Baggage::from_header(&many.join(",")).len(), MAX_MEMBERS);
        let big = "x".repeat(5000);
        let b = Baggage::from_header(&format!("a={big},b={big},c=1"));
        assert_eq!(b.len(), 1);
        assert!(b.header().len() <= MAX_BYTES);
    }

    #[test]
    fn encodes_on_write() {
        let b = Baggage::EMPTY.with("user", "Amélie, 50% \"x\";").unwrap();
        let h = b.header();
        assert_eq!(h, "user=Am%C3%A9lie%2C%2050%25%20%22x%22%3B");
        assert_eq!(
            Baggage::from_header(&h).get("user"),
            Some("Amélie, 50% \"x\";")
        );
        assert!(Baggage::EMPTY.with("bad key", "v").is_err());
    }
}
