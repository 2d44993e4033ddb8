//! Asterisk's access semantics without a handle (permissions, event categories, MD5 keys) and
//! the `ami_acl` handle.

use core::ffi::c_char;
use std::net::IpAddr;

use ami_proto::acl::{AclList, NamedAcls};
use ami_proto::auth::md5_key;
use ami_proto::authority::{action_authority, event_category};
use ami_proto::perm::{self, Privilege, Strictness, parse_perm};

use crate::error::{
    HandleState, ami_result, ami_str, copy_out, free_handle, guard, input, input_text, last_error,
    new_handle, with_mut, with_ref, write,
};
use ami_result::*;

/// Permission class `system` (bit 0).
pub const AMI_PERM_SYSTEM: u32 = 1 << 0;
/// Permission class `call`.
pub const AMI_PERM_CALL: u32 = 1 << 1;
/// Permission class `log`.
pub const AMI_PERM_LOG: u32 = 1 << 2;
/// Permission class `verbose`.
pub const AMI_PERM_VERBOSE: u32 = 1 << 3;
/// Permission class `command`.
pub const AMI_PERM_COMMAND: u32 = 1 << 4;
/// Permission class `agent`.
pub const AMI_PERM_AGENT: u32 = 1 << 5;
/// Permission class `user`.
pub const AMI_PERM_USER: u32 = 1 << 6;
/// Permission class `config`.
pub const AMI_PERM_CONFIG: u32 = 1 << 7;
/// Permission class `dtmf`.
pub const AMI_PERM_DTMF: u32 = 1 << 8;
/// Permission class `reporting`.
pub const AMI_PERM_REPORTING: u32 = 1 << 9;
/// Permission class `cdr`.
pub const AMI_PERM_CDR: u32 = 1 << 10;
/// Permission class `dialplan`.
pub const AMI_PERM_DIALPLAN: u32 = 1 << 11;
/// Permission class `originate`.
pub const AMI_PERM_ORIGINATE: u32 = 1 << 12;
/// Permission class `agi`.
pub const AMI_PERM_AGI: u32 = 1 << 13;
/// Permission class `cc`.
pub const AMI_PERM_CC: u32 = 1 << 15;
/// Permission class `aoc`.
pub const AMI_PERM_AOC: u32 = 1 << 16;
/// Permission class `test`.
pub const AMI_PERM_TEST: u32 = 1 << 17;
/// Permission class `security`.
pub const AMI_PERM_SECURITY: u32 = 1 << 18;
/// Permission class `message`.
pub const AMI_PERM_MESSAGE: u32 = 1 << 30;
/// Every permission (`all`, Asterisk's `INT_MAX`).
pub const AMI_PERM_ALL: u32 = 0x7FFF_FFFF;

/// Parses a manager.conf `read=`/`write=` value (`len` bytes) exactly as Asterisk's `get_perm`,
/// quirks included (`,call` grants everything, `sys,call` is system+call, labels are
/// case-sensitive, `call, log` is call only), and writes the mask to `out`. Never fails on
/// content.
#[unsafe(no_mangle)]
pub extern "C" fn ami_perm_parse(text: *const c_char, len: usize, out: *mut u32) -> ami_result {
    guard(|| {
        let text = match input_text(text, len) {
            Ok(t) => t,
            Err(e) => return e,
        };
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        // Labels are ASCII, so a byte that is not UTF-8 can match none of them whether it is
        // kept or replaced: the lossy conversion yields Asterisk's mask.
        let text = String::from_utf8_lossy(text);
        match parse_perm(&text, Strictness::AsteriskCompatible) {
            Ok(p) => write(out, p.privilege.bits()),
            Err(_) => AMI_RESULT_INVALID_PARAMETER,
        }
    })
}

