//! How messages are printed: readable blocks (AMI's own `Name: value` lines) or JSON lines,
//! to a standard output that may close under us (`ami tail | head`).

use std::io::Write;

use ami_proto::Message;
use ami_proto::config::ini::glob_match;
use serde_json::{Map, Value};

/// Writes `text` to standard output. A closed pipe (`ami action ... | head`) ends the process
/// quietly with status 0, as a Unix filter does; any other write error ends it with status 1.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("ami: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// `println!` through [`emit`]: quiet on a closed pipe.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::emit("\n") };
    ($($arg:tt)*) => { $crate::output::emit(&format!("{}\n", format_args!($($arg)*))) };
}

/// `print!` through [`emit`]: quiet on a closed pipe.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::emit(&format!($($arg)*)) };
}

/// Text of header bytes; invalid UTF-8 is shown with replacement characters.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A message as `Name: value` lines followed by a blank line (bare lines as they came).
pub fn block(m: &Message<'_>) -> String {
    let mut out = String::with_capacity(m.raw().len());
    for h in m.iter() {
        if h.is_bare() {
            out.push_str(&text(h.line()));
        } else {
            out.push_str(&text(h.name()));
            out.push_str(": ");
            out.push_str(&text(h.value()));
        }
        out.push('\n');
    }
    out
}

/// A message as one JSON object: header names as keys in order; a repeated header becomes an
/// array of its values; bare lines go under `"_lines"`.
pub fn json(m: &Message<'_>) -> Value {
    let mut obj = Map::new();
    let mut bare = Vec::new();
    for h in m.iter() {
        if h.is_bare() {
            bare.push(Value::String(text(h.line())));
            continue;
        }
        let (k, v) = (text(h.name()), Value::String(text(h.value())));
        match obj.get_mut(&k) {
            Some(Value::Array(a)) => a.push(v),
            Some(old) => {
                let first = old.take();
                *old = Value::Array(vec![first, v]);
            }
            None => {
                obj.insert(k, v);
            }
        }
    }
    if !bare.is_empty() {
        obj.insert("_lines".into(), Value::Array(bare));
    }
    Value::Object(obj)
}

/// Shell-style wildcard match (`*`, `?`), ASCII case-insensitive.
pub fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    glob_match(&pattern.to_ascii_lowercase(), &text.to_ascii_lowercase())
}

/// Test helper: hands the first message of `raw` (server output) to `f`.
#[cfg(test)]
pub fn with_message(raw: &[u8], f: impl FnOnce(Message<'_>)) {
    let mut d = ami_proto::Decoder::new(ami_proto::Role::Client);
    d.feed(raw);
    match d.next_frame() {
        Some(Ok(ami_proto::Frame::Message(m))) => f(m),
        other => panic!("not a message: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_json() {
        with_message(b"Event: UserEvent\r\nH: 1\r\nH: 2\r\nE: \r\n\r\n", |m| {
            assert_eq!(block(&m), "Event: UserEvent\nH: 1\nH: 2\nE: \n");
            assert_eq!(json(&m).to_string(), r#"{"Event":"UserEvent","H":["1","2"],"E":""}"#);
        });
    }

    #[test]
    fn wildcards() {
        assert!(wildcard(b"new*", b"Newchannel"));
        assert!(wildcard(b"*", b""));
        assert!(wildcard(b"PJSIP/10?-*", b"PJSIP/101-00000001"));
        assert!(!wildcard(b"PJSIP/10?-*", b"PJSIP/1010-00000001"));
        assert!(!wildcard(b"Hangup", b"HangupRequest"));
        assert!(wildcard(b"*a*b*", b"xxaxxbxx"));
        assert!(!wildcard(b"*a*b", b"xxaxxbxx"));
    }
}
