//! The task behind a [`Client`](crate::Client): it owns the socket and the core's
//! [`ClientSession`], connects and logs in, runs the session's loop (read, write, timers,
//! commands from the handles), and reconnects with backoff when the connection drops.
//!
//! Nothing in the loop waits on one peer for long: reading, writing, the session's timer and
//! the handles' commands are branches of one `select!`, each cancel-safe, so a server that
//! stops reading cannot stop the timers that declare it dead.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use ami_proto::client::{
    ActionId, ClientConfig, ClientEvent, ClientSession, ClientState, CloseReason, Keepalive,
};
use ami_proto::encode::Action;
use ami_proto::frame::{Status as ParseStatus, parse_banner};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::backoff::Waits;
use super::error::Error;
use super::events::{Event, StreamEvent};
use super::options::ClientOptions;
use super::reply::{Budget, Collector, Part, Reply};
use super::status::Status;
use crate::clock::{self, now};
use crate::tls;

/// Size of one read from the socket.
const READ_CHUNK: usize = 64 * 1024;
/// Most bytes of a greeting kept to show in [`Error::NotAmi`].
const GREETING_SHOWN: usize = 120;
/// How long [`Command::Close`] waits for the server's goodbye.
const LOGOFF_WAIT: Duration = Duration::from_secs(2);

/// Where an action's answer goes.
#[derive(Debug)]
pub(crate) enum Sink {
    /// Collected into a [`Reply`], sent when final.
    Collect(oneshot::Sender<Result<Reply, Error>>),
    /// Each part as it arrives.
    Stream(mpsc::UnboundedSender<Part>),
}

impl Sink {
    fn fail(self, error: Error) {
        match self {
            Sink::Collect(tx) => {
                let _ = tx.send(Err(error));
            }
            Sink::Stream(tx) => {
                let _ = tx.send(Part::Failed(error));
            }
        }
    }

    fn is_closed(&self) -> bool {
        match self {
            Sink::Collect(tx) => tx.is_closed(),
            Sink::Stream(tx) => tx.is_closed(),
        }
    }
}

/// What a handle asks of the driver.
#[derive(Debug)]
pub(crate) enum Command {
    /// Send an action; its answer goes to `sink`.
    Send {
        /// The action.
        action: Action,
        /// Its time limit (the client's default if `None`).
        timeout: Option<Duration>,
        /// Where the answer goes.
        sink: Sink,
    },
    /// Log off and end.
    Close {
        /// Told when done.
        done: oneshot::Sender<()>,
    },
}

/// The channels between the handles and the driver.
#[derive(Debug)]
pub(crate) struct Channels {
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) events: broadcast::Sender<StreamEvent>,
    pub(crate) status: watch::Sender<Status>,
}

/// How one connection ended.
enum Ended {
    /// The client is done (closed, or every handle gone).
    ClientClosed(Option<oneshot::Sender<()>>),
    /// The connection could not be made or logged in.
    Failed(Error),
    /// A logged-in connection ended.
    Lost(String),
}

/// Any byte stream (TCP or TLS).
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Runs the client until it is closed. The first connection's outcome (the banner, or why it
/// failed) goes to `first` if given, and a failure then ends the client; without it, a failed
/// first attempt is retried like a lost connection.
pub(crate) async fn run(
    options: Arc<ClientOptions>,
    mut ch: Channels,
    mut first: Option<oneshot::Sender<Result<String, Error>>>,
) {
    let mut waits: Option<Waits> = options.reconnect.map(|b| b.start());
    loop {
        let started = StdInstant::now();
        let ended = connection(&options, &mut ch, &mut first).await;
        let reason = match ended {
            Ended::ClientClosed(done) => {
                if let Some(done) = done {
                    let _ = done.send(());
                }
                break;
            }
            Ended::Failed(e) => {
                if let Some(first) = first.take() {
                    let _ = first.send(Err(e));
                    break;
                }
                e.to_string()
            }
            Ended::Lost(reason) => {
                if let Some(w) = &mut waits {
                    w.connection_ended(started.elapsed());
                }
                reason
            }
        };
        let _ = ch.events.send(StreamEvent::Disconnected { reason: reason.clone() });
        let _ = ch.status.send(Status::Disconnected { reason: reason.clone() });
        let Some(w) = &mut waits else { break };
        // Wait before the next attempt, failing what is asked meanwhile.
        let sleep = tokio::time::sleep(w.next_delay());
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => break,
                cmd = ch.commands.recv() => match cmd {
                    Some(Command::Send { sink, .. }) => sink.fail(Error::Disconnected {
                        target: options.target.clone(),
                        reason: reason.clone(),
                    }),
                    Some(Command::Close { done }) => {
                        let _ = done.send(());
                        let _ = ch.status.send(Status::Closed);
                        return;
                    }
                    None => {
                        let _ = ch.status.send(Status::Closed);
                        return;
                    }
                },
            }
        }
        let _ = ch.status.send(Status::Connecting);
    }
    let _ = ch.status.send(Status::Closed);
}

