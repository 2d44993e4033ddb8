//! The checks behind each fuzz target, as plain functions so that stable Rust can replay the
//! seeds and crash artifacts through them (`cargo test` in this folder).
//!
//! Input formats (seeds in `seeds/<target>/` follow them):
//!
//! * `decode`, `parse_message`: a control byte (bit 0: role; the rest: chunk size), then wire
//!   bytes.
//! * `roundtrip`: a kind byte (`% 3`: action, response, event), then [`input::SEP`]-separated
//!   tokens: the first line's value, then name/value pairs.
//! * `client_session`, `server_session`: operation programs, see [`client`] and [`server`].
//! * `config`: manager.conf text.
//! * `config_edit`: manager.conf text, [`input::SEP`], then an edit program (see [`edit`]).
//! * `perm`: tokens `read value`, `event mask value`, 4 bytes of a mask.
//! * `acl`: tokens `key`, `value` (repeated), then the peer address (text or 4/16 raw bytes).
//! * `filter`: tokens `event name`, `event body`, then `key`, `value` pairs.

pub mod client;
pub mod edit;
pub mod input;
pub mod oracle;
pub mod server;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ami_proto::acl::{Acl, AclList, NamedAcls};
use ami_proto::config::{ConfigOptions, MemoryResolver, parse_acl_conf, parse_manager_conf};
use ami_proto::encode::{self, Action, Event, Response};
use ami_proto::filter::{EventFilter, FilterSet};
use ami_proto::perm::{
    EventMask, Privilege, Strictness, may_receive, parse_event_mask, parse_perm,
};
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

/// Everything a decoder fed `input` in pieces of `sizes` (cycled) produced, as oracle items,
/// with its final stats. Asserts the buffer bound after every feed.
fn decode_chunked(
    role: Role,
    limits: DecoderLimits,
    input: &[u8],
    sizes: &[usize],
) -> (Vec<oracle::Item>, ami_proto::DecoderStats) {
    let mut dec = Decoder::with_limits(role, limits).expect("valid limits");
    let mut items = Vec::new();
    let mut rest = input;
    let largest = sizes.iter().copied().max().unwrap_or(1);
    for &n in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        dec.feed(chunk);
        while let Some(f) = dec.next_frame() {
            items.push(owned(f));
        }
        assert!(dec.buffered() <= limits.max_message + limits.max_line + largest);
    }
    (items, dec.stats())
}

fn lines(m: ami_proto::Message<'_>) -> Vec<oracle::Line> {
    m.iter().map(|h| (h.name().to_vec(), h.value().to_vec(), h.is_bare())).collect()
}

fn owned(f: Result<Frame<'_>, ami_proto::FrameError<'_>>) -> oracle::Item {
    match f {
        Ok(Frame::Banner(b)) => oracle::Item::Banner(b.line().to_vec()),
        Ok(Frame::Message(m)) => oracle::Item::Msg(
            lines(m),
            m.command_output().and_then(|o| o.legacy_text()).map(<[u8]>::to_vec),
        ),
        Err(e) => oracle::Item::Err(e.kind(), lines(e.partial())),
    }
}

