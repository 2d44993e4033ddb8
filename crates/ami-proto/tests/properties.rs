//! Property tests of the codec: round trips, arbitrary input, split feeds.

use ami_proto::encode::{Action, Event, Response};
use ami_proto::{
    Decoder, DecoderLimits, Frame, HeaderSlot, Message, OwnedMessage, Role, Status, parse_message,
};
use proptest::prelude::*;

/// Header names the encoder accepts: no CR/LF/NUL/colon, no blank at either end.
fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::string::string_regex("[A-Za-z][A-Za-z0-9()/._-]{0,20}")
            .unwrap()
            .prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 1..12).prop_filter_map("valid name", |mut v| {
            v.retain(|b| !matches!(b, b'\r' | b'\n' | 0 | b':'));
            let ok = !v.is_empty()
                && !(0x01..=0x20).contains(&v[0])
                && !(0x01..=0x20).contains(v.last().unwrap());
            ok.then_some(v)
        }),
    ]
}

/// Values without CR/LF/NUL (any other byte, non-UTF-8 included).
fn value() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..40).prop_map(|mut v| {
        v.retain(|b| !matches!(b, b'\r' | b'\n' | 0));
        v
    })
}

fn fields() -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
    proptest::collection::vec((name(), value()), 0..12)
}

fn decode_one(role: Role, bytes: &[u8]) -> OwnedMessage {
    let mut dec = Decoder::new(role);
    dec.feed(bytes);
    let m = match dec.next_frame() {
        Some(Ok(Frame::Message(m))) => m.to_owned_message(),
        other => panic!("expected one message, got {other:?}"),
    };
    assert!(dec.next_frame().is_none());
    m
}

fn assert_fields(m: Message<'_>, first: (&[u8], &[u8]), fields: &[(Vec<u8>, Vec<u8>)]) {
    let got: Vec<(Vec<u8>, Vec<u8>)> =
        m.iter().map(|h| (h.name().to_vec(), h.value().to_vec())).collect();
    let mut want = vec![(first.0.to_vec(), first.1.to_vec())];
    want.extend(fields.iter().cloned());
    assert_eq!(got, want);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Actions are read by servers: decode(encode(action)) == action under the server rule.
    #[test]
    fn action_round_trips(n in name(), fs in fields()) {
        let mut a = Action::new(n.clone());
        for (k, v) in &fs {
            a.push(k.clone(), v.clone());
        }
        match a.to_bytes() {
            Ok(bytes) => {
                let m = decode_one(Role::Server, &bytes);
                assert_fields(m.as_message(), (b"Action", &n), &fs);
            }
            // Refused only for values a server would alter (leading blanks).
            Err(e) => prop_assert_eq!(e.kind, ami_proto::encode::EncodeErrorKind::LeadingBlankInValue),
        }
    }

    /// Responses and events are read by clients: the round trip is exact for every valid value.
    #[test]
    fn response_and_event_round_trip(n in value(), fs in fields(), event in any::<bool>()) {
        let bytes = if event {
            let mut e = Event::new(n.clone());
            for (k, v) in &fs { e.push(k.clone(), v.clone()); }
            e.to_bytes().unwrap()
        } else {
            let mut r = Response::new(n.clone());
            for (k, v) in &fs { r.push(k.clone(), v.clone()); }
            r.to_bytes().unwrap()
        };
        // A banner-looking first line would be taken as a banner; decode past a blank line.
        let mut framed = b"\r\n".to_vec();
        framed.extend_from_slice(&bytes);
        let m = decode_one(Role::Client, &framed);
        let first: &[u8] = if event { b"Event" } else { b"Response" };
        assert_fields(m.as_message(), (first, &n), &fs);
    }

    /// The encoder never emits CR, LF or NUL inside a line, whatever it is given.
    #[test]
    fn encoder_never_injects(n in proptest::collection::vec(any::<u8>(), 0..10),
                             fs in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..10),
                                                              proptest::collection::vec(any::<u8>(), 0..10)), 0..6)) {
        let mut a = Action::new(n);
        for (k, v) in fs { a.push(k, v); }
        if let Ok(bytes) = a.to_bytes() {
            prop_assert!(!bytes.contains(&0));
            let body = &bytes[..bytes.len() - 2];
            for line in body.split(|&b| b == b'\n') {
                if line.is_empty() { continue; }
                prop_assert!(line.ends_with(b"\r"));
                prop_assert!(!line[..line.len() - 1].contains(&b'\r'));
            }
            // Exactly one message, with exactly the fields given.
            let m = decode_one(Role::Server, &bytes);
            prop_assert_eq!(m.as_message().len(), a.fields.len() + 1);
        }
    }

    /// Arbitrary bytes never panic, in either role, with tight limits, in any chunking; the
    /// whole feed and a two-part feed agree.
    #[test]
    fn arbitrary_bytes_whole_equals_split(bytes in proptest::collection::vec(
            prop_oneof![any::<u8>(), Just(b'\n'), Just(b'\r'), Just(b':')], 0..600),
            split in any::<prop::sample::Index>(), server in any::<bool>()) {
        let role = if server { Role::Server } else { Role::Client };
        let limits = DecoderLimits { max_line: 40, max_headers: 6, max_message: 200 };
        let run = |parts: &[&[u8]]| {
            let mut dec = Decoder::with_limits(role, limits).unwrap();
            let mut out = Vec::new();
            for p in parts {
                dec.feed(p);
                while let Some(f) = dec.next_frame() {
                    out.push(match f {
                        Ok(Frame::Banner(b)) => format!("banner {:?}", b.line()),
                        Ok(Frame::Message(m)) => format!("{m:?}"),
                        Err(e) => format!("error {} {:?}", e.kind(), e.partial()),
                    });
                }
            }
            out
        };
        let at = split.index(bytes.len() + 1);
        let whole = run(&[&bytes]);
        let parts = run(&[&bytes[..at], &bytes[at..]]);
        prop_assert_eq!(whole, parts);
    }

    /// A valid message fed in two parts equals the message fed whole, and parse_message agrees.
    #[test]
    fn message_in_two_parts_equals_whole(fs in fields(), split in any::<prop::sample::Index>()) {
        let mut e = Event::new("Test");
        for (k, v) in &fs { e.push(k.clone(), v.clone()); }
        let bytes = e.to_bytes().unwrap();
        let at = split.index(bytes.len() + 1);
        let mut dec = Decoder::new(Role::Client);
        let mut got = Vec::new();
        for part in [&bytes[..at], &bytes[at..]] {
            dec.feed(part);
            while let Some(f) = dec.next_frame() {
                match f {
                    Ok(Frame::Message(m)) => got.push(m.to_owned_message()),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        prop_assert_eq!(got.len(), 1);
        let m = got[0].as_message();
        let whole = decode_one(Role::Client, &bytes);
        prop_assert_eq!(m, whole.as_message());
        let mut slots = [HeaderSlot::EMPTY; 16];
        let Ok(Status::Complete((n, p))) = parse_message(Role::Client, &bytes, &mut slots) else {
            panic!("parse_message did not complete")
        };
        prop_assert_eq!(n, bytes.len());
        prop_assert_eq!(p, whole.as_message());
    }
}
