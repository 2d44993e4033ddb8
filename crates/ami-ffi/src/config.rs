//! `manager.conf` and event filters for C: the `ami_config` and `ami_filter_set` handles.
//!
//! An `ami_config` loads manager.conf text exactly as Asterisk does (the core reads no files:
//! pass the text; `#include` is not resolved here) and exposes the users, their rights, ACL and
//! filter decisions, and the diagnostics that report quirks granting more than they seem.

use core::ffi::c_char;
use std::net::IpAddr;

use ami_proto::config::{ConfigOptions, ManagerConfig, NoIncludes, parse_manager_conf};
use ami_proto::filter::{EventFilter, FilterSet};
use ami_proto::perm::Strictness;

use crate::error::{
    HandleState, ami_result, ami_str, free_handle, guard, input, input_text, last_error,
    new_handle, with_mut, with_ref, write,
};
use ami_result::*;

/// A loaded manager.conf. Create with `ami_config_new`, fill with `ami_config_load`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ami_config {
    config: Option<ManagerConfig>,
    /// Each diagnostic rendered once, with its line, so that views can point at it.
    diagnostics: Vec<(String, u32)>,
    error_line: u32,
    state: HandleState,
}

crate::error::impl_handle!(ami_config);

/// One user of a loaded manager.conf. `name` points into the `ami_config` (valid until its next
/// non-const call).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ami_config_user {
    /// The section name (the user name; logins compare it case-insensitively).
    pub name: ami_str,
    /// `read=` classes (`AMI_PERM_*` bits).
    pub read: u32,
    /// `write=` classes (`AMI_PERM_*` bits).
    pub write: u32,
    /// The user has a `secret=` line (without one, nobody can log in as this user).
    pub has_secret: bool,
    /// `allowmultiplelogin` for this user.
    pub allow_multiple_login: bool,
    /// Number of valid `eventfilter` lines.
    pub filter_count: usize,
}

/// Creates an empty configuration (no users). Free it with `ami_config_free`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_new(out: *mut *mut ami_config) -> ami_result {
    guard(|| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let config = ami_config {
            config: None,
            diagnostics: Vec::new(),
            error_line: 0,
            state: Default::default(),
        };
        new_handle(out, config)
    })
}

/// Frees a configuration. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_free(config: *mut ami_config) {
    free_handle(config);
}

/// Loads `len` bytes of manager.conf text, replacing what was loaded before. `strict` selects
/// strict mode: permission quirks, write classes equal to shell access and empty secrets are
/// errors instead of diagnostics. `AMI_RESULT_CONFIG_ERROR` if Asterisk would refuse the file
/// (or, in strict mode, on the first dangerous finding): the previous content is kept,
/// `ami_config_last_error` says why and `ami_config_error_line` where.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_load(
    config: *mut ami_config,
    text: *const c_char,
    len: usize,
    strict: bool,
) -> ami_result {
    with_mut(config, |c| {
        let text = match input_text(text, len) {
            Ok(t) => t,
            Err(e) => return e,
        };
        let Ok(text) = core::str::from_utf8(text) else {
            c.state.last_error = "manager.conf text is not UTF-8".to_owned();
            c.error_line = 0;
            return AMI_RESULT_CONFIG_ERROR;
        };
        let strictness = if strict { Strictness::Strict } else { Strictness::AsteriskCompatible };
        let opts = ConfigOptions { strictness, ..ConfigOptions::default() };
        match parse_manager_conf(text, &mut NoIncludes, &opts) {
            Ok(loaded) => {
                c.diagnostics =
                    loaded.diagnostics.iter().map(|d| (d.kind.to_string(), d.line)).collect();
                c.config = Some(loaded);
                AMI_RESULT_OK
            }
            Err(e) => {
                c.state.last_error = e.to_string();
                c.error_line = e.line;
                AMI_RESULT_CONFIG_ERROR
            }
        }
    })
}

/// Writes the line of the last `ami_config_load` error (0 if it had none).
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_error_line(config: *const ami_config, out: *mut u32) -> ami_result {
    with_ref(config, |c| write(out, c.error_line))
}

/// Writes the number of users.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_user_count(config: *const ami_config, out: *mut usize) -> ami_result {
    with_ref(config, |c| write(out, c.config.as_ref().map_or(0, |m| m.users.len())))
}

/// Writes user `index` (0-based). `AMI_RESULT_NOT_FOUND` past the last user.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_get_user(
    config: *const ami_config,
    index: usize,
    out: *mut ami_config_user,
) -> ami_result {
    with_ref(config, |c| {
        let Some(u) = c.config.as_ref().and_then(|m| m.users.get(index)) else {
            return AMI_RESULT_NOT_FOUND;
        };
        write(
            out,
            ami_config_user {
                name: ami_str::from(&u.name),
                read: u.read.bits(),
                write: u.write.bits(),
                has_secret: u.secret.is_some(),
                allow_multiple_login: u.allow_multiple_login,
                filter_count: u.filters.len(),
            },
        )
    })
}

/// Finds a user by name as a Login does (ASCII case-insensitive) and writes its index.
/// `AMI_RESULT_NOT_FOUND` if there is none.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_find_user(
    config: *const ami_config,
    name: *const c_char,
    len: usize,
    out: *mut usize,
) -> ami_result {
    with_ref(config, |c| {
        let name = match input_text(name, len) {
            Ok(n) => n,
            Err(e) => return e,
        };
        let users = c.config.as_ref().map_or(&[][..], |m| &m.users[..]);
        match users.iter().position(|u| u.name.as_bytes().eq_ignore_ascii_case(name)) {
            Some(i) => write(out, i),
            None => AMI_RESULT_NOT_FOUND,
        }
    })
}

