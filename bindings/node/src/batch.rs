//! The batch: how decoded items cross into JavaScript.
//!
//! Creating one JavaScript object per message through Node-API costs more than decoding it, so
//! every call that yields messages gives JavaScript one table: a `Uint32Array` that says where
//! every item, message and line lies, and the bytes of the messages that are not in the chunk
//! just fed. A message that lies wholly in that chunk (nearly all of them) is not copied: its
//! offsets are in the chunk (flag [`flag::CHUNK`]), which the TypeScript layer keeps, so that
//! decoding allocates little more than the table. The TypeScript layer (`message.ts`) reads
//! the table and builds light `Message` views whose values are turned into strings only when
//! they are read.
//!
//! The stream decoder writes its tables straight into memory that JavaScript allocated and
//! hands out in slices ([`Room`], `slab.ts`): a call costs no allocation and returns a number
//! (`written` in `decoder.rs`). The sessions return a [`NativeBatch`], whose table is a `Vec`
//! handed to V8 ([`crate::pool`]) and whose bytes are a `Buffer` of their own.
//!
//! # The table
//!
//! Items follow each other. Each starts with [`HEADER_WORDS`] words:
//!
//! | word | meaning |
//! | --- | --- |
//! | 0 | the item's tag ([`tag`]) |
//! | 1 | flags ([`flag`]); bits 8–11: the message kind ([`kind_code`]) |
//! | 2 | 1 + index in `texts` of the first text (an ActionID, a session's user), or 0 |
//! | 3 | 1 + index in `texts` of the second text (a reason, an error), or 0 |
//! | 4, 5 | a number (session id, bytes queued): low and high 32 bits |
//! | 6 | a second number (the token of a server action) |
//! | 7, 8 | the message's byte range in `bytes` (the chunk with [`flag::CHUNK`]; for a [`Room`], the whole memory written into), empty without a message |
//! | 9 | `n`: the message's line count |
//! | 10 | `x`: the count of extra ranges (the output lines of a `Command`) |
//!
//! then the `n` lines, then `x` ranges of two words (absolute offsets). A line is where it lies
//! in the message (without its line end): one word `start | end << 16` when the message is
//! shorter than 64 KiB, two words otherwise (flag [`flag::WIDE`]). The name (the bytes before the
//! first colon) and the value (after the colon, cut by the role's rule: flag
//! [`flag::SERVER_ROLE`]) are found by the reader, which only looks at the lines it is asked
//! about: the table costs one word per line to build.

use ami_proto::{Message, MessageKind};
use napi::bindgen_prelude::{Buffer, Uint32Array};

/// Words before an item's lines.
pub const HEADER_WORDS: usize = 11;

/// Most bytes one batch collects before the call returns with `more` set (the caller then
/// asks for the rest): keeps every offset within 32 bits and every batch bounded.
pub const MAX_BATCH_BYTES: usize = 64 << 20;

