//! Short header values as shared `str` objects.
//!
//! The values a consumer reads in a loop repeat from message to message: event names, channel
//! names, states, causes. Building a new `str` for each read (an allocation, CPython's decoder,
//! a deallocation later) costs more than finding the one built last time, so short values are
//! kept in a small direct-mapped cache keyed by their exact bytes. A hit is checked byte for
//! byte, so the `str` returned is always exactly what [`text`] would build; `str` objects are
//! immutable, so sharing one is invisible to Python code (except to `is`, which compares no
//! values).
//!
//! One cache per thread rather than one behind a lock: it is read for every value a consumer
//! touches, and an uncontended lock still costs two atomic read-modify-writes per read.

use std::cell::RefCell;

use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::convert::text;

/// Values longer than this are built every time (long values rarely repeat).
const MAX_CACHED: usize = 48;

/// Slots of the cache (a power of two): about 24 KiB of keys at most.
const SLOTS: usize = 512;

#[derive(Debug)]
struct Slot {
    bytes: Box<[u8]>,
    value: Py<PyString>,
}

thread_local! {
    /// [`SLOTS`] slots, allocated by the thread's first read.
    static VALUES: RefCell<Vec<Option<Slot>>> = const { RefCell::new(Vec::new()) };
}

/// FNV-1a over the bytes, folded to a slot.
fn slot_of(b: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &c in b {
        h = (h ^ u32::from(c)).wrapping_mul(0x0100_0193);
    }
    (h ^ (h >> 16)) as usize & (SLOTS - 1)
}

/// The value `b` as a `str` (UTF-8 with `surrogateescape`, as [`text`] decodes it), shared
/// with earlier reads of the same short value.
pub fn value<'py>(py: Python<'py>, b: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    if b.len() > MAX_CACHED {
        return text(py, b);
    }
    let i = slot_of(b);
    // The cache is skipped (never an error) if it is borrowed already or the thread is exiting.
    let hit = VALUES
        .try_with(|slots| {
            let slots = slots.try_borrow().ok()?;
            let slot = slots.get(i)?.as_ref()?;
            (*slot.bytes == *b).then(|| slot.value.clone_ref(py))
        })
        .ok()
        .flatten();
    if let Some(value) = hit {
        return Ok(value.into_bound(py).into_any());
    }
    // Built without the cache borrowed: an allocation can run the garbage collector, and a
    // finalizer can read a message's values too.
    let made = text(py, b)?;
    if let Ok(s) = made.cast::<PyString>() {
        let _ = VALUES.try_with(|slots| {
            let Ok(mut slots) = slots.try_borrow_mut() else { return };
            if slots.is_empty() {
                slots.resize_with(SLOTS, || None);
            }
            if let Some(entry) = slots.get_mut(i) {
                *entry = Some(Slot { bytes: b.into(), value: s.clone().unbind() });
            }
        });
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_stay_in_range_and_spread() {
        let mut seen = std::collections::HashSet::new();
        for name in ["Newchannel", "Hangup", "Newstate", "PJSIP/100-00000001", "Up", ""] {
            let s = slot_of(name.as_bytes());
            assert!(s < SLOTS);
            seen.insert(s);
        }
        assert!(seen.len() >= 5, "six short values should not share slots: {seen:?}");
    }
}
