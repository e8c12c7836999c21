//! Values shown as the Python SDK's console shows them (`repr` / `str`), so
//! Rust and Python traces read the same.

use std::fmt::Write;

use prela_core::Value;
use prela_core::json::write_python_float;

/// Python `repr(s)` of a string.
pub(crate) fn repr_str(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Python `repr(value)`.
pub(crate) fn repr(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::I64(i) => {
            let _ = write!(out, "{i}");
        }
        Value::F64(f) => write_python_float(out, *f),
        Value::String(s) => repr_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr(out, item);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_str(out, k);
                out.push_str(": ");
                repr(out, item);
            }
            out.push('}');
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// Python `str(value)`: strings bare, everything else as `repr`.
pub(crate) fn str_of(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => out.push_str(s),
        other => repr(out, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(v: Value) -> String {
        let mut s = String::new();
        repr(&mut s, &v);
        s
    }

    #[test]
    fn python_reprs() {
        assert_eq!(r("it's".into()), "\"it's\"");
        assert_eq!(r("say \"hi\" it's".into()), "'say \"hi\" it\\'s'");
        assert_eq!(r("a\nb\\".into()), "'a\\nb\\\\'");
        assert_eq!(r(Value::F64(0.0)), "0.0");
        assert_eq!(r(Value::Bool(true)), "True");
        assert_eq!(
            r(Value::Map(vec![(
                "k".into(),
                Value::Array(vec![Value::Null, 1i64.into()])
            )])),
            "{'k': [None, 1]}"
        );
    }
}
