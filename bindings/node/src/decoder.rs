//! `NativeDecoder`: the AMI stream decoder, and `parseMessage`.

use ami_proto::frame::{Frame, FrameError};
use ami_proto::{DecoderLimits, Role};
use napi::{Env, Result};
use napi_derive::napi;

use crate::batch::{BatchWriter, Item, NativeBatch, flag, tag};
use crate::convert;
use crate::errors;
use napi::bindgen_prelude::{Buffer, Uint32Array};

/// Limits of a decoder (absent: the role's defaults).
#[napi(object)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DecoderOptions {
    /// Longest line, in bytes.
    pub max_line: Option<u32>,
    /// Most lines in one message.
    pub max_headers: Option<u32>,
    /// Longest message, in bytes.
    pub max_message: Option<u32>,
}

/// Writes one decoded frame into `out`.
pub fn frame_item(out: &mut BatchWriter, item: std::result::Result<Frame<'_>, FrameError<'_>>) {
    frame_item_at(out, item, None);
}

/// [`frame_item`] for a message that lies at `in_chunk` in the chunk just fed, if it does.
fn frame_item_at(
    out: &mut BatchWriter,
    item: std::result::Result<Frame<'_>, FrameError<'_>>,
    in_chunk: Option<usize>,
) {
    match item {
        Ok(Frame::Banner(b)) => out.push(Item {
            tag: tag::BANNER,
            text0: Some(String::from_utf8_lossy(b.line()).into_owned()),
            text1: Some(String::from_utf8_lossy(b.version()).into_owned()),
            ..Item::default()
        }),
        Ok(Frame::Message(m)) => {
            out.push(Item { tag: tag::MESSAGE, message: Some(m), in_chunk, ..Item::default() })
        }
        Err(e) => out.push(Item {
            tag: tag::MESSAGE,
            flags: flag::ERROR,
            text1: Some(e.kind().to_string()),
            message: Some(e.partial()),
            ..Item::default()
        }),
    }
}

/// What `feed` returns: a [`NativeBatch`] whose table is, when it fits, written into the
/// buffer the caller passed, as native-endian words (`table` is then absent and `used` says
/// how many words).
///
/// Why the caller passes the array: memory handed to V8 as external data comes back only
/// through a finalizer that Node runs on a later turn of the event loop, so a program that
/// decodes many chunks in one turn (a burst of reads, a file, a benchmark) would get fresh
/// memory, and fresh pages to fault in, for every chunk. An array that JavaScript allocates
/// (`Buffer.allocUnsafeSlow`) is freed by V8's garbage collector itself, and its memory is
/// handed out again.
#[napi(object)]
#[allow(missing_debug_implementations)] // napi-rs's Buffer and Uint32Array are not Debug
pub struct NativeFeedBatch {
    /// The messages' bytes that are not in the chunk fed (absent when there are none).
    pub bytes: Option<Buffer>,
    /// The table, when it did not fit in the buffer passed.
    pub table: Option<Uint32Array>,
    /// The words of the buffer passed that hold the table (0 when `table` is given).
    pub used: u32,
    /// The texts the table refers to.
    pub texts: Vec<String>,
    /// True when the batch stopped at its size bound: call `drain` for the rest.
    pub more: bool,
}

/// The AMI stream decoder behind the TypeScript `Decoder`: bytes in any chunks, batches of
/// banners and messages out.
#[napi]
#[derive(Debug)]
pub struct NativeDecoder {
    inner: ami_proto::Decoder,
    /// The stream range of the chunk given to the last `feed`, while its messages are drained.
    chunk: Option<(u64, usize)>,
    /// The table `feed` builds before copying it into the caller's array, kept from call to
    /// call (at most [`KEPT_TABLE_WORDS`]).
    table: Vec<u32>,
}

/// The largest table a decoder keeps for its next `feed` (1 MiB).
const KEPT_TABLE_WORDS: usize = 256 * 1024;

#[napi]
impl NativeDecoder {
    /// A decoder for `role` (`"client"` reads what a server writes, `"server"` what a client
    /// writes, with Asterisk's line limits).
    #[napi(constructor)]
    pub fn new(role: String, options: Option<DecoderOptions>) -> Result<NativeDecoder> {
        let role = convert::role(&role)?;
        let mut limits = DecoderLimits::for_role(role);
        let o = options.unwrap_or_default();
        if let Some(v) = o.max_line {
            limits.max_line = v as usize;
        }
        if let Some(v) = o.max_headers {
            limits.max_headers = v as usize;
        }
        if let Some(v) = o.max_message {
            limits.max_message = v as usize;
        }
        let inner = ami_proto::Decoder::with_limits(role, limits)
            .map_err(|e| errors::invalid(format!("invalid decoder limits: {e}")))?;
        Ok(NativeDecoder { inner, chunk: None, table: Vec::new() })
    }

