//! `ami_decoder`: bytes in, frames out, with zero-copy views of the current frame.

use core::cell::{Cell, Ref, RefCell};
use core::ffi::c_char;

use ami_proto::frame::FrameToken;
use ami_proto::{
    Decoder, DecoderLimits, Frame, FrameErrorKind, HeaderSlot, Message, MessageKind, Role,
};

use crate::error::{
    HandleState, ami_bytes, ami_result, ami_str, free_handle, input, input_text, last_error,
    new_handle, with_mut, with_ref, write,
};
use ami_result::*;

/// Who is reading: a client reads what a server writes (banner, legacy command output), a server
/// reads what a client writes (Asterisk's line, header and NUL rules).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ami_role {
    /// Decode server output (what an AMI client receives).
    AMI_ROLE_CLIENT = 0,
    /// Decode client input exactly as Asterisk's manager reads it.
    AMI_ROLE_SERVER = 1,
}

/// What `ami_decoder_next` found.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ami_frame_kind {
    /// No complete frame: feed more bytes.
    AMI_FRAME_NONE = 0,
    /// The `Asterisk Call Manager/<version>` greeting (client role, first line only).
    AMI_FRAME_BANNER = 1,
    /// A complete message.
    AMI_FRAME_MESSAGE = 2,
    /// A message that broke a limit; the stream is already past it. Its kept lines are readable
    /// with the header accessors (e.g. to echo its ActionID).
    AMI_FRAME_ERROR = 3,
}

/// What a message is, judged by its first `Action`, `Response` or `Event` header.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ami_message_kind {
    /// None of the three headers is present.
    AMI_MESSAGE_UNKNOWN = 0,
    /// `Action: ...` (client to server).
    AMI_MESSAGE_ACTION = 1,
    /// `Response: ...` (server to client).
    AMI_MESSAGE_RESPONSE = 2,
    /// `Event: ...` (server to client).
    AMI_MESSAGE_EVENT = 3,
}

/// Which limit an `AMI_FRAME_ERROR` message broke.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ami_frame_error_kind {
    /// A line (with its terminator) was longer than `max_line`.
    AMI_FRAME_ERROR_LINE_TOO_LONG = 1,
    /// The message had more than `max_headers` lines.
    AMI_FRAME_ERROR_TOO_MANY_HEADERS = 2,
    /// The message was larger than `max_message` bytes.
    AMI_FRAME_ERROR_MESSAGE_TOO_LARGE = 3,
    /// Client role: the first line of the stream is neither the `Asterisk Call Manager/`
    /// banner nor a header (e.g. `HTTP/1.1 200 OK`): the peer is not an AMI server. The line is
    /// the one kept line; `limit` is 0. Reported as soon as the line is complete.
    AMI_FRAME_ERROR_NOT_AMI_SERVER = 4,
}

/// Size limits of a decoder (every buffer it keeps is bounded by them).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ami_decoder_limits {
    /// Bytes per line including its terminator (2 to 1 GiB). Server default: 1024, as Asterisk.
    pub max_line: usize,
    /// Lines per message (1 to 2^24). Server default: 128, as Asterisk.
    pub max_headers: usize,
    /// Bytes per message including terminators (2 to 1 GiB).
    pub max_message: usize,
}

/// One line of a message: `name` is empty and `bare` true for a line without a colon, whose
/// text is then `value`. The views follow the decoder's lifetime rule.
///
/// Bare lines are kept, in order, wherever they occur: `No categories found` after a
/// `Response:` line, or a plain-text reply with no header at all (Asterisk 13's `Queues`
/// action answers `No queues have been created.`), which is then a message of kind
/// `AMI_MESSAGE_UNKNOWN` whose lines are all bare.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ami_header {
    /// The bytes before the first colon, exactly as sent.
    pub name: ami_bytes,
    /// The value, cut by the role's rule (client: one space removed after the colon; server:
    /// every blank), or the whole line if `bare`.
    pub value: ami_bytes,
    /// True for a line without a colon (e.g. `No categories found`).
    pub bare: bool,
}

/// Where one line of a message lies in the message's bytes, as offsets from its first byte: the
/// decoder's own index of the message, handed out as it is by `ami_decoder_slots` (nothing is
/// built for it). For a line with a colon, the name is `[start, colon)` and the value
/// `[value, end)`; a bare line (no colon) has `colon == UINT32_MAX`, no name, and the value
/// `[value, end)` is the whole line. `ami_slot_name` and `ami_slot_value` compute the views.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ami_slot {
    /// Offset of the line's first byte.
    pub start: u32,
    /// Offset just past the line's last byte (its terminator excluded).
    pub end: u32,
    /// Offset of the line's first colon, or `UINT32_MAX` for a bare line.
    pub colon: u32,
    /// Offset of the value's first byte (after the colon and what the role's rule removes).
    pub value: u32,
}

