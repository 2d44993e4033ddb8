//! The AMI server: many sessions, sans-IO, with Asterisk 22's exact bytes.
//!
//! A [`Server`] is an endpoint over every connection of one listener (like quinn's
//! `Endpoint`), because `authlimit`, `allowmultiplelogin` and event fan-out span sessions. It
//! does no I/O and reads no clock: the caller accepts connections, feeds their bytes, passes
//! the time, and sends what the server queues.
//!
//! # The run loop
//!
//! After every call that takes input or a command ([`accept`](Server::accept),
//! [`handle_input`](Server::handle_input), [`handle_eof`](Server::handle_eof),
//! [`handle_timeout`](Server::handle_timeout), [`publish`](Server::publish), the answering
//! calls, [`consume_transmit`](Server::consume_transmit)):
//!
//! 1. drain [`poll_event`](Server::poll_event) until it returns `None` (answer
//!    [`ServerEvent::ActionReceived`]; on [`ServerEvent::Disconnect`] flush, close and
//!    [`remove`](Server::remove) the session);
//! 2. send every session's [`poll_transmit`](Server::poll_transmit) bytes and report them with
//!    [`consume_transmit`](Server::consume_transmit);
//! 3. re-arm the timer from [`poll_timeout`](Server::poll_timeout) and call
//!    [`handle_timeout`](Server::handle_timeout) when it fires.
//!
//! Calls without a `now` parameter use the latest time given to any call.
//!
//! # What the server answers itself (spec §3, §4, §8)
//!
//! For every complete message, in Asterisk's order (`process_message`, spec §3.1):
//!
//! 1. no non-empty `Action` → `Missing action in request` (+ RequestBadFormat, `Action: NONE`),
//!    also before login; a framing error → `Failed to parse message: line too long` or
//!    `Too many lines in message or allocation failure` (spec §1.5, §1.7);
//! 2. [shutting down](Server::set_shutting_down) → `Asterisk is shutting down`;
//! 3. not logged in and not `Login`/`Logoff`/`Challenge` (any case) → `Permission denied`
//!    (+ RequestNotAllowed), even for unknown actions; the session stays open;
//! 4. `Login`/`Challenge` with a `Username` already logged in on another session whose user has
//!    `allowmultiplelogin = no` → SessionLimit, the login failure delay, `Login Already In Use`,
//!    disconnect;
//! 5. an action that is not registered ([`ServerOptions::actions`]) → `Invalid/unknown command:
//!    <action>. Use Action: ListCommands to show available commands.` (+ RequestBadFormat); one
//!    whose authority shares no class with the user's `write` → `Permission denied`
//!    (+ RequestNotAllowed).
//!
//! Then Login (plain and MD5, ACL, `Events:`; after a failure the reply waits for the login
//! failure delay and the session is closed; after a success FullyBooted is written directly),
//! Challenge, Logoff, Events (with `brokeneventsaction`), Filter, Ping, ListCommands and
//! WaitEvent are answered by the server. The escalation checks of §4.7 refuse Originate,
//! Getvar, Status and Command requests the user may not make. Every other action goes to the
//! application as [`ServerEvent::ActionReceived`].
//!
//! Responses echo the request's first `ActionID` if it is non-empty, right after the
//! `Response:` line (spec §2.5). Like Asterisk, a session handles one request at a time: while
//! an action is with the application the session's later input stays buffered and events
//! published to it are held and written after the response (re-checked against its event mask
//! and filters then), so responses come in request order even when the client pipelines.
//!
//! # Events
//!
//! [`publish`](Server::publish) renders an event once (`Event:`, `Privilege:`, `Timestamp:` with
//! `timestampevents`, `SystemName:`, body) and copies it to every logged-in session whose event
//! mask contains **all** bits of its category and whose filters pass it (spec §4.5, §5.4);
//! `disabledevents` suppresses it. Security events (§3.7) are published the same way and
//! reported as [`ServerEvent::Security`].
//!
//! Every buffer is bounded: a session's outbound queue by [`ServerOptions::max_outbound`]
//! (events are dropped for a slow consumer, never blocking others; a session that does not
//! read a list answer is closed, as Asterisk closes one whose write exceeds `writetimeout`:
//! [`DisconnectReason::OutputOverflow`]), its unprocessed input by
//! [`ServerOptions::max_inbound`], one message by the decoder's limits.
//!
//! # Example
//!
//! ```
//! use ami_proto::config::{parse_manager_conf, ConfigOptions, NoIncludes};
//! use ami_proto::server::{Server, ServerEvent, ServerOptions};
//! use ami_proto::time::Instant;
//!
//! let conf = "[general]\nenabled = yes\n[admin]\nsecret = s3cret\nread = all\nwrite = all\n";
//! let config = parse_manager_conf(conf, &mut NoIncludes, &ConfigOptions::default()).unwrap();
//! let mut server = Server::new(config, ServerOptions::default(), Box::new(|| 4u32));
//!
//! let now = Instant::from_millis(0);
//! let id = server.accept("127.0.0.1:40000".parse().unwrap(), now).unwrap();
//! assert_eq!(server.poll_transmit(id), b"Asterisk Call Manager/11.0.0\r\n");
//! let n = server.poll_transmit(id).len();
//! server.consume_transmit(id, n);
//!
//! server.handle_input(id, b"Action: Login\r\nUsername: admin\r\nSecret: s3cret\r\nEvents: off\r\n\r\n", now);
//! assert_eq!(server.poll_transmit(id), b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n");
//! server.consume_transmit(id, 55);
//!
//! // An action the application handles.
//! server.handle_input(id, b"Action: Getvar\r\nActionID: 7\r\nVariable: X\r\n\r\n", now);
//! while let Some((sid, event)) = server.poll_event() {
//!     if let ServerEvent::ActionReceived { action } = event {
//!         assert_eq!(action.name(), "Getvar");
//!         let reply = ami_proto::encode::Response::new("Success")
//!             .with("Variable", "X")
//!             .with("Value", "42");
//!         server.respond(sid, &action, &reply).unwrap();
//!     }
//! }
//! assert_eq!(
//!     server.poll_transmit(id),
//!     b"Response: Success\r\nActionID: 7\r\nVariable: X\r\nValue: 42\r\n\r\n"
//! );
//! ```

mod event;
#[cfg(test)]
mod gateway_tests;
mod options;
mod reload;
#[cfg(test)]
mod tests;

use core::fmt;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::auth::{
    Challenge, LoginAttempt, LoginFailure, SecurityEventKind, UserCredentials, authenticate,
    is_md5_auth_type,
};
use crate::authority::{self, ActionInfo};
use crate::config::ManagerConfig;
use crate::encode::{self, EncodeError};
use crate::filter::{CEvent, EventFilter, FilterSet, Verdicts};
use crate::frame::{Decoder, Frame, FrameErrorKind, Role};
use crate::message::{Message, OwnedMessage};
use crate::perm::{EventMask, Privilege, may_receive, may_run, parse_event_mask};
use crate::scan::scan_int;
use crate::time::{Duration, Instant};

pub use event::{DisconnectReason, PublishedEvent, SecurityDetails, SecurityEvent, ServerEvent};
pub use options::{CAPTURE_MODULES, RandomSource, ServerOptions, Transport, UnregisteredActions};
pub use reload::ReloadReport;

/// Longest user name a session keeps (`char username[80]`).
const MAX_USERNAME: usize = 79;
/// `char request_type[64]` of the Request* security events.
const MAX_REQUEST_TYPE: usize = 63;
/// `char buf[512]` of the unknown-command message.
const MAX_UNKNOWN_MESSAGE: usize = 511;
/// `char id_text[256]` of Events and WaitEvent.
const MAX_ID_TEXT: usize = 255;
/// The [`ActionInfo`] of an unregistered action handed on with
/// [`UnregisteredActions::ForWriteAll`]: no name, every class.
static UNREGISTERED: ActionInfo =
    ActionInfo { name: "", authority: Privilege::ALL, synopsis: "", module: "" };

