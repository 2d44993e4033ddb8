//! The storage of spent messages, reused for the next ones.
//!
//! Every message a decode loop yields is copied out of the decoder into an [`OwnedMessage`]
//! (two buffers: its bytes and its header slots), and a typical loop drops it a moment later.
//! Instead of freeing both buffers and allocating two more for the next message, a dropped
//! [`Message`](crate::message::Message) hands its storage to a small per-thread pool, and the
//! next copy ([`owned`]) is written into it: once warm, a decode loop allocates nothing per
//! message for its storage.
//!
//! Bounded: at most [`POOL_SIZE`] spent messages per thread, and none whose buffers hold more
//! than [`MAX_POOLED_BYTES`] (one huge message's buffers are freed, not kept for small ones).
//! What is reused is capacity only: a copy replaces the whole content
//! ([`Message::clone_into_owned`](ami_proto::Message::clone_into_owned)).

use std::cell::RefCell;

use ami_proto::{Message, OwnedMessage};

/// Spent messages kept per thread, at most.
pub const POOL_SIZE: usize = 32;

/// The largest storage kept (bytes and slots together): an event is usually under 2 KiB.
pub const MAX_POOLED_BYTES: usize = 16 * 1024;

thread_local! {
    static POOL: RefCell<Vec<OwnedMessage>> = const { RefCell::new(Vec::new()) };
}

/// `m` copied into storage from the pool (new storage if the pool is empty).
pub fn owned(m: &Message<'_>) -> OwnedMessage {
    let mut storage = POOL
        .try_with(|pool| pool.try_borrow_mut().ok().and_then(|mut p| p.pop()))
        .ok()
        .flatten()
        .unwrap_or_default();
    m.clone_into_owned(&mut storage);
    storage
}

/// Gives a spent message's storage back to the pool, unless the pool is full, the storage is
/// too large, or the thread is exiting (then it is simply freed).
pub fn recycle(spent: OwnedMessage) {
    if spent.heap_bytes() == 0 || spent.heap_bytes() > MAX_POOLED_BYTES {
        return;
    }
    let _ = POOL.try_with(|pool| {
        if let Ok(mut pool) = pool.try_borrow_mut()
            && pool.len() < POOL_SIZE
        {
            pool.push(spent);
        }
    });
}

/// Spent messages in this thread's pool.
#[cfg(test)]
fn pooled() -> usize {
    POOL.try_with(|pool| pool.try_borrow().map_or(0, |p| p.len())).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_proto::{Decoder, Frame, Role};

    fn messages(bytes: &[u8]) -> Vec<OwnedMessage> {
        let mut d = Decoder::new(Role::Client);
        d.feed(bytes);
        let mut out = Vec::new();
        while let Some(Ok(Frame::Message(m))) = d.next_frame() {
            out.push(owned(&m));
            assert_eq!(out.last(), Some(&m.to_owned_message()));
        }
        out
    }

    #[test]
    fn storage_is_reused_and_the_pool_is_bounded() {
        // Run on a thread of its own: the pool is per thread.
        std::thread::spawn(|| {
            let event = b"Event: Hangup\r\nChannel: PJSIP/100-00000001\r\nCause: 16\r\n\r\n";
            let spent = messages(event).pop().unwrap();
            let held = spent.heap_bytes();
            recycle(spent);
            assert_eq!(pooled(), 1);
            // The next copy takes that storage: the pool is empty again, the capacity the same.
            let again = messages(b"Event: Newstate\r\nChannelState: 6\r\n\r\n").pop().unwrap();
            assert_eq!((pooled(), again.heap_bytes()), (0, held));
            assert_eq!(again.get("ChannelState"), Some(&b"6"[..]));
            assert_eq!(again.get("Channel"), None, "nothing of the earlier message is left");

            // Never more than POOL_SIZE.
            let many = messages(&event.repeat(POOL_SIZE + 5));
            assert_eq!(many.len(), POOL_SIZE + 5);
            many.into_iter().for_each(recycle);
            assert_eq!(pooled(), POOL_SIZE);

            // Storage larger than MAX_POOLED_BYTES, and empty storage, are not kept.
            let mut big = b"Event: UserEvent\r\nData: ".to_vec();
            big.extend(std::iter::repeat_n(b'x', MAX_POOLED_BYTES));
            big.extend_from_slice(b"\r\n\r\n");
            let big = messages(&big).pop().unwrap(); // copied into storage from the pool
            assert!(big.heap_bytes() > MAX_POOLED_BYTES);
            assert_eq!(pooled(), POOL_SIZE - 1);
            recycle(big);
            recycle(OwnedMessage::default());
            assert_eq!(pooled(), POOL_SIZE - 1);
        })
        .join()
        .unwrap();
    }
}
