//! The checks behind each fuzz target, as plain functions so that stable Rust can replay the
//! seeds and crash artifacts through them (`cargo test` in this folder).

use ami_proto::{Decoder, DecoderLimits, Frame, HeaderSlot, Role, Status, parse_message};

/// An owned copy of what a decoder produced, for comparisons.
#[derive(Debug, PartialEq, Eq)]
enum Item {
    Banner(Vec<u8>),
    Msg(Vec<(Vec<u8>, Vec<u8>, bool)>),
    Err(String),
}

fn drain(dec: &mut Decoder, out: &mut Vec<Item>) {
    while let Some(f) = dec.next_frame() {
        out.push(match f {
            Ok(Frame::Banner(b)) => Item::Banner(b.line().to_vec()),
            Ok(Frame::Message(m)) => Item::Msg(
                m.iter().map(|h| (h.name().to_vec(), h.value().to_vec(), h.is_bare())).collect(),
            ),
            Err(e) => Item::Err(e.kind().to_string()),
        });
    }
}

/// `decode`: the first byte picks the role and a chunk size; the rest is fed whole and in
/// chunks. No panic, both feeds agree, and the buffer stays within the limits.
pub fn decode(data: &[u8]) {
    let Some((&ctl, input)) = data.split_first() else { return };
    let role = if ctl & 1 == 0 { Role::Client } else { Role::Server };
    let limits = DecoderLimits { max_line: 96, max_headers: 16, max_message: 512 };
    let chunk = 1 + (ctl as usize >> 1) % 61;

    let mut whole = Decoder::with_limits(role, limits).expect("valid limits");
    let mut a = Vec::new();
    whole.feed(input);
    drain(&mut whole, &mut a);

    let mut chunked = Decoder::with_limits(role, limits).expect("valid limits");
    let mut b = Vec::new();
    for c in input.chunks(chunk) {
        chunked.feed(c);
        drain(&mut chunked, &mut b);
        assert!(chunked.buffered() <= limits.max_message + limits.max_line + chunk);
    }
    assert_eq!(a, b, "whole and chunked feeds disagree");
    let s = chunked.stats();
    assert!(s.bytes_scanned <= input.len() as u64 && s.bytes_moved <= input.len() as u64);
}

/// `parse_message`: never panics; every message it completes, the streaming decoder (default
/// limits, same role) produces identically.
pub fn parse(data: &[u8]) {
    let Some((&ctl, input)) = data.split_first() else { return };
    let role = if ctl & 1 == 0 { Role::Client } else { Role::Server };
    let mut slots = [HeaderSlot::EMPTY; 256];
    let mut parsed = Vec::new();
    let mut rest = input;
    while let Ok(Status::Complete((n, m))) = parse_message(role, rest, &mut slots) {
        assert!(n > 0 && n <= rest.len());
        parsed.push(Item::Msg(
            m.iter().map(|h| (h.name().to_vec(), h.value().to_vec(), h.is_bare())).collect(),
        ));
        rest = &rest[n..];
    }
    let consumed = input.len() - rest.len();
    let mut dec = Decoder::new(role);
    if role == Role::Client {
        // parse_message does not recognise banners; make sure the decoder sees none either.
        dec.feed(b"\r\n");
    }
    dec.feed(&input[..consumed]);
    let mut decoded = Vec::new();
    drain(&mut dec, &mut decoded);
    decoded.retain(|i| !matches!(i, Item::Banner(_)));
    assert_eq!(parsed, decoded);
}
