//! `ami proxy`: a permission-enforcing AMI gateway in front of one or more Asterisk servers.
//!
//! Clients log in to the proxy's own users (manager.conf syntax) and talk to the core's
//! [`Server`], which enforces logins, network filters, write classes, the §4.7 escalation
//! checks and read classes/event filters exactly as Asterisk does, and answers the
//! session-scoped actions itself (Login, Logoff, Challenge, Events, Filter, Ping, ListCommands,
//! WaitEvent): those are never forwarded, so no client can log the shared upstream session off
//! or change what others see. Every other action that passes reaches the client's upstream with
//! the proxy's own ActionID (`ami-proxy-<token>`); answers are routed back by that token, with
//! the client's ActionID restored, so clients never see each other's responses, list items or
//! OriginateResponse events. Upstream events fan out through the core to every client bound to
//! that upstream whose read classes hold all of the event's category bits and whose filters pass
//! it. A client whose bounded queue overflows is disconnected; it never slows the others.

pub mod config;
pub mod upstream;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration as StdDuration;

use ami_proto::authority::event_category;
use ami_proto::encode::Action;
use ami_proto::perm::Privilege;
use ami_proto::server::{ActionRef, PublishedEvent, Server, ServerEvent, ServerOptions, SessionId};
use ami_proto::{Message, OwnedMessage};
use ami_tokio::clock::{self, now};
use ami_tokio::random;
use ami_tokio::server::{Activity, Endpoint};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::error::CliError;
use config::ProxyConfig;
use upstream::{Command, Part, Report, token_of, upstream_action_id};

/// Arguments of `ami proxy`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The configuration is a manager.conf (the proxy's users, read exactly as Asterisk reads them)
plus one [upstream:NAME] section per Asterisk server:

  [general]
  enabled = yes
  bindaddr = 127.0.0.1
  port = 5038
  ; tlsenable = yes, tlsbindaddr = 0.0.0.0:5039, tlscertfile = proxy.pem, tlsprivatekey = proxy.key

  [upstream:pbx1]
  host = 10.0.0.5
  port = 5038
  username = proxy          ; a full-rights account on that Asterisk
  secret_env = PBX1_SECRET  ; or secret_file = PATH, or secret = ...
  auth = md5                ; or plain
  tls = no                  ; yes needs tls_ca = ca.pem (tls_server_name = ... optional)

  [crm]
  secret = ...
  read = call
  write = originate
  upstream = pbx1           ; default: the first upstream

Examples:
  ami proxy --config /etc/ami-proxy.conf
  ami proxy --config proxy.conf --listen 127.0.0.1:6038
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
    /// Stop after this many seconds (default: until Ctrl-C)
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Log only errors
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Runs `ami proxy`.
pub async fn run(args: ProxyArgs) -> Result<ExitCode, CliError> {
    let name = args.config.display().to_string();
    let text = std::fs::read_to_string(&args.config)
        .map_err(|e| CliError::io(format!("cannot read {name}"), e))?;
    let cfg = config::load(&name, &text).map_err(|e| {
        CliError::Config(format!("{name}: {e} (run `ami check {name}` for a full report)"))
    })?;
    for d in &cfg.manager.diagnostics {
        eprintln!("ami proxy: warning: {d}");
    }
    let general = &cfg.manager.general;
    let listen = args.listen.unwrap_or(SocketAddr::new(general.bind_addr, general.port));
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| CliError::io(format!("cannot listen on {listen}"), e))?;
    let tls = if general.tls.enabled {
        let cert = PathBuf::from(&general.tls.cert_file);
        let key =
            (!general.tls.private_key.is_empty()).then(|| PathBuf::from(&general.tls.private_key));
        let acceptor = ami_tokio::tls::acceptor(&cert, key.as_deref())
            .map_err(|e| CliError::Config(format!("{name}: TLS listener: {e}")))?;
        let addr =
            general.tls.bind_addr.clone().unwrap_or_else(|| format!("{}:5039", general.bind_addr));
        let addr: SocketAddr =
            addr.parse().or_else(|_| format!("{addr}:5039").parse()).map_err(|_| {
                CliError::Config(format!("{name}: tlsbindaddr {addr:?} is not ADDR:PORT"))
            })?;
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| CliError::io(format!("cannot listen on {addr} (TLS)"), e))?;
        Some((l, acceptor))
    } else {
        None
    };
    let local = listener.local_addr().map_err(|e| CliError::io("local address", e))?;
    let tls_note = match &tls {
        Some((l, _)) => l.local_addr().map(|a| format!(", TLS on {a}")).unwrap_or_default(),
        None => String::new(),
    };
    outln!(
        "ami proxy: listening on {local}{tls_note}; {} users; upstream {}",
        cfg.manager.users.len(),
        cfg.upstreams
            .iter()
            .map(|u| format!("{} = {}:{}", u.name, u.host, u.port))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let stop = crate::stop::after(args.duration);
    let opts = ProxyOptions {
        max_queue: args.max_queue,
        max_backoff: StdDuration::from_secs_f64(args.max_backoff.clamp(0.1, 3600.0)),
        log: !args.quiet,
    };
    serve(cfg, listener, tls, opts, stop).await?;
    Ok(ExitCode::SUCCESS)
}