/// Identifies one session of a [`Server`]. Never reused by the same server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(u64);

impl SessionId {
    /// The number behind the id (1 for the first accepted connection, then counting up).
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session {}", self.0)
    }
}

/// A connection [`Server::accept`] refused: close it without sending anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refused {
    /// `authlimit` unauthenticated sessions are already open (spec §1.2).
    AuthLimit {
        /// The configured `authlimit`.
        limit: u32,
    },
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::AuthLimit { limit } => {
                write!(f, "{limit} unauthenticated sessions already open (authlimit)")
            }
        }
    }
}

impl std::error::Error for Refused {}

/// Why an answering call ([`Server::respond`] and friends) was refused; nothing was written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerError {
    /// No such session (never existed, disconnected or removed).
    UnknownSession(SessionId),
    /// The action is not the one the session is waiting to have answered (already answered,
    /// or it belongs to another session).
    NotPending,
    /// A name or value would break the message (CR, LF, NUL, colon in a name ...).
    Encode(EncodeError),
    /// The session's outbound queue was full when a part of an answer that does not end it
    /// ([`Server::list_start`], [`Server::list_item`], [`Server::write_raw`]) was to be
    /// queued: its client does not read. As Asterisk does when a write exceeds its
    /// `writetimeout`, the server has closed the session
    /// ([`ServerEvent::Disconnect`] with [`DisconnectReason::OutputOverflow`]) and ended the
    /// action, so it cannot be left half-answered: stop producing the answer. Later calls for
    /// the action fail with [`ServerError::UnknownSession`].
    OutboundFull {
        /// Bytes queued.
        queued: usize,
    },
    /// [`Server::respond_raw`] bytes must be empty or end with an empty line (`\r\n\r\n`).
    IncompleteMessage,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::UnknownSession(id) => write!(f, "no such session: {id}"),
            ServerError::NotPending => f.write_str("this action is not waiting for an answer"),
            ServerError::Encode(e) => write!(f, "cannot encode the answer: {e}"),
            ServerError::OutboundFull { queued } => {
                write!(f, "outbound queue full ({queued} bytes queued)")
            }
            ServerError::IncompleteMessage => {
                f.write_str("raw answer does not end with an empty line")
            }
        }
    }
}

impl std::error::Error for ServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServerError::Encode(e) => Some(e),
            _ => None,
        }
    }
}

impl From<EncodeError> for ServerError {
    fn from(e: EncodeError) -> ServerError {
        ServerError::Encode(e)
    }
}

/// An action handed to the application ([`ServerEvent::ActionReceived`]): a copy of the
/// request and what is needed to answer it.
#[derive(Clone, Debug)]
pub struct ActionRef {
    session: SessionId,
    seq: u64,
    info: &'static ActionInfo,
    message: OwnedMessage,
    echo: Option<Vec<u8>>,
}

impl ActionRef {
    /// The session that sent it.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// The registered action (canonical name, authority, synopsis, module).
    pub fn info(&self) -> &'static ActionInfo {
        self.info
    }

    /// The canonical action name (`Getvar` for `Action: GETVAR`); empty for an unregistered
    /// action handed on by [`UnregisteredActions::ForWriteAll`] (see
    /// [`requested_name`](Self::requested_name)).
    pub fn name(&self) -> &'static str {
        self.info.name
    }

    /// The action's name as the client wrote it (the `Action` header's value).
    pub fn requested_name(&self) -> &[u8] {
        self.message.get("Action").unwrap_or_default()
    }

    /// Whether the action is one of the server's registered actions.
    pub fn is_registered(&self) -> bool {
        !self.info.name.is_empty()
    }

    /// The request, with Asterisk's value rule (leading blanks skipped, trailing kept).
    pub fn message(&self) -> Message<'_> {
        self.message.as_message()
    }

    /// The first header called `name` (case-insensitive), even if empty.
    pub fn get(&self, name: impl AsRef<[u8]>) -> Option<&[u8]> {
        self.message.get(name)
    }

    /// The ActionID the answer echoes: the first `ActionID` value, if non-empty.
    pub fn action_id(&self) -> Option<&[u8]> {
        self.echo.as_deref()
    }

    /// The request as an owned message.
    pub fn owned_message(&self) -> &OwnedMessage {
        &self.message
    }
}

/// What a session did, counted since it was accepted ([`SessionInfo::counts`]): what a
/// gateway exports as metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SessionCounts {
    /// Requests that passed the checks (answered by the server or handed to the application).
    pub actions_allowed: u64,
    /// Requests refused: `Permission denied` (write classes, before login) and the
    /// escalation checks of spec §4.7.
    pub actions_refused: u64,
    /// Events written to the session.
    pub events_delivered: u64,
    /// Events dropped because the session's outbound queue was full.
    pub events_dropped: u64,
}

/// A snapshot of a session's state ([`Server::session_info`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether Login succeeded.
    pub authenticated: bool,
    /// The user name as typed at login (empty before).
    pub username: Vec<u8>,
    /// The user's `read` classes (none before login).
    pub read: Privilege,
    /// The user's `write` classes (none before login).
    pub write: Privilege,
    /// The classes of events currently sent (`read` narrowed by `Events`).
    pub send_events: Privilege,
    /// Bytes queued for sending.
    pub queued: usize,
    /// What it did so far.
    pub counts: SessionCounts,
}

/// An event held for a busy session, re-checked when written.
#[derive(Clone, Debug)]
struct Held {
    text: Arc<[u8]>,
    name_len: usize,
    category: Privilege,
}

impl Held {
    fn name(&self) -> &[u8] {
        self.text.get(7..7 + self.name_len).unwrap_or_default()
    }
}

/// What a session is waiting for.
#[derive(Clone, Debug)]
enum Busy {
    /// Ready for the next request.
    Idle,
    /// An action is with the application.
    App { seq: u64, suppress_events: bool },
    /// A failed or refused login: `reply` is written at `until`, then the session ends.
    Delay { until: Instant, reply: Vec<u8>, reason: DisconnectReason },
    /// WaitEvent: until an event, input, or the deadline.
    WaitEvent { deadline: Option<Instant>, echo: Option<Vec<u8>>, id_text: Vec<u8> },
}

#[derive(Debug)]
struct Session {
    peer: SocketAddr,
    accepted_at: Instant,
    decoder: Decoder,
    out: Vec<u8>,
    sent: usize,
    authenticated: bool,
    username: Vec<u8>,
    read: Privilege,
    write: Privilege,
    send_events: Privilege,
    filters: FilterSet,
    /// The filters added with the Filter action (kept across a reload).
    session_filters: Vec<EventFilter>,
    challenge: Option<Challenge>,
    login_at: Option<Instant>,
    busy: Busy,
    processing: bool,
    held: Vec<Held>,
    held_bytes: usize,
    slow: bool,
    eof: bool,
    closed: bool,
    seq: u64,
    counts: SessionCounts,
}

impl Session {
    fn queued(&self) -> usize {
        self.out.len() - self.sent
    }

    fn is_idle(&self) -> bool {
        matches!(self.busy, Busy::Idle)
    }

    /// Whether published events must be held instead of written.
    fn holds(&self) -> bool {
        self.processing || !self.is_idle()
    }

    fn may_receive(&self, category: Privilege) -> bool {
        self.authenticated && !self.closed && may_receive(self.send_events, category)
    }
}

