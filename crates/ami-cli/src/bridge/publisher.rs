//! Stores one PBX's buffer in JetStream: acknowledged publishes, at most `in_flight` waiting,
//! in order; after a failure everything from the first unacknowledged entry is sent again, in
//! order, with the same ids (JetStream drops what it already has).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::connection::State;
use async_nats::jetstream::context::{Context, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck;
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;

use super::buffer::{Buffer, Entry, Kind, Loss};
use super::ids::Position;
use super::metrics::Metrics;
use super::roles::Role;

type AckFuture = Pin<Box<dyn Future<Output = (u64, Result<PublishAck, PublishErrorKind>)> + Send>>;

/// The last entry JetStream acknowledged (for the progress record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// Its position, if it was an event.
    pub position: Option<Position>,
    /// When the bridge read it (Unix µs).
    pub received_us: u64,
}

/// The publishing side of one PBX.
pub struct Publisher {
    pbx: String,
    prefix: String,
    roles: Arc<Vec<Role>>,
    js: Context,
    window: usize,
    /// Entries below this absolute index have been sent.
    sent_to: u64,
    acks: FuturesOrdered<AckFuture>,
    /// No publishing before this (after a failure).
    retry_at: Option<Instant>,
    backoff: Duration,
    /// The last entry stored.
    pub stored: Option<Stored>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("pbx", &self.pbx)
            .field("sent_to", &self.sent_to)
            .field("in_flight", &self.acks.len())
            .finish_non_exhaustive()
    }
}

/// A subject token for an event or action name: `[A-Za-z0-9_-]`, other bytes as `_`.
pub fn subject_token(name: &[u8]) -> String {
    if name.is_empty() {
        return "_".to_owned();
    }
    name.iter()
        .map(|&b| if b.is_ascii_alphanumeric() || b == b'-' { char::from(b) } else { '_' })
        .collect()
}

impl Publisher {
    /// A publisher for PBX `pbx`.
    pub fn new(
        pbx: &str,
        prefix: &str,
        roles: Arc<Vec<Role>>,
        js: Context,
        window: usize,
        metrics: Arc<Metrics>,
    ) -> Publisher {
        Publisher {
            pbx: pbx.to_owned(),
            prefix: prefix.to_owned(),
            roles,
            js,
            window: window.max(1),
            sent_to: 0,
            acks: FuturesOrdered::new(),
            retry_at: None,
            backoff: Duration::from_millis(100),
            stored: None,
            metrics,
        }
    }

    /// The first absolute index not sent yet.
    pub fn sent_to(&self) -> u64 {
        self.sent_to
    }

    /// Forgets everything in flight: the next [`pump`](Self::pump) sends from the first entry
    /// of the buffer again (the entries keep their ids).
    pub fn reset(&mut self, buffer: &mut Buffer) {
        self.acks = FuturesOrdered::new();
        self.sent_to = buffer.head();
        for abs in buffer.head()..buffer.end() {
            if let Some(e) = buffer.get_mut(abs) {
                e.pending = 0;
            }
        }
    }

    /// Where to insert an entry that must come before everything not sent yet.
    pub fn insertion_point(&self, buffer: &Buffer) -> u64 {
        self.sent_to.max(buffer.head())
    }

    fn subject(&self, role: &Role, e: &Entry) -> String {
        let suffix = match &e.kind {
            Kind::Event => format!("ev.{}", e.token),
            Kind::Gap => "gap".to_owned(),
            Kind::Snapshot { action, .. } => format!("snap.{action}"),
        };
        format!("{}.{}.{}.{suffix}", self.prefix, role.name, self.pbx)
    }