    /// Adds received bytes and returns every item they complete (call `drain` while the batch
    /// says `more`), the table written into the buffer `table` when it fits. The messages that
    /// lie wholly in `data` are not copied: their offsets (flag `CHUNK`) are in `data`. `table`
    /// must not share memory with `data`.
    #[napi]
    pub fn feed(&mut self, data: &[u8], mut table: Buffer) -> Result<NativeFeedBatch> {
        let table: &mut [u8] = &mut table;
        let (d, t) = (data.as_ptr_range(), table.as_ptr_range());
        if (d.start as usize) < (t.end as usize) && (t.start as usize) < (d.end as usize) {
            return Err(errors::invalid("the table buffer shares memory with the data fed"));
        }
        let start = self.inner.stats().bytes_fed;
        self.inner.feed(data);
        self.chunk = Some((start, data.len()));
        let mut out = BatchWriter::reusing(std::mem::take(&mut self.table));
        let more = self.fill(&mut out);
        self.chunk = None;
        let (words, bytes, texts) = out.into_parts();
        let bytes = (!bytes.is_empty()).then(|| Buffer::from(bytes));
        let batch = match table.get_mut(..words.len() * 4) {
            Some(dest) => {
                for (d, w) in dest.chunks_exact_mut(4).zip(&words) {
                    d.copy_from_slice(&w.to_ne_bytes());
                }
                let used = u32::try_from(words.len()).unwrap_or(u32::MAX);
                NativeFeedBatch { bytes, table: None, used, texts, more }
            }
            None => {
                let copy = crate::pool::typed_array(words.clone());
                NativeFeedBatch { bytes, table: Some(copy), used: 0, texts, more }
            }
        };
        if words.capacity() <= KEPT_TABLE_WORDS {
            self.table = words;
        }
        Ok(batch)
    }

    /// The items complete so far (every message copied into the batch).
    #[napi]
    pub fn drain(&mut self) -> NativeBatch {
        self.collect()
    }

    fn collect(&mut self) -> NativeBatch {
        let mut out = BatchWriter::with_capacity(self.inner.buffered());
        let more = self.fill(&mut out);
        out.finish(more)
    }

    /// Writes the complete items into `out` until there are no more (false) or the batch is
    /// full (true).
    fn fill(&mut self, out: &mut BatchWriter) -> bool {
        while !out.is_full() {
            let Some(token) = self.inner.advance() else { return false };
            // The frame ends where the unconsumed bytes start: its stream range follows.
            let end = self.inner.stats().bytes_fed - self.inner.buffered() as u64;
            let Some(item) = self.inner.frame(token) else { continue };
            let in_chunk = match (&item, self.chunk) {
                (Ok(Frame::Message(m)), Some((start, len))) => {
                    let begin = end.checked_sub(m.raw().len() as u64);
                    // (Offsets are 32-bit: a message beyond 4 GiB into a chunk is copied.)
                    begin
                        .filter(|&b| b >= start && end <= start + len as u64)
                        .filter(|_| end - start <= u64::from(u32::MAX))
                        .and_then(|b| usize::try_from(b - start).ok())
                }
                _ => None,
            };
            frame_item_at(out, item, in_chunk);
        }
        self.chunk = None;
        true
    }

    /// Bytes buffered and not yet returned as items.
    #[napi(getter)]
    pub fn buffered(&self) -> u32 {
        u32::try_from(self.inner.buffered()).unwrap_or(u32::MAX)
    }

    /// True when the buffered bytes hold part of a message (an end of file now would cut it).
    #[napi(getter)]
    pub fn is_mid_message(&self) -> bool {
        self.inner.is_mid_message()
    }

    /// `"client"` or `"server"`.
    #[napi(getter)]
    pub fn role(&self) -> &'static str {
        match self.inner.role() {
            Role::Client => "client",
            Role::Server => "server",
        }
    }
}

/// Parses exactly one complete message (ending with its empty line) read by `role`. Throws
/// `RemoteProtocolError` if `data` is anything else.
#[napi(js_name = "parseMessage")]
pub fn parse_message(env: Env, data: &[u8], role: String) -> Result<NativeBatch> {
    let role = convert::role(&role)?;
    let mut d = ami_proto::Decoder::new(role);
    d.feed(data);
    let mut out = BatchWriter::new();
    match d.next_frame() {
        Some(Ok(Frame::Message(m))) => out.message(m),
        Some(Ok(Frame::Banner(_))) | None => {
            return Err(errors::remote(
                &env,
                "not a complete message (it must end with an empty line)",
            ));
        }
        Some(Err(e)) => {
            return Err(errors::remote(&env, format!("malformed message: {}", e.kind())));
        }
    }
    if d.buffered() != 0 {
        return Err(errors::remote(&env, "more than one message in data"));
    }
    Ok(out.finish(false))
}

/// How the first bytes a server sent look: `"ok"` (an AMI banner), `"more"` (too few bytes to
/// tell) or `"bad"` (not an AMI banner: an HTTP or TLS server, garbage).
#[napi(js_name = "checkGreeting")]
pub fn check_greeting(data: &[u8]) -> &'static str {
    match ami_proto::parse_banner(data) {
        Ok(ami_proto::Status::Complete(_)) => "ok",
        Ok(ami_proto::Status::Partial) => "more",
        Err(()) => "bad",
    }
}
