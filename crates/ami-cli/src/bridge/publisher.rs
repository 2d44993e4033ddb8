//! Stores one PBX's buffer in JetStream: acknowledged publishes, at most `in_flight` waiting,
//! in order; after a failure everything from the first unacknowledged entry is sent again, in
//! order, with the same ids (JetStream drops what it already has).
//!
//! The acknowledgements come on one subscription per PBX (`<inbox>.<generation>.<index>`):
//! each publish names its entry in its reply subject, so an acknowledgement costs a subject
//! parse, not (as with async-nats's `send_publish`) an inbox, a oneshot channel, a map entry
//! in the connection task and a timer of its own. The acknowledgement timeout is kept for the
//! oldest publish in flight (acknowledgements come in order); the generation changes whenever
//! everything in flight is forgotten, so late acknowledgements of an earlier attempt are
//! ignored.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::connection::State;
use async_nats::jetstream::context::{Context, PublishErrorKind};
use async_nats::{Client, HeaderMap, HeaderName, HeaderValue, StatusCode, Subject, Subscriber};
use futures_util::StreamExt;

use super::buffer::{Buffer, Entry, Kind, Loss};
use super::ids::{Position, push_decimal};
use super::metrics::{Metrics, PbxMetrics};
use super::roles::Role;

/// How long a publish waits for its acknowledgement before everything in flight is sent again.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// Class masks whose header values are kept ready, at most (a PBX uses a handful).
const CLASS_VALUES: usize = 32;

/// What JetStream's acknowledgement of a stored message says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ack {
    /// The message's sequence number in the stream.
    pub sequence: u64,
    /// The message was already stored (same `Nats-Msg-Id` within the duplicate window).
    pub duplicate: bool,
}

/// The last entry JetStream acknowledged (for the progress record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// Its position, if it was an event.
    pub position: Option<Position>,
    /// When the bridge read it (Unix µs).
    pub received_us: u64,
}

// The header names (static: a publish copies none of them).
const MSG_ID: HeaderName = HeaderName::from_static("Nats-Msg-Id");
const KIND: HeaderName = HeaderName::from_static("Ami-Kind");
const PBX: HeaderName = HeaderName::from_static("Ami-Pbx");
const EVENT: HeaderName = HeaderName::from_static("Ami-Event");
const CLASS: HeaderName = HeaderName::from_static("Ami-Class");
const CLASS_BITS: HeaderName = HeaderName::from_static("Ami-Class-Bits");
const UNIQUEID: HeaderName = HeaderName::from_static("Ami-Uniqueid");
const LINKEDID: HeaderName = HeaderName::from_static("Ami-Linkedid");
const SEQ: HeaderName = HeaderName::from_static("Ami-Seq");
const RECEIVED: HeaderName = HeaderName::from_static("Ami-Received");
const SNAPSHOT: HeaderName = HeaderName::from_static("Ami-Snapshot");
const SNAPSHOT_PART: HeaderName = HeaderName::from_static("Ami-Snapshot-Part");

