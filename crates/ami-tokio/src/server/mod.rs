//! [`Endpoint`]: the I/O around the core's [`Server`]: listeners (TCP and TLS), one reader
//! and one writer task per connection, the timer, and closing.
//!
//! The application owns the loop, so that it can wait on its own things too (a PBX's timers,
//! upstream connections, signals): it awaits [`Endpoint::next`] beside them in a `select!`,
//! then applies the core's drain rule: [`poll_event`](Endpoint::poll_event) until `None`
//! (answering [`ServerEvent::ActionReceived`]), then [`flush`](Endpoint::flush).
//!
//! ```no_run
//! use ami_proto::config::{ConfigOptions, NoIncludes, parse_manager_conf};
//! use ami_proto::encode::Response;
//! use ami_proto::server::{Server, ServerEvent, ServerOptions};
//! use ami_tokio::server::{Activity, Endpoint};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let conf = "[general]\nenabled = yes\n[admin]\nsecret = s3cret\nread = all\nwrite = all\n";
//! let config = parse_manager_conf(conf, &mut NoIncludes, &ConfigOptions::default())?;
//! let server = Server::new(config, ServerOptions::default(), ami_tokio::random::challenge_source());
//! let mut endpoint = Endpoint::new(server);
//! endpoint.listen(tokio::net::TcpListener::bind("127.0.0.1:5038").await?, None);
//! loop {
//!     if let Activity::Accepted { peer, .. } = endpoint.next().await {
//!         eprintln!("{peer} connected");
//!     }
//!     while let Some((session, event)) = endpoint.poll_event() {
//!         if let ServerEvent::ActionReceived { action } = event {
//!             let reply = Response::new("Success").with("Value", "42");
//!             endpoint.server_mut().respond(session, &action, &reply)?;
//!         }
//!     }
//!     endpoint.flush();
//! }
//! # }
//! ```
//!
//! Each connection has a reader task (bytes in, over a bounded channel, to the task that owns
//! the `Server`) and a writer task with one chunk in flight. A client that stops reading
//! leaves its bytes in the core's bounded per-session queue (where the core drops events for
//! it and reports [`ServerEvent::SlowConsumer`]); it never blocks the owner or other clients.

mod conns;

use std::net::SocketAddr;
use std::time::Duration;

use ami_proto::server::{Refused, Server, ServerEvent, SessionId};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::clock::{self, now};
use conns::{Conns, Input};

/// How long a TLS client may take for its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most inputs handed to the core in one round of [`Endpoint::next`].
const INPUT_BATCH: usize = 64;
/// The pause after a failed accept (out of file descriptors, ...), so as not to spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// What [`Endpoint::next`] did.
#[derive(Debug)]
#[non_exhaustive]
pub enum Activity {
    /// A connection was accepted (the banner is queued).
    Accepted {
        /// Its session.
        session: SessionId,
        /// The client's address.
        peer: SocketAddr,
        /// Over TLS.
        tls: bool,
    },
    /// The core refused a connection (`authlimit`); it was closed.
    Refused {
        /// The client's address.
        peer: SocketAddr,
        /// Why.
        reason: Refused,
    },
    /// Accepting failed (e.g. the process is out of file descriptors); the endpoint waited
    /// a moment before trying again.
    AcceptFailed {
        /// The error.
        error: std::io::Error,
    },
    /// A TLS handshake failed or timed out; the connection was closed.
    TlsFailed {
        /// The client's address.
        peer: SocketAddr,
        /// What went wrong.
        error: String,
    },
    /// Bytes, an end of input, a written chunk or the timer were handed to the core.
    Progress,
}

struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
}

/// Sees every chunk of bytes a client sends, before the core does.
pub type InputTap = Box<dyn FnMut(SessionId, SocketAddr, &[u8]) + Send>;

/// The I/O side of a [`Server`]: see the [module documentation](self).
pub struct Endpoint {
    server: Server,
    conns: Conns,
    tap: Option<InputTap>,
    inputs: mpsc::Receiver<Input>,
    listeners: Vec<Listener>,
    handshakes_tx: mpsc::Sender<(Result<TlsStream<TcpStream>, String>, SocketAddr)>,
    handshakes: mpsc::Receiver<(Result<TlsStream<TcpStream>, String>, SocketAddr)>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("sessions", &self.server.session_count())
            .field("listeners", &self.local_addrs())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint around `server`, with no listener yet.
    pub fn new(server: Server) -> Endpoint {
        let (input_tx, inputs) = mpsc::channel(1024);
        let (handshakes_tx, handshakes) = mpsc::channel(64);
        Endpoint {
            server,
            conns: Conns::new(input_tx),
            tap: None,
            inputs,
            listeners: Vec::new(),
            handshakes_tx,
            handshakes,
        }
    }

    /// Accepts connections from `listener`, over TLS if `tls` is given.
    pub fn listen(&mut self, listener: TcpListener, tls: Option<TlsAcceptor>) {
        self.listeners.push(Listener { tcp: listener, tls });
    }