/// Settings of a running proxy.
#[derive(Clone, Debug)]
pub struct ProxyOptions {
    /// Bytes queued for one client before it is disconnected.
    pub max_queue: usize,
    /// Longest upstream reconnection backoff.
    pub max_backoff: StdDuration,
    /// Log connections, logins, upstream state.
    pub log: bool,
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
}

struct Upstream {
    name: String,
    tx: mpsc::Sender<Command>,
    connected: bool,
}

/// How many finished tokens keep their client ActionID for events that quote it (UserEvent).
const RECENT_TOKENS: usize = 4096;

struct Proxy {
    endpoint: Endpoint,
    upstreams: Vec<Upstream>,
    bindings: HashMap<String, usize>,
    session_upstream: HashMap<SessionId, usize>,
    pending: HashMap<u64, Pending>,
    recent: HashMap<u64, Option<Vec<u8>>>,
    recent_order: VecDeque<u64>,
    next_token: u64,
    log: bool,
}

/// Serves until `stop` completes.
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
        let options = upstream::client_options(up, secret, opts.max_backoff);
        tokio::spawn(upstream::run(i, options, rx, report_tx.clone()));
        upstreams.push(Upstream { name: up.name.clone(), tx, connected: false });
    }
    drop(report_tx);
    let start = now();
    let server_options = ServerOptions {
        max_outbound: opts.max_queue,
        unix_offset_ms: clock::unix_offset_ms(),
        started_at: Some(start),
        last_reload_at: Some(start),
        local_address: listener.local_addr().ok(),
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
        session_upstream: HashMap::new(),
        pending: HashMap::new(),
        recent: HashMap::new(),
        recent_order: VecDeque::new(),
        next_token: 1,
        log: opts.log,
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            activity = p.endpoint.next() => p.activity(activity),
            Some(report) = report_rx.recv() => p.upstream_report(report),
        }
        p.drain();
        for sid in p.endpoint.flush() {
            p.forget(sid);
        }
    }
    Ok(())
}

impl Proxy {
    fn activity(&mut self, activity: Activity) {
        match activity {
            Activity::Accepted { peer, .. } if self.log => eprintln!("ami proxy: {peer} connected"),
            Activity::Refused { peer, reason } if self.log => {
                eprintln!("ami proxy: {peer} refused: {reason}");
            }
            Activity::TlsFailed { peer, error } if self.log => {
                eprintln!("ami proxy: {peer}: TLS handshake failed: {error}");
            }
            Activity::AcceptFailed { error } => eprintln!("ami proxy: cannot accept: {error}"),
            _ => {}
        }
    }

    fn peer(&self, sid: SessionId) -> String {
        self.endpoint.peer(sid).map_or_else(|| "?".to_owned(), |p| p.to_string())
    }

