//! Result codes, views and the panic boundary shared by every export.

use core::cell::Cell;
use core::ffi::{CStr, c_char};
use core::panic::AssertUnwindSafe;
use std::panic::catch_unwind;

/// The result of every fallible libami call. `AMI_RESULT_OK` is 0; the numbers are part of the
/// ABI and are never renumbered or reused (new codes are only appended).
///
/// In C the type is a `uint32_t`; `ami_result_str` names any value.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ami_result {
    /// Success; the outputs were written.
    AMI_RESULT_OK = 0,
    /// A required pointer argument was NULL (or NULL with a non-zero length).
    AMI_RESULT_NULL_PARAMETER = 1,
    /// libami panicked (a bug); the handle is poisoned. Please report it.
    AMI_RESULT_PANIC = 2,
    /// An earlier call on this handle panicked; only `_last_error` and `_free` still work.
    AMI_RESULT_POISONED = 3,
    /// An argument is out of range (unknown enum value, invalid limits, bad address text, ...).
    AMI_RESULT_INVALID_PARAMETER = 4,
    /// The caller's buffer is too small; the length it needs was written to the length output.
    AMI_RESULT_INSUFFICIENT_SIZE = 5,
    /// The decoder holds no current frame of the kind the accessor needs (call
    /// `ami_decoder_next` first; it may have said `AMI_FRAME_NONE`: more data is needed).
    AMI_RESULT_NO_FRAME = 6,
    /// The header, action, event or command output asked for does not exist.
    AMI_RESULT_NOT_FOUND = 7,
    /// A name or value could inject or change a header (CR, LF, NUL, `:` in a name, ...); the
    /// message is unchanged and `_last_error` says which field and byte.
    AMI_RESULT_ENCODE_ERROR = 8,
    /// An ACL line Asterisk refuses (it would delete the user); `ami_acl_last_error` says why.
    AMI_RESULT_ACL_ERROR = 9,
    /// A session or server refused the call in its present state or because of a limit (not
    /// logged in, closed, too many pending actions, transmit or outbound buffer full, authlimit
    /// reached, ...); nothing was queued and `_last_error` says why.
    AMI_RESULT_REFUSED = 10,
    /// The manager.conf text given to `ami_server_new` is not valid UTF-8 or has an error
    /// Asterisk refuses too (a missing `]`, a variable before any category, ...).
    AMI_RESULT_CONFIG_ERROR = 11,
    /// An event filter that Asterisk would refuse (a regex that does not compile, or options
    /// formatted incorrectly); `_last_error` says which.
    AMI_RESULT_FILTER_ERROR = 12,
    /// The manager.conf editor refused an edit (it would not do exactly what was asked, `ami
    /// check` would report an error, or a line cannot be changed safely); nothing changed,
    /// `ami_config_edit_last_error` says why and `ami_config_edit_error_line` where.
    AMI_RESULT_EDIT_REFUSED = 13,
}

use ami_result::*;

/// A borrowed UTF-8 text: `len` bytes at `data`, **not** NUL-terminated.
///
/// A view points into a handle's memory and stays valid until the next call that takes that
/// handle non-`const` (or frees it).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ami_str {
    /// First byte (never NULL, even when `len` is 0).
    pub data: *const c_char,
    /// Number of bytes.
    pub len: usize,
}

impl ami_str {
    pub(crate) fn from(s: &str) -> ami_str {
        ami_str { data: s.as_ptr().cast(), len: s.len() }
    }
}

/// Borrowed bytes: `len` bytes at `data` (protocol bytes need not be UTF-8, and are not
/// NUL-terminated). Same lifetime rule as `ami_str`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ami_bytes {
    /// First byte (never NULL, even when `len` is 0).
    pub data: *const u8,
    /// Number of bytes.
    pub len: usize,
}

impl ami_bytes {
    pub(crate) fn from(b: &[u8]) -> ami_bytes {
        ami_bytes { data: b.as_ptr(), len: b.len() }
    }
}

