//! List answers written as the session's outbound queue drains, so that a client that reads
//! gets a list of any length, and one that does not is closed after its user's
//! `writetimeout`, as Asterisk closes a session whose write does not complete in time.
//!
//! The core's [`Server`] bounds each session's queue ([`ServerOptions::max_outbound`], 1 MiB
//! in the mock) and closes a session whose list part finds it full
//! ([`ServerError::OutboundFull`]). The mock writes items while less than [`PACE`] is
//! queued, and waits for the writer otherwise; when nothing drained for `writetimeout`, it
//! writes on, and the core ends the session.
//!
//! [`ServerOptions::max_outbound`]: ami_proto::server::ServerOptions::max_outbound

use std::collections::VecDeque;

use ami_proto::encode::Event;
use ami_proto::server::{ActionRef, Server, ServerError, SessionId};
use ami_proto::time::{Duration, Instant};

use super::Pbx;

/// Bytes queued for a session above which list items wait (a quarter of the queue bound).
pub(super) const PACE: usize = 256 * 1024;

/// A list answer: `EventList: start` with `message`, the items, then the `complete` event
/// with `ListItems` and `extra`.
#[derive(Debug)]
pub(super) struct List {
    pub message: &'static str,
    pub items: Vec<Event>,
    pub complete: &'static str,
    pub extra: Vec<(String, String)>,
}

/// A list answer being written.
#[derive(Debug)]
pub(super) struct PendingList {
    sid: SessionId,
    action: ActionRef,
    items: VecDeque<Event>,
    count: usize,
    complete: String,
    extra: Vec<(String, String)>,
    /// When an item was last written (or the list started).
    progress: Instant,
    /// The user's `writetimeout`.
    timeout: Duration,
}

impl PendingList {
    /// When the list stops waiting for its writer.
    pub fn deadline(&self) -> Instant {
        self.progress + self.timeout
    }
}

impl Pbx {
    /// Answers with a list.
    pub(super) fn send_list(
        &mut self,
        server: &mut Server,
        sid: SessionId,
        action: &ActionRef,
        list: List,
    ) -> Result<(), ServerError> {
        let List { message, items, complete, extra } = list;
        server.list_start(sid, action, message)?;
        let timeout = server
            .session_info(sid)
            .and_then(|i| server.config().user(&i.username).map(|u| u.write_timeout_ms))
            .unwrap_or(100);
        self.lists.push(PendingList {
            sid,
            action: action.clone(),
            count: items.len(),
            items: items.into(),
            complete: complete.to_owned(),
            extra,
            progress: self.now,
            timeout: Duration::from_millis(u64::from(timeout)),
        });
        self.write_lists(server);
        Ok(())
    }

    /// Writes what the sessions' queues take of the lists in progress (call when the
    /// server sent bytes, and at [`Pbx::next_due`]).
    pub fn writable(&mut self, server: &mut Server, now: Instant) {
        self.now = self.now.max(now);
        self.write_lists(server);
    }

    fn write_lists(&mut self, server: &mut Server) {
        let now = self.now;
        self.lists.retain_mut(|l| {
            loop {
                let Some(queued) = server.session_info(l.sid).map(|i| i.queued) else {
                    return false;
                };
                let Some(item) = l.items.front() else {
                    let extra: Vec<(&str, &str)> =
                        l.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    let _ = server.list_complete(l.sid, &l.action, &l.complete, l.count, &extra);
                    return false;
                };
                // Room in the queue means the client read: the list goes on. A queue that
                // stays full past `writetimeout` is written on until the core closes the
                // session (its `OutboundFull`): the list is over either way.
                let room = queued < PACE;
                if !room && now < l.deadline() {
                    return true;
                }
                if server.list_item(l.sid, &l.action, item).is_err() {
                    return false;
                }
                l.items.pop_front();
                if room {
                    l.progress = now;
                }
            }
        });
    }
}
