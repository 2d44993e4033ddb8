//! Decodes the generated corpus once (for profilers: `valgrind --tool=callgrind`).
use ami_benches::{CorpusConfig, generate};
use ami_proto::{Decoder, Frame, Role};

fn main() {
    let mb: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(4);
    let input = generate(&CorpusConfig { seed: 2024, target_bytes: mb << 20 }).bytes;
    let mut dec = Decoder::new(Role::Client);
    let mut n = 0usize;
    for chunk in input.chunks(4096) {
        dec.feed(chunk);
        while let Some(f) = dec.next_frame() {
            if let Ok(Frame::Message(m)) = f {
                n += m.len();
            }
        }
    }
    println!("{n} lines in {} bytes", input.len());
}
