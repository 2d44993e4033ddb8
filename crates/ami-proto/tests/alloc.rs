//! The streaming path allocates nothing per message once its buffers have grown.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ami_proto::{Decoder, Frame, Role};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn traffic(copies: usize) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/asterisk-22/originate-async-admin");
    let capture = std::fs::read(format!("{dir}/server_to_client.bin")).unwrap();
    let body = &capture[30..]; // without the banner
    let mut out = capture[..30].to_vec();
    for _ in 0..copies {
        out.extend_from_slice(body);
    }
    out
}

#[test]
fn no_allocation_per_message_once_warm() {
    let input = traffic(40);
    let mut dec = Decoder::new(Role::Client);
    let consume = |dec: &mut Decoder, chunk: &[u8]| {
        dec.feed(chunk);
        let mut n = 0usize;
        while let Some(f) = dec.next_frame() {
            if let Ok(Frame::Message(m)) = f {
                n += m.get("Event").map_or(0, <[u8]>::len) + m.len();
            }
        }
        n
    };
    // Warm up on the first quarter, in 4 KiB chunks as a socket would deliver them.
    let warm = input.len() / 4;
    let mut sink = 0;
    for c in input[..warm].chunks(4096) {
        sink += consume(&mut dec, c);
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let frames_before = dec.stats().frames;
    for c in input[warm..].chunks(4096) {
        sink += consume(&mut dec, c);
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    let frames = dec.stats().frames - frames_before;
    assert!(sink > 0);
    assert!(frames > 3_000, "{frames} frames");
    assert_eq!(allocations, 0, "{allocations} allocations for {frames} messages");
}
