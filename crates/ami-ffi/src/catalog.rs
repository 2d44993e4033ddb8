//! The catalog of documented actions and events (crate `ami-catalog`): names → classes and
//! parameters, with no handle.
//!
//! Every string these functions return (`ami_str` fields) is static: valid for the life of the
//! program, never to be freed.

use core::ffi::{CStr, c_char};

use ami_catalog::{ActionSpec, EventSpec, action_spec, actions, event_spec, events};
use ami_proto::authority::Escalation;

use crate::error::{ami_result, ami_str, guard, input_text, write};
use ami_result::*;

/// The action makes no check of its parameters beyond its authority.
pub const AMI_ESCALATION_NONE: u32 = 0;
/// Originate: the application/data blacklist (some applications and functions need `system`).
pub const AMI_ESCALATION_ORIGINATE: u32 = 1;
/// Getvar: `SHELL`/`EVAL` in `Variable` need `system`.
pub const AMI_ESCALATION_GETVAR: u32 = 2;
/// Status: `SHELL`/`EVAL` in `Variables` need `system`.
pub const AMI_ESCALATION_STATUS: u32 = 3;
/// Command: `module load`, `module unload`, `restart gracefully` are refused.
pub const AMI_ESCALATION_COMMAND: u32 = 4;

/// One documented action, as `ami_action_info` and `ami_catalog_action_at` describe it.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ami_action_desc {
    /// Canonical name, e.g. `Originate`.
    pub name: ami_str,
    /// Write classes (`AMI_PERM_*`) a session needs, any one of them; 0 = every session.
    pub authority: u32,
    /// The extra check the action makes (`AMI_ESCALATION_*`).
    pub escalation: u32,
    /// The module registering it (`core` for Asterisk's core); the first of several.
    pub module: ami_str,
    /// The Asterisk version the documentation says it appeared in (the first listed; empty if
    /// none is).
    pub since: ami_str,
    /// Number of documented parameters (`ActionID` included): `ami_action_parameter` reads them.
    pub parameter_count: usize,
    /// How many of them are required.
    pub required_count: usize,
    /// Its position in the catalog (`ami_catalog_action_at`, `ami_action_parameter`).
    pub index: usize,
}

/// One documented action parameter.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ami_parameter_desc {
    /// Header name; for a numbered family, with `{}` (or `{:06}`, 6 digits zero-padded) where
    /// the number goes, e.g. `Action-{:06}`.
    pub name: ami_str,
    /// The action requires it.
    pub required: bool,
    /// The action reads every occurrence (e.g. Originate's `Variable`).
    pub repeatable: bool,
    /// `name` is a numbered family.
    pub indexed: bool,
}

/// One documented event, as `ami_event_info` and `ami_catalog_event_at` describe it.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ami_event_desc {
    /// The name as emitted in `Event:`, e.g. `Hangup`.
    pub name: ami_str,
    /// Classes (`AMI_PERM_*`) it is emitted with: a session receives it only if it may read
    /// every one (`ami_perm_may_receive`).
    pub read_class: u32,
    /// The module emitting it (the first of several).
    pub module: ami_str,
    /// The Asterisk version the documentation says it appeared in (the first listed).
    pub since: ami_str,
    /// Number of documented fields: `ami_event_field` reads them.
    pub field_count: usize,
    /// Its position in the catalog (`ami_catalog_event_at`, `ami_event_field`).
    pub index: usize,
}

fn first(list: &'static [&'static str]) -> ami_str {
    ami_str::from(list.first().copied().unwrap_or(""))
}

fn escalation(e: Option<Escalation>) -> u32 {
    match e {
        None => AMI_ESCALATION_NONE,
        Some(Escalation::OriginateBlacklist) => AMI_ESCALATION_ORIGINATE,
        Some(Escalation::GetvarFunctions) => AMI_ESCALATION_GETVAR,
        Some(Escalation::StatusVariables) => AMI_ESCALATION_STATUS,
        Some(Escalation::CommandBlacklist) => AMI_ESCALATION_COMMAND,
    }
}

fn action_desc(spec: &'static ActionSpec) -> ami_action_desc {
    let index = actions().iter().position(|a| core::ptr::eq(a, spec)).unwrap_or(usize::MAX);
    ami_action_desc {
        name: ami_str::from(spec.name),
        authority: spec.authority.bits(),
        escalation: escalation(spec.escalation),
        module: first(spec.modules),
        since: first(spec.since),
        parameter_count: spec.parameters.len(),
        required_count: spec.required().count(),
        index,
    }
}

fn event_desc(spec: &'static EventSpec) -> ami_event_desc {
    let index = events().iter().position(|e| core::ptr::eq(e, spec)).unwrap_or(usize::MAX);
    ami_event_desc {
        name: ami_str::from(spec.name),
        read_class: spec.read_class.bits(),
        module: first(spec.modules),
        since: first(spec.since),
        field_count: spec.fields.len(),
        index,
    }
}

