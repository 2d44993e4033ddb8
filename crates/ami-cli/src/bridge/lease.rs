//! High availability: one bridge publishes per PBX, the holder of a lease in a JetStream
//! key-value bucket whose entries expire after `lease_ttl`.
//!
//! The holder renews every `ttl/4` and counts itself active only until `ttl * 3/4` after it
//! *sent* its last successful renewal, so it stops publishing before anyone else can take the
//! lease. It also records, in a second bucket without expiry, the position of the last event
//! JetStream acknowledged; a standby trims its buffer to it and, when it takes over, re-sends
//! what follows. A bridge that stops cleanly records its position and deletes the lease, so the
//! other takes over at once.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::kv::{CreateErrorKind, Store, UpdateErrorKind};
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};

use super::publisher::Stored;

/// The position recorded by the bridge that stored it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The anchor token of the last stored event (`-` if it had none).
    pub token: String,
    /// Its number.
    pub seq: u64,
    /// When it was read (Unix µs).
    pub received_us: u64,
    /// The bridge that recorded it.
    pub owner: String,
}

impl Progress {
    /// `TOKEN SEQ RECEIVED_US OWNER`.
    pub fn encode(&self) -> String {
        format!("{} {} {} {}", self.token, self.seq, self.received_us, self.owner)
    }

    /// The inverse of [`encode`](Self::encode).
    pub fn decode(bytes: &[u8]) -> Option<Progress> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut it = text.splitn(4, ' ');
        Some(Progress {
            token: it.next()?.to_owned(),
            seq: it.next()?.parse().ok()?,
            received_us: it.next()?.parse().ok()?,
            owner: it.next().unwrap_or_default().to_owned(),
        })
    }

    /// From the last stored entry.
    pub fn of(stored: &Stored, owner: &str) -> Progress {
        let (token, seq) = match &stored.position {
            Some(p) => (p.token.to_string(), p.seq),
            None => ("-".to_owned(), 0),
        };
        Progress { token, seq, received_us: stored.received_us, owner: owner.to_owned() }
    }
}

/// What the PBX task needs to know about the lease.
#[derive(Clone, Debug, Default)]
pub struct LeaseView {
    /// Active until this instant (`None`: standby).
    pub valid_until: Option<Instant>,
    /// Increases with every acquisition.
    pub epoch: u64,
    /// The last progress record read (while standby, and at acquisition).
    pub progress: Option<Progress>,
}

impl LeaseView {
    /// Whether this bridge may publish now.
    pub fn is_active(&self) -> bool {
        self.valid_until.is_some_and(|t| Instant::now() < t)
    }
}

/// A request to the lease task.
#[derive(Debug)]
pub enum LeaseCommand {
    /// Record this position and give the lease up; answered when done.
    Release(Option<Stored>, oneshot::Sender<()>),
}

/// Now in Unix microseconds.
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The lease of one PBX.
#[derive(Debug)]
pub struct Lease {
    /// The lease bucket.
    pub leases: Store,
    /// The progress bucket.
    pub progress: Store,
    /// The key (the PBX's name).
    pub key: String,
    /// This bridge's name.
    pub owner: String,
    /// The entries' time to live.
    pub ttl: Duration,
}

