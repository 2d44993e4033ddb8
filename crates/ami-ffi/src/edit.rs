//! The manager.conf editor for C: the `ami_config_edit` handle, and `ami_secret_generate`.
//!
//! Sans-IO like the rest of the library: the caller passes manager.conf's text (and the texts
//! of the files its `#include` lines name, with `ami_config_edit_add_include`), applies edits,
//! and reads back the new texts to write them. Each edit is applied whole or not at all;
//! refused edits return `AMI_RESULT_EDIT_REFUSED` with the reason in
//! `ami_config_edit_last_error` and the line in `ami_config_edit_error_line`.
//!
//! The one function that reads the outside world is `ami_secret_generate`, which draws from the
//! operating system's CSPRNG (`getrandom`).

use core::ffi::c_char;

use ami_proto::acl::NamedAcls;
use ami_proto::config::MemoryResolver;
use ami_proto::config::edit::{
    AclKind, AclRule, ConfigEditor, Edit, EditError, EditOptions, FilterLine, MAX_SECRET_LENGTH,
    MIN_SECRET_LENGTH, SetVar, Setting, UserSettings, generate_secret,
};
use ami_proto::config::findings::Severity;
use ami_proto::perm::Privilege;

use crate::error::{
    HandleState, ami_result, ami_str, copy_out, free_handle, guard, input_text, last_error,
    new_handle, with_mut, with_ref, write,
};
use ami_result::*;

/// `ami_user_settings.set` / `.unset` bit: `secret`.
pub const AMI_USER_SECRET: u32 = 1 << 0;
/// `ami_user_settings.set` bit: `read` (classes in `.read`).
pub const AMI_USER_READ: u32 = 1 << 1;
/// `ami_user_settings.set` bit: `write` (classes in `.write`).
pub const AMI_USER_WRITE: u32 = 1 << 2;
/// `ami_user_settings.set` bit: the `permit`/`deny`/`acl` lines (`.acl`, `.acl_len`; 0 rules
/// lets every address in).
pub const AMI_USER_ACL: u32 = 1 << 3;
/// `ami_user_settings.set` bit: the `eventfilter` lines (`.filters`, `.filters_len`).
pub const AMI_USER_EVENTFILTERS: u32 = 1 << 4;
/// `ami_user_settings.set` / `.unset` bit: `displayconnects`.
pub const AMI_USER_DISPLAYCONNECTS: u32 = 1 << 5;
/// `ami_user_settings.set` / `.unset` bit: `allowmultiplelogin`.
pub const AMI_USER_ALLOWMULTIPLELOGIN: u32 = 1 << 6;
/// `ami_user_settings.set` / `.unset` bit: `writetimeout`.
pub const AMI_USER_WRITETIMEOUT: u32 = 1 << 7;
/// `ami_user_settings.set` bit: the `setvar` lines (`.setvars`, `.setvars_len`).
pub const AMI_USER_SETVARS: u32 = 1 << 8;

/// The key of an ACL rule.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ami_acl_kind {
    /// `permit = address[/mask],…`.
    AMI_ACL_PERMIT = 0,
    /// `deny = address[/mask],…`.
    AMI_ACL_DENY = 1,
    /// `acl = name,…` (named ACLs of acl.conf; libami knows none, so such a user denies
    /// everyone).
    AMI_ACL_NAMED = 2,
}

/// One `permit`/`deny`/`acl` line. `kind` is an `ami_acl_kind`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ami_acl_rule {
    /// `AMI_ACL_PERMIT`, `AMI_ACL_DENY` or `AMI_ACL_NAMED`.
    pub kind: u32,
    /// The value (`len` bytes, UTF-8).
    pub value: *const c_char,
    /// Its length.
    pub value_len: usize,
}

/// One `eventfilter` line: `key` is `eventfilter` or `eventfilter(options)`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ami_filter_line {
    /// The key.
    pub key: *const c_char,
    /// Its length.
    pub key_len: usize,
    /// The expression (may be empty for the advanced form).
    pub value: *const c_char,
    /// Its length.
    pub value_len: usize,
}

