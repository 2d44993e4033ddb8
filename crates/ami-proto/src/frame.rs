//! Framing: turning a byte stream into AMI messages.
//!
//! AMI is line-based: a message is a run of non-empty lines ended by one empty line. Lines end
//! with CRLF or a bare LF (a lone CR is data). Message boundaries never follow TCP segments, so a
//! decoder must cope with any split: [`Decoder`] keeps an internal buffer, remembers how far it has
//! searched, and hands out complete messages as zero-copy [`Message`] views.
//!
//! ```
//! use ami_proto::{Decoder, Frame, Role};
//!
//! let mut dec = Decoder::new(Role::Client);
//! dec.feed(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\n");
//! dec.feed(b"Message: Authentication accepted\r\n\r\nEvent: FullyBooted\r\n");
//!
//! let Some(Ok(Frame::Banner(b))) = dec.next_frame() else { panic!("banner first") };
//! assert_eq!(b.version(), b"11.0.0");
//! let Some(Ok(Frame::Message(m))) = dec.next_frame() else { panic!("then a response") };
//! assert_eq!(m.get("Message"), Some(&b"Authentication accepted"[..]));
//! assert!(dec.next_frame().is_none()); // the event is not complete yet
//! ```
//!
//! # The two roles
//!
//! [`Role::Server`] decodes what a client sends, exactly as Asterisk's manager reads it (spec
//! §1.4–1.8): a 1024-byte line window (1022 content bytes with CRLF, 1023 with LF), overflow that
//! discards 1023 bytes and keeps the last one, at most 128 lines, content cut at a NUL byte, a
//! NUL-led line that ends the message, and a lone blank line that is an (empty) message. The
//! errors it reports carry the salvaged lines so that the server can echo the ActionID the way
//! Asterisk does.
//!
//! [`Role::Client`] decodes what a server sends: the banner line is its own [`Frame`], stray blank
//! lines are skipped, the legacy `Response: Follows` … `--END COMMAND--` form (which contains
//! blank lines) is framed as one message, and limits are generous but finite
//! ([`DecoderLimits::CLIENT`]).
//!
//! # Limits and resynchronisation
//!
//! A message that breaks a limit is not lost silently and does not desynchronise the stream: the
//! decoder stops buffering it, keeps a bounded copy of its first lines, skips to the next blank
//! line and reports a [`FrameError`] there; the next message decodes normally.
//!
//! # Cost
//!
//! The decoder keeps a structural index of its buffer: each byte is classified once, in blocks
//! of 64 (`ami_simd`: LF, CR and colon bitmasks, with AVX-512BW, AVX2 or portable code chosen at
//! run time), and line ends, CRLF pairs and first colons are read off the masks; each header's
//! value start is found when its line is. Limits are checked once per block unless the block
//! could break one. Every input byte is indexed once, whatever the feed pattern (one byte at a
//! time included), and the buffer is compacted only when the consumed part is at least as large
//! as the rest, so total work is linear in the input. [`Decoder::stats`] exposes the counters
//! that prove it. Once the buffers have grown to the largest message, decoding allocates
//! nothing.

use core::fmt;

use memchr::memchr;

use crate::message::{HeaderSlot, Message};

mod index;

use ami_simd::BLOCK;
use index::{BlockIndex, NONE};

/// Who is reading, which decides the line and value rules (spec §1.8 vs §1.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// A client reading server output: banner, legacy command output, one space removed after
    /// the colon.
    Client,
    /// A server reading client input: Asterisk's line window, NUL and header-count rules, all
    /// blanks skipped after the colon.
    Server,
}

/// Size limits of a [`Decoder`]. Every buffer the decoder keeps is bounded by them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DecoderLimits {
    /// A line **including its terminator** must fit in this many bytes. Asterisk's input buffer
    /// is 1024 bytes: 1022 content bytes plus CRLF, or 1023 plus LF.
    pub max_line: usize,
    /// Most lines kept per message (Asterisk: 128; the 129th line makes the message an error).
    pub max_headers: usize,
    /// Most bytes per message, terminators included.
    pub max_message: usize,
}

impl DecoderLimits {
    /// Asterisk's own input limits (spec §1.5, §1.7). `max_message` is never reached with the
    /// other two (128 lines of at most 1024 bytes).
    pub const ASTERISK_SERVER: DecoderLimits =
        DecoderLimits { max_line: 1024, max_headers: 128, max_message: 256 * 1024 };

    /// Defaults for reading server output: large command outputs and lists fit, unbounded growth
    /// does not.
    pub const CLIENT: DecoderLimits =
        DecoderLimits { max_line: 64 * 1024, max_headers: 65_536, max_message: 4 << 20 };

    /// The default limits for a role.
    pub const fn for_role(role: Role) -> DecoderLimits {
        match role {
            Role::Client => DecoderLimits::CLIENT,
            Role::Server => DecoderLimits::ASTERISK_SERVER,
        }
    }

    /// Checks that the limits are usable: `max_line` and `max_message` between 2 bytes and 1 GiB,
    /// `max_headers` between 1 and 2^24.
    pub fn validate(&self) -> Result<(), InvalidLimits> {
        const GIB: usize = 1 << 30;
        if !(2..=GIB).contains(&self.max_line) {
            return Err(InvalidLimits::MaxLine(self.max_line));
        }
        if !(1..=1 << 24).contains(&self.max_headers) {
            return Err(InvalidLimits::MaxHeaders(self.max_headers));
        }
        if !(2..=GIB).contains(&self.max_message) {
            return Err(InvalidLimits::MaxMessage(self.max_message));
        }
        Ok(())
    }
}

/// A [`DecoderLimits`] value out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidLimits {
    /// `max_line` is not in `2..=1 GiB`.
    MaxLine(usize),
    /// `max_headers` is not in `1..=2^24`.
    MaxHeaders(usize),
    /// `max_message` is not in `2..=1 GiB`.
    MaxMessage(usize),
}

