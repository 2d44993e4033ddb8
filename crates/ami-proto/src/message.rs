//! Borrowed views of decoded AMI messages.
//!
//! A [`Message`] is a zero-copy view: it borrows the decoder's buffer (or the buffer given to
//! [`parse_message`](crate::frame::parse_message)) and a table of [`HeaderSlot`]s that say where
//! each line, its colon and its value are. Nothing is copied or allocated to build one; header
//! names and values are sub-slices of the input.
//!
//! Lookups follow Asterisk: header names compare ASCII case-insensitively, the *first* matching
//! line wins (even when its value is empty), duplicate keys keep their order, and lines without a
//! colon are kept as [bare lines](Header::is_bare). How a value is cut out of its line depends on
//! who wrote it ([`Role`]), exactly as the spec describes (§1.8, §1.10):
//!
//! * [`Role::Server`] reads client input: every blank (bytes `0x01..=0x20`) after the colon is
//!   skipped, trailing blanks are kept (`Secret: pw ` has the value `pw `).
//! * [`Role::Client`] reads server output: exactly one space after the colon is removed, nothing
//!   else (`Output:  indented` has the value ` indented`).
//!
//! ```
//! use ami_proto::{parse_message, HeaderSlot, MessageKind, Role, Status};
//!
//! let bytes = b"Response: Success\r\nActionID: 7\r\nMessage: Command output follows\r\n\
//!               Output: Asterisk 22.10.1\r\nOutput:   indented: yes\r\n\r\n";
//! let mut slots = [HeaderSlot::EMPTY; 16];
//! let Status::Complete((used, msg)) = parse_message(Role::Client, bytes, &mut slots)? else {
//!     unreachable!("the message is complete");
//! };
//! assert_eq!(used, bytes.len());
//! assert_eq!(msg.kind(), MessageKind::Response);
//! assert_eq!(msg.get("actionid"), Some(&b"7"[..]));
//! let out = msg.command_output().expect("command output");
//! let lines: Vec<&[u8]> = out.lines().collect();
//! assert_eq!(lines, [&b"Asterisk 22.10.1"[..], b"  indented: yes"]);
//! # Ok::<(), ami_proto::ParseError>(())
//! ```

use core::fmt;

use nom::bytes::complete::take_while;
use nom::{IResult, Parser};

pub use crate::frame::Role;

/// Line grammar (nom, complete input: exactly one line without its terminator).
mod grammar {
    use super::*;

    /// A header name: every byte before the first colon (possibly none).
    ///
    /// Names are short, so a word-at-a-time loop beats both nom's generic `take_till` and a
    /// memchr call, whose set-up costs more than the search (measured with callgrind on the
    /// bench corpus).
    #[inline]
    pub(super) fn name(input: &[u8]) -> IResult<&[u8], &[u8]> {
        let n = first_colon(input).unwrap_or(input.len());
        let (name, rest) = input.split_at(n);
        Ok((rest, name))
    }

    /// Index of the first `:`, eight bytes at a time (the exact, carry-free zero-byte test on
    /// `word ^ 0x3A3A…`), then byte by byte for the tail.
    #[inline]
    fn first_colon(input: &[u8]) -> Option<usize> {
        const LO7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
        const COLON: u64 = 0x3A3A_3A3A_3A3A_3A3A;
        let mut words = input.chunks_exact(8);
        let mut at = 0;
        for word in &mut words {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            let x = u64::from_le_bytes(bytes) ^ COLON;
            let zeros = !(((x & LO7).wrapping_add(LO7)) | x | LO7);
            if zeros != 0 {
                return Some(at + (zeros.trailing_zeros() / 8) as usize);
            }
            at += 8;
        }
        words.remainder().iter().position(|&b| b == b':').map(|i| at + i)
    }

    /// `name ":" rest` — the name is everything before the first colon. `None` for a bare line.
    #[inline]
    pub(super) fn split_colon(line: &[u8]) -> Option<usize> {
        match name(line) {
            Ok((rest, name)) if rest.first() == Some(&b':') => Some(name.len()),
            _ => None,
        }
    }