/// Writes one event to a session if its queue has room; otherwise drops it and reports a
/// slow consumer once.
fn deliver(
    s: &mut Session,
    sid: u64,
    text: &[u8],
    max_outbound: usize,
    events: &mut VecDeque<(SessionId, ServerEvent)>,
) -> bool {
    if s.slow {
        s.counts.events_dropped += 1;
        return false;
    }
    if s.queued() + s.held_bytes + text.len() > max_outbound {
        s.slow = true;
        s.counts.events_dropped += 1;
        events.push_back((SessionId(sid), ServerEvent::SlowConsumer { queued: s.queued() }));
        return false;
    }
    s.out.extend_from_slice(text);
    s.counts.events_delivered += 1;
    true
}

/// `Response: <status>\r\n[ActionID: <id>\r\n]`.
fn response_head(out: &mut Vec<u8>, status: &[u8], echo: Option<&[u8]>) {
    out.extend_from_slice(b"Response: ");
    out.extend_from_slice(status);
    out.extend_from_slice(b"\r\n");
    if let Some(id) = echo {
        out.extend_from_slice(b"ActionID: ");
        out.extend_from_slice(id);
        out.extend_from_slice(b"\r\n");
    }
}

/// `astman_send_response_full` with a message.
fn simple_response(out: &mut Vec<u8>, status: &[u8], echo: Option<&[u8]>, message: &[u8]) {
    response_head(out, status, echo);
    out.extend_from_slice(b"Message: ");
    out.extend_from_slice(message);
    out.extend_from_slice(b"\r\n\r\n");
}

/// `snprintf(id_text, 256, "ActionID: %s\r\n", id)`: cut at 255 bytes, CRLF included (so a
/// long ActionID loses its line end, spec §2.5).
fn id_text(echo: Option<&[u8]>) -> Vec<u8> {
    let Some(id) = echo else { return Vec::new() };
    let mut t = Vec::with_capacity(id.len() + 12);
    t.extend_from_slice(b"ActionID: ");
    t.extend_from_slice(id);
    t.extend_from_slice(b"\r\n");
    t.truncate(MAX_ID_TEXT);
    t
}

/// One unit of client input.
enum Input {
    Message(OwnedMessage),
    Malformed { kind: FrameErrorKind, echo: Option<Vec<u8>> },
}

