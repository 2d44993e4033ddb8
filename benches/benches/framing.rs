//! The decoder against the framing limit, in one run on one corpus.
//!
//! Each round times, on the same generated Asterisk 22 traffic (48 MiB by default):
//!
//! * `memcpy`: the corpus copied in 4 KiB chunks into a reused buffer (what `feed` must do);
//! * `memmem`: `memmem("\r\n\r\n")` over the whole corpus, counting messages: the framing limit;
//! * `naive`: a naive splitter over the whole corpus: `memchr` for each LF, `memchr` for each
//!   colon, one CR trimmed, every name and value touched;
//! * `rust`: `Decoder` fed 4 KiB chunks, every header's name and value read;
//! * `c-api`: the same through the C API (`ami_decoder_next` + `ami_decoder_headers`);
//! * `c-slots`: the same through `ami_decoder_slots`, the decoder's own index of the lines,
//!   read as the header's inline `ami_slot_name` / `ami_slot_value` do;
//! * `feed-1`, `feed-64`, `feed-64k`: `rust` with feeds of 1 byte, 64 bytes and 64 KiB.
//!
//! and reports, per variant, the throughput and the ratio of its time to `memmem`'s time in the
//! same round: minimum, median and maximum over the rounds. Every variant must see the same
//! messages (checked).
//!
//! Options (after `--`): `--rounds N` (default 5), `--mib N` (default 48), `--only NAME` (one
//! variant, for `valgrind --tool=callgrind`; with `--rounds 1`). `AMI_SIMD=portable|avx2`
//! caps the block classifier (see `ami_simd::Classifier::detect`).

use std::hint::black_box;
use std::time::Instant;

use ami::{
    ami_decoder, ami_decoder_feed, ami_decoder_free, ami_decoder_headers, ami_decoder_new,
    ami_decoder_next, ami_decoder_slots, ami_frame_kind, ami_header, ami_result, ami_role,
    ami_slot,
};
use ami_benches::{CorpusConfig, generate};
use ami_proto::{Decoder, Frame, Role};
use memchr::memmem;

const CHUNK: usize = 4096;

/// What a variant saw: messages and the bytes of names and values read (`memcpy` and `memmem`
/// only count what they can).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Seen {
    messages: usize,
    bytes: usize,
}

fn memcpy(input: &[u8]) -> Seen {
    let mut buf = Vec::with_capacity(CHUNK);
    let mut bytes = 0;
    for chunk in input.chunks(CHUNK) {
        buf.clear();
        buf.extend_from_slice(chunk);
        bytes += black_box(&buf).len();
    }
    Seen { messages: 0, bytes }
}

fn memmem_scan(input: &[u8]) -> Seen {
    let finder = memmem::Finder::new(b"\r\n\r\n");
    Seen { messages: finder.find_iter(input).count(), bytes: 0 }
}

