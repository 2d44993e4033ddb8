//! Rust-side tests of the C ABI: they call the `extern "C"` functions directly, as C would.

use core::ffi::{CStr, c_char};
use core::ptr;

use ami_proto::perm::Privilege;
use ami_proto::{Decoder, Frame, Role};

use crate::error::INJECT_PANIC;
use crate::*;
use ami_result::*;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bindings/c/tests/data");

fn text(s: &str) -> (*const c_char, usize) {
    (s.as_ptr().cast(), s.len())
}

fn bytes<'a>(b: ami_bytes) -> &'a [u8] {
    // SAFETY: views come from libami and are read before the next non-const call.
    unsafe { core::slice::from_raw_parts(b.data, b.len) }
}

fn string<'a>(s: ami_str) -> &'a str {
    // SAFETY: as in `bytes`; libami's texts are UTF-8.
    core::str::from_utf8(unsafe { core::slice::from_raw_parts(s.data.cast::<u8>(), s.len) })
        .unwrap()
}

fn inject_panic() {
    INJECT_PANIC.with(|p| p.set(true));
}

fn new_decoder(role: ami_role) -> *mut ami_decoder {
    let mut d = ptr::null_mut();
    assert_eq!(ami_decoder_new(role as u32, ptr::null(), &mut d), AMI_RESULT_OK);
    assert!(!d.is_null());
    d
}

/// `Action: Ping` with ActionID `id` and `n` more lines (`line(i)` each, CRLF added), ended.
fn ping_with_lines(id: &str, n: usize, line: impl Fn(usize) -> String) -> Vec<u8> {
    let mut wire = format!("Action: Ping\r\nActionID: {id}\r\n").into_bytes();
    for i in 0..n {
        wire.extend_from_slice(line(i).as_bytes());
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"\r\n");
    wire
}

/// A new decoder fed `wire` whole, and the kind of the first frame it decoded.
fn first_frame(role: ami_role, wire: &[u8]) -> (*mut ami_decoder, ami_frame_kind) {
    let d = new_decoder(role);
    assert_eq!(ami_decoder_feed(d, wire.as_ptr(), wire.len()), AMI_RESULT_OK);
    let mut kind = ami_frame_kind::AMI_FRAME_NONE;
    assert_eq!(ami_decoder_next(d, &mut kind), AMI_RESULT_OK);
    (d, kind)
}

/// Frames of a whole stream decoded through the C API: (kind, raw bytes).
fn decode_ffi(role: ami_role, data: &[u8], chunk: impl Fn(usize) -> usize) -> Vec<(u32, Vec<u8>)> {
    let d = new_decoder(role);
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    loop {
        let n = chunk(i).min(data.len() - at);
        i += 1;
        assert_eq!(ami_decoder_feed(d, data[at..].as_ptr(), n), AMI_RESULT_OK);
        at += n;
        loop {
            let mut kind = ami_frame_kind::AMI_FRAME_NONE;
            assert_eq!(ami_decoder_next(d, &mut kind), AMI_RESULT_OK);
            if kind == ami_frame_kind::AMI_FRAME_NONE {
                break;
            }
            let mut raw = ami_bytes { data: ptr::null(), len: 0 };
            assert_eq!(ami_decoder_raw(d, &mut raw), AMI_RESULT_OK);
            out.push((kind as u32, bytes(raw).to_vec()));
        }
        if at == data.len() {
            break;
        }
    }
    ami_decoder_free(d);
    out
}

/// The same with the Rust decoder.
fn decode_rust(role: Role, data: &[u8]) -> Vec<(u32, Vec<u8>)> {
    let mut dec = Decoder::new(role);
    dec.feed(data);
    let mut out = Vec::new();
    while let Some(item) = dec.next_frame() {
        out.push(match item {
            Ok(Frame::Banner(b)) => (1, b.line().to_vec()),
            Ok(Frame::Message(m)) => (2, m.raw().to_vec()),
            Err(e) => (3, e.partial().raw().to_vec()),
        });
    }
    out
}

#[test]
#[cfg_attr(miri, ignore = "reads files, which Miri's isolation forbids")]
fn captures_decode_like_the_rust_decoder_in_any_chunks() {
    let mut seen_error = false;
    for entry in std::fs::read_dir(DATA).unwrap() {
        let path = entry.unwrap().path();
        let (role, ffi_role) = match path.extension().and_then(|e| e.to_str()) {
            Some("s2c") => (Role::Client, ami_role::AMI_ROLE_CLIENT),
            Some("c2s") => (Role::Server, ami_role::AMI_ROLE_SERVER),
            _ => continue,
        };
        let data = std::fs::read(&path).unwrap();
        let expected = decode_rust(role, &data);
        assert!(expected.len() > 1, "{}", path.display());
        seen_error |= expected.iter().any(|(k, _)| *k == 3);
        let mut seed = 0x2545_f491_u32;
        let mut random = move |_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            1 + (seed % 97) as usize
        };
        let random_splits: Vec<usize> = (0..data.len()).map(&mut random).collect();
        assert_eq!(decode_ffi(ffi_role, &data, |_| usize::MAX), expected, "{}", path.display());
        assert_eq!(decode_ffi(ffi_role, &data, |_| 1), expected, "{}", path.display());
        assert_eq!(decode_ffi(ffi_role, &data, |i| random_splits[i]), expected);
    }
    assert!(seen_error, "a capture with a frame error is part of the data");
}

#[test]
fn accessors_read_the_current_frame() {
    let d = new_decoder(ami_role::AMI_ROLE_CLIENT);
    let wire = b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 7\r\n\
                 Message: Command output follows\r\nOutput: line 1\r\nOutput: line 2\r\nNo colon\r\n\r\n";
    assert_eq!(ami_decoder_feed(d, wire.as_ptr(), wire.len()), AMI_RESULT_OK);
    let mut kind = ami_frame_kind::AMI_FRAME_NONE;
    let mut v = ami_bytes { data: ptr::null(), len: 0 };
    assert_eq!(ami_decoder_next(d, &mut kind), AMI_RESULT_OK);
    assert_eq!(kind, ami_frame_kind::AMI_FRAME_BANNER);
    assert_eq!(ami_decoder_banner_version(d, &mut v), AMI_RESULT_OK);
    assert_eq!(bytes(v), b"11.0.0");
    let mut n = 99usize;
    assert_eq!(ami_decoder_header_count(d, &mut n), AMI_RESULT_NO_FRAME);
    assert_eq!(n, 99, "untouched on error");

    assert_eq!(ami_decoder_next(d, &mut kind), AMI_RESULT_OK);
    assert_eq!(kind, ami_frame_kind::AMI_FRAME_MESSAGE);
    let mut mk = ami_message_kind::AMI_MESSAGE_UNKNOWN;
    assert_eq!(ami_decoder_message_kind(d, &mut mk), AMI_RESULT_OK);
    assert_eq!(mk, ami_message_kind::AMI_MESSAGE_RESPONSE);
    assert_eq!(ami_decoder_header_count(d, &mut n), AMI_RESULT_OK);
    assert_eq!(n, 6);
    let (name, len) = text("actionid");
    assert_eq!(ami_decoder_get(d, name, len, &mut v), AMI_RESULT_OK);
    assert_eq!(bytes(v), b"7");
    assert_eq!(ami_decoder_action_id(d, &mut v), AMI_RESULT_OK);
    assert_eq!(bytes(v), b"7");
    let (name, len) = text("Nope");
    let before = v.data;
    assert_eq!(ami_decoder_get(d, name, len, &mut v), AMI_RESULT_NOT_FOUND);
    assert_eq!(v.data, before, "untouched on error");
    let mut h = ami_header { name: v, value: v, bare: false };
    assert_eq!(ami_decoder_header(d, 5, &mut h), AMI_RESULT_OK);
    assert!(h.bare);
    assert_eq!(bytes(h.name), b"");
    assert_eq!(bytes(h.value), b"No colon");
    assert_eq!(ami_decoder_header(d, 6, &mut h), AMI_RESULT_NOT_FOUND);
    let mut lines = [v; 1];
    assert_eq!(
        ami_decoder_output_lines(d, lines.as_mut_ptr(), 1, &mut n),
        AMI_RESULT_INSUFFICIENT_SIZE
    );
    assert_eq!(n, 2);
    assert_eq!(
        ami_decoder_output_lines(d, ptr::null_mut(), 0, &mut n),
        AMI_RESULT_INSUFFICIENT_SIZE
    );
    let mut lines = [v; 4];
    assert_eq!(ami_decoder_output_lines(d, lines.as_mut_ptr(), 4, &mut n), AMI_RESULT_OK);
    assert_eq!((n, bytes(lines[0]), bytes(lines[1])), (2, &b"line 1"[..], &b"line 2"[..]));

    assert_eq!(ami_decoder_next(d, &mut kind), AMI_RESULT_OK);
    assert_eq!(kind, ami_frame_kind::AMI_FRAME_NONE);
    assert_eq!(ami_decoder_raw(d, &mut v), AMI_RESULT_NO_FRAME);
    let mut mid = true;
    assert_eq!(ami_decoder_is_mid_message(d, &mut mid), AMI_RESULT_OK);
    assert!(!mid);
    ami_decoder_free(d);
}

/// The array `ami_decoder_headers` hands out.
fn headers_of<'a>(d: *const ami_decoder) -> Result<&'a [ami_header], ami_result> {
    let mut h: *const ami_header = ptr::null();
    let mut n = usize::MAX;
    match ami_decoder_headers(d, &mut h, &mut n) {
        AMI_RESULT_OK => {
            assert!(!h.is_null(), "never NULL");
            // SAFETY: libami wrote a pointer to `n` headers valid until the next non-const call.
            Ok(unsafe { core::slice::from_raw_parts(h, n) })
        }
        rc => {
            assert_eq!(n, usize::MAX, "untouched on error");
            Err(rc)
        }
    }
}