impl fmt::Display for InvalidLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidLimits::MaxLine(n) => write!(f, "max_line {n} is not between 2 and 1 GiB"),
            InvalidLimits::MaxHeaders(n) => write!(f, "max_headers {n} is not between 1 and 2^24"),
            InvalidLimits::MaxMessage(n) => {
                write!(f, "max_message {n} is not between 2 and 1 GiB")
            }
        }
    }
}

impl std::error::Error for InvalidLimits {}

/// The greeting line a server sends on connect: `Asterisk Call Manager/<version>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Banner<'a> {
    line: &'a [u8],
}

impl<'a> Banner<'a> {
    /// The prefix that makes the first line of a stream a banner.
    pub const PREFIX: &'static [u8] = b"Asterisk Call Manager";

    /// The whole line, without its terminator.
    pub fn line(&self) -> &'a [u8] {
        self.line
    }

    /// The text after the first `/` (the AMI version, e.g. `11.0.0`), or empty.
    pub fn version(&self) -> &'a [u8] {
        match memchr(b'/', self.line) {
            Some(i) => self.line.get(i + 1..).unwrap_or_default(),
            None => &[],
        }
    }
}

impl fmt::Debug for Banner<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Banner({:?})", String::from_utf8_lossy(self.line))
    }
}

/// One item decoded from the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// The server greeting (client role, first line of the stream only).
    Banner(Banner<'a>),
    /// A complete message.
    Message(Message<'a>),
}

/// Which limit a message broke, or why the stream is not AMI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameErrorKind {
    /// A line (with its terminator) did not fit in `limit` bytes.
    LineTooLong {
        /// The `max_line` in force.
        limit: usize,
    },
    /// The message had more than `limit` lines.
    TooManyHeaders {
        /// The `max_headers` in force.
        limit: usize,
    },
    /// The message was larger than `limit` bytes.
    MessageTooLarge {
        /// The `max_message` in force.
        limit: usize,
    },
    /// Client role: the first line of the stream is neither the `Asterisk Call Manager/…`
    /// banner nor a header line (e.g. `HTTP/1.1 200 OK` or an SSH greeting), so the peer is not
    /// an AMI server. Reported as soon as that line is complete, with the line as the only kept
    /// line ([`FrameError::partial`]); decoding goes on after it.
    NotAmiServer,
}

impl FrameErrorKind {
    /// The `Message:` text Asterisk answers this error with (spec §8.3).
    pub fn asterisk_message(&self) -> &'static str {
        match self {
            FrameErrorKind::LineTooLong { .. } => "Failed to parse message: line too long",
            FrameErrorKind::TooManyHeaders { .. } | FrameErrorKind::MessageTooLarge { .. } => {
                "Too many lines in message or allocation failure"
            }
            // Only a client decoder reports it; Asterisk has no answer for it.
            FrameErrorKind::NotAmiServer => "Not an AMI server",
        }
    }
}

impl fmt::Display for FrameErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameErrorKind::LineTooLong { limit } => {
                write!(f, "line longer than {limit} bytes")
            }
            FrameErrorKind::TooManyHeaders { limit } => {
                write!(f, "more than {limit} lines in one message")
            }
            FrameErrorKind::MessageTooLarge { limit } => {
                write!(f, "message larger than {limit} bytes")
            }
            FrameErrorKind::NotAmiServer => {
                write!(
                    f,
                    "not an AMI server: the first line is not an `Asterisk Call Manager/` banner"
                )
            }
        }
    }
}

impl std::error::Error for FrameErrorKind {}

/// A message that broke a limit (or, [`FrameErrorKind::NotAmiServer`], a first line that shows
/// the peer is not an AMI server). The stream is already resynchronised after it.
///
/// It borrows the decoder (its [`partial`](FrameError::partial) lines live there); use
/// [`FrameError::kind`], which is `'static`, to propagate it with `?`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameError<'a> {
    kind: FrameErrorKind,
    offset: u64,
    partial: Message<'a>,
}

impl<'a> FrameError<'a> {
    /// Which limit was broken.
    pub fn kind(&self) -> FrameErrorKind {
        self.kind
    }

    /// Stream offset (bytes since the decoder was created) where the message began.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The lines that were kept (within the limits), e.g. to echo the ActionID: Asterisk echoes
    /// the first ActionID of the message even when it came after the overlong line.
    pub fn partial(&self) -> Message<'a> {
        self.partial
    }
}

impl fmt::Display for FrameError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (message at byte {})", self.kind, self.offset)
    }
}

impl std::error::Error for FrameError<'_> {}

/// Counters of the work a [`Decoder`] has done, to check that it stays linear.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Bytes fed in.
    pub bytes_fed: u64,
    /// Bytes indexed while searching for line ends: classified into the block masks (each
    /// input byte at most once, whatever the feed pattern).
    pub bytes_scanned: u64,
    /// Bytes moved when compacting the buffer (never more than were consumed).
    pub bytes_moved: u64,
    /// Messages and banners returned.
    pub frames: u64,
    /// Messages rejected by a limit.
    pub errors: u64,
}

const END_COMMAND: &[u8] = b"--END COMMAND--";

/// Legacy `Response: Follows` state of the message being framed (client role).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Follows {
    No,
    /// After `Response: Follows`: `Privilege:`/`ActionID:` lines are headers.
    Headers,
    /// Raw CLI text until `--END COMMAND--`; blank lines do not end the message.
    Body,
    /// After the end marker: ordinary lines until the blank line.
    Trailer,
}

/// How one complete line takes part in the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineClass {
    /// An empty line: the end of the message.
    Blank,
    /// A header (or bare) line to keep.
    Header,
    /// Legacy command text.
    Body,
    /// Legacy command text ending with the end marker, which starts at this offset in the line.
    BodyEnd(usize),
}

/// True for the line `Response: Follows` (names and values ASCII case-insensitive, one optional
/// space after the colon): the first line of the legacy command form.
fn is_response_follows(line: &[u8]) -> bool {
    if !starts_with_name(line, b"Response") {
        return false;
    }
    let value = line.get(9..).unwrap_or_default();
    value.strip_prefix(b" ").unwrap_or(value).eq_ignore_ascii_case(b"Follows")
}

