//! One PBX's bounded buffer: what was read and is not yet stored (the active bridge), or what
//! was read recently (a standby, for a takeover). Full, it drops the oldest entries and counts
//! them.

use std::collections::VecDeque;
use std::sync::Arc;

use ami_proto::perm::Privilege;
use bytes::Bytes;

use super::ids::Position;

/// What an entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An event of the PBX.
    Event,
    /// A `BridgeGap` marker.
    Gap,
    /// A part of a state snapshot.
    Snapshot {
        /// The snapshot's id.
        id: Arc<str>,
        /// The action (`CoreShowChannels`).
        action: Arc<str>,
        /// `start`, `item`, `end` or `failed`.
        part: &'static str,
    },
}

/// One message to store, in every role stream it goes to.
#[derive(Clone, Debug)]
pub struct Entry {
    /// `Nats-Msg-Id`.
    pub msg_id: String,
    /// The event's position (events only).
    pub position: Option<Position>,
    /// The AMI bytes.
    pub raw: Bytes,
    /// The event name as a subject token.
    pub token: String,
    /// The event name as sent.
    pub name: String,
    /// The event's class bits.
    pub class: Privilege,
    /// Uniqueid and Linkedid, if present.
    pub uniqueid: Option<String>,
    /// Linkedid, if present.
    pub linkedid: Option<String>,
    /// When the bridge read it, Unix microseconds.
    pub received_us: u64,
    /// What it is.
    pub kind: Kind,
    /// The roles it goes to (bit i: role i).
    pub targets: u64,
    /// Publishes still unacknowledged (set when sent).
    pub pending: u32,
    /// Handed to NATS at least once: JetStream may hold it even if no acknowledgement came
    /// (the connection failed first).
    pub sent: bool,
    /// A `buffer-full` marker: the loss it announces (empty for anything else). Should the
    /// marker itself be dropped from a full buffer, this is announced again (see
    /// [`Buffer::push`]).
    pub announces: Loss,
}

/// What had to be dropped, for the `BridgeGap` that announces it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loss {
    /// Events certainly not stored: dropped before they were ever sent, or refused.
    pub count: u64,
    /// Events dropped after they were sent without an acknowledgement: JetStream may or may
    /// not hold them (consumers tell by `Ami-Seq`).
    pub unconfirmed: u64,
    /// When the first was read (Unix µs).
    pub since_us: u64,
    /// When the last was read (Unix µs).
    pub until_us: u64,
}

impl Loss {
    /// Counts `e` as lost.
    pub fn add(&mut self, e: &Entry) {
        self.span(e);
        self.count += 1;
    }

    /// Counts `e` as dropped after it was sent (maybe stored).
    pub fn add_unconfirmed(&mut self, e: &Entry) {
        self.span(e);
        self.unconfirmed += 1;
    }

    /// Whether nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.count == 0 && self.unconfirmed == 0
    }

    /// Takes over what a dropped `buffer-full` marker announced. Unsent, its counts are
    /// certain and move as they are; sent, JetStream may hold it (and so the announcement),
    /// so they are announced again as unconfirmed: never fewer losses than there were, and
    /// `Lost:` never counts one twice.
    fn absorb(&mut self, marker: &Entry) {
        let a = &marker.announces;
        if a.is_empty() {
            return;
        }
        if self.is_empty() || a.since_us < self.since_us {
            self.since_us = a.since_us;
        }
        self.until_us = self.until_us.max(a.until_us);
        if marker.sent {
            self.unconfirmed += a.count + a.unconfirmed;
        } else {
            self.count += a.count;
            self.unconfirmed += a.unconfirmed;
        }
    }

    fn span(&mut self, e: &Entry) {
        if self.is_empty() {
            self.since_us = e.received_us;
        }
        self.until_us = e.received_us;
    }
}

/// A bounded FIFO of entries with absolute indices (`head` is the index of the first).
#[derive(Debug)]
pub struct Buffer {
    entries: VecDeque<Entry>,
    head: u64,
    bytes: usize,
    max_events: usize,
    max_bytes: usize,
}

