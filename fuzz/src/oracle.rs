//! The differential oracle: the line-at-a-time framer that `ami-proto` used before its
//! structural index (one `memchr` per line, every limit checked per line), kept here as plain
//! code with owned output, to be compared with the real decoder on any input and any chunking.
//!
//! It is the old `frame.rs` decoder with three changes: it has no fast path (the old fast path
//! was an optimisation of this same general path); it produces owned [`Item`]s instead of views;
//! and it carries the two framing rules that changed on purpose with the new framer (legacy
//! command output that begins with blank lines stays one message; a client stream whose first
//! line is neither a banner nor a header is reported as "not an AMI server"). Anything else the
//! two disagree on is a bug in one of them.

use ami_proto::{DecoderLimits, FrameErrorKind, Role};
use memchr::memchr;

/// One line of a message as the decoder's views show it: name, value, bare.
pub type Line = (Vec<u8>, Vec<u8>, bool);

/// An owned record of one decoder output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// The banner line.
    Banner(Vec<u8>),
    /// A message: its lines and its legacy command text, if any.
    Msg(Vec<Line>, Option<Vec<u8>>),
    /// A message that broke a limit (or a first line that is not AMI): the kind and the kept
    /// lines.
    Err(FrameErrorKind, Vec<Line>),
}

