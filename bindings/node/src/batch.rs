//! The batch: how decoded items cross into JavaScript.
//!
//! Creating one JavaScript object per message through Node-API costs more than decoding it, so
//! every call that yields messages returns one [`NativeBatch`]: a `Uint32Array` table that says
//! where every item, message and line lies, and a `Buffer` with the bytes of the messages that
//! are not in the chunk just fed. A message that lies wholly in that chunk (nearly all of them)
//! is not copied: its offsets are in the chunk (flag [`flag::CHUNK`]), which the TypeScript
//! layer keeps, so that decoding allocates little more than the table. The TypeScript layer (`batch.ts`) reads the table and builds light `Message` views whose
//! values are turned into strings only when they are read.
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
//! | 7, 8 | the message's byte range in `bytes` (empty without a message) |
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

/// Builds a [`NativeBatch`].
#[derive(Debug, Default)]
pub struct BatchWriter {
    bytes: Vec<u8>,
    table: Vec<u32>,
    texts: Vec<String>,
}

/// `part`'s offset in `whole` (`part` is a sub-slice of it), as a batch offset from `base`.
fn offset_in(whole: &[u8], part: &[u8], base: usize) -> u32 {
    let off = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    let off = if off <= whole.len() { off } else { 0 };
    u32::try_from(base + off).unwrap_or(u32::MAX)
}

impl BatchWriter {
    /// An empty batch.
    pub fn new() -> BatchWriter {
        BatchWriter::default()
    }

    /// An empty batch whose table is sized for about `bytes` bytes of messages, allocated once:
    /// growing it by doubling (and faulting in fresh pages each time) costs more than decoding.
    pub fn with_capacity(bytes: usize) -> BatchWriter {
        let bytes = bytes.min(MAX_BATCH_BYTES);
        BatchWriter {
            bytes: Vec::new(),
            // About 26 bytes and one word per line, 11 words per ~450-byte message.
            table: crate::pool::take(bytes / 16 + 64),
            texts: Vec::new(),
        }
    }

    /// An empty batch written into `table`'s memory (emptied first), given back by
    /// [`BatchWriter::into_parts`]: a caller that copies each table out (the decoder) reuses
    /// the same memory for every batch.
    pub fn reusing(mut table: Vec<u32>) -> BatchWriter {
        table.clear();
        BatchWriter { bytes: Vec::new(), table, texts: Vec::new() }
    }

    /// The table, the copied bytes and the texts written so far.
    pub fn into_parts(self) -> (Vec<u32>, Vec<u8>, Vec<String>) {
        (self.table, self.bytes, self.texts)
    }

    /// Whether the batch has reached [`MAX_BATCH_BYTES`] of copied bytes or of table.
    pub fn is_full(&self) -> bool {
        self.bytes.len() >= MAX_BATCH_BYTES || self.table.len() >= MAX_BATCH_BYTES / 4
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

    /// Appends a message item (tag [`tag::MESSAGE`]).
    pub fn message(&mut self, m: Message<'_>) {
        self.push(Item { tag: tag::MESSAGE, message: Some(m), ..Item::default() });
    }

    /// Appends an item.
    pub fn push(&mut self, item: Item<'_>) {
        let text0 = self.text(item.text0);
        let text1 = self.text(item.text1);
        let mut flags = item.flags;
        let head = self.table.len();
        self.table.extend_from_slice(&[
            item.tag,
            0,
            text0,
            text1,
            item.num as u32,
            (item.num >> 32) as u32,
            item.num2,
            0,
            0,
            0,
            0,
        ]);
        if let Some(m) = item.message {
            let raw = m.raw();
            let base = match item.in_chunk {
                Some(at) => {
                    flags |= flag::CHUNK;
                    at
                }
                None => {
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
            if wide {
                for slot in slots {
                    let r = slot.line_range();
                    self.table.extend_from_slice(&[r.start as u32, r.end as u32]);
                }
            } else {
                // Both offsets are below 2^16 (the message is shorter).
                self.table.extend(slots.iter().map(|slot| {
                    let r = slot.line_range();
                    r.start as u32 | (r.end as u32) << 16
                }));
            }
            let extras = u32::try_from(item.extras.len()).unwrap_or(0);
            for e in &item.extras {
                let s = offset_in(raw, e, base);
                self.table.extend_from_slice(&[s, s + e.len() as u32]);
            }
            let end = u32::try_from(base + raw.len()).unwrap_or(u32::MAX);
            if let Some(w) = self.table.get_mut(head + 7..head + 11) {
                w.copy_from_slice(&[base as u32, end, lines, extras]);
            }
        }
        if let Some(w) = self.table.get_mut(head + 1) {
            *w = flags;
        }
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
