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

/// A multiplicative hash of the bytes, eight at a time, folded to a slot. (A byte-at-a-time
/// hash such as FNV-1a is a chain of one multiply per byte: about four cycles per byte of every
/// value read.)
fn slot_of(b: &[u8]) -> usize {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let (words, tail) = b.as_chunks::<8>();
    let mut h = (b.len() as u64).wrapping_mul(K);
    for w in words {
        h = (h ^ u64::from_le_bytes(*w)).wrapping_mul(K).rotate_left(29);
    }
    let mut last = [0u8; 8];
    last.iter_mut().zip(tail).for_each(|(d, s)| *d = *s);
    h = (h ^ u64::from_le_bytes(last)).wrapping_mul(K);
    (h >> 55) as usize & (SLOTS - 1)
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

    #[test]
    fn values_differing_in_one_byte_anywhere_spread_like_random_ones() {
        // SLOTS values thrown at random fill about 1 - 1/e (63%) of the slots. Channel names
        // that differ only in their last bytes, in the middle, or only in length must too.
        let families: [&dyn Fn(usize) -> Vec<u8>; 3] = [
            &|i| format!("PJSIP/100-{i:08x}").into_bytes(),
            &|i| format!("SIP/{i:03}-trunk-0001").into_bytes(),
            &|i| vec![b'x'; i % (MAX_CACHED + 1)].into_iter().chain([(i / 49) as u8]).collect(),
        ];
        for (f, family) in families.iter().enumerate() {
            let used: std::collections::HashSet<usize> =
                (0..SLOTS).map(|i| slot_of(&family(i))).collect();
            assert!(used.iter().all(|&s| s < SLOTS));
            assert!(used.len() * 100 >= SLOTS * 55, "family {f}: {} of {SLOTS} slots", used.len());
        }
    }
}