fn starts_with_name(line: &[u8], name: &[u8]) -> bool {
    line.len() > name.len()
        && line.get(..name.len()).is_some_and(|n| n.eq_ignore_ascii_case(name))
        && line.get(name.len()) == Some(&b':')
}

impl Follows {
    /// Classifies a line (content without terminator) and advances the legacy state.
    #[inline]
    fn step(&mut self, line: &[u8], first: bool, role: Role) -> LineClass {
        if *self == Follows::Body {
            if line.ends_with(END_COMMAND) {
                *self = Follows::Trailer;
                return LineClass::BodyEnd(line.len() - END_COMMAND.len());
            }
            return LineClass::Body;
        }
        if line.is_empty() {
            if *self == Follows::Headers {
                // Output that begins with blank lines: after `Response: Follows` the output runs
                // to `--END COMMAND--` (Asterisk 13 manager.c, action_command), blank lines
                // included.
                *self = Follows::Body;
                return LineClass::Body;
            }
            return LineClass::Blank;
        }
        if role == Role::Client {
            if first {
                if is_response_follows(line) {
                    *self = Follows::Headers;
                }
            } else if *self == Follows::Headers
                && !starts_with_name(line, b"Privilege")
                && !starts_with_name(line, b"ActionID")
            {
                if line.ends_with(END_COMMAND) {
                    *self = Follows::Trailer;
                    return LineClass::BodyEnd(line.len() - END_COMMAND.len());
                }
                *self = Follows::Body;
                return LineClass::Body;
            }
        }
        LineClass::Header
    }
}

/// Where the content of the line `buf[start..lf]` ends: one CR before the LF is removed; in the
/// server role the content also stops at the first NUL (Asterisk copies lines as C strings).
fn content_end(buf: &[u8], start: usize, lf: usize, role: Role) -> usize {
    let mut end = lf;
    if end > start && buf.get(end - 1) == Some(&b'\r') {
        end -= 1;
    }
    if role == Role::Server
        && let Some(i) = buf.get(start..end).and_then(|l| memchr(0, l))
    {
        end = start + i;
    }
    end
}

/// A streaming AMI decoder over an internal buffer.
///
/// Feed bytes with [`Decoder::feed`] as they arrive, then call [`Decoder::next_frame`] until it
/// returns `None`. Each returned view borrows the decoder and stays valid until the next call
/// that takes `&mut self`.
#[derive(Debug)]
pub struct Decoder {
    role: Role,
    limits: DecoderLimits,
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Start of the current message in `buf`; in salvage mode, the first unconsumed byte.
    start: usize,
    /// Start of the next line.
    pos: usize,
    /// The structural index of `buf`: the masks of the block being framed. Bytes before its
    /// end are never searched again.
    index: BlockIndex,
    slots: Vec<HeaderSlot>,
    follows: Follows,
    body: Option<(u32, u32)>,
    /// Stream offset of the current message.
    msg_offset: u64,
    banner_pending: bool,
    /// The previous call returned a frame whose state must be cleared first.
    emitted: bool,
    /// The current message broke a limit: its kept lines live in `salvage`.
    salvaging: bool,
    salvage: Vec<u8>,
    too_long: bool,
    too_many: bool,
    too_large: bool,
    first_error: Option<FrameErrorKind>,
    /// Client role: discarding the rest of an overlong line.
    skipping_line: bool,
    stats: DecoderStats,
}

impl Decoder {
    /// A decoder with the default limits of `role`.
    pub fn new(role: Role) -> Decoder {
        Decoder::build(role, DecoderLimits::for_role(role))
    }

    /// A decoder with custom limits.
    pub fn with_limits(role: Role, limits: DecoderLimits) -> Result<Decoder, InvalidLimits> {
        limits.validate()?;
        Ok(Decoder::build(role, limits))
    }

    fn build(role: Role, limits: DecoderLimits) -> Decoder {
        Decoder {
            role,
            limits,
            buf: Vec::new(),
            base: 0,
            start: 0,
            pos: 0,
            index: BlockIndex::new(),
            slots: Vec::new(),
            follows: Follows::No,
            body: None,
            msg_offset: 0,
            banner_pending: role == Role::Client,
            emitted: false,
            salvaging: false,
            salvage: Vec::new(),
            too_long: false,
            too_many: false,
            too_large: false,
            first_error: None,
            skipping_line: false,
            stats: DecoderStats::default(),
        }
    }

    /// The role this decoder reads for.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The limits in force.
    pub fn limits(&self) -> DecoderLimits {
        self.limits
    }

    /// Work counters.
    pub fn stats(&self) -> DecoderStats {
        self.stats
    }

    /// Bytes buffered that do not yet form a complete frame.
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    /// True if part of a message has been received but not its end. At EOF this means the peer
    /// closed mid-message; Asterisk discards such a message unprocessed (spec §1.6).
    pub fn is_mid_message(&self) -> bool {
        self.buffered() > 0
            || (!self.emitted && (!self.slots.is_empty() || self.salvaging || self.skipping_line))
    }

    /// Appends bytes received from the peer. Any bytes are accepted; nothing is decoded until
    /// [`Decoder::next_frame`] is called.
    pub fn feed(&mut self, data: &[u8]) {
        self.finish_emitted();
        if self.start > 0 && self.start >= self.buf.len() - self.start {
            self.compact();
        }
        self.buf.extend_from_slice(data);
        self.stats.bytes_fed += data.len() as u64;
    }

    /// Drops everything buffered and starts again as if newly created (the banner included).
    pub fn reset(&mut self) {
        let (role, limits) = (self.role, self.limits);
        let mut buf = core::mem::take(&mut self.buf);
        let mut slots = core::mem::take(&mut self.slots);
        let mut salvage = core::mem::take(&mut self.salvage);
        buf.clear();
        slots.clear();
        salvage.clear();
        *self = Decoder { buf, slots, salvage, ..Decoder::build(role, limits) };
    }