/// Describes the documented action `name` (`len` bytes, ASCII-case-insensitive as Asterisk
/// matches `Action:`) into `out`. `AMI_RESULT_NOT_FOUND` if the catalog does not document it.
#[unsafe(no_mangle)]
pub extern "C" fn ami_action_info(
    name: *const c_char,
    len: usize,
    out: *mut ami_action_desc,
) -> ami_result {
    guard(|| {
        let name = match input_text(name, len) {
            Ok(n) => n,
            Err(e) => return e,
        };
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match action_spec(name) {
            Some(spec) => write(out, action_desc(spec)),
            None => AMI_RESULT_NOT_FOUND,
        }
    })
}

/// Describes parameter `i` (0-based, documented order) of the action at catalog position
/// `action_index` into `out`. `AMI_RESULT_NOT_FOUND` if either is out of range.
#[unsafe(no_mangle)]
pub extern "C" fn ami_action_parameter(
    action_index: usize,
    i: usize,
    out: *mut ami_parameter_desc,
) -> ami_result {
    guard(|| {
        let Some(p) = actions().get(action_index).and_then(|a| a.parameters.get(i)) else {
            return if out.is_null() { AMI_RESULT_NULL_PARAMETER } else { AMI_RESULT_NOT_FOUND };
        };
        let desc = ami_parameter_desc {
            name: ami_str::from(p.name),
            required: p.required,
            repeatable: p.repeatable,
            indexed: p.indexed,
        };
        write(out, desc)
    })
}

/// Describes the documented event `name` (`len` bytes, ASCII-case-insensitive) into `out`.
/// `AMI_RESULT_NOT_FOUND` if the catalog does not document it.
#[unsafe(no_mangle)]
pub extern "C" fn ami_event_info(
    name: *const c_char,
    len: usize,
    out: *mut ami_event_desc,
) -> ami_result {
    guard(|| {
        let name = match input_text(name, len) {
            Ok(n) => n,
            Err(e) => return e,
        };
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match event_spec(name) {
            Some(spec) => write(out, event_desc(spec)),
            None => AMI_RESULT_NOT_FOUND,
        }
    })
}

/// Writes the name of field `i` (0-based, documented order) of the event at catalog position
/// `event_index` to `out`. `AMI_RESULT_NOT_FOUND` if either is out of range.
#[unsafe(no_mangle)]
pub extern "C" fn ami_event_field(event_index: usize, i: usize, out: *mut ami_str) -> ami_result {
    guard(|| {
        let Some(f) = events().get(event_index).and_then(|e| e.fields.get(i)) else {
            return if out.is_null() { AMI_RESULT_NULL_PARAMETER } else { AMI_RESULT_NOT_FOUND };
        };
        write(out, ami_str::from(f))
    })
}

/// Number of documented actions (positions 0 to count - 1, in Asterisk's registration order).
#[unsafe(no_mangle)]
pub extern "C" fn ami_catalog_action_count() -> usize {
    actions().len()
}

/// Number of documented events (positions 0 to count - 1, sorted by name).
#[unsafe(no_mangle)]
pub extern "C" fn ami_catalog_event_count() -> usize {
    events().len()
}

/// Describes the action at catalog position `index`. `AMI_RESULT_NOT_FOUND` past the end.
#[unsafe(no_mangle)]
pub extern "C" fn ami_catalog_action_at(index: usize, out: *mut ami_action_desc) -> ami_result {
    guard(|| match actions().get(index) {
        Some(spec) => write(out, action_desc(spec)),
        None if out.is_null() => AMI_RESULT_NULL_PARAMETER,
        None => AMI_RESULT_NOT_FOUND,
    })
}

/// Describes the event at catalog position `index`. `AMI_RESULT_NOT_FOUND` past the end.
#[unsafe(no_mangle)]
pub extern "C" fn ami_catalog_event_at(index: usize, out: *mut ami_event_desc) -> ami_result {
    guard(|| match events().get(index) {
        Some(spec) => write(out, event_desc(spec)),
        None if out.is_null() => AMI_RESULT_NULL_PARAMETER,
        None => AMI_RESULT_NOT_FOUND,
    })
}

/// The catalog's Asterisk version, NUL-terminated and static.
const CATALOG_VERSION: &CStr = {
    const BYTES: &[u8] = ami_catalog::ASTERISK_VERSION.as_bytes();
    const LEN: usize = BYTES.len();
    const WITH_NUL: [u8; LEN + 1] = {
        let mut out = [0u8; LEN + 1];
        let mut i = 0;
        while i < LEN {
            out[i] = BYTES[i];
            i += 1;
        }
        out
    };
    match CStr::from_bytes_with_nul(&WITH_NUL) {
        Ok(v) => v,
        Err(_) => panic!("the Asterisk version contains a NUL byte"),
    }
};

/// The Asterisk release whose documentation the catalog was generated from, e.g. `"22.10.1"`
/// (static, NUL-terminated; never free it).
#[unsafe(no_mangle)]
pub extern "C" fn ami_catalog_asterisk_version() -> *const c_char {
    CATALOG_VERSION.as_ptr()
}
