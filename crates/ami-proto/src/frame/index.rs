//! The structural index of the decoder's buffer: where its line feeds, CRLF pairs and colons are.
//!
//! The buffer is indexed one block of up to 64 bytes at a time, each byte once: [`ami_simd`]
//! turns a block into bitmasks (bit `i` for byte `i`), and line ends, CR-before-LF and first
//! colons are then read off the masks with bit operations. The index keeps the masks of the
//! current block with the bits already consumed cleared, so that framing can stop at any line
//! (a message ends, more bytes are needed, a limit is near) and go on later without searching a
//! byte twice.

use ami_simd::{BLOCK, Classifier, Masks};

/// No colon known (in [`BlockIndex::carry_colon`]).
pub(super) const NONE: usize = usize::MAX;

/// Bits at positions `>= n` (all clear for `n >= 64`).
#[inline]
pub(super) fn from_bit(n: usize) -> u64 {
    if n >= 64 { 0 } else { u64::MAX << n }
}

/// Bits at positions `> i`, for `i < 64`.
#[inline]
pub(super) fn above(i: usize) -> u64 {
    (u64::MAX << i) << 1
}

/// Blocks classified per call of the classifier (2 KiB).
const BATCH: usize = 32;

/// The masks of the current block, the blocks classified ahead of it, and the first colon of
/// the line in progress.
#[derive(Clone, Debug)]
pub(super) struct BlockIndex {
    classifier: Classifier,
    /// Blocks classified ahead: entry `k` is the block at `batch_start + 64 k` (the batch may
    /// begin before the buffer after a compaction, hence signed).
    batch: [Masks; BATCH],
    batch_start: isize,
    /// The batch entry of the current block.
    current: usize,
    /// The current block's last byte is a CR (it is full and ends with one).
    cr_top: bool,
    /// End of the classified bytes: nothing from here on has been looked at.
    classified: usize,
    /// Buffer offset of bit 0 of the current block's masks.
    pub(super) base: usize,
    /// End of the current block: `buf[base..end]`, at most 64 bytes.
    pub(super) end: usize,
    /// Line feeds of the block not consumed yet.
    pub(super) lf: u64,
    /// Line feeds of the block that follow a CR.
    pub(super) crlf: u64,
    /// Colons of the block not consumed yet (those of lines already taken are cleared).
    pub(super) colon: u64,
    /// The line starting at `carry_line` has its first colon at `carry_colon` (or none,
    /// [`NONE`]) before `base`: set by the framer's fast path when it moves to the next block
    /// in the middle of a line. `carry_line == NONE` (or another line) when nothing is known.
    pub(super) carry_line: usize,
    pub(super) carry_colon: usize,
}

impl BlockIndex {
    pub(super) fn new() -> BlockIndex {
        BlockIndex {
            classifier: Classifier::detect(),
            batch: [Masks::default(); BATCH],
            batch_start: 0,
            current: 0,
            cr_top: false,
            classified: 0,
            base: 0,
            end: 0,
            lf: 0,
            crlf: 0,
            colon: 0,
            carry_line: NONE,
            carry_colon: NONE,
        }
    }

    /// End of the classified bytes (the next block of the batch ends there at the latest).
    #[inline(always)]
    pub(super) fn classified_end(&self) -> usize {
        self.classified
    }

    /// Forgets everything (the buffer was emptied).
    pub(super) fn clear(&mut self) {
        let classifier = self.classifier;
        *self = BlockIndex { classifier, ..BlockIndex::new() };
    }

    /// The buffer dropped its first `n` bytes, all of them consumed (before the line in
    /// progress).
    pub(super) fn shift(&mut self, n: usize) {
        if n <= self.base {
            self.base -= n;
        } else {
            // The block began inside the dropped part, whose bits are all consumed (clear).
            let k = n - self.base;
            let down = |m: u64| if k >= 64 { 0 } else { m >> k };
            self.lf = down(self.lf);
            self.crlf = down(self.crlf);
            self.colon = down(self.colon);
            self.base = 0;
        }
        self.end = self.end.saturating_sub(n);
        self.batch_start -= n as isize;
        self.classified = self.classified.saturating_sub(n);
        self.carry_line =
            if self.carry_line == NONE || self.carry_line < n { NONE } else { self.carry_line - n };
        if self.carry_colon != NONE {
            self.carry_colon = self.carry_colon.saturating_sub(n);
        }
    }

    /// Clears the bits of bytes before `pos` (consumed by a caller that moved on by itself).
    #[inline]
    pub(super) fn discard_below(&mut self, pos: usize) {
        if pos > self.base {
            let keep = from_bit(pos - self.base);
            self.lf &= keep;
            self.colon &= keep;
        }
    }

    /// Makes the block after the current one (or the one holding `pos`, if `pos` is beyond)
    /// current, when the current one has no line feed left; `pos` is the start of the line in
    /// progress. Classifies a batch of blocks when none is left, adding their bytes to
    /// `scanned`. Returns `false` if no byte is left to look at.
    #[inline]
    pub(super) fn next_block(&mut self, buf: &[u8], pos: usize, scanned: &mut u64) -> bool {
        self.next_in_batch(pos) || self.refill(buf, pos, scanned)
    }

    /// The common case of [`BlockIndex::next_block`]: the next block of the batch follows the
    /// current one and is already classified. Returns `false`, changing nothing, otherwise.
    #[inline(always)]
    pub(super) fn next_in_batch(&mut self, pos: usize) -> bool {
        let k = self.current + 1;
        if pos <= self.end
            && self.end < self.classified
            && let Some(m) = self.batch.get(k)
        {
            let base = self.end;
            let cr_before = u64::from(self.cr_top);
            self.current = k;
            self.base = base;
            self.end = (base + BLOCK).min(self.classified);
            self.lf = m.lf;
            self.crlf = m.lf & (m.cr << 1 | cr_before);
            self.colon = m.colon;
            self.cr_top = m.cr >> 63 != 0;
            return true;
        }
        false
    }

    /// `next_block` when the batch has no block after the current one, or `pos` is past it.
    #[cold]
    fn refill(&mut self, buf: &[u8], pos: usize, scanned: &mut u64) -> bool {
        let from = self.end.max(pos);
        if from >= self.classified {
            let Some(rest) = buf.get(from..).filter(|r| !r.is_empty()) else { return false };
            let n = self.classifier.classify(rest, &mut self.batch);
            self.batch_start = from as isize;
            self.classified = from + n;
            *scanned += n as u64;
        }
        let k = (from as isize - self.batch_start) as usize / BLOCK;
        let Some(m) = self.batch.get(k) else { return false };
        let base = (self.batch_start + (k * BLOCK) as isize) as usize;
        // A CR ending the previous block pairs with an LF opening this one.
        let cr_before = u64::from(base > 0 && buf.get(base - 1) == Some(&b'\r'));
        self.current = k;
        self.cr_top = m.cr >> 63 != 0;
        self.base = base;
        self.end = (base + BLOCK).min(self.classified);
        self.lf = m.lf;
        self.crlf = m.lf & (m.cr << 1 | cr_before);
        self.colon = m.colon;
        self.discard_below(pos);
        true
    }
}
