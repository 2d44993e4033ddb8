//! One PBX: its AMI event session, its numbering, its buffer, its publisher and its lease,
//! driven by one task so that the PBX's order is the order of everything it does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ami_tokio::{Client, EventStream, StreamEvent};
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};

use super::buffer::{Buffer, Entry, Kind, Loss};
use super::ids::{Anchors, Numbering, random_token};
use super::lease::{LeaseCommand, LeaseView, Progress, unix_us};
use super::metrics::Metrics;
use super::publisher::{Publisher, Stored, subject_token};
use super::roles::Role;
use super::snapshot::{self, Gap, GapReason, SnapshotPart};

/// Everything one PBX task owns.
pub struct PbxTask {
    /// Upstream index.
    pub index: usize,
    /// PBX name.
    pub name: String,
    /// This bridge's name.
    pub bridge: String,
    /// The event session.
    pub client: Client,
    /// Its events.
    pub events: EventStream,
    /// Anchor signing.
    pub anchors: Anchors,
    /// The roles.
    pub roles: Arc<Vec<Role>>,
    /// Snapshot actions.
    pub snapshot: Vec<String>,
    /// The buffer.
    pub buffer: Buffer,
    /// The publisher.
    pub publisher: Publisher,
    /// The lease's view.
    pub lease: watch::Receiver<LeaseView>,
    /// The last stored entry, for the lease task's progress record.
    pub stored: watch::Sender<Option<Stored>>,
    /// Commands to the lease task.
    pub lease_commands: mpsc::Sender<LeaseCommand>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
}

struct State {
    numbering: Numbering,
    connected: bool,
    ever_connected: bool,
    /// A connection marker not yet published (published when active).
    pending: Option<GapReason>,
    /// When the last event was read.
    last_read_us: Option<u64>,
    /// When the last event before the latest disconnection was read.
    before_gap_us: Option<u64>,
    /// When the current session started (Unix µs).
    session_start_us: u64,
    was_active: bool,
    epoch: u64,
    lost: Loss,
    loss_marker: Option<(u64, String, Loss)>,
    run_token: String,
    markers: u64,
    snapshots: u64,
}

impl PbxTask {
    /// The roles an event goes to.
    fn targets(&self, class: ami_proto::perm::Privilege, name: &[u8], raw: &[u8]) -> u64 {
        let mut t = 0u64;
        for (i, r) in self.roles.iter().enumerate() {
            if r.receives(self.index, class, name, raw) {
                t |= 1 << i;
            }
        }
        t
    }

    fn all_roles(&self) -> u64 {
        let mut t = 0u64;
        for (i, r) in self.roles.iter().enumerate() {
            if r.sees_pbx(self.index) {
                t |= 1 << i;
            }
        }
        t
    }

    fn marker(&self, st: &mut State, gap: &Gap<'_>) -> Entry {
        st.markers += 1;
        self.metrics.gap(&self.name, gap.reason.as_str());
        tracing::info!(pbx = %self.name, reason = gap.reason.as_str(), lost = ?gap.lost, since = ?gap.since_us, "BridgeGap");
        Entry {
            msg_id: format!("{}:gap:{}:{}", self.name, st.run_token, st.markers),
            position: None,
            raw: gap.to_bytes(),
            token: "BridgeGap".into(),
            name: "BridgeGap".into(),
            class: ami_proto::perm::Privilege::NONE,
            uniqueid: None,
            linkedid: None,
            received_us: gap.until_us,
            kind: Kind::Gap,
            targets: self.all_roles(),
            pending: 0,
            sent: false,
            announces: Loss::default(),
        }
    }

    fn start_snapshot(&self, st: &mut State, tx: &mpsc::Sender<SnapshotPart>) {
        if self.snapshot.is_empty() {
            return;
        }
        st.snapshots += 1;
        let id = format!("{}-{}", st.run_token, st.snapshots);
        tokio::spawn(snapshot::run(self.client.clone(), id, self.snapshot.clone(), tx.clone()));
    }