/// One `setvar = NAME=value` line.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ami_setvar {
    /// The variable name.
    pub name: *const c_char,
    /// Its length.
    pub name_len: usize,
    /// Its value.
    pub value: *const c_char,
    /// Its length.
    pub value_len: usize,
}

/// What to change in a user. Start from `{0}` (changes nothing), then set the fields to
/// change and their `AMI_USER_*` bits in `set` (or, for `secret`, `displayconnects`,
/// `allowmultiplelogin` and `writetimeout`, in `unset` to remove the key). Every pointer is
/// read during the call only.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ami_user_settings {
    /// `AMI_USER_*` bits of the fields to write.
    pub set: u32,
    /// `AMI_USER_*` bits of the keys to remove (Asterisk's default applies).
    pub unset: u32,
    /// The secret (UTF-8, not empty, no blanks at either end, no control characters).
    pub secret: *const c_char,
    /// Its length.
    pub secret_len: usize,
    /// `read` classes (`AMI_PERM_*` bits).
    pub read: u32,
    /// `write` classes (`AMI_PERM_*` bits).
    pub write: u32,
    /// `acl_len` rules.
    pub acl: *const ami_acl_rule,
    /// Their number.
    pub acl_len: usize,
    /// `filters_len` event filters.
    pub filters: *const ami_filter_line,
    /// Their number.
    pub filters_len: usize,
    /// `displayconnects`.
    pub displayconnects: bool,
    /// `allowmultiplelogin`.
    pub allowmultiplelogin: bool,
    /// `writetimeout` in milliseconds (100 to 2147483647).
    pub writetimeout_ms: u32,
    /// `setvars_len` channel variables.
    pub setvars: *const ami_setvar,
    /// Their number.
    pub setvars_len: usize,
}

/// A manager.conf being edited. Create with `ami_config_edit_new`, give the included files with
/// `ami_config_edit_add_include`, load with `ami_config_edit_load`, edit, read the texts, free
/// with `ami_config_edit_free`.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ami_config_edit {
    includes: MemoryResolver,
    editor: Option<ConfigEditor>,
    /// The current text of manager.conf (views point here).
    text: String,
    /// The other files: name, text, changed.
    files: Vec<(String, String, bool)>,
    /// Findings of the last accepted edit: code, severity, message.
    findings: Vec<(String, u32, String)>,
    /// Notes of the last accepted edit.
    notes: Vec<String>,
    error_line: u32,
    state: HandleState,
}

crate::error::impl_handle!(ami_config_edit);

/// Creates an editor holding nothing. Free it with `ami_config_edit_free`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_edit_new(out: *mut *mut ami_config_edit) -> ami_result {
    guard(|| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        new_handle(
            out,
            ami_config_edit {
                includes: MemoryResolver::new(),
                editor: None,
                text: String::new(),
                files: Vec::new(),
                findings: Vec::new(),
                notes: Vec::new(),
                error_line: 0,
                state: HandleState::default(),
            },
        )
    })
}

/// Frees an editor. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_edit_free(edit: *mut ami_config_edit) {
    free_handle(edit);
}

/// Gives the text of a file that `#include`/`#tryinclude` lines may name (`name` as the line
/// writes it after resolution; `*` and `?` in the line match it like a glob). Call before
/// `ami_config_edit_load`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_edit_add_include(
    edit: *mut ami_config_edit,
    name: *const c_char,
    name_len: usize,
    text: *const c_char,
    text_len: usize,
) -> ami_result {
    with_mut(edit, |e| {
        let (name, text) = match (utf8(name, name_len), utf8(text, text_len)) {
            (Ok(n), Ok(t)) => (n, t),
            (Err(r), _) | (_, Err(r)) => return refuse(e, r, "name and text must be UTF-8"),
        };
        e.includes.insert(name, text);
        AMI_RESULT_OK
    })
}

