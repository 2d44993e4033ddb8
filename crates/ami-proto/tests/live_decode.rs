//! The decoder on a real Asterisk 22 session (tests/live through ami-testkit): the bytes one
//! client received during a real call — banner, login, an Originate with its ~40 events (CEL
//! included), a ListCommands answer, Command output — decoded whole, byte by byte and in
//! random chunks give the same frames, and those frames are what a naive split of the same
//! bytes gives (Asterisk 22 writes plain CRLF `Name: value` lines).

use ami_proto::{Decoder, Frame, Role};
use ami_testkit::{Asterisk, NaiveLine, naive_decode, record_call};

/// A decoded frame, owned: the banner line, or a message's lines as a naive reader sees them.
#[derive(Debug, PartialEq, Eq)]
enum Item {
    Banner(Vec<u8>),
    Message(Vec<NaiveLine>),
}

fn drain(d: &mut Decoder, out: &mut Vec<Item>) {
    while let Some(frame) = d.next_frame() {
        match frame {
            Ok(Frame::Banner(b)) => out.push(Item::Banner(b.line().to_vec())),
            Ok(Frame::Message(m)) => out.push(Item::Message(
                m.iter()
                    .map(|h| ((!h.is_bare()).then(|| h.name().to_vec()), h.value().to_vec()))
                    .collect(),
            )),
            Err(e) => panic!("Asterisk's own output broke a limit: {e}"),
        }
    }
}

fn decode<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Item> {
    let mut d = Decoder::new(Role::Client);
    let mut out = Vec::new();
    for c in chunks {
        d.feed(c);
        drain(&mut d, &mut out);
    }
    assert!(!d.is_mid_message(), "the capture ends between messages");
    out
}

/// Split points from a SplitMix64 stream: chunks of 1 to `max` bytes.
fn random_chunks(bytes: &[u8], seed: u64, max: u64) -> Vec<&[u8]> {
    let mut state = seed;
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let n = usize::try_from(1 + z % max).unwrap_or(1).min(rest.len());
        let (a, b) = rest.split_at(n);
        out.push(a);
        rest = b;
    }
    out
}

#[test]
fn a_real_call_decodes_the_same_in_any_chunks_and_as_a_naive_split() {
    let capture = {
        let ast = Asterisk::start();
        record_call(&ast).expect("record a call")
    };
    let whole = decode([capture.as_slice()]);

    // What was recorded: the banner, then dozens of messages of every shape asked for.
    let (banner, messages) = naive_decode(&capture);
    let mut naive = vec![Item::Banner(banner)];
    naive.extend(messages.into_iter().map(Item::Message));
    let events: Vec<&[u8]> = whole
        .iter()
        .filter_map(|i| match i {
            Item::Message(lines) => lines
                .first()
                .filter(|(n, _)| n.as_deref() == Some(b"Event"))
                .map(|(_, v)| v.as_slice()),
            Item::Banner(_) => None,
        })
        .collect();
    assert!(events.len() >= 30, "{} events: {events:?}", events.len());
    for name in [&b"Newchannel"[..], b"VarSet", b"UserEvent", b"CEL", b"Hangup", b"Cdr"] {
        assert!(events.contains(&name), "no {}", String::from_utf8_lossy(name));
    }
    let longest = whole
        .iter()
        .map(|i| match i {
            Item::Message(lines) => lines.len(),
            Item::Banner(_) => 0,
        })
        .max();
    assert!(longest > Some(100), "ListCommands lists well over 100 actions: {longest:?}");

    // The decoder agrees with the naive split of the same bytes, line for line.
    assert_eq!(whole.len(), naive.len());
    for (i, (d, n)) in whole.iter().zip(&naive).enumerate() {
        assert_eq!(d, n, "frame {i}");
    }

    // And with itself under any chunking.
    assert_eq!(decode(capture.chunks(1)), whole, "byte by byte");
    for seed in 1..=8 {
        for max in [7, 97, 1500, 70_000] {
            assert_eq!(
                decode(random_chunks(&capture, seed, max)),
                whole,
                "random chunks of 1..={max} bytes, seed {seed}"
            );
        }
    }
}
