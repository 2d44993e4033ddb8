//! Framing tests. `case_N_*` tests are the framing cases of spec §9 (tricky cases).

use super::*;
use crate::message::OwnedMessage;

/// An owned record of one decoder output.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Banner(Vec<u8>),
    Msg(OwnedMessage),
    Err(FrameErrorKind, OwnedMessage),
}

impl Item {
    fn msg(&self) -> &OwnedMessage {
        match self {
            Item::Msg(m) | Item::Err(_, m) => m,
            Item::Banner(_) => panic!("banner, not a message"),
        }
    }
}

fn drain(dec: &mut Decoder, out: &mut Vec<Item>) {
    while let Some(item) = dec.next_frame() {
        out.push(match item {
            Ok(Frame::Banner(b)) => Item::Banner(b.line().to_vec()),
            Ok(Frame::Message(m)) => Item::Msg(m.to_owned_message()),
            Err(e) => Item::Err(e.kind(), e.partial().to_owned_message()),
        });
    }
}

fn decode(role: Role, input: &[u8]) -> Vec<Item> {
    let mut dec = Decoder::new(role);
    let mut out = Vec::new();
    dec.feed(input);
    drain(&mut dec, &mut out);
    // The same input one byte at a time must give the same items.
    let mut dec = Decoder::new(role);
    let mut bytewise = Vec::new();
    for b in input {
        dec.feed(core::slice::from_ref(b));
        drain(&mut dec, &mut bytewise);
    }
    assert_eq!(out, bytewise, "whole vs byte-by-byte");
    out
}

fn server(input: &[u8]) -> Vec<Item> {
    decode(Role::Server, input)
}

fn client(input: &[u8]) -> Vec<Item> {
    decode(Role::Client, input)
}

fn is_ok_msg(item: &Item) -> bool {
    matches!(item, Item::Msg(_))
}

