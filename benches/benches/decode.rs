//! Decode throughput over the generated Asterisk 22 traffic, fed in 4 KiB chunks the way a
//! socket delivers them. Reports bytes/s (and, in the `messages` group, messages/s).
//!
//! * `frame`: feed + frame (line search, limits) + the header split of every line (the
//!   `HeaderSlot` table: line bounds and colon), zero-copy views, nothing touched after.
//! * `frame+lookup`: as `frame`, plus one case-insensitive lookup (`Event`) per message.
//! * `frame+iterate`: as `frame`, plus reading every header's name and value.

use std::hint::black_box;

use ami_benches::{CorpusConfig, generate};
use ami_proto::{Decoder, Frame, Role};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CHUNK: usize = 4096;

fn corpus() -> (Vec<u8>, usize) {
    let c = generate(&CorpusConfig { seed: 2024, target_bytes: 16 << 20 });
    (c.bytes, c.messages + 1)
}

fn run(input: &[u8], mut per_message: impl FnMut(&ami_proto::Message<'_>) -> usize) -> usize {
    let mut dec = Decoder::new(Role::Client);
    let mut n = 0;
    for chunk in input.chunks(CHUNK) {
        dec.feed(chunk);
        while let Some(f) = dec.next_frame() {
            match f {
                Ok(Frame::Message(m)) => n += per_message(&m),
                Ok(Frame::Banner(_)) => n += 1,
                Err(e) => panic!("corpus breaks a limit: {e}"),
            }
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let (input, frames) = corpus();
    // Sanity: every frame comes out.
    assert_eq!(run(&input, |_| 1), frames);

    let mut g = c.benchmark_group("decode-bytes");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.sample_size(20);
    g.bench_function("frame", |b| b.iter(|| run(black_box(&input), |m| m.len())));
    g.bench_function("frame+lookup", |b| {
        b.iter(|| run(black_box(&input), |m| m.get("Event").map_or(0, <[u8]>::len)))
    });
    g.bench_function("frame+iterate", |b| {
        b.iter(|| {
            run(black_box(&input), |m| m.iter().map(|h| h.name().len() + h.value().len()).sum())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("decode-messages");
    g.throughput(Throughput::Elements(frames as u64));
    g.sample_size(20);
    g.bench_function("frame", |b| b.iter(|| run(black_box(&input), |m| m.len())));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