/// Loads `len` bytes of manager.conf text for editing, replacing what was loaded before.
/// `strict`: dangerous grants (shell-equivalent write classes, an ACL open to everyone, weak
/// secrets, ...) refuse edits instead of being reported. `AMI_RESULT_CONFIG_ERROR` if Asterisk
/// would refuse the text (`ami_config_edit_last_error` says why, `ami_config_edit_error_line`
/// where).
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_edit_load(
    edit: *mut ami_config_edit,
    text: *const c_char,
    len: usize,
    strict: bool,
) -> ami_result {
    with_mut(edit, |e| {
        let text = match utf8(text, len) {
            Ok(t) => t,
            Err(r) => return refuse(e, r, "manager.conf text must be UTF-8"),
        };
        let options = EditOptions { named_acls: NamedAcls::default(), strict };
        let mut includes = e.includes.clone();
        match ConfigEditor::new(text, &mut includes, options) {
            Ok(editor) => {
                e.editor = Some(editor);
                e.error_line = 0;
                e.findings.clear();
                e.notes.clear();
                refresh(e);
                AMI_RESULT_OK
            }
            Err(err) => {
                e.error_line = error_line(&err);
                e.state.last_error = err.to_string();
                AMI_RESULT_CONFIG_ERROR
            }
        }
    })
}

/// Adds a user with `settings` (NULL: only `read = none` and `write = none`).
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_edit_add_user(
    edit: *mut ami_config_edit,
    name: *const c_char,
    name_len: usize,
    settings: *const ami_user_settings,
) -> ami_result {
    with_mut(edit, |e| {
        let name = match user_name(e, name, name_len) {
            Ok(n) => n,
            Err(r) => return r,
        };
        let settings = match user_settings(settings) {
            Ok(s) => s,
            Err((r, why)) => return refuse(e, r, why),
        };
        apply(e, Edit::AddUser { name, settings })
    })
}

/// Changes the fields of `settings` in the user `name` (any case).
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_edit_update_user(
    edit: *mut ami_config_edit,
    name: *const c_char,
    name_len: usize,
    settings: *const ami_user_settings,
) -> ami_result {
    with_mut(edit, |e| {
        let name = match user_name(e, name, name_len) {
            Ok(n) => n,
            Err(r) => return r,
        };
        if settings.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let settings = match user_settings(settings) {
            Ok(s) => s,
            Err((r, why)) => return refuse(e, r, why),
        };
        apply(e, Edit::UpdateUser { name, settings })
    })
}

/// Renames the user `from` (any case) to `to`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_edit_rename_user(
    edit: *mut ami_config_edit,
    from: *const c_char,
    from_len: usize,
    to: *const c_char,
    to_len: usize,
) -> ami_result {
    with_mut(edit, |e| {
        let (from, to) = match (utf8(from, from_len), utf8(to, to_len)) {
            (Ok(f), Ok(t)) => (f.to_owned(), t.to_owned()),
            (Err(r), _) | (_, Err(r)) => return refuse(e, r, "user names must be UTF-8"),
        };
        apply(e, Edit::RenameUser { from, to })
    })
}

/// Removes the user `name` (any case) with its section.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_edit_remove_user(
    edit: *mut ami_config_edit,
    name: *const c_char,
    name_len: usize,
) -> ami_result {
    with_mut(edit, |e| {
        let name = match user_name(e, name, name_len) {
            Ok(n) => n,
            Err(r) => return r,
        };
        apply(e, Edit::RemoveUser { name })
    })
}

/// Writes `enabled = yes` (`true`) or `enabled = no` in `[general]`: AMI on or off.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_edit_set_enabled(
    edit: *mut ami_config_edit,
    enabled: bool,
) -> ami_result {
    with_mut(edit, |e| apply(e, Edit::SetEnabled(enabled)))
}

/// Writes a view of manager.conf's current text (the original text until an edit is accepted).
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_edit_text(
    edit: *const ami_config_edit,
    out: *mut ami_str,
) -> ami_result {
    with_ref(edit, |e| {
        if e.editor.is_none() {
            return AMI_RESULT_REFUSED;
        }
        write(out, ami_str::from(&e.text))
    })
}

/// Writes the number of included files the editor read (`ami_config_edit_file` lists them).
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_edit_file_count(
    edit: *const ami_config_edit,
    out: *mut usize,
) -> ami_result {
    with_ref(edit, |e| write(out, e.files.len()))
}