#[test]
fn case_1_banner_is_its_own_item_on_the_client_side() {
    let items = client(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n\r\n");
    assert_eq!(items[0], Item::Banner(b"Asterisk Call Manager/11.0.0".to_vec()));
    assert_eq!(items[1].msg().get("Response"), Some(&b"Success"[..]));
    assert_eq!(items.len(), 2);
}

#[test]
fn banner_only_on_the_first_line_and_only_for_clients() {
    let items = client(b"Response: Success\r\n\r\nAsterisk Call Manager/1.0\r\n\r\n");
    assert!(items.iter().all(is_ok_msg));
    let items = server(b"Asterisk Call Manager/1.0\r\n\r\n");
    assert!(items[0].msg().as_message().header(0).unwrap().is_bare());
}

#[test]
fn banner_version_and_parse_banner() {
    let Ok(Status::Complete((n, b))) = parse_banner(b"Asterisk Call Manager/2.10.6\r\nX") else {
        panic!()
    };
    assert_eq!((n, b.version()), (30, &b"2.10.6"[..]));
    assert_eq!(parse_banner(b"Asterisk Call"), Ok(Status::Partial));
    assert_eq!(parse_banner(b"HTTP/1.1 200 OK\r\n"), Err(()));
}

#[test]
fn case_2_bare_lf_input() {
    let items = server(b"Action: Login\nUsername: admin\nSecret: s3cret\n\n");
    assert_eq!(items.len(), 1);
    let m = items[0].msg().as_message();
    assert_eq!(m.action(), Some(&b"Login"[..]));
    assert_eq!(m.get("Secret"), Some(&b"s3cret"[..]));
}

#[test]
fn case_3_stray_blank_line_is_an_empty_message_for_the_server() {
    let items = server(b"\r\n");
    assert_eq!(items.len(), 1);
    assert!(items[0].msg().as_message().is_empty());
}

#[test]
fn stray_blank_lines_are_skipped_by_the_client() {
    let items = client(b"\r\n\r\nEvent: A\r\n\r\n\r\nEvent: B\r\n\r\n");
    assert_eq!(items.len(), 2);
}

#[test]
fn case_4_actionid_on_an_empty_message() {
    let items = server(b"ActionID: 5\r\n\r\n");
    let m = items[0].msg().as_message();
    assert_eq!(m.action(), None);
    assert_eq!(m.action_id_to_echo(), Some(&b"5"[..]));
}

#[test]
fn case_5_space_before_colon_defines_no_action() {
    let items = server(b"Action : Ping\r\n\r\n");
    assert_eq!(items[0].msg().as_message().action(), None);
}

#[test]
fn case_6_names_are_case_insensitive() {
    let items = server(b"action: pInG\r\nactionid: x\r\n\r\n");
    let m = items[0].msg().as_message();
    assert_eq!(m.action(), Some(&b"pInG"[..]));
    assert_eq!(m.action_id(), Some(&b"x"[..]));
}

#[test]
fn case_7_trailing_space_stays_in_the_action_name() {
    let items = server(b"Action: Ping \r\n\r\n");
    assert_eq!(items[0].msg().as_message().action(), Some(&b"Ping "[..]));
}

#[test]
fn case_8_lone_cr_is_data() {
    let items = server(b"Action: Ping\r\r\n\r\n");
    assert_eq!(items[0].msg().as_message().action(), Some(&b"Ping\r"[..]));
    // A CR in the middle of a line too (malformed-bare-lf capture).
    let items = server(b"Action: Ping\rActionID: lf-3\r\n\r\n");
    assert_eq!(items[0].msg().as_message().action(), Some(&b"Ping\rActionID: lf-3"[..]));
}

#[test]
fn case_11_first_non_empty_action_wins() {
    let items = server(b"Action:\r\nAction: Ping\r\nAction: Logoff\r\n\r\n");
    assert_eq!(items[0].msg().as_message().action(), Some(&b"Ping"[..]));
}

#[test]
fn case_12_first_actionid_wins_even_if_empty() {
    let items = server(b"Action: Ping\r\nActionID:\r\nActionID: 9\r\n\r\n");
    assert_eq!(items[0].msg().as_message().action_id_to_echo(), None);
}

fn ping_with_x_line(content_len: usize, terminator: &[u8]) -> Vec<u8> {
    let mut v = b"Action: Ping\r\n".to_vec();
    v.extend_from_slice(b"X: ");
    v.extend(core::iter::repeat_n(b'a', content_len - 3));
    v.extend_from_slice(terminator);
    v.extend_from_slice(b"ActionID: 7\r\n\r\n");
    v
}

#[test]
fn case_20_line_of_1023_bytes_with_crlf_ends_the_message_early() {
    let items = server(&ping_with_x_line(1023, b"\r\n"));
    assert_eq!(items.len(), 2, "{items:?}");
    let Item::Err(kind, partial) = &items[0] else { panic!("{:?}", items[0]) };
    assert_eq!(*kind, FrameErrorKind::LineTooLong { limit: 1024 });
    assert_eq!(kind.asterisk_message(), "Failed to parse message: line too long");
    assert_eq!(partial.as_message().action_id_to_echo(), None);
    // The rest of the client's message is a new message without an Action.
    let m = items[1].msg().as_message();
    assert!(is_ok_msg(&items[1]));
    assert_eq!((m.action(), m.action_id_to_echo()), (None, Some(&b"7"[..])));
}

#[test]
fn case_20_line_of_1022_bytes_with_crlf_is_fine() {
    let items = server(&ping_with_x_line(1022, b"\r\n"));
    assert_eq!(items.len(), 1);
    assert!(is_ok_msg(&items[0]));
    assert_eq!(items[0].msg().as_message().action(), Some(&b"Ping"[..]));
}

#[test]
fn case_20_line_of_1023_bytes_with_bare_lf_is_fine() {
    let items = server(&ping_with_x_line(1023, b"\n"));
    assert_eq!(items.len(), 1);
    assert!(is_ok_msg(&items[0]));
}

#[test]
fn overlong_line_tail_becomes_a_header_and_first_actionid_anywhere_is_echoed() {
    // Content of 3000 bytes: Asterisk discards 1023 twice, keeps the rest as a garbage line,
    // and answers at the real blank line with the first ActionID of the message.
    let items = server(&ping_with_x_line(3000, b"\r\n"));
    assert_eq!(items.len(), 1, "{items:?}");
    let Item::Err(kind, partial) = &items[0] else { panic!() };
    assert_eq!(*kind, FrameErrorKind::LineTooLong { limit: 1024 });
    let m = partial.as_message();
    assert_eq!(m.action_id_to_echo(), Some(&b"7"[..]));
    assert_eq!(m.action(), Some(&b"Ping"[..]));
    // The garbage line is the tail: 3000 + 2 - 2 * 1023 bytes, minus its CRLF.
    assert_eq!(m.header(1).unwrap().line().len(), 3000 - 2 * 1023);
}

#[test]
fn case_21_129_lines_are_too_many_and_128_are_fine() {
    let mut v = b"Action: Ping\r\nActionID: z\r\n".to_vec();
    for _ in 0..127 {
        v.extend_from_slice(b"X: y\r\n");
    }
    v.extend_from_slice(b"\r\n");
    let items = server(&v);
    let Item::Err(kind, partial) = &items[0] else { panic!() };
    assert_eq!(*kind, FrameErrorKind::TooManyHeaders { limit: 128 });
    assert_eq!(kind.asterisk_message(), "Too many lines in message or allocation failure");
    assert_eq!(partial.as_message().len(), 128);
    assert_eq!(partial.as_message().action_id_to_echo(), Some(&b"z"[..]));

    let mut v = b"Action: Ping\r\nActionID: z\r\n".to_vec();
    for _ in 0..126 {
        v.extend_from_slice(b"X: y\r\n");
    }
    v.extend_from_slice(b"\r\n");
    let items = server(&v);
    assert!(is_ok_msg(&items[0]));
    assert_eq!(items[0].msg().as_message().len(), 128);
}

#[test]
fn actionid_after_line_128_is_not_echoed() {
    let mut v = b"Action: Ping\r\n".to_vec();
    for _ in 0..200 {
        v.extend_from_slice(b"X: y\r\n");
    }
    v.extend_from_slice(b"ActionID: late\r\n\r\nAction: Ping\r\n\r\n");
    let items = server(&v);
    assert_eq!(items.len(), 2);
    let Item::Err(_, partial) = &items[0] else { panic!() };
    assert_eq!(partial.as_message().action_id(), None);
    assert!(is_ok_msg(&items[1]), "the next message decodes normally");
}

#[test]
fn too_many_lines_and_overlong_line_leaks_line_too_long_into_the_next_message() {
    let mut v = b"Action: Ping\r\n".to_vec();
    v.extend(core::iter::repeat_n(b'a', 2000));
    v.extend_from_slice(b"\r\n");
    for _ in 0..200 {
        v.extend_from_slice(b"X: y\r\n");
    }
    v.extend_from_slice(b"\r\nAction: Ping\r\nActionID: 2\r\n\r\nAction: Ping\r\n\r\n");
    let items = server(&v);
    let kinds: Vec<_> = items
        .iter()
        .map(|i| match i {
            Item::Err(k, _) => Some(*k),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        [
            Some(FrameErrorKind::TooManyHeaders { limit: 128 }),
            Some(FrameErrorKind::LineTooLong { limit: 1024 }),
            None
        ]
    );
    assert_eq!(items[1].msg().as_message().action_id_to_echo(), Some(&b"2"[..]));
}

#[test]
fn case_22_nul_led_line_ends_the_message() {
    let items = server(b"Action: Ping\r\n\0junk\r\n");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].msg().as_message().action(), Some(&b"Ping"[..]));
}

