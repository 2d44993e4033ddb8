//! The C API's all-headers-at-once path (`ami_decoder_headers`) on a real Asterisk 22 session
//! (tests/live through ami-testkit): the bytes one client received during a real call, fed
//! through `ami_decoder_feed` in random chunks, give for every message the array of lines the
//! Rust `Decoder` gives for the whole capture, and each element is what `ami_decoder_header`
//! returns for its index. Called from Rust exactly as C calls it.

use core::ptr;

use ami::{
    ami_bytes, ami_decoder, ami_decoder_feed, ami_decoder_free, ami_decoder_header,
    ami_decoder_headers, ami_decoder_new, ami_decoder_next, ami_frame_kind, ami_header, ami_result,
    ami_role,
};
use ami_proto::{Decoder, Frame, Role};
use ami_testkit::{Asterisk, NaiveLine, record_call};

fn bytes<'a>(b: ami_bytes) -> &'a [u8] {
    // SAFETY: views come from libami (never NULL) and are read before the next non-const call.
    unsafe { core::slice::from_raw_parts(b.data, b.len) }
}

/// A message's lines as `(name, value)`, `None` for a bare line.
fn lines_of(headers: &[ami_header]) -> Vec<NaiveLine> {
    headers
        .iter()
        .map(|h| ((!h.bare).then(|| bytes(h.name).to_vec()), bytes(h.value).to_vec()))
        .collect()
}

/// Every message of `capture` as the Rust decoder gives it, fed whole.
fn rust_messages(capture: &[u8]) -> Vec<Vec<NaiveLine>> {
    let mut d = Decoder::new(Role::Client);
    d.feed(capture);
    let mut out = Vec::new();
    while let Some(frame) = d.next_frame() {
        match frame {
            Ok(Frame::Banner(_)) => {}
            Ok(Frame::Message(m)) => out.push(
                m.iter()
                    .map(|h| ((!h.is_bare()).then(|| h.name().to_vec()), h.value().to_vec()))
                    .collect(),
            ),
            Err(e) => panic!("Asterisk's own output broke a limit: {e}"),
        }
    }
    out
}

/// Every message of `capture` read through `ami_decoder_headers`, fed in chunks of 1 to
/// `max` bytes (SplitMix64 from `seed`); each array is checked against `ami_decoder_header`.
fn c_messages(capture: &[u8], seed: u64, max: u64) -> Vec<Vec<NaiveLine>> {
    let mut d: *mut ami_decoder = ptr::null_mut();
    assert_eq!(
        ami_decoder_new(ami_role::AMI_ROLE_CLIENT as u32, ptr::null(), &mut d),
        ami_result::AMI_RESULT_OK
    );
    let mut out = Vec::new();
    let mut state = seed;
    let mut at = 0;
    while at < capture.len() {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let n = usize::try_from(1 + z % max).unwrap_or(1).min(capture.len() - at);
        let chunk = &capture[at..at + n];
        assert_eq!(ami_decoder_feed(d, chunk.as_ptr(), n), ami_result::AMI_RESULT_OK);
        at += n;
        loop {
            let mut kind = ami_frame_kind::AMI_FRAME_NONE;
            assert_eq!(ami_decoder_next(d, &mut kind), ami_result::AMI_RESULT_OK);
            match kind {
                ami_frame_kind::AMI_FRAME_NONE => break,
                ami_frame_kind::AMI_FRAME_BANNER => continue,
                ami_frame_kind::AMI_FRAME_ERROR => panic!("Asterisk's own output broke a limit"),
                ami_frame_kind::AMI_FRAME_MESSAGE => {}
            }
            let mut h: *const ami_header = ptr::null();
            let mut count = 0;
            assert_eq!(ami_decoder_headers(d, &mut h, &mut count), ami_result::AMI_RESULT_OK);
            assert!(!h.is_null());
            // SAFETY: libami wrote a pointer to `count` headers, valid until the next non-const
            // call on `d`; only const calls are made while `all` is used.
            let all = unsafe { core::slice::from_raw_parts(h, count) };
            for (i, a) in all.iter().enumerate() {
                let mut one = ami_header { name: a.value, value: a.name, bare: !a.bare };
                assert_eq!(ami_decoder_header(d, i, &mut one), ami_result::AMI_RESULT_OK);
                assert_eq!(
                    (bytes(one.name), bytes(one.value), one.bare),
                    (bytes(a.name), bytes(a.value), a.bare),
                    "line {i}"
                );
            }
            out.push(lines_of(all));
        }
    }
    ami_decoder_free(d);
    out
}

#[test]
fn a_real_call_read_through_ami_decoder_headers_equals_the_rust_decoder() {
    let capture = {
        let ast = Asterisk::start();
        record_call(&ast).expect("record a call")
    };
    let expected = rust_messages(&capture);
    let events = expected
        .iter()
        .filter(|m| m.first().is_some_and(|(n, _)| n.as_deref() == Some(b"Event")))
        .count();
    assert!(events >= 30, "{events} events in {} messages", expected.len());
    for seed in 1..=4 {
        for max in [1, 61, 1500, 70_000] {
            let got = c_messages(&capture, seed, max);
            assert_eq!(got.len(), expected.len(), "seed {seed}, chunks of 1..={max}");
            for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
                assert_eq!(g, e, "message {i}, seed {seed}, chunks of 1..={max}");
            }
        }
    }
}