    fn compact(&mut self) {
        let n = self.start;
        if n == self.buf.len() {
            self.buf.clear();
            self.index.clear();
        } else {
            self.stats.bytes_moved += (self.buf.len() - n) as u64;
            self.buf.drain(..n);
        }
        self.base += n as u64;
        self.start = 0;
        self.pos -= n;
        self.index.shift(n);
    }

    /// Clears the state of the frame returned by the previous call.
    fn finish_emitted(&mut self) {
        if self.emitted {
            self.emitted = false;
            self.begin_message();
        }
    }

    fn begin_message(&mut self) {
        let sticky_too_long = self.role == Role::Server && self.too_many && self.too_long;
        self.slots.clear();
        self.follows = Follows::No;
        self.body = None;
        self.salvaging = false;
        self.salvage.clear();
        self.too_long = false;
        self.too_many = false;
        self.too_large = false;
        self.first_error = None;
        self.msg_offset = self.base + self.start as u64;
        if sticky_too_long {
            // Asterisk quirk (manager.c do_message): when a message had both too many lines and
            // an overlong line, only the first error is answered and the session's "line too
            // long" state survives, so the next message is refused with it too.
            self.enter_salvage();
            self.too_long = true;
            self.first_error = Some(FrameErrorKind::LineTooLong { limit: self.limits.max_line });
        }
    }

    /// Moves the kept lines of the current message out of `buf` so that nothing more of it needs
    /// to be buffered.
    fn enter_salvage(&mut self) {
        if self.salvaging {
            return;
        }
        self.salvaging = true;
        self.salvage.clear();
        let base = self.start;
        for slot in &mut self.slots {
            let r = slot.line_range();
            let line = self.buf.get(base + r.start..base + r.end).unwrap_or_default();
            let at = self.salvage.len();
            self.salvage.extend_from_slice(line);
            self.salvage.extend_from_slice(b"\r\n");
            *slot = HeaderSlot::for_line(&self.salvage, at, at + line.len(), self.role);
        }
        self.body = None;
        self.start = self.pos;
    }

    fn doom(&mut self, kind: FrameErrorKind) {
        self.banner_pending = false;
        self.enter_salvage();
        match kind {
            FrameErrorKind::LineTooLong { .. } => self.too_long = true,
            FrameErrorKind::TooManyHeaders { .. } => self.too_many = true,
            FrameErrorKind::MessageTooLarge { .. } => self.too_large = true,
            FrameErrorKind::NotAmiServer => {}
        }
        if self.first_error.is_none() {
            self.first_error = Some(kind);
        }
    }

    /// The index in `buf` of the next LF at or after `pos`, indexing only bytes not indexed
    /// before.
    #[inline]
    fn next_lf(&mut self) -> Option<usize> {
        self.index.discard_below(self.pos);
        while self.index.lf == 0 {
            if !self.index.next_block(&self.buf, self.pos, &mut self.stats.bytes_scanned) {
                return None;
            }
        }
        Some(self.index.base + self.index.lf.trailing_zeros() as usize)
    }

    /// Finds the next complete line. Returns `(start, lf)`: the line is `buf[start..lf]` plus
    /// its terminator; the next line starts at `lf + 1`.
    #[inline]
    fn next_line(&mut self) -> Option<(usize, usize)> {
        loop {
            let lf = self.next_lf();
            if self.skipping_line {
                match lf {
                    Some(lf) => {
                        self.skipping_line = false;
                        self.pos = lf + 1;
                        self.start = self.pos;
                        continue;
                    }
                    None => {
                        self.pos = self.pos.max(self.index.end);
                        self.start = self.pos;
                        return None;
                    }
                }
            }
            let max_line = self.limits.max_line;
            match lf {
                Some(lf) if lf - self.pos < max_line => {
                    let start = self.pos;
                    self.pos = lf + 1;
                    return Some((start, lf));
                }
                // No line end within the window: the line does not fit.
                Some(_) => {}
                None if self.buf.len() - self.pos >= max_line => {}
                None => return None,
            }
            self.doom(FrameErrorKind::LineTooLong { limit: max_line });
            match self.role {
                Role::Server => {
                    // Asterisk discards the first max_line - 1 bytes and keeps the last one, in
                    // case it is the CR of a CRLF (spec §1.5).
                    self.pos += max_line - 1;
                    self.start = self.pos;
                }
                Role::Client => {
                    self.skipping_line = true;
                    self.pos += max_line;
                    self.start = self.pos;
                }
            }
        }
    }

    /// Returns the next complete frame, `Some(Err(..))` for a message that broke a limit (the
    /// stream is already past it), or `None` when more input is needed.
    pub fn next_frame(&mut self) -> Option<Result<Frame<'_>, FrameError<'_>>> {
        let token = self.advance()?;
        self.frame(token)
    }