/// Item tags (word 0). Shared with `batch.ts`.
pub mod tag {
    /// The server's greeting (`texts`: line, version).
    pub const BANNER: u32 = 1;
    /// A decoded message (a frame error's salvaged lines have `text1`, the error).
    pub const MESSAGE: u32 = 2;
    /// Client: the login was accepted.
    pub const LOGGED_IN: u32 = 10;
    /// Client: the login was refused.
    pub const LOGIN_FAILED: u32 = 11;
    /// Client: a response (flag `BOOL`: complete).
    pub const RESPONSE: u32 = 12;
    /// Client: the response that starts a list.
    pub const LIST_START: u32 = 13;
    /// Client: one list item.
    pub const LIST_ITEM: u32 = 14;
    /// Client: the event that completes a list.
    pub const LIST_COMPLETE: u32 = 15;
    /// Client: a Command's output (flag `BOOL`: success; extra ranges: the lines).
    pub const COMMAND_OUTPUT: u32 = 16;
    /// Client: the OriginateResponse of an async Originate.
    pub const ORIGINATE_RESPONSE: u32 = 17;
    /// Client: an event.
    pub const EVENT: u32 = 18;
    /// Client: a response that answers no pending action.
    pub const UNSOLICITED: u32 = 19;
    /// Client: an action timed out.
    pub const ACTION_TIMED_OUT: u32 = 20;
    /// Client: an action was aborted (`text1`: why).
    pub const ACTION_ABORTED: u32 = 21;
    /// Client: a malformed message (`text1`: what was wrong).
    pub const MALFORMED: u32 = 22;
    /// Client: the session is over (`text1`: why; flag `BOOL`: truncated).
    pub const CLOSED: u32 = 23;
    /// Server: an action for the application (number: session; second number: token).
    pub const ACTION_RECEIVED: u32 = 30;
    /// Server: a login succeeded (`text0`: user).
    pub const USER_LOGGED_IN: u32 = 31;
    /// Server: a login failed (`text0`: user, `text1`: why).
    pub const USER_LOGIN_FAILED: u32 = 32;
    /// Server: a security event (`text0`: account, `text1`: its kind).
    pub const SECURITY_NOTICE: u32 = 33;
    /// Server: a session's outbound queue is full (second number: bytes queued).
    pub const SLOW_CONSUMER: u32 = 34;
    /// Server: a session is over (`text1`: why).
    pub const DISCONNECT: u32 = 35;
}

/// Flags (word 1, bits 0–7; 4 and 8 are free). Whether a message is ASCII or valid UTF-8 is
/// not found here: that would be a second pass over every byte, while the reader looks only at
/// the values it is asked for (`message.ts`).
pub mod flag {
    /// The item's boolean (complete, success, truncated).
    pub const BOOL: u32 = 1;
    /// The item carries a message.
    pub const MESSAGE: u32 = 2;
    /// The message broke a decoder limit (`text1` says which); its lines are what was kept.
    pub const ERROR: u32 = 16;
    /// The message's offsets are in the chunk just fed (not copied), not in `bytes`.
    pub const CHUNK: u32 = 32;
    /// The message is 64 KiB or longer: two words per line instead of one.
    pub const WIDE: u32 = 64;
    /// The message was read with the server's value rule (every leading blank skipped), not
    /// the client's (one space skipped).
    pub const SERVER_ROLE: u32 = 128;
}

/// Messages shorter than this have one word per line.
const NARROW: usize = 1 << 16;

/// The message kind code (flags bits 8–11).
pub fn kind_code(kind: MessageKind) -> u32 {
    match kind {
        MessageKind::Action => 1,
        MessageKind::Response => 2,
        MessageKind::Event => 3,
        MessageKind::Unknown => 0,
    }
}

/// What a call that yields items returns.
#[napi_derive::napi(object)]
#[allow(missing_debug_implementations)] // napi-rs's Buffer and Uint32Array are not Debug
pub struct NativeBatch {
    /// The messages' bytes.
    pub bytes: Buffer,
    /// The table (see the module documentation of `batch.rs`).
    pub table: Uint32Array,
    /// The texts the table refers to.
    pub texts: Vec<String>,
    /// True when the batch stopped at its size bound: call again for the rest.
    pub more: bool,
}

/// One item, before it is written.
#[derive(Debug, Default)]
pub struct Item<'a> {
    /// [`tag`].
    pub tag: u32,
    /// Flags besides those of the message.
    pub flags: u32,
    /// The first text.
    pub text0: Option<String>,
    /// The second text.
    pub text1: Option<String>,
    /// The number.
    pub num: u64,
    /// The second number.
    pub num2: u32,
    /// The message.
    pub message: Option<Message<'a>>,
    /// Extra ranges, as slices of the message's bytes.
    pub extras: Vec<&'a [u8]>,
    /// Where the message lies in the chunk just fed, if it lies wholly in it: then it is not
    /// copied, and its offsets are in the chunk.
    pub in_chunk: Option<usize>,
}

