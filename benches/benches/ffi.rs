//! Decode throughput through the C API (`ami_decoder_*`, the functions `libami` exports) against
//! the Rust API, in the same run, over the generated Asterisk 22 traffic in 4 KiB chunks. Both
//! read each message's header count, so both do feed + frame + header split.

use std::hint::black_box;

use ami::{
    ami_decoder, ami_decoder_feed, ami_decoder_free, ami_decoder_header_count, ami_decoder_new,
    ami_decoder_next, ami_frame_kind, ami_result, ami_role,
};
use ami_benches::{CorpusConfig, generate};
use ami_proto::{Decoder, Frame, Role};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CHUNK: usize = 4096;

fn rust(input: &[u8]) -> usize {
    let mut dec = Decoder::new(Role::Client);
    let mut lines = 0;
    for chunk in input.chunks(CHUNK) {
        dec.feed(chunk);
        while let Some(f) = dec.next_frame() {
            if let Ok(Frame::Message(m)) = f {
                lines += m.len();
            }
        }
    }
    lines
}

fn c_api(input: &[u8]) -> usize {
    let mut dec: *mut ami_decoder = std::ptr::null_mut();
    let ok = ami_decoder_new(ami_role::AMI_ROLE_CLIENT as u32, std::ptr::null(), &mut dec);
    assert_eq!(ok, ami_result::AMI_RESULT_OK);
    let mut lines = 0;
    for chunk in input.chunks(CHUNK) {
        assert_eq!(ami_decoder_feed(dec, chunk.as_ptr(), chunk.len()), ami_result::AMI_RESULT_OK);
        loop {
            let mut kind = ami_frame_kind::AMI_FRAME_NONE;
            assert_eq!(ami_decoder_next(dec, &mut kind), ami_result::AMI_RESULT_OK);
            match kind {
                ami_frame_kind::AMI_FRAME_NONE => break,
                ami_frame_kind::AMI_FRAME_MESSAGE => {
                    let mut n = 0;
                    ami_decoder_header_count(dec, &mut n);
                    lines += n;
                }
                _ => {}
            }
        }
    }
    ami_decoder_free(dec);
    lines
}

fn bench(c: &mut Criterion) {
    let corpus = generate(&CorpusConfig { seed: 2024, target_bytes: 16 << 20 });
    let input = corpus.bytes;
    assert_eq!(rust(&input), c_api(&input), "both paths see the same lines");

    let mut g = c.benchmark_group("decode-rust-vs-c-api");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.sample_size(20);
    g.bench_function("rust", |b| b.iter(|| rust(black_box(&input))));
    g.bench_function("c-api", |b| b.iter(|| c_api(black_box(&input))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