    /// Decodes the next frame like [`Decoder::next_frame`] but returns an owned
    /// [`FrameToken`]; [`Decoder::frame`] turns it into the view.
    ///
    /// The two steps let a caller look at a frame, decide to skip it and go on to the next one
    /// in a loop, which the borrow checker does not allow with a view returned from the loop:
    ///
    /// ```
    /// use ami_proto::{Decoder, Frame, Message, Role};
    ///
    /// /// The next message that is not a `Ping` reply.
    /// fn next_interesting(dec: &mut Decoder) -> Option<Message<'_>> {
    ///     loop {
    ///         let token = dec.advance()?;
    ///         let is_pong = matches!(dec.frame(token), Some(Ok(Frame::Message(m)))
    ///             if m.get("Ping") == Some(b"Pong"));
    ///         if is_pong {
    ///             continue;
    ///         }
    ///         return match dec.frame(token)? {
    ///             Ok(Frame::Message(m)) => Some(m),
    ///             _ => None,
    ///         };
    ///     }
    /// }
    ///
    /// let mut dec = Decoder::new(Role::Client);
    /// dec.feed(b"\r\nResponse: Success\r\nPing: Pong\r\n\r\nEvent: Hangup\r\n\r\n");
    /// assert_eq!(next_interesting(&mut dec).unwrap().event(), Some(&b"Hangup"[..]));
    /// ```
    pub fn advance(&mut self) -> Option<FrameToken> {
        self.finish_emitted();
        loop {
            if let Some(next) = self.fast_lines() {
                return Some(self.emit_message(next));
            }
            let (ls, lf) = self.next_line()?;
            let next = lf + 1;
            let le = content_end(&self.buf, ls, lf, self.role);
            let line = self.buf.get(ls..le).unwrap_or_default();

            if self.banner_pending {
                self.banner_pending = false;
                let fresh = self.slots.is_empty() && !self.salvaging;
                if fresh && line.starts_with(Banner::PREFIX) {
                    self.start = next;
                    self.emitted = true;
                    self.stats.frames += 1;
                    return Some(self.token(TokenKind::Banner { start: ls, end: le }));
                }
                if fresh && !line.is_empty() && memchr(b':', line).is_none() {
                    // Neither a banner nor a header: whatever answered is not an AMI server
                    // (an HTTP or SSH server, say). Report it now rather than wait for a blank
                    // line that may never come.
                    self.doom(FrameErrorKind::NotAmiServer);
                    self.salvage_line(ls, le);
                    self.start = next;
                    return Some(self.emit_error());
                }
            }

            let first = self.slots.is_empty() && self.follows == Follows::No;
            let class = self.follows.step(line, first, self.role);

            if self.salvaging {
                self.start = next;
                match class {
                    LineClass::Blank => return Some(self.emit_error()),
                    LineClass::Body | LineClass::BodyEnd(_) => {}
                    LineClass::Header => self.salvage_line(ls, le),
                }
                continue;
            }

            let rel = |i: usize| i - self.start;
            match class {
                LineClass::Blank => {
                    if first && self.role == Role::Client {
                        // A stray blank line between messages carries nothing; skip it.
                        self.start = next;
                        self.msg_offset = self.base + next as u64;
                        continue;
                    }
                    return Some(self.emit_message(next));
                }
                _ if next - self.start > self.limits.max_message => {
                    self.doom(FrameErrorKind::MessageTooLarge { limit: self.limits.max_message });
                    self.start = next;
                }
                LineClass::Header => {
                    if self.slots.len() >= self.limits.max_headers {
                        self.doom(FrameErrorKind::TooManyHeaders {
                            limit: self.limits.max_headers,
                        });
                        self.start = next;
                        continue;
                    }
                    self.slots.push(HeaderSlot::for_line(
                        self.buf.get(self.start..).unwrap_or_default(),
                        rel(ls),
                        rel(le),
                        self.role,
                    ));
                }
                LineClass::Body => {
                    let s = rel(ls) as u32;
                    self.body.get_or_insert((s, s));
                }
                LineClass::BodyEnd(at) => {
                    let s = rel(ls) as u32;
                    let (body_start, _) = *self.body.get_or_insert((s, s));
                    self.body = Some((body_start, (rel(ls) + at) as u32));
                }
            }
        }
    }

    /// Ends the current message at `next` (just after its blank line) and returns its view.
    fn emit_message(&mut self, next: usize) -> FrameToken {
        let raw_start = self.start;
        self.start = next;
        self.emitted = true;
        self.stats.frames += 1;
        self.token(TokenKind::Message { start: raw_start, end: next })
    }

    fn token(&self, kind: TokenKind) -> FrameToken {
        FrameToken { kind, generation: self.stats.frames + self.stats.errors }
    }

    /// The view of a frame returned by [`Decoder::advance`]; `None` if the token is stale (the
    /// decoder has moved on since it was returned).
    pub fn frame(&self, token: FrameToken) -> Option<Result<Frame<'_>, FrameError<'_>>> {
        if !self.emitted || token.generation != self.stats.frames + self.stats.errors {
            return None;
        }
        Some(match token.kind {
            TokenKind::Banner { start, end } => {
                Ok(Frame::Banner(Banner { line: self.buf.get(start..end).unwrap_or_default() }))
            }
            TokenKind::Message { start, end } => Ok(Frame::Message(Message::new(
                self.buf.get(start..end).unwrap_or_default(),
                &self.slots,
                self.role,
                self.body,
            ))),
            TokenKind::Error { kind, offset } => Err(FrameError {
                kind,
                offset,
                partial: Message::new(&self.salvage, &self.slots, self.role, None),
            }),
        })
    }

    /// The common case, kept lean: the lines of client-role messages outside the legacy command
    /// form, read off the block masks. Stores them and returns the end of the message at its
    /// blank line; returns `None` (having consumed nothing it could not handle) when more input
    /// is needed or anything else must be looked at, which the general path does from the same
    /// index.
    ///
    /// Per line: the line feed is the lowest bit of the LF mask, the CR before it one bit of the
    /// CRLF mask, the first colon the lowest bit of the colon mask below the line feed (or the
    /// colon carried over from an earlier block), the value start one byte compare. No limit is
    /// checked per line unless the block could break one: a block is checked once, on entry,
    /// against the line, message and header limits.
    #[inline(never)]
    fn fast_lines(&mut self) -> Option<usize> {
        if self.role != Role::Client
            || self.salvaging
            || self.skipping_line
            || self.banner_pending
            || self.follows != Follows::No
        {
            return None;
        }
        let Decoder { buf, index: ix, slots, start, pos, limits, stats, base, msg_offset, .. } =
            self;
        let (buf, lim) = (&buf[..], *limits);
        ix.discard_below(*pos);
        let mut st = Lines {
            lfs: ix.lf,
            colons: ix.colon,
            crlf: ix.crlf,
            bb: ix.base,
            p: *pos,
            s: *start,
            pending: NONE,
        };
        st.pending = st.carried(ix, buf);
        let end = loop {
            let step = if st.near_limit(ix.end, slots.len(), &lim) {
                st.block::<true>(buf, slots, &lim)
            } else if slots.is_empty() {
                st.block::<false>(buf, slots, &lim)
            } else {
                st.header_lines(buf, slots, ix, &lim)
            };
            match step {
                Step::Headers => {}
                Step::Stray => *msg_offset = *base + st.p as u64,
                Step::End => break Some(st.p),
                Step::General => break None,
                Step::BlockDone => {
                    // Carry the first colon of the line in progress over to the next block.
                    st.pending = first_colon(st.pending, st.colons, st.bb);
                    (ix.carry_line, ix.carry_colon) = (st.p, st.pending);
                    (ix.lf, ix.colon) = (0, 0);
                    if !ix.next_block(buf, st.p, &mut stats.bytes_scanned) {
                        break None;
                    }
                    (st.lfs, st.colons, st.crlf, st.bb) = (ix.lf, ix.colon, ix.crlf, ix.base);
                    if st.p >= st.bb {
                        st.pending = NONE;
                    }
                }
            }
        };
        (ix.lf, ix.colon) = (st.lfs, st.colons);
        (*start, *pos) = (st.s, st.p);
        end
    }