/// `decode`: the first byte picks the role (bit 0), the limits (bit 7: the role's defaults, else
/// tiny ones that every block comes near) and a chunk size; the rest is fed whole, in chunks of
/// that size, and in a cycle of sizes around the 64-byte block. No panic; every feeding gives
/// exactly what the old line-at-a-time framer ([`oracle`]) gives for the whole input; the buffer
/// stays within the limits; no byte is searched twice.
pub fn decode(data: &[u8]) {
    let Some((&ctl, input)) = data.split_first() else { return };
    let role = if ctl & 1 == 0 { Role::Client } else { Role::Server };
    let limits = if ctl & 0x80 == 0 {
        DecoderLimits { max_line: 96, max_headers: 16, max_message: 512 }
    } else {
        DecoderLimits::for_role(role)
    };
    let chunk = 1 + ((ctl as usize >> 1) & 0x3f) % 61;

    let mut oracle = oracle::Oracle::new(role, limits);
    oracle.feed(input);
    let mut want = Vec::new();
    while let Some(item) = oracle.next_item() {
        want.push(item);
    }

    let shifted = [1 + chunk % 7, 63, 64, 65, chunk, 128 + chunk, 4096];
    for sizes in [&[input.len().max(1)][..], &[chunk], &shifted] {
        let (got, stats) = decode_chunked(role, limits, input, sizes);
        assert_eq!(got, want, "the decoder (chunks {sizes:?}) and the old framer disagree");
        assert!(stats.bytes_scanned <= input.len() as u64, "a byte was searched twice");
        assert!(stats.bytes_moved <= input.len() as u64);
    }
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

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `roundtrip`: a message built from arbitrary names and values either is refused (and then
/// one of its parts really is unsafe) or encodes to whole lines without CR, LF or NUL, which
/// decode back to exactly the same fields.
pub fn roundtrip(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else { return };
    let toks = input::tokens(rest);
    let first = toks[0];
    let pairs: Vec<(&[u8], &[u8])> =
        toks[1..].chunks(2).map(|c| (c[0], c.get(1).copied().unwrap_or_default())).collect();
    let (first_name, reader): (&[u8], Role) = match kind % 3 {
        0 => (b"Action", Role::Server),
        1 => (b"Response", Role::Client),
        _ => (b"Event", Role::Client),
    };
    let encoded = match kind % 3 {
        0 => {
            let mut a = Action::new(first);
            pairs.iter().for_each(|&(n, v)| a.push(n, v));
            a.to_bytes()
        }
        1 => {
            let mut r = Response::new(first);
            pairs.iter().for_each(|&(n, v)| r.push(n, v));
            r.to_bytes()
        }
        _ => {
            let mut e = Event::new(first);
            pairs.iter().for_each(|&(n, v)| e.push(n, v));
            e.to_bytes()
        }
    };
    let all_valid = encode::check_value(first, reader).is_ok()
        && pairs
            .iter()
            .all(|&(n, v)| encode::check_name(n).is_ok() && encode::check_value(v, reader).is_ok());
    let bytes = match encoded {
        Ok(b) => b,
        Err(e) => {
            assert!(!all_valid, "refused a valid message: {e}");
            return;
        }
    };
    assert!(all_valid, "encoded a message with an unsafe part");
    // Whole lines, none empty but the last, none with a CR, LF or NUL inside.
    let body = bytes.strip_suffix(b"\r\n\r\n").expect("ends with the blank line");
    let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    assert_eq!(lines.len(), pairs.len() + 1, "one line per field");
    for (i, line) in lines.iter().enumerate() {
        let line = if i + 1 < lines.len() {
            line.strip_suffix(b"\r").expect("CRLF line ends")
        } else {
            line
        };
        assert!(!line.is_empty(), "an empty line inside the message");
        assert!(!line.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)), "injection");
    }

    // Decode it back, unless it is bigger than the reader accepts.
    let limits =
        if reader == Role::Server { DecoderLimits::ASTERISK_SERVER } else { DecoderLimits::CLIENT };
    let longest = lines.iter().map(|l| l.len() + 2).max().unwrap_or(0);
    if longest > limits.max_line
        || lines.len() > limits.max_headers
        || bytes.len() > limits.max_message
    {
        return;
    }
    let legacy_follows = reader == Role::Client
        && std::iter::once((first_name, first)).chain(pairs.iter().copied()).any(|(n, v)| {
            n.eq_ignore_ascii_case(b"Response") && v.eq_ignore_ascii_case(b"Follows")
        });
    if legacy_follows {
        return; // `Response: Follows` switches the client decoder to legacy command output
    }
    let mut dec = Decoder::with_limits(reader, limits).expect("valid limits");
    if reader == Role::Client {
        dec.feed(b"Asterisk Call Manager/11.0.0\r\n");
    }
    dec.feed(&bytes);
    let mut items = Vec::new();
    drain(&mut dec, &mut items);
    items.retain(|i| !matches!(i, Item::Banner(_)));
    let expected: Vec<(Vec<u8>, Vec<u8>, bool)> = std::iter::once((first_name, first))
        .chain(pairs.iter().copied())
        .map(|(n, v)| (n.to_vec(), v.to_vec(), false))
        .collect();
    assert_eq!(items, vec![Item::Msg(expected)], "decode(encode(m)) != m");
}