#[test]
fn nul_cuts_server_line_content() {
    let items = server(b"Action: Ping\0Logoff\r\nActionID: 1\0\r\n\r\n");
    let m = items[0].msg().as_message();
    assert_eq!((m.action(), m.action_id()), (Some(&b"Ping"[..]), Some(&b"1"[..])));
    // The client side keeps NUL bytes: nothing from the server is lost.
    let items = client(b"Event: X\0Y\r\n\r\n");
    assert_eq!(items[0].msg().get("Event"), Some(&b"X\0Y"[..]));
}

#[test]
fn case_41_eof_mid_message_leaves_it_unprocessed() {
    let mut dec = Decoder::new(Role::Server);
    dec.feed(b"Action: Logoff\r\n");
    assert!(dec.next_frame().is_none());
    assert!(dec.is_mid_message());
    let mut dec = Decoder::new(Role::Server);
    dec.feed(b"Action: Logoff\r\n\r\n");
    assert!(matches!(dec.next_frame(), Some(Ok(Frame::Message(_)))));
    assert!(dec.next_frame().is_none());
    assert!(!dec.is_mid_message());
}

#[test]
fn whitespace_only_line_is_not_empty() {
    let items = server(b"Action: Ping\r\n \t\r\nActionID: 1\r\n\r\n");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].msg().as_message().len(), 3);
}