// `ami_decoder_slots` hands the core's `HeaderSlot` array to C as `ami_slot`s: both are
// `repr(C)` structs of four `u32` in the same order (documented on `HeaderSlot`); the sizes and
// alignments are checked here, the field order by the test `slots_are_the_core_slots`.
const _: () = assert!(core::mem::size_of::<ami_slot>() == core::mem::size_of::<HeaderSlot>());
const _: () = assert!(core::mem::align_of::<ami_slot>() == core::mem::align_of::<HeaderSlot>());

/// A streaming AMI decoder (opaque). Not thread-safe: one thread at a time per decoder, for
/// const calls too (the header views are built by the first call that reads them).
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ami_decoder {
    dec: Decoder,
    current: Option<FrameToken>,
    /// The views of the lines of the current message or frame error (the array
    /// `ami_decoder_headers` hands out), built once per frame by the first call that reads them
    /// (`built`), so that a caller reading the slots instead never pays for them. Cleared with
    /// `current`. A `RefCell` because the readers take a const handle; one thread at a time
    /// uses a decoder (the header's rule), so no two borrows overlap.
    headers: RefCell<Vec<ami_header>>,
    built: Cell<bool>,
    error_text: String,
    state: HandleState,
}

crate::error::impl_handle!(ami_decoder);

impl ami_decoder {
    fn frame(&self) -> Option<Result<Frame<'_>, ami_proto::FrameError<'_>>> {
        self.current.and_then(|t| self.dec.frame(t))
    }

    /// The current message, or the kept lines of the current frame error.
    fn lines(&self) -> Option<Message<'_>> {
        match self.frame()? {
            Ok(Frame::Message(m)) => Some(m),
            Err(e) => Some(e.partial()),
            Ok(Frame::Banner(_)) => None,
        }
    }

    fn message(&self) -> Option<Message<'_>> {
        match self.frame()? {
            Ok(Frame::Message(m)) => Some(m),
            _ => None,
        }
    }

    /// Ends the current frame: its views (and the header array) are no longer valid.
    fn forget_frame(&mut self) {
        self.current = None;
        self.headers.get_mut().clear();
        self.built.set(false);
    }

    /// The views of the current frame's lines, built on first use.
    fn views(&self) -> Ref<'_, Vec<ami_header>> {
        if !self.built.get() {
            let mut views = self.headers.borrow_mut();
            views.clear();
            if let Some(m) = self.lines() {
                push_views(&m, &mut views);
            }
            self.built.set(true);
        }
        self.headers.borrow()
    }
}

/// Appends the C views of every line of `m` to `out`, straight from the slot offsets, since
/// this runs for every line a C caller decodes. A slot's ranges lie within its line, which
/// ends inside the message's bytes; one comparison per line checks that (a view that would not
/// is empty).
fn push_views(m: &Message<'_>, out: &mut Vec<ami_header>) {
    let raw = m.raw();
    let (base, len) = (raw.as_ptr(), raw.len());
    out.extend(m.slots().iter().map(|s| {
        let (name, value) = (s.name_range(), s.value_range());
        let inside = s.line_range().end <= len;
        let view = |r: core::ops::Range<usize>| ami_bytes {
            // wrapping_add: never dereferenced here; C reads `len` bytes, 0 if not inside.
            data: base.wrapping_add(r.start),
            len: if inside { r.end.saturating_sub(r.start) } else { 0 },
        };
        ami_header { name: view(name), value: view(value), bare: s.is_bare() }
    }));
}

fn role_from(role: u32) -> Option<Role> {
    match role {
        0 => Some(Role::Client),
        1 => Some(Role::Server),
        _ => None,
    }
}

/// Writes the default limits of `role` (`AMI_ROLE_CLIENT` or `AMI_ROLE_SERVER`) to `out`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_default_limits(
    role: u32,
    out: *mut ami_decoder_limits,
) -> ami_result {
    crate::error::guard(|| {
        let Some(role) = role_from(role) else { return AMI_RESULT_INVALID_PARAMETER };
        let l = DecoderLimits::for_role(role);
        write(
            out,
            ami_decoder_limits {
                max_line: l.max_line,
                max_headers: l.max_headers,
                max_message: l.max_message,
            },
        )
    })
}

