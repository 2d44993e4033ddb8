//! `ami proxy`: a permission-enforcing AMI gateway in front of one or more Asterisk servers.
//!
//! Clients log in to the proxy's own users (manager.conf syntax) and talk to the core's
//! [`Server`], which enforces logins, network filters, write classes, the §4.7 escalation
//! checks and read classes/event filters exactly as Asterisk does, and answers the
//! session-scoped actions itself (Login, Logoff, Challenge, Events, Filter, Ping, ListCommands,
//! WaitEvent): those are never forwarded, so no client can log an upstream session off or
//! change what others see. Every other action that passes reaches the client's upstream with
//! the proxy's own ActionID (`ami-proxy-<token>`, [`forward`]); answers are routed back by that
//! token, with the client's ActionID restored ([`relay`]), so clients never see each other's
//! responses, list items or OriginateResponse events. Upstream events fan out through the core
//! to every client bound to that upstream whose read classes hold all of the event's category
//! bits and whose filters pass it. A client whose bounded queue overflows is disconnected; it
//! never slows the others.
//!
//! Each upstream is a pool of AMI sessions ([`upstream`]; why, in [`config`]). The proxy runs
//! as a service: SIGTERM/SIGINT stop it cleanly (new connections refused, clients told with
//! `Event: Shutdown` as Asterisk tells them, forwarded actions given time to finish), SIGHUP
//! reloads users, rights, ACLs and filters without dropping sessions, `--metrics` serves
//! Prometheus metrics ([`metrics`]), `--log-format json` writes structured logs.

pub mod config;
pub mod forward;
pub mod metrics;
pub mod relay;
pub mod upstream;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use rustc_hash::FxHashMap;

use ami_proto::OwnedMessage;
use ami_proto::encode::Response;
use ami_proto::perm::Privilege;
use ami_proto::server::{
    ActionRef, PublishedEvent, Server, ServerEvent, ServerOptions, SessionId, UnregisteredActions,
};
use ami_tokio::clock::{self, now};
use ami_tokio::random;
use ami_tokio::server::{Activity, Endpoint};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::error::CliError;
use crate::logs::{self, LogFormat};
use config::ProxyConfig;
use forward::Forward;
use metrics::{ProxyMetrics, SessionTally, UserLabel};
use relay::{category_of, published_with, rewrite};
use upstream::{Command, Part, Report, Route, token_of, upstream_action_id};

/// Arguments of `ami proxy`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The configuration is a manager.conf (the proxy's users, read exactly as Asterisk reads them)
plus one [upstream:NAME] section per Asterisk server:

  [general]
  enabled = yes
  bindaddr = 127.0.0.1
  port = 5038
  strict = yes              ; hide ExpectedResponse, keep the proxy's upstream logins private
  ; tlsenable = yes, tlsbindaddr = 0.0.0.0:5039, tlscertfile = proxy.pem, tlsprivatekey = proxy.key

  [upstream:pbx1]
  host = 10.0.0.5
  port = 5038
  username = proxy          ; a full-rights account on that Asterisk
  secret_env = PBX1_SECRET  ; or secret_file = PATH, or secret = ...
  auth = md5                ; or plain
  tls = no                  ; yes needs tls_ca = ca.pem (tls_server_name = ... optional)
  sessions = 4              ; AMI sessions to this Asterisk (slow actions occupy only one)

  [crm]
  secret = ...
  read = call
  write = originate
  upstream = pbx1           ; default: the first upstream

Signals: SIGTERM/SIGINT stop it cleanly (clients get Event: Shutdown; forwarded actions get
--shutdown-timeout seconds to finish); SIGHUP reloads the users, rights, ACLs and filters
without dropping sessions (a removed user's sessions close; a file with errors is refused and
the running configuration stays).

Examples:
  ami proxy --config /etc/ami/proxy.conf
  ami proxy --config proxy.conf --listen 127.0.0.1:6038 --metrics 127.0.0.1:9238
  ami proxy --config proxy.conf --check-config   # load it as the proxy would, then exit
  ami check proxy.conf      # what each user may do, before going live")]