    /// The addresses listened on (TLS ones included), in the order given.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.iter().filter_map(|l| l.tcp.local_addr().ok()).collect()
    }

    /// Shows every chunk of bytes a client sends to `tap` before the core sees it (a recorder,
    /// a capture for debugging).
    pub fn set_input_tap(&mut self, tap: InputTap) {
        self.tap = Some(tap);
    }

    /// Stops accepting connections (sessions go on).
    pub fn stop_listening(&mut self) {
        self.listeners.clear();
    }

    /// The core server.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The core server, to answer actions, publish events, reconfigure.
    pub fn server_mut(&mut self) -> &mut Server {
        &mut self.server
    }

    /// Waits for the next thing to happen (a connection, bytes, a written chunk, the core's
    /// timer) and hands it to the core. Cancel-safe: use it in `select!` beside other work.
    pub async fn next(&mut self) -> Activity {
        let timer = clock::sleep_until(self.server.poll_timeout());
        let accept = accept_any(&self.listeners);
        tokio::select! {
            accepted = accept => {
                let (stream, peer, tls) = match accepted {
                    Ok(a) => a,
                    Err(error) => {
                        tokio::time::sleep(ACCEPT_RETRY).await;
                        return Activity::AcceptFailed { error };
                    }
                };
                let _ = stream.set_nodelay(true);
                match tls {
                    None => self.admit(stream, peer, false),
                    Some(acceptor) => {
                        // The handshake runs on its own task: a stalled client cannot hold
                        // up the server.
                        let tx = self.handshakes_tx.clone();
                        tokio::spawn(async move {
                            let result = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                                Ok(Ok(s)) => Ok(s),
                                Ok(Err(e)) => Err(e.to_string()),
                                Err(_) => Err(format!("no handshake within {} s", HANDSHAKE_TIMEOUT.as_secs())),
                            };
                            let _ = tx.send((result, peer)).await;
                        });
                        Activity::Progress
                    }
                }
            }
            Some((result, peer)) = self.handshakes.recv() => match result {
                Ok(stream) => self.admit(stream, peer, true),
                Err(error) => Activity::TlsFailed { peer, error },
            },
            Some(input) = self.inputs.recv() => {
                self.input(input);
                // Whatever else is already waiting, in the same round: the caller drains and
                // flushes once for all of it.
                for _ in 0..INPUT_BATCH {
                    match self.inputs.try_recv() {
                        Ok(input) => self.input(input),
                        Err(_) => break,
                    }
                }
                Activity::Progress
            }
            () = timer => {
                self.server.handle_timeout(now());
                Activity::Progress
            }
        }
    }

    fn input(&mut self, input: Input) {
        if let (Some(tap), Input::Data(sid, data)) = (&mut self.tap, &input)
            && let Some(peer) = self.conns.peer(*sid)
        {
            tap(*sid, peer, data);
        }
        self.conns.handle(&mut self.server, input);
    }

    /// Admits a connection made elsewhere (any stream: TCP, TLS, in-memory) through the
    /// core.
    pub fn admit<S>(&mut self, stream: S, peer: SocketAddr, tls: bool) -> Activity
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        match self.conns.accept(&mut self.server, stream, peer) {
            Ok(session) => Activity::Accepted { session, peer, tls },
            Err(reason) => Activity::Refused { peer, reason },
        }
    }

    /// The next thing the core reports (the drain rule: call until `None`). The endpoint
    /// keeps its own books first: the user of [`LoggedIn`](ServerEvent::LoggedIn) is
    /// remembered ([`user`](Endpoint::user)), and a [`Disconnect`](ServerEvent::Disconnect)ed
    /// session is closed once its queued bytes are sent.
    pub fn poll_event(&mut self) -> Option<(SessionId, ServerEvent)> {
        let (sid, event) = self.server.poll_event()?;
        match &event {
            ServerEvent::LoggedIn { username } => {
                self.conns.set_user(sid, String::from_utf8_lossy(username).into_owned());
            }
            ServerEvent::Disconnect { .. } => self.conns.close_after_flush(sid),
            _ => {}
        }
        Some((sid, event))
    }

    /// Hands each connection's queued bytes to its writer and closes the connections that
    /// are done; returns the sessions closed (and removed from the core).
    pub fn flush(&mut self) -> Vec<SessionId> {
        self.conns.flush(&mut self.server)
    }

    /// Closes a connection now, dropping what is queued for it (a client too slow to keep
    /// up), and removes its session.
    pub fn close_now(&mut self, session: SessionId) {
        self.conns.close_now(&mut self.server, session);
    }

    /// Closes a connection once what is queued for it has been sent.
    pub fn close_after_flush(&mut self, session: SessionId) {
        self.conns.close_after_flush(session);
    }

    /// The client's address.
    pub fn peer(&self, session: SessionId) -> Option<SocketAddr> {
        self.conns.peer(session)
    }

    /// The user the session logged in as.
    pub fn user(&self, session: SessionId) -> Option<&str> {
        self.conns.user(session)
    }

    /// The sessions with an open connection.
    pub fn sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.conns.sessions()
    }

    /// Connections still open.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }
}

/// The next connection from any listener (never, without listeners).
async fn accept_any(
    listeners: &[Listener],
) -> std::io::Result<(TcpStream, SocketAddr, Option<TlsAcceptor>)> {
    if listeners.is_empty() {
        return std::future::pending().await;
    }
    std::future::poll_fn(|cx| {
        for l in listeners {
            if let std::task::Poll::Ready(r) = l.tcp.poll_accept(cx) {
                return std::task::Poll::Ready(
                    r.map(|(stream, peer)| (stream, peer, l.tls.clone())),
                );
            }
        }
        std::task::Poll::Pending
    })
    .await
}