#[test]
fn everything_asterisk_emits_decodes() {
    let input = b"Response: Success\r\nActionID: 1\r\nMessage: Command output follows\r\n\
        Output: Channel              Location             State   Application(Data)\r\n\
        Output: \r\nOutput: key: value: more\r\nOutput:   leading\r\n\r\n\
        Event: Hangup\r\nPrivilege: call,all\r\nCause-txt: Normal Clearing\r\n\
        ChanVariable(PJSIP/100-0001): FOO=bar\r\nChanVariable: A=1\r\nChanVariable: B=2\r\n\
        CallerIDName: J\xf6rg \xff\r\n\r\n\
        Response: Success\r\nNo categories found\r\n\r\n\
        Response: Error\r\nMessage: Uniqueid length exceeds maximum of 149\n\r\n\r\n";
    let items = client(input);
    assert_eq!(items.len(), 4, "{items:?}");
    let out = items[0].msg().as_message();
    let lines: Vec<_> = out.command_output().unwrap().lines().collect();
    assert_eq!(
        lines,
        [
            &b"Channel              Location             State   Application(Data)"[..],
            b"",
            b"key: value: more",
            b"  leading"
        ]
    );
    let ev = items[1].msg().as_message();
    assert_eq!(ev.get("cause-TXT"), Some(&b"Normal Clearing"[..]));
    assert_eq!(ev.get("ChanVariable(PJSIP/100-0001)"), Some(&b"FOO=bar"[..]));
    assert_eq!(ev.get_all(b"ChanVariable").collect::<Vec<_>>(), [&b"A=1"[..], b"B=2"]);
    assert_eq!(ev.get("CallerIDName"), Some(&b"J\xf6rg \xff"[..]));
    assert!(items[2].msg().as_message().header(1).unwrap().is_bare());
    assert_eq!(items[3].msg().get("Message"), Some(&b"Uniqueid length exceeds maximum of 149"[..]));
}

#[test]
fn legacy_command_output_with_blank_lines_is_one_message() {
    let input = b"Response: Follows\r\nPrivilege: Command\r\nActionID: 9\r\n\
        Channel   State\nPJSIP/1   Up\n\nUptime: 3 days\n--END COMMAND--\r\n\r\n\
        Event: After\r\n\r\n";
    let items = client(input);
    assert_eq!(items.len(), 2, "{items:?}");
    let m = items[0].msg().as_message();
    assert_eq!(m.action_id(), Some(&b"9"[..]));
    assert_eq!(m.get("Uptime"), None, "body text is not headers");
    let out = m.command_output().unwrap();
    assert!(out.is_legacy() && out.is_success());
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines, [&b"Channel   State"[..], b"PJSIP/1   Up", b"", b"Uptime: 3 days"]);
    assert_eq!(items[1].msg().get("Event"), Some(&b"After"[..]));
}

#[test]
fn legacy_end_marker_on_the_last_output_line_and_empty_output() {
    let items =
        client(b"Response: Follows\r\nPrivilege: Command\r\nno newline--END COMMAND--\r\n\r\n");
    let lines: Vec<_> = items[0].msg().as_message().command_output().unwrap().lines().collect();
    assert_eq!(lines, [&b"no newline"[..]]);
    let items = client(b"Response: Follows\r\nPrivilege: Command\r\n--END COMMAND--\r\n\r\n");
    let out = items[0].msg().as_message();
    assert_eq!(out.command_output().unwrap().lines().count(), 0);
}

#[test]
fn both_command_forms_give_the_same_lines() {
    let modern = client(b"Response: Success\r\nMessage: Command output follows\r\nOutput: a\r\nOutput: \r\nOutput: b: c\r\n\r\n");
    let legacy =
        client(b"Response: Follows\r\nPrivilege: Command\r\na\n\nb: c\n--END COMMAND--\r\n\r\n");
    let l1: Vec<Vec<u8>> = modern[0]
        .msg()
        .as_message()
        .command_output()
        .unwrap()
        .lines()
        .map(<[u8]>::to_vec)
        .collect();
    let l2: Vec<Vec<u8>> = legacy[0]
        .msg()
        .as_message()
        .command_output()
        .unwrap()
        .lines()
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(l1, l2);
}