impl Lease {
    /// Runs until released or until `commands` closes: publishes the view on `view`, reads
    /// the last stored position from `stored`.
    pub async fn run(
        self,
        view: watch::Sender<LeaseView>,
        stored: watch::Receiver<Option<Stored>>,
        mut commands: mpsc::Receiver<LeaseCommand>,
    ) {
        let tick = self.ttl / 4;
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut revision: Option<u64> = None;
        let mut recorded: Option<Progress> = None;
        loop {
            tokio::select! {
                cmd = commands.recv() => {
                    match cmd {
                        Some(LeaseCommand::Release(last, done)) => {
                            if revision.is_some() {
                                if let Some(s) = last {
                                    let p = Progress::of(&s, &self.owner);
                                    let _ = self.limited(self.progress.put(&self.key, Bytes::from(p.encode()))).await;
                                }
                                let _ = self.limited(self.leases.delete(&self.key)).await;
                                tracing::info!(pbx = %self.key, "lease released");
                            }
                            view.send_modify(|v| v.valid_until = None);
                            let _ = done.send(());
                        }
                        None => {}
                    }
                    return;
                }
                _ = interval.tick() => {}
            }
            let sent = Instant::now();
            let owner = Bytes::from(self.owner.clone());
            match revision {
                Some(rev) => match self.limited(self.leases.update(&self.key, owner, rev)).await {
                    Some(Ok(new)) => {
                        revision = Some(new);
                        view.send_modify(|v| v.valid_until = Some(sent + self.ttl * 3 / 4));
                        let last = stored.borrow().clone();
                        if let Some(s) = last {
                            let p = Progress::of(&s, &self.owner);
                            if recorded.as_ref() != Some(&p)
                                && matches!(
                                    self.limited(
                                        self.progress.put(&self.key, Bytes::from(p.encode()))
                                    )
                                    .await,
                                    Some(Ok(_))
                                )
                            {
                                recorded = Some(p);
                            }
                        }
                    }
                    Some(Err(e)) if e.kind() == UpdateErrorKind::WrongLastRevision => {
                        tracing::warn!(pbx = %self.key, "lease taken over by another bridge; standing by");
                        revision = None;
                        view.send_modify(|v| v.valid_until = None);
                    }
                    other => {
                        let why = match other {
                            Some(Err(e)) => e.to_string(),
                            _ => "timed out".to_owned(),
                        };
                        let left = view
                            .borrow()
                            .valid_until
                            .map(|t| t.saturating_duration_since(Instant::now()));
                        tracing::warn!(pbx = %self.key, "cannot renew the lease ({why}); active for {left:?} more");
                        if view.borrow().valid_until.is_some_and(|t| Instant::now() >= t) {
                            revision = None;
                            view.send_modify(|v| v.valid_until = None);
                        }
                    }
                },
                None => match self.limited(self.leases.create(&self.key, owner)).await {
                    Some(Ok(rev)) => {
                        revision = Some(rev);
                        let progress = self.read_progress().await;
                        recorded = progress.clone();
                        tracing::info!(pbx = %self.key, last = ?progress.as_ref().map(Progress::encode), "lease acquired: publishing");
                        view.send_modify(|v| {
                            v.valid_until = Some(sent + self.ttl * 3 / 4);
                            v.epoch += 1;
                            v.progress = progress;
                        });
                    }
                    Some(Err(e)) if e.kind() == CreateErrorKind::AlreadyExists => {
                        let progress = self.read_progress().await;
                        if progress.is_some() {
                            view.send_modify(|v| v.progress = progress);
                        }
                    }
                    Some(Err(e)) => tracing::debug!(pbx = %self.key, "lease: {e}"),
                    None => tracing::debug!(pbx = %self.key, "lease: NATS did not answer"),
                },
            }
        }
    }

    async fn read_progress(&self) -> Option<Progress> {
        match self.limited(self.progress.get(&self.key)).await {
            Some(Ok(Some(v))) => Progress::decode(&v),
            _ => None,
        }
    }

    /// Runs a KV request within half the TTL (`None`: it took longer).
    async fn limited<T>(&self, fut: impl std::future::Future<Output = T>) -> Option<T> {
        tokio::time::timeout(self.ttl / 2, fut).await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_round_trips() {
        let p =
            Progress { token: "feed".into(), seq: 42, received_us: 7, owner: "bridge a".into() };
        assert_eq!(Progress::decode(p.encode().as_bytes()), Some(p));
        assert_eq!(Progress::decode(b"x"), None);
        assert_eq!(Progress::decode(b"t nan 1 o"), None);
    }
}
