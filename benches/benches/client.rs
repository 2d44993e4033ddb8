//! The client's full drain path: bytes in 4 KiB chunks through `ClientSession::handle_input`
//! and `poll_event` until it returns `None` (decode, classify, correlate by ActionID, build the
//! event), over the generated Asterisk 22 traffic. Reports messages/s.

use std::hint::black_box;

use ami_benches::{CorpusConfig, generate};
use ami_proto::client::{ClientConfig, ClientEvent, ClientSession};
use ami_proto::time::Instant;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn drain(input: &[u8]) -> usize {
    let mut config = ClientConfig::default();
    // The corpus starts logged in (its login reply answers no action of this session).
    config.require_login = false;
    let mut session = ClientSession::new(config, Instant::from_millis(0));
    let mut n = 0;
    for chunk in input.chunks(4096) {
        session.handle_input(chunk);
        while let Some(ev) = session.poll_event() {
            n += match ev {
                ClientEvent::Event(m) | ClientEvent::Unsolicited(m) => m.len().min(1),
                _ => 1,
            };
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let corpus = generate(&CorpusConfig { seed: 2024, target_bytes: 16 << 20 });
    let frames = corpus.messages + 1; // and the banner
    assert_eq!(drain(&corpus.bytes), frames, "one event per frame");

    let mut g = c.benchmark_group("client-drain");
    g.throughput(Throughput::Elements(frames as u64));
    g.sample_size(20);
    g.bench_function("messages", |b| b.iter(|| drain(black_box(&corpus.bytes))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