#[test]
fn client_limits_resynchronise_at_the_next_blank_line() {
    let limits = DecoderLimits { max_line: 64, max_headers: 4, max_message: 150 };
    let long_line = [b'x'; 500];
    let mut input = b"Event: A\r\nActionID: a1\r\nLong: ".to_vec();
    input.extend_from_slice(&long_line);
    input.extend_from_slice(b"\r\nMore: 1\r\n\r\nEvent: B\r\n\r\n");
    input.extend_from_slice(b"Event: C\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\nEvent: D\r\n\r\n");
    input.extend_from_slice(b"Event: E\r\n");
    for _ in 0..3 {
        input.extend_from_slice(b"F: 0123456789012345678901234567890123456789012345678901234\r\n");
    }
    input.extend_from_slice(b"\r\nEvent: F\r\n\r\n");
    for chunking in [input.len(), 1, 7] {
        let mut dec = Decoder::with_limits(Role::Client, limits).unwrap();
        let mut items = Vec::new();
        for chunk in input.chunks(chunking) {
            dec.feed(chunk);
            drain(&mut dec, &mut items);
            assert!(dec.buffered() <= limits.max_message + limits.max_line + chunking);
        }
        let summary: Vec<String> = items
            .iter()
            .map(|i| match i {
                Item::Err(k, m) => format!("err {k} id={:?}", m.get("ActionID")),
                other => format!("{}", String::from_utf8_lossy(other.msg().get("Event").unwrap())),
            })
            .collect();
        assert_eq!(
            summary,
            [
                "err line longer than 64 bytes id=Some([97, 49])",
                "B",
                "err more than 4 lines in one message id=None",
                "D",
                "err message larger than 150 bytes id=None",
                "F"
            ],
            "chunk size {chunking}"
        );
    }
}

#[test]
fn memory_stays_bounded_on_an_endless_line() {
    let mut dec = Decoder::new(Role::Client);
    let chunk = [b'z'; 4096];
    for _ in 0..1024 {
        dec.feed(&chunk);
        assert!(dec.next_frame().is_none());
        assert!(dec.buffered() < 2 * DecoderLimits::CLIENT.max_line + chunk.len());
    }
    dec.feed(b"\r\n\r\nEvent: Ok\r\n\r\n");
    assert!(matches!(dec.next_frame(), Some(Err(_))));
    assert!(matches!(dec.next_frame(), Some(Ok(Frame::Message(_)))));

    let mut dec = Decoder::new(Role::Server);
    for _ in 0..1024 {
        dec.feed(&chunk);
        assert!(dec.next_frame().is_none());
        assert!(dec.buffered() < 2 * 1024 + chunk.len());
    }
}

#[test]
fn memory_stays_bounded_on_endless_short_lines() {
    let mut dec = Decoder::new(Role::Server);
    let chunk = b"X: y\r\n".repeat(1000);
    for _ in 0..500 {
        dec.feed(&chunk);
        assert!(dec.next_frame().is_none());
        assert!(dec.buffered() <= chunk.len());
    }
    dec.feed(b"\r\n");
    assert!(matches!(dec.next_frame(), Some(Err(e)) if e.partial().len() == 128));
}

#[test]
fn invalid_limits_are_refused() {
    let bad = DecoderLimits { max_line: 1, ..DecoderLimits::CLIENT };
    assert_eq!(Decoder::with_limits(Role::Client, bad).unwrap_err(), InvalidLimits::MaxLine(1));
    let bad = DecoderLimits { max_headers: 0, ..DecoderLimits::CLIENT };
    assert!(Decoder::with_limits(Role::Client, bad).is_err());
}

#[test]
fn byte_at_a_time_is_linear() {
    // One 1 MB message of 64 KiB lines, fed one byte at a time: every byte is searched once.
    let mut msg = b"Response: Success\r\n".to_vec();
    while msg.len() < 1 << 20 {
        msg.extend_from_slice(b"Output: ");
        msg.extend(core::iter::repeat_n(b'o', 60_000));
        msg.extend_from_slice(b"\r\n");
    }
    msg.extend_from_slice(b"\r\n");
    let mut dec = Decoder::new(Role::Client);
    let mut frames = 0;
    for b in &msg {
        dec.feed(core::slice::from_ref(b));
        while let Some(f) = dec.next_frame() {
            assert!(f.is_ok());
            frames += 1;
        }
    }
    assert_eq!(frames, 1);
    let stats = dec.stats();
    assert_eq!(stats.bytes_fed, msg.len() as u64);
    assert!(stats.bytes_scanned <= msg.len() as u64, "{stats:?}");
    assert!(stats.bytes_moved <= msg.len() as u64, "{stats:?}");
}

