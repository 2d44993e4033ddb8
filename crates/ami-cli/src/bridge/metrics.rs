//! The bridge's Prometheus metrics (`prometheus-client`) and the tiny HTTP endpoint that
//! serves them on `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PbxLabel {
    pbx: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    pbx: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabel {
    role: String,
    pbx: String,
    status: String,
}

/// The metrics one PBX's task updates for every event (handles onto the same values as
/// [`Metrics`] renders).
#[derive(Clone, Debug, Default)]
pub struct PbxMetrics {
    received: Counter,
    stored: Counter,
    buffered: Gauge,
    buffered_bytes: Gauge,
    in_flight: Gauge,
}

fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PbxMetrics {
    /// An event was read.
    pub fn received(&self) {
        self.received.inc();
    }

    /// An event was stored.
    pub fn stored(&self) {
        self.stored.inc();
    }

    /// The buffer's size.
    pub fn buffered(&self, events: usize, bytes: usize) {
        self.buffered.set(gauge_value(events));
        self.buffered_bytes.set(gauge_value(bytes));
    }

    /// Publishes in flight.
    pub fn in_flight(&self, n: usize) {
        self.in_flight.set(gauge_value(n));
    }
}

/// Every metric of the bridge.
pub struct Metrics {
    registry: Registry,
    received: Family<PbxLabel, Counter>,
    stored: Family<PbxLabel, Counter>,
    duplicates: Family<PbxLabel, Counter>,
    dropped: Family<ReasonLabel, Counter>,
    gaps: Family<ReasonLabel, Counter>,
    retries: Family<PbxLabel, Counter>,
    buffered: Family<PbxLabel, Gauge>,
    buffered_bytes: Family<PbxLabel, Gauge>,
    in_flight: Family<PbxLabel, Gauge>,
    connected: Family<PbxLabel, Gauge>,
    active: Family<PbxLabel, Gauge>,
    actions: Family<ActionLabel, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn pbx(p: &str) -> PbxLabel {
    PbxLabel { pbx: p.to_owned() }
}

impl Metrics {
    /// The metrics, registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("ami_bridge");
        let m = Metrics {
            received: Family::default(),
            stored: Family::default(),
            duplicates: Family::default(),
            dropped: Family::default(),
            gaps: Family::default(),
            retries: Family::default(),
            buffered: Family::default(),
            buffered_bytes: Family::default(),
            in_flight: Family::default(),
            connected: Family::default(),
            active: Family::default(),
            actions: Family::default(),
            registry: Registry::default(),
        };
        registry.register("events_received", "Events read from the PBX", m.received.clone());
        registry.register(
            "events_stored",
            "Events acknowledged by JetStream (every role stream)",
            m.stored.clone(),
        );
        registry.register(
            "duplicates",
            "Publishes JetStream recognised as duplicates",
            m.duplicates.clone(),
        );
        registry.register(
            "events_dropped",
            "Events dropped (buffer-full, lagged, refused, too-large)",
            m.dropped.clone(),
        );
        registry.register("gaps", "BridgeGap markers published", m.gaps.clone());
        registry.register(
            "publish_retries",
            "Times publishing started again after a NATS failure",
            m.retries.clone(),
        );
        registry.register(
            "buffer_events",
            "Entries waiting in the PBX's buffer",
            m.buffered.clone(),
        );
        registry.register(
            "buffer_bytes",
            "Bytes waiting in the PBX's buffer",
            m.buffered_bytes.clone(),
        );
        registry.register(
            "in_flight",
            "Publishes waiting for their acknowledgement",
            m.in_flight.clone(),
        );
        registry.register("pbx_connected", "1 while logged in to the PBX", m.connected.clone());
        registry.register(
            "lease_active",
            "1 while this bridge holds the PBX's lease",
            m.active.clone(),
        );
        registry.register("actions", "Action requests, by outcome", m.actions.clone());
        Metrics { registry, ..m }
    }

    /// JetStream said duplicate.
    pub fn duplicate(&self, p: &str) {
        self.duplicates.get_or_create(&pbx(p)).inc();
    }

    /// `n` events were dropped.
    pub fn dropped(&self, p: &str, reason: &str, n: u64) {
        self.dropped
            .get_or_create(&ReasonLabel { pbx: p.to_owned(), reason: reason.to_owned() })
            .inc_by(n);
    }

    /// A gap marker was queued.
    pub fn gap(&self, p: &str, reason: &str) {
        self.gaps
            .get_or_create(&ReasonLabel { pbx: p.to_owned(), reason: reason.to_owned() })
            .inc();
    }

    /// Publishing starts again.
    pub fn retry(&self, p: &str) {
        self.retries.get_or_create(&pbx(p)).inc();
    }

    /// The per-event metrics of PBX `p`, looked up once: the hot path then updates them
    /// without building a label and hashing it for every event.
    pub fn of_pbx(&self, p: &str) -> PbxMetrics {
        let label = pbx(p);
        PbxMetrics {
            received: self.received.get_or_create(&label).clone(),
            stored: self.stored.get_or_create(&label).clone(),
            buffered: self.buffered.get_or_create(&label).clone(),
            buffered_bytes: self.buffered_bytes.get_or_create(&label).clone(),
            in_flight: self.in_flight.get_or_create(&label).clone(),
        }
    }

    /// Logged in to the PBX or not.
    pub fn connected(&self, p: &str, yes: bool) {
        self.connected.get_or_create(&pbx(p)).set(i64::from(yes));
    }

    /// Holding the lease or not.
    pub fn active(&self, p: &str, yes: bool) {
        self.active.get_or_create(&pbx(p)).set(i64::from(yes));
    }

    /// An action request ended with `status`.
    pub fn action(&self, role: &str, p: &str, status: &str) {
        self.actions
            .get_or_create(&ActionLabel {
                role: role.to_owned(),
                pbx: p.to_owned(),
                status: status.to_owned(),
            })
            .inc();
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

/// Serves `GET /metrics` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else { continue };
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            // A request head of at most 8 KiB, within 5 s.
            let mut head = Vec::with_capacity(512);
            let mut buf = [0u8; 1024];
            let read = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return false,
                        Ok(n) => head.extend_from_slice(buf.get(..n).unwrap_or_default()),
                    }
                }
                true
            })
            .await;
            if read != Ok(true) {
                return;
            }
            let (status, body) =
                if head.starts_with(b"GET /metrics ") || head.starts_with(b"GET / ") {
                    ("200 OK", metrics.render())
                } else {
                    ("404 Not Found", "try /metrics\n".to_owned())
                };
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}

/// Binds the metrics endpoint.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_by_pbx() {
        let m = Metrics::new();
        let hot = m.of_pbx("pbx1");
        hot.received();
        m.of_pbx("pbx1").received();
        hot.stored();
        hot.buffered(7, 700);
        m.dropped("pbx1", "buffer-full", 3);
        let text = m.render();
        assert!(text.contains("ami_bridge_events_received_total{pbx=\"pbx1\"} 2"), "{text}");
        assert!(text.contains("ami_bridge_events_stored_total{pbx=\"pbx1\"} 1"), "{text}");
        assert!(text.contains("ami_bridge_buffer_events{pbx=\"pbx1\"} 7"), "{text}");
        assert!(
            text.contains("ami_bridge_events_dropped_total{pbx=\"pbx1\",reason=\"buffer-full\"} 3"),
            "{text}"
        );
    }
}