    /// The value in `rest` (the bytes after the colon), cut by `role`'s rule.
    #[inline]
    pub(super) fn value(rest: &[u8], role: Role) -> &[u8] {
        match role {
            Role::Server => server_value(rest),
            Role::Client => client_value(rest),
        }
    }

    /// Server rule (client input): every blank (0x01..=0x20) after the colon is skipped.
    fn server_value(rest: &[u8]) -> &[u8] {
        let r: IResult<&[u8], &[u8]> = take_while(|b| (0x01..=0x20).contains(&b)).parse(rest);
        r.map_or(rest, |(value, _)| value)
    }

    /// Client rule (server output): exactly one space after the colon is removed.
    ///
    /// (A direct `strip_prefix`: nom's generic `opt(tag(" "))` costs ~30 instructions here, on a
    /// path taken for every header a client reads.)
    #[inline]
    fn client_value(rest: &[u8]) -> &[u8] {
        rest.strip_prefix(b" ").unwrap_or(rest)
    }
}

/// Where one line of a message lies in its buffer: the line itself, its colon if it has one,
/// and where its value starts.
///
/// Slots are the zero-copy index behind a [`Message`]. They are plain offsets (no pointers), so a
/// table of them can be kept, copied or handed across an FFI boundary together with the buffer
/// they index. Callers of [`parse_message`](crate::frame::parse_message) provide an array of them,
/// httparse-style; [`HeaderSlot::EMPTY`] is the value to fill it with.
///
/// The value's start is found once, when the line is framed (by the reader's [`Role`] rule), so
/// reading a header back is two slices.
///
/// The layout is fixed (`repr(C)`): four `u32` offsets into the message's bytes, in this order:
/// the line's start and end (without its terminator), its first colon (`u32::MAX` for a bare
/// line) and its value's start. The C API hands arrays of slots to C as they are (`ami_slot`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct HeaderSlot {
    start: u32,
    end: u32,
    colon: u32,
    value: u32,
}

pub(crate) const NO_COLON: u32 = u32::MAX;

impl HeaderSlot {
    /// An unused slot, for initialising arrays passed to
    /// [`parse_message`](crate::frame::parse_message).
    pub const EMPTY: HeaderSlot = HeaderSlot { start: 0, end: 0, colon: NO_COLON, value: 0 };

    /// Builds the slot for the line `raw[start..end]`, finding its first colon and cutting its
    /// value by `role`'s rule.
    ///
    /// Callers guarantee `start <= end <= raw.len()` and that both fit in `u32`.
    #[inline]
    pub(crate) fn for_line(raw: &[u8], start: usize, end: usize, role: Role) -> HeaderSlot {
        let line = raw.get(start..end).unwrap_or_default();
        match grammar::split_colon(line) {
            None => HeaderSlot::bare(start as u32, end as u32),
            Some(i) => {
                let rest = line.get(i + 1..).unwrap_or_default();
                let skipped = rest.len() - grammar::value(rest, role).len();
                let colon = start + i;
                HeaderSlot {
                    start: start as u32,
                    end: end as u32,
                    colon: colon as u32,
                    value: (colon + 1 + skipped) as u32,
                }
            }
        }
    }

    /// The slot of a header line `start..end` whose colon and value start are known.
    #[inline]
    pub(crate) fn header(start: u32, end: u32, colon: u32, value: u32) -> HeaderSlot {
        HeaderSlot { start, end, colon, value }
    }

    /// The slot of a bare line (no colon): its value is the whole line.
    #[inline]
    pub(crate) fn bare(start: u32, end: u32) -> HeaderSlot {
        HeaderSlot { start, end, colon: NO_COLON, value: start }
    }

    /// Byte range of the whole line (without its terminator) in the message's buffer.
    pub fn line_range(&self) -> core::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// Byte range of the name in the message's buffer (empty for a bare line).
    pub fn name_range(&self) -> core::ops::Range<usize> {
        let end = if self.is_bare() { self.start } else { self.colon };
        self.start as usize..end as usize
    }