/// Writes whether user `index`'s network ACL (`permit`/`deny`/`acl`) lets the peer address `ip`
/// (`len` bytes of numeric IPv4 or IPv6 text) log in.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_user_permits(
    config: *const ami_config,
    index: usize,
    ip: *const c_char,
    len: usize,
    out: *mut bool,
) -> ami_result {
    with_ref(config, |c| {
        let Some(u) = c.config.as_ref().and_then(|m| m.users.get(index)) else {
            return AMI_RESULT_NOT_FOUND;
        };
        let ip = match input_text(ip, len) {
            Ok(i) => i,
            Err(e) => return e,
        };
        let Some(peer) = core::str::from_utf8(ip).ok().and_then(|s| s.parse::<IpAddr>().ok())
        else {
            return AMI_RESULT_INVALID_PARAMETER;
        };
        write(out, u.acl.permits(peer))
    })
}

/// Writes whether user `index`'s event filters let an event through: `name` is its `Event:`
/// value, `text` the whole event as sent (`Event: ...\r\nPrivilege: ...\r\n...\r\n\r\n`).
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_user_should_send(
    config: *const ami_config,
    index: usize,
    name: *const u8,
    name_len: usize,
    text: *const u8,
    text_len: usize,
    out: *mut bool,
) -> ami_result {
    with_ref(config, |c| {
        let Some(u) = c.config.as_ref().and_then(|m| m.users.get(index)) else {
            return AMI_RESULT_NOT_FOUND;
        };
        let (name, text) = match (input(name, name_len), input(text, text_len)) {
            (Ok(n), Ok(t)) => (n, t),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        write(out, u.filters.should_send(name, text))
    })
}

/// Writes the number of diagnostics of the last successful load (quirks, ignored lines,
/// dangerous grants).
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_diagnostic_count(
    config: *const ami_config,
    out: *mut usize,
) -> ami_result {
    with_ref(config, |c| write(out, c.diagnostics.len()))
}

/// Writes diagnostic `index`: its text (a view into the handle) and its line.
/// `AMI_RESULT_NOT_FOUND` past the last one.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_diagnostic(
    config: *const ami_config,
    index: usize,
    text: *mut ami_str,
    line: *mut u32,
) -> ami_result {
    with_ref(config, |c| {
        let Some((t, l)) = c.diagnostics.get(index) else { return AMI_RESULT_NOT_FOUND };
        if text.is_null() || line.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        write(text, ami_str::from(t)).and(write(line, *l))
    })
}

/// Writes the text of the last failure of a non-const call (empty if it succeeded). Also works
/// on a poisoned handle.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_last_error(
    config: *const ami_config,
    out: *mut ami_str,
) -> ami_result {
    last_error(config, out)
}

/// A set of event filters (an `eventfilter` list), evaluated like Asterisk's
/// `should_send_event`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ami_filter_set {
    set: FilterSet,
    state: HandleState,
}

crate::error::impl_handle!(ami_filter_set);

/// Creates an empty filter set (which lets every event through). Free it with
/// `ami_filter_set_free`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_filter_set_new(out: *mut *mut ami_filter_set) -> ami_result {
    guard(|| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        new_handle(out, ami_filter_set { set: FilterSet::default(), state: Default::default() })
    })
}

/// Frees a filter set. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn ami_filter_set_free(set: *mut ami_filter_set) {
    free_handle(set);
}

/// Adds a filter written as in manager.conf: `key` is `eventfilter` (legacy `[!]regex` value) or
/// `eventfilter(<options>)`, `value` the expression. `AMI_RESULT_FILTER_ERROR` if Asterisk would
/// refuse it; the set is unchanged and `ami_filter_set_last_error` says why.
#[unsafe(no_mangle)]
pub extern "C" fn ami_filter_set_add(
    set: *mut ami_filter_set,
    key: *const c_char,
    key_len: usize,
    value: *const c_char,
    value_len: usize,
) -> ami_result {
    with_mut(set, |f| {
        let (key, value) = match (input_text(key, key_len), input_text(value, value_len)) {
            (Ok(k), Ok(v)) => (k, v),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        let (Ok(key), Ok(value)) = (core::str::from_utf8(key), core::str::from_utf8(value)) else {
            f.state.last_error = "key and value must be UTF-8".to_owned();
            return AMI_RESULT_INVALID_PARAMETER;
        };
        match EventFilter::parse(key, value) {
            Ok(filter) => {
                f.set.add(filter);
                AMI_RESULT_OK
            }
            Err(e) => {
                f.state.last_error = e.to_string();
                AMI_RESULT_FILTER_ERROR
            }
        }
    })
}

/// Writes whether the set lets an event through: `name` is its `Event:` value, `text` the whole
/// event as sent.
#[unsafe(no_mangle)]
pub extern "C" fn ami_filter_set_should_send(
    set: *const ami_filter_set,
    name: *const u8,
    name_len: usize,
    text: *const u8,
    text_len: usize,
    out: *mut bool,
) -> ami_result {
    with_ref(set, |f| {
        let (name, text) = match (input(name, name_len), input(text, text_len)) {
            (Ok(n), Ok(t)) => (n, t),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        write(out, f.set.should_send(name, text))
    })
}

/// Writes the text of the last failure of a non-const call (empty if it succeeded). Also works
/// on a poisoned handle.
#[unsafe(no_mangle)]
pub extern "C" fn ami_filter_set_last_error(
    set: *const ami_filter_set,
    out: *mut ami_str,
) -> ami_result {
    last_error(set, out)
}