pub struct ProxyArgs {
    /// The proxy configuration (manager.conf syntax with [upstream:NAME] sections)
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Listen here instead of [general] bindaddr/port
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Most bytes queued for one client before it is disconnected as too slow
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub max_queue: usize,
    /// Longest wait between upstream reconnection attempts, in seconds
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub max_backoff: f64,
    /// Stop after this many seconds (default: until SIGTERM or Ctrl-C)
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Serve Prometheus metrics on this address (GET /metrics)
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<SocketAddr>,
    /// How log lines look
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Seconds forwarded actions get to finish when the proxy stops
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub shutdown_timeout: f64,
    /// Load the configuration (secrets and TLS files included) as the proxy would, report,
    /// and exit: 0 if it would start, 1 if not
    #[arg(long)]
    pub check_config: bool,
    /// Log only warnings and errors
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Reads and loads the configuration file, secrets and TLS files included, as the proxy
/// starts with it (and as SIGHUP reloads it).
fn load_file(path: &std::path::Path) -> Result<(ProxyConfig, Vec<ami_tokio::Secret>), CliError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::io(format!("cannot read {name}"), e))?;
    let cfg = config::load(&name, &text).map_err(|e| {
        CliError::Config(format!("{name}: {e} (run `ami check {name}` for a full report)"))
    })?;
    let secrets = (0..cfg.upstreams.len())
        .map(|i| cfg.upstream_secret(i).map_err(|e| CliError::Config(format!("{name}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((cfg, secrets))
}

/// The TLS listener of `[general]` (`tlsenable`), if any.
fn tls_listener_config(
    cfg: &ProxyConfig,
    name: &str,
) -> Result<Option<(SocketAddr, tokio_rustls::TlsAcceptor)>, CliError> {
    let general = &cfg.manager.general;
    if !general.tls.enabled {
        return Ok(None);
    }
    let cert = PathBuf::from(&general.tls.cert_file);
    let key =
        (!general.tls.private_key.is_empty()).then(|| PathBuf::from(&general.tls.private_key));
    let acceptor = ami_tokio::tls::acceptor(&cert, key.as_deref())
        .map_err(|e| CliError::Config(format!("{name}: TLS listener: {e}")))?;
    let addr =
        general.tls.bind_addr.clone().unwrap_or_else(|| format!("{}:5039", general.bind_addr));
    let addr: SocketAddr = addr
        .parse()
        .or_else(|_| format!("{addr}:5039").parse())
        .map_err(|_| CliError::Config(format!("{name}: tlsbindaddr {addr:?} is not ADDR:PORT")))?;
    Ok(Some((addr, acceptor)))
}

/// Runs `ami proxy`.
pub async fn run(args: ProxyArgs) -> Result<ExitCode, CliError> {
    let name = args.config.display().to_string();
    let (cfg, _secrets) = load_file(&args.config)?;
    let tls = tls_listener_config(&cfg, &name)?;
    if args.check_config {
        for d in &cfg.manager.diagnostics {
            outln!("{name}: warning: {d}");
        }
        outln!(
            "{name}: OK: {} users, {} upstreams ({}){}",
            cfg.manager.users.len(),
            cfg.upstreams.len(),
            cfg.upstreams
                .iter()
                .map(|u| format!("{} = {}:{}", u.name, u.host, u.port))
                .collect::<Vec<_>>()
                .join(", "),
            if cfg.strict { "; strict" } else { "" }
        );
        return Ok(ExitCode::SUCCESS);
    }
    logs::init(args.log_format, args.quiet);
    for d in &cfg.manager.diagnostics {
        warn!(file = %name, "{d}");
    }
    let general = &cfg.manager.general;
    let listen = args.listen.unwrap_or(SocketAddr::new(general.bind_addr, general.port));
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| CliError::io(format!("cannot listen on {listen}"), e))?;
    let tls = match tls {
        Some((addr, acceptor)) => {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|e| CliError::io(format!("cannot listen on {addr} (TLS)"), e))?;
            Some((l, acceptor))
        }
        None => None,
    };
    let local = listener.local_addr().map_err(|e| CliError::io("local address", e))?;
    let tls_note = match &tls {
        Some((l, _)) => l.local_addr().map(|a| format!(", TLS on {a}")).unwrap_or_default(),
        None => String::new(),
    };
    let metrics = ProxyMetrics::new();
    let metrics_note = match args.metrics {
        Some(addr) => {
            let (bound, _task) =
                crate::metrics_http::serve(addr, std::sync::Arc::clone(&metrics.registry))
                    .await
                    .map_err(|e| CliError::io(format!("cannot serve metrics on {addr}"), e))?;
            format!("; metrics on http://{bound}/metrics")
        }
        None => String::new(),
    };
    outln!(
        "ami proxy: listening on {local}{tls_note}; {} users; upstream {}{metrics_note}",
        cfg.manager.users.len(),
        cfg.upstreams
            .iter()
            .map(|u| format!("{} = {}:{}", u.name, u.host, u.port))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let opts = ProxyOptions {
        max_queue: args.max_queue,
        max_backoff: Duration::from_secs_f64(args.max_backoff.clamp(0.1, 3600.0)),
        shutdown_timeout: Duration::from_secs_f64(args.shutdown_timeout.clamp(0.0, 3600.0)),
        config_path: Some(args.config.clone()),
        metrics,
    };
    serve(cfg, listener, tls, opts, crate::stop::after(args.duration)).await?;
    Ok(ExitCode::SUCCESS)
}

/// Settings of a running proxy.
#[derive(Clone, Debug)]
pub struct ProxyOptions {
    /// Bytes queued for one client before it is disconnected.
    pub max_queue: usize,
    /// Longest upstream reconnection backoff.
    pub max_backoff: Duration,
    /// Time forwarded actions get to finish when the proxy stops.
    pub shutdown_timeout: Duration,
    /// The file SIGHUP reloads (`None`: SIGHUP is ignored).
    pub config_path: Option<PathBuf>,
    /// Where the proxy counts.
    pub metrics: ProxyMetrics,
}

/// A forwarded action waiting for its answer.
#[derive(Debug)]
struct Pending {
    sid: SessionId,
    action: ActionRef,
    down_id: Option<Vec<u8>>,
    /// The downstream action was answered (async Originate accepted): only the
    /// OriginateResponse is still to come.
    answered: bool,
    /// A synchronous Originate sent as async: answered from its OriginateResponse.
    sync_originate: bool,
}

struct Upstream {
    name: String,
    username: String,
    tx: mpsc::Sender<Command>,
    connected: bool,
}

/// How many finished tokens keep their client ActionID for events that quote it (UserEvent).
const RECENT_TOKENS: usize = 4096;
/// Most upstream reports handled in one round of the main loop.
const REPORT_BATCH: usize = 64;
/// How often the per-user metrics are brought up to date.
const TALLY_INTERVAL: Duration = Duration::from_secs(1);

struct Proxy {
    endpoint: Endpoint,
    upstreams: Vec<Upstream>,
    bindings: HashMap<String, usize>,
    /// Keyed by ids the core and the proxy assign, read for every session on every event:
    /// a fast hash (see Cargo.toml).
    session_upstream: FxHashMap<SessionId, usize>,
    pending: FxHashMap<u64, Pending>,
    recent: FxHashMap<u64, Option<Vec<u8>>>,
    recent_order: VecDeque<u64>,
    next_token: u64,
    strict: bool,
    metrics: ProxyMetrics,
    tally: SessionTally,
}

/// Serves until `stop` completes, then shuts down cleanly.
pub async fn serve(
    cfg: ProxyConfig,
    listener: TcpListener,
    tls: Option<(TcpListener, tokio_rustls::TlsAcceptor)>,
    opts: ProxyOptions,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), CliError> {
    let (report_tx, mut report_rx) = mpsc::channel::<Report>(4096);
    let mut upstreams = Vec::new();
    for (i, up) in cfg.upstreams.iter().enumerate() {
        let secret = cfg.upstream_secret(i).map_err(CliError::Config)?;
        let (tx, rx) = mpsc::channel::<Command>(4096);
        let pool = (0..up.sessions)
            .map(|s| upstream::client_options(up, secret.clone(), opts.max_backoff, s))
            .collect();
        tokio::spawn(upstream::run(
            i,
            up.name.clone(),
            pool,
            rx,
            report_tx.clone(),
            opts.metrics.clone(),
        ));
        upstreams.push(Upstream {
            name: up.name.clone(),
            username: up.username.clone(),
            tx,
            connected: false,
        });
    }
    drop(report_tx);
    let start = now();
    let server_options = ServerOptions {
        max_outbound: opts.max_queue,
        unix_offset_ms: clock::unix_offset_ms(),
        started_at: Some(start),
        last_reload_at: Some(start),
        local_address: listener.local_addr().ok(),
        hide_expected_response: cfg.strict,
        // Every documented action is registered (with its real authority); one the catalog
        // does not know reaches the upstream for users that may write every class.
        unregistered_actions: UnregisteredActions::ForWriteAll,
        ..ServerOptions::default()
    };
    let server = Server::new(cfg.manager, server_options, random::challenge_source());
    let mut endpoint = Endpoint::new(server);
    endpoint.listen(listener, None);
    if let Some((l, acceptor)) = tls {
        endpoint.listen(l, Some(acceptor));
    }
    let mut p = Proxy {
        endpoint,
        upstreams,
        bindings: cfg.bindings,
        session_upstream: FxHashMap::default(),
        pending: FxHashMap::default(),
        recent: FxHashMap::default(),
        recent_order: VecDeque::new(),
        next_token: 1,
        strict: cfg.strict,
        metrics: opts.metrics.clone(),
        tally: SessionTally::default(),
    };
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut tally = tokio::time::interval(TALLY_INTERVAL);
    tokio::pin!(stop);
    loop {
        let sighup = async {
            match &mut hangup {
                Some(h) => h.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut stop => break,
            _ = sighup => {
                if let Some(path) = &opts.config_path {
                    p.reload(path);
                }
            }
            activity = p.endpoint.next() => p.activity(activity),
            Some(report) = report_rx.recv() => {
                p.upstream_report(report);
                // Whatever else the upstreams reported meanwhile, in the same round: one
                // drain and one flush for all of it.
                for _ in 0..REPORT_BATCH {
                    match report_rx.try_recv() {
                        Ok(report) => p.upstream_report(report),
                        Err(_) => break,
                    }
                }
            }
            _ = tally.tick() => p.refresh_tally(),
        }
        p.drain();
        for sid in p.endpoint.flush() {
            p.forget(sid);
        }
    }
    p.shutdown(&mut report_rx, opts.shutdown_timeout).await;
    Ok(())
}

impl Proxy {
    fn activity(&mut self, activity: Activity) {
        match activity {
            Activity::Accepted { peer, tls, .. } => {
                info!(%peer, tls, "{peer} connected{}", if tls { " over TLS" } else { "" });
            }
            Activity::Refused { peer, reason } => info!(%peer, "{peer} refused: {reason}"),
            Activity::TlsFailed { peer, error } => {
                info!(%peer, "{peer}: TLS handshake failed: {error}");
            }
            Activity::AcceptFailed { error } => warn!("cannot accept: {error}"),
            _ => {}
        }
    }

    fn peer(&self, sid: SessionId) -> String {
        self.endpoint.peer(sid).map_or_else(|| "?".to_owned(), |p| p.to_string())
    }

    fn user_of(&self, sid: SessionId) -> String {
        self.endpoint.user(sid).unwrap_or("not logged in").to_owned()
    }

    fn refresh_tally(&mut self) {
        let sessions: Vec<SessionId> = self.endpoint.sessions().collect();
        self.tally.refresh(&self.metrics, self.endpoint.server(), sessions.into_iter());
    }

    /// Disconnects a client that cannot keep up with what it is sent, saying so in the log.
    fn drop_slow(&mut self, sid: SessionId, detail: &str) {
        let user = self.user_of(sid);
        warn!(peer = %self.peer(sid), user = %user, "{} ({user}) cannot keep up: {detail}; disconnected", self.peer(sid));
        self.metrics
            .slow_client_disconnects
            .get_or_create(&UserLabel { user: user.to_ascii_lowercase() })
            .inc();
        self.tally.finish(&self.metrics, self.endpoint.server(), sid);
        self.endpoint.close_now(sid);
        self.forget(sid);
    }

    /// A session is gone: its pending actions are no longer routed anywhere.
    fn forget(&mut self, sid: SessionId) {
        self.session_upstream.remove(&sid);
        self.pending.retain(|_, p| p.sid != sid);
    }

    fn drain(&mut self) {
        while let Some((sid, ev)) = self.endpoint.poll_event() {
            match ev {
                ServerEvent::ActionReceived { action } => self.forward(sid, action),
                ServerEvent::LoggedIn { username } => {
                    let user = String::from_utf8_lossy(&username).into_owned();
                    let up = self.bindings.get(&user.to_ascii_lowercase()).copied().unwrap_or(0);
                    let up_name = self.upstreams.get(up).map_or("?", |u| u.name.as_str());
                    info!(peer = %self.peer(sid), user = %user, upstream = %up_name,
                        "{} logged in as {user} (upstream {up_name})", self.peer(sid));
                    self.session_upstream.insert(sid, up);
                }
                ServerEvent::LoginFailed { username, failure } => {
                    let user = String::from_utf8_lossy(&username).into_owned();
                    info!(peer = %self.peer(sid), user = %user, "{} login as {user} failed: {failure:?}", self.peer(sid));
                }
                ServerEvent::SlowConsumer { queued } => {
                    self.drop_slow(sid, &format!("{queued} bytes queued"));
                }
                ServerEvent::Disconnect { reason } => {
                    info!(peer = %self.peer(sid), "{} disconnected: {reason}", self.peer(sid));
                    self.tally.finish(&self.metrics, self.endpoint.server(), sid);
                }
                _ => {}
            }
        }
    }

    /// An action the core let through: send it to the session's upstream.
    fn forward(&mut self, sid: SessionId, action: ActionRef) {
        let up = self.session_upstream.get(&sid).copied().unwrap_or(0);
        let Some(upstream) = self.upstreams.get(up) else { return };
        if !upstream.connected {
            let msg = format!("Upstream {} is not connected", upstream.name);
            let _ = self.endpoint.server_mut().error(sid, &action, msg);
            return;
        }
        let token = self.next_token;
        self.next_token += 1;
        let (out, sync_originate) = match forward::forward(&action, &upstream_action_id(token)) {
            Forward::Relay(a) => (a, false),
            Forward::SyncOriginate(a) => (a, true),
            Forward::Refuse(message) => {
                let _ = self.endpoint.server_mut().error(sid, &action, message);
                return;
            }
        };
        let route =
            if action.name() == "Originate" { Route::EventSession } else { Route::LeastBusy };
        let down_id = action.action_id().map(<[u8]>::to_vec);
        match upstream.tx.try_send(Command::Action { token, action: out, route }) {
            Ok(()) => {
                let pending = Pending { sid, action, down_id, answered: false, sync_originate };
                self.pending.insert(token, pending);
            }
            Err(_) => {
                let msg = format!("Upstream {} is busy; try again", upstream.name);
                let _ = self.endpoint.server_mut().error(sid, &action, msg);
            }
        }
    }

    fn remember(&mut self, token: u64, down_id: Option<Vec<u8>>) {
        self.recent.insert(token, down_id);
        self.recent_order.push_back(token);
        while self.recent_order.len() > RECENT_TOKENS {
            if let Some(old) = self.recent_order.pop_front() {
                self.recent.remove(&old);
            }
        }
    }

    fn upstream_report(&mut self, report: Report) {
        match report {
            Report::Connected { upstream, banner } => {
                if let Some(u) = self.upstreams.get_mut(upstream) {
                    u.connected = true;
                    let name = u.name.clone();
                    info!(upstream = %name, "upstream {name} logged in ({banner})");
                    self.notice(upstream, "UpstreamConnected", &[("Upstream", &name)]);
                }
            }
            Report::Disconnected { upstream, reason } => {
                if let Some(u) = self.upstreams.get_mut(upstream) {
                    let was = std::mem::replace(&mut u.connected, false);
                    let name = u.name.clone();
                    warn!(upstream = %name, "upstream {name}: {reason}; reconnecting");
                    if was {
                        self.notice(
                            upstream,
                            "UpstreamDisconnected",
                            &[("Upstream", &name), ("Reason", &reason)],
                        );
                    }
                }
            }
            Report::Answer { token, part, message } => self.answer(token, part, &message),
            Report::Failed { upstream, token, reason } => {
                let Some(p) = self.pending.remove(&token) else { return };
                let name = self.upstreams.get(upstream).map_or("?", |u| u.name.as_str()).to_owned();
                if p.answered && !p.sync_originate {
                    // An accepted async Originate whose OriginateResponse will never come.
                    if let Ok(mut ev) = PublishedEvent::new("OriginateResponse", Privilege::CALL) {
                        if let Some(id) = &p.down_id {
                            let _ = ev.header("ActionID", id);
                        }
                        let _ = ev.header("Response", "Failure");
                        let _ = ev.header("Reason", "0");
                        let _ = ev.header("Message", format!("Upstream {name}: {reason}"));
                        self.endpoint.server_mut().publish_to(p.sid, &ev);
                    }
                } else {
                    let server = self.endpoint.server_mut();
                    let _ = server.error(p.sid, &p.action, format!("Upstream {name}: {reason}"));
                }
                self.remember(token, p.down_id);
            }
            Report::Events { upstream, events } => {
                for ev in &events {
                    self.event(upstream, ev.message());
                }
            }
            Report::EventsLost { upstream, missed } => {
                let name = self.upstreams.get(upstream).map_or("?", |u| u.name.as_str()).to_owned();
                warn!(upstream = %name, missed, "upstream {name}: {missed} events lost (the proxy fell behind)");
                let count = missed.to_string();
                self.notice(
                    upstream,
                    "UpstreamEventsLost",
                    &[("Upstream", &name), ("Count", &count)],
                );
            }
        }
    }

    /// A proxy event (category 0: every logged-in client of that upstream gets it).
    fn notice(&mut self, upstream: usize, name: &str, fields: &[(&str, &str)]) {
        let Ok(mut ev) = PublishedEvent::new(name, Privilege::from_bits(0)) else { return };
        for (k, v) in fields {
            if ev.header(k, v).is_err() {
                return;
            }
        }
        let bound = &self.session_upstream;
        self.endpoint.server_mut().publish_filtered(&ev, &|sid| bound.get(&sid) == Some(&upstream));
    }

    fn answer(&mut self, token: u64, part: Part, message: &OwnedMessage) {
        let Some(p) = self.pending.get_mut(&token) else { return };
        let (sid, down_id) = (p.sid, p.down_id.clone());
        let m = message.as_message();
        if p.sync_originate {
            // A synchronous Originate sent as async: Asterisk's synchronous answers.
            let server = self.endpoint.server_mut();
            let done = match part {
                Part::Response { complete: false } => {
                    p.answered = true;
                    return;
                }
                Part::OriginateResponse => {
                    let ok = m.get("Response").is_some_and(|r| r.eq_ignore_ascii_case(b"Success"));
                    if ok {
                        let reply = Response::new("Success")
                            .with("Message", "Originate successfully queued");
                        server.respond(sid, &p.action, &reply)
                    } else {
                        server.error(sid, &p.action, "Originate failed")
                    }
                }
                _ => server.respond_raw(sid, &p.action, &rewrite(&m, down_id.as_deref())),
            };
            let _ = done;
            if let Some(p) = self.pending.remove(&token) {
                self.remember(token, p.down_id);
            }
            return;
        }
        if part == Part::OriginateResponse {
            if let Some(ev) = published_with(&m, Some(down_id.as_deref())) {
                self.endpoint.server_mut().publish_to(sid, &ev);
            }
            if let Some(p) = self.pending.remove(&token) {
                self.remember(token, p.down_id);
            }
            return;
        }
        let bytes = rewrite(&m, down_id.as_deref());
        let result = if part.is_final() || part == (Part::Response { complete: false }) {
            self.endpoint.server_mut().respond_raw(sid, &p.action, &bytes)
        } else {
            self.endpoint.server_mut().write_raw(sid, &p.action, &bytes)
        };
        if let Err(e) = result {
            if matches!(e, ami_proto::server::ServerError::OutboundFull { .. }) {
                self.drop_slow(sid, "with a list answer");
            }
            return;
        }
        if part == (Part::Response { complete: false }) {
            if let Some(p) = self.pending.get_mut(&token) {
                p.answered = true;
            }
        } else if part.is_final()
            && let Some(p) = self.pending.remove(&token)
        {
            self.remember(token, p.down_id);
        }
    }

    fn event(&mut self, upstream: usize, message: &OwnedMessage) {
        let m = message.as_message();
        if self.strict && self.is_own_security_event(upstream, &m) {
            return;
        }
        // An event that quotes one of the proxy's ActionIDs (UserEvent copies it) gets the
        // client's back; it is never routed to one client only unless it is an answer.
        let down_id = m.action_id().and_then(token_of).map(|t| {
            self.pending
                .get(&t)
                .map(|p| p.down_id.clone())
                .or_else(|| self.recent.get(&t).cloned())
                .unwrap_or(None)
        });
        let Some(ev) = published_with(&m, down_id.as_ref().map(|d| d.as_deref())) else { return };
        let bound = &self.session_upstream;
        self.endpoint.server_mut().publish_filtered(&ev, &|sid| bound.get(&sid) == Some(&upstream));
    }

    /// A security event the upstream raised about the proxy's own account there (its logins,
    /// from the proxy's address): private to the proxy in strict mode.
    fn is_own_security_event(&self, upstream: usize, m: &ami_proto::Message<'_>) -> bool {
        let Some(u) = self.upstreams.get(upstream) else { return false };
        category_of(m).intersects(Privilege::SECURITY)
            && m.get("AccountID").is_some_and(|a| a.eq_ignore_ascii_case(u.username.as_bytes()))
    }

    /// SIGHUP: loads the file again; users, rights, ACLs and filters change without dropping
    /// sessions. A file with errors is refused and the running configuration stays.
    fn reload(&mut self, path: &std::path::Path) {
        let name = path.display().to_string();
        let (cfg, _) = match load_file(path) {
            Ok(c) => c,
            Err(e) => {
                warn!(file = %name, "reload refused, the running configuration stays: {e}");
                return;
            }
        };
        let same_upstreams = cfg.upstreams.len() == self.upstreams.len()
            && cfg.upstreams.iter().zip(&self.upstreams).all(|(a, b)| a.name == b.name);
        if !same_upstreams || cfg.strict != self.strict {
            warn!(file = %name, "changes to [upstream:…] sections and `strict` take effect at the next start");
        }
        for d in &cfg.manager.diagnostics {
            warn!(file = %name, "{d}");
        }
        let users = cfg.manager.users.len();
        let report = self.endpoint.server_mut().reload(cfg.manager, now());
        if same_upstreams {
            self.bindings = cfg.bindings;
        }
        for sid in &report.revoked {
            self.tally.finish(&self.metrics, self.endpoint.server(), *sid);
        }
        info!(
            file = %name,
            users,
            revoked = report.revoked.len(),
            updated = report.updated.len(),
            "reloaded {name}: {users} users; {} sessions closed (user removed or no longer permitted), {} updated",
            report.revoked.len(),
            report.updated.len()
        );
    }

    /// The end: refuse new connections and requests, tell the clients (`Event: Shutdown`, as
    /// Asterisk does), give forwarded actions `deadline` to finish, send what is queued, close.
    async fn shutdown(&mut self, reports: &mut mpsc::Receiver<Report>, deadline: Duration) {
        let pending_at_start = self.pending.len();
        info!(
            sessions = self.endpoint.connection_count(),
            pending = pending_at_start,
            "stopping: {} clients, {pending_at_start} forwarded actions pending",
            self.endpoint.connection_count()
        );
        self.endpoint.stop_listening();
        let server = self.endpoint.server_mut();
        server.set_shutting_down(true);
        if let Ok(mut ev) = PublishedEvent::new("Shutdown", Privilege::SYSTEM) {
            let _ = ev.header("Shutdown", "Cleanly");
            let _ = ev.header("Restart", "False");
            server.publish(&ev);
        }
        self.endpoint.flush();
        let until = tokio::time::Instant::now() + deadline;
        while !self.pending.is_empty() {
            tokio::select! {
                () = tokio::time::sleep_until(until) => break,
                activity = self.endpoint.next() => self.activity(activity),
                Some(report) = reports.recv() => self.upstream_report(report),
            }
            self.drain();
            for sid in self.endpoint.flush() {
                self.forget(sid);
            }
        }
        let unfinished = self.pending.len();
        for p in std::mem::take(&mut self.pending).into_values() {
            let _ = self.endpoint.server_mut().error(p.sid, &p.action, "Asterisk is shutting down");
        }
        // Send what is queued, then close every connection.
        let sessions: Vec<SessionId> = self.endpoint.sessions().collect();
        self.refresh_tally();
        for sid in sessions {
            self.endpoint.close_after_flush(sid);
        }
        let until = tokio::time::Instant::now() + Duration::from_secs(2);
        while self.endpoint.connection_count() > 0 && tokio::time::Instant::now() < until {
            self.endpoint.flush();
            tokio::select! {
                () = tokio::time::sleep_until(until) => break,
                activity = self.endpoint.next() => self.activity(activity),
            }
        }
        self.endpoint.flush();
        info!(unfinished, "stopped ({unfinished} forwarded actions did not finish in time)");
    }
}