/// The AMI server: every session of one listener. See the [module documentation](self).
pub struct Server {
    config: ManagerConfig,
    options: ServerOptions,
    registry: Vec<&'static ActionInfo>,
    rng: Box<dyn RandomSource>,
    sessions: HashMap<u64, Session>,
    next_id: u64,
    unauthenticated: u32,
    events: VecDeque<(SessionId, ServerEvent)>,
    now: Instant,
    shutting_down: bool,
    local: SocketAddr,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("sessions", &self.sessions.len())
            .field("unauthenticated", &self.unauthenticated)
            .field("pending_events", &self.events.len())
            .field("now", &self.now)
            .field("shutting_down", &self.shutting_down)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server for the users and `[general]` settings of `config`. `rng` supplies the MD5
    /// challenges.
    pub fn new(
        config: ManagerConfig,
        options: ServerOptions,
        rng: Box<dyn RandomSource>,
    ) -> Server {
        let mut registry: Vec<&'static ActionInfo> = Vec::with_capacity(options.actions.len());
        for info in &options.actions {
            if !registry.iter().any(|r| r.name.eq_ignore_ascii_case(info.name)) {
                registry.push(info);
            }
        }
        // Asterisk keeps its action list sorted with strcasecmp: the ListCommands order.
        registry.sort_by(|a, b| {
            a.name
                .bytes()
                .map(|c| c.to_ascii_lowercase())
                .cmp(b.name.bytes().map(|c| c.to_ascii_lowercase()))
        });
        let local = options
            .local_address
            .unwrap_or(SocketAddr::new(config.general.bind_addr, config.general.port));
        let shutting_down = options.shutting_down;
        Server {
            config,
            options,
            registry,
            rng,
            sessions: HashMap::new(),
            next_id: 1,
            unauthenticated: 0,
            events: VecDeque::new(),
            now: Instant::from_millis(0),
            shutting_down,
            local,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &ManagerConfig {
        &self.config
    }

    /// The registered actions, in ListCommands order.
    pub fn actions(&self) -> &[&'static ActionInfo] {
        &self.registry
    }

    /// Enters or leaves the "shutting down" state, in which every request gets
    /// `Asterisk is shutting down` (spec §3.1 step 2).
    pub fn set_shutting_down(&mut self, shutting_down: bool) {
        self.shutting_down = shutting_down;
    }

    /// Number of sessions (not yet removed).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Number of open sessions that have not logged in (what `authlimit` counts).
    pub fn unauthenticated_count(&self) -> u32 {
        self.unauthenticated
    }

    /// A snapshot of a session's state.
    pub fn session_info(&self, id: SessionId) -> Option<SessionInfo> {
        self.sessions.get(&id.0).map(|s| SessionInfo {
            peer: s.peer,
            authenticated: s.authenticated,
            username: s.username.clone(),
            read: s.read,
            write: s.write,
            send_events: s.send_events,
            queued: s.queued(),
            counts: s.counts,
        })
    }

    fn tick(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn unix_ms(&self, at: Instant) -> i64 {
        i64::try_from(at.as_millis())
            .unwrap_or(i64::MAX)
            .saturating_add(self.options.unix_offset_ms)
    }

    // -----------------------------------------------------------------------------------------
    // Connections
    // -----------------------------------------------------------------------------------------

    /// A new connection from `peer`. Refused (close it without sending anything) when
    /// `authlimit` unauthenticated sessions are open; otherwise the banner is queued.
    pub fn accept(&mut self, peer: SocketAddr, now: Instant) -> Result<SessionId, Refused> {
        self.tick(now);
        let limit = self.config.general.auth_limit;
        if self.unauthenticated >= limit {
            return Err(Refused::AuthLimit { limit });
        }
        self.unauthenticated += 1;
        let id = self.next_id;
        self.next_id += 1;
        let decoder = Decoder::with_limits(Role::Server, self.options.decoder_limits)
            .unwrap_or_else(|_| Decoder::new(Role::Server));
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(b"Asterisk Call Manager/");
        out.extend_from_slice(self.options.ami_version.as_bytes());
        out.extend_from_slice(b"\r\n");
        self.sessions.insert(
            id,
            Session {
                peer,
                accepted_at: now,
                decoder,
                out,
                sent: 0,
                authenticated: false,
                username: Vec::new(),
                read: Privilege::NONE,
                write: Privilege::NONE,
                send_events: Privilege::NONE,
                filters: FilterSet::default(),
                session_filters: Vec::new(),
                challenge: None,
                login_at: None,
                busy: Busy::Idle,
                processing: false,
                held: Vec::new(),
                held_bytes: 0,
                slow: false,
                eof: false,
                closed: false,
                seq: 0,
                counts: SessionCounts::default(),
            },
        );
        Ok(SessionId(id))
    }

    /// Bytes received from the session's client.
    pub fn handle_input(&mut self, id: SessionId, data: &[u8], now: Instant) {
        self.tick(now);
        let Some(s) = self.sessions.get_mut(&id.0) else { return };
        if s.closed || s.eof {
            return;
        }
        s.decoder.feed(data);
        if !data.is_empty() && matches!(s.busy, Busy::WaitEvent { .. }) {
            self.finish_wait_event(id.0);
        }
        self.drive(id.0);
        self.check_inbound(id.0);
    }

    /// The client closed its side of the connection. Complete requests received before are
    /// still answered (a partial one is discarded, spec §1.6); then the session is
    /// disconnected.
    pub fn handle_eof(&mut self, id: SessionId, now: Instant) {
        self.tick(now);
        let Some(s) = self.sessions.get_mut(&id.0) else { return };
        if s.closed {
            return;
        }
        s.eof = true;
        if matches!(s.busy, Busy::WaitEvent { .. }) {
            self.finish_wait_event(id.0);
        }
        self.drive(id.0);
    }

    /// Fires the timers that are due at `now`: delayed login failures, `authtimeout`, WaitEvent.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        let auth_timeout = Duration::from_secs(u64::from(self.config.general.auth_timeout));
        let mut due: Vec<(u64, u8)> = Vec::new();
        for (&sid, s) in &self.sessions {
            if s.closed {
                continue;
            }
            match &s.busy {
                Busy::Delay { until, .. } if *until <= now => due.push((sid, 0)),
                Busy::WaitEvent { deadline: Some(d), .. } if *d <= now => due.push((sid, 1)),
                Busy::Delay { .. } => {}
                _ if !s.authenticated && s.accepted_at + auth_timeout <= now => {
                    due.push((sid, 2));
                }
                _ => {}
            }
        }
        due.sort_unstable();
        for (sid, what) in due {
            match what {
                0 => self.finish_delay(sid),
                1 => self.finish_wait_event(sid),
                _ => self.close(sid, DisconnectReason::AuthTimeout),
            }
        }
    }

    /// When [`handle_timeout`](Server::handle_timeout) must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let auth_timeout = Duration::from_secs(u64::from(self.config.general.auth_timeout));
        self.sessions
            .values()
            .filter(|s| !s.closed)
            .filter_map(|s| match &s.busy {
                Busy::Delay { until, .. } => Some(*until),
                Busy::WaitEvent { deadline, .. } => *deadline,
                _ if !s.authenticated => Some(s.accepted_at + auth_timeout),
                _ => None,
            })
            .min()
    }

    /// Forgets a session (after [`ServerEvent::Disconnect`], or when the connection broke).
    /// Returns false if there was no such session.
    pub fn remove(&mut self, id: SessionId) -> bool {
        match self.sessions.remove(&id.0) {
            Some(s) => {
                if !s.closed && !s.authenticated {
                    self.unauthenticated = self.unauthenticated.saturating_sub(1);
                }
                true
            }
            None => false,
        }
    }

    /// The next thing the application must know or do.
    pub fn poll_event(&mut self) -> Option<(SessionId, ServerEvent)> {
        self.events.pop_front()
    }

    /// The bytes queued for the session's client (empty for an unknown session).
    pub fn poll_transmit(&self, id: SessionId) -> &[u8] {
        self.sessions.get(&id.0).and_then(|s| s.out.get(s.sent..)).unwrap_or_default()
    }

    /// `n` bytes of [`poll_transmit`](Server::poll_transmit) were sent. A session that was
    /// waiting for room resumes processing its requests.
    pub fn consume_transmit(&mut self, id: SessionId, n: usize) {
        let Some(s) = self.sessions.get_mut(&id.0) else { return };
        s.sent = s.sent.saturating_add(n).min(s.out.len());
        if s.sent == s.out.len() {
            s.out.clear();
            s.sent = 0;
            s.slow = false;
        } else if s.sent >= 4096 && s.sent * 2 >= s.out.len() {
            s.out.drain(..s.sent);
            s.sent = 0;
        }
        if !s.closed && s.is_idle() && !s.processing {
            self.drive(id.0);
        }
    }

    /// Whether the caller should keep reading the session's socket: false while it waits for
    /// the application, a timer or its outbound queue (what Asterisk's thread does by not
    /// reading), and once it is over.
    pub fn wants_input(&self, id: SessionId) -> bool {
        self.sessions.get(&id.0).is_some_and(|s| {
            !s.closed
                && !s.eof
                && (s.is_idle() || matches!(s.busy, Busy::WaitEvent { .. }))
                && s.queued() < self.options.max_outbound
        })
    }

    /// Ends a session: discards held events, reports [`ServerEvent::Disconnect`].
    fn close(&mut self, sid: u64, reason: DisconnectReason) {
        let Some(s) = self.sessions.get_mut(&sid) else { return };
        if s.closed {
            return;
        }
        s.closed = true;
        s.busy = Busy::Idle;
        s.held.clear();
        s.held_bytes = 0;
        if !s.authenticated {
            self.unauthenticated = self.unauthenticated.saturating_sub(1);
        }
        self.events.push_back((SessionId(sid), ServerEvent::Disconnect { reason }));
    }

    fn check_inbound(&mut self, sid: u64) {
        let max = self.options.max_inbound;
        if self.sessions.get(&sid).is_some_and(|s| !s.closed && s.decoder.buffered() > max) {
            self.close(sid, DisconnectReason::InputOverflow);
        }
    }

    /// Processes buffered requests while the session is free to.
    fn drive(&mut self, sid: u64) {
        loop {
            let max_outbound = self.options.max_outbound;
            let Some(s) = self.sessions.get_mut(&sid) else { return };
            if s.closed || !s.is_idle() || s.processing || s.queued() >= max_outbound {
                return;
            }
            let input = match s.decoder.next_frame() {
                None => {
                    // Idle and nothing complete to read: Asterisk writes pending events here.
                    self.flush_held(sid);
                    if self.sessions.get(&sid).is_some_and(|s| s.eof) {
                        self.close(sid, DisconnectReason::PeerClosed);
                    }
                    return;
                }
                Some(Ok(Frame::Message(m))) => Input::Message(m.to_owned_message()),
                Some(Ok(Frame::Banner(_))) => continue,
                Some(Err(e)) => Input::Malformed {
                    kind: e.kind(),
                    echo: e.partial().action_id_to_echo().map(<[u8]>::to_vec),
                },
            };
            s.processing = true;
            let flush = self.handle(sid, input);
            let Some(s) = self.sessions.get_mut(&sid) else { return };
            s.processing = false;
            if flush && s.is_idle() {
                self.flush_held(sid);
            }
        }
    }

    /// Writes the events held while the session was busy that still pass its event mask and
    /// filters (Asterisk checks both again when it writes, `process_events`). They were counted
    /// against the outbound bound when they were held.
    fn flush_held(&mut self, sid: u64) {
        let Some(s) = self.sessions.get_mut(&sid) else { return };
        if s.held.is_empty() {
            return;
        }
        let held = core::mem::take(&mut s.held);
        s.held_bytes = 0;
        for h in &held {
            if may_receive(s.send_events, h.category) && s.filters.should_send(h.name(), &h.text) {
                s.out.extend_from_slice(&h.text);
                s.counts.events_delivered += 1;
            }
        }
        if s.queued() == 0 {
            s.slow = false;
        }
    }

    // -----------------------------------------------------------------------------------------
    // Writing
    // -----------------------------------------------------------------------------------------

    fn out(&mut self, sid: u64) -> Option<&mut Vec<u8>> {
        self.sessions.get_mut(&sid).map(|s| &mut s.out)
    }

    fn reply(&mut self, sid: u64, status: &[u8], echo: Option<&[u8]>, message: &[u8]) {
        if let Some(out) = self.out(sid) {
            simple_response(out, status, echo, message);
        }
    }

    /// Counts a request that passed the checks, or one that was refused.
    fn count_action(&mut self, sid: u64, allowed: bool) {
        if let Some(s) = self.sessions.get_mut(&sid) {
            if allowed {
                s.counts.actions_allowed += 1;
            } else {
                s.counts.actions_refused += 1;
            }
        }
    }

    fn reply_error(&mut self, sid: u64, echo: Option<&[u8]>, message: &[u8]) {
        self.reply(sid, b"Error", echo, message);
    }

    // -----------------------------------------------------------------------------------------
    // Security events
    // -----------------------------------------------------------------------------------------

    fn security(
        &mut self,
        sid: u64,
        kind: SecurityEventKind,
        account_id: Vec<u8>,
        details: SecurityDetails,
    ) {
        let Some(s) = self.sessions.get(&sid) else { return };
        let event = SecurityEvent {
            kind,
            session: SessionId(sid),
            account_id,
            session_id: format!("{:#x}", 0x7f00_0000_0000u64.wrapping_add(sid.wrapping_mul(0x1d0))),
            local: self.local,
            remote: s.peer,
            transport: self.options.transport,
            event_time_ms: self.unix_ms(self.now),
            session_time_ms: s.login_at.map(|t| self.unix_ms(t)),
            details,
        };
        if event.is_publishable() {
            self.publish_bytes(kind.name().as_bytes(), Privilege::SECURITY, &event.body(), &|_| {
                true
            });
        }
        self.events.push_back((SessionId(sid), ServerEvent::Security(event)));
    }

    fn request_type(action: &[u8]) -> SecurityDetails {
        let mut t = b"Action: ".to_vec();
        t.extend_from_slice(action);
        t.truncate(MAX_REQUEST_TYPE);
        SecurityDetails::RequestType(t)
    }

    fn session_username(&self, sid: u64) -> Vec<u8> {
        self.sessions.get(&sid).map(|s| s.username.clone()).unwrap_or_default()
    }

    // -----------------------------------------------------------------------------------------
    // Publishing
    // -----------------------------------------------------------------------------------------

    /// Publishes an event to every logged-in session whose event mask contains all bits of its
    /// category and whose filters pass it (spec §4.5, §5). Returns the number of sessions
    /// that took it (written, or held behind an action in progress); 0 if `disabledevents`
    /// names it.
    pub fn publish(&mut self, event: &PublishedEvent) -> usize {
        self.publish_bytes(event.name(), event.category(), event.body(), &|_| true)
    }

    /// [`publish`](Server::publish) restricted to the sessions `to` accepts (e.g. the clients a
    /// proxy has bound to one upstream server). Returns the number of sessions that took it.
    pub fn publish_filtered(
        &mut self,
        event: &PublishedEvent,
        to: &dyn Fn(SessionId) -> bool,
    ) -> usize {
        self.publish_bytes(event.name(), event.category(), event.body(), &|sid| to(SessionId(sid)))
    }

    /// Publishes an event to one session only, under the same rules as
    /// [`publish`](Server::publish) (logged in, event mask, filters, `disabledevents`).
    /// Returns whether the session took it. For events that belong to one client, such as the
    /// `OriginateResponse` a proxy routes back to the session that originated the call.
    pub fn publish_to(&mut self, id: SessionId, event: &PublishedEvent) -> bool {
        self.publish_bytes(event.name(), event.category(), event.body(), &|sid| sid == id.0) > 0
    }

    // Generic over `only` so that the per-session test is inlined (`publish` passes one that
    // is always true).
    fn publish_bytes(
        &mut self,
        name: &[u8],
        category: Privilege,
        body: &[u8],
        only: &impl Fn(u64) -> bool,
    ) -> usize {
        if self.config.general.is_event_disabled(name) {
            return 0;
        }
        let mut text = Vec::with_capacity(name.len() + body.len() + 64);
        text.extend_from_slice(b"Event: ");
        text.extend_from_slice(name);
        text.extend_from_slice(b"\r\nPrivilege: ");
        text.extend_from_slice(category.to_string().as_bytes());
        text.extend_from_slice(b"\r\n");
        if self.config.general.timestamp_events {
            text.extend_from_slice(b"Timestamp: ");
            event::format_timestamp(self.unix_ms(self.now), &mut text);
            text.extend_from_slice(b"\r\n");
        }
        if let Some(system) = self.options.system_name.as_deref().filter(|s| !s.is_empty()) {
            text.extend_from_slice(b"SystemName: ");
            text.extend_from_slice(system.as_bytes());
            text.extend_from_slice(b"\r\n");
        }
        text.extend_from_slice(body);
        text.extend_from_slice(b"\r\n");

        let max_outbound = self.options.max_outbound;
        // Cut as C strings once for every session's filters.
        let c_event = CEvent::new(name, &text);
        let mut verdicts = Verdicts::default();
        let mut shared: Option<Arc<[u8]>> = None;
        let mut waiting: Vec<u64> = Vec::new();
        let mut count = 0;
        let Server { sessions, events, .. } = self;
        for (&sid, s) in sessions.iter_mut() {
            // The session's own mask first: it is cheaper than the caller's test.
            if !s.may_receive(category) || !only(sid) {
                continue;
            }
            if s.holds() {
                if s.slow {
                    s.counts.events_dropped += 1;
                    continue;
                }
                if s.queued() + s.held_bytes + text.len() > max_outbound {
                    s.slow = true;
                    s.counts.events_dropped += 1;
                    events.push_back((
                        SessionId(sid),
                        ServerEvent::SlowConsumer { queued: s.queued() },
                    ));
                    continue;
                }
                let arc = shared.get_or_insert_with(|| Arc::from(text.as_slice())).clone();
                s.held_bytes += arc.len();
                s.held.push(Held { text: arc, name_len: name.len(), category });
                if matches!(s.busy, Busy::WaitEvent { .. }) && !s.processing {
                    waiting.push(sid);
                }
                count += 1;
            } else if (s.filters.is_empty() || s.filters.should_send_memo(&c_event, &mut verdicts))
                && deliver(s, sid, &text, max_outbound, events)
            {
                count += 1;
            }
        }
        for sid in waiting {
            self.finish_wait_event(sid);
        }
        count
    }

    // -----------------------------------------------------------------------------------------
    // Request processing (spec §3.1)
    // -----------------------------------------------------------------------------------------

    /// Handles one request. Returns whether the events held meanwhile may be written now.
    fn handle(&mut self, sid: u64, input: Input) -> bool {
        let msg = match input {
            Input::Malformed { kind, echo } => {
                self.reply_error(sid, echo.as_deref(), kind.asterisk_message().as_bytes());
                return false;
            }
            Input::Message(msg) => msg,
        };
        let m = msg.as_message();
        let echo = m.action_id_to_echo();
        let Some(action) = m.action() else {
            let account = self.session_username(sid);
            self.security(
                sid,
                SecurityEventKind::RequestBadFormat,
                account,
                Self::request_type(b"NONE"),
            );
            self.reply_error(sid, echo, b"Missing action in request");
            return false;
        };
        if self.shutting_down {
            self.reply_error(sid, echo, b"Asterisk is shutting down");
            return false;
        }
        let (authenticated, write) = match self.sessions.get(&sid) {
            Some(s) => (s.authenticated, s.write),
            None => return false,
        };
        let is = |name: &str| action.eq_ignore_ascii_case(name.as_bytes());
        let allowed_before_login = is("Login") || is("Logoff") || is("Challenge");
        if !authenticated && !allowed_before_login {
            self.count_action(sid, false);
            let account = self.session_username(sid);
            self.security(
                sid,
                SecurityEventKind::RequestNotAllowed,
                account,
                Self::request_type(action),
            );
            self.reply_error(sid, echo, b"Permission denied");
            return false;
        }
        if !authenticated && (is("Login") || is("Challenge")) {
            let username = m.get("Username").unwrap_or_default();
            if !username.is_empty()
                && self.username_in_use(username)
                && self.config.user(username).is_some_and(|u| !u.allow_multiple_login)
            {
                let account = self.session_username(sid);
                self.security(sid, SecurityEventKind::SessionLimit, account, SecurityDetails::None);
                let mut reply = Vec::new();
                simple_response(&mut reply, b"Error", echo, b"Login Already In Use");
                self.delay(sid, reply, DisconnectReason::LoginInUse);
                return false;
            }
        }
        let unregistered = || {
            (self.options.unregistered_actions == UnregisteredActions::ForWriteAll
                && write == Privilege::ALL)
                .then_some(&UNREGISTERED)
        };
        let Some(info) = self.lookup(action).or_else(unregistered) else {
            let account = self.session_username(sid);
            self.security(
                sid,
                SecurityEventKind::RequestBadFormat,
                account,
                Self::request_type(action),
            );
            let mut text = b"Invalid/unknown command: ".to_vec();
            text.extend_from_slice(action);
            text.extend_from_slice(b". Use Action: ListCommands to show available commands.");
            text.truncate(MAX_UNKNOWN_MESSAGE);
            self.reply_error(sid, echo, &text);
            return true;
        };
        if !may_run(write, info.authority) {
            self.count_action(sid, false);
            let account = self.session_username(sid);
            self.security(
                sid,
                SecurityEventKind::RequestNotAllowed,
                account,
                Self::request_type(action),
            );
            self.reply_error(sid, echo, b"Permission denied");
            return true;
        }
        let suppress = m.get("SuppressEvents").is_some_and(|v| !v.is_empty());
        let refusal = self.escalation(info, write, &m);
        self.count_action(sid, refusal.is_none());
        match info.name {
            "Login" => self.action_login(sid, &m),
            "Logoff" => {
                self.reply(sid, b"Goodbye", echo, b"Thanks for all the fish.");
                self.close(sid, DisconnectReason::Logoff);
                return false;
            }
            "Challenge" => self.action_challenge(sid, &m),
            "Events" => self.action_events(sid, &m),
            "Filter" => self.action_filter(sid, &m),
            "Ping" => self.action_ping(sid, echo),
            "ListCommands" => self.action_list_commands(sid, echo, write),
            "WaitEvent" => {
                self.action_wait_event(sid, &m);
                return false;
            }
            _ => {
                if let Some(refusal) = refusal {
                    self.reply_error(sid, echo, refusal);
                } else {
                    let echo = echo.map(<[u8]>::to_vec);
                    let Some(s) = self.sessions.get_mut(&sid) else { return false };
                    s.seq += 1;
                    let seq = s.seq;
                    s.busy = Busy::App { seq, suppress_events: suppress };
                    let action =
                        ActionRef { session: SessionId(sid), seq, info, message: msg, echo };
                    self.events.push_back((SessionId(sid), ServerEvent::ActionReceived { action }));
                    return false;
                }
            }
        }
        !suppress
    }

    fn lookup(&self, action: &[u8]) -> Option<&'static ActionInfo> {
        self.registry.iter().copied().find(|a| a.name.as_bytes().eq_ignore_ascii_case(action))
    }