    /// Byte range of the value in the message's buffer (the whole line for a bare line).
    pub fn value_range(&self) -> core::ops::Range<usize> {
        self.value as usize..self.end as usize
    }

    /// True for a line without a colon.
    pub fn is_bare(&self) -> bool {
        self.colon == NO_COLON
    }
}

/// What a message is, judged by its first `Action`, `Response` or `Event` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A request from a client (`Action: ...`).
    Action,
    /// A reply from the server (`Response: ...`).
    Response,
    /// An asynchronous event or a list item (`Event: ...`).
    Event,
    /// None of the three header names occurs in the message.
    Unknown,
}

impl MessageKind {
    /// Lower-case name of the kind: `"action"`, `"response"`, `"event"` or `"unknown"`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Action => "action",
            MessageKind::Response => "response",
            MessageKind::Event => "event",
            MessageKind::Unknown => "unknown",
        }
    }
}

/// One line of a message: a `Name: value` header, or a bare line without a colon.
///
/// A view of the message's buffer and the line's [`HeaderSlot`]: each accessor cuts its slice
/// out on demand (one bounds check), so a loop that reads only names, or only values, pays for
/// nothing else.
#[derive(Clone, Copy)]
pub struct Header<'a> {
    raw: &'a [u8],
    slot: HeaderSlot,
}

impl<'a> Header<'a> {
    #[inline]
    fn from_slot(raw: &'a [u8], slot: HeaderSlot) -> Header<'a> {
        Header { raw, slot }
    }

    /// The header name: the bytes before the first colon, exactly as sent. Empty for a bare line.
    #[inline]
    pub fn name(&self) -> &'a [u8] {
        if self.slot.is_bare() {
            return &[];
        }
        self.raw.get(self.slot.start as usize..self.slot.colon as usize).unwrap_or_default()
    }

    /// The value, cut out of the line by the message's [`Role`] rule. For a bare line, the whole
    /// line.
    #[inline]
    pub fn value(&self) -> &'a [u8] {
        // A bare line's value range is the whole line.
        self.raw.get(self.slot.value_range()).unwrap_or_default()
    }

    /// The whole line as received, without its line terminator.
    #[inline]
    pub fn line(&self) -> &'a [u8] {
        self.raw.get(self.slot.line_range()).unwrap_or_default()
    }

    /// True for a line without any colon (e.g. `No categories found` from GetConfig, or every
    /// line of a plain-text reply such as Asterisk 13's `No queues have been created.`).
    #[inline]
    pub fn is_bare(&self) -> bool {
        self.slot.is_bare()
    }

    /// True if this is a header named `name` (ASCII case-insensitive). Bare lines match nothing.
    pub fn is(&self, name: &[u8]) -> bool {
        !self.is_bare() && self.name().eq_ignore_ascii_case(name)
    }
}

/// Two headers are equal when their lines, names, values and bareness are.
impl PartialEq for Header<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.is_bare() == other.is_bare()
            && self.line() == other.line()
            && self.name() == other.name()
            && self.value() == other.value()
    }
}

impl Eq for Header<'_> {}

impl core::hash::Hash for Header<'_> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        (self.line(), self.name(), self.value(), self.is_bare()).hash(state);
    }
}

impl fmt::Debug for Header<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_bare() {
            write!(f, "Bare({:?})", String::from_utf8_lossy(self.line()))
        } else {
            write!(
                f,
                "{:?}: {:?}",
                String::from_utf8_lossy(self.name()),
                String::from_utf8_lossy(self.value())
            )
        }
    }
}

/// A decoded AMI message: a borrowed, zero-copy view of its lines.
///
/// Cheap to copy (three references and a role). Valid for as long as the buffer it views; use
/// [`Message::to_owned_message`] to keep one beyond that.
#[derive(Clone, Copy)]
pub struct Message<'a> {
    raw: &'a [u8],
    slots: &'a [HeaderSlot],
    role: Role,
    body: Option<(u32, u32)>,
}