    /// Keeps one more line of a message that broke a limit, within the limits.
    fn salvage_line(&mut self, ls: usize, le: usize) {
        if self.slots.len() >= self.limits.max_headers {
            self.too_many = true;
            if self.first_error.is_none() {
                self.first_error =
                    Some(FrameErrorKind::TooManyHeaders { limit: self.limits.max_headers });
            }
            return;
        }
        let line = self.buf.get(ls..le).unwrap_or_default();
        if self.salvage.len() + line.len() + 2 > self.limits.max_message {
            return;
        }
        let at = self.salvage.len();
        self.salvage.extend_from_slice(line);
        self.salvage.extend_from_slice(b"\r\n");
        self.slots.push(HeaderSlot::for_line(&self.salvage, at, at + line.len(), self.role));
    }

    fn emit_error(&mut self) -> FrameToken {
        // Asterisk answers "too many lines" before "line too long" (manager.c do_message).
        let kind = if self.role == Role::Server {
            if self.too_many {
                FrameErrorKind::TooManyHeaders { limit: self.limits.max_headers }
            } else if self.too_long {
                FrameErrorKind::LineTooLong { limit: self.limits.max_line }
            } else {
                FrameErrorKind::MessageTooLarge { limit: self.limits.max_message }
            }
        } else {
            self.first_error
                .unwrap_or(FrameErrorKind::MessageTooLarge { limit: self.limits.max_message })
        };
        self.emitted = true;
        self.stats.errors += 1;
        if self.salvage.is_empty() || !self.salvage.ends_with(b"\r\n\r\n") {
            self.salvage.extend_from_slice(b"\r\n");
        }
        self.token(TokenKind::Error { kind, offset: self.msg_offset })
    }
}

/// Where [`Lines::block`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// The block has no line feed left.
    BlockDone,
    /// A stray blank line was skipped: the message now starts at `p`.
    Stray,
    /// The message ended with the blank line before `p`.
    End,
    /// The line at `p` needs the general path (a limit is broken, or it is `Response:
    /// Follows`); its line feed is still in the masks.
    General,
    /// The first line of the message is stored: the rest of the block goes to
    /// [`Lines::header_lines`].
    Headers,
}

/// Whether a line ending in a block that ends at `end` could break a limit, for the line in
/// progress at `p` of the message at `s` with `headers` lines kept; a block holds at most 64
/// lines.
#[inline(always)]
fn could_break(end: usize, p: usize, s: usize, headers: usize, lim: &DecoderLimits) -> bool {
    end.saturating_sub(p) > lim.max_line
        || end.saturating_sub(s) > lim.max_message
        || headers + BLOCK > lim.max_headers
}

/// The first colon of the line in progress when its block is done: the one found before the
/// block (`pending`, or [`NONE`]) or else the lowest colon left in the block's mask, whose bit 0
/// is at `base` (colons of earlier lines are already cleared). Offsets may be relative to the
/// message start, hence the wrapping addition.
///
/// Without a branch: whether the block holds a colon of the line in progress is as likely as
/// not, so a branch on it was mispredicted about once every other block (a quarter of the fast
/// path's mispredictions in callgrind's simulation; without it they halved). With no colon, the
/// candidate is all ones, [`NONE`].
#[inline(always)]
fn first_colon(pending: usize, colons: u64, base: usize) -> usize {
    let found = base.wrapping_add(colons.trailing_zeros() as usize);
    pending.min(found | usize::from(colons == 0).wrapping_neg())
}

/// The fast path's state: the current block's masks and the line in progress, in registers.
#[derive(Clone, Copy, Debug)]
struct Lines {
    /// Line feeds, colons and CR-before-LF of the block, consumed bits clear.
    lfs: u64,
    colons: u64,
    crlf: u64,
    /// Buffer offset of the block's bit 0.
    bb: usize,
    /// Start of the line in progress, and of the message.
    p: usize,
    s: usize,
    /// First colon of the line in progress before the block (`NONE`: none).
    pending: usize,
}

impl Lines {
    /// Whether a line ending in the current block (which ends at `end`) could break a limit;
    /// a block holds at most 64 lines.
    #[inline]
    fn near_limit(&self, end: usize, headers: usize, lim: &DecoderLimits) -> bool {
        could_break(end, self.p, self.s, headers, lim)
    }

    /// The first colon of the line in progress found before the current block.
    #[inline]
    fn carried(&self, ix: &BlockIndex, buf: &[u8]) -> usize {
        if self.p >= ix.base {
            NONE
        } else if ix.carry_line == self.p {
            ix.carry_colon
        } else {
            // The general path read the line's start: look at it again (rare).
            let head = buf.get(self.p..ix.base).unwrap_or_default();
            memchr(b':', head).map_or(NONE, |i| self.p + i)
        }
    }