impl Buffer {
    /// An empty buffer holding at most `max_events` entries and `max_bytes` bytes.
    pub fn new(max_events: usize, max_bytes: usize) -> Buffer {
        Buffer {
            entries: VecDeque::new(),
            head: 0,
            bytes: 0,
            max_events: max_events.max(1),
            max_bytes: max_bytes.max(1),
        }
    }

    /// Appends `e`, dropping the oldest entries while the buffer is over a bound; the events
    /// dropped are added to `lost`, and so is what a dropped `buffer-full` marker announced
    /// (a marker is placed before the entries not sent yet, so in a full buffer it can reach
    /// the front before it is sent; its counts must then be announced by the next one).
    pub fn push(&mut self, e: Entry, lost: &mut Loss) {
        self.bytes += e.raw.len();
        self.entries.push_back(e);
        while self.entries.len() > self.max_events
            || (self.bytes > self.max_bytes && self.entries.len() > 1)
        {
            let Some(old) = self.pop_front() else { break };
            match old.kind {
                Kind::Event if old.sent => lost.add_unconfirmed(&old),
                Kind::Event => lost.add(&old),
                Kind::Gap => lost.absorb(&old),
                Kind::Snapshot { .. } => {}
            }
        }
    }

    /// Inserts `e` before the entry with absolute index `at` (entries from `at` on move up).
    pub fn insert(&mut self, at: u64, e: Entry) {
        let i = usize::try_from(at.saturating_sub(self.head))
            .unwrap_or(usize::MAX)
            .min(self.entries.len());
        self.bytes += e.raw.len();
        self.entries.insert(i, e);
    }

    /// Removes and returns the first entry.
    pub fn pop_front(&mut self) -> Option<Entry> {
        let e = self.entries.pop_front()?;
        self.head += 1;
        self.bytes -= e.raw.len();
        Some(e)
    }

    /// The first entry.
    pub fn front(&self) -> Option<&Entry> {
        self.entries.front()
    }

    /// The entry with absolute index `abs`.
    pub fn get_mut(&mut self, abs: u64) -> Option<&mut Entry> {
        let i = usize::try_from(abs.checked_sub(self.head)?).ok()?;
        self.entries.get_mut(i)
    }

    /// The absolute index of the first entry.
    pub fn head(&self) -> u64 {
        self.head
    }