/// `perm`: `parse_perm` in both modes, `parse_event_mask`, and the config rendering of masks
/// re-parsed.
pub fn perm(data: &[u8]) {
    let toks = input::tokens(data);
    let value = text(toks[0]);
    let compat = parse_perm(&value, Strictness::AsteriskCompatible);
    let strict = parse_perm(&value, Strictness::Strict);
    if let Ok(s) = &strict {
        let c = compat.as_ref().expect("strict accepts only what compatible mode accepts");
        assert_eq!(s.privilege, c.privilege, "the modes disagree on an accepted value");
    }
    let mut masks = Vec::new();
    if let Ok(c) = &compat {
        masks.push(c.privilege);
        for d in &c.diagnostics {
            let _ = d.to_string();
        }
    }
    if let Some(raw) = toks.get(2) {
        let mut b = [0u8; 4];
        for (i, x) in raw.iter().take(4).enumerate() {
            b[i] = *x;
        }
        masks.push(Privilege::from_bits(u32::from_le_bytes(b)));
    }
    for &m in &masks {
        let _ = m.render();
        if let Some(list) = m.to_config_list() {
            for mode in [Strictness::AsteriskCompatible, Strictness::Strict] {
                let again = parse_perm(&list, mode).expect("a rendered list parses");
                assert_eq!(again.privilege, m, "{list:?} does not parse back");
            }
        }
    }
    let event_value = toks.get(1).copied().unwrap_or_default();
    let read = masks.first().copied().unwrap_or(Privilege::ALL);
    match parse_event_mask(event_value) {
        EventMask::Invalid => {
            let kept = Privilege::session_event_mask(read, EventMask::Invalid, Privilege::CALL);
            assert_eq!(kept, Privilege::CALL);
        }
        mask @ EventMask::Mask(_) => {
            let session = Privilege::session_event_mask(read, mask, Privilege::NONE);
            assert!(read.contains(session), "the event mask grants more than read");
            for (_, class) in ami_proto::perm::CLASSES {
                if may_receive(session, class) {
                    assert!(may_receive(read, class));
                }
            }
        }
    }
}

fn peer_address(raw: &[u8]) -> IpAddr {
    if let Ok(a) = std::str::from_utf8(raw).unwrap_or_default().parse::<IpAddr>() {
        return a;
    }
    if raw.len() >= 16 {
        let mut b = [0u8; 16];
        b.copy_from_slice(&raw[..16]);
        IpAddr::V6(Ipv6Addr::from(b))
    } else {
        let mut b = [0u8; 4];
        for (i, x) in raw.iter().take(4).enumerate() {
            b[i] = *x;
        }
        IpAddr::V4(Ipv4Addr::from(b))
    }
}

/// `acl`: `AclList::add_line` on arbitrary key/value lines (a refused line leaves the list
/// unchanged), then `permits` on an address from the input.
pub fn acl(data: &[u8]) {
    let toks = input::tokens(data);
    let (lines, addr) = match toks.split_last() {
        Some((last, lines)) if !lines.is_empty() => (lines, *last),
        _ => (&toks[..], &b""[..]),
    };
    let mut named = NamedAcls::default();
    let mut local = Acl::new();
    local.add_rule("deny", "0.0.0.0/0.0.0.0").expect("valid rule");
    local.add_rule("permit", "127.0.0.0/8").expect("valid rule");
    named.insert("local", local);
    named.insert("empty", Acl::new());
    let mut list = AclList::default();
    let mut single = Acl::new();
    for pair in lines.chunks(2) {
        let key = text(pair[0]);
        let value = text(pair.get(1).copied().unwrap_or_default());
        let before = list.clone();
        match list.add_line(&key, &value, &named) {
            Ok(notes) => notes.iter().for_each(|n| drop(n.to_string())),
            Err(e) => {
                let _ = e.to_string();
                assert_eq!(list, before, "a refused line changed the list");
            }
        }
        let before = single.clone();
        if single.add_rule(&key, &value).is_err() {
            assert_eq!(single, before, "a refused rule changed the ACL");
        }
    }
    let peer = peer_address(addr);
    let _ = list.permits(peer);
    let _ = single.permits(peer);
    if list.is_empty() {
        assert!(list.permits(peer), "an empty list allows everyone");
    }
    for rule in single.rules() {
        let _ = (rule.matches(peer), rule.prefix_len(), rule.to_string());
    }
    let _ = (list.to_string(), list.diagnostics(), single.to_string(), single.diagnostics());
}