/// Opens the TCP (and TLS) stream.
async fn open(options: &ClientOptions) -> Result<Box<dyn Stream>, Error> {
    let target = &options.target;
    let tcp = TcpStream::connect((target.host(), target.port()))
        .await
        .map_err(|e| Error::Connect { target: target.clone(), source: Arc::new(e) })?;
    let _ = tcp.set_nodelay(true);
    match &options.tls {
        None => Ok(Box::new(tcp)),
        Some(tls_options) => {
            let (connector, name) = tls::connector(tls_options, target.host())
                .map_err(|e| Error::TlsSetup(Arc::new(e)))?;
            let stream = connector
                .connect(name, tcp)
                .await
                .map_err(|e| Error::TlsHandshake { target: target.clone(), source: Arc::new(e) })?;
            Ok(Box::new(stream))
        }
    }
}

fn session_config(options: &ClientOptions) -> ClientConfig {
    let mut config = ClientConfig::default()
        .with_action_id_prefix(options.action_id_prefix.clone())
        .with_action_timeout(Some(options.action_timeout.into()))
        .with_keepalive(options.keepalive_interval.map(|interval| Keepalive {
            interval: interval.into(),
            timeout: options.keepalive_timeout.into(),
        }))
        .with_max_consecutive_timeouts(options.max_consecutive_timeouts)
        .with_max_in_flight(options.max_in_flight.max(1));
    if let Some(events) = &options.events {
        config = config.with_events(events.as_bytes().to_vec());
    }
    config
}

/// An action in flight.
struct InFlight {
    name: String,
    /// Its whole time limit (for the error message).
    limit: Duration,
    sink: Option<SinkState>,
    budget: Budget,
}

enum SinkState {
    Collect(oneshot::Sender<Result<Reply, Error>>, Box<Collector>),
    Stream(mpsc::UnboundedSender<Part>),
}

/// One connection: connect, log in, serve the handles until it ends.
async fn connection(
    options: &ClientOptions,
    ch: &mut Channels,
    first: &mut Option<oneshot::Sender<Result<String, Error>>>,
) -> Ended {
    let target = &options.target;
    let connect_deadline = tokio::time::Instant::now() + options.connect_timeout;
    let stream = match tokio::time::timeout_at(connect_deadline, open(options)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Ended::Failed(e),
        Err(_) => {
            return Ended::Failed(Error::Timeout {
                target: target.clone(),
                what: "the connection".to_owned(),
                after: options.connect_timeout,
            });
        }
    };
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut session = ClientSession::new(session_config(options), now());
    let login_id = match session.login(&options.username, options.secret.expose(), options.login) {
        Ok(id) => id,
        Err(e) => return Ended::Failed(Error::Local(e)),
    };
    let mut conn = Conn {
        options,
        login_id,
        logged_in: false,
        login_failed: None,
        closed: None,
        banner: None,
        greeting: Vec::new(),
        greeting_ok: false,
        in_flight: HashMap::new(),
        events: ch.events.clone(),
    };
    let mut out: Vec<u8> = Vec::new();
    let mut unflushed = false;
    let mut announced = false;
    let mut buf = vec![0u8; READ_CHUNK];
    // Logging off (close, or every handle dropped): who to tell, and when to give up waiting.
    let mut closing: Option<(Option<oneshot::Sender<()>>, tokio::time::Instant)> = None;
    loop {
        conn.drain(&mut session);
        if let Some(received) = conn.not_ami() {
            return Ended::Failed(Error::NotAmi { target: target.clone(), received });
        }
        if !conn.logged_in
            && let Some(message) = conn.login_failed.take()
        {
            return Ended::Failed(Error::LoginFailed {
                target: target.clone(),
                user: options.username.clone(),
                message,
            });
        }
        if let Some(reason) = conn.closed {
            if let Some((done, _)) = closing {
                return Ended::ClientClosed(done);
            }
            let why = describe(reason);
            return if conn.logged_in {
                Ended::Lost(why)
            } else {
                Ended::Failed(Error::Closed { target: target.clone(), reason: why })
            };
        }
        if conn.logged_in && !announced {
            announced = true;
            let banner = conn.banner.clone().unwrap_or_default();
            let _ = ch.status.send(Status::Connected { banner: banner.clone() });
            if let Some(first) = first.take() {
                let _ = first.send(Ok(banner));
            }
        }
        // Take what the session queued; the write branch owns a copy.
        if out.is_empty() {
            let pending = session.poll_transmit();
            if !pending.is_empty() {
                out.extend_from_slice(pending);
                let n = pending.len();
                session.consume_transmit(n);
            }
        }
        let can_take = conn.logged_in
            && closing.is_none()
            && session.state() == ClientState::Ready
            && session.pending_actions() < options.max_in_flight.max(1);
        let login_deadline = (!conn.logged_in).then_some(connect_deadline);
        let close_deadline = closing.as_ref().map(|(_, at)| *at);
        let timer = clock::sleep_until(session.poll_timeout());
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => session.handle_eof(),
                Ok(n) => {
                    conn.note_greeting(&buf[..n]);
                    session.handle_input(&buf[..n]);
                }
            },
            // Write what is queued, then flush (TLS keeps records until flushed; a no-op for
            // TCP). Both steps are cancel-safe.
            w = async {
                if out.is_empty() { wr.flush().await.map(|()| None) } else { wr.write(&out).await.map(Some) }
            }, if !out.is_empty() || unflushed => match w {
                Ok(Some(0)) | Err(_) => session.handle_eof(),
                Ok(Some(n)) => {
                    out.drain(..n);
                    unflushed = true;
                }
                Ok(None) => unflushed = false,
            },
            cmd = ch.commands.recv(), if can_take => match cmd {
                Some(Command::Send { action, timeout, sink }) => conn.send(&mut session, &action, timeout, sink),
                Some(Command::Close { done }) => {
                    let _ = session.logoff();
                    closing = Some((Some(done), tokio::time::Instant::now() + LOGOFF_WAIT));
                }
                None => {
                    // Every handle is gone: say goodbye and end.
                    let _ = session.logoff();
                    closing = Some((None, tokio::time::Instant::now() + LOGOFF_WAIT));
                }
            },
            () = timer => session.handle_timeout(now()),
            () = sleep_at(login_deadline) => {
                return Ended::Failed(Error::Timeout {
                    target: target.clone(),
                    what: if conn.banner.is_none() {
                        "the greeting (connected, but nothing was received: is it an AMI server? \
                         a TLS port needs TLS)".to_owned()
                    } else {
                        "the login".to_owned()
                    },
                    after: options.connect_timeout,
                });
            }
            () = sleep_at(close_deadline) => {
                return Ended::ClientClosed(closing.and_then(|(done, _)| done));
            }
        }
    }
}

