//! Encoding: actions, responses and events to bytes, with header injection made impossible.
//!
//! Every message is written as `Name: value\r\n` lines and a final `\r\n`, exactly the bytes
//! Asterisk writes (one space after the colon, an empty value written as `Name: `). Every name and
//! value is checked first, and a message with a bad field is refused whole with an
//! [`EncodeError`] saying which field and which byte:
//!
//! * CR, LF and NUL are refused everywhere: they would end the line or the message early, which
//!   is how header injection works (`Secret: x\r\nAction: Command`).
//! * A name must be non-empty, contain no `:` and not begin or end with a blank; otherwise the
//!   peer would read a different name.
//! * In an action (read by a server, which skips every blank after the colon) a value may not
//!   start with a blank, because Asterisk would silently drop it.
//!
//! ```
//! use ami_proto::encode::{Action, EncodeErrorKind};
//!
//! let ping = Action::new("Ping").with("ActionID", "42");
//! assert_eq!(ping.to_bytes()?, b"Action: Ping\r\nActionID: 42\r\n\r\n");
//!
//! let evil = Action::new("Login").with("Username", "admin").with("Secret", "x\r\nAction: Command");
//! let err = evil.to_bytes().unwrap_err();
//! assert_eq!(err.kind, EncodeErrorKind::ForbiddenByteInValue(b'\r'));
//! assert_eq!(err.field, 2); // the Secret header (0 is the Action line)
//! # Ok::<(), ami_proto::encode::EncodeError>(())
//! ```
//!
//! For hot paths there is [`MessageWriter`], which writes straight into a caller's `Vec<u8>` and
//! rolls the partial message back if it is dropped unfinished.

use core::fmt;

use crate::frame::Role;

/// What is wrong with a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EncodeErrorKind {
    /// The name is empty.
    EmptyName,
    /// The name contains a colon, which would move the name/value split.
    ColonInName,
    /// The name begins or ends with a blank (a byte in `0x01..=0x20`).
    BlankAroundName,
    /// The name contains CR, LF or NUL (the byte is given).
    ForbiddenByteInName(u8),
    /// The value contains CR, LF or NUL (the byte is given).
    ForbiddenByteInValue(u8),
    /// An action value begins with a blank, which the server would drop.
    LeadingBlankInValue,
}

/// A field the encoder refused, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EncodeError {
    /// What is wrong.
    pub kind: EncodeErrorKind,
    /// Index of the field in the message: 0 is the first line (`Action:`, `Response:`,
    /// `Event:`), 1 the first header after it, and so on.
    pub field: usize,
    /// Byte offset of the fault in the name or value.
    pub offset: usize,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            EncodeErrorKind::EmptyName => "empty header name".to_string(),
            EncodeErrorKind::ColonInName => "colon in header name".to_string(),
            EncodeErrorKind::BlankAroundName => "blank at the edge of a header name".to_string(),
            EncodeErrorKind::ForbiddenByteInName(b) => format!("byte 0x{b:02x} in header name"),
            EncodeErrorKind::ForbiddenByteInValue(b) => format!("byte 0x{b:02x} in header value"),
            EncodeErrorKind::LeadingBlankInValue => {
                "action value starts with a blank the server would drop".to_string()
            }
        };
        write!(f, "{what} (field {}, byte {})", self.field, self.offset)
    }
}

impl std::error::Error for EncodeError {}

fn is_blank(b: u8) -> bool {
    (0x01..=0x20).contains(&b)
}

fn forbidden(b: u8) -> bool {
    matches!(b, b'\r' | b'\n' | 0)
}