/// The publishing side of one PBX.
pub struct Publisher {
    pbx: String,
    /// `<prefix>.<role>.<pbx>.` per role.
    subjects: Vec<String>,
    roles: Arc<Vec<Role>>,
    client: Client,
    window: usize,
    /// Entries below this absolute index have been sent.
    sent_to: u64,
    /// The acknowledgements' subscription (made by the first [`pump`](Self::pump)).
    replies: Option<Subscriber>,
    /// Its subject without the trailing `.>`.
    inbox: String,
    /// Changes whenever everything in flight is forgotten.
    generation: u64,
    /// Publishes sent and not acknowledged.
    in_flight: usize,
    /// The entries with publishes in flight and when they were sent, oldest first.
    sent_at: VecDeque<(u64, Instant)>,
    /// No publishing before this (after a failure).
    retry_at: Option<Instant>,
    backoff: Duration,
    /// The last entry stored.
    pub stored: Option<Stored>,
    metrics: Arc<Metrics>,
    hot: PbxMetrics,
    pbx_value: HeaderValue,
    /// `Ami-Class` and `Ami-Class-Bits` values by class mask, made once each.
    class_values: Vec<(ami_proto::perm::Privilege, HeaderValue, HeaderValue)>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("pbx", &self.pbx)
            .field("sent_to", &self.sent_to)
            .field("in_flight", &self.in_flight)
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

/// `(generation, index)` from an acknowledgement's subject `<inbox>.<generation>.<index>`.
fn reply_of(subject: &str, inbox: &str) -> Option<(u64, u64)> {
    let rest = subject.strip_prefix(inbox)?.strip_prefix('.')?;
    let (generation, index) = rest.split_once('.')?;
    Some((generation.parse().ok()?, index.parse().ok()?))
}

/// The fields of an acknowledgement the bridge reads; the others are skipped.
#[derive(serde::Deserialize)]
struct AckBody {
    error: Option<serde::de::IgnoredAny>,
    stream: Option<serde::de::IgnoredAny>,
    seq: Option<u64>,
    #[serde(default)]
    duplicate: bool,
}

/// What an acknowledgement says. As async-nats reads it (`Response<PublishAck>`), in one pass
/// rather than its untagged enum's two (which buffers the whole answer and makes an error
/// value for the variant that does not match): an `error` answer, or one that is not JSON or
/// lacks `stream` and `seq`, is the stream refusing this message. Only a malformed answer in a
/// field the bridge does not read (a `stream` or `domain` that is not a string) is taken
/// differently: as the acknowledgement its `seq` says it is.
fn ack_result(status: Option<StatusCode>, payload: &[u8]) -> Result<Ack, PublishErrorKind> {
    if status == Some(StatusCode::NO_RESPONDERS) {
        return Err(PublishErrorKind::StreamNotFound);
    }
    match serde_json::from_slice::<AckBody>(payload) {
        Ok(AckBody { error: None, stream: Some(_), seq: Some(sequence), duplicate }) => {
            Ok(Ack { sequence, duplicate })
        }
        Ok(_) | Err(_) => Err(PublishErrorKind::Other),
    }
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
        let client = js.client();
        Publisher {
            pbx: pbx.to_owned(),
            subjects: roles.iter().map(|r| format!("{prefix}.{}.{pbx}.", r.name)).collect(),
            roles,
            inbox: client.new_inbox(),
            client,
            window: window.max(1),
            sent_to: 0,
            replies: None,
            generation: 0,
            in_flight: 0,
            sent_at: VecDeque::new(),
            retry_at: None,
            backoff: Duration::from_millis(100),
            stored: None,
            hot: metrics.of_pbx(pbx),
            metrics,
            pbx_value: HeaderValue::from(pbx.to_owned()),
            class_values: Vec::new(),
        }
    }

    /// The first absolute index not sent yet.
    pub fn sent_to(&self) -> u64 {
        self.sent_to
    }

    /// The per-event metrics of this PBX.
    pub fn metrics(&self) -> &PbxMetrics {
        &self.hot
    }

    /// Forgets everything in flight: the next [`pump`](Self::pump) sends from the first entry
    /// of the buffer again (the entries keep their ids).
    pub fn reset(&mut self, buffer: &mut Buffer) {
        self.generation += 1;
        self.in_flight = 0;
        self.sent_at.clear();
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

    fn subject(&self, role: usize, e: &Entry) -> String {
        let base = self.subjects.get(role).map_or("", String::as_str);
        let mut s = String::with_capacity(base.len() + 5 + e.token.len());
        s.push_str(base);
        match &e.kind {
            Kind::Event => {
                s.push_str("ev.");
                s.push_str(&e.token);
            }
            Kind::Gap => s.push_str("gap"),
            Kind::Snapshot { action, .. } => {
                s.push_str("snap.");
                s.push_str(action);
            }
        }
        s
    }

    /// The `Ami-Class` and `Ami-Class-Bits` values of `class`.
    fn class_values(&mut self, class: ami_proto::perm::Privilege) -> (HeaderValue, HeaderValue) {
        if let Some((_, names, bits)) = self.class_values.iter().find(|(c, ..)| *c == class) {
            return (names.clone(), bits.clone());
        }
        let mut bits = String::new();
        push_decimal(&mut bits, class.bits().into());
        let made = (HeaderValue::from(class_names(class)), HeaderValue::from(bits));
        if self.class_values.len() < CLASS_VALUES {
            self.class_values.push((class, made.0.clone(), made.1.clone()));
        }
        made
    }

    fn headers(&mut self, e: &Entry) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(MSG_ID, e.msg_id.as_str());
        h.insert(
            KIND,
            match e.kind {
                Kind::Event => "event",
                Kind::Gap => "gap",
                Kind::Snapshot { .. } => "snapshot",
            },
        );
        h.insert(PBX, self.pbx_value.clone());
        h.insert(EVENT, e.name.as_str());
        let (names, bits) = self.class_values(e.class);
        h.insert(CLASS, names);
        h.insert(CLASS_BITS, bits);
        if let Some(u) = &e.uniqueid {
            h.insert(UNIQUEID, u.as_str());
        }
        if let Some(l) = &e.linkedid {
            h.insert(LINKEDID, l.as_str());
        }
        if let Some(p) = &e.position {
            h.insert(SEQ, p.label());
        }
        let mut received = String::with_capacity(20);
        push_decimal(&mut received, e.received_us);
        h.insert(RECEIVED, received);
        if let Kind::Snapshot { id, part, .. } = &e.kind {
            h.insert(SNAPSHOT, &**id);
            h.insert(SNAPSHOT_PART, *part);
        }
        h
    }