/// Creates a decoder for `role` (`AMI_ROLE_CLIENT` or `AMI_ROLE_SERVER`) with `limits`, or the
/// role's defaults if `limits` is NULL. Free it with `ami_decoder_free`.
///
/// `AMI_RESULT_INVALID_PARAMETER` for an unknown role or limits out of range.
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_new(
    role: u32,
    limits: *const ami_decoder_limits,
    out: *mut *mut ami_decoder,
) -> ami_result {
    crate::error::guard(|| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let Some(role) = role_from(role) else { return AMI_RESULT_INVALID_PARAMETER };
        // SAFETY: by the C contract a non-NULL `limits` points to a readable ami_decoder_limits.
        let dec = match unsafe { limits.as_ref() } {
            None => Decoder::new(role),
            Some(l) => {
                let limits = DecoderLimits {
                    max_line: l.max_line,
                    max_headers: l.max_headers,
                    max_message: l.max_message,
                };
                match Decoder::with_limits(role, limits) {
                    Ok(d) => d,
                    Err(_) => return AMI_RESULT_INVALID_PARAMETER,
                }
            }
        };
        let value = ami_decoder {
            dec,
            current: None,
            headers: RefCell::new(Vec::new()),
            built: Cell::new(false),
            error_text: String::new(),
            state: HandleState::default(),
        };
        new_handle(out, value)
    })
}

/// Frees a decoder and everything its views point to. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_free(dec: *mut ami_decoder) {
    free_handle(dec);
}

/// Appends `len` bytes received from the peer (`data` may be NULL when `len` is 0). Nothing is
/// decoded until `ami_decoder_next`. Ends the current frame (its views become invalid).
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_feed(
    dec: *mut ami_decoder,
    data: *const u8,
    len: usize,
) -> ami_result {
    with_mut(dec, |d| {
        let data = match input(data, len) {
            Ok(b) => b,
            Err(e) => return e,
        };
        d.forget_frame();
        d.dec.feed(data);
        AMI_RESULT_OK
    })
}

/// Decodes the next frame and writes what it is to `kind`: `AMI_FRAME_NONE` means more bytes are
/// needed. The frame stays current (readable with the accessors) until the next non-const call.
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_next(dec: *mut ami_decoder, kind: *mut ami_frame_kind) -> ami_result {
    with_mut(dec, |d| {
        if kind.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        d.forget_frame();
        d.current = d.dec.advance();
        d.error_text.clear();
        // The lines' views are built by the first reader that asks for them (`views`).
        let k = match d.current.and_then(|t| d.dec.frame(t)) {
            None => ami_frame_kind::AMI_FRAME_NONE,
            Some(Ok(Frame::Banner(_))) => ami_frame_kind::AMI_FRAME_BANNER,
            Some(Ok(Frame::Message(_))) => ami_frame_kind::AMI_FRAME_MESSAGE,
            Some(Err(e)) => {
                d.error_text = e.to_string();
                ami_frame_kind::AMI_FRAME_ERROR
            }
        };
        write(kind, k)
    })
}

/// Drops everything buffered and starts again as if new (a client decoder expects the banner
/// again).
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_reset(dec: *mut ami_decoder) -> ami_result {
    with_mut(dec, |d| {
        d.forget_frame();
        d.dec.reset();
        AMI_RESULT_OK
    })
}

/// Writes to `out` whether part of a message was received but not its end. At EOF this means the
/// peer closed mid-message (Asterisk discards such a message).
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_is_mid_message(
    dec: *const ami_decoder,
    out: *mut bool,
) -> ami_result {
    with_ref(dec, |d| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        write(out, d.dec.is_mid_message())
    })
}

/// Writes the kind of the current message. `AMI_RESULT_NO_FRAME` unless the current frame is an
/// `AMI_FRAME_MESSAGE`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_message_kind(
    dec: *const ami_decoder,
    out: *mut ami_message_kind,
) -> ami_result {
    with_ref(dec, |d| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let Some(m) = d.message() else { return AMI_RESULT_NO_FRAME };
        let k = match m.kind() {
            MessageKind::Action => ami_message_kind::AMI_MESSAGE_ACTION,
            MessageKind::Response => ami_message_kind::AMI_MESSAGE_RESPONSE,
            MessageKind::Event => ami_message_kind::AMI_MESSAGE_EVENT,
            MessageKind::Unknown => ami_message_kind::AMI_MESSAGE_UNKNOWN,
        };
        write(out, k)
    })
}

/// Writes the number of lines of the current message (or of the kept lines of the current frame
/// error). `AMI_RESULT_NO_FRAME` for a banner or no frame.
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_header_count(dec: *const ami_decoder, out: *mut usize) -> ami_result {
    with_ref(dec, |d| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match d.lines() {
            Some(m) => write(out, m.len()),
            None => AMI_RESULT_NO_FRAME,
        }
    })
}