#[test]
fn every_header_at_once_equals_one_at_a_time() {
    let d = new_decoder(ami_role::AMI_ROLE_CLIENT);
    let wire = b"Asterisk Call Manager/11.0.0\r\nEvent: Newchannel\r\nChannel: PJSIP/1\r\n\
                 No colon here\r\nEmpty:\r\n\r\nResponse: Success\r\n\r\n";
    assert_eq!(ami_decoder_feed(d, wire.as_ptr(), wire.len()), AMI_RESULT_OK);
    assert_eq!(headers_of(d).unwrap_err(), AMI_RESULT_NO_FRAME, "no frame yet");
    let mut kind = ami_frame_kind::AMI_FRAME_NONE;
    assert_eq!(ami_decoder_next(d, &mut kind), AMI_RESULT_OK);
    assert_eq!(headers_of(d).unwrap_err(), AMI_RESULT_NO_FRAME, "a banner has none");
    assert_eq!(ami_decoder_next(d, &mut kind), AMI_RESULT_OK);
    let all = headers_of(d).unwrap();
    let got: Vec<(&[u8], &[u8], bool)> =
        all.iter().map(|h| (bytes(h.name), bytes(h.value), h.bare)).collect();
    assert_eq!(
        got,
        [
            (&b"Event"[..], &b"Newchannel"[..], false),
            (b"Channel", b"PJSIP/1", false),
            (b"", b"No colon here", true),
            (b"Empty", b"", false)
        ]
    );
    for (i, a) in all.iter().enumerate() {
        let mut h = ami_header { name: empty_bytes(), value: empty_bytes(), bare: true };
        assert_eq!(ami_decoder_header(d, i, &mut h), AMI_RESULT_OK);
        assert_eq!((h.name.data, h.value.data, h.bare), (a.name.data, a.value.data, a.bare));
    }
    let mut out: *const ami_header = ptr::null();
    let mut n = 0;
    assert_eq!(ami_decoder_headers(ptr::null(), &mut out, &mut n), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_decoder_headers(d, ptr::null_mut(), &mut n), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_decoder_headers(d, &mut out, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    // The next message replaces the array.
    assert_eq!(ami_decoder_next(d, &mut kind), AMI_RESULT_OK);
    let all = headers_of(d).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(bytes(all[0].value), b"Success");
    assert_eq!(ami_decoder_next(d, &mut kind), AMI_RESULT_OK);
    assert_eq!(kind, ami_frame_kind::AMI_FRAME_NONE);
    assert_eq!(headers_of(d).unwrap_err(), AMI_RESULT_NO_FRAME);
    ami_decoder_free(d);
}

/// The message bytes and the slot array `ami_decoder_slots` hands out.
fn slots_of<'a>(d: *const ami_decoder) -> Result<(&'a [u8], &'a [ami_slot]), ami_result> {
    let (mut raw, mut raw_len) = (ptr::null(), usize::MAX);
    let (mut slots, mut n): (*const ami_slot, usize) = (ptr::null(), usize::MAX);
    match ami_decoder_slots(d, &mut raw, &mut raw_len, &mut slots, &mut n) {
        AMI_RESULT_OK => {
            assert!(!raw.is_null() && !slots.is_null(), "never NULL");
            // SAFETY: libami wrote pointers to `raw_len` bytes and `n` slots, valid until the
            // next non-const call.
            Ok(unsafe {
                (core::slice::from_raw_parts(raw, raw_len), core::slice::from_raw_parts(slots, n))
            })
        }
        rc => {
            assert_eq!((raw_len, n), (usize::MAX, usize::MAX), "untouched on error");
            Err(rc)
        }
    }
}

/// The (name, value, bare) of every line of `ami_decoder_headers`' array.
fn header_views<'a>(d: *const ami_decoder) -> Vec<(&'a [u8], &'a [u8], bool)> {
    headers_of(d).unwrap().iter().map(|h| (bytes(h.name), bytes(h.value), h.bare)).collect()
}

/// What `ami_slot_name` / `ami_slot_value` (inline in the header) compute.
fn slot_views<'a>(raw: &'a [u8], s: &ami_slot) -> (&'a [u8], &'a [u8], bool) {
    let bare = s.colon == u32::MAX;
    let name_end = if bare { s.start } else { s.colon };
    (&raw[s.start as usize..name_end as usize], &raw[s.value as usize..s.end as usize], bare)
}

#[test]
fn slots_are_the_core_slots() {
    let wire = b"Asterisk Call Manager/11.0.0\r\nEvent: Newchannel\r\nChannel: PJSIP/1\r\n\
                 No colon here\r\nEmpty:\r\n\r\nResponse:  Two spaces\r\n\r\n";
    let d = new_decoder(ami_role::AMI_ROLE_CLIENT);
    assert_eq!(ami_decoder_feed(d, wire.as_ptr(), wire.len()), AMI_RESULT_OK);
    let mut rust = Decoder::new(Role::Client);
    rust.feed(wire);
    let mut kind = ami_frame_kind::AMI_FRAME_NONE;
    assert_eq!(slots_of(d).unwrap_err(), AMI_RESULT_NO_FRAME, "no frame yet");
    assert_eq!(ami_decoder_next(d, &mut kind), AMI_RESULT_OK);
    assert!(matches!(rust.next_frame(), Some(Ok(Frame::Banner(_)))));
    assert_eq!(slots_of(d).unwrap_err(), AMI_RESULT_NO_FRAME, "a banner has none");
    for _ in 0..2 {
        assert_eq!(ami_decoder_next(d, &mut kind), AMI_RESULT_OK);
        assert_eq!(kind, ami_frame_kind::AMI_FRAME_MESSAGE);
        let Some(Ok(Frame::Message(m))) = rust.next_frame() else { panic!() };
        let (raw, slots) = slots_of(d).unwrap();
        assert_eq!(raw, m.raw());
        // Field by field, the core's slots (the field order the layout check cannot see).
        assert_eq!(slots.len(), m.slots().len());
        for (s, core) in slots.iter().zip(m.slots()) {
            let colon = if core.is_bare() { u32::MAX } else { core.name_range().end as u32 };
            let want = ami_slot {
                start: core.line_range().start as u32,
                end: core.line_range().end as u32,
                colon,
                value: core.value_range().start as u32,
            };
            assert_eq!(*s, want);
        }
        // The inline views give what the header array gives.
        let views: Vec<_> = slots.iter().map(|s| slot_views(raw, s)).collect();
        let headers = header_views(d);
        assert_eq!(views, headers);
    }
    let (mut raw, mut len, mut slots, mut n) = (ptr::null(), 0, ptr::null(), 0);
    assert_eq!(
        ami_decoder_slots(ptr::null(), &mut raw, &mut len, &mut slots, &mut n),
        AMI_RESULT_NULL_PARAMETER
    );
    assert_eq!(
        ami_decoder_slots(d, ptr::null_mut(), &mut len, &mut slots, &mut n),
        AMI_RESULT_NULL_PARAMETER
    );
    assert_eq!(
        ami_decoder_slots(d, &mut raw, ptr::null_mut(), &mut slots, &mut n),
        AMI_RESULT_NULL_PARAMETER
    );
    assert_eq!(
        ami_decoder_slots(d, &mut raw, &mut len, ptr::null_mut(), &mut n),
        AMI_RESULT_NULL_PARAMETER
    );
    assert_eq!(
        ami_decoder_slots(d, &mut raw, &mut len, &mut slots, ptr::null_mut()),
        AMI_RESULT_NULL_PARAMETER
    );
    ami_decoder_free(d);
}

#[test]
fn the_slots_of_a_frame_error_are_its_kept_lines() {
    let wire = ping_with_lines("7", 130, |_| "X: y".to_owned());
    let (d, kind) = first_frame(ami_role::AMI_ROLE_SERVER, &wire);
    assert_eq!(kind, ami_frame_kind::AMI_FRAME_ERROR);
    let (raw, slots) = slots_of(d).unwrap();
    let views: Vec<_> = slots.iter().map(|s| slot_views(raw, s)).collect();
    assert_eq!(views.len(), 128);
    assert_eq!(views[1], (&b"ActionID"[..], &b"7"[..], false));
    let headers = header_views(d);
    assert_eq!(views, headers);
    ami_decoder_free(d);
}

#[test]
fn a_non_ami_greeting_is_a_frame_error_at_once() {
    let (d, kind) = first_frame(ami_role::AMI_ROLE_CLIENT, b"HTTP/1.1 200 OK\r\nServer: x\r\n");
    assert_eq!(kind, ami_frame_kind::AMI_FRAME_ERROR);
    let mut ek = ami_frame_error_kind::AMI_FRAME_ERROR_LINE_TOO_LONG;
    let mut limit = 9usize;
    let mut t = ami_str { data: ptr::null(), len: 0 };
    assert_eq!(ami_decoder_frame_error(d, &mut ek, &mut limit, &mut t), AMI_RESULT_OK);
    assert_eq!((ek, limit), (ami_frame_error_kind::AMI_FRAME_ERROR_NOT_AMI_SERVER, 0));
    assert!(string(t).starts_with("not an AMI server"), "{}", string(t));
    let all = headers_of(d).unwrap();
    assert_eq!(all.len(), 1);
    assert!(all[0].bare);
    assert_eq!(bytes(all[0].value), b"HTTP/1.1 200 OK");
    ami_decoder_free(d);
}

#[test]
fn frame_errors_describe_the_limit() {
    let wire = ping_with_lines("9", 200, |i| format!("X-{i}: y"));
    let (d, kind) = first_frame(ami_role::AMI_ROLE_SERVER, &wire);
    assert_eq!(kind, ami_frame_kind::AMI_FRAME_ERROR);
    let mut ek = ami_frame_error_kind::AMI_FRAME_ERROR_LINE_TOO_LONG;
    let mut limit = 0usize;
    let mut t = ami_str { data: ptr::null(), len: 0 };
    assert_eq!(ami_decoder_frame_error(d, &mut ek, &mut limit, &mut t), AMI_RESULT_OK);
    assert_eq!((ek, limit), (ami_frame_error_kind::AMI_FRAME_ERROR_TOO_MANY_HEADERS, 128));
    assert!(string(t).contains("128"), "{}", string(t));
    let mut v = ami_bytes { data: ptr::null(), len: 0 };
    assert_eq!(ami_decoder_action_id(d, &mut v), AMI_RESULT_OK);
    assert_eq!(bytes(v), b"9");
    ami_decoder_free(d);
}

