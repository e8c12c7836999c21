//! Attribute keys and values.
//!
//! Values cover everything the Python SDK allows in an attribute (any JSON
//! value): scalars, arrays and nested maps, with map order kept.

use std::borrow::Cow;
use std::fmt;

/// A string that is either `'static` (no allocation) or owned.
pub type Str = Cow<'static, str>;

/// An attribute key such as `gen_ai.request.model`.
#[derive(Clone, Eq, PartialOrd, Ord)]
pub struct Key(Str);

/// Equal when the text is. Setting an attribute looks for its key among
/// the span's, and keys of one length often share a long prefix
/// (`gen_ai.usage.output_tokens`, `gen_ai.request.temperature`): the last
/// bytes are compared first, inline, before the call that compares all.
impl PartialEq for Key {
    #[inline]
    fn eq(&self, other: &Key) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        a.len() == b.len() && a.last() == b.last() && a == b
    }
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Key {
    /// Makes a key; `&'static str` keys allocate nothing.
    pub fn new(key: impl Into<Str>) -> Self {
        Key(key.into())
    }

    /// Makes a key from a static string in a `const` context.
    pub const fn from_static(key: &'static str) -> Self {
        Key(Cow::Borrowed(key))
    }

    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `true` when the key owns no memory (it was a `&'static str`).
    pub(crate) fn is_borrowed(&self) -> bool {
        matches!(self.0, Cow::Borrowed(_))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&'static str> for Key {
    fn from(s: &'static str) -> Self {
        Key(Cow::Borrowed(s))
    }
}

/// A copy of the string.
impl From<&String> for Key {
    fn from(s: &String) -> Self {
        Key(Cow::Owned(s.clone()))
    }
}

impl From<String> for Key {
    fn from(s: String) -> Self {
        Key(Cow::Owned(s))
    }
}

impl From<Str> for Key {
    fn from(s: Str) -> Self {
        Key(s)
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// An attribute value: any JSON value, with maps kept in insertion order.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// JSON `null` (Python `None`).
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    I64(i64),
    /// A 64-bit float.
    F64(f64),
    /// A string.
    String(Str),
    /// A list of values (values of several types are allowed, as in JSON).
    Array(Vec<Value>),
    /// A map from string keys to values, in insertion order.
    Map(Vec<(Str, Value)>),
}

impl Value {
    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an integer value.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::I64(v) => Some(*v),
            _ => None,
        }
    }

    /// The number as a float, if this is a float or an integer.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::F64(v) => Some(*v),
            Value::I64(v) => Some(*v as f64),
            _ => None,
        }
    }

    /// The boolean, if this is a boolean value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(v) => Some(*v),
            _ => None,
        }
    }

    /// `true` for an array or a map (a value that may nest).
    #[inline]
    pub fn is_nested(&self) -> bool {
        matches!(self, Value::Array(_) | Value::Map(_))
    }

    /// Replaces every array or map nested deeper than [`MAX_DEPTH`] levels
    /// with the string [`TOO_DEEP`]; returns whether anything was cut. The
    /// parts cut off are dropped without recursion, so a value nested
    /// 10,000 deep cannot overflow a stack here, and nothing after (drop,
    /// redaction, encoding, all recursive) sees more than `MAX_DEPTH`
    /// levels. The tracer calls this on every attribute and event value.
    pub fn cut_depth(&mut self) -> bool {
        // Iterative: (value, its depth), depth 1 for `self`.
        let mut cut = false;
        let mut todo: Vec<(&mut Value, usize)> = vec![(self, 1)];
        while let Some((v, depth)) = todo.pop() {
            let children: Vec<&mut Value> = match v {
                Value::Array(items) => items.iter_mut().collect(),
                Value::Map(entries) => entries.iter_mut().map(|(_, v)| v).collect(),
                _ => continue,
            };
            for child in children {
                if !child.is_nested() {
                    continue;
                }
                if depth >= MAX_DEPTH {
                    dispose(std::mem::replace(
                        child,
                        Value::String(Cow::Borrowed(TOO_DEEP)),
                    ));
                    cut = true;
                } else {
                    todo.push((child, depth + 1));
                }
            }
        }
        cut
    }

    /// Cuts every string in this value (including inside arrays and maps) to
    /// at most `max_chars` characters. Returns whether anything was cut.
    pub fn truncate_strings(&mut self, max_chars: usize) -> bool {
        match self {
            Value::String(s) => truncate_str(s, max_chars),
            Value::Array(items) => {
                let mut any = false;
                for item in items {
                    any |= item.truncate_strings(max_chars);
                }
                any
            }
            Value::Map(entries) => {
                let mut any = false;
                for (_, v) in entries {
                    any |= v.truncate_strings(max_chars);
                }
                any
            }
            _ => false,
        }
    }
}

/// Levels of arrays and maps an attribute value keeps (the value itself is
/// level 1); deeper ones are replaced with [`TOO_DEEP`].
///
/// Set by what receivers decode: in OTLP protobuf a map level is three
/// messages deep (`AnyValue`, `KeyValueList`, `KeyValue`) under seven for
/// the request, span and event, and prost and the C++ and Java protobuf
/// libraries refuse a message nested over 100 deep, the whole batch with
/// it. 24 levels are 79 deep; 32 were 103.
pub const MAX_DEPTH: usize = 24;