/// Renders a mask as Asterisk's `Privilege:` header text (`call,all`; `<none>` for 0) into `buf`
/// (`cap` bytes) with a NUL terminator, and writes the text length (without the NUL) to
/// `written`. `AMI_RESULT_INSUFFICIENT_SIZE` if `cap` is not more than that length: then nothing
/// is copied and `written` receives the length (`buf` may be NULL when `cap` is 0).
#[unsafe(no_mangle)]
pub extern "C" fn ami_perm_render(
    mask: u32,
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> ami_result {
    guard(|| {
        let text = Privilege::from_bits(mask).render();
        copy_out(text.as_bytes(), buf.cast(), cap, written, true)
    })
}

/// Writes to `out` whether a session with write permissions `write` may run `action` (`len`
/// bytes, case-insensitive): yes if the action's authority is 0 or shares **any** bit with
/// `write` (Asterisk §4.4). `AMI_RESULT_NOT_FOUND` for an action libami does not know.
#[unsafe(no_mangle)]
pub extern "C" fn ami_perm_may_run(
    write_perm: u32,
    action: *const c_char,
    len: usize,
    out: *mut bool,
) -> ami_result {
    guard(|| {
        let action = match input_text(action, len) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match action_authority(action) {
            Some(authority) => {
                write(out, perm::may_run(Privilege::from_bits(write_perm), authority))
            }
            None => AMI_RESULT_NOT_FOUND,
        }
    })
}

/// Writes the authority (required write classes) of `action` (`len` bytes, case-insensitive).
/// `AMI_RESULT_NOT_FOUND` for an action libami does not know.
#[unsafe(no_mangle)]
pub extern "C" fn ami_action_authority(
    action: *const c_char,
    len: usize,
    out: *mut u32,
) -> ami_result {
    guard(|| {
        let action = match input_text(action, len) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match action_authority(action) {
            Some(authority) => write(out, authority.bits()),
            None => AMI_RESULT_NOT_FOUND,
        }
    })
}

/// Writes the category mask Asterisk emits the event `name` (`len` bytes, case-sensitive as in
/// `Event:`) with, e.g. `AMI_PERM_SYSTEM | AMI_PERM_USER` for `VoicemailPasswordChange`.
/// `AMI_RESULT_NOT_FOUND` for an event libami does not know.
#[unsafe(no_mangle)]
pub extern "C" fn ami_event_category(name: *const c_char, len: usize, out: *mut u32) -> ami_result {
    guard(|| {
        let name = match input_text(name, len) {
            Ok(n) => n,
            Err(e) => return e,
        };
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match event_category(name) {
            Some(category) => write(out, category.bits()),
            None => AMI_RESULT_NOT_FOUND,
        }
    })
}

/// Writes to `out` whether a session whose event mask is `send_events` receives an event of
/// `category`: only if **every** bit of the category is enabled (Asterisk §4.5).
#[unsafe(no_mangle)]
pub extern "C" fn ami_perm_may_receive(
    send_events: u32,
    category: u32,
    out: *mut bool,
) -> ami_result {
    guard(|| {
        let may =
            perm::may_receive(Privilege::from_bits(send_events), Privilege::from_bits(category));
        write(out, may)
    })
}

/// Computes the MD5 login key, lower-case hex of MD5(challenge ‖ secret), and writes its 32
/// characters and a NUL to `buf`, which must hold at least 33 bytes
/// (`AMI_RESULT_INSUFFICIENT_SIZE` otherwise, nothing written).
#[unsafe(no_mangle)]
pub extern "C" fn ami_md5_key(
    challenge: *const c_char,
    challenge_len: usize,
    secret: *const c_char,
    secret_len: usize,
    buf: *mut c_char,
    cap: usize,
) -> ami_result {
    guard(|| {
        let (challenge, secret) =
            match (input_text(challenge, challenge_len), input_text(secret, secret_len)) {
                (Ok(c), Ok(s)) => (c, s),
                (Err(e), _) | (_, Err(e)) => return e,
            };
        if buf.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        if cap < 33 {
            return AMI_RESULT_INSUFFICIENT_SIZE;
        }
        let key = md5_key(challenge, secret);
        let mut written = 0usize;
        copy_out(&key, buf.cast(), cap, &mut written, true)
    })
}

/// The network ACL of one manager user (opaque): its `permit=`, `deny=` and `acl=` lines in file
/// order, evaluated like Asterisk (last match wins, IPv4 rules ignore IPv6 peers, an `acl=` name
/// is undefined here and so denies everyone). Not thread-safe.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ami_acl {
    list: AclList,
    named: NamedAcls,
    state: HandleState,
}

crate::error::impl_handle!(ami_acl);

/// Creates an empty ACL (which permits every address). Free it with `ami_acl_free`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_acl_new(out: *mut *mut ami_acl) -> ami_result {
    guard(|| {
        let acl = ami_acl {
            list: AclList::default(),
            named: NamedAcls::default(),
            state: HandleState::default(),
        };
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        new_handle(out, acl)
    })
}

/// Frees an ACL. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn ami_acl_free(acl: *mut ami_acl) {
    free_handle(acl);
}

/// Appends one manager.conf line: `key` as written (`permit`, `deny`, `acl`: the sense comes from
/// its first letter, as in Asterisk) and its raw `value`. `AMI_RESULT_ACL_ERROR` for an entry
/// Asterisk refuses (a port, a bad address or mask, ...; Asterisk would delete the user): the ACL
/// is unchanged and `ami_acl_last_error` says why. `AMI_RESULT_INVALID_PARAMETER` if either text
/// is not UTF-8.
#[unsafe(no_mangle)]
pub extern "C" fn ami_acl_add_line(
    acl: *mut ami_acl,
    key: *const c_char,
    key_len: usize,
    value: *const c_char,
    value_len: usize,
) -> ami_result {
    with_mut(acl, |a| {
        let (key, value) = match (input_text(key, key_len), input_text(value, value_len)) {
            (Ok(k), Ok(v)) => (k, v),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        let (Ok(key), Ok(value)) = (core::str::from_utf8(key), core::str::from_utf8(value)) else {
            a.state.last_error = "key and value must be UTF-8".to_owned();
            return AMI_RESULT_INVALID_PARAMETER;
        };
        match a.list.add_line(key, value, &a.named) {
            Ok(_) => AMI_RESULT_OK,
            Err(e) => {
                a.state.last_error = e.to_string();
                AMI_RESULT_ACL_ERROR
            }
        }
    })
}

/// Writes to `out` whether the peer address `ip` (`len` bytes of numeric IPv4 or IPv6 text, e.g.
/// `"10.0.0.1"`, `"::1"`) passes the ACL. `AMI_RESULT_INVALID_PARAMETER` if `ip` is not an
/// address.
#[unsafe(no_mangle)]
pub extern "C" fn ami_acl_permits(
    acl: *const ami_acl,
    ip: *const c_char,
    len: usize,
    out: *mut bool,
) -> ami_result {
    with_ref(acl, |a| {
        let ip = match input(ip.cast(), len) {
            Ok(i) => i,
            Err(e) => return e,
        };
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let Some(peer) = core::str::from_utf8(ip).ok().and_then(|s| s.parse::<IpAddr>().ok())
        else {
            return AMI_RESULT_INVALID_PARAMETER;
        };
        write(out, a.list.permits(peer))
    })
}

/// Writes the text of the last failure of a non-const call on this ACL (empty if that call
/// succeeded). Also works on a poisoned ACL.
#[unsafe(no_mangle)]
pub extern "C" fn ami_acl_last_error(acl: *const ami_acl, out: *mut ami_str) -> ami_result {
    last_error(acl, out)
}