#[test]
fn decoder_parameters_are_checked() {
    let mut d = ptr::null_mut();
    assert_eq!(ami_decoder_new(7, ptr::null(), &mut d), AMI_RESULT_INVALID_PARAMETER);
    assert!(d.is_null(), "untouched on error");
    assert_eq!(ami_decoder_new(0, ptr::null(), ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    let bad = ami_decoder_limits { max_line: 1, max_headers: 1, max_message: 100 };
    assert_eq!(ami_decoder_new(0, &bad, &mut d), AMI_RESULT_INVALID_PARAMETER);
    let mut limits = bad;
    assert_eq!(ami_decoder_default_limits(1, &mut limits), AMI_RESULT_OK);
    assert_eq!((limits.max_line, limits.max_headers), (1024, 128));
    assert_eq!(ami_decoder_new(1, &limits, &mut d), AMI_RESULT_OK);

    assert_eq!(ami_decoder_feed(ptr::null_mut(), ptr::null(), 0), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_decoder_feed(d, ptr::null(), 0), AMI_RESULT_OK);
    assert_eq!(ami_decoder_feed(d, ptr::null(), 3), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_decoder_next(d, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(
        ami_decoder_next(ptr::null_mut(), &mut ami_frame_kind::AMI_FRAME_NONE),
        AMI_RESULT_NULL_PARAMETER
    );
    let mut n = 0;
    assert_eq!(ami_decoder_header_count(ptr::null(), &mut n), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_decoder_header_count(d, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_decoder_raw(d, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_decoder_last_error(ptr::null(), ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_decoder_last_error(d, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    ami_decoder_free(d);
    ami_decoder_free(ptr::null_mut());
}

#[test]
fn a_panic_is_caught_and_poisons_the_handle() {
    let d = new_decoder(ami_role::AMI_ROLE_CLIENT);
    inject_panic();
    assert_eq!(ami_decoder_feed(d, b"x".as_ptr(), 1), AMI_RESULT_PANIC);
    let mut kind = ami_frame_kind::AMI_FRAME_BANNER;
    assert_eq!(ami_decoder_next(d, &mut kind), AMI_RESULT_POISONED);
    assert_eq!(kind, ami_frame_kind::AMI_FRAME_BANNER, "untouched");
    let mut n = 5;
    assert_eq!(ami_decoder_header_count(d, &mut n), AMI_RESULT_POISONED);
    let mut e = ami_str { data: ptr::null(), len: 0 };
    assert_eq!(ami_decoder_last_error(d, &mut e), AMI_RESULT_OK);
    assert!(string(e).contains("injected panic"), "{}", string(e));
    ami_decoder_free(d);

    // A const accessor poisons too.
    let d = new_decoder(ami_role::AMI_ROLE_CLIENT);
    inject_panic();
    assert_eq!(ami_decoder_is_mid_message(d, &mut false), AMI_RESULT_PANIC);
    assert_eq!(ami_decoder_feed(d, ptr::null(), 0), AMI_RESULT_POISONED);
    ami_decoder_free(d);

    let (first, len) = text("Ping");
    let mut b = ptr::null_mut();
    assert_eq!(ami_message_builder_new(1, first, len, &mut b), AMI_RESULT_OK);
    inject_panic();
    let (name, nlen) = text("ActionID");
    assert_eq!(ami_message_builder_add_header(b, name, nlen, first, len), AMI_RESULT_PANIC);
    assert_eq!(
        ami_message_builder_bytes(b, &mut ami_bytes { data: ptr::null(), len: 0 }),
        AMI_RESULT_POISONED
    );
    ami_message_builder_free(b);

    let mut acl = ptr::null_mut();
    assert_eq!(ami_acl_new(&mut acl), AMI_RESULT_OK);
    inject_panic();
    let (ip, iplen) = text("10.0.0.1");
    assert_eq!(ami_acl_permits(acl, ip, iplen, &mut false), AMI_RESULT_PANIC);
    assert_eq!(ami_acl_permits(acl, ip, iplen, &mut false), AMI_RESULT_POISONED);
    ami_acl_free(acl);

    // Exports without a handle.
    let mut mask = 77;
    inject_panic();
    assert_eq!(ami_perm_parse(first, len, &mut mask), AMI_RESULT_PANIC);
    assert_eq!(mask, 77);
    inject_panic();
    assert_eq!(ami_perm_may_receive(1, 1, &mut false), AMI_RESULT_PANIC);
    inject_panic();
    let mut d = ptr::null_mut();
    assert_eq!(ami_decoder_new(0, ptr::null(), &mut d), AMI_RESULT_PANIC);
    assert!(d.is_null());
}

fn builder(kind: ami_message_kind, first: &str) -> *mut ami_message_builder {
    let (p, n) = text(first);
    let mut b = ptr::null_mut();
    assert_eq!(ami_message_builder_new(kind as u32, p, n, &mut b), AMI_RESULT_OK);
    b
}

fn add(b: *mut ami_message_builder, name: &str, value: &str) -> ami_result {
    let ((n, nl), (v, vl)) = (text(name), text(value));
    ami_message_builder_add_header(b, n, nl, v, vl)
}

#[test]
fn builder_encodes_and_refuses_injection() {
    let b = builder(ami_message_kind::AMI_MESSAGE_ACTION, "Login");
    assert_eq!(add(b, "Username", "admin"), AMI_RESULT_OK);
    assert_eq!(add(b, "Secret", "x\r\nAction: Command"), AMI_RESULT_ENCODE_ERROR);
    let mut e = ami_str { data: ptr::null(), len: 0 };
    assert_eq!(ami_message_builder_last_error(b, &mut e), AMI_RESULT_OK);
    assert!(string(e).contains("0x0d") && string(e).contains("field 2"), "{}", string(e));
    for (name, value) in
        [("Ev:il", "x"), ("", "x"), (" Secret", "x"), ("Secret", "\0"), ("Secret", " lead")]
    {
        assert_eq!(add(b, name, value), AMI_RESULT_ENCODE_ERROR, "{name:?}: {value:?}");
    }
    assert_eq!(add(b, "Secret", "s3cret"), AMI_RESULT_OK);
    assert_eq!(ami_message_builder_last_error(b, &mut e), AMI_RESULT_OK);
    assert_eq!(string(e), "", "cleared by a successful call");
    let expected = b"Action: Login\r\nUsername: admin\r\nSecret: s3cret\r\n\r\n";
    let mut v = ami_bytes { data: ptr::null(), len: 0 };
    assert_eq!(ami_message_builder_bytes(b, &mut v), AMI_RESULT_OK);
    assert_eq!(bytes(v), expected);
    let mut n = 0;
    let mut small = [0u8; 8];
    assert_eq!(
        ami_message_builder_encode(b, small.as_mut_ptr(), 8, &mut n),
        AMI_RESULT_INSUFFICIENT_SIZE
    );
    assert_eq!((n, small), (expected.len(), [0; 8]));
    assert_eq!(
        ami_message_builder_encode(b, ptr::null_mut(), 0, &mut n),
        AMI_RESULT_INSUFFICIENT_SIZE
    );
    assert_eq!(
        ami_message_builder_encode(b, ptr::null_mut(), 5, &mut n),
        AMI_RESULT_NULL_PARAMETER
    );
    let mut buf = [0u8; 128];
    assert_eq!(ami_message_builder_encode(b, buf.as_mut_ptr(), buf.len(), &mut n), AMI_RESULT_OK);
    assert_eq!(&buf[..n], expected);
    ami_message_builder_free(b);

    // A response value may start with a blank (a client keeps it); a first line may not inject.
    let b = builder(ami_message_kind::AMI_MESSAGE_EVENT, "UserEvent");
    assert_eq!(add(b, "Note", " lead"), AMI_RESULT_OK);
    ami_message_builder_free(b);
    let (p, l) = text("Ping\r\nAction: Command");
    let mut b = ptr::null_mut();
    assert_eq!(ami_message_builder_new(1, p, l, &mut b), AMI_RESULT_ENCODE_ERROR);
    assert_eq!(ami_message_builder_new(0, p, l, &mut b), AMI_RESULT_INVALID_PARAMETER);
    assert!(b.is_null());
}

fn perm(s: &str) -> u32 {
    let (p, n) = text(s);
    let mut out = 0;
    assert_eq!(ami_perm_parse(p, n, &mut out), AMI_RESULT_OK);
    out
}

fn may_run(write: u32, action: &str) -> bool {
    let (p, n) = text(action);
    let mut out = false;
    assert_eq!(ami_perm_may_run(write, p, n, &mut out), AMI_RESULT_OK, "{action}");
    out
}

fn category(event: &str) -> u32 {
    let (p, n) = text(event);
    let mut out = 0;
    assert_eq!(ami_event_category(p, n, &mut out), AMI_RESULT_OK, "{event}");
    out
}

fn render(mask: u32) -> String {
    let mut buf = [0 as c_char; 256];
    let mut n = 0;
    assert_eq!(ami_perm_render(mask, buf.as_mut_ptr(), buf.len(), &mut n), AMI_RESULT_OK);
    // SAFETY: ami_perm_render wrote a NUL-terminated string into `buf`.
    let s = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap().to_owned();
    assert_eq!(s.len(), n);
    s
}

#[test]
fn spec_case_23_read_parsing() {
    assert_eq!(perm(",call"), AMI_PERM_ALL);
    assert_eq!(perm("Call"), 0);
    assert_eq!(perm("call, log"), AMI_PERM_CALL);
    assert_eq!(perm("sys,call"), AMI_PERM_SYSTEM | AMI_PERM_CALL);
}

#[test]
fn spec_case_25_write_is_any_bit() {
    let reporting = perm("reporting");
    assert!(may_run(reporting, "Status"));
    assert!(may_run(reporting, "CoreShowChannels"));
    assert!(!may_run(reporting, "Hangup"));
    for action in ["Ping", "Events", "ListCommands", "WaitEvent", "QueueStatus", "BridgeList"] {
        assert!(may_run(0, action), "{action}");
    }
    let (p, n) = text("NoSuchAction");
    let mut out = true;
    assert_eq!(ami_perm_may_run(AMI_PERM_ALL, p, n, &mut out), AMI_RESULT_NOT_FOUND);
    assert!(out, "untouched on error");
    let mut a = 0;
    let (p, n) = text("originate");
    assert_eq!(ami_action_authority(p, n, &mut a), AMI_RESULT_OK);
    assert_eq!(a, AMI_PERM_ORIGINATE);
}

#[test]
fn spec_case_26_read_is_all_bits() {
    let vm = category("VoicemailPasswordChange");
    assert_eq!(vm, AMI_PERM_SYSTEM | AMI_PERM_USER);
    let mut out = true;
    assert_eq!(ami_perm_may_receive(perm("user"), vm, &mut out), AMI_RESULT_OK);
    assert!(!out);
    assert_eq!(ami_perm_may_receive(perm("system,user"), vm, &mut out), AMI_RESULT_OK);
    assert!(out);
    assert_eq!(render(vm), "system,user,all");
    assert_eq!(render(0), "<none>");
    let mut buf = [0 as c_char; 4];
    let mut n = 0;
    assert_eq!(ami_perm_render(vm, buf.as_mut_ptr(), 4, &mut n), AMI_RESULT_INSUFFICIENT_SIZE);
    assert_eq!((n, buf), ("system,user,all".len(), [0; 4]));
    let (p, n) = text("NoSuchEvent");
    assert_eq!(ami_event_category(p, n, &mut 0), AMI_RESULT_NOT_FOUND);
}

fn permits(acl: *const ami_acl, ip: &str) -> bool {
    let (p, n) = text(ip);
    let mut out = false;
    assert_eq!(ami_acl_permits(acl, p, n, &mut out), AMI_RESULT_OK, "{ip}");
    out
}

fn acl_line(acl: *mut ami_acl, key: &str, value: &str) -> ami_result {
    let ((k, kl), (v, vl)) = (text(key), text(value));
    ami_acl_add_line(acl, k, kl, v, vl)
}

#[test]
fn spec_case_35_acl_family_quirk() {
    let mut acl = ptr::null_mut();
    assert_eq!(ami_acl_new(&mut acl), AMI_RESULT_OK);
    assert!(permits(acl, "10.0.0.1"), "an empty ACL permits everyone");
    assert_eq!(acl_line(acl, "deny", "0.0.0.0/0.0.0.0"), AMI_RESULT_OK);
    assert_eq!(acl_line(acl, "permit", "127.0.0.1/255.255.255.255"), AMI_RESULT_OK);
    assert!(permits(acl, "127.0.0.1"));
    assert!(!permits(acl, "10.0.0.1"));
    assert!(permits(acl, "::1"));
    assert_eq!(acl_line(acl, "permit", "127.0.0.1:5038"), AMI_RESULT_ACL_ERROR);
    let mut e = ami_str { data: ptr::null(), len: 0 };
    assert_eq!(ami_acl_last_error(acl, &mut e), AMI_RESULT_OK);
    assert!(string(e).contains("port"), "{}", string(e));
    assert!(!permits(acl, "10.0.0.1"), "unchanged after a refused line");
    let (p, n) = text("not-an-ip");
    assert_eq!(ami_acl_permits(acl, p, n, &mut false), AMI_RESULT_INVALID_PARAMETER);
    assert_eq!(ami_acl_permits(acl, ptr::null(), 3, &mut false), AMI_RESULT_NULL_PARAMETER);
    ami_acl_free(acl);
    ami_acl_free(ptr::null_mut());
}

#[test]
fn md5_key_is_hex_of_challenge_and_secret() {
    let ((c, cl), (s, sl)) = (text("12345"), text("s3cret"));
    let mut buf = [0 as c_char; 33];
    assert_eq!(ami_md5_key(c, cl, s, sl, buf.as_mut_ptr(), 32), AMI_RESULT_INSUFFICIENT_SIZE);
    assert_eq!(ami_md5_key(c, cl, s, sl, buf.as_mut_ptr(), 33), AMI_RESULT_OK);
    // SAFETY: ami_md5_key wrote a NUL-terminated string into `buf`.
    let key = unsafe { CStr::from_ptr(buf.as_ptr()) };
    assert_eq!(key.to_bytes(), ami_proto::auth::md5_key(b"12345", b"s3cret"));
    assert_eq!(ami_md5_key(ptr::null(), 1, s, sl, buf.as_mut_ptr(), 33), AMI_RESULT_NULL_PARAMETER);
}

#[test]
fn perm_constants_match_ami_proto() {
    for (label, privilege) in ami_proto::perm::CLASSES {
        if label == "none" {
            continue;
        }
        assert_eq!(perm(label), privilege.bits(), "{label}");
    }
    let ours = [
        AMI_PERM_SYSTEM,
        AMI_PERM_CALL,
        AMI_PERM_LOG,
        AMI_PERM_VERBOSE,
        AMI_PERM_COMMAND,
        AMI_PERM_AGENT,
        AMI_PERM_USER,
        AMI_PERM_CONFIG,
        AMI_PERM_DTMF,
        AMI_PERM_REPORTING,
        AMI_PERM_CDR,
        AMI_PERM_DIALPLAN,
        AMI_PERM_ORIGINATE,
        AMI_PERM_AGI,
        AMI_PERM_CC,
        AMI_PERM_AOC,
        AMI_PERM_TEST,
        AMI_PERM_SECURITY,
        AMI_PERM_MESSAGE,
        AMI_PERM_ALL,
    ];
    let theirs = [
        Privilege::SYSTEM,
        Privilege::CALL,
        Privilege::LOG,
        Privilege::VERBOSE,
        Privilege::COMMAND,
        Privilege::AGENT,
        Privilege::USER,
        Privilege::CONFIG,
        Privilege::DTMF,
        Privilege::REPORTING,
        Privilege::CDR,
        Privilege::DIALPLAN,
        Privilege::ORIGINATE,
        Privilege::AGI,
        Privilege::CC,
        Privilege::AOC,
        Privilege::TEST,
        Privilege::SECURITY,
        Privilege::MESSAGE,
        Privilege::ALL,
    ];
    for (a, b) in ours.iter().zip(theirs) {
        assert_eq!(*a, b.bits());
    }
}

#[test]
fn result_codes_are_named_and_stable() {
    let names: Vec<&str> = (0..=14)
        // SAFETY: ami_result_str returns static NUL-terminated strings.
        .map(|c| unsafe { CStr::from_ptr(ami_result_str(c)) }.to_str().unwrap())
        .collect();
    assert_eq!(names[0], "ok");
    assert_eq!(names[14], "unknown result");
    assert!(names[..14].iter().all(|n| *n != "unknown result"));
    // The numbers are ABI: never renumber.
    let codes = [
        (AMI_RESULT_OK, 0),
        (AMI_RESULT_NULL_PARAMETER, 1),
        (AMI_RESULT_PANIC, 2),
        (AMI_RESULT_POISONED, 3),
        (AMI_RESULT_INVALID_PARAMETER, 4),
        (AMI_RESULT_INSUFFICIENT_SIZE, 5),
        (AMI_RESULT_NO_FRAME, 6),
        (AMI_RESULT_NOT_FOUND, 7),
        (AMI_RESULT_ENCODE_ERROR, 8),
        (AMI_RESULT_ACL_ERROR, 9),
        (AMI_RESULT_REFUSED, 10),
        (AMI_RESULT_CONFIG_ERROR, 11),
        (AMI_RESULT_FILTER_ERROR, 12),
        (AMI_RESULT_EDIT_REFUSED, 13),
    ];
    for (code, n) in codes {
        assert_eq!(code as u32, n);
    }
}

/// Every export runs inside the panic boundary: its body starts with one of the helpers that
/// catch panics, or it is on the short list of exports that cannot panic.
#[test]
#[cfg_attr(miri, ignore = "reads files, which Miri's isolation forbids")]
fn every_export_is_behind_the_panic_boundary() {
    const BOUNDARIES: [&str; 6] =
        ["guard(", "crate::error::guard(", "with_mut(", "with_ref(", "last_error(", "free_handle("];
    // Static strings, a match on an integer that returns static strings, and the lengths of
    // static tables.
    const CANNOT_PANIC: [&str; 5] = [
        "ami_version",
        "ami_result_str",
        "ami_catalog_action_count",
        "ami_catalog_event_count",
        "ami_catalog_asterisk_version",
    ];
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut exports = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for (at, _) in source.match_indices("pub extern \"C\" fn ") {
            let rest = &source[at + "pub extern \"C\" fn ".len()..];
            let name = &rest[..rest.find('(').unwrap()];
            exports += 1;
            if CANNOT_PANIC.contains(&name) {
                continue;
            }
            let body = rest[rest.find("{\n").unwrap() + 2..].trim_start();
            assert!(
                BOUNDARIES.iter().any(|b| body.starts_with(b)),
                "{name} in {} does not start with a panic boundary",
                path.display()
            );
        }
    }
    assert!(exports > 30, "found only {exports} exports");
}

// ---- sessions ----

const CONF: &str = "[general]\nenabled = yes\n[admin]\nsecret = s3cret\nread = all\nwrite = all\n";

fn empty_bytes() -> ami_bytes {
    ami_bytes { data: ptr::null(), len: 0 }
}

fn new_client() -> *mut ami_client {
    let mut c = ptr::null_mut();
    assert_eq!(ami_client_new(ptr::null(), 0, &mut c), AMI_RESULT_OK);
    c
}

fn new_server() -> *mut ami_server {
    let (conf, len) = text(CONF);
    let mut s = ptr::null_mut();
    assert_eq!(ami_server_new(conf, len, ptr::null(), 42, &mut s), AMI_RESULT_OK);
    s
}

fn accept(s: *mut ami_server) -> u64 {
    let (ip, len) = text("192.0.2.1");
    let mut sid = 0;
    assert_eq!(ami_server_accept(s, ip, len, 5038, 0, &mut sid), AMI_RESULT_OK);
    sid
}

/// Moves bytes both ways until nothing moves; returns the client's event kinds.
fn pump(c: *mut ami_client, s: *mut ami_server, sid: u64) -> Vec<ami_client_event_kind> {
    let mut kinds = Vec::new();
    loop {
        let mut moved = false;
        let mut out = empty_bytes();
        assert_eq!(ami_client_poll_transmit(c, &mut out), AMI_RESULT_OK);
        if out.len > 0 {
            assert_eq!(ami_server_handle_input(s, sid, out.data, out.len, 0), AMI_RESULT_OK);
            assert_eq!(ami_client_consume_transmit(c, out.len), AMI_RESULT_OK);
            moved = true;
        }
        assert_eq!(ami_server_poll_transmit(s, sid, &mut out), AMI_RESULT_OK);
        if out.len > 0 {
            assert_eq!(ami_client_handle_input(c, out.data, out.len), AMI_RESULT_OK);
            assert_eq!(ami_server_consume_transmit(s, sid, out.len), AMI_RESULT_OK);
            moved = true;
        }
        loop {
            let mut k = ami_client_event_kind::AMI_CLIENT_EVENT_OTHER;
            assert_eq!(ami_client_poll_event(c, &mut k), AMI_RESULT_OK);
            if k == ami_client_event_kind::AMI_CLIENT_EVENT_NONE {
                break;
            }
            kinds.push(k);
        }
        if !moved {
            return kinds;
        }
    }
}

/// The challenge a new server with `seed` gives its first session.
fn first_challenge(seed: u64) -> Vec<u8> {
    let (conf, len) = text(CONF);
    let mut s = ptr::null_mut();
    assert_eq!(ami_server_new(conf, len, ptr::null(), seed, &mut s), AMI_RESULT_OK);
    let sid = accept(s);
    let ask = b"Action: Challenge\r\nAuthType: MD5\r\n\r\n";
    assert_eq!(ami_server_handle_input(s, sid, ask.as_ptr(), ask.len(), 0), AMI_RESULT_OK);
    let mut out = empty_bytes();
    assert_eq!(ami_server_poll_transmit(s, sid, &mut out), AMI_RESULT_OK);
    let text = bytes(out).to_vec();
    ami_server_free(s);
    let at = text.windows(11).position(|w| w == b"Challenge: ").expect("a challenge");
    text[at + 11..].split(|b| *b == b'\r').next().unwrap().to_vec()
}

#[test]
fn challenges_come_from_the_os_unless_a_seed_asks_for_repeatability() {
    // Seed 0: the OS CSPRNG, a different challenge each time (equal by chance: 1 in 10^9).
    let (a, b) = (first_challenge(0), first_challenge(0));
    assert_ne!(a, b);
    // Any other seed: the same sequence, for tests.
    assert_eq!(first_challenge(7), first_challenge(7));
}

#[test]
fn client_and_server_talk_through_the_c_api() {
    let (c, s) = (new_client(), new_server());
    let sid = accept(s);
    assert_eq!(sid, 1);
    let (user, ulen) = text("admin");
    let (secret, slen) = text("s3cret");
    let mut id = empty_bytes();
    assert_eq!(
        ami_client_login(
            c,
            user,
            ulen,
            secret,
            slen,
            ami_login_method::AMI_LOGIN_MD5 as u32,
            &mut id
        ),
        AMI_RESULT_OK
    );
    assert!(!bytes(id).is_empty());
    let kinds = pump(c, s, sid);
    assert!(kinds.contains(&ami_client_event_kind::AMI_CLIENT_EVENT_LOGGED_IN), "{kinds:?}");
    let mut st = ami_client_state::AMI_CLIENT_CLOSED;
    assert_eq!(ami_client_get_state(c, &mut st), AMI_RESULT_OK);
    assert_eq!(st, ami_client_state::AMI_CLIENT_READY);

    // A Command answered by the application with command output.
    let (first, len) = text("Command");
    let mut b = ptr::null_mut();
    assert_eq!(ami_message_builder_new(1, first, len, &mut b), AMI_RESULT_OK);
    let (n, nl) = text("Command");
    let (v, vl) = text("core show uptime");
    assert_eq!(ami_message_builder_add_header(b, n, nl, v, vl), AMI_RESULT_OK);
    assert_eq!(ami_client_send_action(c, b, 0, ptr::null_mut()), AMI_RESULT_OK);
    let mut out = empty_bytes();
    assert_eq!(ami_client_poll_transmit(c, &mut out), AMI_RESULT_OK);
    assert_eq!(ami_server_handle_input(s, sid, out.data, out.len, 0), AMI_RESULT_OK);
    assert_eq!(ami_client_consume_transmit(c, out.len), AMI_RESULT_OK);
    let mut kind = ami_server_event_kind::AMI_SERVER_EVENT_NONE;
    let mut got = 0;
    loop {
        assert_eq!(ami_server_poll_event(s, &mut kind, &mut got), AMI_RESULT_OK);
        if kind == ami_server_event_kind::AMI_SERVER_EVENT_ACTION {
            break;
        }
        assert_ne!(kind, ami_server_event_kind::AMI_SERVER_EVENT_NONE);
    }
    assert_eq!(got, sid);
    let mut name = ami_str { data: ptr::null(), len: 0 };
    assert_eq!(ami_server_event_action_name(s, &mut name), AMI_RESULT_OK);
    assert_eq!(string(name), "Command");
    let mut count = 0;
    assert_eq!(ami_server_event_header_count(s, &mut count), AMI_RESULT_OK);
    assert!(count >= 2);
    let mut h = ami_header { name: empty_bytes(), value: empty_bytes(), bare: true };
    assert_eq!(ami_server_event_header(s, 0, &mut h), AMI_RESULT_OK);
    assert_eq!(bytes(h.name), b"Action");
    assert_eq!(ami_server_event_header(s, 99, &mut h), AMI_RESULT_NOT_FOUND);
    let (t, tl) = text("up 1 second\nmore\n");
    assert_eq!(ami_server_command_output(s, sid, true, t, tl), AMI_RESULT_OK);
    assert_eq!(ami_server_command_output(s, sid, true, t, tl), AMI_RESULT_NOT_FOUND);
    assert_eq!(ami_server_poll_transmit(s, sid, &mut out), AMI_RESULT_OK);
    assert_eq!(ami_client_handle_input(c, out.data, out.len), AMI_RESULT_OK);
    assert_eq!(ami_server_consume_transmit(s, sid, out.len), AMI_RESULT_OK);
    let mut k = ami_client_event_kind::AMI_CLIENT_EVENT_NONE;
    assert_eq!(ami_client_poll_event(c, &mut k), AMI_RESULT_OK);
    assert_eq!(k, ami_client_event_kind::AMI_CLIENT_EVENT_COMMAND_OUTPUT);
    let mut lines = [empty_bytes(); 2];
    let mut n = 0;
    assert_eq!(
        ami_client_event_output_lines(c, lines.as_mut_ptr(), 1, &mut n),
        AMI_RESULT_INSUFFICIENT_SIZE
    );
    assert_eq!(n, 2);
    assert_eq!(ami_client_event_output_lines(c, lines.as_mut_ptr(), 2, &mut n), AMI_RESULT_OK);
    assert_eq!(bytes(lines[0]), b"up 1 second");
    assert_eq!(bytes(lines[1]), b"more");
    let mut fin = false;
    assert_eq!(ami_client_event_is_final(c, &mut fin), AMI_RESULT_OK);
    assert!(fin);
    ami_message_builder_free(b);

    // EOF: the client closes.
    assert_eq!(ami_client_handle_eof(c), AMI_RESULT_OK);
    assert_eq!(ami_client_poll_event(c, &mut k), AMI_RESULT_OK);
    assert_eq!(k, ami_client_event_kind::AMI_CLIENT_EVENT_CLOSED);
    let mut reason = ami_close_reason::AMI_CLOSE_OTHER;
    assert_eq!(ami_client_event_close_reason(c, &mut reason, ptr::null_mut()), AMI_RESULT_OK);
    assert_eq!(reason, ami_close_reason::AMI_CLOSE_PEER_CLOSED);
    assert_eq!(ami_server_remove(s, sid), AMI_RESULT_OK);
    assert_eq!(ami_server_remove(s, sid), AMI_RESULT_NOT_FOUND);
    ami_client_free(c);
    ami_server_free(s);
}

#[test]
fn client_refusals_and_timeouts() {
    let mut cfg = ami_client_config {
        action_timeout_ms: 0,
        keepalive_interval_ms: 0,
        keepalive_timeout_ms: 0,
        max_in_flight: 0,
        max_transmit: 0,
        require_login: false,
        max_consecutive_timeouts: 7,
    };
    assert_eq!(ami_client_config_default(&mut cfg), AMI_RESULT_OK);
    assert_eq!(cfg.action_timeout_ms, 30_000);
    assert!(cfg.require_login);
    assert_eq!(cfg.max_consecutive_timeouts, 0, "off by default");
    cfg.action_timeout_ms = 500;
    let mut c = ptr::null_mut();
    assert_eq!(ami_client_new(&cfg, 1000, &mut c), AMI_RESULT_OK);
    let (first, len) = text("Ping");
    let mut b = ptr::null_mut();
    assert_eq!(ami_message_builder_new(1, first, len, &mut b), AMI_RESULT_OK);
    assert_eq!(ami_client_send_action(c, b, 1000, ptr::null_mut()), AMI_RESULT_REFUSED);
    let mut e = ami_str { data: ptr::null(), len: 0 };
    assert_eq!(ami_client_last_error(c, &mut e), AMI_RESULT_OK);
    assert_eq!(string(e), "not logged in");
    let (u, ul) = text("u");
    assert_eq!(ami_client_login(c, u, ul, u, ul, 0, ptr::null_mut()), AMI_RESULT_OK);
    let mut has = false;
    let mut at = 0;
    assert_eq!(ami_client_poll_timeout(c, &mut has, &mut at), AMI_RESULT_OK);
    assert!(has);
    assert_eq!(at, 1500);
    assert_eq!(ami_client_handle_timeout(c, 1500), AMI_RESULT_OK);
    let mut k = ami_client_event_kind::AMI_CLIENT_EVENT_NONE;
    assert_eq!(ami_client_poll_event(c, &mut k), AMI_RESULT_OK);
    assert_eq!(k, ami_client_event_kind::AMI_CLIENT_EVENT_ACTION_TIMED_OUT);
    let mut id = empty_bytes();
    assert_eq!(ami_client_event_action_id(c, &mut id), AMI_RESULT_OK);
    assert_eq!(bytes(id), b"ami-1");
    // An event builder is not an action.
    let mut ev = ptr::null_mut();
    assert_eq!(ami_message_builder_new(3, first, len, &mut ev), AMI_RESULT_OK);
    assert_eq!(ami_client_send_action(c, ev, 0, ptr::null_mut()), AMI_RESULT_INVALID_PARAMETER);
    ami_message_builder_free(ev);
    ami_message_builder_free(b);
    ami_client_free(c);
}

#[test]
fn client_consecutive_timeouts_close_it_as_unresponsive() {
    let mut cfg = default_config();
    cfg.action_timeout_ms = 100;
    cfg.max_consecutive_timeouts = 2;
    let mut c = ptr::null_mut();
    assert_eq!(ami_client_new(&cfg, 0, &mut c), AMI_RESULT_OK);
    let (u, ul) = text("u");
    assert_eq!(ami_client_login(c, u, ul, u, ul, 0, ptr::null_mut()), AMI_RESULT_OK);
    let answer: &[u8] = b"Asterisk Call Manager/11.0.0\r\n\
        Response: Success\r\nActionID: ami-1\r\nMessage: Authentication accepted\r\n\r\n";
    assert_eq!(ami_client_handle_input(c, answer.as_ptr(), answer.len()), AMI_RESULT_OK);
    let mut k = ami_client_event_kind::AMI_CLIENT_EVENT_NONE;
    while ami_client_poll_event(c, &mut k) == AMI_RESULT_OK
        && k != ami_client_event_kind::AMI_CLIENT_EVENT_NONE
    {}
    let (first, len) = text("Ping");
    let mut b = ptr::null_mut();
    assert_eq!(ami_message_builder_new(1, first, len, &mut b), AMI_RESULT_OK);
    for _ in 0..2 {
        assert_eq!(ami_client_send_action(c, b, 0, ptr::null_mut()), AMI_RESULT_OK);
    }
    assert_eq!(ami_client_handle_timeout(c, 100), AMI_RESULT_OK);
    let mut kinds = Vec::new();
    let mut reason = ami_close_reason::AMI_CLOSE_OTHER;
    while ami_client_poll_event(c, &mut k) == AMI_RESULT_OK
        && k != ami_client_event_kind::AMI_CLIENT_EVENT_NONE
    {
        kinds.push(k);
        if k == ami_client_event_kind::AMI_CLIENT_EVENT_CLOSED {
            let r = ami_client_event_close_reason(c, &mut reason, ptr::null_mut());
            assert_eq!(r, AMI_RESULT_OK);
        }
    }
    assert_eq!(
        kinds,
        [
            ami_client_event_kind::AMI_CLIENT_EVENT_ACTION_TIMED_OUT,
            ami_client_event_kind::AMI_CLIENT_EVENT_ACTION_TIMED_OUT,
            ami_client_event_kind::AMI_CLIENT_EVENT_CLOSED
        ]
    );
    assert_eq!(reason, ami_close_reason::AMI_CLOSE_UNRESPONSIVE);
    ami_message_builder_free(b);
    ami_client_free(c);
}

fn default_config() -> ami_client_config {
    let mut cfg = ami_client_config {
        action_timeout_ms: 0,
        keepalive_interval_ms: 0,
        keepalive_timeout_ms: 0,
        max_in_flight: 0,
        max_transmit: 0,
        require_login: false,
        max_consecutive_timeouts: 0,
    };
    assert_eq!(ami_client_config_default(&mut cfg), AMI_RESULT_OK);
    cfg
}

#[test]
fn session_exports_check_null_and_arguments() {
    let n = ptr::null_mut();
    let mut c = new_client();
    let s = new_server();
    let mut bts = empty_bytes();
    assert_eq!(ami_client_new(ptr::null(), 0, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_client_config_default(ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(
        ami_client_login(n, ptr::null(), 0, ptr::null(), 0, 0, n.cast()),
        AMI_RESULT_NULL_PARAMETER
    );
    assert_eq!(
        ami_client_login(c, ptr::null(), 3, ptr::null(), 0, 0, ptr::null_mut()),
        AMI_RESULT_NULL_PARAMETER
    );
    assert_eq!(
        ami_client_send_action(c, ptr::null(), 0, ptr::null_mut()),
        AMI_RESULT_NULL_PARAMETER
    );
    assert_eq!(ami_client_logoff(n, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_client_handle_input(c, ptr::null(), 1), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_client_handle_input(c, ptr::null(), 0), AMI_RESULT_OK);
    assert_eq!(ami_client_handle_eof(n), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_client_handle_timeout(n, 0), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_client_poll_event(c, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_client_event_action_id(c, &mut bts), AMI_RESULT_NO_FRAME);
    assert_eq!(ami_client_event_action_id(c, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_client_event_is_final(c, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_client_event_header_count(c, &mut 0), AMI_RESULT_NO_FRAME);
    assert_eq!(ami_client_event_header(c, 0, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_client_event_get(c, ptr::null(), 1, &mut bts), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(
        ami_client_event_output_lines(c, ptr::null_mut(), 1, &mut 0),
        AMI_RESULT_NULL_PARAMETER
    );
    assert_eq!(
        ami_client_event_close_reason(c, ptr::null_mut(), ptr::null_mut()),
        AMI_RESULT_NULL_PARAMETER
    );
    assert_eq!(ami_client_event_banner(c, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_client_poll_transmit(c, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_client_consume_transmit(n, 0), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_client_poll_timeout(c, ptr::null_mut(), &mut 0), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_client_get_state(c, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_client_last_error(ptr::null(), ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);

    let (conf, len) = text(CONF);
    assert_eq!(
        ami_server_new(conf, len, ptr::null(), 0, ptr::null_mut()),
        AMI_RESULT_NULL_PARAMETER
    );
    assert_eq!(
        ami_server_new(ptr::null(), 1, ptr::null(), 0, &mut ptr::null_mut()),
        AMI_RESULT_NULL_PARAMETER
    );
    assert_eq!(ami_server_options_default(ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    let (bad_ip, bl) = text("not an address");
    assert_eq!(ami_server_accept(s, bad_ip, bl, 1, 0, &mut 0), AMI_RESULT_INVALID_PARAMETER);
    assert_eq!(ami_server_accept(s, bad_ip, bl, 1, 0, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_server_handle_input(s, 7, ptr::null(), 0, 0), AMI_RESULT_NOT_FOUND);
    assert_eq!(ami_server_handle_eof(s, 7, 0), AMI_RESULT_NOT_FOUND);
    assert_eq!(ami_server_handle_timeout(ptr::null_mut(), 0), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_server_poll_timeout(s, ptr::null_mut(), &mut 0), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_server_poll_event(s, ptr::null_mut(), &mut 0), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(
        ami_server_event_action_name(s, &mut ami_str { data: ptr::null(), len: 0 }),
        AMI_RESULT_NO_FRAME
    );
    assert_eq!(ami_server_event_header_count(s, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_server_event_header(s, 0, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_server_event_get(s, ptr::null(), 1, &mut bts), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_server_event_username(s, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_server_event_disconnect_reason(s, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_server_ack(s, 1, ptr::null(), 1), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_server_error(s, 1, ptr::null(), 0), AMI_RESULT_NOT_FOUND);
    assert_eq!(ami_server_respond(s, 1, ptr::null()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(
        ami_server_list_start(ptr::null_mut(), 1, ptr::null(), 0),
        AMI_RESULT_NULL_PARAMETER
    );
    assert_eq!(ami_server_list_item(s, 1, ptr::null()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_server_list_complete(s, 1, ptr::null(), 1, 0), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_server_command_output(s, 1, true, ptr::null(), 1), AMI_RESULT_NULL_PARAMETER);
    let (ev, el) = text("Foo");
    assert_eq!(ami_server_publish(s, ev, el, 1, ptr::null(), 1, &mut 0), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(
        ami_server_publish(s, ev, el, 1, ptr::null(), 0, ptr::null_mut()),
        AMI_RESULT_NULL_PARAMETER
    );
    let mut delivered = 9;
    assert_eq!(ami_server_publish(s, ev, el, 1, ptr::null(), 0, &mut delivered), AMI_RESULT_OK);
    assert_eq!(delivered, 0);
    assert_eq!(ami_server_poll_transmit(s, 1, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_server_poll_transmit(s, 1, &mut bts), AMI_RESULT_NOT_FOUND);
    assert_eq!(ami_server_consume_transmit(s, 1, 0), AMI_RESULT_NOT_FOUND);
    assert_eq!(ami_server_remove(ptr::null_mut(), 1), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_server_last_error(s, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    let (bad, badl) = text("[general\n");
    let mut s2 = ptr::null_mut();
    assert_eq!(ami_server_new(bad, badl, ptr::null(), 0, &mut s2), AMI_RESULT_CONFIG_ERROR);
    assert!(s2.is_null(), "untouched on failure");
    ami_client_free(c);
    c = ptr::null_mut();
    ami_client_free(c);
    ami_server_free(s);
    ami_server_free(ptr::null_mut());
}

#[test]
fn a_panic_poisons_clients_and_servers() {
    let c = new_client();
    inject_panic();
    assert_eq!(ami_client_handle_input(c, b"x".as_ptr(), 1), AMI_RESULT_PANIC);
    let mut k = ami_client_event_kind::AMI_CLIENT_EVENT_BANNER;
    assert_eq!(ami_client_poll_event(c, &mut k), AMI_RESULT_POISONED);
    assert_eq!(k, ami_client_event_kind::AMI_CLIENT_EVENT_BANNER, "untouched");
    assert_eq!(ami_client_poll_transmit(c, &mut empty_bytes()), AMI_RESULT_POISONED);
    let mut e = ami_str { data: ptr::null(), len: 0 };
    assert_eq!(ami_client_last_error(c, &mut e), AMI_RESULT_OK);
    assert!(string(e).contains("injected panic"));
    ami_client_free(c);

    let s = new_server();
    inject_panic();
    assert_eq!(ami_server_poll_timeout(s, &mut false, &mut 0), AMI_RESULT_PANIC);
    assert_eq!(ami_server_handle_timeout(s, 0), AMI_RESULT_POISONED);
    ami_server_free(s);

    let mut out = ptr::null_mut();
    inject_panic();
    assert_eq!(ami_client_new(ptr::null(), 0, &mut out), AMI_RESULT_PANIC);
    assert!(out.is_null());
    let (conf, len) = text(CONF);
    let mut s = ptr::null_mut();
    inject_panic();
    assert_eq!(ami_server_new(conf, len, ptr::null(), 0, &mut s), AMI_RESULT_PANIC);
    assert!(s.is_null());
}

const ACCESS_CONF: &str = "[general]\nenabled = yes\n\n[admin]\nsecret = s3cret\nread = all\nwrite = all\n\n\
[monitor]\nsecret = m\nread = ,call\nwrite =\ndeny = 0.0.0.0/0\npermit = 10.0.0.0/8\n\
eventfilter(name(Hangup)) =\n";

fn load(strict: bool) -> (*mut ami_config, ami_result) {
    let mut c = ptr::null_mut();
    assert_eq!(ami_config_new(&mut c), AMI_RESULT_OK);
    let (t, n) = text(ACCESS_CONF);
    let r = ami_config_load(c, t, n, strict);
    (c, r)
}

#[test]
fn config_loads_users_rights_acl_filters_and_diagnostics() {
    let (c, r) = load(false);
    assert_eq!(r, AMI_RESULT_OK);
    let mut n = 0;
    assert_eq!(ami_config_user_count(c, &mut n), AMI_RESULT_OK);
    assert_eq!(n, 2);
    let (name, len) = text("MONITOR");
    let mut i = usize::MAX;
    assert_eq!(ami_config_find_user(c, name, len, &mut i), AMI_RESULT_OK);
    let mut u = ami_config_user {
        name: ami_str { data: ptr::null(), len: 0 },
        read: 0,
        write: 0,
        has_secret: false,
        allow_multiple_login: false,
        filter_count: 0,
    };
    assert_eq!(ami_config_get_user(c, i, &mut u), AMI_RESULT_OK);
    assert_eq!(string(u.name), "monitor");
    // `read = ,call` grants everything (Asterisk's empty-element quirk), reported below.
    assert_eq!(u.read, Privilege::ALL.bits());
    assert_eq!((u.write, u.has_secret, u.filter_count), (0, true, 1));
    let allowed = |ip: &str| {
        let (p, l) = text(ip);
        let mut out = false;
        assert_eq!(ami_config_user_permits(c, i, p, l, &mut out), AMI_RESULT_OK);
        out
    };
    assert!(allowed("10.1.2.3") && !allowed("127.0.0.1"));
    let send = |name: &str, ev: &str| {
        let mut out = false;
        let r = ami_config_user_should_send(
            c,
            i,
            name.as_ptr(),
            name.len(),
            ev.as_ptr(),
            ev.len(),
            &mut out,
        );
        assert_eq!(r, AMI_RESULT_OK);
        out
    };
    assert!(send("Hangup", "Event: Hangup\r\nPrivilege: call,all\r\n\r\n"));
    assert!(!send("Newchannel", "Event: Newchannel\r\nPrivilege: call,all\r\n\r\n"));
    let mut d = 0;
    assert_eq!(ami_config_diagnostic_count(c, &mut d), AMI_RESULT_OK);
    let texts: Vec<(String, u32)> = (0..d)
        .map(|k| {
            let mut t = ami_str { data: ptr::null(), len: 0 };
            let mut line = 0;
            assert_eq!(ami_config_diagnostic(c, k, &mut t, &mut line), AMI_RESULT_OK);
            (string(t).to_owned(), line)
        })
        .collect();
    assert!(texts.iter().any(|(t, l)| t.contains("empty element") && *l == 11), "{texts:?}");
    assert!(texts.iter().any(|(t, _)| t.contains("shell access")), "{texts:?}");
    let mut t = ami_str { data: ptr::null(), len: 0 };
    let mut line = 0;
    assert_eq!(ami_config_diagnostic(c, d, &mut t, &mut line), AMI_RESULT_NOT_FOUND);
    assert_eq!(ami_config_get_user(c, 2, &mut u), AMI_RESULT_NOT_FOUND);
    ami_config_free(c);
    ami_config_free(ptr::null_mut());
}

#[test]
fn strict_config_refuses_with_the_line_and_keeps_the_previous_content() {
    let (c, r) = load(true);
    assert_eq!(r, AMI_RESULT_CONFIG_ERROR);
    let mut line = 0;
    assert_eq!(ami_config_error_line(c, &mut line), AMI_RESULT_OK);
    assert_eq!(line, 11, "the first finding in file order: monitor's `read = ,call`");
    let mut e = ami_str { data: ptr::null(), len: 0 };
    assert_eq!(ami_config_last_error(c, &mut e), AMI_RESULT_OK);
    assert!(string(e).contains("read"), "{}", string(e));
    let mut n = 9;
    assert_eq!(ami_config_user_count(c, &mut n), AMI_RESULT_OK);
    assert_eq!(n, 0, "nothing was loaded");
    let (t, l) = text("[general]\nenabled=yes\n[bob\n");
    assert_eq!(ami_config_load(c, t, l, false), AMI_RESULT_CONFIG_ERROR);
    assert_eq!(ami_config_load(c, [0xffu8].as_ptr().cast(), 1, false), AMI_RESULT_CONFIG_ERROR);
    assert_eq!(ami_config_load(c, ptr::null(), 3, false), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_config_user_count(ptr::null(), &mut n), AMI_RESULT_NULL_PARAMETER);
    ami_config_free(c);
}

#[test]
fn filter_sets_evaluate_like_asterisk_and_refuse_bad_filters() {
    let mut f = ptr::null_mut();
    assert_eq!(ami_filter_set_new(&mut f), AMI_RESULT_OK);
    let add = |k: &str, v: &str| {
        let ((kp, kl), (vp, vl)) = (text(k), text(v));
        ami_filter_set_add(f, kp, kl, vp, vl)
    };
    let send = |name: &str, ev: &str| {
        let mut out = false;
        let r = ami_filter_set_should_send(
            f,
            name.as_ptr(),
            name.len(),
            ev.as_ptr(),
            ev.len(),
            &mut out,
        );
        assert_eq!(r, AMI_RESULT_OK);
        out
    };
    let local = "Event: Newchannel\r\nChannel: Local/1@x-0001;1\r\n\r\n";
    let pjsip = "Event: Newchannel\r\nChannel: PJSIP/100-0001\r\n\r\n";
    assert!(send("Newchannel", local), "no filters: everything passes");
    assert_eq!(add("eventfilter", "!Channel: Local/"), AMI_RESULT_OK);
    assert!(!send("Newchannel", local) && send("Newchannel", pjsip));
    // §9 case 29: the advanced form's default method is none, so a pattern needs a method.
    assert_eq!(add("eventfilter(name(Newchannel))", "X"), AMI_RESULT_FILTER_ERROR);
    let mut e = ami_str { data: ptr::null(), len: 0 };
    assert_eq!(ami_filter_set_last_error(f, &mut e), AMI_RESULT_OK);
    assert!(!string(e).is_empty());
    assert_eq!(add("eventfilter", "("), AMI_RESULT_FILTER_ERROR, "regex does not compile");
    assert!(send("Newchannel", pjsip), "unchanged after refusals");
    assert_eq!(ami_filter_set_add(f, ptr::null(), 3, ptr::null(), 0), AMI_RESULT_NULL_PARAMETER);
    ami_filter_set_free(f);
    ami_filter_set_free(ptr::null_mut());
}

#[test]
fn catalog_lookups_describe_actions_and_events() {
    let mut a = core::mem::MaybeUninit::<ami_action_desc>::uninit();
    let (name, len) = text("originate");
    assert_eq!(ami_action_info(name, len, a.as_mut_ptr()), AMI_RESULT_OK);
    // SAFETY: written on success.
    let a = unsafe { a.assume_init() };
    assert_eq!(string(a.name), "Originate");
    assert_eq!(a.authority, Privilege::ORIGINATE.bits());
    assert_eq!(a.escalation, AMI_ESCALATION_ORIGINATE);
    assert_eq!((string(a.module), string(a.since)), ("core", "0.2.0"));
    assert_eq!(a.required_count, 1);
    let mut required = Vec::new();
    for i in 0..a.parameter_count {
        let mut p = core::mem::MaybeUninit::<ami_parameter_desc>::uninit();
        assert_eq!(ami_action_parameter(a.index, i, p.as_mut_ptr()), AMI_RESULT_OK);
        // SAFETY: written on success.
        let p = unsafe { p.assume_init() };
        if p.required {
            required.push(string(p.name));
        }
        assert_eq!(p.repeatable, string(p.name) == "Variable");
    }
    assert_eq!(required, ["Channel"]);
    let mut p = core::mem::MaybeUninit::<ami_parameter_desc>::uninit();
    assert_eq!(
        ami_action_parameter(a.index, a.parameter_count, p.as_mut_ptr()),
        AMI_RESULT_NOT_FOUND
    );
    assert_eq!(ami_action_parameter(usize::MAX, 0, p.as_mut_ptr()), AMI_RESULT_NOT_FOUND);
    assert_eq!(ami_action_parameter(0, 0, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);

    let mut e = core::mem::MaybeUninit::<ami_event_desc>::uninit();
    let (name, len) = text("VoicemailPasswordChange");
    assert_eq!(ami_event_info(name, len, e.as_mut_ptr()), AMI_RESULT_OK);
    // SAFETY: written on success.
    let e = unsafe { e.assume_init() };
    assert_eq!(e.read_class, (Privilege::SYSTEM | Privilege::USER).bits());
    let mut f = ami_str::from("");
    let mut fields = Vec::new();
    for i in 0..e.field_count {
        assert_eq!(ami_event_field(e.index, i, &mut f), AMI_RESULT_OK);
        fields.push(string(f));
    }
    assert_eq!(fields, ["Context", "Mailbox", "NewPassword"]);
    assert_eq!(ami_event_field(e.index, e.field_count, &mut f), AMI_RESULT_NOT_FOUND);
    assert_eq!(ami_event_field(e.index, 0, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);

    let mut untouched = core::mem::MaybeUninit::<ami_event_desc>::uninit();
    let (name, len) = text("NoSuchEvent");
    assert_eq!(ami_event_info(name, len, untouched.as_mut_ptr()), AMI_RESULT_NOT_FOUND);
    let (name, len) = text("Hangup");
    assert_eq!(ami_event_info(name, len, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_action_info(ptr::null(), 3, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    let mut a2 = core::mem::MaybeUninit::<ami_action_desc>::uninit();
    let (name, len) = text("NoSuchAction");
    assert_eq!(ami_action_info(name, len, a2.as_mut_ptr()), AMI_RESULT_NOT_FOUND);
}

#[test]
fn catalog_enumerates_every_entry_in_order() {
    assert_eq!(ami_catalog_action_count(), 154);
    let mut names = Vec::new();
    for i in 0..ami_catalog_action_count() {
        let mut a = core::mem::MaybeUninit::<ami_action_desc>::uninit();
        assert_eq!(ami_catalog_action_at(i, a.as_mut_ptr()), AMI_RESULT_OK);
        // SAFETY: written on success.
        let a = unsafe { a.assume_init() };
        assert_eq!(a.index, i);
        names.push(string(a.name));
    }
    assert!(names.windows(2).all(|w| w[0].to_lowercase() < w[1].to_lowercase()));
    let mut a = core::mem::MaybeUninit::<ami_action_desc>::uninit();
    assert_eq!(ami_catalog_action_at(154, a.as_mut_ptr()), AMI_RESULT_NOT_FOUND);
    assert_eq!(ami_catalog_action_at(0, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    let count = ami_catalog_event_count();
    assert_eq!(count, ami_catalog::events().len());
    for i in 0..count {
        let mut e = core::mem::MaybeUninit::<ami_event_desc>::uninit();
        assert_eq!(ami_catalog_event_at(i, e.as_mut_ptr()), AMI_RESULT_OK);
        // SAFETY: written on success.
        assert_eq!(unsafe { e.assume_init() }.index, i);
    }
    let mut e = core::mem::MaybeUninit::<ami_event_desc>::uninit();
    assert_eq!(ami_catalog_event_at(count, e.as_mut_ptr()), AMI_RESULT_NOT_FOUND);
    assert_eq!(ami_catalog_event_at(count, ptr::null_mut()), AMI_RESULT_NULL_PARAMETER);
    // SAFETY: a static NUL-terminated string.
    let version = unsafe { CStr::from_ptr(ami_catalog_asterisk_version()) };
    assert_eq!(version.to_str().unwrap(), ami_catalog::ASTERISK_VERSION);
}

// ---------------------------------------------------------------------------------------------
// ami_config_edit and ami_secret_generate
// ---------------------------------------------------------------------------------------------

fn new_edit(conf: &str, strict: bool) -> *mut ami_config_edit {
    let mut e = ptr::null_mut();
    assert_eq!(ami_config_edit_new(&mut e), AMI_RESULT_OK);
    let (t, n) = text(conf);
    assert_eq!(ami_config_edit_load(e, t, n, strict), AMI_RESULT_OK);
    e
}

fn edit_text<'a>(e: *const ami_config_edit) -> &'a str {
    let mut s = ami_str { data: ptr::null(), len: 0 };
    assert_eq!(ami_config_edit_text(e, &mut s), AMI_RESULT_OK);
    string(s)
}

fn edit_error<'a>(e: *const ami_config_edit) -> &'a str {
    let mut s = ami_str { data: ptr::null(), len: 0 };
    assert_eq!(ami_config_edit_last_error(e, &mut s), AMI_RESULT_OK);
    string(s)
}

fn no_settings() -> ami_user_settings {
    ami_user_settings {
        set: 0,
        unset: 0,
        secret: ptr::null(),
        secret_len: 0,
        read: 0,
        write: 0,
        acl: ptr::null(),
        acl_len: 0,
        filters: ptr::null(),
        filters_len: 0,
        displayconnects: false,
        allowmultiplelogin: false,
        writetimeout_ms: 0,
        setvars: ptr::null(),
        setvars_len: 0,
    }
}

#[test]
fn config_edit_adds_updates_renames_and_removes_users() {
    let conf = "[general]\nenabled = yes\n\n[admin]\nsecret = Adm1n-Secret-99 ; old\nread = all\nwrite = all\n";
    let e = new_edit(conf, false);
    assert_eq!(edit_text(e), conf);
    let secret = "Zk4hW9qLr2Vx7Tn3";
    let rules = [
        ami_acl_rule {
            kind: ami_acl_kind::AMI_ACL_DENY as u32,
            value: text("0.0.0.0/0").0,
            value_len: 9,
        },
        ami_acl_rule {
            kind: ami_acl_kind::AMI_ACL_DENY as u32,
            value: text("::/0").0,
            value_len: 4,
        },
        ami_acl_rule {
            kind: ami_acl_kind::AMI_ACL_PERMIT as u32,
            value: text("10.0.0.0/8").0,
            value_len: 10,
        },
    ];
    let filters = [ami_filter_line {
        key: text("eventfilter").0,
        key_len: 11,
        value: text("Event: Hangup").0,
        value_len: 13,
    }];
    let vars = [ami_setvar { name: text("CRM").0, name_len: 3, value: text("1").0, value_len: 1 }];
    let settings = ami_user_settings {
        set: AMI_USER_SECRET
            | AMI_USER_READ
            | AMI_USER_WRITE
            | AMI_USER_ACL
            | AMI_USER_EVENTFILTERS
            | AMI_USER_WRITETIMEOUT
            | AMI_USER_SETVARS
            | AMI_USER_DISPLAYCONNECTS,
        secret: text(secret).0,
        secret_len: secret.len(),
        read: AMI_PERM_CALL | AMI_PERM_CDR,
        write: AMI_PERM_ORIGINATE,
        acl: rules.as_ptr(),
        acl_len: rules.len(),
        filters: filters.as_ptr(),
        filters_len: filters.len(),
        writetimeout_ms: 250,
        setvars: vars.as_ptr(),
        setvars_len: vars.len(),
        displayconnects: false,
        ..no_settings()
    };
    let (n, l) = text("crm");
    assert_eq!(ami_config_edit_add_user(e, n, l, &settings), AMI_RESULT_OK);
    assert_eq!(
        &edit_text(e)[conf.len()..],
        "\n[crm]\nsecret = Zk4hW9qLr2Vx7Tn3\nread = call,cdr\nwrite = originate\ndeny = 0.0.0.0/0\n\
         deny = ::/0\npermit = 10.0.0.0/8\neventfilter = Event: Hangup\ndisplayconnects = no\n\
         writetimeout = 250\nsetvar = CRM=1\n"
    );
    let mut count = 0;
    assert_eq!(ami_config_edit_finding_count(e, &mut count), AMI_RESULT_OK);
    let mut codes = Vec::new();
    for i in 0..count {
        let (mut code, mut message) =
            (ami_str { data: ptr::null(), len: 0 }, ami_str { data: ptr::null(), len: 0 });
        let mut severity = 9;
        assert_eq!(
            ami_config_edit_finding(e, i, &mut code, &mut severity, &mut message),
            AMI_RESULT_OK
        );
        assert!(severity == 1 && !string(message).is_empty());
        codes.push(string(code).to_owned());
    }
    assert_eq!(codes, ["originate-escalation"]);
    let mut s = ami_str { data: ptr::null(), len: 0 };
    let mut severity = 0;
    assert_eq!(
        ami_config_edit_finding(e, count, &mut s, &mut severity, &mut s),
        AMI_RESULT_NOT_FOUND
    );

    // Update: the winning line changes, its comment stays; unset removes the key.
    let update = ami_user_settings {
        set: AMI_USER_READ,
        unset: AMI_USER_SECRET,
        read: AMI_PERM_SYSTEM,
        ..no_settings()
    };
    let (n, l) = text("ADMIN");
    assert_eq!(ami_config_edit_update_user(e, n, l, &update), AMI_RESULT_OK);
    assert!(
        edit_text(e)
            .starts_with("[general]\nenabled = yes\n\n[admin]\nread = system\nwrite = all\n")
    );
    let mut notes = 0;
    assert_eq!(ami_config_edit_note_count(e, &mut notes), AMI_RESULT_OK);
    assert_eq!(notes, 2);
    assert_eq!(ami_config_edit_note(e, 1, &mut s), AMI_RESULT_OK);
    assert!(string(s).contains("manager reload"));

    // Refused: an empty element never reaches the file; the reason and line are given.
    let (n, l) = text("admin");
    assert_eq!(ami_config_edit_add_user(e, n, l, ptr::null()), AMI_RESULT_EDIT_REFUSED);
    assert!(edit_error(e).contains("already used"));
    let mut line = 0;
    assert_eq!(ami_config_edit_error_line(e, &mut line), AMI_RESULT_OK);
    assert_eq!(line, 4);
    let bad = ami_user_settings { set: AMI_USER_READ, read: 1 << 14, ..no_settings() };
    assert_eq!(ami_config_edit_update_user(e, n, l, &bad), AMI_RESULT_EDIT_REFUSED);
    let bits = ami_user_settings { set: 1 << 20, ..no_settings() };
    assert_eq!(ami_config_edit_update_user(e, n, l, &bits), AMI_RESULT_INVALID_PARAMETER);
    let both = ami_user_settings { set: AMI_USER_SECRET, unset: AMI_USER_SECRET, ..no_settings() };
    assert_eq!(ami_config_edit_update_user(e, n, l, &both), AMI_RESULT_INVALID_PARAMETER);
    let kind = [ami_acl_rule { kind: 7, value: text("x").0, value_len: 1 }];
    let acl =
        ami_user_settings { set: AMI_USER_ACL, acl: kind.as_ptr(), acl_len: 1, ..no_settings() };
    assert_eq!(ami_config_edit_update_user(e, n, l, &acl), AMI_RESULT_INVALID_PARAMETER);
    let null_acl = ami_user_settings { set: AMI_USER_ACL, acl_len: 2, ..no_settings() };
    assert_eq!(ami_config_edit_update_user(e, n, l, &null_acl), AMI_RESULT_NULL_PARAMETER);
    assert_eq!(ami_config_edit_update_user(e, n, l, ptr::null()), AMI_RESULT_NULL_PARAMETER);

    // Rename, remove, AMI off.
    let (from, fl) = text("crm");
    let (to, tl) = text("crm2");
    assert_eq!(ami_config_edit_rename_user(e, from, fl, to, tl), AMI_RESULT_OK);
    assert!(edit_text(e).contains("\n[crm2]\n"));
    assert_eq!(ami_config_edit_remove_user(e, to, tl), AMI_RESULT_OK);
    assert!(!edit_text(e).contains("crm"));
    assert_eq!(ami_config_edit_set_enabled(e, false), AMI_RESULT_OK);
    assert!(edit_text(e).starts_with("[general]\nenabled = no\n"));
    ami_config_edit_free(e);
    ami_config_edit_free(ptr::null_mut());
}

#[test]
fn config_edit_includes_loading_errors_and_poisoning() {
    let mut e = ptr::null_mut();
    assert_eq!(ami_config_edit_new(&mut e), AMI_RESULT_OK);
    let (t, n) = text("[general]\nenabled = yes\n");
    // Nothing loaded yet.
    assert_eq!(ami_config_edit_set_enabled(e, true), AMI_RESULT_REFUSED);
    let mut s = ami_str { data: ptr::null(), len: 0 };
    assert_eq!(ami_config_edit_text(e, &mut s), AMI_RESULT_REFUSED);
    let (name, nl) = text("users/bob.conf");
    let (body, bl) = text("[bob]\r\nsecret = B0b-Secret-2024\r\nread = all\r\n");
    assert_eq!(ami_config_edit_add_include(e, name, nl, body, bl), AMI_RESULT_OK);
    let main = "[general]\nenabled = yes\n#include users/*.conf\n";
    let (t2, n2) = text(main);
    assert_eq!(ami_config_edit_load(e, t2, n2, false), AMI_RESULT_OK);
    let update = ami_user_settings { set: AMI_USER_READ, read: AMI_PERM_CALL, ..no_settings() };
    let (u, ul) = text("bob");
    assert_eq!(ami_config_edit_update_user(e, u, ul, &update), AMI_RESULT_OK);
    assert_eq!(edit_text(e), main);
    let mut files = 0;
    assert_eq!(ami_config_edit_file_count(e, &mut files), AMI_RESULT_OK);
    assert_eq!(files, 1);
    let (mut fname, mut ftext, mut changed) = (s, s, false);
    assert_eq!(ami_config_edit_file(e, 0, &mut fname, &mut ftext, &mut changed), AMI_RESULT_OK);
    assert_eq!((string(fname), changed), ("users/bob.conf", true));
    assert_eq!(string(ftext), "[bob]\r\nsecret = B0b-Secret-2024\r\nread = call\r\n");
    assert_eq!(
        ami_config_edit_file(e, 1, &mut fname, &mut ftext, &mut changed),
        AMI_RESULT_NOT_FOUND
    );
    // A file Asterisk refuses: the line is given; the previous text stays.
    let (bad, bl) = text("[general]\n[broken\n");
    assert_eq!(ami_config_edit_load(e, bad, bl, false), AMI_RESULT_CONFIG_ERROR);
    let mut line = 0;
    assert_eq!(ami_config_edit_error_line(e, &mut line), AMI_RESULT_OK);
    assert_eq!(line, 2);
    assert_eq!(edit_text(e), main);
    assert_eq!(
        ami_config_edit_load(e, [0xffu8].as_ptr().cast(), 1, false),
        AMI_RESULT_INVALID_PARAMETER
    );
    assert_eq!(ami_config_edit_load(e, ptr::null(), 1, false), AMI_RESULT_NULL_PARAMETER);
    // Strict: dangerous grants are refused.
    assert_eq!(ami_config_edit_load(e, t, n, true), AMI_RESULT_OK);
    let root = ami_user_settings { set: AMI_USER_WRITE, write: AMI_PERM_SYSTEM, ..no_settings() };
    let (r, rl) = text("root");
    assert_eq!(ami_config_edit_add_user(e, r, rl, &root), AMI_RESULT_EDIT_REFUSED);
    assert!(edit_error(e).contains("shell-write"));
    // A panic poisons the handle; last_error and free still work.
    inject_panic();
    assert_eq!(ami_config_edit_set_enabled(e, true), AMI_RESULT_PANIC);
    assert_eq!(ami_config_edit_set_enabled(e, true), AMI_RESULT_POISONED);
    assert!(edit_error(e).contains("injected panic"));
    ami_config_edit_free(e);
}

#[test]
fn secrets_are_generated_from_the_os() {
    let mut buf = [0 as c_char; 40];
    let mut written = 0;
    assert_eq!(ami_secret_generate(32, buf.as_mut_ptr(), buf.len(), &mut written), AMI_RESULT_OK);
    assert_eq!(written, 32);
    // SAFETY: libami wrote a NUL-terminated string into `buf`.
    let secret = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32);
    assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(ami_secret_generate(32, buf.as_mut_ptr(), buf.len(), &mut written), AMI_RESULT_OK);
    // SAFETY: as above.
    let other = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
    assert_ne!(secret, other);
    assert_eq!(
        ami_secret_generate(32, buf.as_mut_ptr(), 32, &mut written),
        AMI_RESULT_INSUFFICIENT_SIZE
    );
    assert_eq!(written, 32);
    assert_eq!(
        ami_secret_generate(15, buf.as_mut_ptr(), buf.len(), &mut written),
        AMI_RESULT_INVALID_PARAMETER
    );
    assert_eq!(
        ami_secret_generate(257, buf.as_mut_ptr(), buf.len(), &mut written),
        AMI_RESULT_INVALID_PARAMETER
    );
    assert_eq!(
        ami_secret_generate(16, ptr::null_mut(), 17, &mut written),
        AMI_RESULT_NULL_PARAMETER
    );
    assert_eq!(
        ami_secret_generate(16, buf.as_mut_ptr(), 17, ptr::null_mut()),
        AMI_RESULT_NULL_PARAMETER
    );
}