    /// Frames the lines that end in the current block, storing their slots, until the block
    /// has no line feed left, the message ends, or a line needs the general path. `CHECKED`:
    /// the block could break a limit, so each line is checked.
    #[inline(always)]
    fn block<const CHECKED: bool>(
        &mut self,
        buf: &[u8],
        slots: &mut Vec<HeaderSlot>,
        lim: &DecoderLimits,
    ) -> Step {
        let Lines { mut lfs, mut colons, crlf, bb, mut p, s, mut pending } = *self;
        let step = loop {
            if lfs == 0 {
                break Step::BlockDone;
            }
            let i = lfs.trailing_zeros() as usize;
            let (ls, lf) = (p, bb + i);
            // The CR before the LF (never a line's only byte: lines start after an LF).
            let le = (lf - ((crlf >> i) & 1) as usize).max(ls);
            if CHECKED
                && (lf - ls >= lim.max_line
                    || (le != ls
                        && (lf + 1 - s > lim.max_message || slots.len() >= lim.max_headers)))
            {
                break Step::General;
            }
            lfs &= lfs - 1;
            if le == ls {
                colons &= index::above(i);
                p = lf + 1;
                if slots.is_empty() {
                    // A stray blank line between messages carries nothing; skip it.
                    self.s = p;
                    break Step::Stray;
                }
                break Step::End;
            }
            if slots.is_empty() && (le - ls == 16 || le - ls == 17) {
                let line = buf.get(ls..le).unwrap_or_default();
                if is_response_follows(line) {
                    lfs |= 1 << i;
                    break Step::General;
                }
            }
            // The first colon: carried from an earlier block, else the lowest colon bit of the
            // block if it lies before the line feed (bits before the line are already clear).
            let c = colons.trailing_zeros() as usize;
            let colon = pending.min(if c < i { bb + c } else { NONE });
            pending = NONE;
            colons &= index::above(i);
            let (rs, re) = ((ls - s) as u32, (le - s) as u32);
            slots.push(if colon == NONE {
                HeaderSlot::bare(rs, re)
            } else {
                // The value starts after the colon and one space (the client rule).
                let v = colon + 1;
                let v = v + usize::from(v < le && buf.get(v) == Some(&b' '));
                HeaderSlot::header(rs, re, (colon - s) as u32, (v - s) as u32)
            });
            p = lf + 1;
            if !CHECKED {
                break Step::Headers;
            }
        };
        (self.lfs, self.colons, self.p, self.pending) = (lfs, colons, p, pending);
        step
    }

    /// The hot loop: the lines after the first of a message, in blocks where no limit can be
    /// broken. Stores their slots until the blank line ends the message ([`Step::End`]) or
    /// the current block has no line feed left and the next one is not simply the next of the
    /// classified batch, within the limits ([`Step::BlockDone`]: the caller moves on). Going
    /// on to the next block here, the common case, costs a few loads instead of a return to
    /// the caller's dispatch once per 64 bytes.
    #[inline(always)]
    fn header_lines(
        &mut self,
        buf: &[u8],
        slots: &mut Vec<HeaderSlot>,
        ix: &mut BlockIndex,
        lim: &DecoderLimits,
    ) -> Step {
        let Lines { mut lfs, mut colons, mut crlf, bb, p, s, pending } = *self;
        // In offsets from the message start, as the slots hold them.
        let msg = buf.get(s..).unwrap_or_default();
        let mut rb = bb.wrapping_sub(s);
        let mut rp = p.wrapping_sub(s);
        let mut pending = if pending == NONE { NONE } else { pending.wrapping_sub(s) };
        let step = loop {
            if lfs == 0 {
                // The block is done. The next one, if already classified and unable to break a
                // limit (`could_break`, as the caller checks it), is taken here; the first colon of the line
                // in progress is carried over as the caller would.
                let p = rp.wrapping_add(s);
                let next_end = (ix.end + BLOCK).min(ix.classified_end());
                if could_break(next_end, p, s, slots.len(), lim) || !ix.next_in_batch(p) {
                    break Step::BlockDone;
                }
                pending = first_colon(pending, colons, rb);
                (lfs, colons, crlf, rb) = (ix.lf, ix.colon, ix.crlf, ix.base.wrapping_sub(s));
                if p >= ix.base {
                    pending = NONE;
                }
                continue;
            }
            let i = lfs.trailing_zeros() as usize;
            lfs &= lfs - 1;
            let lf = rb.wrapping_add(i);
            // Lines start after an LF, so a CR before this one is never the line's start.
            let le = lf.wrapping_sub(((crlf >> i) & 1) as usize);
            let c = colons.trailing_zeros() as usize;
            colons &= index::above(i);
            if le <= rp {
                rp = lf + 1;
                break Step::End;
            }
            let colon = pending.min(if c < i { rb.wrapping_add(c) } else { NONE });
            pending = NONE;
            slots.push(if colon == NONE {
                HeaderSlot::bare(rp as u32, le as u32)
            } else {
                // One space after the colon belongs to no value; the byte at the line's end
                // is its CR or LF, so no bound is needed but the buffer's.
                let v = colon + 1;
                let v = v + usize::from(msg.get(v) == Some(&b' '));
                HeaderSlot::header(rp as u32, le as u32, colon as u32, v as u32)
            });
            rp = lf + 1;
        };
        let pending = if pending == NONE { NONE } else { pending.wrapping_add(s) };
        (self.lfs, self.colons, self.p, self.pending) = (lfs, colons, rp.wrapping_add(s), pending);
        (self.crlf, self.bb) = (crlf, rb.wrapping_add(s));
        step
    }
}

/// An owned handle to the frame [`Decoder::advance`] just decoded; [`Decoder::frame`] gives
/// its view. Meaningful until the decoder's next `&mut self` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameToken {
    kind: TokenKind,
    generation: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenKind {
    Banner { start: usize, end: usize },
    Message { start: usize, end: usize },
    Error { kind: FrameErrorKind, offset: u64 },
}