    /// Announces what `st.lost` holds (merged into the marker not sent yet, if any).
    ///
    /// Only while the publisher can send: the marker then goes out before anything newer. A
    /// marker placed in a full buffer while NATS is away would be the next entry dropped,
    /// so until then the loss accumulates in `st.lost` (one marker for the whole outage).
    fn announce_loss(&mut self, st: &mut State) {
        if st.lost.is_empty() || !self.publisher.ready() {
            return;
        }
        let lost = std::mem::take(&mut st.lost);
        self.metrics.dropped(&self.name, "buffer-full", lost.count + lost.unconfirmed);
        if let Some((abs, id, total)) = &mut st.loss_marker
            && *abs >= self.publisher.sent_to()
            && let Some(e) = self.buffer.get_mut(*abs)
            && e.msg_id == *id
            // Once sent, JetStream may hold it: a re-send with the same id and a new count
            // would be dropped as a duplicate. A new marker says the rest.
            && !e.sent
        {
            total.count += lost.count;
            total.unconfirmed += lost.unconfirmed;
            total.until_us = lost.until_us;
            let gap = Gap {
                pbx: &self.name,
                reason: GapReason::BufferFull,
                since_us: Some(total.since_us),
                until_us: total.until_us,
                lost: Some(total.count),
                unconfirmed: Some(total.unconfirmed),
                after: None,
                bridge: &self.bridge,
            };
            e.raw = gap.to_bytes();
            e.announces = *total;
            return;
        }
        let gap = Gap {
            pbx: &self.name,
            reason: GapReason::BufferFull,
            since_us: Some(lost.since_us),
            until_us: lost.until_us,
            lost: Some(lost.count),
            unconfirmed: Some(lost.unconfirmed),
            after: None,
            bridge: &self.bridge,
        };
        let mut entry = self.marker(st, &gap);
        entry.announces = lost;
        let at = self.publisher.insertion_point(&self.buffer);
        st.loss_marker = Some((at, entry.msg_id.clone(), lost));
        self.buffer.insert(at, entry);
    }

    /// This bridge just took the lease: trim to what the previous holder stored, announce,
    /// and send the rest.
    fn acquired(
        &mut self,
        st: &mut State,
        progress: Option<Progress>,
        snap: &mpsc::Sender<SnapshotPart>,
    ) {
        let now = unix_us();
        let mut lost = None;
        if let Some(p) = &progress {
            let same_anchor = self.buffer_has_token(&p.token);
            let found = self.buffer.trim_through(&p.token, p.seq);
            if p.received_us >= st.session_start_us {
                // The previous holder stored events of this session: never re-send those
                // numbered for this session only.
                self.buffer.keep_anchored_events();
                if !found && !same_anchor {
                    // Its position is in a numbering this session never saw: fall back to
                    // the times (the clocks of the two hosts must agree).
                    while self.buffer.front().is_some_and(|e| e.received_us <= p.received_us) {
                        self.buffer.pop_front();
                    }
                }
            }
            if found {
                lost = Some(0);
            }
        }
        let reason = st.pending.take().unwrap_or(GapReason::Takeover);
        let since = progress.as_ref().map(|p| p.received_us).or(st.before_gap_us);
        let gap = Gap {
            pbx: &self.name,
            reason,
            since_us: since,
            until_us: now,
            lost,
            unconfirmed: None,
            after: progress.as_ref().map(|p| format!("{}:{}", p.token, p.seq)),
            bridge: &self.bridge,
        };
        let entry = self.marker(st, &gap);
        self.publisher.reset(&mut self.buffer);
        let head = self.buffer.head();
        self.buffer.insert(head, entry);
        st.lost = Loss::default();
        if st.connected {
            self.start_snapshot(st, snap);
        }
    }

    fn buffer_has_token(&mut self, token: &str) -> bool {
        (self.buffer.head()..self.buffer.end()).any(|abs| {
            self.buffer
                .get_mut(abs)
                .and_then(|e| e.position.as_ref())
                .is_some_and(|p| &*p.token == token)
        })
    }

