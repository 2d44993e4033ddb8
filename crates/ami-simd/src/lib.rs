//! # ami-simd: byte classes of a 64-byte block as bitmasks
//!
//! The structural index behind libami's framer (in the manner of simdjson's stage 1): one pass
//! over a block of 64 input bytes gives three 64-bit masks, bit `i` set when byte `i` is a line
//! feed, a carriage return or a colon. The framer in `ami-proto` finds line ends, CRLF pairs and
//! first colons from them with bit operations alone.
//!
//! This crate is the only place of the framer that needs `unsafe`: the vector instructions are
//! chosen at run time ([`Classifier::detect`]: AVX-512BW, else AVX2, else portable code), and
//! calling a function compiled for a CPU feature is `unsafe` in Rust. Each such call is guarded
//! by the detection that makes it sound; the portable implementation is plain safe Rust, and
//! every implementation is tested against a byte loop (under Miri too: `make miri`).
//!
//! ```
//! use ami_simd::{Classifier, Masks};
//!
//! let c = Classifier::detect();
//! let mut block = [b'x'; 64];
//! block[..12].copy_from_slice(b"Event: A\r\n\r\n");
//! let m = c.block(&block);
//! assert_eq!(m.lf, 1 << 9 | 1 << 11);
//! assert_eq!(m.cr, 1 << 8 | 1 << 10);
//! assert_eq!(m.colon, 1 << 5);
//! // A short tail (the end of the buffered bytes) leaves the missing bytes' bits clear.
//! assert_eq!(c.tail(b"A: 1\n"), Masks { lf: 1 << 4, cr: 0, colon: 1 << 1 });
//! ```
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

/// Bytes per block: one bit of each mask per byte.
pub const BLOCK: usize = 64;

/// The classes of one block's bytes: bit `i` of a mask stands for byte `i` of the block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Masks {
    /// Bytes equal to `\n` (0x0A).
    pub lf: u64,
    /// Bytes equal to `\r` (0x0D).
    pub cr: u64,
    /// Bytes equal to `:` (0x3A).
    pub colon: u64,
}

/// Which instructions a [`Classifier`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Implementation {
    /// One 64-byte load and three mask compares (x86-64 with AVX-512BW).
    Avx512bw,
    /// Two 32-byte loads, six compares and six `movemask`s (x86-64 with AVX2).
    Avx2,
    /// Plain Rust over eight-byte words (any CPU); the compiler vectorises what it can.
    Portable,
}

impl Implementation {
    /// Lower-case name: `"avx512bw"`, `"avx2"` or `"portable"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Implementation::Avx512bw => "avx512bw",
            Implementation::Avx2 => "avx2",
            Implementation::Portable => "portable",
        }
    }
}

/// Classifies blocks with the best implementation the CPU supports. Cheap to copy.
///
/// A `Classifier` other than [`Classifier::portable`] can only be made after the CPU was found
/// to support its instructions, which is what makes its calls sound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Classifier {
    imp: Implementation,
}

impl Default for Classifier {
    fn default() -> Classifier {
        Classifier::detect()
    }
}

impl Classifier {
    /// The fastest implementation this CPU supports (the standard library caches what the CPU
    /// has, so this is cheap).
    ///
    /// The environment variable `AMI_SIMD` caps the choice, for benchmarks and tests of the
    /// other paths: `portable`, `avx2` (no AVX-512) or `avx512bw` (the default order).
    pub fn detect() -> Classifier {
        let order: &[Implementation] = match std::env::var_os("AMI_SIMD") {
            Some(v) if v == "portable" => &[],
            Some(v) if v == "avx2" => &[Implementation::Avx2],
            _ => &[Implementation::Avx512bw, Implementation::Avx2],
        };
        order.iter().copied().find_map(Classifier::with).unwrap_or(Classifier::portable())
    }