const END_COMMAND: &[u8] = b"--END COMMAND--";
const BANNER: &[u8] = b"Asterisk Call Manager";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Follows {
    No,
    Headers,
    Body,
    Trailer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineClass {
    Blank,
    Header,
    Body,
    BodyEnd(usize),
}

fn starts_with_name(line: &[u8], name: &[u8]) -> bool {
    line.len() > name.len()
        && line.get(..name.len()).is_some_and(|n| n.eq_ignore_ascii_case(name))
        && line.get(name.len()) == Some(&b':')
}

impl Follows {
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
                // Changed on purpose: the output may begin with blank lines.
                *self = Follows::Body;
                return LineClass::Body;
            }
            return LineClass::Blank;
        }
        if role == Role::Client {
            if first {
                if starts_with_name(line, b"Response") {
                    let value = line.get(9..).unwrap_or_default();
                    let value = value.strip_prefix(b" ").unwrap_or(value);
                    if value.eq_ignore_ascii_case(b"Follows") {
                        *self = Follows::Headers;
                    }
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

/// Name, value and bareness of one line by the role's rule, written out byte by byte.
fn split(line: &[u8], role: Role) -> Line {
    match line.iter().position(|&b| b == b':') {
        None => (Vec::new(), line.to_vec(), true),
        Some(i) => {
            let rest = &line[i + 1..];
            let value = match role {
                Role::Client => rest.strip_prefix(b" ").unwrap_or(rest),
                Role::Server => {
                    let skip = rest.iter().take_while(|&&b| (0x01..=0x20).contains(&b)).count();
                    &rest[skip..]
                }
            };
            (line[..i].to_vec(), value.to_vec(), false)
        }
    }
}

/// The old streaming decoder. Line ranges are kept relative to the message start (in `buf`) or
/// to `salvage`, as the old slot table was.
#[derive(Debug)]
pub struct Oracle {
    role: Role,
    limits: DecoderLimits,
    buf: Vec<u8>,
    start: usize,
    pos: usize,
    scan: usize,
    lines: Vec<(usize, usize)>,
    follows: Follows,
    body: Option<(usize, usize)>,
    banner_pending: bool,
    salvaging: bool,
    salvage: Vec<u8>,
    too_long: bool,
    too_many: bool,
    first_error: Option<FrameErrorKind>,
    skipping_line: bool,
    /// What the old decoder counted in `DecoderStats::bytes_scanned`.
    pub bytes_scanned: u64,
}

impl Oracle {
    /// A decoder for `role` with `limits` (assumed valid).
    pub fn new(role: Role, limits: DecoderLimits) -> Oracle {
        Oracle {
            role,
            limits,
            buf: Vec::new(),
            start: 0,
            pos: 0,
            scan: 0,
            lines: Vec::new(),
            follows: Follows::No,
            body: None,
            banner_pending: role == Role::Client,
            salvaging: false,
            salvage: Vec::new(),
            too_long: false,
            too_many: false,
            first_error: None,
            skipping_line: false,
            bytes_scanned: 0,
        }
    }

    /// Bytes buffered that do not yet form a complete frame.
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    /// Appends bytes (the old compaction rule included).
    pub fn feed(&mut self, data: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() - self.start {
            let n = self.start;
            self.buf.drain(..n);
            self.start = 0;
            self.pos -= n;
            self.scan = self.scan.saturating_sub(n);
        }
        self.buf.extend_from_slice(data);
    }

    fn begin_message(&mut self) {
        let sticky_too_long = self.role == Role::Server && self.too_many && self.too_long;
        self.lines.clear();
        self.follows = Follows::No;
        self.body = None;
        self.salvaging = false;
        self.salvage.clear();
        self.too_long = false;
        self.too_many = false;
        self.first_error = None;
        if sticky_too_long {
            self.enter_salvage();
            self.too_long = true;
            self.first_error = Some(FrameErrorKind::LineTooLong { limit: self.limits.max_line });
        }
    }

    fn enter_salvage(&mut self) {
        if self.salvaging {
            return;
        }
        self.salvaging = true;
        self.salvage.clear();
        let base = self.start;
        for r in &mut self.lines {
            let line = &self.buf[base + r.0..base + r.1];
            let at = self.salvage.len();
            self.salvage.extend_from_slice(line);
            self.salvage.extend_from_slice(b"\r\n");
            *r = (at, at + line.len());
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
            _ => {}
        }
        if self.first_error.is_none() {
            self.first_error = Some(kind);
        }
    }

    fn next_lf(&mut self) -> Option<usize> {
        let from = self.scan.max(self.pos);
        let hay = self.buf.get(from..)?;
        match memchr(b'\n', hay) {
            Some(i) => {
                self.bytes_scanned += i as u64;
                self.scan = from + i;
                Some(from + i)
            }
            None => {
                self.bytes_scanned += hay.len() as u64;
                self.scan = self.buf.len();
                None
            }
        }
    }

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
                        self.pos = self.scan;
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
                Some(_) => {}
                None if self.buf.len() - self.pos >= max_line => {}
                None => return None,
            }
            self.doom(FrameErrorKind::LineTooLong { limit: max_line });
            match self.role {
                Role::Server => {
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

    /// The next frame, or `None` when more input is needed.
    pub fn next_item(&mut self) -> Option<Item> {
        let item = self.advance()?;
        self.begin_message();
        Some(item)
    }

    fn advance(&mut self) -> Option<Item> {
        loop {
            let (ls, lf) = self.next_line()?;
            let next = lf + 1;
            let le = content_end(&self.buf, ls, lf, self.role);
            let line = self.buf[ls..le].to_vec();

            if self.banner_pending {
                self.banner_pending = false;
                let fresh = self.lines.is_empty() && !self.salvaging;
                if fresh && line.starts_with(BANNER) {
                    self.start = next;
                    return Some(Item::Banner(line));
                }
                if fresh && !line.is_empty() && memchr(b':', &line).is_none() {
                    // Changed on purpose: not an AMI server, reported at once.
                    self.doom(FrameErrorKind::NotAmiServer);
                    self.salvage_line(ls, le);
                    self.start = next;
                    return Some(self.emit_error());
                }
            }

            let first = self.lines.is_empty() && self.follows == Follows::No;
            let class = self.follows.step(&line, first, self.role);

            if self.salvaging {
                self.start = next;
                match class {
                    LineClass::Blank => return Some(self.emit_error()),
                    LineClass::Body | LineClass::BodyEnd(_) => {}
                    LineClass::Header => self.salvage_line(ls, le),
                }
                continue;
            }

            let rel = ls - self.start;
            match class {
                LineClass::Blank => {
                    if first && self.role == Role::Client {
                        self.start = next;
                        continue;
                    }
                    return Some(self.emit_message(next));
                }
                _ if next - self.start > self.limits.max_message => {
                    self.doom(FrameErrorKind::MessageTooLarge { limit: self.limits.max_message });
                    self.start = next;
                }
                LineClass::Header => {
                    if self.lines.len() >= self.limits.max_headers {
                        self.doom(FrameErrorKind::TooManyHeaders {
                            limit: self.limits.max_headers,
                        });
                        self.start = next;
                        continue;
                    }
                    self.lines.push((rel, le - self.start));
                }
                LineClass::Body => {
                    self.body.get_or_insert((rel, rel));
                }
                LineClass::BodyEnd(at) => {
                    let (body_start, _) = *self.body.get_or_insert((rel, rel));
                    self.body = Some((body_start, rel + at));
                }
            }
        }
    }

    fn emit_message(&mut self, next: usize) -> Item {
        let raw = &self.buf[self.start..next];
        let lines = self.lines.iter().map(|&(s, e)| split(&raw[s..e], self.role)).collect();
        let legacy = self.body.map(|(s, e)| raw[s..e].to_vec());
        self.start = next;
        Item::Msg(lines, legacy)
    }

    fn salvage_line(&mut self, ls: usize, le: usize) {
        if self.lines.len() >= self.limits.max_headers {
            self.too_many = true;
            if self.first_error.is_none() {
                self.first_error =
                    Some(FrameErrorKind::TooManyHeaders { limit: self.limits.max_headers });
            }
            return;
        }
        let line = &self.buf[ls..le];
        if self.salvage.len() + line.len() + 2 > self.limits.max_message {
            return;
        }
        let at = self.salvage.len();
        self.salvage.extend_from_slice(line);
        self.salvage.extend_from_slice(b"\r\n");
        self.lines.push((at, at + line.len()));
    }

    fn emit_error(&mut self) -> Item {
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
        let lines =
            self.lines.iter().map(|&(s, e)| split(&self.salvage[s..e], self.role)).collect();
        Item::Err(kind, lines)
    }
}
