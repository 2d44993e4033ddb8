//! The proxy's Prometheus metrics (served by `--metrics ADDR`): per upstream, per user, and
//! slow clients.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ami_proto::server::{Server, SessionCounts, SessionId};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The `upstream` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabel {
    /// The `[upstream:NAME]`.
    pub upstream: String,
}

/// The `user` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UserLabel {
    /// The downstream user.
    pub user: String,
}

type Latency = Family<UpstreamLabel, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms to 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Every metric of the proxy. Cheap to clone; updated from any task.
#[derive(Clone, Debug)]
pub struct ProxyMetrics {
    /// The registry the scrape endpoint encodes.
    pub registry: Arc<Mutex<Registry>>,
    /// 1 while the upstream's event session is logged in.
    pub upstream_connected: Family<UpstreamLabel, Gauge>,
    /// Connections lost (each followed by reconnection attempts).
    pub upstream_disconnects: Family<UpstreamLabel, Counter>,
    /// Actions forwarded.
    pub upstream_actions: Family<UpstreamLabel, Counter>,
    /// Time from forwarding an action to its final answer.
    pub upstream_action_seconds: Latency,
    /// Events received.
    pub upstream_events: Family<UpstreamLabel, Counter>,
    /// Events lost between the upstream and the proxy (the proxy fell behind).
    pub upstream_events_lost: Family<UpstreamLabel, Counter>,
    /// Sessions logged in.
    pub user_sessions: Family<UserLabel, Gauge>,
    /// Requests that passed the checks.
    pub user_actions_allowed: Family<UserLabel, Counter>,
    /// Requests refused (write classes, escalation checks).
    pub user_actions_refused: Family<UserLabel, Counter>,
    /// Events written to the user's sessions.
    pub user_events_delivered: Family<UserLabel, Counter>,
    /// Events dropped for the user's sessions (queue full).
    pub user_events_dropped: Family<UserLabel, Counter>,
    /// Bytes queued for the user's sessions.
    pub user_queued_bytes: Family<UserLabel, Gauge>,
    /// Clients disconnected because they could not keep up.
    pub slow_client_disconnects: Family<UserLabel, Counter>,
}

impl ProxyMetrics {
    /// All metrics, registered under the `ami_proxy` prefix.
    pub fn new() -> ProxyMetrics {
        let mut registry = Registry::with_prefix("ami_proxy");
        let m = ProxyMetrics {
            registry: Arc::new(Mutex::new(Registry::default())),
            upstream_connected: Family::default(),
            upstream_disconnects: Family::default(),
            upstream_actions: Family::default(),
            upstream_action_seconds: Family::new_with_constructor(latency_histogram),
            upstream_events: Family::default(),
            upstream_events_lost: Family::default(),
            user_sessions: Family::default(),
            user_actions_allowed: Family::default(),
            user_actions_refused: Family::default(),
            user_events_delivered: Family::default(),
            user_events_dropped: Family::default(),
            user_queued_bytes: Family::default(),
            slow_client_disconnects: Family::default(),
        };
        let r = &mut registry;
        r.register(
            "upstream_connected",
            "1 while the upstream's event session is logged in",
            m.upstream_connected.clone(),
        );
        r.register(
            "upstream_disconnects",
            "Upstream connections lost",
            m.upstream_disconnects.clone(),
        );
        r.register("upstream_actions", "Actions forwarded upstream", m.upstream_actions.clone());
        r.register(
            "upstream_action_seconds",
            "Time from forwarding an action to its final answer",
            m.upstream_action_seconds.clone(),
        );
        r.register(
            "upstream_events",
            "Events received from the upstream",
            m.upstream_events.clone(),
        );
        r.register(
            "upstream_events_lost",
            "Events lost between the upstream and the proxy",
            m.upstream_events_lost.clone(),
        );
        r.register("user_sessions", "Sessions logged in", m.user_sessions.clone());
        r.register(
            "user_actions_allowed",
            "Requests that passed the checks",
            m.user_actions_allowed.clone(),
        );
        r.register(
            "user_actions_refused",
            "Requests refused by write classes or escalation checks",
            m.user_actions_refused.clone(),
        );
        r.register(
            "user_events_delivered",
            "Events written to clients",
            m.user_events_delivered.clone(),
        );
        r.register(
            "user_events_dropped",
            "Events dropped for clients with a full queue",
            m.user_events_dropped.clone(),
        );
        r.register("user_queued_bytes", "Bytes queued for clients", m.user_queued_bytes.clone());
        r.register(
            "slow_client_disconnects",
            "Clients disconnected because they could not keep up",
            m.slow_client_disconnects.clone(),
        );
        *m.registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = registry;
        m
    }

    /// The label of an upstream.
    pub fn upstream(name: &str) -> UpstreamLabel {
        UpstreamLabel { upstream: name.to_owned() }
    }
}

/// Turns the core's per-session counts into the per-user metrics (the core counts; the proxy
/// adds up what changed since the last look).
#[derive(Debug, Default)]
pub struct SessionTally {
    seen: HashMap<SessionId, (String, SessionCounts)>,
    users: std::collections::HashSet<String>,
}

impl SessionTally {
    /// Adds what `sessions` did since the last call; sets the per-user gauges.
    pub fn refresh(
        &mut self,
        metrics: &ProxyMetrics,
        server: &Server,
        sessions: impl Iterator<Item = SessionId>,
    ) {
        let mut live: HashMap<String, (i64, i64)> = HashMap::new();
        for sid in sessions {
            let Some(info) = server.session_info(sid) else { continue };
            if !info.authenticated {
                continue;
            }
            let user = String::from_utf8_lossy(&info.username).to_ascii_lowercase();
            let entry = live.entry(user.clone()).or_default();
            entry.0 += 1;
            entry.1 += i64::try_from(info.queued).unwrap_or(i64::MAX);
            self.add(metrics, sid, &user, info.counts);
        }
        for user in &self.users {
            let (sessions, queued) = live.get(user).copied().unwrap_or_default();
            let label = UserLabel { user: user.clone() };
            metrics.user_sessions.get_or_create(&label).set(sessions);
            metrics.user_queued_bytes.get_or_create(&label).set(queued);
        }
    }

    /// Takes the last counts of a session that is going away.
    pub fn finish(&mut self, metrics: &ProxyMetrics, server: &Server, sid: SessionId) {
        if let Some(info) = server.session_info(sid).filter(|i| i.authenticated) {
            let user = String::from_utf8_lossy(&info.username).to_ascii_lowercase();
            self.add(metrics, sid, &user, info.counts);
        }
        self.seen.remove(&sid);
    }

    fn add(&mut self, metrics: &ProxyMetrics, sid: SessionId, user: &str, now: SessionCounts) {
        self.users.insert(user.to_owned());
        let (_, before) =
            self.seen.entry(sid).or_insert_with(|| (user.to_owned(), SessionCounts::default()));
        let label = UserLabel { user: user.to_owned() };
        let delta = |a: u64, b: u64| a.saturating_sub(b);
        metrics
            .user_actions_allowed
            .get_or_create(&label)
            .inc_by(delta(now.actions_allowed, before.actions_allowed));
        metrics
            .user_actions_refused
            .get_or_create(&label)
            .inc_by(delta(now.actions_refused, before.actions_refused));
        metrics
            .user_events_delivered
            .get_or_create(&label)
            .inc_by(delta(now.events_delivered, before.events_delivered));
        metrics
            .user_events_dropped
            .get_or_create(&label)
            .inc_by(delta(now.events_dropped, before.events_dropped));
        *before = now;
    }
}