impl<'a> Message<'a> {
    pub(crate) fn new(
        raw: &'a [u8],
        slots: &'a [HeaderSlot],
        role: Role,
        body: Option<(u32, u32)>,
    ) -> Message<'a> {
        Message { raw, slots, role, body }
    }

    /// The bytes of the message as framed, including line terminators and the final blank line.
    ///
    /// For a message that was rejected by a limit ([`FrameError`](crate::frame::FrameError)) this
    /// is only the salvaged lines, each followed by CRLF.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The slot table behind this view (offsets into [`Message::raw`]).
    pub fn slots(&self) -> &'a [HeaderSlot] {
        self.slots
    }

    /// Which value rule applies (who wrote the message).
    pub fn role(&self) -> Role {
        self.role
    }

    /// Number of lines (headers and bare lines), not counting legacy command-output text.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True if the message has no lines (a lone blank line, which the server answers with
    /// `Missing action in request`).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The `i`-th line, if any.
    pub fn header(&self, i: usize) -> Option<Header<'a>> {
        self.slots.get(i).map(|&s| Header::from_slot(self.raw, s))
    }

    /// Every line in order, duplicates and bare lines included.
    pub fn iter(&self) -> Headers<'a> {
        Headers { raw: self.raw, slots: self.slots.iter() }
    }

    /// Value of the first header called `name` (ASCII case-insensitive), even if that value is
    /// empty. `None` if there is no such header.
    pub fn get(&self, name: impl AsRef<[u8]>) -> Option<&'a [u8]> {
        let name = name.as_ref();
        // Lookups are the hot path of every binding: compare names straight from the slots,
        // length first, and cut out only the value found.
        let len = u32::try_from(name.len()).ok()?;
        self.slots
            .iter()
            .find(|s| {
                s.colon.wrapping_sub(s.start) == len
                    && self.slot_name(s).is_some_and(|n| same_name(n, name))
            })
            .map(|s| self.raw.get(s.value_range()).unwrap_or_default())
    }

    /// Values of every header called `name`, in order.
    pub fn get_all<'n>(&self, name: &'n [u8]) -> impl Iterator<Item = &'a [u8]> + 'n
    where
        'a: 'n,
    {
        self.iter().filter(move |h| h.is(name)).map(|h| h.value())
    }

    /// The kind of message, from the first `Action`, `Response` or `Event` line.
    pub fn kind(&self) -> MessageKind {
        // Every binding asks this of every message it hands out: names straight from the
        // slots, length first.
        for name in self.slots.iter().filter_map(|s| self.slot_name(s)) {
            match name.len() {
                5 if same_name(name, b"Event") => return MessageKind::Event,
                6 if same_name(name, b"Action") => return MessageKind::Action,
                8 if same_name(name, b"Response") => return MessageKind::Response,
                _ => {}
            }
        }
        MessageKind::Unknown
    }

    /// The name of a slot's header (`None` for a bare line).
    #[inline]
    fn slot_name(&self, s: &HeaderSlot) -> Option<&'a [u8]> {
        if s.is_bare() {
            return None;
        }
        self.raw.get(s.start as usize..s.colon as usize)
    }

    /// The action name as Asterisk's server finds it: the first **non-empty** `Action` value
    /// (spec §1.8, tricky case 11). `None` if there is none.
    pub fn action(&self) -> Option<&'a [u8]> {
        self.get_all(b"Action").find(|v| !v.is_empty())
    }

    /// The value of the first `Event` header.
    pub fn event(&self) -> Option<&'a [u8]> {
        self.get("Event")
    }

    /// The value of the first `Response` header (`Success`, `Error`, `Goodbye`, `Follows`).
    pub fn response(&self) -> Option<&'a [u8]> {
        self.get("Response")
    }

    /// The value of the first `ActionID` header, which may be empty.
    ///
    /// Asterisk echoes this value only when it is non-empty, and never looks at later
    /// `ActionID` lines (spec §2.5, tricky case 12); see [`Message::action_id_to_echo`].
    pub fn action_id(&self) -> Option<&'a [u8]> {
        self.get("ActionID")
    }

    /// The ActionID a server echoes in its reply: the first `ActionID` value if it is non-empty.
    pub fn action_id_to_echo(&self) -> Option<&'a [u8]> {
        self.action_id().filter(|v| !v.is_empty())
    }

    /// The `EventList` flag (`start`, `Complete`; compare case-insensitively: res_fax sends
    /// `Start`).
    pub fn event_list(&self) -> Option<&'a [u8]> {
        self.get("EventList")
    }

    /// The output of a `Command` action, in either wire form (spec §2.7).
    ///
    /// * current form (Asterisk 14+): a response with `Output:` headers, or with
    ///   `Message: Command output follows`;
    /// * legacy form (Asterisk ≤ 13): `Response: Follows` followed by raw text and
    ///   `--END COMMAND--`.
    ///
    /// Both give the same [`CommandOutput::lines`] for the same CLI text.
    pub fn command_output(&self) -> Option<CommandOutput<'a>> {
        if let Some((start, end)) = self.body {
            let body = self.raw.get(start as usize..end as usize).unwrap_or_default();
            return Some(CommandOutput { inner: OutputInner::Legacy(body), message: *self });
        }
        if self.kind() != MessageKind::Response {
            return None;
        }
        let follows =
            self.get("Message").is_some_and(|m| m.eq_ignore_ascii_case(b"Command output follows"));
        if follows || self.iter().any(|h| h.is(b"Output")) {
            return Some(CommandOutput { inner: OutputInner::Headers, message: *self });
        }
        None
    }

    /// Copies the message into an [`OwnedMessage`] that owns its bytes.
    pub fn to_owned_message(&self) -> OwnedMessage {
        let mut owned = OwnedMessage::default();
        self.clone_into_owned(&mut owned);
        owned
    }

    /// Copies the message into `target`, as [`to_owned_message`](Self::to_owned_message)
    /// does, but into `target`'s buffers: nothing is allocated when they are large enough. A
    /// caller that keeps spent messages (a pool, a reused slot) copies message after message
    /// without allocating.
    ///
    /// ```
    /// use ami_proto::{Decoder, Frame, OwnedMessage, Role};
    ///
    /// let mut decoder = Decoder::new(Role::Client);
    /// decoder.feed(b"Event: Hangup\r\nChannel: PJSIP/100-00000001\r\n\r\n");
    /// decoder.feed(b"Event: Newstate\r\nChannelState: 6\r\n\r\n");
    /// let mut kept = OwnedMessage::default();
    /// let mut names = Vec::new();
    /// while let Some(Ok(Frame::Message(m))) = decoder.next_frame() {
    ///     m.clone_into_owned(&mut kept);
    ///     names.push(String::from_utf8_lossy(kept.get("Event").unwrap_or_default()).into_owned());
    /// }
    /// assert_eq!(names, ["Hangup", "Newstate"]);
    /// ```
    pub fn clone_into_owned(&self, target: &mut OwnedMessage) {
        target.raw.clear();
        target.raw.extend_from_slice(self.raw);
        target.slots.clear();
        target.slots.extend_from_slice(self.slots);
        target.role = self.role;
        target.body = self.body;
    }
}

