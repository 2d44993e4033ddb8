//! Reuse of batch tables.
//!
//! The sessions' calls (client and server events) return their tables as a `Uint32Array` over
//! memory allocated here (the stream decoder writes into memory JavaScript allocated instead).
//! Allocating it fresh each time makes the kernel fault in and zero new pages for every chunk
//! (the allocator returns freed memory to the system between collections), which cost more
//! than the table's contents. So a table's memory comes back here when V8 frees the array, and
//! the next batch writes into pages already mapped.
//!
//! This is the crate's only `unsafe` code: handing a `Vec`'s allocation to V8 and taking it
//! back. The pool is per thread (each JavaScript environment runs on its own thread) and
//! bounded: at most `KEPT` tables of at most `MAX_KEPT_WORDS` words.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::mem::ManuallyDrop;

use napi::bindgen_prelude::Uint32Array;

/// Most tables kept for reuse.
const KEPT: usize = 64;
/// Larger tables are freed rather than kept (so the pool holds at most 16 MiB).
const MAX_KEPT_WORDS: usize = 64 * 1024;

thread_local! {
    static POOL: RefCell<Vec<Vec<u32>>> = const { RefCell::new(Vec::new()) };
}

/// An empty table with room for at least `words` words, from the pool when it has one.
pub fn take(words: usize) -> Vec<u32> {
    let reused = POOL.try_with(|p| p.borrow_mut().pop()).ok().flatten();
    match reused {
        Some(mut v) => {
            v.clear();
            v.reserve(words);
            v
        }
        None => Vec::with_capacity(words),
    }
}

/// Gives a table's memory back (or frees it, if the pool is full or the thread is ending).
fn give(v: Vec<u32>) {
    if v.capacity() == 0 || v.capacity() > MAX_KEPT_WORDS {
        return;
    }
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < KEPT {
            p.push(v);
        }
    });
}

/// The table as a `Uint32Array` over its own memory, which comes back to the pool when V8
/// frees the array.
pub fn typed_array(table: Vec<u32>) -> Uint32Array {
    let mut table = ManuallyDrop::new(table);
    let (ptr, len, capacity) = (table.as_mut_ptr(), table.len(), table.capacity());
    let notify = move |p: *mut u32, l: usize| {
        // SAFETY: napi-rs calls this exactly once (see below) with the `ptr` and `len` given
        // to it; `capacity` is the capacity of that same allocation; after this call nothing
        // refers to the memory any more.
        give(unsafe { Vec::from_raw_parts(p, l, capacity) });
    };
    // SAFETY: `ptr`, `len` and `capacity` describe the allocation of a `Vec` that is no longer
    // owned anywhere (`ManuallyDrop`, never dropped or used again here). napi-rs calls `notify`
    // exactly once, with this `ptr` and `len`: when V8 frees the ArrayBuffer (its finalizer), or
    // at once if the array is created by copying (empty data, or a runtime without external
    // buffers). Until then only the array reads the memory.
    unsafe { Uint32Array::with_external_data(ptr, len, notify) }
}