    /// The portable implementation, whatever the CPU.
    pub const fn portable() -> Classifier {
        Classifier { imp: Implementation::Portable }
    }

    /// `imp`, if this CPU supports it (`Portable` always is).
    pub fn with(imp: Implementation) -> Option<Classifier> {
        let supported = match imp {
            Implementation::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Implementation::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Implementation::Avx512bw => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        };
        supported.then_some(Classifier { imp })
    }

    /// The implementation in use.
    pub fn implementation(&self) -> Implementation {
        self.imp
    }

    /// The masks of a whole block.
    #[inline]
    pub fn block(&self, block: &[u8; BLOCK]) -> Masks {
        match self.imp {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a Classifier holds Avx512bw only if `with` found AVX-512F and AVX-512BW
            // on this CPU, which is all `x86::avx512bw` requires.
            Implementation::Avx512bw => unsafe { x86::avx512bw(block) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a Classifier holds Avx2 only if `with` found AVX2 on this CPU.
            Implementation::Avx2 => unsafe { x86::avx2(block) },
            _ => portable(block),
        }
    }

    /// Classifies `bytes` into `out`, one block per entry (entry `k` for `bytes[64k..64k+64]`),
    /// as far as `out` reaches; the last block may be short (its missing bytes' bits clear).
    /// Returns the number of bytes classified: `min(bytes.len(), 64 * out.len())`.
    ///
    /// One call for many blocks: the vector code runs as a loop compiled for its CPU feature,
    /// instead of a call per block.
    pub fn classify(&self, bytes: &[u8], out: &mut [Masks]) -> usize {
        let n = bytes.len().min(BLOCK * out.len());
        let blocks = bytes.get(..n).unwrap_or_default().chunks_exact(BLOCK);
        let rest = blocks.remainder();
        let whole = blocks.len();
        let blocks = blocks.filter_map(|b| <&[u8; BLOCK]>::try_from(b).ok());
        match self.imp {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as in `block`: the CPU has AVX-512F and AVX-512BW.
            Implementation::Avx512bw => unsafe { x86::avx512bw_all(blocks, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as in `block`: the CPU has AVX2.
            Implementation::Avx2 => unsafe { x86::avx2_all(blocks, out) },
            _ => out.iter_mut().zip(blocks).for_each(|(m, b)| *m = portable(b)),
        }
        if !rest.is_empty()
            && let Some(m) = out.get_mut(whole)
        {
            *m = self.tail(rest);
        }
        n
    }

    /// The masks of the first `bytes.len()` bytes of a block (at most [`BLOCK`]; any excess
    /// is ignored). Bits from `bytes.len()` on are clear.
    #[inline]
    pub fn tail(&self, bytes: &[u8]) -> Masks {
        if bytes.len() <= 8 {
            // A few bytes (a feed of one byte at a time, say): a byte loop costs less than
            // padding a block.
            let mut m = Masks::default();
            for (i, &b) in bytes.iter().enumerate() {
                let bit = 1u64 << i;
                m.lf |= if b == b'\n' { bit } else { 0 };
                m.cr |= if b == b'\r' { bit } else { 0 };
                m.colon |= if b == b':' { bit } else { 0 };
            }
            return m;
        }
        let mut block = [0u8; BLOCK];
        let n = bytes.len().min(BLOCK);
        if let (Some(dst), Some(src)) = (block.get_mut(..n), bytes.get(..n)) {
            dst.copy_from_slice(src);
        }
        // NUL bytes belong to no class, so the padding sets no bit.
        self.block(&block)
    }
}

/// Bit `i` of the result is set when byte `i` of `word` (little-endian) is zero: the exact,
/// carry-free zero-byte test.
#[inline]
fn zero_bytes(word: u64) -> u64 {
    const LO7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    // High bit of each byte set iff the byte is zero.
    let high = !(((word & LO7).wrapping_add(LO7)) | word | LO7);
    // Gather the eight high bits into the low byte.
    (high >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// The portable implementation: eight bytes at a time, three zero-byte tests per word.
#[inline]
fn portable(block: &[u8; BLOCK]) -> Masks {
    const fn splat(b: u8) -> u64 {
        u64::from_le_bytes([b; 8])
    }
    let mut m = Masks::default();
    for (i, chunk) in block.chunks_exact(8).enumerate() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let w = u64::from_le_bytes(bytes);
        let shift = 8 * i as u32;
        m.lf |= zero_bytes(w ^ splat(b'\n')) << shift;
        m.cr |= zero_bytes(w ^ splat(b'\r')) << shift;
        m.colon |= zero_bytes(w ^ splat(b':')) << shift;
    }
    m
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::*;

    use super::{BLOCK, Masks};

    /// # Safety
    /// The CPU must support AVX-512F and AVX-512BW.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub(super) unsafe fn avx512bw(block: &[u8; BLOCK]) -> Masks {
        // SAFETY: `block` is 64 readable bytes; the load has no alignment requirement.
        let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
        Masks {
            lf: _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'\n' as i8)),
            cr: _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'\r' as i8)),
            colon: _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b':' as i8)),
        }
    }

    /// `avx512bw` over many blocks.
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX-512BW.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn avx512bw_all<'a>(
        blocks: impl Iterator<Item = &'a [u8; BLOCK]>,
        out: &mut [Masks],
    ) {
        for (m, b) in out.iter_mut().zip(blocks) {
            // SAFETY: this function's own requirement.
            *m = unsafe { avx512bw(b) };
        }
    }

    /// `avx2` over many blocks.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2_all<'a>(
        blocks: impl Iterator<Item = &'a [u8; BLOCK]>,
        out: &mut [Masks],
    ) {
        for (m, b) in out.iter_mut().zip(blocks) {
            // SAFETY: this function's own requirement.
            *m = unsafe { avx2(b) };
        }
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn avx2(block: &[u8; BLOCK]) -> Masks {
        let p = block.as_ptr().cast::<__m256i>();
        // SAFETY: `block` is 64 readable bytes, so both 32-byte loads are in bounds; loadu has
        // no alignment requirement.
        let (lo, hi) = unsafe { (_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1))) };
        let mask = |b: u8| {
            let needle = _mm256_set1_epi8(b as i8);
            let l = _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, needle)) as u32 as u64;
            let h = _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, needle)) as u32 as u64;
            l | h << 32
        };
        Masks { lf: mask(b'\n'), cr: mask(b'\r'), colon: mask(b':') }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(bytes: &[u8]) -> Masks {
        let mut m = Masks::default();
        for (i, &b) in bytes.iter().enumerate().take(BLOCK) {
            let bit = 1u64 << i;
            match b {
                b'\n' => m.lf |= bit,
                b'\r' => m.cr |= bit,
                b':' => m.colon |= bit,
                _ => {}
            }
        }
        m
    }

    fn every_classifier() -> Vec<Classifier> {
        [Implementation::Avx512bw, Implementation::Avx2, Implementation::Portable]
            .into_iter()
            .filter_map(Classifier::with)
            .collect()
    }

    /// A small xorshift generator: deterministic inputs without dependencies.
    fn bytes(seed: &mut u64, alphabet: &[u8]) -> [u8; BLOCK] {
        let mut out = [0u8; BLOCK];
        for b in &mut out {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *b = alphabet[(*seed % alphabet.len() as u64) as usize];
        }
        out
    }

    #[test]
    fn every_implementation_agrees_with_a_byte_loop() {
        let rounds = if cfg!(miri) { 8 } else { 2_000 };
        let mut seed = 0x9E37_79B9_7F4A_7C15;
        // Bytes one bit away from the three classes, high bytes and NUL must not match.
        let near: Vec<u8> =
            b"\n\r:".iter().flat_map(|&c| (0..8).map(move |k| c ^ (1 << k))).collect();
        let alphabets: [&[u8]; 3] = [b"\n\r:aZ \t", &near, b"\n\r:\0\xff\x8a\x8d\xba"];
        for c in every_classifier() {
            for alphabet in alphabets {
                for _ in 0..rounds {
                    let block = bytes(&mut seed, alphabet);
                    assert_eq!(c.block(&block), reference(&block), "{:?} {block:?}", c.imp);
                }
            }
        }
    }

    #[test]
    fn every_bit_position_of_every_class() {
        for c in every_classifier() {
            for i in 0..BLOCK {
                for (byte, pick) in [
                    (b'\n', (|m: Masks| m.lf) as fn(Masks) -> u64),
                    (b'\r', |m: Masks| m.cr),
                    (b':', |m: Masks| m.colon),
                ] {
                    let mut block = [b'a'; BLOCK];
                    block[i] = byte;
                    let m = c.block(&block);
                    assert_eq!(pick(m), 1 << i, "{:?} byte {byte} at {i}", c.imp);
                    assert_eq!(m.lf.count_ones() + m.cr.count_ones() + m.colon.count_ones(), 1);
                }
            }
        }
    }

    #[test]
    fn tails_leave_the_missing_bytes_clear() {
        let full = [b'\n'; BLOCK];
        for c in every_classifier() {
            for n in 0..=BLOCK {
                let want = if n == BLOCK { u64::MAX } else { (1u64 << n) - 1 };
                assert_eq!(c.tail(&full[..n]).lf, want, "{:?} {n}", c.imp);
            }
            // More than a block: the excess is ignored.
            assert_eq!(c.tail(&[b':'; 100]).colon, u64::MAX);
        }
    }

    #[test]
    fn many_blocks_at_once_equal_one_at_a_time() {
        let mut seed = 0x2545_F491_4F6C_DD1D;
        let mut bytes = Vec::new();
        for _ in 0..5 {
            bytes.extend_from_slice(&super::tests::bytes(&mut seed, b"\n\r:ab"));
        }
        for c in every_classifier() {
            for len in [0, 1, 63, 64, 65, 128, 200, 320] {
                for cap in [0, 1, 2, 5, 8] {
                    let mut out = [Masks { lf: 7, cr: 7, colon: 7 }; 8];
                    let n = c.classify(&bytes[..len], &mut out[..cap]);
                    assert_eq!(n, len.min(64 * cap), "{:?}", c.imp);
                    for (k, m) in out[..n.div_ceil(64)].iter().enumerate() {
                        let block = &bytes[64 * k..n.min(64 * k + 64)];
                        assert_eq!(*m, reference(block), "{:?} len {len} block {k}", c.imp);
                    }
                    assert!(out[n.div_ceil(64)..].iter().all(|m| m.lf == 7), "wrote past the end");
                }
            }
        }
    }

    #[test]
    fn detection_picks_a_supported_implementation() {
        let c = Classifier::detect();
        assert_eq!(Classifier::with(c.implementation()), Some(c));
        // Compiled for a feature (as `make miri` does), detection must find it.
        if cfg!(target_feature = "avx512bw") && std::env::var_os("AMI_SIMD").is_none() {
            assert_eq!(c.implementation(), Implementation::Avx512bw);
        } else if cfg!(target_feature = "avx2") && std::env::var_os("AMI_SIMD").is_none() {
            assert_ne!(c.implementation(), Implementation::Portable);
        }
        if std::env::var_os("AMI_SIMD").is_none() {
            let best = [Implementation::Avx512bw, Implementation::Avx2]
                .into_iter()
                .find(|&i| Classifier::with(i).is_some())
                .unwrap_or(Implementation::Portable);
            assert_eq!(c.implementation(), best);
        }
        assert_eq!(Classifier::portable().implementation().as_str(), "portable");
        assert_eq!(Classifier::default(), c);
    }
}