/// Writes included file `index`: its name, a view of its current text, and whether an edit
/// changed it (then write it back). `AMI_RESULT_NOT_FOUND` past the last one.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_edit_file(
    edit: *const ami_config_edit,
    index: usize,
    name: *mut ami_str,
    text: *mut ami_str,
    changed: *mut bool,
) -> ami_result {
    with_ref(edit, |e| {
        let Some((n, t, c)) = e.files.get(index) else { return AMI_RESULT_NOT_FOUND };
        if name.is_null() || text.is_null() || changed.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        write(name, ami_str::from(n)).and(write(text, ami_str::from(t))).and(write(changed, *c))
    })
}

/// Writes the number of `ami check` findings the last accepted edit reported (warnings and
/// information about the edited user, and new ones elsewhere).
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_edit_finding_count(
    edit: *const ami_config_edit,
    out: *mut usize,
) -> ami_result {
    with_ref(edit, |e| write(out, e.findings.len()))
}

/// Writes finding `index` of the last accepted edit: its stable code (e.g. `open-network`), its
/// severity (0 error, 1 warning, 2 information) and its message. `AMI_RESULT_NOT_FOUND` past the
/// last one.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_edit_finding(
    edit: *const ami_config_edit,
    index: usize,
    code: *mut ami_str,
    severity: *mut u32,
    message: *mut ami_str,
) -> ami_result {
    with_ref(edit, |e| {
        let Some((c, s, m)) = e.findings.get(index) else { return AMI_RESULT_NOT_FOUND };
        if code.is_null() || severity.is_null() || message.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        write(code, ami_str::from(c)).and(write(severity, *s)).and(write(message, ami_str::from(m)))
    })
}

/// Writes the number of notes of the last accepted edit (what a `manager reload` does not do).
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_edit_note_count(
    edit: *const ami_config_edit,
    out: *mut usize,
) -> ami_result {
    with_ref(edit, |e| write(out, e.notes.len()))
}

/// Writes note `index` of the last accepted edit. `AMI_RESULT_NOT_FOUND` past the last one.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_edit_note(
    edit: *const ami_config_edit,
    index: usize,
    out: *mut ami_str,
) -> ami_result {
    with_ref(edit, |e| match e.notes.get(index) {
        Some(n) => write(out, ami_str::from(n)),
        None => AMI_RESULT_NOT_FOUND,
    })
}

/// Writes the line of the last refusal (of a load or an edit), 0 if it had none.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_edit_error_line(
    edit: *const ami_config_edit,
    out: *mut u32,
) -> ami_result {
    with_ref(edit, |e| write(out, e.error_line))
}

/// Writes the text of the last failure of a non-const call (empty if it succeeded); secrets are
/// never in it. Also works on a poisoned handle.
#[unsafe(no_mangle)]
pub extern "C" fn ami_config_edit_last_error(
    edit: *const ami_config_edit,
    out: *mut ami_str,
) -> ami_result {
    last_error(edit, out)
}

