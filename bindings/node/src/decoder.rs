//! `NativeDecoder`: the AMI stream decoder, and `parseMessage`.

use ami_proto::frame::{Frame, FrameError, FrameToken};
use ami_proto::{DecoderLimits, Role};
use napi::bindgen_prelude::Buffer;
use napi::{Env, Result};
use napi_derive::napi;

use crate::batch::{BatchWriter, Item, NativeBatch, NoRoom, Room, Words, flag, tag};
use crate::convert;
use crate::errors;

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
    let _always_fits = frame_item_at(out, item, None);
}

/// [`frame_item`] for a message that lies at `in_chunk` in the chunk just fed, if it does;
/// writes nothing if the item does not fit in `out`.
fn frame_item_at<W: Words>(
    out: &mut BatchWriter<W>,
    item: std::result::Result<Frame<'_>, FrameError<'_>>,
    in_chunk: Option<usize>,
) -> std::result::Result<(), NoRoom> {
    match item {
        Ok(Frame::Banner(b)) => out.try_push(Item {
            tag: tag::BANNER,
            text0: Some(String::from_utf8_lossy(b.line()).into_owned()),
            text1: Some(String::from_utf8_lossy(b.version()).into_owned()),
            ..Item::default()
        }),
        Ok(Frame::Message(m)) => {
            out.try_push(Item { tag: tag::MESSAGE, message: Some(m), in_chunk, ..Item::default() })
        }
        Err(e) => out.try_push(Item {
            tag: tag::MESSAGE,
            flags: flag::ERROR,
            text1: Some(e.kind().to_string()),
            message: Some(e.partial()),
            ..Item::default()
        }),
    }
}

/// What `feed` and `drain` write and return. They write, at the word given of the memory given
/// (a `Buffer` over a `Uint32Array`'s memory): the number of words of the table, the table,
/// then the bytes of the messages copied into the batch (whose offsets in the table are byte
/// offsets in the whole memory). They return `used * 4 + flags`: `used` the words written in
/// all, `flags` [`written::MORE`] and [`written::TEXTS`]. A number rather than an object keeps
/// a call as cheap as a call can be: the decoder is called once per chunk received.
pub mod written {
    /// An item did not fit in the memory given: call `drain` with at least `pendingWords`
    /// words of room.
    pub const MORE: u32 = 1;
    /// The table refers to texts: call `takeTexts`.
    pub const TEXTS: u32 = 2;
}

/// The AMI stream decoder behind the TypeScript `Decoder`: bytes in any chunks, batches of
/// banners and messages out, their tables written into memory that JavaScript allocated.
///
/// Why JavaScript allocates the memory: memory handed to V8 as external data comes back only
/// through a finalizer that Node runs on a later turn of the event loop, so a program that
/// decodes many chunks in one turn (a burst of reads, a file, a benchmark) would get fresh
/// memory, and fresh pages to fault in, for every chunk. An array that JavaScript allocates is
/// freed by V8's garbage collector itself, and the TypeScript layer hands out one large array
/// in slices, one per call, so that a chunk costs no allocation at all.
#[napi]
#[derive(Debug)]
pub struct NativeDecoder {
    inner: ami_proto::Decoder,
    /// The stream range of the chunk given to the last `feed`, while its items are written.
    chunk: Option<(u64, usize)>,
    /// An item decoded but not written (it did not fit), where it lies in the chunk, and the
    /// room it needs.
    pending: Option<(FrameToken, Option<usize>, usize)>,
    /// Memory for the bytes a batch copies, kept from call to call (at most
    /// [`KEPT_BYTES`]).
    bytes: Vec<u8>,
    /// The texts of the last batch, until `takeTexts`.
    texts: Vec<String>,
}

/// The largest copy buffer a decoder keeps for its next call (1 MiB).
const KEPT_BYTES: usize = 1 << 20;

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
        Ok(NativeDecoder {
            inner,
            chunk: None,
            pending: None,
            bytes: Vec::new(),
            texts: Vec::new(),
        })
    }

    /// Adds received bytes and writes every item they complete into `table` from word `at` on
    /// (see [`written`] for what it returns; while it says `MORE`, call `drain`). The messages
    /// that lie wholly in `data` are not copied: their offsets (flag `CHUNK`) are in `data`.
    /// `table` must not share memory with `data`.
    #[napi]
    pub fn feed(&mut self, data: &[u8], mut table: Buffer, at: u32) -> Result<f64> {
        let table: &mut [u8] = &mut table;
        let (d, t) = (data.as_ptr_range(), table.as_ptr_range());
        if (d.start as usize) < (t.end as usize) && (t.start as usize) < (d.end as usize) {
            return Err(errors::invalid("the table buffer shares memory with the data fed"));
        }
        if self.pending.is_some() {
            return Err(errors::invalid("an item is waiting: drain the decoder before feeding it"));
        }
        let start = self.inner.stats().bytes_fed;
        self.inner.feed(data);
        self.chunk = Some((start, data.len()));
        Ok(self.write(table, at))
    }

    /// Writes the items that did not fit in the last call's room into `table` from word `at`
    /// on (the messages of the chunk last fed keep their offsets in it).
    #[napi]
    pub fn drain(&mut self, mut table: Buffer, at: u32) -> f64 {
        self.write(&mut table, at)
    }

    /// The words of room the item that did not fit needs (0 when none is waiting).
    #[napi(getter)]
    pub fn pending_words(&self) -> u32 {
        self.pending.map_or(0, |(_, _, need)| u32::try_from(need).unwrap_or(u32::MAX))
    }

    /// The texts of the last batch (its table refers to them).
    #[napi]
    pub fn take_texts(&mut self) -> Vec<String> {
        std::mem::take(&mut self.texts)
    }

    fn write(&mut self, table: &mut [u8], at: u32) -> f64 {
        let room = Room::new(table, at as usize);
        let mut out = BatchWriter::into_room(room, std::mem::take(&mut self.bytes));
        let more = self.fill(&mut out);
        if !more {
            self.chunk = None;
        }
        let (used, texts, bytes) = out.finish_into();
        if bytes.capacity() <= KEPT_BYTES {
            self.bytes = bytes;
        }
        let mut flags = if more { written::MORE } else { 0 };
        if !texts.is_empty() {
            flags |= written::TEXTS;
        }
        self.texts = texts;
        (used as f64) * 4.0 + f64::from(flags)
    }

    /// Writes the complete items into `out` until there are no more (false), or the batch is
    /// full or an item does not fit (true).
    fn fill<W: Words>(&mut self, out: &mut BatchWriter<W>) -> bool {
        if let Some((token, in_chunk, _)) = self.pending {
            if let Some(item) = self.inner.frame(token)
                && frame_item_at(out, item, in_chunk).is_err()
            {
                return true;
            }
            self.pending = None;
        }
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
            if let Err(no) = frame_item_at(out, item, in_chunk) {
                self.pending = Some((token, in_chunk, no.words));
                return true;
            }
        }
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
