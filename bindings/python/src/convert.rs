//! Conversions between Python objects and bytes: UTF-8 with `surrogateescape` both ways, so
//! that any byte survives a round trip through `str`.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;

use pyo3::types::{PyByteArray, PyBytes, PyString};

/// `bytes` decoded as UTF-8 with `surrogateescape` (a plain `str` when the bytes are valid), in
/// one pass by CPython's decoder.
pub fn text<'py>(py: Python<'py>, b: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let len = pyo3::ffi::Py_ssize_t::try_from(b.len())
        .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("value too long for a str"))?;
    // SAFETY: `b` points to `len` readable bytes for the whole call (CPython copies them into
    // the new object), the error handler name is a NUL-terminated C string literal, and the
    // thread is attached to the interpreter (we hold `py`).
    let ptr = unsafe {
        pyo3::ffi::PyUnicode_DecodeUTF8(b.as_ptr().cast(), len, c"surrogateescape".as_ptr())
    };
    // SAFETY: PyUnicode_DecodeUTF8 returns a new (owned) reference, or NULL with an exception
    // set, which is exactly what `from_owned_ptr_or_err` takes.
    unsafe { Bound::from_owned_ptr_or_err(py, ptr) }
}

/// A `str` (encoded as UTF-8 with `surrogateescape`), `bytes`, `bytearray` or `memoryview` as
/// bytes; `int` and `float` as their decimal text. `what` names the argument in errors.
pub fn bytes_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return match s.extract::<String>() {
            Ok(s) => Ok(s.into_bytes()),
            Err(_) => {
                let enc = s.call_method1("encode", ("utf-8", "surrogateescape"))?;
                Ok(enc.cast::<PyBytes>()?.as_bytes().to_vec())
            }
        };
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(b.to_vec());
    }
    if obj.is_instance_of::<pyo3::types::PyInt>() || obj.is_instance_of::<pyo3::types::PyFloat>() {
        return Ok(obj.str()?.extract::<String>()?.into_bytes());
    }
    if obj.hasattr("tobytes")? {
        let b = obj.call_method0("tobytes")?;
        return Ok(b.cast::<PyBytes>()?.as_bytes().to_vec());
    }
    Err(PyTypeError::new_err(format!(
        "{what}: expected str, bytes, bytearray, memoryview, int or float, got {}",
        obj.get_type().name()?
    )))
}

/// Runs `f` on the bytes of a bytes-like object without copying when it is `bytes`.
pub fn with_bytes<R>(
    obj: &Bound<'_, PyAny>,
    what: &str,
    f: impl FnOnce(&[u8]) -> R,
) -> PyResult<R> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(f(b.as_bytes()));
    }
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!("{what}: expected a bytes-like object, got str")));
    }
    let owned = bytes_of(obj, what)?;
    Ok(f(&owned))
}

/// Header fields given as a mapping (its `items()`), or an iterable of `(name, value)` pairs.
pub fn fields_of(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(Vec<u8>, Vec<u8>)>> {
    let Some(obj) = obj else { return Ok(Vec::new()) };
    if obj.is_none() {
        return Ok(Vec::new());
    }
    let iterable = if obj.hasattr("items")? { obj.call_method0("items")? } else { obj.clone() };
    let mut out = Vec::new();
    for (i, item) in iterable.try_iter()?.enumerate() {
        let item = item?;
        let (name, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract().map_err(|_| {
            PyTypeError::new_err(format!("fields[{i}]: expected a (name, value) pair"))
        })?;
        out.push((
            bytes_of(&name, &format!("fields[{i}] name"))?,
            bytes_of(&value, &format!("fields[{i}] value"))?,
        ));
    }
    Ok(out)
}

/// `now` in seconds of `time.monotonic()`, or the current `time.monotonic()`.
pub fn now_or_monotonic(py: Python<'_>, now: Option<f64>) -> PyResult<ami_proto::time::Instant> {
    let secs = match now {
        Some(s) => s,
        None => py.import("time")?.getattr("monotonic")?.call0()?.extract::<f64>()?,
    };
    Ok(ami_proto::time::Instant::from_millis(millis(secs)))
}

/// An [`ami_proto::time::Instant`] as seconds of `time.monotonic()`.
pub fn seconds(t: ami_proto::time::Instant) -> f64 {
    t.as_millis() as f64 / 1000.0
}

/// Seconds as whole milliseconds (negative and NaN are 0; huge values saturate).
pub fn millis(secs: f64) -> u64 {
    if secs.is_nan() || secs <= 0.0 {
        0
    } else if secs >= u64::MAX as f64 / 1000.0 {
        u64::MAX
    } else {
        (secs * 1000.0).round() as u64
    }
}

/// How many `str` keys [`with_key`] remembers (per thread).
const KEY_CACHE_SIZE: usize = 64;

/// Recently used `str` keys and their bytes, by object identity. Each entry holds a strong
/// reference, so the object (and its address) stays alive while it is in the cache, and `str`
/// objects are immutable: the same address always means the same text.
///
/// One cache per thread rather than one behind a lock: a lookup is on the path of every header
/// read, and an uncontended lock still costs two atomic read-modify-writes per read.
struct KeyCache {
    entries: Vec<(Py<PyString>, Rc<[u8]>)>,
    next: usize,
}

thread_local! {
    static KEY_CACHE: RefCell<KeyCache> =
        const { RefCell::new(KeyCache { entries: Vec::new(), next: 0 }) };
}

/// Runs `f` on the bytes of a header name (`str` or bytes-like). Header names are usually
/// literals in the caller's code, so the bytes of a `str` are remembered by identity: reading
/// `msg["Channel"]` in a loop converts the key once.
pub fn with_key<R>(obj: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> R) -> PyResult<R> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(f(b.as_bytes()));
    }
    let Ok(s) = obj.cast::<PyString>() else {
        return Ok(f(&bytes_of(obj, "name")?));
    };
    // The cache is skipped (never an error) if it is borrowed already or the thread is exiting.
    let cached = KEY_CACHE
        .try_with(|cache| {
            let cache = cache.try_borrow().ok()?;
            let (_, bytes) = cache.entries.iter().find(|(k, _)| k.as_ptr() == s.as_ptr())?;
            Some(Rc::clone(bytes))
        })
        .ok()
        .flatten();
    if let Some(bytes) = cached {
        return Ok(f(&bytes));
    }
    // Converted without the cache borrowed: converting a `str` with surrogates calls its
    // `encode` method, Python code that could look a header up too.
    let bytes: Rc<[u8]> = bytes_of(obj, "name")?.into();
    let result = f(&bytes);
    let entry = (s.clone().unbind(), bytes);
    let _ = KEY_CACHE.try_with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else { return };
        if cache.entries.len() < KEY_CACHE_SIZE {
            cache.entries.push(entry);
        } else {
            let i = cache.next % KEY_CACHE_SIZE;
            if let Some(slot) = cache.entries.get_mut(i) {
                *slot = entry;
            }
            cache.next = i + 1;
        }
    });
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::millis;

    #[test]
    fn seconds_become_rounded_milliseconds() {
        assert_eq!(millis(1.5), 1500);
        assert_eq!(millis(0.0004), 0);
        assert_eq!(millis(0.0006), 1);
        assert_eq!(millis(12_345.678_9), 12_345_679);
    }

    #[test]
    fn negative_nan_and_huge_seconds_do_not_wrap() {
        assert_eq!(millis(-3.0), 0);
        assert_eq!(millis(f64::NAN), 0);
        assert_eq!(millis(f64::INFINITY), u64::MAX);
        assert_eq!(millis(1e300), u64::MAX);
    }
}