/// Checks a header name. Returns the fault and its offset.
pub fn check_name(name: &[u8]) -> Result<(), (EncodeErrorKind, usize)> {
    if name.is_empty() {
        return Err((EncodeErrorKind::EmptyName, 0));
    }
    if let Some(i) = name.iter().position(|&b| forbidden(b)) {
        return Err((EncodeErrorKind::ForbiddenByteInName(name[i]), i));
    }
    if let Some(i) = memchr::memchr(b':', name) {
        return Err((EncodeErrorKind::ColonInName, i));
    }
    if name.first().copied().is_some_and(is_blank) {
        return Err((EncodeErrorKind::BlankAroundName, 0));
    }
    if name.last().copied().is_some_and(is_blank) {
        return Err((EncodeErrorKind::BlankAroundName, name.len() - 1));
    }
    Ok(())
}

/// Checks a header value for a message that `reader` will decode. Returns the fault and its
/// offset.
pub fn check_value(value: &[u8], reader: Role) -> Result<(), (EncodeErrorKind, usize)> {
    if let Some(i) = value.iter().position(|&b| forbidden(b)) {
        return Err((EncodeErrorKind::ForbiddenByteInValue(value[i]), i));
    }
    if reader == Role::Server && value.first().copied().is_some_and(is_blank) {
        return Err((EncodeErrorKind::LeadingBlankInValue, 0));
    }
    Ok(())
}

/// Checks `name: value` (field number `field` of its message, for the error) for `reader` and
/// appends it with its CRLF, or appends nothing.
pub(crate) fn append_header(
    out: &mut Vec<u8>,
    name: &[u8],
    value: &[u8],
    reader: Role,
    field: usize,
) -> Result<(), EncodeError> {
    check_name(name).map_err(|(kind, offset)| EncodeError { kind, field, offset })?;
    check_value(value, reader).map_err(|(kind, offset)| EncodeError { kind, field, offset })?;
    out.reserve(name.len() + value.len() + 4);
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Writes one message straight into a caller's buffer.
///
/// The first line is written by the constructor; [`MessageWriter::header`] appends fields; and
/// [`MessageWriter::finish`] writes the blank line. A refused field writes nothing; dropping the
/// writer without `finish` removes everything it wrote, so a buffer never holds half a message.
///
/// ```
/// use ami_proto::encode::MessageWriter;
///
/// let mut out = Vec::new();
/// let mut w = MessageWriter::response(&mut out, "Success")?;
/// w.header("ActionID", "7")?.header("Ping", "Pong")?;
/// w.finish();
/// assert_eq!(out, b"Response: Success\r\nActionID: 7\r\nPing: Pong\r\n\r\n");
/// # Ok::<(), ami_proto::encode::EncodeError>(())
/// ```
#[derive(Debug)]
pub struct MessageWriter<'b> {
    out: &'b mut Vec<u8>,
    mark: usize,
    fields: usize,
    reader: Role,
    finished: bool,
}

impl<'b> MessageWriter<'b> {
    /// Starts a message whose first line is `name: value`, to be read by `reader`.
    pub fn start(
        out: &'b mut Vec<u8>,
        name: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        reader: Role,
    ) -> Result<MessageWriter<'b>, EncodeError> {
        let mark = out.len();
        let mut w = MessageWriter { out, mark, fields: 0, reader, finished: false };
        w.header(name, value)?;
        Ok(w)
    }

    /// Starts an action (`Action: <name>`), read by a server.
    pub fn action(
        out: &'b mut Vec<u8>,
        name: impl AsRef<[u8]>,
    ) -> Result<MessageWriter<'b>, EncodeError> {
        MessageWriter::start(out, "Action", name, Role::Server)
    }

    /// Starts a response (`Response: <status>`), read by a client.
    pub fn response(
        out: &'b mut Vec<u8>,
        status: impl AsRef<[u8]>,
    ) -> Result<MessageWriter<'b>, EncodeError> {
        MessageWriter::start(out, "Response", status, Role::Client)
    }

    /// Starts an event (`Event: <name>`), read by a client.
    pub fn event(
        out: &'b mut Vec<u8>,
        name: impl AsRef<[u8]>,
    ) -> Result<MessageWriter<'b>, EncodeError> {
        MessageWriter::start(out, "Event", name, Role::Client)
    }

    /// Appends `name: value`, or refuses it (writing nothing) with the reason.
    pub fn header(
        &mut self,
        name: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<&mut Self, EncodeError> {
        append_header(self.out, name.as_ref(), value.as_ref(), self.reader, self.fields)?;
        self.fields += 1;
        Ok(self)
    }

    /// Writes the blank line that ends the message; returns the message's length in bytes.
    pub fn finish(mut self) -> usize {
        self.out.extend_from_slice(b"\r\n");
        self.finished = true;
        self.out.len() - self.mark
    }
}