/// Writes line `index` (from 0) of the current message or frame error. `AMI_RESULT_NOT_FOUND`
/// if `index` is not below the header count.
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_header(
    dec: *const ami_decoder,
    index: usize,
    out: *mut ami_header,
) -> ami_result {
    with_ref(dec, |d| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        if d.lines().is_none() {
            return AMI_RESULT_NO_FRAME;
        }
        match d.views().get(index) {
            Some(h) => write(out, *h),
            None => AMI_RESULT_NOT_FOUND,
        }
    })
}

/// Writes every line of the current message (or the kept lines of the current frame error) at
/// once: `*headers` receives a pointer to an array of `*count` `ami_header`s, in order, bare
/// lines included. The array belongs to the decoder and follows the view rule (valid until the
/// next non-const call); it is never NULL, even when `*count` is 0. This is the fast way to read
/// a whole message: one call instead of one per line.
///
/// ```c
/// const ami_header *h;
/// size_t n;
/// if (ami_decoder_headers(dec, &h, &n) == AMI_RESULT_OK)
///     for (size_t i = 0; i < n; i++)
///         printf("%.*s: %.*s\n", (int)h[i].name.len, (const char *)h[i].name.data,
///                (int)h[i].value.len, (const char *)h[i].value.data);
/// ```
///
/// `AMI_RESULT_NO_FRAME` for a banner or no frame.
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_headers(
    dec: *const ami_decoder,
    headers: *mut *const ami_header,
    count: *mut usize,
) -> ami_result {
    with_ref(dec, |d| {
        if headers.is_null() || count.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        if d.lines().is_none() {
            return AMI_RESULT_NO_FRAME;
        }
        let views = d.views();
        write(headers, views.as_ptr()).and(write(count, views.len()))
    })
}

/// Writes the value of the first header called `name` (`len` bytes, ASCII case-insensitive) in
/// the current message or frame error. `AMI_RESULT_NOT_FOUND` if there is none.
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_get(
    dec: *const ami_decoder,
    name: *const c_char,
    len: usize,
    out: *mut ami_bytes,
) -> ami_result {
    with_ref(dec, |d| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let name = match input_text(name, len) {
            Ok(n) => n,
            Err(e) => return e,
        };
        let Some(m) = d.lines() else { return AMI_RESULT_NO_FRAME };
        match m.get(name) {
            Some(v) => write(out, ami_bytes::from(v)),
            None => AMI_RESULT_NOT_FOUND,
        }
    })
}

/// Writes the current message's bytes and the decoder's index of its lines (or those of the
/// kept lines of the current frame error): `*raw` and `*raw_len` receive the message's bytes,
/// `*slots` an array of `*count` `ami_slot`s (offsets into `*raw`), in order, bare lines
/// included. Nothing is built or copied: this is the decoder's own index, the cheapest way to
/// read every line. Both pointers follow the view rule (valid until the next non-const call)
/// and are never NULL.
///
/// ```c
/// const uint8_t *raw;
/// size_t raw_len, n;
/// const ami_slot *s;
/// if (ami_decoder_slots(dec, &raw, &raw_len, &s, &n) == AMI_RESULT_OK)
///     for (size_t i = 0; i < n; i++) {
///         ami_bytes name = ami_slot_name(raw, s[i]), value = ami_slot_value(raw, s[i]);
///         printf("%.*s: %.*s\n", (int)name.len, (const char *)name.data,
///                (int)value.len, (const char *)value.data);
///     }
/// ```
///
/// `AMI_RESULT_NO_FRAME` for a banner or no frame.
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_slots(
    dec: *const ami_decoder,
    raw: *mut *const u8,
    raw_len: *mut usize,
    slots: *mut *const ami_slot,
    count: *mut usize,
) -> ami_result {
    with_ref(dec, |d| {
        if raw.is_null() || raw_len.is_null() || slots.is_null() || count.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let Some(m) = d.lines() else { return AMI_RESULT_NO_FRAME };
        let (bytes, index) = (m.raw(), m.slots());
        write(raw, bytes.as_ptr())
            .and(write(raw_len, bytes.len()))
            // Same layout (checked above): the array is handed out as it is.
            .and(write(slots, index.as_ptr().cast::<ami_slot>()))
            .and(write(count, index.len()))
    })
}