/// Returns a static NUL-terminated description of a result code (`"ok"`, `"null parameter"`,
/// ...), or `"unknown result"` for a value that is not an `ami_result`. Never NULL; never free it.
#[unsafe(no_mangle)]
pub extern "C" fn ami_result_str(result: u32) -> *const c_char {
    let s: &'static CStr = match result {
        0 => c"ok",
        1 => c"null parameter",
        2 => c"panic inside libami",
        3 => c"handle poisoned by an earlier panic",
        4 => c"invalid parameter",
        5 => c"buffer too small",
        6 => c"no current frame of that kind",
        7 => c"not found",
        8 => c"field refused: it could inject or change a header",
        9 => c"invalid ACL entry",
        10 => c"refused by the session or server",
        11 => c"invalid manager.conf",
        12 => c"invalid event filter",
        13 => c"edit refused",
        _ => c"unknown result",
    };
    s.as_ptr()
}

/// What every handle carries for the boundary: poisoning and the last error text.
#[derive(Debug, Default)]
pub(crate) struct HandleState {
    pub(crate) poisoned: Cell<bool>,
    pub(crate) last_error: String,
}

/// A handle type (`ami_decoder`, `ami_message_builder`, `ami_acl`).
pub(crate) trait Handle {
    fn state(&self) -> &HandleState;
    fn state_mut(&mut self) -> &mut HandleState;
}

/// Implements [`Handle`] for handle types that keep their [`HandleState`] in a `state` field.
macro_rules! impl_handle {
    ($($handle:ty),+ $(,)?) => {$(
        impl $crate::error::Handle for $handle {
            fn state(&self) -> &$crate::error::HandleState {
                &self.state
            }
            fn state_mut(&mut self) -> &mut $crate::error::HandleState {
                &mut self.state
            }
        }
    )+};
}
pub(crate) use impl_handle;

#[cfg(test)]
std::thread_local! {
    /// Tests set this to make the next export panic inside its boundary.
    pub(crate) static INJECT_PANIC: Cell<bool> = const { Cell::new(false) };
}

/// In tests, panics once when asked to; nothing otherwise.
#[inline]
fn injected_panic() {
    #[cfg(test)]
    if INJECT_PANIC.with(|p| p.replace(false)) {
        panic!("injected panic");
    }
}

fn panic_text(payload: &(dyn core::any::Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown payload");
    format!("panic inside libami: {what}")
}

/// Runs `f` for an export without a handle; a panic becomes `AMI_RESULT_PANIC`.
pub(crate) fn guard(f: impl FnOnce() -> ami_result) -> ami_result {
    catch_unwind(AssertUnwindSafe(|| {
        injected_panic();
        f()
    }))
    .unwrap_or(AMI_RESULT_PANIC)
}

/// Runs `f` on a mutable handle: NULL and poison checks, the last error cleared first, a panic
/// caught and turned into `AMI_RESULT_PANIC` with the handle poisoned.
pub(crate) fn with_mut<H: Handle>(h: *mut H, f: impl FnOnce(&mut H) -> ami_result) -> ami_result {
    // SAFETY: the C contract: a non-NULL handle pointer came from the matching `_new` and has
    // not been freed, and no other call uses the handle at the same time (handles are not
    // thread-safe). `as_mut` checks NULL.
    let Some(handle) = (unsafe { h.as_mut() }) else {
        return AMI_RESULT_NULL_PARAMETER;
    };
    if handle.state().poisoned.get() {
        return AMI_RESULT_POISONED;
    }
    handle.state_mut().last_error.clear();
    match catch_unwind(AssertUnwindSafe(|| {
        injected_panic();
        f(handle)
    })) {
        Ok(r) => r,
        Err(payload) => {
            let state = handle.state_mut();
            state.poisoned.set(true);
            state.last_error = panic_text(payload.as_ref());
            AMI_RESULT_PANIC
        }
    }
}

/// Runs `f` on a shared (`const`) handle: NULL and poison checks, a panic caught and turned into
/// `AMI_RESULT_PANIC` with the handle poisoned.
pub(crate) fn with_ref<H: Handle>(h: *const H, f: impl FnOnce(&H) -> ami_result) -> ami_result {
    // SAFETY: as in `with_mut`; `as_ref` checks NULL.
    let Some(handle) = (unsafe { h.as_ref() }) else {
        return AMI_RESULT_NULL_PARAMETER;
    };
    if handle.state().poisoned.get() {
        return AMI_RESULT_POISONED;
    }
    match catch_unwind(AssertUnwindSafe(|| {
        injected_panic();
        f(handle)
    })) {
        Ok(r) => r,
        Err(_) => {
            handle.state().poisoned.set(true);
            AMI_RESULT_PANIC
        }
    }
}

/// `_last_error`: works on a poisoned handle too (to read the panic text).
pub(crate) fn last_error<H: Handle>(h: *const H, out: *mut ami_str) -> ami_result {
    guard(|| {
        // SAFETY: as in `with_mut`; `as_ref` checks NULL.
        let Some(handle) = (unsafe { h.as_ref() }) else {
            return AMI_RESULT_NULL_PARAMETER;
        };
        write(out, ami_str::from(&handle.state().last_error))
    })
}

/// Boxes a new handle and writes it to `out`.
pub(crate) fn new_handle<H>(out: *mut *mut H, value: H) -> ami_result {
    write(out, Box::into_raw(Box::new(value)))
}

/// Frees a handle made by `new_handle`; NULL is a no-op.
pub(crate) fn free_handle<H>(h: *mut H) {
    if h.is_null() {
        return;
    }
    // Dropping plain Rust data cannot unwind in practice; catch it anyway so that nothing
    // crosses into C.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the C contract: `h` came from the matching `_new` (Box::into_raw) and is freed
        // once; no view into it is used afterwards.
        drop(unsafe { Box::from_raw(h) });
    }));
}