    /// Disconnects a client that cannot keep up with what it is sent, saying so in the log.
    fn drop_slow(&mut self, sid: SessionId, detail: &str) {
        eprintln!(
            "ami proxy: {} ({}) cannot keep up: {detail}; disconnected",
            self.peer(sid),
            self.endpoint.user(sid).unwrap_or("not logged in")
        );
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
                    if self.log {
                        let up_name = self.upstreams.get(up).map_or("?", |u| u.name.as_str());
                        eprintln!(
                            "ami proxy: {} logged in as {user} (upstream {up_name})",
                            self.peer(sid)
                        );
                    }
                    self.session_upstream.insert(sid, up);
                }
                ServerEvent::LoginFailed { username, failure } if self.log => {
                    eprintln!(
                        "ami proxy: {} login as {} failed: {failure:?}",
                        self.peer(sid),
                        String::from_utf8_lossy(&username)
                    );
                }
                ServerEvent::SlowConsumer { queued } => {
                    self.drop_slow(sid, &format!("{queued} bytes queued"));
                }
                ServerEvent::Disconnect { reason } if self.log => {
                    eprintln!("ami proxy: {} disconnected: {reason}", self.peer(sid));
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
        let mut out = Action::new(action.name());
        out.push("ActionID", upstream_action_id(token));
        for h in action.message().iter() {
            // Bare lines mean nothing to Asterisk; Action and ActionID are the proxy's.
            if h.is_bare() || h.is(b"Action") || h.is(b"ActionID") {
                continue;
            }
            out.push(h.name(), h.value());
        }
        let down_id = action.action_id().map(<[u8]>::to_vec);
        match upstream.tx.try_send(Command::Action { token, action: out }) {
            Ok(()) => {
                self.pending.insert(token, Pending { sid, action, down_id, answered: false });
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
                    if self.log {
                        eprintln!("ami proxy: upstream {name} logged in ({banner})");
                    }
                    self.notice(upstream, "UpstreamConnected", &[("Upstream", &name)]);
                }
            }
            Report::Disconnected { upstream, reason } => {
                if let Some(u) = self.upstreams.get_mut(upstream) {
                    let was = std::mem::replace(&mut u.connected, false);
                    let name = u.name.clone();
                    eprintln!("ami proxy: upstream {name}: {reason}; reconnecting");
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
                if p.answered {
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
                    let _ = self.endpoint.server_mut().error(
                        p.sid,
                        &p.action,
                        format!("Upstream {name}: {reason}"),
                    );
                }
                self.remember(token, p.down_id);
            }
            Report::Event { upstream, message } => self.event(upstream, &message),
            Report::EventsLost { upstream, missed } => {
                let name = self.upstreams.get(upstream).map_or("?", |u| u.name.as_str()).to_owned();
                eprintln!(
                    "ami proxy: upstream {name}: {missed} events lost (the proxy fell behind)"
                );
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
}

/// The category an upstream event was published with: its `Privilege:` classes (`all`
/// ignored), else the catalog's category for its name.
pub fn category_of(m: &Message<'_>) -> Privilege {
    match m.get("Privilege") {
        Some(p) => {
            let text = String::from_utf8_lossy(p);
            text.split(',')
                .filter(|l| !l.trim().eq_ignore_ascii_case("all"))
                .filter_map(|l| Privilege::from_label(l.trim()))
                .fold(Privilege::from_bits(0), Privilege::union)
        }
        None => m.event().and_then(event_category).unwrap_or(Privilege::from_bits(0)),
    }
}

/// A message's bytes with every `ActionID` header set to the client's (or removed if it had
/// none); every other byte as it came, the legacy Command output included.
pub fn rewrite(m: &Message<'_>, down_id: Option<&[u8]>) -> Vec<u8> {
    let raw = m.raw();
    let mut out = Vec::with_capacity(raw.len() + 16);
    let mut pos = 0;
    for (slot, h) in m.slots().iter().zip(m.iter()) {
        if h.is_bare() || !h.is(b"ActionID") {
            continue;
        }
        let line = slot.line_range();
        out.extend_from_slice(raw.get(pos..line.start).unwrap_or_default());
        match down_id {
            Some(id) => {
                out.extend_from_slice(b"ActionID: ");
                out.extend_from_slice(id);
                pos = line.end;
            }
            None => {
                // Drop the line with its terminator.
                let rest = raw.get(line.end..).unwrap_or_default();
                let term = if rest.starts_with(b"\r\n") {
                    2
                } else {
                    usize::from(rest.starts_with(b"\n"))
                };
                pos = line.end + term;
            }
        }
    }
    out.extend_from_slice(raw.get(pos..).unwrap_or_default());
    out
}

/// An upstream event for the core's fan-out: its lines kept as they came, except `Event` and
/// `Privilege` (the core writes them) and, when `down_id` is `Some`, the ActionID (set to the
/// client's, or removed).
fn published_with(m: &Message<'_>, down_id: Option<Option<&[u8]>>) -> Option<PublishedEvent> {
    let name = m.event()?;
    let mut ev = PublishedEvent::new(name, category_of(m)).ok()?;
    for h in m.iter() {
        if !h.is_bare() && (h.is(b"Event") || h.is(b"Privilege")) {
            continue;
        }
        if !h.is_bare() && h.is(b"ActionID") {
            match down_id {
                Some(Some(id)) => {
                    ev.header("ActionID", id).ok()?;
                    continue;
                }
                Some(None) => continue,
                None => {}
            }
        }
        ev.raw_line(h.line()).ok()?;
    }
    Some(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::with_message as with;

    #[test]
    fn rewrite_restores_the_clients_action_id_in_place() {
        with(b"Event: Status\r\nChannel: X\r\nActionID: ami-proxy-7\r\n\r\n", |m| {
            assert_eq!(
                rewrite(&m, Some(b"mine")),
                b"Event: Status\r\nChannel: X\r\nActionID: mine\r\n\r\n"
            );
            assert_eq!(rewrite(&m, None), b"Event: Status\r\nChannel: X\r\n\r\n");
        });
        // Legacy command output: bare lines kept as they are.
        with(
            b"Response: Follows\r\nActionID: ami-proxy-1\r\nline one\r\n--END COMMAND--\r\n\r\n",
            |m| {
                assert_eq!(
                    rewrite(&m, Some(b"c")),
                    b"Response: Follows\r\nActionID: c\r\nline one\r\n--END COMMAND--\r\n\r\n"
                );
            },
        );
    }

    #[test]
    fn categories_come_from_the_privilege_header() {
        with(b"Event: Newchannel\r\nPrivilege: call,all\r\n\r\n", |m| {
            assert_eq!(category_of(&m), Privilege::CALL)
        });
        with(b"Event: X\r\nPrivilege: system,user,all\r\n\r\n", |m| {
            assert_eq!(category_of(&m), Privilege::SYSTEM.union(Privilege::USER));
        });
        // No header: the catalog's category of the name.
        with(b"Event: Cdr\r\n\r\n", |m| assert_eq!(Some(category_of(&m)), event_category(b"Cdr")));
        with(b"Event: Unknown\r\n\r\n", |m| assert!(category_of(&m).is_empty()));
    }

    #[test]
    fn published_events_keep_their_lines() {
        with(b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: X\r\nActionID: ami-proxy-3\r\nH:no space\r\n\r\n", |m| {
            let ev = published_with(&m, Some(Some(b"a1"))).unwrap();
            assert_eq!(ev.name(), b"UserEvent");
            assert_eq!(ev.category(), Privilege::USER);
            assert_eq!(ev.body(), b"UserEvent: X\r\nActionID: a1\r\nH:no space\r\n");
            let ev = published_with(&m, None).unwrap();
            assert_eq!(ev.body(), b"UserEvent: X\r\nActionID: ami-proxy-3\r\nH:no space\r\n");
        });
    }
}