/// One word of a table: a `u32`, or four bytes of a `Buffer` (native-endian, as JavaScript's
/// `Uint32Array` reads them).
pub trait Word {
    /// Stores `w`.
    fn set(&mut self, w: u32);
    /// The word stored.
    fn get(&self) -> u32;
}

impl Word for u32 {
    #[inline(always)]
    fn set(&mut self, w: u32) {
        *self = w;
    }

    #[inline(always)]
    fn get(&self) -> u32 {
        *self
    }
}

impl Word for [u8; 4] {
    #[inline(always)]
    fn set(&mut self, w: u32) {
        *self = w.to_ne_bytes();
    }

    #[inline(always)]
    fn get(&self) -> u32 {
        u32::from_ne_bytes(*self)
    }
}

/// Where a batch's table goes: a `Vec` of its own ([`NativeBatch`]), or memory JavaScript
/// allocated ([`Room`]).
pub trait Words {
    /// What a word is stored in.
    type Slot: Word;
    /// Words written so far.
    fn written(&self) -> usize;
    /// Whether `n` more words fit.
    fn fits(&self, n: usize) -> bool;
    /// Appends `n` words (zero or stale: the caller writes every one) and returns them.
    /// Callers check [`Words::fits`] first; `n` words that do not fit are not appended (the
    /// returned slice is then shorter).
    fn grow(&mut self, n: usize) -> &mut [Self::Slot];
    /// Word `at`, already appended.
    fn word(&mut self, at: usize) -> Option<&mut Self::Slot>;
}

impl Words for Vec<u32> {
    type Slot = u32;

    fn written(&self) -> usize {
        self.len()
    }

    fn fits(&self, _: usize) -> bool {
        true
    }

    #[inline]
    fn grow(&mut self, n: usize) -> &mut [u32] {
        let at = Vec::len(self);
        self.resize(at + n, 0);
        self.get_mut(at..).unwrap_or_default()
    }

    fn word(&mut self, at: usize) -> Option<&mut u32> {
        self.get_mut(at)
    }
}

/// A table written straight into memory that JavaScript allocated (a `Buffer` over the same
/// memory as a `Uint32Array`) at word `at`: one word that says how many words the table has,
/// the table, then the bytes of the messages copied into the batch
/// ([`BatchWriter::finish_into`]).
#[derive(Debug)]
pub struct Room<'r> {
    words: &'r mut [[u8; 4]],
    /// The table's first word (after its length).
    origin: usize,
    len: usize,
}

/// The most words of memory a [`Room`] reaches into: the byte offsets of the copied bytes are
/// 32-bit.
const ROOM_END: usize = 1 << 30;

impl<'r> Room<'r> {
    /// The room at word `at` of `memory` (empty if `at` is beyond its end).
    pub fn new(memory: &'r mut [u8], at: usize) -> Room<'r> {
        let (words, _) = memory.as_chunks_mut::<4>();
        let end = words.len().min(ROOM_END);
        let words = words.get_mut(..end).unwrap_or_default();
        // Without a word at `at` for the length, nothing fits.
        let origin = if at < words.len() { at + 1 } else { words.len() };
        Room { words, origin, len: 0 }
    }

    fn free(&self) -> usize {
        self.words.len() - self.origin - self.len
    }
}

impl Words for Room<'_> {
    type Slot = [u8; 4];

    fn written(&self) -> usize {
        self.len
    }

    fn fits(&self, n: usize) -> bool {
        n <= self.free()
    }

    #[inline]
    fn grow(&mut self, n: usize) -> &mut [[u8; 4]] {
        let at = self.origin + self.len;
        let n = n.min(self.free());
        self.len += n;
        self.words.get_mut(at..at + n).unwrap_or_default()
    }

    fn word(&mut self, at: usize) -> Option<&mut [u8; 4]> {
        self.words.get_mut(self.origin + at).filter(|_| at < self.len)
    }
}

/// An item did not fit in a [`Room`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoRoom {
    /// The words of room the item needs in a batch of its own.
    pub words: usize,
}