    fn headers(&self, e: &Entry) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("Nats-Msg-Id", e.msg_id.as_str());
        h.insert(
            "Ami-Kind",
            match e.kind {
                Kind::Event => "event",
                Kind::Gap => "gap",
                Kind::Snapshot { .. } => "snapshot",
            },
        );
        h.insert("Ami-Pbx", self.pbx.as_str());
        h.insert("Ami-Event", e.name.as_str());
        h.insert("Ami-Class", class_names(e.class).as_str());
        h.insert("Ami-Class-Bits", e.class.bits().to_string().as_str());
        if let Some(u) = &e.uniqueid {
            h.insert("Ami-Uniqueid", u.as_str());
        }
        if let Some(l) = &e.linkedid {
            h.insert("Ami-Linkedid", l.as_str());
        }
        if let Some(p) = &e.position {
            h.insert("Ami-Seq", p.label().as_str());
        }
        h.insert("Ami-Received", e.received_us.to_string().as_str());
        if let Kind::Snapshot { id, part, .. } = &e.kind {
            h.insert("Ami-Snapshot", &**id);
            h.insert("Ami-Snapshot-Part", *part);
        }
        h
    }

    /// Whether [`pump`](Self::pump) would send now: NATS is connected and no retry is
    /// waiting out its backoff.
    pub fn ready(&self) -> bool {
        self.retry_at.is_none_or(|t| Instant::now() >= t)
            && self.js.client().connection_state() == State::Connected
    }

    /// Sends entries from the buffer while the window has room. Returns false after a send
    /// failed (everything is sent again after a backoff).
    pub async fn pump(&mut self, buffer: &mut Buffer) -> bool {
        if let Some(t) = self.retry_at {
            if Instant::now() < t {
                return true;
            }
            self.retry_at = None;
        }
        self.sent_to = self.sent_to.max(buffer.head());
        if self.js.client().connection_state() != State::Connected {
            // What is in flight will not be acknowledged: send it again, in order, once NATS
            // is back (waiting for each acknowledgement's timeout would store it after newer
            // events). And nothing new is handed to the client meanwhile: it would queue it,
            // counting as sent (maybe stored) while it waits, so the buffer's losses could no
            // longer be told apart. It waits in the buffer instead.
            if !self.acks.is_empty() {
                self.failed(buffer, "connection lost");
            }
            return true;
        }
        while self.acks.len() < self.window && self.sent_to < buffer.end() {
            let abs = self.sent_to;
            let Some(e) = buffer.get_mut(abs) else { break };
            let e = e.clone();
            let mut pending = 0u32;
            for (i, role) in self.roles.iter().enumerate() {
                if e.targets & (1u64 << i) == 0 {
                    continue;
                }
                let subject = self.subject(role, &e);
                let publish =
                    PublishMessage::build().payload(e.raw.clone()).headers(self.headers(&e));
                match self.js.send_publish(subject, publish).await {
                    Ok(ack) => {
                        pending += 1;
                        self.acks.push_back(Box::pin(async move {
                            (abs, ack.await.map_err(|e| e.kind()))
                        }));
                    }
                    Err(err) if err.kind() == PublishErrorKind::MaxPayloadExceeded => {
                        self.metrics.dropped(&self.pbx, "too-large", 1);
                        tracing::warn!(pbx = %self.pbx, id = %e.msg_id, bytes = e.raw.len(), "a message is larger than the NATS server's max_payload: not stored");
                    }
                    Err(err) => {
                        self.failed(buffer, &format!("publish: {err}"));
                        return false;
                    }
                }
            }
            if let Some(entry) = buffer.get_mut(abs) {
                entry.pending = pending;
                entry.sent |= pending > 0;
            }
            self.sent_to += 1;
            if pending == 0 {
                self.settle(buffer);
            }
        }
        self.metrics.in_flight(&self.pbx, self.acks.len());
        true
    }

    /// Waits for the next acknowledgement (pending forever when none is in flight).
    pub async fn next_ack(&mut self) -> (u64, Result<PublishAck, PublishErrorKind>) {
        match self.acks.next().await {
            Some(a) => a,
            None => std::future::pending().await,
        }
    }

    /// Takes one acknowledgement; returns false when it was a failure (then everything is
    /// sent again after a backoff).
    pub fn acked(
        &mut self,
        buffer: &mut Buffer,
        abs: u64,
        result: Result<PublishAck, PublishErrorKind>,
        lost: &mut Loss,
    ) -> bool {
        match result {
            Ok(ack) => {
                if ack.duplicate {
                    self.metrics.duplicate(&self.pbx);
                }
                self.backoff = Duration::from_millis(100);
            }
            Err(PublishErrorKind::Other) => {
                // The stream refused this one message (limits): it is not retried.
                self.metrics.dropped(&self.pbx, "refused", 1);
                if let Some(e) = buffer.get_mut(abs) {
                    tracing::warn!(pbx = %self.pbx, id = %e.msg_id, "JetStream refused a message");
                    if e.kind == Kind::Event {
                        lost.add(e);
                    }
                }
            }
            Err(kind) => {
                self.failed(buffer, &format!("acknowledgement: {kind:?}"));
                return false;
            }
        }
        if let Some(e) = buffer.get_mut(abs) {
            e.pending = e.pending.saturating_sub(1);
        }
        self.settle(buffer);
        true
    }

    /// Removes the acknowledged entries at the front.
    fn settle(&mut self, buffer: &mut Buffer) {
        while let Some(front) = buffer.front() {
            if buffer.head() >= self.sent_to || front.pending > 0 {
                break;
            }
            if let Some(e) = buffer.pop_front() {
                if e.kind == Kind::Event {
                    self.metrics.stored(&self.pbx);
                }
                self.stored = Some(Stored { position: e.position, received_us: e.received_us });
            }
        }
        self.metrics.buffered(&self.pbx, buffer.len(), buffer.bytes());
    }

    fn failed(&mut self, buffer: &mut Buffer, what: &str) {
        tracing::warn!(pbx = %self.pbx, in_flight = self.acks.len(), buffered = buffer.len(), "NATS {what}; sending again from the first unacknowledged event in {:?}", self.backoff);
        self.metrics.retry(&self.pbx);
        self.reset(buffer);
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(Duration::from_secs(2));
    }
}

/// `call,cdr` for a class mask (`none` for 0).
pub fn class_names(class: ami_proto::perm::Privilege) -> String {
    if class.is_empty() {
        return "none".to_owned();
    }
    ami_proto::perm::CLASSES
        .iter()
        .filter(|(name, p)| *name != "all" && class.contains(*p) && !p.is_empty())
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_proto::perm::Privilege;

    #[test]
    fn subject_tokens_and_class_names() {
        assert_eq!(subject_token(b"Hangup"), "Hangup");
        assert_eq!(subject_token(b"a.b c>*"), "a_b_c__");
        assert_eq!(subject_token(b""), "_");
        assert_eq!(subject_token(&[0xff, b'x']), "_x");
        assert_eq!(class_names(Privilege::CALL.union(Privilege::CDR)), "call,cdr");
        assert_eq!(class_names(Privilege::NONE), "none");
    }
}
