//! Property tests: any server bytes and any sequence of operations never panic, and every
//! accepted action gets exactly one final event.

use std::collections::BTreeMap;

use proptest::collection::vec;
use proptest::prelude::*;

use super::tests::{Ev, actions, drain};
use super::*;

#[derive(Clone, Debug)]
enum Op {
    Input(Vec<u8>),
    /// The same bytes in two reads.
    InputSplit(Vec<u8>, usize),
    Login(bool),
    Send(u8, Option<u8>, Option<u16>),
    Logoff,
    Advance(u32),
    Drain,
    Flush(usize),
    FlushAll,
    Eof,
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), (1..8u8).prop_map(|n| format!("c-{n}")), Just("x".into())]
}

fn response() -> impl Strategy<Value = Vec<u8>> {
    let status = prop_oneof![Just("Success"), Just("Error"), Just("Goodbye"), Just("Follows")];
    (id(), status, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(id, status, list, challenge, output)| {
            let mut m = format!("Response: {status}\r\n");
            if !id.is_empty() {
                m += &format!("ActionID: {id}\r\n");
            }
            if status == "Follows" {
                return (m + "some text\n\n--END COMMAND--\r\n\r\n").into_bytes();
            }
            if list {
                m += "EventList: start\r\n";
            }
            if challenge {
                m += "Challenge: 123456\r\n";
            }
            if output {
                m += "Message: Command output follows\r\nOutput: x\r\n";
            }
            (m + "\r\n").into_bytes()
        },
    )
}

fn event() -> impl Strategy<Value = Vec<u8>> {
    let name = prop_oneof![
        Just("Status"),
        Just("StatusComplete"),
        Just("OriginateResponse"),
        Just("Hangup")
    ];
    (id(), name, any::<bool>()).prop_map(|(id, name, complete)| {
        let mut m = format!("Event: {name}\r\n");
        if !id.is_empty() {
            m += &format!("ActionID: {id}\r\n");
        }
        if complete {
            m += "EventList: Complete\r\nListItems: 1\r\n";
        }
        (m + "\r\n").into_bytes()
    })
}

fn server_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => vec(any::<u8>(), 0..48),
        1 => vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b':'), Just(b'a'), Just(b' ')], 0..24),
        4 => response(),
        3 => event(),
        1 => Just(b"Asterisk Call Manager/11.0.0\r\n".to_vec()),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => server_bytes().prop_map(Op::Input),
        2 => (server_bytes(), any::<usize>()).prop_map(|(b, n)| Op::InputSplit(b, n)),
        2 => any::<bool>().prop_map(Op::Login),
        6 => (0..10u8, proptest::option::of(0..10u8), proptest::option::of(any::<u16>()))
            .prop_map(|(a, i, t)| Op::Send(a, i, t)),
        1 => Just(Op::Logoff),
        2 => (0..40_000u32).prop_map(Op::Advance),
        3 => Just(Op::Drain),
        2 => any::<usize>().prop_map(Op::Flush),
        1 => Just(Op::Eof),
    ]
}

fn action(kind: u8, id: Option<u8>) -> Action {
    let mut a = match kind {
        0 => Action::new("Ping"),
        1 => Action::new("Status"),
        2 => Action::new("Command").with("Command", "core show uptime"),
        3 => Action::new("Originate").with("Channel", "Local/1@x").with("Async", "true"),
        4 => Action::new("Originate").with("Channel", "Local/1@x"),
        5 => Action::new("UserEvent").with("UserEvent", "x"),
        6 => Action::new("Login").with("Username", "admin").with("Secret", "s"),
        7 => Action::new("Logoff"),
        8 => Action::new("Challenge").with("AuthType", "MD5"),
        _ => Action::new("Bad").with("Value", "a\r\nb"),
    };
    if let Some(i) = id {
        a.push("ActionID", if i < 8 { format!("c-{i}") } else { String::new() });
    }
    a
}

fn config(seed: u8) -> ClientConfig {
    let mut c = ClientConfig::default().with_action_id_prefix("c-");
    if seed & 1 != 0 {
        c.keepalive =
            Some(Keepalive { interval: Duration::from_secs(5), timeout: Duration::from_secs(2) });
    }
    if seed & 2 != 0 {
        c.decoder_limits = DecoderLimits { max_line: 40, max_headers: 4, max_message: 120 };
    }
    if seed & 4 != 0 {
        c.max_in_flight = 3;
        c.max_transmit = 200;
    }
    if seed & 8 != 0 {
        c.require_login = false;
    }
    if seed & 16 != 0 {
        c.action_timeout = None;
    }
    c
}