/// Writes `value` to a caller's output, or reports NULL.
pub(crate) fn write<T>(out: *mut T, value: T) -> ami_result {
    if out.is_null() {
        return AMI_RESULT_NULL_PARAMETER;
    }
    // SAFETY: `out` is non-NULL and, by the C contract, points to writable memory for a `T`.
    unsafe { out.write(value) };
    AMI_RESULT_OK
}

/// The bytes a caller passed as pointer + length. NULL is accepted only with length 0.
pub(crate) fn input<'a>(data: *const u8, len: usize) -> Result<&'a [u8], ami_result> {
    if data.is_null() {
        return if len == 0 { Ok(&[]) } else { Err(AMI_RESULT_NULL_PARAMETER) };
    }
    if len > isize::MAX as usize {
        return Err(AMI_RESULT_INVALID_PARAMETER);
    }
    // SAFETY: `data` is non-NULL and, by the C contract, points to `len` readable bytes that
    // stay unchanged during the call; `len` fits in `isize`.
    Ok(unsafe { core::slice::from_raw_parts(data, len) })
}

/// `input` for `const char *` text.
pub(crate) fn input_text<'a>(data: *const c_char, len: usize) -> Result<&'a [u8], ami_result> {
    input(data.cast(), len)
}

/// Copies `src` into a caller's buffer of `cap` bytes, writing the length to `len_out`; when
/// `nul` is set a NUL terminator follows (and needs one more byte). On
/// `AMI_RESULT_INSUFFICIENT_SIZE` nothing is copied and `len_out` receives the length needed
/// (without the NUL).
pub(crate) fn copy_out(
    src: &[u8],
    buf: *mut u8,
    cap: usize,
    len_out: *mut usize,
    nul: bool,
) -> ami_result {
    if len_out.is_null() || (buf.is_null() && cap > 0) {
        return AMI_RESULT_NULL_PARAMETER;
    }
    let need = src.len() + usize::from(nul);
    if cap < need {
        return write(len_out, src.len()).and(AMI_RESULT_INSUFFICIENT_SIZE);
    }
    if need == 0 {
        return write(len_out, 0);
    }
    // SAFETY: `cap >= need > 0`, so `buf` is non-NULL (checked above) and, by the C contract,
    // points to `cap` writable bytes that do not overlap `src` (which lives in libami's memory).
    unsafe {
        core::ptr::copy_nonoverlapping(src.as_ptr(), buf, src.len());
        if nul {
            buf.add(src.len()).write(0);
        }
    }
    write(len_out, src.len())
}

impl ami_result {
    /// `next` if `self` is OK, else `self`.
    pub(crate) fn and(self, next: ami_result) -> ami_result {
        if self == AMI_RESULT_OK { next } else { self }
    }
}