#[test]
fn many_small_feeds_of_many_messages_are_linear() {
    let one = b"Event: Newstate\r\nPrivilege: call,all\r\nChannel: PJSIP/1-1\r\n\r\n";
    let stream = one.repeat(20_000);
    let mut dec = Decoder::new(Role::Client);
    let mut n = 0;
    for chunk in stream.chunks(3) {
        dec.feed(chunk);
        while let Some(Ok(_)) = dec.next_frame() {
            n += 1;
        }
    }
    assert_eq!(n, 20_000);
    let s = dec.stats();
    assert!(s.bytes_scanned <= stream.len() as u64);
    assert!(s.bytes_moved <= stream.len() as u64);
}

#[test]
fn parse_message_agrees_with_the_decoder() {
    let input = b"Response: Follows\r\nPrivilege: Command\r\na\n\nb\n--END COMMAND--\r\n\r\n\
        \r\nEvent: X\r\nA: 1\r\n\r\n";
    let items = client(input);
    let mut slots = [HeaderSlot::EMPTY; 16];
    let mut rest = &input[..];
    let mut parsed = Vec::new();
    while let Ok(Status::Complete((n, m))) = parse_message(Role::Client, rest, &mut slots) {
        parsed.push(Item::Msg(m.to_owned_message()));
        rest = &rest[n..];
    }
    assert!(rest.is_empty());
    assert_eq!(parsed, items);
}

#[test]
fn parse_message_reports_limits_with_offsets() {
    let mut slots = [HeaderSlot::EMPTY; 2];
    let err = parse_message(Role::Server, b"A: 1\r\nB: 2\r\nC: 3\r\n\r\n", &mut slots).unwrap_err();
    assert_eq!(err, ParseError { kind: ParseErrorKind::TooManyHeaders { limit: 2 }, offset: 12 });
    let mut slots = [HeaderSlot::EMPTY; 8];
    let mut long = b"Action: Ping\r\nX: ".to_vec();
    long.extend(core::iter::repeat_n(b'a', 1100));
    let err = parse_message(Role::Server, &long, &mut slots).unwrap_err();
    assert_eq!(err, ParseError { kind: ParseErrorKind::LineTooLong { limit: 1024 }, offset: 14 });
    assert_eq!(parse_message(Role::Server, b"Action: Ping\r\n", &mut slots), Ok(Status::Partial));
}

#[test]
fn error_offsets_count_from_the_start_of_the_stream() {
    let mut dec = Decoder::with_limits(
        Role::Client,
        DecoderLimits { max_line: 16, max_headers: 8, max_message: 1024 },
    )
    .unwrap();
    dec.feed(b"Event: A\r\n\r\nEvent: B\r\nX: 0123456789abcdef\r\n\r\n");
    assert!(matches!(dec.next_frame(), Some(Ok(_))));
    let Some(Err(e)) = dec.next_frame() else { panic!() };
    assert_eq!(e.offset(), 12);
}

#[test]
fn reset_starts_over_with_a_banner() {
    let mut dec = Decoder::new(Role::Client);
    dec.feed(b"Asterisk Call Manager/1.0\r\nEvent: half");
    assert!(matches!(dec.next_frame(), Some(Ok(Frame::Banner(_)))));
    dec.reset();
    dec.feed(b"Asterisk Call Manager/2.0\r\n");
    assert!(matches!(dec.next_frame(), Some(Ok(Frame::Banner(b))) if b.version() == b"2.0"));
}