    fn event(
        &mut self,
        st: &mut State,
        item: StreamEvent,
        active: bool,
        snap: &mpsc::Sender<SnapshotPart>,
    ) {
        match item {
            StreamEvent::Event(ev) => {
                let m = ev.message().as_message();
                if let Some(token) = self.anchors.recognise(&m) {
                    st.numbering.anchor(&token);
                    return;
                }
                let position = st.numbering.next();
                self.publisher.metrics().received();
                let name = m.event().unwrap_or_default();
                let class = crate::proxy::relay::category_of(&m);
                let raw = ev.message().raw();
                let received_us = unix_us();
                st.last_read_us = Some(received_us);
                let targets = self.targets(class, name, raw);
                if targets == 0 {
                    return;
                }
                let text = |v: Option<&[u8]>| v.map(|v| String::from_utf8_lossy(v).into_owned());
                let entry = Entry {
                    msg_id: position.msg_id(&self.name),
                    position: Some(position),
                    raw: Bytes::copy_from_slice(raw),
                    token: subject_token(name),
                    name: String::from_utf8_lossy(name).into_owned(),
                    class,
                    uniqueid: text(m.get("Uniqueid")),
                    linkedid: text(m.get("Linkedid")),
                    received_us,
                    kind: Kind::Event,
                    targets,
                    pending: 0,
                    sent: false,
                    announces: Loss::default(),
                };
                self.buffer.push(entry, &mut st.lost);
                if active {
                    self.announce_loss(st);
                } else {
                    st.lost = Loss::default();
                }
            }
            StreamEvent::Lagged { missed } => {
                st.numbering.skip(missed);
                tracing::warn!(pbx = %self.name, missed, "the bridge fell behind the PBX: events lost");
                if active {
                    let now = unix_us();
                    if st.lost.is_empty() {
                        st.lost.since_us = st.last_read_us.unwrap_or(now);
                    }
                    st.lost.count += missed;
                    st.lost.until_us = now;
                    self.announce_loss(st);
                }
            }
            StreamEvent::Disconnected { reason } => {
                if st.connected {
                    tracing::warn!(pbx = %self.name, %reason, "PBX connection lost; reconnecting");
                    st.before_gap_us = st.last_read_us;
                }
                st.connected = false;
                self.metrics.connected(&self.name, false);
            }
            StreamEvent::Connected { banner } => {
                tracing::info!(pbx = %self.name, %banner, "logged in to the PBX");
                st.connected = true;
                self.metrics.connected(&self.name, true);
                st.numbering = Numbering::session(&random_token());
                st.session_start_us = unix_us();
                let anchor = self.anchors.action(&random_token());
                let client = self.client.clone();
                let pbx = self.name.clone();
                tokio::spawn(async move {
                    if let Err(e) = client.action(&anchor).await.and_then(ami_tokio::Reply::check) {
                        tracing::warn!(%pbx, "cannot place the anchor (UserEvent needs write = user): {e}");
                    }
                });
                let reason =
                    if st.ever_connected { GapReason::Reconnected } else { GapReason::Connected };
                st.ever_connected = true;
                if active {
                    let gap = Gap {
                        pbx: &self.name,
                        reason,
                        since_us: st.before_gap_us.or(self
                            .lease
                            .borrow()
                            .progress
                            .as_ref()
                            .map(|p| p.received_us)),
                        until_us: unix_us(),
                        lost: None,
                        unconfirmed: None,
                        after: None,
                        bridge: &self.bridge,
                    };
                    let entry = self.marker(st, &gap);
                    self.buffer.push(entry, &mut st.lost);
                    self.start_snapshot(st, snap);
                } else {
                    st.pending = Some(reason);
                }
            }
            _ => {}
        }
    }