/// `filter`: `EventFilter::parse` on arbitrary key/value lines (the str and byte parsers
/// agree), then `FilterSet::should_send` on an arbitrary event.
pub fn filter(data: &[u8]) {
    let toks = input::tokens(data);
    let name = toks[0];
    let body = toks.get(1).copied().unwrap_or_default();
    let mut event = b"Event: ".to_vec();
    event.extend_from_slice(name);
    event.extend_from_slice(b"\r\nPrivilege: call,all\r\n");
    event.extend_from_slice(body);
    event.extend_from_slice(b"\r\n\r\n");
    let mut set = FilterSet::default();
    for pair in toks.get(2..).unwrap_or_default().chunks(2) {
        let (key, value) = (pair[0], pair.get(1).copied().unwrap_or_default());
        let parsed = EventFilter::parse_bytes(key, value);
        if let (Ok(k), Ok(v)) = (std::str::from_utf8(key), std::str::from_utf8(value)) {
            let by_str = EventFilter::parse(k, v);
            let parts = |f: &EventFilter| {
                (f.action(), f.name().map(<[u8]>::to_vec), f.header().map(<[u8]>::to_vec)).clone()
            };
            assert_eq!(
                by_str.as_ref().ok().map(|f| (parts(f), f.method(), f.expression().to_vec())),
                parsed.as_ref().ok().map(|p| (
                    parts(&p.filter),
                    p.filter.method(),
                    p.filter.expression().to_vec()
                )),
                "str and byte parsers disagree"
            );
        }
        match parsed {
            Ok(p) => {
                let _ = p.filter.matches(name, &event);
                set.add(p.filter);
            }
            Err(e) => drop((e.to_string(), e.action_message())),
        }
    }
    let send = set.should_send(name, &event);
    if set.is_empty() {
        assert!(send, "no filter sends everything");
    }
}

/// `config`: manager.conf (and acl.conf) loading on arbitrary text, with includable files;
/// every user found is reachable by name and its masks render back.
pub fn config(data: &[u8]) {
    let conf = text(data);
    let mut files = MemoryResolver::new();
    files.insert("users.conf", "[bob]\nsecret = b0b\nread = call\nwrite = originate\n");
    files.insert(
        "extra/filters.conf",
        "[carol]\nsecret = c\neventfilter = !Event: Newexten\npermit = 10.0.0.0/8\n",
    );
    files.insert("extra/general.conf", "timestampevents = yes\nauthlimit = 3\n");
    for strictness in [Strictness::AsteriskCompatible, Strictness::Strict] {
        let opts = ConfigOptions { strictness, ..ConfigOptions::default() };
        let Ok(cfg) = parse_manager_conf(&conf, &mut files, &opts).map_err(|e| e.to_string())
        else {
            continue;
        };
        for d in &cfg.diagnostics {
            let _ = (d.to_string(), d.kind.is_informational());
        }
        for u in &cfg.users {
            assert!(cfg.user(u.name.as_bytes()).is_some(), "user {:?} not found", u.name);
            for m in [u.read, u.write] {
                if let Some(list) = m.to_config_list() {
                    let again = parse_perm(&list, Strictness::AsteriskCompatible);
                    assert_eq!(again.map(|p| p.privilege).ok(), Some(m));
                }
            }
            let _ = (u.acl.permits(IpAddr::V4(Ipv4Addr::LOCALHOST)), u.filters.len());
        }
        let _ = cfg.general.is_event_disabled(b"Newchannel");
    }
    let _ = parse_acl_conf(&conf, &mut files).map(|a| a.iter().count());
}