/// Builds a batch: its table (into `W`), the bytes of the messages it copies, its texts.
#[derive(Debug, Default)]
pub struct BatchWriter<W: Words = Vec<u32>> {
    bytes: Vec<u8>,
    table: W,
    texts: Vec<String>,
    /// The items whose message was copied into `bytes` (their offsets move with it).
    copied: Vec<usize>,
}

/// Writes `words` into `out` (which is as long, or shorter when a room ran out).
#[inline(always)]
fn fill<S: Word, const N: usize>(out: &mut [S], words: [u32; N]) {
    for (o, w) in out.iter_mut().zip(words) {
        o.set(w);
    }
}

/// `part`'s offset in `whole` (`part` is a sub-slice of it), as a batch offset from `base`.
fn offset_in(whole: &[u8], part: &[u8], base: usize) -> u32 {
    let off = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    let off = if off <= whole.len() { off } else { 0 };
    u32::try_from(base + off).unwrap_or(u32::MAX)
}

impl BatchWriter {
    /// An empty batch (its table from the pool of tables V8 has freed).
    pub fn new() -> BatchWriter {
        BatchWriter { table: crate::pool::take(256), ..BatchWriter::default() }
    }

    /// Appends an item (a table of its own has room for every item).
    pub fn push(&mut self, item: Item<'_>) {
        let _always_fits = self.try_push(item);
    }

    /// Appends a message item (tag [`tag::MESSAGE`]).
    pub fn message(&mut self, m: Message<'_>) {
        self.push(Item { tag: tag::MESSAGE, message: Some(m), ..Item::default() });
    }

    /// The batch, for JavaScript.
    pub fn finish(self, more: bool) -> NativeBatch {
        NativeBatch {
            bytes: Buffer::from(self.bytes),
            table: crate::pool::typed_array(self.table),
            texts: self.texts,
            more,
        }
    }
}

impl<'r> BatchWriter<Room<'r>> {
    /// An empty batch written into `room`, reusing the memory of `bytes` (emptied first) for
    /// the bytes it copies.
    pub fn into_room(room: Room<'r>, mut bytes: Vec<u8>) -> BatchWriter<Room<'r>> {
        bytes.clear();
        BatchWriter { bytes, table: room, texts: Vec::new(), copied: Vec::new() }
    }

    /// Ends the batch: writes the table's length before it, places the copied bytes in the room
    /// after the table (the messages' offsets become byte offsets in the whole memory), and
    /// returns the words used in all, the texts, and the `bytes` memory for the next batch.
    pub fn finish_into(mut self) -> (usize, Vec<String>, Vec<u8>) {
        let words = self.table.len;
        let at = u32::try_from(4 * (self.table.origin + words)).unwrap_or(u32::MAX);
        for &head in &self.copied {
            let lines = self.table.word(head + 9).map_or(0, |w| w.get()) as usize;
            let per_line = if self.table.word(head + 1).is_some_and(|w| w.get() & flag::WIDE != 0) {
                2
            } else {
                1
            };
            let extras = self.table.word(head + 10).map_or(0, |w| w.get()) as usize;
            let first_extra = head + HEADER_WORDS + per_line * lines;
            let moved =
                [head + 7, head + 8].into_iter().chain(first_extra..first_extra + 2 * extras);
            for i in moved {
                if let Some(w) = self.table.word(i) {
                    w.set(w.get().saturating_add(at));
                }
            }
        }
        let packed = self.bytes.len().div_ceil(4);
        for (w, b) in self.table.grow(packed).iter_mut().zip(self.bytes.chunks(4)) {
            w.get_mut(..b.len()).unwrap_or_default().copy_from_slice(b);
        }
        let Room { words: memory, origin, len } = self.table;
        if len == 0 {
            // Nothing written (an empty table needs no length word: the caller sees no words
            // used).
            return (0, self.texts, self.bytes);
        }
        if let Some(w) = origin.checked_sub(1).and_then(|i| memory.get_mut(i)) {
            w.set(u32::try_from(words).unwrap_or(u32::MAX));
        }
        (1 + len, self.texts, self.bytes)
    }
}

impl<W: Words> BatchWriter<W> {
    /// Whether the batch has reached [`MAX_BATCH_BYTES`] of copied bytes or of table.
    pub fn is_full(&self) -> bool {
        self.bytes.len() >= MAX_BATCH_BYTES || self.table.written() >= MAX_BATCH_BYTES / 4
    }