async fn sleep_at(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Why a session ended, in words.
fn describe(reason: CloseReason) -> String {
    match reason {
        CloseReason::Logoff => "logged off".to_owned(),
        CloseReason::LoginFailed => "the login was refused".to_owned(),
        CloseReason::PeerClosed => "the server closed the connection".to_owned(),
        CloseReason::KeepaliveTimeout => {
            "the server stopped answering (keepalive Ping unanswered)".to_owned()
        }
        CloseReason::Unresponsive => {
            "the server stopped answering (several actions in a row timed out)".to_owned()
        }
        other => format!("{other:?}"),
    }
}

/// The state of one connection while it runs.
struct Conn<'o> {
    options: &'o ClientOptions,
    login_id: ActionId,
    logged_in: bool,
    login_failed: Option<String>,
    closed: Option<CloseReason>,
    banner: Option<String>,
    greeting: Vec<u8>,
    greeting_ok: bool,
    in_flight: HashMap<ActionId, InFlight>,
    events: broadcast::Sender<StreamEvent>,
}

impl Conn<'_> {
    /// Keeps the first bytes until they are known to start with an AMI banner.
    fn note_greeting(&mut self, data: &[u8]) {
        if self.greeting_ok || self.greeting.len() >= GREETING_SHOWN {
            return;
        }
        let room = GREETING_SHOWN - self.greeting.len();
        self.greeting.extend_from_slice(&data[..data.len().min(room)]);
        if let Ok(ParseStatus::Complete(_)) = parse_banner(&self.greeting) {
            self.greeting_ok = true;
        }
    }

    /// The greeting, if it is known not to be an AMI banner.
    fn not_ami(&self) -> Option<Vec<u8>> {
        if self.greeting_ok || self.greeting.is_empty() || self.banner.is_some() {
            return None;
        }
        parse_banner(&self.greeting).is_err().then(|| self.greeting.clone())
    }

    fn send(
        &mut self,
        session: &mut ClientSession,
        action: &Action,
        timeout: Option<Duration>,
        sink: Sink,
    ) {
        if sink.is_closed() {
            return; // the caller gave up (its own deadline) before the action was sent
        }
        let name = String::from_utf8_lossy(action.name()).into_owned();
        let base = timeout.unwrap_or(self.options.action_timeout);
        let limit = ami_proto::client::time_limit(action, base.into()).into();
        let sent = match timeout {
            Some(t) => session.send_action_with_timeout(action, now(), Some(t.into())),
            None => session.send_action(action, now()),
        };
        match sent {
            Ok(id) => {
                let state = match sink {
                    Sink::Collect(tx) => {
                        SinkState::Collect(tx, Box::new(Collector::new(name.clone(), id.clone())))
                    }
                    Sink::Stream(tx) => SinkState::Stream(tx),
                };
                let f = InFlight { name, limit, sink: Some(state), budget: Budget::default() };
                self.in_flight.insert(id, f);
            }
            Err(e) => sink.fail(Error::Local(e)),
        }
    }

    /// Hands one part of an answer to its action's sink.
    fn deliver(&mut self, id: &ActionId, part: Part) {
        let final_ = part.is_final();
        let Some(f) = self.in_flight.get_mut(id) else { return };
        if let Err(e) = f.budget.charge(&part, &self.options.list_limits, &f.name) {
            // Too large: fail it now, drop the rest of its answer as it comes.
            match f.sink.take() {
                Some(SinkState::Collect(tx, _)) => {
                    let _ = tx.send(Err(e));
                }
                Some(SinkState::Stream(tx)) => {
                    let _ = tx.send(Part::Failed(e));
                }
                None => {}
            }
        } else {
            match &mut f.sink {
                Some(SinkState::Collect(_, collector)) => {
                    if let Some(result) = collector.add(part)
                        && let Some(SinkState::Collect(tx, _)) = f.sink.take()
                    {
                        let _ = tx.send(result);
                    }
                }
                Some(SinkState::Stream(tx)) => {
                    let _ = tx.send(part);
                }
                None => {}
            }
        }
        if final_ {
            self.in_flight.remove(id);
        }
    }

    fn failure(&self, id: &ActionId, f: impl FnOnce(&str, Duration) -> Error) -> Part {
        match self.in_flight.get(id) {
            Some(x) => Part::Failed(f(&x.name, x.limit)),
            None => Part::Failed(f("?", self.options.action_timeout)),
        }
    }

    /// The drain rule: every event the session has, routed.
    fn drain(&mut self, session: &mut ClientSession) {
        while let Some(event) = session.poll_event() {
            let target = &self.options.target;
            match event {
                ClientEvent::Banner { line, .. } => {
                    self.banner = Some(String::from_utf8_lossy(line).into_owned());
                    self.greeting_ok = true;
                }
                ClientEvent::LoggedIn { action_id, .. } if action_id == self.login_id => {
                    self.logged_in = true;
                    let banner = self.banner.clone().unwrap_or_default();
                    let _ = self.events.send(StreamEvent::Connected { banner });
                }
                ClientEvent::LoginFailed { action_id, message } if action_id == self.login_id => {
                    let text = message.get("Message").map(String::from_utf8_lossy);
                    self.login_failed =
                        Some(text.map_or_else(|| "no reason given".to_owned(), |t| t.into_owned()));
                }
                // Copied only if someone listens.
                ClientEvent::Event(m) if self.events.receiver_count() > 0 => {
                    let _ = self.events.send(StreamEvent::Event(Event::new(m.to_owned_message())));
                }
                ClientEvent::Response { action_id, message, complete } => {
                    let part = Part::Response { message: message.to_owned_message(), complete };
                    self.deliver(&action_id, part);
                }
                ClientEvent::ListStart { action_id, message } => {
                    self.deliver(&action_id, Part::ListStart(message.to_owned_message()));
                }
                ClientEvent::ListItem { action_id, message } => {
                    self.deliver(&action_id, Part::ListItem(message.to_owned_message()));
                }
                ClientEvent::ListComplete { action_id, message } => {
                    self.deliver(&action_id, Part::ListComplete(message.to_owned_message()));
                }
                ClientEvent::CommandOutput { action_id, output } => {
                    self.deliver(
                        &action_id,
                        Part::CommandOutput(output.message().to_owned_message()),
                    );
                }
                ClientEvent::OriginateResponse { action_id, message } => {
                    self.deliver(&action_id, Part::OriginateResponse(message.to_owned_message()));
                }
                ClientEvent::Malformed { action_id: Some(action_id), error, message } => {
                    let part = Part::Malformed { message: message.to_owned_message(), error };
                    self.deliver(&action_id, part);
                }
                ClientEvent::ActionTimedOut { action_id } => {
                    let part = self.failure(&action_id, |name, after| Error::Timeout {
                        target: target.clone(),
                        what: format!("the action {name}"),
                        after,
                    });
                    self.deliver(&action_id, part);
                }
                ClientEvent::ActionAborted { action_id, reason } => {
                    let part = self.failure(&action_id, |_, _| Error::Closed {
                        target: target.clone(),
                        reason: format!("{} before the answer", describe(reason)),
                    });
                    self.deliver(&action_id, part);
                }
                ClientEvent::Closed { reason, .. } => self.closed = Some(reason),
                _ => {}
            }
        }
    }
}