    fn snapshot_part(&mut self, st: &mut State, part: SnapshotPart) {
        let mut targets = 0u64;
        for (i, r) in self.roles.iter().enumerate() {
            let passes = part.part != "item"
                || r.filters.is_empty()
                || r.filters.should_send(part.name.as_bytes(), &part.raw);
            if r.may_snapshot(self.index, &part.action) && passes {
                targets |= 1 << i;
            }
        }
        if targets == 0 {
            return;
        }
        let entry = Entry {
            msg_id: format!("{}:snap:{}:{}", self.name, part.id, part.index),
            position: None,
            raw: part.raw,
            token: subject_token(part.name.as_bytes()),
            name: part.name,
            class: ami_proto::perm::Privilege::NONE,
            uniqueid: None,
            linkedid: None,
            received_us: unix_us(),
            kind: Kind::Snapshot {
                id: Arc::from(part.id),
                action: Arc::from(subject_token(part.action.as_bytes())),
                part: part.part,
            },
            targets,
            pending: 0,
            sent: false,
            announces: Loss::default(),
        };
        self.buffer.push(entry, &mut st.lost);
    }

    /// Runs until `stop` says so; then stores what it can (within `drain`) and gives the lease
    /// up.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>, drain: Duration) {
        let (snap_tx, mut snap_rx) = mpsc::channel::<SnapshotPart>(1024);
        let mut st = State {
            numbering: Numbering::session(&random_token()),
            connected: false,
            ever_connected: false,
            pending: None,
            last_read_us: None,
            before_gap_us: None,
            session_start_us: unix_us(),
            was_active: false,
            epoch: 0,
            lost: Loss::default(),
            loss_marker: None,
            run_token: random_token(),
            markers: 0,
            snapshots: 0,
        };
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_stored: Option<Stored> = None;
        loop {
            let (active, epoch, progress) = {
                let v = self.lease.borrow();
                (v.is_active(), v.epoch, v.progress.clone())
            };
            if active && (!st.was_active || epoch != st.epoch) {
                st.epoch = epoch;
                self.acquired(&mut st, progress, &snap_tx);
                self.metrics.active(&self.name, true);
            } else if !active && st.was_active {
                tracing::warn!(pbx = %self.name, "no longer holding the lease: standing by");
                self.publisher.reset(&mut self.buffer);
                self.metrics.active(&self.name, false);
            } else if !active && let Some(p) = progress {
                self.buffer.trim_through(&p.token, p.seq);
            }
            st.was_active = active;
            if active {
                self.announce_loss(&mut st);
                self.publisher.pump(&mut self.buffer).await;
            }
            if self.publisher.stored != last_stored {
                last_stored = self.publisher.stored.clone();
                self.stored.send_replace(last_stored.clone());
            }
            tokio::select! {
                biased;
                _ = stop.changed() => break,
                (abs, result) = self.publisher.next_ack(), if active => {
                    self.publisher.acked(&mut self.buffer, abs, result, &mut st.lost);
                    if !st.lost.is_empty() {
                        self.announce_loss(&mut st);
                    }
                }
                item = self.events.recv() => match item {
                    Some(item) => self.event(&mut st, item, active, &snap_tx),
                    None => break,
                },
                Some(part) = snap_rx.recv() => {
                    if active {
                        self.snapshot_part(&mut st, part);
                    }
                }
                _ = self.lease.changed() => {}
                _ = tick.tick() => {}
            }
        }
        // Stop: store what is buffered (while the lease holds), record it, let the lease go.
        let deadline = Instant::now() + drain;
        while self.lease.borrow().is_active()
            && !self.buffer.is_empty()
            && Instant::now() < deadline
        {
            self.publisher.pump(&mut self.buffer).await;
            let wait = deadline.saturating_duration_since(Instant::now());
            tokio::select! {
                (abs, result) = self.publisher.next_ack() => {
                    self.publisher.acked(&mut self.buffer, abs, result, &mut st.lost);
                }
                _ = tokio::time::sleep(wait.min(Duration::from_millis(100))) => {}
            }
        }
        if !self.buffer.is_empty() && self.lease.borrow().is_active() {
            tracing::warn!(pbx = %self.name, left = self.buffer.len(), "stopping with events not stored");
        }
        let (done, wait) = oneshot::channel();
        if self
            .lease_commands
            .send(LeaseCommand::Release(self.publisher.stored.clone(), done))
            .await
            .is_ok()
        {
            let _ = tokio::time::timeout(Duration::from_secs(3), wait).await;
        }
        self.client.close().await;
    }
}