    fn text(&mut self, t: Option<String>) -> u32 {
        match t {
            None => 0,
            Some(t) => {
                self.texts.push(t);
                u32::try_from(self.texts.len()).unwrap_or(0)
            }
        }
    }

    /// Appends an item, or returns how much room it needs, having written nothing, if it does
    /// not fit.
    pub fn try_push(&mut self, item: Item<'_>) -> Result<(), NoRoom> {
        let (lines, copy) = match item.message {
            Some(m) => {
                let per_line = if m.raw().len() >= NARROW { 2 } else { 1 };
                let copy = if item.in_chunk.is_some() { 0 } else { m.raw().len() };
                (per_line * m.slots().len(), copy)
            }
            None => (0, 0),
        };
        let words = HEADER_WORDS + lines + 2 * item.extras.len();
        if !self.table.fits(words + (self.bytes.len() + copy).div_ceil(4)) {
            // Alone in a room: its length word, the item, its bytes.
            return Err(NoRoom { words: 1 + words + copy.div_ceil(4) });
        }
        let text0 = self.text(item.text0);
        let text1 = self.text(item.text1);
        let mut flags = item.flags;
        let (num_lo, num_hi) = (item.num as u32, (item.num >> 32) as u32);
        let head = self.table.written();
        let Some(m) = item.message else {
            let header = [item.tag, flags, text0, text1, num_lo, num_hi, item.num2, 0, 0, 0, 0];
            fill(self.table.grow(HEADER_WORDS), header);
            return Ok(());
        };
        let raw = m.raw();
        let base = match item.in_chunk {
            Some(at) => {
                flags |= flag::CHUNK;
                at
            }
            None => {
                self.copied.push(head);
                let at = self.bytes.len();
                self.bytes.extend_from_slice(raw);
                at
            }
        };
        flags |= flag::MESSAGE | (kind_code(m.kind()) << 8);
        let wide = raw.len() >= NARROW;
        if wide {
            flags |= flag::WIDE;
        }
        if m.role() == ami_proto::Role::Server {
            flags |= flag::SERVER_ROLE;
        }
        let slots = m.slots();
        let lines = u32::try_from(slots.len()).unwrap_or(u32::MAX);
        let extras = u32::try_from(item.extras.len()).unwrap_or(0);
        let end = u32::try_from(base + raw.len()).unwrap_or(u32::MAX);
        let size = HEADER_WORDS + slots.len() * if wide { 2 } else { 1 } + 2 * item.extras.len();
        let out = self.table.grow(size);
        let (header, rest) = out.split_at_mut(HEADER_WORDS.min(out.len()));
        let base32 = base as u32;
        fill(
            header,
            [item.tag, flags, text0, text1, num_lo, num_hi, item.num2, base32, end, lines, extras],
        );
        let (line_words, extra_words) =
            rest.split_at_mut(rest.len().saturating_sub(2 * item.extras.len()));
        if wide {
            for (w, slot) in line_words.chunks_exact_mut(2).zip(slots) {
                let r = slot.line_range();
                fill(w, [r.start as u32, r.end as u32]);
            }
        } else {
            // Both offsets are below 2^16 (the message is shorter).
            for (w, slot) in line_words.iter_mut().zip(slots) {
                let r = slot.line_range();
                w.set(r.start as u32 | (r.end as u32) << 16);
            }
        }
        for (w, e) in extra_words.chunks_exact_mut(2).zip(&item.extras) {
            let s = offset_in(raw, e, base);
            fill(w, [s, s + e.len() as u32]);
        }
        Ok(())
    }
}