/// Generates a secret of `length` characters (16 to 256) from ASCII letters and digits, drawn
/// uniformly from the operating system's CSPRNG, into `buf` (`cap` bytes) with a NUL
/// terminator; writes the length (without the NUL) to `written`. `AMI_RESULT_INSUFFICIENT_SIZE`
/// if `cap` is not more than `length`; `AMI_RESULT_INVALID_PARAMETER` for a length out of range;
/// `AMI_RESULT_REFUSED` if the OS has no randomness to give.
#[unsafe(no_mangle)]
pub extern "C" fn ami_secret_generate(
    length: usize,
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> ami_result {
    guard(|| {
        if !(MIN_SECRET_LENGTH..=MAX_SECRET_LENGTH).contains(&length) {
            return AMI_RESULT_INVALID_PARAMETER;
        }
        if written.is_null() || (buf.is_null() && cap > 0) {
            return AMI_RESULT_NULL_PARAMETER;
        }
        if cap <= length {
            return write(written, length).and(AMI_RESULT_INSUFFICIENT_SIZE);
        }
        match generate_secret(length, getrandom::fill) {
            Ok(secret) => copy_out(secret.as_bytes(), buf.cast(), cap, written, true),
            Err(_) => AMI_RESULT_REFUSED,
        }
    })
}

/// Text the caller passed, which must be UTF-8.
fn utf8<'a>(data: *const c_char, len: usize) -> Result<&'a str, ami_result> {
    let bytes = input_text(data, len)?;
    core::str::from_utf8(bytes).map_err(|_| AMI_RESULT_INVALID_PARAMETER)
}

/// Records why an argument is refused (`result` is NULL_PARAMETER or INVALID_PARAMETER).
/// The user name argument (`name`, `len` bytes of UTF-8) as an owned string, or the result
/// to return (with the reason recorded for `ami_config_edit_last_error`).
fn user_name(
    e: &mut ami_config_edit,
    name: *const c_char,
    len: usize,
) -> Result<String, ami_result> {
    utf8(name, len).map(str::to_owned).map_err(|r| refuse(e, r, "the user name must be UTF-8"))
}

fn refuse(e: &mut ami_config_edit, result: ami_result, why: &str) -> ami_result {
    if result == AMI_RESULT_INVALID_PARAMETER {
        e.state.last_error = why.to_owned();
    }
    result
}

/// A slice of `len` items the caller passed.
fn items<'a, T>(data: *const T, len: usize) -> Result<&'a [T], ami_result> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(AMI_RESULT_NULL_PARAMETER);
    }
    if len > isize::MAX as usize / core::mem::size_of::<T>().max(1) {
        return Err(AMI_RESULT_INVALID_PARAMETER);
    }
    // SAFETY: `data` is non-NULL and, by the C contract, points to `len` initialised items
    // that stay unchanged during the call; the total size fits in `isize`.
    Ok(unsafe { core::slice::from_raw_parts(data, len) })
}

/// The editor's settings from C's; `Err` with the result and why.
fn user_settings(
    settings: *const ami_user_settings,
) -> Result<UserSettings, (ami_result, &'static str)> {
    // SAFETY: by the C contract a non-NULL `settings` points to an initialised
    // `ami_user_settings`; `as_ref` checks NULL.
    let Some(s) = (unsafe { settings.as_ref() }) else {
        return Ok(UserSettings::default());
    };
    let text = |data: *const c_char, len: usize| -> Result<String, (ami_result, &'static str)> {
        utf8(data, len).map(str::to_owned).map_err(|r| (r, "texts must be UTF-8"))
    };
    let known = AMI_USER_SECRET
        | AMI_USER_READ
        | AMI_USER_WRITE
        | AMI_USER_ACL
        | AMI_USER_EVENTFILTERS
        | AMI_USER_DISPLAYCONNECTS
        | AMI_USER_ALLOWMULTIPLELOGIN
        | AMI_USER_WRITETIMEOUT
        | AMI_USER_SETVARS;
    let unsettable = AMI_USER_SECRET
        | AMI_USER_DISPLAYCONNECTS
        | AMI_USER_ALLOWMULTIPLELOGIN
        | AMI_USER_WRITETIMEOUT;
    if s.set & !known != 0 || s.unset & !unsettable != 0 || s.set & s.unset != 0 {
        return Err((
            AMI_RESULT_INVALID_PARAMETER,
            "unknown AMI_USER_* bit, a bit that cannot be unset, or a bit both set and unset",
        ));
    }
    let single = |bit: u32| -> Option<Setting<()>> {
        if s.set & bit != 0 {
            Some(Setting::Set(()))
        } else if s.unset & bit != 0 {
            Some(Setting::Unset)
        } else {
            None
        }
    };
    let secret = match single(AMI_USER_SECRET) {
        Some(Setting::Set(())) => Some(Setting::Set(text(s.secret, s.secret_len)?)),
        Some(Setting::Unset) => Some(Setting::Unset),
        None => None,
    };
    let mut out = UserSettings { secret, ..UserSettings::default() };
    if s.set & AMI_USER_READ != 0 {
        out.read = Some(Privilege::from_bits(s.read));
    }
    if s.set & AMI_USER_WRITE != 0 {
        out.write = Some(Privilege::from_bits(s.write));
    }
    if s.set & AMI_USER_ACL != 0 {
        let rules = items(s.acl, s.acl_len).map_err(|r| (r, "acl"))?;
        let mut acl = Vec::with_capacity(rules.len());
        for r in rules {
            let kind = match r.kind {
                0 => AclKind::Permit,
                1 => AclKind::Deny,
                2 => AclKind::Named,
                _ => return Err((AMI_RESULT_INVALID_PARAMETER, "unknown ami_acl_kind")),
            };
            acl.push(AclRule { kind, value: text(r.value, r.value_len)? });
        }
        out.acl = Some(acl);
    }
    if s.set & AMI_USER_EVENTFILTERS != 0 {
        let lines = items(s.filters, s.filters_len).map_err(|r| (r, "filters"))?;
        let mut filters = Vec::with_capacity(lines.len());
        for f in lines {
            filters.push(FilterLine::new(text(f.key, f.key_len)?, text(f.value, f.value_len)?));
        }
        out.event_filters = Some(filters);
    }
    let flag = |bit: u32, value: bool| {
        single(bit).map(|st| match st {
            Setting::Set(()) => Setting::Set(value),
            Setting::Unset => Setting::Unset,
        })
    };
    out.display_connects = flag(AMI_USER_DISPLAYCONNECTS, s.displayconnects);
    out.allow_multiple_login = flag(AMI_USER_ALLOWMULTIPLELOGIN, s.allowmultiplelogin);
    out.write_timeout_ms = single(AMI_USER_WRITETIMEOUT).map(|st| match st {
        Setting::Set(()) => Setting::Set(s.writetimeout_ms),
        Setting::Unset => Setting::Unset,
    });
    if s.set & AMI_USER_SETVARS != 0 {
        let vars = items(s.setvars, s.setvars_len).map_err(|r| (r, "setvars"))?;
        let mut setvars = Vec::with_capacity(vars.len());
        for v in vars {
            setvars.push(SetVar {
                name: text(v.name, v.name_len)?,
                value: text(v.value, v.value_len)?,
            });
        }
        out.setvars = Some(setvars);
    }
    Ok(out)
}