    fn username_in_use(&self, username: &[u8]) -> bool {
        self.sessions
            .values()
            .any(|s| s.authenticated && !s.closed && s.username.eq_ignore_ascii_case(username))
    }

    /// The §4.7 checks Asterisk's handlers make before doing anything, as the error message
    /// they answer with ([`authority::authorize`] decides).
    fn escalation(
        &self,
        info: &ActionInfo,
        write: Privilege,
        m: &Message<'_>,
    ) -> Option<&'static [u8]> {
        match authority::authorize(info, write, |header| m.get(header)) {
            Ok(()) => None,
            Err(denial) => Some(denial.message().as_bytes()),
        }
    }

    fn delay(&mut self, sid: u64, reply: Vec<u8>, reason: DisconnectReason) {
        let until = self.now + self.options.login_failure_delay;
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.busy = Busy::Delay { until, reply, reason };
        }
        if until <= self.now {
            self.finish_delay(sid);
        }
    }

    fn finish_delay(&mut self, sid: u64) {
        let Some(s) = self.sessions.get_mut(&sid) else { return };
        if let Busy::Delay { reply, reason, .. } = core::mem::replace(&mut s.busy, Busy::Idle) {
            s.out.extend_from_slice(&reply);
            self.close(sid, reason);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Built-in actions
    // -----------------------------------------------------------------------------------------

    fn action_login(&mut self, sid: u64, m: &Message<'_>) {
        let echo = m.action_id_to_echo();
        let Some(s) = self.sessions.get(&sid) else { return };
        if s.authenticated {
            self.reply(sid, b"Success", echo, b"Already authenticated");
            return;
        }
        let peer: IpAddr = s.peer.ip();
        let username = m.get("Username").unwrap_or_default();
        let user = self.config.user(username);
        let creds = user.map(|u| UserCredentials {
            secret: u.secret.as_deref().map(str::as_bytes),
            peer_allowed: u.acl.permits(peer),
        });
        let attempt = LoginAttempt {
            username,
            secret: m.get("Secret"),
            auth_type: m.get("AuthType"),
            key: m.get("Key"),
            challenge: s.challenge.as_ref().map(Challenge::as_bytes),
        };
        match authenticate(&attempt, creds) {
            Err(failure) => {
                let (account, details) = match &failure {
                    LoginFailure::ChallengeResponseFailed { challenge, response, expected } => (
                        s.username.clone(),
                        SecurityDetails::ChallengeResponse {
                            challenge: challenge.clone(),
                            response: response.clone(),
                            expected: (!self.options.hide_expected_response)
                                .then(|| expected.to_vec()),
                        },
                    ),
                    _ => (username.to_vec(), SecurityDetails::None),
                };
                if let Some(kind) = failure.security_event() {
                    self.security(sid, kind, account, details);
                }
                self.events.push_back((
                    SessionId(sid),
                    ServerEvent::LoginFailed { username: username.to_vec(), failure },
                ));
                let mut reply = Vec::new();
                simple_response(&mut reply, b"Error", echo, b"Authentication failed");
                self.delay(sid, reply, DisconnectReason::LoginFailed);
            }
            Ok(()) => {
                let Some(user) = user else { return };
                let (read, write, filters) = (user.read, user.write, user.filters.clone());
                let events = m.get("Events").unwrap_or_default();
                let now = self.now;
                let Some(s) = self.sessions.get_mut(&sid) else { return };
                s.username = username.get(..MAX_USERNAME).unwrap_or(username).to_vec();
                s.read = read;
                s.write = write;
                s.filters = filters;
                s.login_at = Some(now);
                s.send_events = if events.is_empty() {
                    read
                } else {
                    Privilege::session_event_mask(read, parse_event_mask(events), s.send_events)
                };
                // Asterisk sets the mask before reporting SuccessfulAuth, so a session that
                // reads `security` gets its own event (held until after the reply).
                s.authenticated = true;
                self.unauthenticated = self.unauthenticated.saturating_sub(1);
                let account = s.username.clone();
                self.security(
                    sid,
                    SecurityEventKind::SuccessfulAuth,
                    account.clone(),
                    SecurityDetails::None,
                );
                let fully_booted = self.fully_booted_block();
                let Some(s) = self.sessions.get_mut(&sid) else { return };
                simple_response(&mut s.out, b"Success", echo, b"Authentication accepted");
                if s.send_events.contains(Privilege::SYSTEM)
                    && let Some(block) = fully_booted
                {
                    s.out.extend_from_slice(&block);
                }
                self.events
                    .push_back((SessionId(sid), ServerEvent::LoggedIn { username: account }));
            }
        }
    }

    /// The FullyBooted event written right after a login (no filters, no Timestamp).
    fn fully_booted_block(&self) -> Option<Vec<u8>> {
        if !self.options.fully_booted {
            return None;
        }
        let secs = |since: Option<Instant>| {
            since.map_or(0, |t| self.now.saturating_duration_since(t).as_millis() / 1000)
        };
        Some(
            format!(
                "Event: FullyBooted\r\nPrivilege: {}\r\nUptime: {}\r\nLastReload: {}\r\nStatus: Fully Booted\r\n\r\n",
                Privilege::SYSTEM,
                secs(self.options.started_at),
                secs(self.options.last_reload_at)
            )
            .into_bytes(),
        )
    }

    fn action_challenge(&mut self, sid: u64, m: &Message<'_>) {
        let echo = m.action_id_to_echo();
        if !is_md5_auth_type(m.get("AuthType")) {
            self.reply_error(sid, echo, b"Must specify AuthType");
            return;
        }
        let Server { sessions, rng, .. } = self;
        let Some(s) = sessions.get_mut(&sid) else { return };
        let challenge = *s.challenge.get_or_insert_with(|| Challenge::from_random(rng.next_u32()));
        response_head(&mut s.out, b"Success", echo);
        s.out.extend_from_slice(b"Challenge: ");
        s.out.extend_from_slice(challenge.as_bytes());
        s.out.extend_from_slice(b"\r\n\r\n");
    }

    fn action_events(&mut self, sid: u64, m: &Message<'_>) {
        let echo = m.action_id_to_echo();
        let broken = self.config.general.broken_events_action;
        let Some(s) = self.sessions.get_mut(&sid) else { return };
        let mask = parse_event_mask(m.get("EventMask").unwrap_or_default());
        let res: i64 = match mask {
            EventMask::Invalid => -1,
            EventMask::Mask(p) => i64::from(p.bits()),
        };
        s.send_events = Privilege::session_event_mask(s.read, mask, s.send_events);
        let state: &[u8] = match res {
            r if r > 0 => {
                if broken && r == i64::from(Privilege::ALL.bits()) {
                    return;
                }
                b"On"
            }
            0 => b"Off",
            _ if broken => return,
            _ => {
                simple_response(&mut s.out, b"Error", echo, b"Invalid event mask");
                return;
            }
        };
        s.out.extend_from_slice(b"Response: Success\r\n");
        s.out.extend_from_slice(&id_text(echo));
        s.out.extend_from_slice(b"Events: ");
        s.out.extend_from_slice(state);
        s.out.extend_from_slice(b"\r\n\r\n");
    }

    fn action_filter(&mut self, sid: u64, m: &Message<'_>) {
        let echo = m.action_id_to_echo();
        if !m.get("Operation").unwrap_or_default().eq_ignore_ascii_case(b"Add") {
            self.reply_error(sid, echo, b"Unknown operation");
            return;
        }
        let max = self.options.max_session_filters;
        let Some(s) = self.sessions.get_mut(&sid) else { return };
        if s.session_filters.len() >= max {
            simple_response(&mut s.out, b"Error", echo, b"Internal Error. Failed adding filter.");
            return;
        }
        let filter = m.get("Filter").unwrap_or_default();
        let criteria = m.get("MatchCriteria").unwrap_or_default();
        match EventFilter::from_filter_action(filter, criteria) {
            Ok(f) => {
                s.filters.add(f.clone());
                s.session_filters.push(f);
                simple_response(&mut s.out, b"Success", echo, b"Success");
            }
            Err(e) => simple_response(&mut s.out, b"Error", echo, e.action_message().as_bytes()),
        }
    }

    fn action_ping(&mut self, sid: u64, echo: Option<&[u8]>) {
        let unix = self.unix_ms(self.now);
        let Some(out) = self.out(sid) else { return };
        response_head(out, b"Success", echo);
        out.extend_from_slice(b"Ping: Pong\r\nTimestamp: ");
        event::format_timestamp(unix, out);
        out.extend_from_slice(b"\r\n\r\n");
    }

    fn action_list_commands(&mut self, sid: u64, echo: Option<&[u8]>, write: Privilege) {
        let Server { sessions, registry, .. } = self;
        let Some(s) = sessions.get_mut(&sid) else { return };
        response_head(&mut s.out, b"Success", echo);
        let mut text = String::new();
        for info in registry.iter().filter(|a| may_run(write, a.authority)) {
            info.write_list_line(&mut text);
        }
        s.out.extend_from_slice(text.as_bytes());
        s.out.extend_from_slice(b"\r\n");
    }

    fn action_wait_event(&mut self, sid: u64, m: &Message<'_>) {
        let echo = m.action_id_to_echo();
        let timeouts = m.get("Timeout").unwrap_or_default();
        let mut timeout: i32 = -1;
        if !timeouts.is_empty() {
            if let Some(t) = scan_int(timeouts, true) {
                timeout = t;
            }
            if timeout < -1 {
                timeout = -1;
            }
        }
        let deadline = match timeout {
            -1 => None,
            t => Some(self.now + Duration::from_secs(u64::from(t.unsigned_abs()))),
        };
        let Some(s) = self.sessions.get_mut(&sid) else { return };
        s.busy =
            Busy::WaitEvent { deadline, echo: echo.map(<[u8]>::to_vec), id_text: id_text(echo) };
        if timeout == 0 {
            // `for (x = 0; x < timeout ...)` does not even poll once.
            self.finish_wait_event(sid);
        }
    }

    /// WaitEvent's end (`action_waitevent_tcp`): the response, the queued events that pass,
    /// then `WaitEventComplete`.
    fn finish_wait_event(&mut self, sid: u64) {
        let Some(s) = self.sessions.get_mut(&sid) else { return };
        let Busy::WaitEvent { echo, id_text, .. } = core::mem::replace(&mut s.busy, Busy::Idle)
        else {
            return;
        };
        simple_response(&mut s.out, b"Success", echo.as_deref(), b"Waiting for Event completed.");
        let held = core::mem::take(&mut s.held);
        s.held_bytes = 0;
        for h in &held {
            if may_receive(s.send_events, h.category) && s.filters.should_send(h.name(), &h.text) {
                s.out.extend_from_slice(&h.text);
                s.counts.events_delivered += 1;
            }
        }
        s.out.extend_from_slice(b"Event: WaitEventComplete\r\n");
        s.out.extend_from_slice(&id_text);
        s.out.extend_from_slice(b"\r\n");
        if !s.processing {
            self.drive(sid);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Answering the application's actions
    // -----------------------------------------------------------------------------------------

    /// The session, if `action` is the one it waits to have answered.
    fn pending(&mut self, id: SessionId, action: &ActionRef) -> Result<&mut Session, ServerError> {
        let s = self.sessions.get_mut(&id.0).ok_or(ServerError::UnknownSession(id))?;
        if s.closed {
            return Err(ServerError::UnknownSession(id));
        }
        match s.busy {
            Busy::App { seq, .. } if seq == action.seq && action.session == id => Ok(s),
            _ => Err(ServerError::NotPending),
        }
    }

    /// Ends the pending action: writes held events (unless `SuppressEvents`) and processes the
    /// next buffered request.
    fn complete(&mut self, sid: u64) {
        let Some(s) = self.sessions.get_mut(&sid) else { return };
        let suppress = matches!(s.busy, Busy::App { suppress_events: true, .. });
        s.busy = Busy::Idle;
        if !suppress {
            self.flush_held(sid);
        }
        self.drive(sid);
        self.check_inbound(sid);
    }

    fn has_actionid_field<'f>(mut fields: impl Iterator<Item = (&'f [u8], &'f [u8])>) -> bool {
        fields.any(|(n, _)| n.eq_ignore_ascii_case(b"ActionID"))
    }

    /// Answers an action with `response`: `Response: <status>`, the echoed ActionID (unless the
    /// response has its own `ActionID` field, which is then written where it stands), its
    /// fields, the blank line.
    pub fn respond(
        &mut self,
        id: SessionId,
        action: &ActionRef,
        response: &encode::Response,
    ) -> Result<(), ServerError> {
        let buf = Self::render_echoing(("Response", response.status()), &response.fields, action)?;
        let s = self.pending(id, action)?;
        s.out.extend_from_slice(&buf);
        self.complete(id.0);
        Ok(())
    }

    /// Renders `first` and `fields` with the action's ActionID echoed right after the first
    /// line, unless the fields carry their own `ActionID` (then written where it stands).
    fn render_echoing(
        first: (&str, &[u8]),
        fields: &encode::Fields,
        action: &ActionRef,
    ) -> Result<Vec<u8>, ServerError> {
        let mut buf = Vec::new();
        let own_id = Self::has_actionid_field(fields.iter());
        let mut w = encode::MessageWriter::start(&mut buf, first.0, first.1, Role::Client)?;
        if !own_id && let Some(aid) = action.action_id() {
            // The echo comes from a decoded line: it has no CR, LF or NUL.
            w.header("ActionID", aid)?;
        }
        for (n, v) in fields.iter() {
            w.header(n, v)?;
        }
        w.finish();
        Ok(buf)
    }

    fn checked_text(text: &[u8]) -> Result<(), ServerError> {
        encode::check_value(text, Role::Client)
            .map_err(|(kind, offset)| ServerError::Encode(EncodeError { kind, field: 1, offset }))
    }

    /// Answers `Response: Success` with `Message: <message>` (`astman_send_ack`).
    pub fn ack(
        &mut self,
        id: SessionId,
        action: &ActionRef,
        message: impl AsRef<[u8]>,
    ) -> Result<(), ServerError> {
        self.simple(id, action, b"Success", message.as_ref())
    }

    /// Answers `Response: Error` with `Message: <message>` (`astman_send_error`).
    pub fn error(
        &mut self,
        id: SessionId,
        action: &ActionRef,
        message: impl AsRef<[u8]>,
    ) -> Result<(), ServerError> {
        self.simple(id, action, b"Error", message.as_ref())
    }

    fn simple(
        &mut self,
        id: SessionId,
        action: &ActionRef,
        status: &[u8],
        message: &[u8],
    ) -> Result<(), ServerError> {
        Self::checked_text(message)?;
        let s = self.pending(id, action)?;
        simple_response(&mut s.out, status, action.action_id(), message);
        self.complete(id.0);
        Ok(())
    }

    /// Checks that the pending `action` of session `id` may queue another part of its answer.
    /// A session whose queue is at [`ServerOptions::max_outbound`] does not read: it is closed
    /// ([`DisconnectReason::OutputOverflow`]), its queued bytes are discarded, and
    /// [`ServerError::OutboundFull`] is returned, so that no answer is ever left half-written
    /// with the session waiting for its end (Asterisk's `write_error`).
    fn room(&mut self, id: SessionId, action: &ActionRef) -> Result<(), ServerError> {
        let max = self.options.max_outbound;
        let s = self.pending(id, action)?;
        let queued = s.queued();
        if queued < max {
            return Ok(());
        }
        s.out.clear();
        s.sent = 0;
        self.close(id.0, DisconnectReason::OutputOverflow);
        Err(ServerError::OutboundFull { queued })
    }

    /// Starts a list answer: `Response: Success`, ActionID, `EventList: start`,
    /// `Message: <message>` (`astman_send_listack`). The action stays pending: end it with
    /// [`list_complete`](Server::list_complete). If the session's outbound queue is full, the
    /// session is closed instead and the action ended ([`ServerError::OutboundFull`]).
    pub fn list_start(
        &mut self,
        id: SessionId,
        action: &ActionRef,
        message: impl AsRef<[u8]>,
    ) -> Result<(), ServerError> {
        let message = message.as_ref();
        Self::checked_text(message)?;
        self.room(id, action)?;
        let s = self.pending(id, action)?;
        response_head(&mut s.out, b"Success", action.action_id());
        s.out.extend_from_slice(b"EventList: start\r\nMessage: ");
        s.out.extend_from_slice(message);
        s.out.extend_from_slice(b"\r\n\r\n");
        Ok(())
    }

    /// Writes one list item: `Event: <name>`, the echoed ActionID (unless the event has its own
    /// `ActionID` field, e.g. Status puts it last), its fields. Items bypass event masks and
    /// filters (spec §2.6). The action stays pending. If the session's outbound queue is full,
    /// the session is closed instead and the action ended ([`ServerError::OutboundFull`]):
    /// an answer produced in one go must fit in [`ServerOptions::max_outbound`], a longer one
    /// is written in parts as the queue drains ([`SessionInfo::queued`]).
    pub fn list_item(
        &mut self,
        id: SessionId,
        action: &ActionRef,
        item: &encode::Event,
    ) -> Result<(), ServerError> {
        let buf = Self::render_echoing(("Event", item.name()), &item.fields, action)?;
        self.room(id, action)?;
        let s = self.pending(id, action)?;
        s.out.extend_from_slice(&buf);
        Ok(())
    }

    /// Ends a list answer: `Event: <event_name>`, ActionID, `EventList: Complete`,
    /// `ListItems: <items>`, the extra fields (e.g. Status's `Items`), the blank line
    /// (`astman_send_list_complete_start` … `_end`).
    pub fn list_complete(
        &mut self,
        id: SessionId,
        action: &ActionRef,
        event_name: &str,
        items: usize,
        extra_fields: &[(&str, &str)],
    ) -> Result<(), ServerError> {
        let mut buf = Vec::new();
        {
            let mut w = encode::MessageWriter::event(&mut buf, event_name)?;
            if let Some(aid) = action.action_id() {
                w.header("ActionID", aid)?;
            }
            w.header("EventList", "Complete")?.header("ListItems", items.to_string())?;
            for (n, v) in extra_fields {
                w.header(n, v)?;
            }
            w.finish();
        }
        let s = self.pending(id, action)?;
        s.out.extend_from_slice(&buf);
        self.complete(id.0);
        Ok(())
    }

    /// Answers a Command action in the current form (spec §2.7): `Response: Success` or
    /// `Error`, ActionID, `Message: Command output follows`, then one `Output:` line per line
    /// of `text` (one trailing LF removed, split on LF; an empty text gives one empty
    /// `Output:`). The text ends at a NUL byte; CRs inside lines are kept, as in Asterisk.
    pub fn command_output(
        &mut self,
        id: SessionId,
        action: &ActionRef,
        success: bool,
        text: &[u8],
    ) -> Result<(), ServerError> {
        let text = text.split(|&b| b == 0).next().unwrap_or_default();
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        let s = self.pending(id, action)?;
        let status: &[u8] = if success { b"Success" } else { b"Error" };
        response_head(&mut s.out, status, action.action_id());
        s.out.extend_from_slice(b"Message: Command output follows\r\n");
        for line in text.split(|&b| b == b'\n') {
            s.out.extend_from_slice(b"Output: ");
            s.out.extend_from_slice(line);
            s.out.extend_from_slice(b"\r\n");
        }
        s.out.extend_from_slice(b"\r\n");
        self.complete(id.0);
        Ok(())
    }

    /// Writes part of an answer exactly as given, without completing the action: for a proxy
    /// relaying a list start or list items it rewrote (the action stays pending; end it with
    /// a completion call such as [`respond_raw`](Server::respond_raw)). `bytes` must be whole
    /// messages (end with an empty line). When the session's queue is at
    /// [`ServerOptions::max_outbound`] the session is closed and the action ended
    /// ([`ServerError::OutboundFull`]).
    pub fn write_raw(
        &mut self,
        id: SessionId,
        action: &ActionRef,
        bytes: &[u8],
    ) -> Result<(), ServerError> {
        if !bytes.ends_with(b"\r\n\r\n") {
            return Err(ServerError::IncompleteMessage);
        }
        self.room(id, action)?;
        let s = self.pending(id, action)?;
        s.out.extend_from_slice(bytes);
        Ok(())
    }

    /// Answers with bytes written exactly as given, for the response shapes the helpers do
    /// not produce (e.g. Asterisk's 150-byte ActionID truncation in CoreSettings). `bytes` must
    /// be empty (no answer at all) or end with an empty line; the caller is responsible for
    /// their content.
    pub fn respond_raw(
        &mut self,
        id: SessionId,
        action: &ActionRef,
        bytes: &[u8],
    ) -> Result<(), ServerError> {
        if !bytes.is_empty() && !bytes.ends_with(b"\r\n\r\n") {
            return Err(ServerError::IncompleteMessage);
        }
        let s = self.pending(id, action)?;
        s.out.extend_from_slice(bytes);
        self.complete(id.0);
        Ok(())
    }
}