#[test]
fn frame_tokens_view_the_frame_until_the_decoder_moves_on() {
    let mut dec = Decoder::new(Role::Client);
    dec.feed(b"Asterisk Call Manager/11.0.0\r\nEvent: A\r\n\r\nEvent: B\r\n\r\n");
    let banner = dec.advance().unwrap();
    assert!(matches!(dec.frame(banner), Some(Ok(Frame::Banner(_)))));
    let a = dec.advance().unwrap();
    assert!(matches!(dec.frame(a), Some(Ok(Frame::Message(m))) if m.event() == Some(b"A")));
    assert!(matches!(dec.frame(a), Some(Ok(Frame::Message(_)))), "viewing twice is fine");
    assert_eq!(dec.frame(banner), None, "a stale token views nothing");
    let b = dec.advance().unwrap();
    assert_eq!(dec.frame(a), None);
    assert!(matches!(dec.frame(b), Some(Ok(Frame::Message(m))) if m.event() == Some(b"B")));
    assert_eq!(dec.advance(), None);
    assert_eq!(dec.frame(b), None, "after advance returned None");
}

/// Name, value and bareness of a client-role line, by the rules written out byte by byte.
fn reference_header(line: &[u8]) -> (Vec<u8>, Vec<u8>, bool) {
    match line.iter().position(|&b| b == b':') {
        None => (Vec::new(), line.to_vec(), true),
        Some(i) => {
            let rest = &line[i + 1..];
            (line[..i].to_vec(), rest.strip_prefix(b" ").unwrap_or(rest).to_vec(), false)
        }
    }
}

#[test]
fn lines_and_colons_are_found_across_every_block_boundary() {
    // Lines of many lengths (some over two 64-byte blocks), colons early, late, doubled or
    // missing, CRLF and bare LF, a space after the colon or not, all shifted through every
    // offset of the first block; fed whole and in chunks that cut blocks anywhere.
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for len in [1usize, 2, 5, 17, 40, 63, 64, 65, 100, 129, 200] {
        for colon in [None, Some(0), Some(1), Some(len / 2), Some(len.saturating_sub(1))] {
            let mut l: Vec<u8> = (0..len).map(|k| b'a' + (k % 26) as u8).collect();
            if let Some(c) = colon.filter(|&c| c < len) {
                l[c] = b':';
                if c + 1 < len && len % 2 == 0 {
                    l[c + 1] = b' ';
                }
                if c + 3 < len {
                    l[c + 3] = b':';
                }
            }
            lines.push(l);
        }
    }
    for shift in 0..70 {
        let mut input = b"Asterisk Call Manager/11.0.0\r\n".to_vec();
        input.extend_from_slice(b"Event: Pad\r\nX: ");
        input.extend(core::iter::repeat_n(b'p', shift));
        input.extend_from_slice(b"\r\n\r\n");
        let mut want = vec![vec![
            (b"Event".to_vec(), b"Pad".to_vec(), false),
            (b"X".to_vec(), vec![b'p'; shift], false),
        ]];
        for (n, group) in lines.chunks(7).enumerate() {
            let mut msg = b"Event: Lines\r\n".to_vec();
            let mut fields = vec![(b"Event".to_vec(), b"Lines".to_vec(), false)];
            for (k, l) in group.iter().enumerate() {
                msg.extend_from_slice(l);
                msg.extend_from_slice(if (n + k) % 3 == 0 { b"\n" } else { b"\r\n" });
                fields.push(reference_header(l));
            }
            msg.extend_from_slice(if n % 2 == 0 { b"\r\n" } else { b"\n" });
            input.extend_from_slice(&msg);
            want.push(fields);
        }
        for chunk in [input.len(), 1, 3, 31, 64, 65, 4096] {
            let mut dec = Decoder::new(Role::Client);
            let mut got = Vec::new();
            for c in input.chunks(chunk) {
                dec.feed(c);
                while let Some(f) = dec.next_frame() {
                    match f.unwrap() {
                        Frame::Banner(_) => {}
                        Frame::Message(m) => got.push(
                            m.iter()
                                .map(|h| (h.name().to_vec(), h.value().to_vec(), h.is_bare()))
                                .collect::<Vec<_>>(),
                        ),
                    }
                }
            }
            for (g, w) in got.iter().zip(&want) {
                for (a, b) in g.iter().zip(w) {
                    assert_eq!(a, b, "shift {shift}, chunks of {chunk}");
                }
                assert_eq!(g.len(), w.len(), "shift {shift}, chunks of {chunk}");
            }
            assert_eq!(got.len(), want.len(), "shift {shift}, chunks of {chunk}");
            assert!(dec.stats().bytes_scanned <= input.len() as u64);
        }
    }
}