impl Drop for MessageWriter<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.out.truncate(self.mark);
        }
    }
}

/// An ordered list of header fields, duplicates allowed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Fields {
    items: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Fields {
    /// Appends a field (checked when the message is encoded).
    pub fn push(&mut self, name: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.items.push((name.into(), value.into()));
    }

    /// The first value of `name` (ASCII case-insensitive).
    pub fn get(&self, name: impl AsRef<[u8]>) -> Option<&[u8]> {
        let name = name.as_ref();
        self.items.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }

    /// Replaces the value of every field called `name` by `value`, or appends it if absent.
    pub fn set(&mut self, name: impl AsRef<[u8]>, value: impl Into<Vec<u8>>) {
        let name = name.as_ref();
        let value = value.into();
        let mut found = false;
        for (n, v) in &mut self.items {
            if n.eq_ignore_ascii_case(name) {
                v.clone_from(&value);
                found = true;
            }
        }
        if !found {
            self.items.push((name.to_vec(), value));
        }
    }

    /// Removes every field called `name`.
    pub fn remove(&mut self, name: impl AsRef<[u8]>) {
        let name = name.as_ref();
        self.items.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The fields in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> {
        self.items.iter().map(|(n, v)| (n.as_slice(), v.as_slice()))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True if there are no fields.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn encode(
        &self,
        first: (&str, &[u8]),
        reader: Role,
        out: &mut Vec<u8>,
    ) -> Result<usize, EncodeError> {
        let mut w = MessageWriter::start(out, first.0, first.1, reader)?;
        for (n, v) in self.iter() {
            w.header(n, v)?;
        }
        Ok(w.finish())
    }
}

macro_rules! message_type {
    ($(#[$doc:meta])* $name:ident, $first:literal, $reader:expr, $arg:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name {
            $arg: Vec<u8>,
            /// The header fields after the first line, in order.
            pub fields: Fields,
        }

        impl $name {
            #[doc = concat!("A new message whose first line is `", $first, ": <", stringify!($arg), ">`.")]
            pub fn new($arg: impl Into<Vec<u8>>) -> $name {
                $name { $arg: $arg.into(), fields: Fields::default() }
            }

            #[doc = concat!("The value of the `", $first, "` line.")]
            pub fn $arg(&self) -> &[u8] {
                &self.$arg
            }

            /// Appends a field and returns the message (builder style).
            pub fn with(mut self, name: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> $name {
                self.fields.push(name, value);
                self
            }

            /// Appends a field.
            pub fn push(&mut self, name: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
                self.fields.push(name, value);
            }

            /// The first value of a field (ASCII case-insensitive).
            pub fn get(&self, name: impl AsRef<[u8]>) -> Option<&[u8]> {
                self.fields.get(name)
            }

            /// Appends the encoded message to `out`, or refuses it whole (appending nothing).
            /// Returns the number of bytes written.
            pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
                self.fields.encode(($first, &self.$arg), $reader, out)
            }

            /// The encoded message.
            pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
                let mut out = Vec::new();
                self.encode_into(&mut out)?;
                Ok(out)
            }
        }
    };
}

message_type!(
    /// An action to send to a server (`Action: <name>` and fields).
    Action, "Action", Role::Server, name
);
message_type!(
    /// A response to send to a client (`Response: <status>` and fields).
    Response, "Response", Role::Client, status
);
message_type!(
    /// An event to send to a client (`Event: <name>` and fields).
    Event, "Event", Role::Client, name
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_asterisk_bytes_with_empty_values() {
        let r = Response::new("Success").with("ActionID", "x").with("Output", "");
        assert_eq!(r.to_bytes().unwrap(), b"Response: Success\r\nActionID: x\r\nOutput: \r\n\r\n");
    }

    #[test]
    fn refuses_crlf_and_nul_injection_in_values() {
        for bad in [&b"a\rb"[..], b"a\nb", b"a\0b", b"\r\n\r\nAction: Command"] {
            let err = Action::new("Ping").with("ActionID", bad).to_bytes().unwrap_err();
            assert!(matches!(err.kind, EncodeErrorKind::ForbiddenByteInValue(_)), "{bad:?}");
            assert_eq!(err.field, 1);
        }
        let err = Action::new("Ping\r\nAction: Command").to_bytes().unwrap_err();
        assert_eq!(
            (err.kind, err.field, err.offset),
            (EncodeErrorKind::ForbiddenByteInValue(b'\r'), 0, 4)
        );
    }

    #[test]
    fn refuses_bad_names() {
        let cases: [(&[u8], EncodeErrorKind); 6] = [
            (b"", EncodeErrorKind::EmptyName),
            (b"Act:ion", EncodeErrorKind::ColonInName),
            (b" Action", EncodeErrorKind::BlankAroundName),
            (b"Action\t", EncodeErrorKind::BlankAroundName),
            (b"Ac\ntion", EncodeErrorKind::ForbiddenByteInName(b'\n')),
            (b"Ac\0tion", EncodeErrorKind::ForbiddenByteInName(0)),
        ];
        for (name, kind) in cases {
            let err = Event::new("X").with(name, "v").to_bytes().unwrap_err();
            assert_eq!(err.kind, kind, "{name:?}");
        }
    }

    #[test]
    fn action_values_may_not_start_with_a_blank_but_responses_may() {
        let err = Action::new("Login").with("Secret", " pw").to_bytes().unwrap_err();
        assert_eq!(err.kind, EncodeErrorKind::LeadingBlankInValue);
        let ok = Response::new("Success").with("Output", "  indented").to_bytes().unwrap();
        assert_eq!(ok, b"Response: Success\r\nOutput:   indented\r\n\r\n");
    }

    #[test]
    fn refused_message_appends_nothing() {
        let mut out = b"previous".to_vec();
        let bad = Action::new("Ping").with("A", "1").with("B", "x\ny");
        assert!(bad.encode_into(&mut out).is_err());
        assert_eq!(out, b"previous");
    }

    #[test]
    fn dropped_writer_rolls_back() {
        let mut out = Vec::new();
        {
            let mut w = MessageWriter::action(&mut out, "Ping").unwrap();
            w.header("ActionID", "1").unwrap();
            assert!(w.header("Bad", "\r").is_err());
        }
        assert!(out.is_empty());
    }

    #[test]
    fn keys_with_punctuation_are_fine() {
        let e = Event::new("Newchannel")
            .with("ChanVariable(PJSIP/100-0001)", "a=b")
            .with("Cause-txt", "Normal");
        assert!(e.to_bytes().is_ok());
    }

    #[test]
    fn fields_set_and_remove() {
        let mut a = Action::new("Originate").with("Variable", "a=1").with("variable", "b=2");
        a.fields.set("VARIABLE", "c=3");
        assert_eq!(a.fields.iter().map(|(_, v)| v).collect::<Vec<_>>(), [b"c=3", b"c=3"]);
        a.fields.remove("Variable");
        assert!(a.fields.is_empty());
        a.fields.set("ActionID", "9");
        assert_eq!(a.get("actionid"), Some(&b"9"[..]));
    }
}
