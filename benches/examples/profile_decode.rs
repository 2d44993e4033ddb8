//! Decodes the generated corpus (for profilers: `valgrind --tool=callgrind`), and prints the
//! best of `ROUNDS` decode times, for quick before/after comparisons.
//!
//! Usage: `profile_decode [MiB] [ROUNDS]` (defaults 4 and 1).
use std::time::Instant;

use ami_benches::{CorpusConfig, generate};
use ami_proto::{Decoder, Frame, Role};

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().ok());
    let mb = args.next().flatten().unwrap_or(4);
    let rounds = args.next().flatten().unwrap_or(1).max(1);
    let input = generate(&CorpusConfig { seed: 2024, target_bytes: mb << 20 }).bytes;
    let mut best = f64::INFINITY;
    let mut n = 0usize;
    for _ in 0..rounds {
        let start = Instant::now();
        let mut dec = Decoder::new(Role::Client);
        n = 0;
        for chunk in input.chunks(4096) {
            dec.feed(chunk);
            while let Some(f) = dec.next_frame() {
                if let Ok(Frame::Message(m)) = f {
                    n += m.len();
                }
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "{n} lines in {} bytes; best of {rounds}: {:.2} ms ({:.0} MiB/s)",
        input.len(),
        best * 1e3,
        input.len() as f64 / best / (1 << 20) as f64
    );
}