impl fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        list.entries(self.iter());
        if let Some(out) = self.command_output().filter(|o| o.is_legacy()) {
            list.entry(&format_args!("legacy output: {} lines", out.lines().count()));
        }
        list.finish()
    }
}

/// Two messages are equal when they have the same lines (name, value, bareness) in the same
/// order and the same legacy command output; how they were framed does not matter.
impl PartialEq for Message<'_> {
    fn eq(&self, other: &Self) -> bool {
        let legacy = |m: &Self| m.body.and_then(|(s, e)| m.raw.get(s as usize..e as usize));
        self.len() == other.len()
            && self.iter().zip(other.iter()).all(|(a, b)| {
                a.is_bare() == b.is_bare() && a.name() == b.name() && a.value() == b.value()
            })
            && legacy(self) == legacy(other)
    }
}

impl Eq for Message<'_> {}

impl<'a> IntoIterator for Message<'a> {
    type Item = Header<'a>;
    type IntoIter = Headers<'a>;
    fn into_iter(self) -> Headers<'a> {
        self.iter()
    }
}

/// Iterator over the lines of a [`Message`].
#[derive(Clone, Debug)]
pub struct Headers<'a> {
    raw: &'a [u8],
    slots: core::slice::Iter<'a, HeaderSlot>,
}

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;
    fn next(&mut self) -> Option<Header<'a>> {
        self.slots.next().map(|&s| Header::from_slot(self.raw, s))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.slots.size_hint()
    }
}