/// Writes the first `ActionID` of the current message or frame error. `AMI_RESULT_NOT_FOUND` if
/// there is none.
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_action_id(
    dec: *const ami_decoder,
    out: *mut ami_bytes,
) -> ami_result {
    with_ref(dec, |d| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let Some(m) = d.lines() else { return AMI_RESULT_NO_FRAME };
        match m.action_id() {
            Some(v) => write(out, ami_bytes::from(v)),
            None => AMI_RESULT_NOT_FOUND,
        }
    })
}

/// Writes the bytes of the current frame: a message as framed (terminators and the final blank
/// line included), the banner line (without terminator), or the kept lines of a frame error.
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_raw(dec: *const ami_decoder, out: *mut ami_bytes) -> ami_result {
    with_ref(dec, |d| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let raw = match d.frame() {
            None => return AMI_RESULT_NO_FRAME,
            Some(Ok(Frame::Banner(b))) => b.line(),
            Some(Ok(Frame::Message(m))) => m.raw(),
            Some(Err(e)) => e.partial().raw(),
        };
        write(out, ami_bytes::from(raw))
    })
}

/// Writes the version of the current banner (the text after `/`, e.g. `11.0.0`).
/// `AMI_RESULT_NO_FRAME` unless the current frame is an `AMI_FRAME_BANNER`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_banner_version(
    dec: *const ami_decoder,
    out: *mut ami_bytes,
) -> ami_result {
    with_ref(dec, |d| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match d.frame() {
            Some(Ok(Frame::Banner(b))) => write(out, ami_bytes::from(b.version())),
            _ => AMI_RESULT_NO_FRAME,
        }
    })
}

/// Describes the current frame error: which limit (`kind`), its value (`limit`) and a text
/// (`text`). Every output is required. `AMI_RESULT_NO_FRAME` unless the current frame is an
/// `AMI_FRAME_ERROR`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_frame_error(
    dec: *const ami_decoder,
    kind: *mut ami_frame_error_kind,
    limit: *mut usize,
    text: *mut ami_str,
) -> ami_result {
    with_ref(dec, |d| {
        if kind.is_null() || limit.is_null() || text.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let Some(Err(e)) = d.frame() else { return AMI_RESULT_NO_FRAME };
        let (k, l) = match e.kind() {
            FrameErrorKind::LineTooLong { limit } => {
                (ami_frame_error_kind::AMI_FRAME_ERROR_LINE_TOO_LONG, limit)
            }
            FrameErrorKind::TooManyHeaders { limit } => {
                (ami_frame_error_kind::AMI_FRAME_ERROR_TOO_MANY_HEADERS, limit)
            }
            FrameErrorKind::MessageTooLarge { limit } => {
                (ami_frame_error_kind::AMI_FRAME_ERROR_MESSAGE_TOO_LARGE, limit)
            }
            FrameErrorKind::NotAmiServer => {
                (ami_frame_error_kind::AMI_FRAME_ERROR_NOT_AMI_SERVER, 0)
            }
        };
        write(kind, k).and(write(limit, l)).and(write(text, ami_str::from(&d.error_text)))
    })
}

/// Fills `lines[0..count)` with the output lines of the current message if it carries the
/// output of a `Command` action (current `Output:` form or legacy `Response: Follows` form), in
/// the manner of httparse: the caller provides the array.
///
/// On success `count` receives the number of lines. `AMI_RESULT_INSUFFICIENT_SIZE` if `cap` is
/// too small (then `count` receives the number needed and `lines` is untouched);
/// `AMI_RESULT_NOT_FOUND` if the message is not command output. `lines` may be NULL when `cap`
/// is 0.
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_output_lines(
    dec: *const ami_decoder,
    lines: *mut ami_bytes,
    cap: usize,
    count: *mut usize,
) -> ami_result {
    with_ref(dec, |d| {
        if count.is_null() || (lines.is_null() && cap > 0) {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let Some(m) = d.message() else { return AMI_RESULT_NO_FRAME };
        let Some(output) = m.command_output() else { return AMI_RESULT_NOT_FOUND };
        let n = output.lines().count();
        if n > cap {
            return write(count, n).and(AMI_RESULT_INSUFFICIENT_SIZE);
        }
        for (i, line) in output.lines().enumerate() {
            // SAFETY: `i < n <= cap`, so `lines` is non-NULL (checked above when cap > 0) and,
            // by the C contract, `lines[i]` is writable.
            unsafe { lines.add(i).write(ami_bytes::from(line)) };
        }
        write(count, n)
    })
}

/// Writes the text of the last failure of a non-const call on this decoder (empty if that call
/// succeeded). Also works on a poisoned decoder.
#[unsafe(no_mangle)]
pub extern "C" fn ami_decoder_last_error(dec: *const ami_decoder, out: *mut ami_str) -> ami_result {
    last_error(dec, out)
}
