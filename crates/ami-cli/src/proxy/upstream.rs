//! One upstream Asterisk: a pool of `ami_tokio::Client` sessions (each connects, logs in,
//! detects a dead server and reconnects with backoff), and a task that relays between them and
//! the proxy's main task. Why a pool, and why Originates take session 0: see the
//! [configuration](super::config).
//!
//! The main task chooses every upstream ActionID itself ([`upstream_action_id`]), so it can
//! route answers and restore each client's own ActionID (and recognise its ActionIDs quoted in
//! events, as UserEvent does); this task only reports which token an answer belongs to.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ami_proto::OwnedMessage;
use ami_proto::encode::Action;
use ami_tokio::{
    Backoff, Client, ClientOptions, Event, Part as ClientPart, Secret, Status, StreamEvent, Target,
    TlsClientOptions, TlsRoots,
};
use tokio::sync::mpsc;

use super::config::UpstreamConfig;
use super::metrics::{ProxyMetrics, UpstreamLabel};

/// Prefix of the ActionIDs the proxy sends upstream: `ami-proxy-<token>`.
pub const ACTION_ID_PREFIX: &str = "ami-proxy-";

/// The upstream ActionID of a token.
pub fn upstream_action_id(token: u64) -> String {
    format!("{ACTION_ID_PREFIX}{token}")
}

/// The token of an upstream ActionID the proxy made.
pub fn token_of(action_id: &[u8]) -> Option<u64> {
    let rest = action_id.strip_prefix(ACTION_ID_PREFIX.as_bytes())?;
    std::str::from_utf8(rest).ok()?.parse().ok()
}

/// A command from the main task.
#[derive(Debug)]
pub enum Command {
    /// Send this action (its ActionID is already [`upstream_action_id`]`(token)`).
    Action {
        /// The main task's token.
        token: u64,
        /// The action.
        action: Action,
        /// Which session of the pool.
        route: Route,
    },
}

/// What kind of answer a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// A response; `complete` false for an accepted async Originate.
    Response {
        /// Final answer of the action.
        complete: bool,
    },
    /// The response that starts a list.
    ListStart,
    /// A list item.
    ListItem,
    /// The event that ends a list.
    ListComplete,
    /// A Command's whole response.
    CommandOutput,
    /// The OriginateResponse of an async Originate.
    OriginateResponse,
    /// A malformed final answer.
    Malformed,
}

impl Part {
    /// Whether this part ends the action.
    pub fn is_final(self) -> bool {
        !matches!(self, Part::Response { complete: false } | Part::ListStart | Part::ListItem)
    }
}

/// A report to the main task.
#[derive(Debug)]
pub enum Report {
    /// Logged in (again).
    Connected {
        /// Upstream index.
        upstream: usize,
        /// The banner line.
        banner: String,
    },
    /// The connection ended (or could not be made); reconnecting.
    Disconnected {
        /// Upstream index.
        upstream: usize,
        /// Why.
        reason: String,
    },
    /// Part of an answer.
    Answer {
        /// The main task's token.
        token: u64,
        /// What it is.
        part: Part,
        /// The message as the upstream sent it.
        message: OwnedMessage,
    },
    /// The action ended without an answer (timeout, connection lost, refused locally).
    Failed {
        /// Upstream index.
        upstream: usize,
        /// The main task's token.
        token: u64,
        /// Why.
        reason: String,
    },
    /// Events for the fan-out, in order.
    Events {
        /// Upstream index.
        upstream: usize,
        /// The events.
        events: Vec<Event>,
    },
    /// Events were lost between the upstream and the proxy (the proxy fell behind).
    EventsLost {
        /// Upstream index.
        upstream: usize,
        /// How many.
        missed: u64,
    },
}

/// The client options of session `index` of an upstream's pool: session 0 receives the
/// events, the others log in with `Events: off`.
pub fn client_options(
    config: &UpstreamConfig,
    secret: Secret,
    max_backoff: Duration,
    index: usize,
) -> ClientOptions {
    let tls = config.tls.as_ref().map(|t| {
        TlsClientOptions::new(TlsRoots::CaFile(t.ca_file.clone()))
            .with_server_name(t.server_name.clone())
    });
    let mut options = ClientOptions::new(
        Target::new(config.host.clone(), config.port),
        config.username.clone(),
        secret,
    )
    .with_login(config.method)
    .with_tls(tls)
    .with_action_timeout(config.action_timeout)
    .with_keepalive(config.keepalive, config.keepalive_timeout)
    .with_action_id_prefix(format!("ami-proxy-internal-{index}-"))
    .with_max_in_flight(65_536)
    .with_event_buffer(1 << 16)
    .with_reconnect(Some(Backoff { max: max_backoff, ..Backoff::default() }));
    if index > 0 {
        options = options.with_events("off");
    }
    options
}

/// Where an action goes in the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// To the event session (an Originate: its OriginateResponse is an event).
    EventSession,
    /// To the connected session with the fewest actions in flight.
    LeastBusy,
}

/// The sessions of one upstream and what each has in flight.
struct Pool {
    clients: Vec<Client>,
    in_flight: Vec<Arc<AtomicUsize>>,
}

impl Pool {
    fn pick(&self, route: Route) -> usize {
        if route == Route::EventSession {
            return 0;
        }
        let connected = |i: &usize| matches!(self.clients[*i].status(), Status::Connected { .. });
        (0..self.clients.len())
            .filter(connected)
            .min_by_key(|i| (self.in_flight[*i].load(Ordering::Relaxed), *i))
            .unwrap_or(0)
    }
}