impl ExactSizeIterator for Headers<'_> {}
impl<'a> DoubleEndedIterator for Headers<'a> {
    fn next_back(&mut self) -> Option<Header<'a>> {
        self.slots.next_back().map(|&s| Header::from_slot(self.raw, s))
    }
}

#[derive(Clone, Copy, Debug)]
enum OutputInner<'a> {
    Headers,
    Legacy(&'a [u8]),
}

/// The output of a CLI command, whichever wire form carried it.
#[derive(Clone, Copy, Debug)]
pub struct CommandOutput<'a> {
    inner: OutputInner<'a>,
    message: Message<'a>,
}

impl<'a> CommandOutput<'a> {
    /// True for the legacy `Response: Follows` … `--END COMMAND--` form.
    pub fn is_legacy(&self) -> bool {
        matches!(self.inner, OutputInner::Legacy(_))
    }

    /// True when the CLI command succeeded: `Response: Success` (current form) or the legacy
    /// form, which always said `Follows` whatever the result.
    pub fn is_success(&self) -> bool {
        match self.inner {
            OutputInner::Legacy(_) => true,
            OutputInner::Headers => {
                self.message.response().is_some_and(|r| r.eq_ignore_ascii_case(b"Success"))
            }
        }
    }

    /// The message that carried the output (for `ActionID`, `Response`, ...).
    pub fn message(&self) -> Message<'a> {
        self.message
    }

    /// The raw legacy text (everything between the headers and `--END COMMAND--`), if legacy.
    pub fn legacy_text(&self) -> Option<&'a [u8]> {
        match self.inner {
            OutputInner::Legacy(b) => Some(b),
            OutputInner::Headers => None,
        }
    }

    /// The output lines. Current form: the `Output:` values in order. Legacy form: the text with
    /// one trailing LF removed, split on LF (which is how the current form is made from the same
    /// CLI text, spec §2.7), each line without the one CR before its LF, exactly as header lines
    /// lose theirs (some CLI commands end their lines with CRLF).
    pub fn lines(&self) -> OutputLines<'a> {
        match self.inner {
            OutputInner::Headers => OutputLines::Headers(self.message.iter()),
            OutputInner::Legacy(text) => {
                let text = text.strip_suffix(b"\n").unwrap_or(text);
                OutputLines::Legacy { rest: text, done: text.is_empty() }
            }
        }
    }
}

/// Iterator over the lines of a [`CommandOutput`].
#[derive(Clone, Debug)]
pub enum OutputLines<'a> {
    #[doc(hidden)]
    Headers(Headers<'a>),
    #[doc(hidden)]
    Legacy { rest: &'a [u8], done: bool },
}

impl<'a> Iterator for OutputLines<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            OutputLines::Headers(h) => h.find(|h| h.is(b"Output")).map(|h| h.value()),
            OutputLines::Legacy { rest, done } => {
                if *done {
                    return None;
                }
                let line = match memchr::memchr(b'\n', rest) {
                    Some(i) => {
                        let (line, tail) = rest.split_at(i);
                        *rest = tail.get(1..).unwrap_or_default();
                        line
                    }
                    None => {
                        *done = true;
                        rest
                    }
                };
                // One CR before the line end goes, as on header lines.
                Some(line.strip_suffix(b"\r").unwrap_or(line))
            }
        }
    }
}

/// Two header names are the same name, ASCII case-insensitively. An exact match, the usual
/// case (names are mostly written as documented), is a plain comparison; the case-insensitive
/// loop runs only when it fails.
#[inline]
fn same_name(a: &[u8], b: &[u8]) -> bool {
    a == b || a.eq_ignore_ascii_case(b)
}