    /// Whether [`pump`](Self::pump) would send now: NATS is connected and no retry is
    /// waiting out its backoff.
    pub fn ready(&self) -> bool {
        self.retry_at.is_none_or(|t| Instant::now() >= t)
            && self.client.connection_state() == State::Connected
    }

    /// Whether the oldest publish in flight has waited longer than [`ACK_TIMEOUT`].
    fn timed_out(&mut self, buffer: &mut Buffer) -> bool {
        while let Some(&(abs, at)) = self.sent_at.front() {
            let settled = abs < buffer.head() || buffer.get_mut(abs).is_none_or(|e| e.pending == 0);
            if !settled {
                return at.elapsed() >= ACK_TIMEOUT;
            }
            self.sent_at.pop_front();
        }
        false
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
        if self.client.connection_state() != State::Connected {
            // What is in flight will not be acknowledged: send it again, in order, once NATS
            // is back (waiting for each acknowledgement's timeout would store it after newer
            // events). And nothing new is handed to the client meanwhile: it would queue it,
            // counting as sent (maybe stored) while it waits, so the buffer's losses could no
            // longer be told apart. It waits in the buffer instead.
            if self.in_flight > 0 {
                self.failed(buffer, "connection lost");
            }
            return true;
        }
        if self.timed_out(buffer) {
            self.failed(buffer, "acknowledgement: TimedOut");
            return false;
        }
        if self.replies.is_none() && self.sent_to < buffer.end() {
            match self.client.subscribe(format!("{}.>", self.inbox)).await {
                Ok(s) => self.replies = Some(s),
                Err(err) => {
                    self.failed(buffer, &format!("subscribe to the acknowledgements: {err}"));
                    return false;
                }
            }
        }
        while self.in_flight < self.window && self.sent_to < buffer.end() {
            let abs = self.sent_to;
            let Some(e) = buffer.get_mut(abs) else { break };
            let mut headers = Some(self.headers(e));
            let mut reply = String::with_capacity(self.inbox.len() + 42);
            reply.push_str(&self.inbox);
            reply.push('.');
            push_decimal(&mut reply, self.generation);
            reply.push('.');
            push_decimal(&mut reply, abs);
            let reply = Subject::from(reply);
            let mut pending = 0u32;
            let mut failure = None;
            let roles = self.roles.len().min(64);
            for i in (0..roles).filter(|&i| e.targets & (1u64 << i) != 0) {
                let subject = self.subject(i, e);
                // The last role takes the headers themselves (usually the only one: a
                // header map is about twenty allocations to copy).
                let later = e.targets >> i >> 1 != 0;
                let these = if later { headers.clone() } else { headers.take() };
                match self
                    .client
                    .publish_with_reply_and_headers(
                        subject,
                        reply.clone(),
                        these.unwrap_or_default(),
                        e.raw.clone(),
                    )
                    .await
                {
                    Ok(()) => pending += 1,
                    Err(err)
                        if err.kind()
                            == async_nats::client::PublishErrorKind::MaxPayloadExceeded =>
                    {
                        self.metrics.dropped(&self.pbx, "too-large", 1);
                        tracing::warn!(pbx = %self.pbx, id = %e.msg_id, bytes = e.raw.len(), "a message is larger than the NATS server's max_payload: not stored");
                    }
                    Err(err) => {
                        failure = Some(format!("publish: {err}"));
                        break;
                    }
                }
            }
            e.pending = pending;
            e.sent |= pending > 0;
            self.in_flight += pending as usize;
            if let Some(why) = failure {
                self.failed(buffer, &why);
                return false;
            }
            if pending > 0 {
                self.sent_at.push_back((abs, Instant::now()));
            }
            self.sent_to += 1;
            if pending == 0 {
                self.settle(buffer);
            }
        }
        self.hot.in_flight(self.in_flight);
        true
    }