/// Lines by `memchr(LF)`, names by `memchr(':')`, one CR trimmed, a message per blank line.
fn naive(input: &[u8]) -> Seen {
    let mut seen = Seen::default();
    let mut rest = input;
    if rest.starts_with(b"Asterisk Call Manager/") {
        // The banner is a line of its own, not part of a message.
        rest = memchr::memchr(b'\n', rest).map_or(&[][..], |i| &rest[i + 1..]);
    }
    let mut lines_in_message = 0;
    while let Some(i) = memchr::memchr(b'\n', rest) {
        let line = &rest[..i];
        rest = &rest[i + 1..];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            if lines_in_message > 0 {
                seen.messages += 1;
            }
            lines_in_message = 0;
            continue;
        }
        lines_in_message += 1;
        let (name, value) = match memchr::memchr(b':', line) {
            Some(c) => {
                let v = &line[c + 1..];
                (&line[..c], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (&line[..0], line),
        };
        seen.bytes += name.len() + value.len();
    }
    seen
}

fn rust(input: &[u8], chunk: usize) -> Seen {
    let mut dec = Decoder::new(Role::Client);
    let mut seen = Seen::default();
    for c in input.chunks(chunk) {
        dec.feed(c);
        while let Some(f) = dec.next_frame() {
            if let Ok(Frame::Message(m)) = f {
                seen.messages += 1;
                // Summed per message, so that the total is not a memory round trip per header.
                seen.bytes += m.iter().map(|h| h.name().len() + h.value().len()).sum::<usize>();
            }
        }
    }
    seen
}

/// How `c_api` reads a message's lines.
#[derive(Clone, Copy)]
enum CRead {
    /// `ami_decoder_headers`: an array of `ami_header` views.
    Headers,
    /// `ami_decoder_slots`: the decoder's own slot array, read as the header's inline
    /// `ami_slot_name` / `ami_slot_value` do.
    Slots,
}

fn c_api(input: &[u8], read: CRead) -> Seen {
    let mut dec: *mut ami_decoder = std::ptr::null_mut();
    let ok = ami_decoder_new(ami_role::AMI_ROLE_CLIENT as u32, std::ptr::null(), &mut dec);
    assert_eq!(ok, ami_result::AMI_RESULT_OK);
    let mut seen = Seen::default();
    for chunk in input.chunks(CHUNK) {
        assert_eq!(ami_decoder_feed(dec, chunk.as_ptr(), chunk.len()), ami_result::AMI_RESULT_OK);
        loop {
            let mut kind = ami_frame_kind::AMI_FRAME_NONE;
            assert_eq!(ami_decoder_next(dec, &mut kind), ami_result::AMI_RESULT_OK);
            match kind {
                ami_frame_kind::AMI_FRAME_NONE => break,
                ami_frame_kind::AMI_FRAME_MESSAGE => {
                    seen.messages += 1;
                    match read {
                        CRead::Headers => seen.bytes += c_headers(dec),
                        CRead::Slots => seen.bytes += c_slots(dec),
                    }
                }
                _ => {}
            }
        }
    }
    ami_decoder_free(dec);
    seen
}

/// Bytes of every name and value of the current message, through `ami_decoder_headers`.
fn c_headers(dec: *const ami_decoder) -> usize {
    let mut headers: *const ami_header = std::ptr::null();
    let mut n = 0;
    ami_decoder_headers(dec, &mut headers, &mut n);
    // SAFETY: ami_decoder_headers returned an array of `n` headers, valid until the next
    // non-const call on `dec`.
    let headers = unsafe { std::slice::from_raw_parts(headers, n) };
    headers.iter().map(|h| h.name.len + h.value.len).sum()
}

/// The same through `ami_decoder_slots`: each name's and value's length as C's inline helpers
/// compute them (a bare line has no name), as `rust` reads lengths of its views.
fn c_slots(dec: *const ami_decoder) -> usize {
    let (mut raw, mut raw_len) = (std::ptr::null(), 0);
    let (mut slots, mut n): (*const ami_slot, usize) = (std::ptr::null(), 0);
    ami_decoder_slots(dec, &mut raw, &mut raw_len, &mut slots, &mut n);
    // SAFETY: ami_decoder_slots returned an array of `n` slots, valid until the next
    // non-const call on `dec`.
    let slots = unsafe { std::slice::from_raw_parts(slots, n) };
    let mut bytes = 0;
    for s in slots {
        let name = if s.colon == u32::MAX { 0 } else { s.colon - s.start };
        bytes += (name + (s.end - s.value)) as usize;
    }
    debug_assert!(slots.last().is_none_or(|s| s.end as usize <= raw_len) && !raw.is_null());
    bytes
}

type Variant = (&'static str, fn(&[u8]) -> Seen);

const VARIANTS: [Variant; 9] = [
    ("memcpy", memcpy),
    ("memmem", memmem_scan),
    ("naive", naive),
    ("rust", |i| rust(i, CHUNK)),
    ("c-api", |i| c_api(i, CRead::Headers)),
    ("c-slots", |i| c_api(i, CRead::Slots)),
    ("feed-1", |i| rust(i, 1)),
    ("feed-64", |i| rust(i, 64)),
    ("feed-64k", |i| rust(i, 64 << 10)),
];

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn min_median_max(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn main() {
    let rounds: usize = arg("--rounds").and_then(|r| r.parse().ok()).unwrap_or(5).max(1);
    let mib: usize = arg("--mib").and_then(|r| r.parse().ok()).unwrap_or(48);
    let only = arg("--only");
    let corpus = generate(&CorpusConfig { seed: 2024, target_bytes: mib << 20 });
    let input = corpus.bytes;
    let classifier = ami_simd::Classifier::detect().implementation();
    println!(
        "corpus: {} bytes, {} messages; block classifier: {}; {rounds} rounds",
        input.len(),
        corpus.messages,
        classifier.as_str()
    );
    let variants: Vec<Variant> =
        VARIANTS.iter().copied().filter(|(n, _)| only.as_deref().is_none_or(|o| o == *n)).collect();
    if let Some(o) = &only {
        assert!(!variants.is_empty(), "no variant named {o}");
    }
    // Sanity: every framing variant sees every message; the header readers the same bytes.
    let want_messages = corpus.messages;
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let mut reference: Option<Seen> = None;
    for _ in 0..rounds {
        for (k, (name, f)) in variants.iter().enumerate() {
            let start = Instant::now();
            let seen = f(black_box(&input));
            times[k].push(start.elapsed().as_secs_f64());
            if !matches!(*name, "memcpy") {
                assert_eq!(seen.messages, want_messages, "{name} saw another message count");
            }
            if !matches!(*name, "memcpy" | "memmem") {
                assert_eq!(*reference.get_or_insert(seen), seen, "{name} read other bytes");
            }
        }
    }
    let memmem_times = variants.iter().position(|(n, _)| *n == "memmem").map(|k| &times[k]);
    println!(
        "{:<9} {:>26} {:>26}",
        "variant", "MB/s min / median / max", "time / memmem min / med / max"
    );
    for ((name, _), t) in variants.iter().zip(&times) {
        let (lo, med, hi) =
            min_median_max(t.iter().map(|s| input.len() as f64 / s / 1e6).collect());
        let ratio = match memmem_times {
            Some(m) => {
                let (a, b, c) = min_median_max(t.iter().zip(m).map(|(x, y)| x / y).collect());
                format!("{a:8.2} {b:8.2} {c:8.2}")
            }
            None => "-".to_owned(),
        };
        println!("{name:<9} {lo:8.0} {med:8.0} {hi:8.0} {ratio:>26}");
    }
}