/// A message that owns its bytes: for callers that keep messages after the decoder moves on.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct OwnedMessage {
    raw: Vec<u8>,
    slots: Vec<HeaderSlot>,
    role: Role,
    body: Option<(u32, u32)>,
}

impl OwnedMessage {
    /// A borrowed view of this message, with every accessor of [`Message`].
    pub fn as_message(&self) -> Message<'_> {
        Message::new(&self.raw, &self.slots, self.role, self.body)
    }

    /// The message's bytes as framed.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Shorthand for `self.as_message().get(name)`.
    pub fn get(&self, name: impl AsRef<[u8]>) -> Option<&[u8]> {
        self.as_message().get(name)
    }

    /// The bytes its buffers hold (their capacity, not the message's length): what keeping it
    /// for [`Message::clone_into_owned`] keeps allocated.
    pub fn heap_bytes(&self) -> usize {
        self.raw.capacity() + self.slots.capacity() * std::mem::size_of::<HeaderSlot>()
    }
}

/// An empty message (no bytes, no lines, read in the client role), allocating nothing: a
/// target for [`Message::clone_into_owned`].
impl Default for OwnedMessage {
    fn default() -> OwnedMessage {
        OwnedMessage { raw: Vec::new(), slots: Vec::new(), role: Role::Client, body: None }
    }
}

impl fmt::Debug for OwnedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_message().fmt(f)
    }
}