    /// Waits for the next acknowledgement of a publish in flight (pending forever when there
    /// is no subscription yet). Cancel-safe.
    pub async fn next_ack(&mut self) -> (u64, Result<Ack, PublishErrorKind>) {
        loop {
            let Some(replies) = self.replies.as_mut() else {
                return std::future::pending().await;
            };
            let Some(m) = replies.next().await else {
                // The subscription ended: the next pump makes a new one, and what was in
                // flight is sent again when its acknowledgement times out.
                self.replies = None;
                continue;
            };
            match reply_of(m.subject.as_str(), &self.inbox) {
                Some((generation, abs)) if generation == self.generation => {
                    return (abs, ack_result(m.status, &m.payload));
                }
                // An earlier attempt's: what it acknowledges is being sent again.
                _ => continue,
            }
        }
    }

    /// Takes one acknowledgement; returns false when it was a failure (then everything is
    /// sent again after a backoff).
    pub fn acked(
        &mut self,
        buffer: &mut Buffer,
        abs: u64,
        result: Result<Ack, PublishErrorKind>,
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
        match buffer.get_mut(abs) {
            Some(e) if e.pending > 0 && abs < self.sent_to => {
                e.pending -= 1;
                self.in_flight = self.in_flight.saturating_sub(1);
            }
            // Not in flight (a second answer to one publish): nothing to count.
            _ => {}
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
                    self.hot.stored();
                }
                self.stored = Some(Stored { position: e.position, received_us: e.received_us });
            }
        }
        self.hot.buffered(buffer.len(), buffer.bytes());
    }

    fn failed(&mut self, buffer: &mut Buffer, what: &str) {
        tracing::warn!(pbx = %self.pbx, in_flight = self.in_flight, buffered = buffer.len(), "NATS {what}; sending again from the first unacknowledged event in {:?}", self.backoff);
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
    fn replies_name_their_generation_and_entry() {
        assert_eq!(reply_of("_INBOX.abc.3.17", "_INBOX.abc"), Some((3, 17)));
        assert_eq!(reply_of("_INBOX.abcd.3.17", "_INBOX.abc"), None);
        assert_eq!(reply_of("_INBOX.abc.3", "_INBOX.abc"), None);
        assert_eq!(reply_of("_INBOX.abc.x.17", "_INBOX.abc"), None);
        assert_eq!(reply_of("_INBOX.abc.3.17.1", "_INBOX.abc"), None);
    }

    #[test]
    fn acknowledgements_read_as_async_nats_reads_them() {
        let ok = ack_result(None, br#"{"stream":"AMI_OPS","seq":5}"#).unwrap();
        assert_eq!((ok.sequence, ok.duplicate), (5, false));
        let dup = ack_result(None, br#"{"stream":"AMI_OPS","seq":5,"duplicate":true}"#);
        assert!(dup.unwrap().duplicate);
        let refused =
            br#"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}"#;
        assert_eq!(ack_result(None, refused), Err(PublishErrorKind::Other));
        assert_eq!(ack_result(None, b"junk"), Err(PublishErrorKind::Other));
        assert_eq!(
            ack_result(Some(StatusCode::NO_RESPONDERS), b""),
            Err(PublishErrorKind::StreamNotFound)
        );
    }

    #[test]
    fn acknowledgements_read_as_async_nats_reads_them_whatever_the_answer() {
        use async_nats::jetstream::publish::PublishAck;
        use async_nats::jetstream::response::Response;
        // What async-nats's own publish makes of an answer.
        let theirs = |payload: &[u8]| match serde_json::from_slice::<Response<PublishAck>>(payload)
        {
            Ok(Response::Ok(ack)) => Ok(Ack { sequence: ack.sequence, duplicate: ack.duplicate }),
            Ok(Response::Err { .. }) | Err(_) => Err(PublishErrorKind::Other),
        };
        let answers: [&[u8]; 14] = [
            br#"{"stream":"AMI_OPS","seq":5}"#,
            br#"{"stream":"AMI_OPS","domain":"hub","seq":18446744073709551615}"#,
            br#"{"stream":"AMI_OPS","seq":5,"duplicate":true}"#,
            br#"{"stream":"AMI_OPS","seq":5,"duplicate":false,"later":{"a":[1,2]}}"#,
            br#"{"seq":5,"stream":"A\"B\u00e9"}"#,
            br#"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}"#,
            br#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 4"},"stream":"AMI_OPS","seq":0}"#,
            br#"{"error":null,"stream":"AMI_OPS","seq":7}"#,
            br#"{"stream":"AMI_OPS"}"#,
            br#"{"seq":5}"#,
            br#"{"stream":"AMI_OPS","seq":-1}"#,
            br#"{"stream":"AMI_OPS","seq":5,"duplicate":"yes"}"#,
            b"{}",
            b"junk",
        ];
        for a in answers {
            assert_eq!(ack_result(None, a), theirs(a), "{}", String::from_utf8_lossy(a));
        }
    }

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