/// Runs upstream `index` (a pool of `options.len()` sessions) until the main task goes away.
pub async fn run(
    index: usize,
    name: String,
    options: Vec<ClientOptions>,
    mut commands: mpsc::Receiver<Command>,
    reports: mpsc::Sender<Report>,
    metrics: ProxyMetrics,
) {
    let label = ProxyMetrics::upstream(&name);
    let mut events = None;
    let mut pool = Pool { clients: Vec::new(), in_flight: Vec::new() };
    for o in options {
        let (client, stream) = Client::spawn(o);
        events.get_or_insert(stream);
        pool.clients.push(client);
        pool.in_flight.push(Arc::new(AtomicUsize::new(0)));
    }
    let (Some(mut events), false) = (events, pool.clients.is_empty()) else { return };
    let close_all = |pool: &Pool| {
        let clients = pool.clients.clone();
        async move {
            for c in clients {
                c.close().await;
            }
        }
    };
    loop {
        tokio::select! {
            item = events.recv() => {
                let Some(item) = item else { return };
                let mut out = Vec::with_capacity(2);
                match item {
                    StreamEvent::Event(ev) => {
                        // With whatever else has arrived: one report, one fan-out round.
                        let mut batch = vec![ev];
                        let mut after = None;
                        while batch.len() < EVENT_BATCH {
                            match events.try_recv() {
                                Some(StreamEvent::Event(ev)) => batch.push(ev),
                                Some(other) => {
                                    after = Some(other);
                                    break;
                                }
                                None => break,
                            }
                        }
                        metrics.upstream_events.get_or_create(&label).inc_by(batch.len() as u64);
                        out.push(Report::Events { upstream: index, events: batch });
                        out.extend(after.and_then(|item| notice(index, item, &metrics, &label)));
                    }
                    other => out.extend(notice(index, other, &metrics, &label)),
                }
                for report in out {
                    if reports.send(report).await.is_err() {
                        close_all(&pool).await;
                        return;
                    }
                }
            }
            cmd = commands.recv() => match cmd {
                Some(Command::Action { token, action, route }) => {
                    let session = pool.pick(route);
                    let client = pool.clients[session].clone();
                    let load = Arc::clone(&pool.in_flight[session]);
                    let (reports, metrics, label) = (reports.clone(), metrics.clone(), label.clone());
                    load.fetch_add(1, Ordering::Relaxed);
                    metrics.upstream_actions.get_or_create(&label).inc();
                    // Each action's answer is relayed by its own task, part by part.
                    tokio::spawn(async move {
                        let started = std::time::Instant::now();
                        relay(index, &client, token, &action, &reports).await;
                        load.fetch_sub(1, Ordering::Relaxed);
                        metrics.upstream_action_seconds.get_or_create(&label).observe(started.elapsed().as_secs_f64());
                    });
                }
                None => {
                    close_all(&pool).await;
                    return;
                }
            },
        }
    }
}

/// Most events in one [`Report::Events`].
const EVENT_BATCH: usize = 256;

/// The report of a connection notice (counted in the metrics); none for other items.
fn notice(
    index: usize,
    item: StreamEvent,
    metrics: &ProxyMetrics,
    label: &UpstreamLabel,
) -> Option<Report> {
    match item {
        StreamEvent::Connected { banner } => {
            metrics.upstream_connected.get_or_create(label).set(1);
            Some(Report::Connected { upstream: index, banner })
        }
        StreamEvent::Disconnected { reason } => {
            metrics.upstream_connected.get_or_create(label).set(0);
            metrics.upstream_disconnects.get_or_create(label).inc();
            Some(Report::Disconnected { upstream: index, reason })
        }
        StreamEvent::Lagged { missed } => {
            metrics.upstream_events_lost.get_or_create(label).inc_by(missed);
            Some(Report::EventsLost { upstream: index, missed })
        }
        _ => None,
    }
}

/// Sends one action and reports its parts.
async fn relay(
    index: usize,
    client: &Client,
    token: u64,
    action: &Action,
    reports: &mpsc::Sender<Report>,
) {
    let failed = |reason: String| Report::Failed { upstream: index, token, reason };
    let mut parts = match client.send(action, None).await {
        Ok(p) => p,
        Err(e) => {
            let _ = reports.send(failed(e.to_string())).await;
            return;
        }
    };
    while let Some(part) = parts.recv().await {
        let report = match part {
            ClientPart::Response { message, complete } => {
                Report::Answer { token, part: Part::Response { complete }, message }
            }
            ClientPart::ListStart(message) => {
                Report::Answer { token, part: Part::ListStart, message }
            }
            ClientPart::ListItem(message) => {
                Report::Answer { token, part: Part::ListItem, message }
            }
            ClientPart::ListComplete(message) => {
                Report::Answer { token, part: Part::ListComplete, message }
            }
            ClientPart::CommandOutput(message) => {
                Report::Answer { token, part: Part::CommandOutput, message }
            }
            ClientPart::OriginateResponse(message) => {
                Report::Answer { token, part: Part::OriginateResponse, message }
            }
            ClientPart::Malformed { message, .. } => {
                Report::Answer { token, part: Part::Malformed, message }
            }
            ClientPart::Failed(e) => failed(e.to_string()),
            _ => continue,
        };
        if reports.send(report).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_through_action_ids() {
        assert_eq!(upstream_action_id(42), "ami-proxy-42");
        assert_eq!(token_of(b"ami-proxy-42"), Some(42));
        assert_eq!(token_of(b"ami-proxy-"), None);
        assert_eq!(token_of(b"ami-proxy-x"), None);
        assert_eq!(token_of(b"client-42"), None);
        assert_eq!(token_of(b"ami-proxy-internal-1"), None);
    }
}