impl From<Message<'_>> for OwnedMessage {
    fn from(m: Message<'_>) -> OwnedMessage {
        m.to_owned_message()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: Role, raw: &[u8]) -> (Vec<HeaderSlot>, usize) {
        let mut slots = vec![HeaderSlot::EMPTY; 64];
        let n = match crate::frame::parse_message(role, raw, &mut slots) {
            Ok(crate::frame::Status::Complete((_, m))) => m.len(),
            other => panic!("not complete: {other:?}"),
        };
        slots.truncate(n);
        (slots, n)
    }

    #[test]
    fn server_rule_skips_all_leading_blanks_and_keeps_trailing() {
        let raw = b"Secret:\t  pw \r\n\r\n";
        let (slots, _) = msg(Role::Server, raw);
        let m = Message::new(raw, &slots, Role::Server, None);
        assert_eq!(m.get("secret"), Some(&b"pw "[..]));
    }

    #[test]
    fn client_rule_removes_exactly_one_space() {
        let raw = b"Output:   x: y\r\nEmpty: \r\nNoSpace:v\r\n\r\n";
        let (slots, _) = msg(Role::Client, raw);
        let m = Message::new(raw, &slots, Role::Client, None);
        assert_eq!(m.get("Output"), Some(&b"  x: y"[..]));
        assert_eq!(m.get("Empty"), Some(&b""[..]));
        assert_eq!(m.get("NoSpace"), Some(&b"v"[..]));
    }

    #[test]
    fn first_match_wins_even_if_empty_but_action_is_first_non_empty() {
        let raw = b"Action:\r\nAction: Ping\r\nActionID:\r\nActionID: 9\r\n\r\n";
        let (slots, _) = msg(Role::Server, raw);
        let m = Message::new(raw, &slots, Role::Server, None);
        assert_eq!(m.get("Action"), Some(&b""[..]));
        assert_eq!(m.action(), Some(&b"Ping"[..]));
        assert_eq!(m.action_id(), Some(&b""[..]));
        assert_eq!(m.action_id_to_echo(), None);
        let ids: Vec<_> = m.get_all(b"actionid").collect();
        assert_eq!(ids, [&b""[..], b"9"]);
    }

    #[test]
    fn bare_lines_match_nothing_and_keep_their_text() {
        let raw = b"Response: Success\r\nNo categories found\r\n\r\n";
        let (slots, _) = msg(Role::Client, raw);
        let m = Message::new(raw, &slots, Role::Client, None);
        let h = m.header(1).unwrap();
        assert!(h.is_bare());
        assert_eq!(h.value(), b"No categories found");
        assert_eq!(m.get(""), None);
        assert_eq!(m.kind(), MessageKind::Response);
    }

    #[test]
    fn space_before_colon_is_part_of_the_name() {
        let raw = b"Action : Ping\r\n\r\n";
        let (slots, _) = msg(Role::Server, raw);
        let m = Message::new(raw, &slots, Role::Server, None);
        assert_eq!(m.action(), None);
        assert_eq!(m.header(0).unwrap().name(), b"Action ");
    }

    #[test]
    fn kind_from_first_kind_header() {
        for (raw, kind) in [
            (&b"Event: Hangup\r\n\r\n"[..], MessageKind::Event),
            (b"action: ping\r\n\r\n", MessageKind::Action),
            (b"Foo: bar\r\n\r\n", MessageKind::Unknown),
        ] {
            let (slots, _) = msg(Role::Client, raw);
            assert_eq!(Message::new(raw, &slots, Role::Client, None).kind(), kind);
        }
    }

    #[test]
    fn colon_search_finds_the_first_colon_at_every_position() {
        for len in 0..40 {
            for at in 0..=len {
                let mut line = vec![b'a'; len];
                if at < len {
                    line[at] = b':';
                    if at + 1 < len {
                        line[at + 1] = b':';
                    }
                }
                let want = (at < len).then_some(at);
                assert_eq!(grammar::split_colon(&line), want, "len {len} at {at}");
            }
        }
        // Bytes that differ from ':' by one bit, and high bytes, are not colons.
        assert_eq!(grammar::split_colon(b"\x3b\x38\xba\x1a\x7a\x3b\x38\xba\x1a:"), Some(9));
    }

    #[test]
    fn owned_message_round_trips() {
        let raw = b"Event: Newchannel\r\nChannel: PJSIP/100-0001\r\n\r\n";
        let (slots, _) = msg(Role::Client, raw);
        let m = Message::new(raw, &slots, Role::Client, None);
        let owned = m.to_owned_message();
        assert_eq!(owned.as_message(), m);
        assert_eq!(owned.get("channel"), Some(&b"PJSIP/100-0001"[..]));
        assert_eq!(owned.raw(), raw);
    }

    #[test]
    fn copying_into_a_used_message_is_a_fresh_copy() {
        // A long event, a legacy command response (it has a body), a short event, a server-role
        // action: each copied into the same target gives exactly what to_owned_message gives,
        // nothing left over from the one before.
        let mut feeds: Vec<(Role, Vec<u8>)> = vec![(
            Role::Client,
            b"Event: VarSet\r\nPrivilege: dialplan,all\r\nChannel: PJSIP/100-0001\r\nVariable: A\r\nValue: 0123456789012345678901234567890123456789\r\n\r\n".to_vec(),
        )];
        feeds.push((
            Role::Client,
            b"Response: Follows\r\nActionID: 7\r\nAsterisk 11.25.3\r\n--END COMMAND--\r\n\r\n"
                .to_vec(),
        ));
        feeds.push((Role::Client, b"Event: Hangup\r\n\r\n".to_vec()));
        feeds.push((Role::Server, b"Action: Ping\r\nActionID: 1\r\n\r\n".to_vec()));
        let mut target = OwnedMessage::default();
        assert_eq!((target.heap_bytes(), target.raw()), (0, &b""[..]));
        let mut seen_body = false;
        for (role, bytes) in &feeds {
            let mut d = crate::Decoder::new(*role);
            d.feed(bytes);
            let Some(Ok(crate::Frame::Message(m))) = d.next_frame() else {
                panic!("no message in {bytes:?}");
            };
            seen_body |= m.command_output().is_some_and(|o| o.is_legacy());
            let before = target.heap_bytes();
            m.clone_into_owned(&mut target);
            assert_eq!(target, m.to_owned_message());
            assert_eq!(target.as_message(), m);
            if bytes.len() <= feeds[0].1.len() && before > 0 {
                // Smaller than what the buffers held already: nothing was reallocated.
                assert_eq!(target.heap_bytes(), before, "{bytes:?}");
            }
        }
        assert!(seen_body, "the legacy response should carry a body");
    }
}