/// What replaces a part of a value nested deeper than [`MAX_DEPTH`].
pub const TOO_DEEP: &str = "[nested deeper than 24 levels]";

/// Drops `v` without recursion (however deep it is nested).
pub fn dispose(v: Value) {
    let mut todo = vec![v];
    while let Some(v) = todo.pop() {
        match v {
            Value::Array(items) => todo.extend(items),
            Value::Map(entries) => todo.extend(entries.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

/// Cuts `s` to at most `max_chars` characters (on a char boundary). Returns
/// whether anything was cut.
fn truncate_str(s: &mut Str, max_chars: usize) -> bool {
    if s.len() <= max_chars {
        return false; // fewer bytes than the limit means fewer chars too
    }
    match s.char_indices().nth(max_chars) {
        Some((byte_idx, _)) => {
            let cut = s[..byte_idx].to_owned();
            *s = Cow::Owned(cut);
            true
        }
        None => false,
    }
}

/// Prints the value as JSON (strings quoted, maps in order).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match crate::json::value_to_string(self) {
            Ok(s) => f.write_str(&s),
            Err(_) => Err(fmt::Error),
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::I64(i64::from(v))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

/// Integers above `i64::MAX` become floats (JSON numbers), losing precision.
impl From<u64> for Value {
    fn from(v: u64) -> Self {
        match i64::try_from(v) {
            Ok(i) => Value::I64(i),
            Err(_) => Value::F64(v as f64),
        }
    }
}

/// Integers above `i64::MAX` become floats (JSON numbers), losing precision.
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::from(v as u64)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::F64(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::F64(f64::from(v))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<&'static str> for Value {
    fn from(v: &'static str) -> Self {
        Value::String(Cow::Borrowed(v))
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(Cow::Owned(v))
    }
}

impl From<Str> for Value {
    fn from(v: Str) -> Self {
        Value::String(v)
    }
}

/// A copy of the string: `span.set_attribute("user.id", &user_id)` works
/// with a borrowed `String`.
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::String(Cow::Owned(v.clone()))
    }
}

/// JSON as it is: objects become maps (in their order), numbers integers
/// when they fit an `i64`, else floats.
impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        from_json(v, 1)
    }
}

/// The conversion, cut at [`MAX_DEPTH`] levels (a `serde_json::Value`
/// built in code may be nested without bound).
fn from_json(v: serde_json::Value, depth: usize) -> Value {
    if depth > MAX_DEPTH && (v.is_array() || v.is_object()) {
        return Value::String(Cow::Borrowed(TOO_DEEP));
    }
    {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::I64(i),
                None => Value::F64(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(Cow::Owned(s)),
            serde_json::Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| from_json(v, depth + 1)).collect())
            }
            serde_json::Value::Object(map) => Value::Map(
                map.into_iter()
                    .map(|(k, v)| (Cow::Owned(k), from_json(v, depth + 1)))
                    .collect(),
            ),
        }
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::Array(v.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// A key and its value.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct KeyValue {
    /// The key.
    pub key: Key,
    /// The value.
    pub value: Value,
}

impl KeyValue {
    /// Makes a key-value pair.
    pub fn new(key: impl Into<Key>, value: impl Into<Value>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_equal_exactly_when_their_text_is() {
        use std::hash::{BuildHasher, RandomState};
        let owned = |k: &str| Key::new(k.to_owned());
        let same = [
            (
                Key::new("gen_ai.usage.output_tokens"),
                owned("gen_ai.usage.output_tokens"),
            ),
            (Key::new(""), owned("")),
        ];
        let hasher = RandomState::new();
        for (a, b) in &same {
            assert_eq!(a, b);
            assert_eq!(b, a);
            assert_eq!(hasher.hash_one(a), hasher.hash_one(b), "{a:?}");
            assert_eq!(hasher.hash_one(a), hasher.hash_one(a.as_str()), "{a:?}");
        }
        let different = [
            // Same length, different last byte.
            ("gen_ai.usage.output_tokens", "gen_ai.request.temperature"),
            // Same length and last byte, different before it.
            ("gen_ai.usage.input_tokens", "gen_ai.usage.inpux_tokens"),
            ("a", "ab"),
            ("", "a"),
        ];
        for (a, b) in different {
            assert_ne!(Key::new(a), owned(b));
            assert_ne!(owned(b), Key::new(a));
        }
    }

    #[test]
    fn conversions() {
        assert_eq!(Value::from(3u8), Value::I64(3));
        assert_eq!(Value::from(u64::MAX), Value::F64(u64::MAX as f64));
        assert_eq!(Value::from(Some("x")), Value::String("x".into()));
        assert_eq!(Value::from(None::<i64>), Value::Null);
        assert_eq!(
            Value::from(vec![1i64, 2]),
            Value::Array(vec![Value::I64(1), Value::I64(2)])
        );
        assert_eq!(Value::from(2i64).as_f64(), Some(2.0));
    }

    #[test]
    fn truncation_is_char_safe() {
        let mut v = Value::from("héllo wörld".to_owned());
        assert!(v.truncate_strings(4));
        assert_eq!(v.as_str(), Some("héll"));
        let mut v = Value::from("ok");
        assert!(!v.truncate_strings(4));
        let mut v = Value::Array(vec!["abcdef".into(), 1i64.into()]);
        assert!(v.truncate_strings(2));
        assert_eq!(v, Value::Array(vec!["ab".into(), 1i64.into()]));
    }
}