/// The line an error points at, if any.
fn error_line(err: &EditError) -> u32 {
    match err {
        EditError::Load(e) | EditError::WouldNotLoad(e) => e.line,
        EditError::NameTaken { at, .. }
        | EditError::Inherited { at, .. }
        | EditError::AppendedValue { at, .. }
        | EditError::LineNotEditable { at, .. }
        | EditError::SectionHasDirective { at, .. }
        | EditError::InheritedBy { at, .. } => at.line,
        EditError::SeveralSections { sections, .. } => sections.first().map_or(0, |s| s.line),
        EditError::NotEffective { source, .. } => source.as_ref().map_or(0, |s| s.line),
        EditError::CheckFailed { errors } => errors.first().map_or(0, |f| f.line),
        _ => 0,
    }
}

/// Copies the editor's current texts into the handle (views point there).
fn refresh(e: &mut ami_config_edit) {
    let Some(editor) = &e.editor else { return };
    e.text = editor.text();
    let changed: Vec<String> = editor.changed_files().into_iter().map(|f| f.name).collect();
    e.files = editor
        .file_names()
        .skip(1)
        .map(|n| {
            let text = editor.file_text(n).unwrap_or_default();
            (n.to_owned(), text, changed.iter().any(|c| c == n))
        })
        .collect();
}

/// Applies one edit and records its outcome.
fn apply(e: &mut ami_config_edit, edit: Edit) -> ami_result {
    let Some(editor) = e.editor.as_mut() else {
        e.state.last_error = "nothing is loaded: call ami_config_edit_load first".to_owned();
        return AMI_RESULT_REFUSED;
    };
    match editor.apply(&edit) {
        Ok(report) => {
            e.error_line = 0;
            e.findings = report
                .findings
                .iter()
                .map(|f| {
                    let severity = match f.severity {
                        Severity::Error => 0,
                        Severity::Warning => 1,
                        Severity::Info => 2,
                    };
                    (f.code.to_owned(), severity, f.message.clone())
                })
                .collect();
            e.notes = report.notes.iter().map(ToString::to_string).collect();
            refresh(e);
            AMI_RESULT_OK
        }
        Err(err) => {
            e.error_line = error_line(&err);
            e.state.last_error = err.to_string();
            AMI_RESULT_EDIT_REFUSED
        }
    }
}