// Traffic from older installations, built from the protocol's rules: Asterisk 13's
// `action_command` (main/manager.c) writes `Response: Follows\r\nPrivilege: Command\r\n`, the
// ActionID if any, the CLI text exactly as the command printed it, then
// `--END COMMAND--\r\n\r\n`.

#[test]
fn legacy_output_that_begins_with_blank_lines_is_one_message() {
    let input = b"Asterisk Call Manager/1.3\r\nResponse: Follows\r\nPrivilege: Command\r\n\
        ActionID: 3\r\n\n\nName   Members\nq1     2\n--END COMMAND--\r\n\r\nEvent: After\r\n\r\n";
    let items = client(input);
    assert_eq!(items.len(), 3, "{items:?}");
    let m = items[1].msg().as_message();
    assert_eq!(m.action_id(), Some(&b"3"[..]));
    let lines: Vec<_> = m.command_output().unwrap().lines().collect();
    assert_eq!(lines, [&b""[..], b"", b"Name   Members", b"q1     2"]);
    assert_eq!(items[2].msg().get("Event"), Some(&b"After"[..]));
    // Without an ActionID the blank line follows the Privilege line directly.
    let items = client(b"Response: Follows\r\nPrivilege: Command\r\n\nx\n--END COMMAND--\r\n\r\n");
    assert_eq!(items.len(), 1);
    let lines: Vec<_> = items[0].msg().as_message().command_output().unwrap().lines().collect();
    assert_eq!(lines, [&b""[..], b"x"]);
}

#[test]
fn legacy_output_lines_lose_the_cr_before_their_lf_like_headers() {
    let items = client(
        b"Response: Follows\r\nPrivilege: Command\r\nAsterisk 13.38.3 built by x\r\n\r\n\
          Running\r\n--END COMMAND--\r\n\r\n",
    );
    let out = items[0].msg().as_message().command_output().unwrap();
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines, [&b"Asterisk 13.38.3 built by x"[..], b"", b"Running"]);
    // The raw text is kept as sent.
    assert_eq!(out.legacy_text(), Some(&b"Asterisk 13.38.3 built by x\r\n\r\nRunning\r\n"[..]));
}

#[test]
fn a_reply_with_no_header_is_a_message_of_bare_lines() {
    // Asterisk 13's Queues action prints the CLI text itself, then "\r\n\r\n".
    let items = client(b"Asterisk Call Manager/1.3\r\nNo queues have been created.\r\n\r\n\r\n");
    assert_eq!(items.len(), 2, "{items:?}");
    let m = items[1].msg().as_message();
    assert_eq!(m.kind(), crate::message::MessageKind::Unknown);
    let h = m.header(0).unwrap();
    assert!(h.is_bare());
    assert_eq!((h.name(), h.value()), (&b""[..], &b"No queues have been created."[..]));
}

#[test]
fn a_greeting_that_is_not_ami_is_reported_at_once() {
    for greeting in [&b"HTTP/1.1 200 OK\r\n"[..], b"SSH-2.0-OpenSSH_9.6\n"] {
        let mut dec = Decoder::new(Role::Client);
        dec.feed(greeting);
        let Some(Err(e)) = dec.next_frame() else { panic!("{greeting:?}: no error") };
        assert_eq!(e.kind(), FrameErrorKind::NotAmiServer);
        assert!(e.to_string().starts_with("not an AMI server"), "{e}");
        let line = e.partial().header(0).unwrap();
        assert!(line.is_bare() && greeting.starts_with(line.value()));
        assert!(dec.next_frame().is_none());
    }
    // The rest decodes as usual; a header line or a blank line first is not an error.
    let items = client(b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n");
    assert!(matches!(&items[0], Item::Err(FrameErrorKind::NotAmiServer, _)));
    assert_eq!(items[1].msg().get("Server"), Some(&b"x"[..]));
    assert!(client(b"Response: Success\r\n\r\n").iter().all(is_ok_msg));
    assert!(client(b"\r\nResponse: Success\r\n\r\n").iter().all(is_ok_msg));
    // The server role has no banner to expect.
    assert!(server(b"HTTP/1.1 200 OK\r\n\r\n").iter().all(is_ok_msg));
}