/// Runs the operations, then EOF; returns the events and the accepted ActionIDs.
fn run(seed: u8, ops: &[Op]) -> (Vec<Ev>, Vec<String>, Vec<u8>) {
    let mut now = 0u64;
    let mut s = ClientSession::new(config(seed), Instant::from_millis(now));
    let mut events = Vec::new();
    let mut accepted = Vec::new();
    let mut transmitted = Vec::new();
    let keep = |r: Result<ActionId, LocalError>, accepted: &mut Vec<String>| {
        if let Ok(id) = r {
            accepted.push(id.to_string());
        }
    };
    for op in ops {
        match op {
            Op::Input(b) => s.handle_input(b),
            Op::InputSplit(b, n) => {
                let n = if b.is_empty() { 0 } else { n % b.len() };
                s.handle_input(&b[..n]);
                s.handle_input(&b[n..]);
            }
            Op::Login(md5) => {
                let method = if *md5 { LoginMethod::Md5 } else { LoginMethod::Plain };
                keep(s.login("admin", "s3cret", method), &mut accepted);
            }
            Op::Send(kind, id, timeout) => {
                let a = action(*kind, *id);
                let now = Instant::from_millis(now);
                let r = match timeout {
                    None => s.send_action(&a, now),
                    Some(t) => s.send_action_with_timeout(
                        &a,
                        now,
                        Some(Duration::from_millis(u64::from(*t))),
                    ),
                };
                keep(r, &mut accepted);
            }
            Op::Logoff => keep(s.logoff(), &mut accepted),
            Op::Advance(ms) => {
                now += u64::from(*ms);
                s.handle_timeout(Instant::from_millis(now));
            }
            Op::Drain => events.extend(drain(&mut s)),
            Op::Flush(n) => {
                let out = s.poll_transmit();
                let n = if out.is_empty() { 0 } else { n % (out.len() + 1) };
                transmitted.extend_from_slice(&out[..n]);
                s.consume_transmit(n);
            }
            Op::FlushAll => {
                transmitted.extend_from_slice(s.poll_transmit());
                s.consume_transmit(usize::MAX);
            }
            Op::Eof => s.handle_eof(),
        }
        if s.poll_timeout().is_some() {
            assert_ne!(s.state(), ClientState::Closed);
        }
    }
    s.handle_eof();
    events.extend(drain(&mut s));
    assert_eq!(s.state(), ClientState::Closed);
    assert!(s.poll_event().is_none());
    assert_eq!(s.poll_timeout(), None);
    (events, accepted, transmitted)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_accepted_action_gets_exactly_one_final_event(
        seed in any::<u8>(),
        ops in vec(op(), 0..60),
    ) {
        let (events, accepted, _) = run(seed, &ops);
        let mut finals: BTreeMap<&str, usize> = BTreeMap::new();
        for id in events.iter().filter_map(Ev::final_id) {
            *finals.entry(id).or_default() += 1;
        }
        let mut sent: BTreeMap<&str, usize> = BTreeMap::new();
        for id in &accepted {
            *sent.entry(id).or_default() += 1;
        }
        prop_assert_eq!(finals, sent);
        prop_assert_eq!(events.iter().filter(|e| matches!(e, Ev::Closed(..))).count(), 1);
        prop_assert!(matches!(events.last(), Some(Ev::Closed(..))));
    }

    #[test]
    fn arbitrary_server_bytes_never_panic(
        seed in any::<u8>(),
        chunks in vec(vec(any::<u8>(), 0..200), 0..20),
    ) {
        let mut s = ClientSession::new(config(seed), Instant::from_millis(0));
        let _ = s.login("admin", "s3cret", LoginMethod::Md5);
        for (i, c) in chunks.iter().enumerate() {
            s.handle_input(c);
            if i % 3 == 0 {
                drain(&mut s);
            }
            s.handle_timeout(Instant::from_millis(i as u64 * 7_000));
        }
        s.handle_eof();
        let events = drain(&mut s);
        prop_assert!(matches!(events.last(), Some(Ev::Closed(..))));
    }

    #[test]
    fn what_is_transmitted_is_whole_actions(seed in any::<u8>(), ops in vec(op(), 0..60)) {
        let mut ops = ops;
        ops.push(Op::FlushAll);
        // Everything flushed before the close is a sequence of complete, decodable actions,
        // unless the session was closed mid-way (then the rest was dropped on purpose).
        let (events, _, transmitted) = run(seed, &ops);
        let closed_early = events.iter().any(|e| matches!(e, Ev::Closed(CloseReason::KeepaliveTimeout, _)))
            || ops.iter().any(|o| matches!(o, Op::Eof));
        if !closed_early {
            let n = actions(&transmitted).len();
            prop_assert!(n > 0 || transmitted.is_empty());
        }
    }
}