/// Result of [`parse_message`]: a complete message, or a need for more bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole message was parsed.
    Complete(T),
    /// The buffer ends before the message does.
    Partial,
}

/// Why [`parse_message`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParseErrorKind {
    /// More lines than header slots (or than the role's `max_headers`).
    TooManyHeaders {
        /// The number of lines that could be stored.
        limit: usize,
    },
    /// A line does not fit in the role's `max_line`.
    LineTooLong {
        /// The `max_line` in force.
        limit: usize,
    },
    /// The message is larger than the role's `max_message`.
    MessageTooLarge {
        /// The `max_message` in force.
        limit: usize,
    },
}

/// A [`parse_message`] failure, with the byte offset (in the given buffer) of the line at fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// Offset of the offending line in the buffer.
    pub offset: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ParseErrorKind::TooManyHeaders { limit } => {
                write!(f, "more than {limit} lines in one message")?
            }
            ParseErrorKind::LineTooLong { limit } => write!(f, "line longer than {limit} bytes")?,
            ParseErrorKind::MessageTooLarge { limit } => {
                write!(f, "message larger than {limit} bytes")?
            }
        }
        write!(f, " at byte {}", self.offset)
    }
}

impl std::error::Error for ParseError {}

/// Parses one message from the start of `buf` into the caller's slot array, allocating nothing
/// (in the manner of httparse).
///
/// Returns the number of bytes the message used (its blank line included) and a view of it, or
/// [`Status::Partial`] if `buf` ends first. The rules are the [`Decoder`]'s for `role` with its
/// default limits, except that a limit is an error here rather than a resynchronisation point,
/// and a client-role banner is not recognised (see [`parse_banner`]). In the client role, blank
/// lines before the message are skipped and counted in the length.
///
/// ```
/// use ami_proto::{parse_message, HeaderSlot, Role, Status};
///
/// let mut slots = [HeaderSlot::EMPTY; 8];
/// let input = b"Action: Ping\r\nActionID: 1\r\n\r\nAction: Lo";
/// match parse_message(Role::Server, input, &mut slots)? {
///     Status::Complete((n, msg)) => {
///         assert_eq!(n, 29);
///         assert_eq!(msg.action(), Some(&b"Ping"[..]));
///     }
///     Status::Partial => unreachable!(),
/// }
/// assert_eq!(parse_message(Role::Server, &input[29..], &mut slots)?, Status::Partial);
/// # Ok::<(), ami_proto::ParseError>(())
/// ```
pub fn parse_message<'a>(
    role: Role,
    buf: &'a [u8],
    slots: &'a mut [HeaderSlot],
) -> Result<Status<(usize, Message<'a>)>, ParseError> {
    let limits = DecoderLimits::for_role(role);
    let max_headers = slots.len().min(limits.max_headers);
    let mut start = 0;
    let mut pos = 0;
    let mut n = 0;
    let mut follows = Follows::No;
    let mut body: Option<(u32, u32)> = None;
    loop {
        let window_end = buf.len().min(pos + limits.max_line);
        let Some(i) = buf.get(pos..window_end).and_then(|w| memchr(b'\n', w)) else {
            if buf.len() - pos >= limits.max_line {
                let kind = ParseErrorKind::LineTooLong { limit: limits.max_line };
                return Err(ParseError { kind, offset: pos });
            }
            return Ok(Status::Partial);
        };
        let (ls, lf) = (pos, pos + i);
        let next = lf + 1;
        pos = next;
        let le = content_end(buf, ls, lf, role);
        let line = buf.get(ls..le).unwrap_or_default();
        let first = n == 0 && follows == Follows::No;
        let class = follows.step(line, first, role);
        if class == LineClass::Blank {
            if first && role == Role::Client {
                start = next;
                continue;
            }
            let raw = buf.get(start..next).unwrap_or_default();
            let slots = slots.get(..n).unwrap_or_default();
            return Ok(Status::Complete((next, Message::new(raw, slots, role, body))));
        }
        if next - start > limits.max_message {
            let kind = ParseErrorKind::MessageTooLarge { limit: limits.max_message };
            return Err(ParseError { kind, offset: ls });
        }
        match class {
            LineClass::Blank => {}
            LineClass::Header => {
                let Some(slot) = slots.get_mut(n).filter(|_| n < max_headers) else {
                    let kind = ParseErrorKind::TooManyHeaders { limit: max_headers };
                    return Err(ParseError { kind, offset: ls });
                };
                *slot = HeaderSlot::for_line(
                    buf.get(start..).unwrap_or_default(),
                    ls - start,
                    le - start,
                    role,
                );
                n += 1;
            }
            LineClass::Body => {
                let s = (ls - start) as u32;
                body.get_or_insert((s, s));
            }
            LineClass::BodyEnd(at) => {
                let s = (ls - start) as u32;
                let (body_start, _) = *body.get_or_insert((s, s));
                body = Some((body_start, (ls - start + at) as u32));
            }
        }
    }
}

/// Parses a banner line (`Asterisk Call Manager/<version>` and its line end) at the start of
/// `buf`: `Ok(Complete((used, banner)))`, `Ok(Partial)` if the line is not complete, or `Err(())`
/// if the first line is not a banner.
#[allow(clippy::result_unit_err)]
pub fn parse_banner(buf: &[u8]) -> Result<Status<(usize, Banner<'_>)>, ()> {
    let prefix_len = buf.len().min(Banner::PREFIX.len());
    if buf.get(..prefix_len) != Banner::PREFIX.get(..prefix_len) {
        return Err(());
    }
    match memchr(b'\n', buf) {
        None => Ok(Status::Partial),
        Some(lf) => {
            let le = content_end(buf, 0, lf, Role::Client);
            let line = buf.get(..le).unwrap_or_default();
            if line.starts_with(Banner::PREFIX) {
                Ok(Status::Complete((lf + 1, Banner { line })))
            } else {
                Err(())
            }
        }
    }
}

#[cfg(test)]
mod tests;