    /// One past the absolute index of the last entry.
    pub fn end(&self) -> u64 {
        self.head + self.entries.len() as u64
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Drops every entry up to and including the event at `token:seq`, if it is held; returns
    /// whether it was found. A standby trims what the active one has stored this way.
    pub fn trim_through(&mut self, token: &str, seq: u64) -> bool {
        let found = self
            .entries
            .iter()
            .position(|e| e.position.as_ref().is_some_and(|p| &*p.token == token && p.seq == seq));
        match found {
            Some(i) => {
                for _ in 0..=i {
                    self.pop_front();
                }
                true
            }
            None => false,
        }
    }

    /// Drops every entry that is not an anchored event (a standby re-sends only those).
    pub fn keep_anchored_events(&mut self) {
        // The entries kept get new indices after every old one.
        let end = self.end();
        let kept: VecDeque<Entry> = std::mem::take(&mut self.entries)
            .into_iter()
            .filter(|e| e.position.as_ref().is_some_and(|p| p.anchored))
            .collect();
        self.head = end;
        self.bytes = kept.iter().map(|e| e.raw.len()).sum();
        self.entries = kept;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn event(seq: u64, token: &str, anchored: bool) -> Entry {
        Entry {
            msg_id: format!("p:{token}:{seq}"),
            position: Some(Position { token: Arc::from(token), anchored, seq }),
            raw: Bytes::from(format!("Event: E\r\nN: {seq}\r\n\r\n")),
            token: "E".into(),
            name: "E".into(),
            class: Privilege::CALL,
            uniqueid: None,
            linkedid: None,
            received_us: seq * 10,
            kind: Kind::Event,
            targets: 1,
            pending: 0,
            sent: false,
            announces: Loss::default(),
        }
    }

    /// A `buffer-full` marker announcing `count` lost and `unconfirmed` unconfirmed events.
    fn marker(count: u64, unconfirmed: u64, sent: bool) -> Entry {
        let mut m = event(0, "gap", false);
        m.kind = Kind::Gap;
        m.msg_id = format!("gap:{count}:{unconfirmed}");
        m.sent = sent;
        m.announces = Loss { count, unconfirmed, since_us: 5, until_us: 7 };
        m
    }

    #[test]
    fn a_marker_dropped_from_a_full_buffer_hands_on_what_it_announced() {
        // Seen in the bridge test with NATS restarting: a marker placed at the front of a full
        // buffer was dropped by the next event before it was sent, and its count with it.
        let mut b = Buffer::new(2, 1 << 20);
        let mut lost = Loss::default();
        b.push(marker(3, 1, false), &mut lost);
        b.push(event(1, "t", true), &mut lost);
        assert!(lost.is_empty());
        b.push(event(2, "t", true), &mut lost);
        assert_eq!(lost, Loss { count: 3, unconfirmed: 1, since_us: 5, until_us: 7 });
        // Sent, it may be stored: its counts come back as unconfirmed only.
        let mut lost = Loss::default();
        b.push(marker(4, 2, true), &mut lost);
        assert_eq!((lost.count, lost.unconfirmed), (1, 0), "event 1 dropped");
        b.push(event(3, "t", true), &mut lost);
        assert_eq!((lost.count, lost.unconfirmed), (2, 0), "event 2 dropped");
        b.push(event(4, "t", true), &mut lost);
        assert_eq!((lost.count, lost.unconfirmed), (2, 6), "the sent marker's 4 + 2");
        assert_eq!((lost.since_us, lost.until_us), (5, 20));
    }

    #[test]
    fn bounded_by_count_and_bytes_counting_what_is_dropped() {
        let mut b = Buffer::new(3, 1 << 20);
        let mut lost = Loss::default();
        for i in 1..=5 {
            b.push(event(i, "t", true), &mut lost);
        }
        assert_eq!((b.len(), b.head(), b.end()), (3, 2, 5));
        assert_eq!(lost, Loss { count: 2, unconfirmed: 0, since_us: 10, until_us: 20 });
        // Dropped after it was sent: maybe stored, counted apart.
        b.get_mut(b.head()).unwrap().sent = true;
        b.push(event(6, "t", true), &mut lost);
        assert_eq!(lost, Loss { count: 2, unconfirmed: 1, since_us: 10, until_us: 30 });
        assert_eq!(b.front().unwrap().msg_id, "p:t:4");
        let one = event(1, "t", true).raw.len();
        let mut b = Buffer::new(100, one * 2);
        let mut lost = Loss::default();
        for i in 1..=4 {
            b.push(event(i, "t", true), &mut lost);
        }
        assert_eq!(b.len(), 2);
        assert_eq!(lost.count, 2);
        assert!(b.bytes() <= one * 2);
    }

    #[test]
    fn trims_through_a_position_and_keeps_anchored_events() {
        let mut b = Buffer::new(100, 1 << 20);
        let mut lost = Loss::default();
        b.push(event(1, "s-x", false), &mut lost);
        for i in 1..=4 {
            b.push(event(i, "a", true), &mut lost);
        }
        assert!(!b.trim_through("b", 2));
        assert!(b.trim_through("a", 2));
        assert_eq!(b.front().unwrap().msg_id, "p:a:3");
        assert_eq!(b.head(), 3);
        let mut b2 = Buffer::new(100, 1 << 20);
        b2.push(event(1, "s-x", false), &mut lost);
        b2.push(event(1, "a", true), &mut lost);
        b2.keep_anchored_events();
        assert_eq!(b2.len(), 1);
        assert_eq!(b2.front().unwrap().msg_id, "p:a:1");
        let mut gap = event(0, "a", true);
        gap.kind = Kind::Gap;
        gap.msg_id = "gap".into();
        b.insert(4, gap);
        assert_eq!(b.get_mut(4).unwrap().msg_id, "gap");
        assert_eq!(b.get_mut(5).unwrap().msg_id, "p:a:4");
        assert_eq!(lost.count, 0);
    }
}
