//! The client side of AMI as a sans-IO state machine: [`ClientSession`].
//!
//! A session does everything a manager client has to do between the socket and the
//! application, and nothing that needs I/O or a clock:
//!
//! * it reads the banner, logs in ([plain or MD5](LoginMethod); for MD5 it sends `Challenge`
//!   and then `Login` by itself) and reports [`ClientEvent::LoggedIn`] or
//!   [`ClientEvent::LoginFailed`];
//! * it gives every action an `ActionID` (`<prefix><n>`, see [`ClientConfig::action_id_prefix`];
//!   a caller-supplied one is kept) and routes every response, list item, list completion and
//!   async `OriginateResponse` to the action that caused it;
//! * it streams event lists as [`ListStart`](ClientEvent::ListStart), one
//!   [`ListItem`](ClientEvent::ListItem) per item and [`ListComplete`](ClientEvent::ListComplete)
//!   (memory stays bounded; [`ListCollector`] gathers a list with a cap), and gives `Command`
//!   output in both wire forms as one [`CommandOutput`](ClientEvent::CommandOutput);
//! * it times actions out and can keep an idle connection alive with `Ping`;
//! * when the connection ends, every action still pending gets
//!   [`ActionAborted`](ClientEvent::ActionAborted), then [`Closed`](ClientEvent::Closed) comes
//!   last. Nothing the server sends can make it panic.
//!
//! # The run loop
//!
//! Inputs are `handle_*` calls, outputs are `poll_*` calls (the quinn-proto naming). After
//! **any** input or command, apply the drain rule (from str0m):
//!
//! 1. drain [`poll_event`](ClientSession::poll_event) until it returns `None`;
//! 2. write out [`poll_transmit`](ClientSession::poll_transmit) and report what was written
//!    with [`consume_transmit`](ClientSession::consume_transmit);
//! 3. re-arm the timer from [`poll_timeout`](ClientSession::poll_timeout) and call
//!    [`handle_timeout`](ClientSession::handle_timeout) when it fires.
//!
//! Events borrow the session (they are zero-copy views of the received bytes), so decide what
//! to do while draining and send after the drain. The example below runs a whole session
//! against an in-memory fake server on a virtual clock; a real program would read from and
//! write to a socket instead.
//!
//! ```
//! use ami_proto::client::{ClientConfig, ClientEvent, ClientSession, CloseReason, LoginMethod};
//! use ami_proto::encode::{Action, Response};
//! use ami_proto::time::Instant;
//! use ami_proto::{Decoder, Frame, Role};
//!
//! /// A stand-in for Asterisk: greets, then answers Login, Ping and Logoff in order.
//! struct FakeServer { decoder: Decoder, out: Vec<u8>, closed: bool }
//!
//! impl FakeServer {
//!     fn receive(&mut self, bytes: &[u8]) {
//!         self.decoder.feed(bytes);
//!         while let Some(Ok(Frame::Message(m))) = self.decoder.next_frame() {
//!             let (status, name, text) = match m.action() {
//!                 Some(b"Login") => ("Success", "Message", "Authentication accepted"),
//!                 Some(b"Ping") => ("Success", "Ping", "Pong"),
//!                 Some(b"Logoff") => ("Goodbye", "Message", "Thanks for all the fish."),
//!                 _ => ("Error", "Message", "Invalid/unknown command"),
//!             };
//!             let mut reply = Response::new(status);
//!             if let Some(id) = m.action_id() {
//!                 reply.push("ActionID", id);
//!             }
//!             reply.push(name, text);
//!             reply.encode_into(&mut self.out).unwrap();
//!             self.closed |= status == "Goodbye";
//!         }
//!     }
//! }
//!
//! let mut server = FakeServer {
//!     decoder: Decoder::new(Role::Server),
//!     out: b"Asterisk Call Manager/11.0.0\r\n".to_vec(),
//!     closed: false,
//! };
//! let mut now = Instant::from_millis(0);
//! let mut client = ClientSession::new(ClientConfig::default(), now);
//! client.login("admin", "s3cret", LoginMethod::Plain)?; // queued before the banner: fine
//!
//! let mut log = Vec::new();
//! let mut ping = None;
//! 'run: loop {
//!     // Input: bytes from the socket (here: the fake server), or EOF.
//!     let input = std::mem::take(&mut server.out);
//!     if !input.is_empty() {
//!         client.handle_input(&input);
//!     } else if server.closed {
//!         client.handle_eof();
//!     }
//!
//!     // 1. Drain the events; remember what to do next.
//!     let (mut logged_in, mut pong) = (false, false);
//!     while let Some(event) = client.poll_event() {
//!         match event {
//!             ClientEvent::Banner { version, .. } => log.push(format!("banner {}", version.escape_ascii())),
//!             ClientEvent::LoggedIn { .. } => logged_in = true,
//!             ClientEvent::Response { action_id, message, .. } if Some(&action_id) == ping.as_ref() => {
//!                 pong = message.get("Ping") == Some(&b"Pong"[..]);
//!             }
//!             ClientEvent::Response { message, .. } => {
//!                 log.push(format!("response {}", message.response().unwrap().escape_ascii()))
//!             }
//!             ClientEvent::Closed { reason, .. } => {
//!                 assert_eq!(reason, CloseReason::Logoff);
//!                 log.push("closed".to_string());
//!                 break 'run;
//!             }
//!             other => log.push(format!("{other:?}")),
//!         }
//!     }
//!     if logged_in {
//!         ping = Some(client.send_action(&Action::new("Ping"), now)?);
//!     }
//!     if pong {
//!         log.push("pong".to_string());
//!         client.logoff()?;
//!     }
//!
//!     // 2. Flush the bytes to send.
//!     let out = client.poll_transmit();
//!     server.receive(out);
//!     let written = out.len();
//!     client.consume_transmit(written);
//!
//!     // 3. Re-arm the timer. Here: when nothing else happens, jump the virtual clock.
//!     if let Some(deadline) = client.poll_timeout() {
//!         if server.out.is_empty() && !server.closed {
//!             now = deadline;
//!             client.handle_timeout(now);
//!         }
//!     }
//! }
//! assert_eq!(log, ["banner 11.0.0", "pong", "response Goodbye", "closed"]);
//! # Ok::<(), ami_proto::client::LocalError>(())
//! ```
//!
//! # Correlation rules
//!
//! * A `Response` whose `ActionID` belongs to a pending action answers it. A list start
//!   (`EventList: start`, any case) keeps the action pending until the `Event` with the same
//!   ActionID and `EventList: Complete` (or `Cancelled`); the events in between that carry the
//!   ActionID are its items.
//! * `Originate` with a true `Async` header (`yes`, `true`, `y`, `t`, `1`, `on`, as Asterisk's
//!   `ast_true`) stays pending after `Response: Success` (reported with
//!   `complete: false`) until the `OriginateResponse` event with its ActionID. A synchronous
//!   Originate, or a refused one, ends with its response.
//! * Any other `Event` is an [`Event`](ClientEvent::Event), even if it carries the ActionID of
//!   a pending action that is not in one of the two states above: Asterisk copies the ActionID
//!   of a `UserEvent` action into the event it publishes (spec §8.6), after the response.
//! * A `Response` without `ActionID` answers the **oldest** action still waiting for its
//!   response: Asterisk answers in order (spec §1.6). The session always sends an ActionID, so
//!   this happens only when the server dropped it (a framing error on its side; the session
//!   refuses to send actions that break the server's limits, see
//!   [`ClientConfig::server_limits`]). A `Response` whose ActionID matches nothing (for
//!   example one that arrives after its action [timed out](ClientEvent::ActionTimedOut)) is
//!   [`Unsolicited`](ClientEvent::Unsolicited).
//! * Every action accepted by [`send_action`](ClientSession::send_action),
//!   [`login`](ClientSession::login) or [`logoff`](ClientSession::logoff) gets exactly one final
//!   event ([`ClientEvent::is_final`]): its response, list completion, `OriginateResponse`,
//!   login result, timeout, a [`Malformed`](ClientEvent::Malformed) reply, or
//!   [`ActionAborted`](ClientEvent::ActionAborted) when the connection ends first.
//!
//! # Before login
//!
//! Asterisk answers `Permission denied` to everything but `Login`, `Challenge` and `Logoff`
//! until a login succeeds. So [`send_action`](ClientSession::send_action) refuses other actions
//! with [`LocalError::NotLoggedIn`] until a login has been **started**; actions sent after
//! [`login`](ClientSession::login) but before its answer are fine (Asterisk handles them in
//! order, after the login), and if the login fails they end with
//! [`ActionAborted`](ClientEvent::ActionAborted) when the server closes.
//! [`ClientConfig::require_login`] turns the check off (to probe a server).
//!
//! # Time
//!
//! Times are the caller's [`Instant`]s. `send_action` takes the current time; `login`,
//! `logoff` and `handle_input` use the latest time the session was given (by `new`,
//! `send_action` or `handle_timeout`). Expiries are decided in `handle_timeout`, after
//! every message already received has been accounted for, so a response that arrived in time
//! always wins over its timeout. (If the caller did not drain the events before calling
//! `handle_timeout` or `handle_eof`, the session decodes the messages still buffered first and
//! keeps owned copies of their events; with the run loop above nothing is copied.)

use core::borrow::Borrow;
use core::fmt;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use crate::auth::md5_key;
use crate::encode::{Action, EncodeError, MessageWriter};
use crate::frame::{Banner, Decoder, DecoderLimits, Frame, FrameError, FrameErrorKind, Role};
use crate::message::{CommandOutput, Message, MessageKind, OwnedMessage};
use crate::time::{Duration, Instant};

mod collect;

pub use collect::{ListCollector, ListOutcome};

#[cfg(test)]
mod props;
#[cfg(test)]
mod replay;
#[cfg(test)]
mod tests;

/// An `ActionID`: opaque bytes, cheap to clone (reference-counted).
///
/// Compares, orders and hashes like its bytes; compares equal to `&str` and `&[u8]`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionId(Arc<[u8]>);

impl ActionId {
    /// An ActionID with these bytes.
    pub fn new(bytes: impl AsRef<[u8]>) -> ActionId {
        ActionId(Arc::from(bytes.as_ref()))
    }

    /// The bytes of the ActionID.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Borrow<[u8]> for ActionId {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for ActionId {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActionId({:?})", String::from_utf8_lossy(&self.0))
    }
}

/// The bytes as text (invalid UTF-8 replaced).
impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl From<&str> for ActionId {
    fn from(s: &str) -> ActionId {
        ActionId::new(s)
    }
}

impl From<&[u8]> for ActionId {
    fn from(s: &[u8]) -> ActionId {
        ActionId::new(s)
    }
}

impl From<String> for ActionId {
    fn from(s: String) -> ActionId {
        ActionId::new(s)
    }
}

impl From<Vec<u8>> for ActionId {
    fn from(s: Vec<u8>) -> ActionId {
        ActionId(Arc::from(s))
    }
}

impl PartialEq<[u8]> for ActionId {
    fn eq(&self, other: &[u8]) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&[u8]> for ActionId {
    fn eq(&self, other: &&[u8]) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<str> for ActionId {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other.as_bytes()
    }
}

impl PartialEq<&str> for ActionId {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == *other.as_bytes()
    }
}

/// How [`ClientSession::login`] authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoginMethod {
    /// `Login` with `Username` and `Secret` (the secret crosses the wire in clear).
    Plain,
    /// `Challenge` (`AuthType: MD5`) first; on its answer the session sends `Login` with
    /// `AuthType: MD5` and `Key: md5hex(challenge ‖ secret)` by itself (spec §3.3, §3.4).
    Md5,
}

/// Keepalive: a `Ping` sent by the session when nothing has been received for a while.
///
/// It runs whether or not actions are pending, so a server that stops answering is noticed
/// even while an action waits for it. Asterisk answers the actions of one session in order,
/// and runs a synchronous `Originate` (it waits for the call to be answered, up to its
/// `Timeout`, 30 s by default) before it reads the next action: a `Ping` sent behind one gets
/// that much longer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Keepalive {
    /// Silence (no byte received) before a `Ping` is sent.
    pub interval: Duration,
    /// How long the `Ping` may go unanswered (see above for actions sent before it). Then
    /// the session closes with [`CloseReason::KeepaliveTimeout`]: the caller should drop the
    /// connection.
    pub timeout: Duration,
}

/// Settings of a [`ClientSession`]. Start from [`ClientConfig::default`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Generated ActionIDs are this prefix followed by 1, 2, 3, ... (default `ami-`). An ID
    /// that is pending (because a caller supplied it) is skipped. It must be a valid header
    /// value, or every action that needs a generated ID is refused with
    /// [`LocalError::Encode`].
    pub action_id_prefix: String,
    /// Default time limit for an action, from sending it to its final event (default 30 s;
    /// `None`: no limit). Overridden per call by [`ClientSession::send_action_with_timeout`].
    /// An async `Originate` gets the originate's own `Timeout` (milliseconds, 30 s if absent)
    /// on top, since its `OriginateResponse` comes only when the call is answered or given up.
    pub action_timeout: Option<Duration>,
    /// Keepalive `Ping`s while logged in and silent (default: off).
    pub keepalive: Option<Keepalive>,
    /// Close the session with [`CloseReason::Unresponsive`] after this many actions in a row
    /// timed out (no action got its final answer in between): the server is taken for dead
    /// (default: `None`, never).
    pub max_consecutive_timeouts: Option<u32>,
    /// Most actions pending at once; more are refused with [`LocalError::TooManyPending`]
    /// (default 1024). The session's own `Challenge` and keepalive `Ping` do not count.
    pub max_in_flight: usize,
    /// Most bytes waiting in the transmit buffer; an action that would go beyond is refused
    /// with [`LocalError::TransmitBufferFull`] (default 1 MiB). The session's own `Login`
    /// (MD5) and keepalive `Ping` are small and always queued.
    pub max_transmit: usize,
    /// `Events:` header sent with the Login (e.g. `off`, `call,system`); `None` sends none, so
    /// the server uses the user's `read=` classes (default).
    pub events: Option<Vec<u8>>,
    /// Refuse actions other than `Login`, `Challenge` and `Logoff` until a login has been
    /// started (default `true`; see the module docs).
    pub require_login: bool,
    /// Limits for decoding what the server sends (default [`DecoderLimits::CLIENT`]). Invalid
    /// limits are replaced by the default.
    pub decoder_limits: DecoderLimits,
    /// Limits of the server that reads the actions (default
    /// [`DecoderLimits::ASTERISK_SERVER`]: 1024-byte lines with CRLF, 128 lines). Asterisk
    /// splits a longer line and drops lines beyond the 128th, so it would run a different
    /// action; such actions are refused with [`LocalError::ExceedsServerLimits`]. `None`
    /// turns the check off.
    pub server_limits: Option<DecoderLimits>,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            action_id_prefix: "ami-".to_string(),
            action_timeout: Some(Duration::from_secs(30)),
            keepalive: None,
            max_consecutive_timeouts: None,
            max_in_flight: 1024,
            max_transmit: 1 << 20,
            events: None,
            require_login: true,
            decoder_limits: DecoderLimits::CLIENT,
            server_limits: Some(DecoderLimits::ASTERISK_SERVER),
        }
    }
}

impl ClientConfig {
    /// Sets [`ClientConfig::action_id_prefix`].
    pub fn with_action_id_prefix(mut self, prefix: impl Into<String>) -> ClientConfig {
        self.action_id_prefix = prefix.into();
        self
    }

    /// Sets [`ClientConfig::action_timeout`].
    pub fn with_action_timeout(mut self, timeout: Option<Duration>) -> ClientConfig {
        self.action_timeout = timeout;
        self
    }

    /// Sets [`ClientConfig::keepalive`].
    pub fn with_keepalive(mut self, keepalive: Option<Keepalive>) -> ClientConfig {
        self.keepalive = keepalive;
        self
    }

    /// Sets [`ClientConfig::max_consecutive_timeouts`].
    pub fn with_max_consecutive_timeouts(mut self, max: Option<u32>) -> ClientConfig {
        self.max_consecutive_timeouts = max;
        self
    }

    /// Sets [`ClientConfig::events`].
    pub fn with_events(mut self, events: impl Into<Vec<u8>>) -> ClientConfig {
        self.events = Some(events.into());
        self
    }

    /// Sets [`ClientConfig::max_in_flight`].
    pub fn with_max_in_flight(mut self, max: usize) -> ClientConfig {
        self.max_in_flight = max;
        self
    }
}

/// Where a session stands. Read it with [`ClientSession::state`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientState {
    /// Nothing received yet and no login started.
    AwaitingBanner,
    /// Connected, not logged in, no login in flight (also after a refused login, until the
    /// server closes).
    Connected,
    /// A login (or its MD5 challenge) is in flight.
    Authenticating,
    /// Logged in: any action may be sent.
    Ready,
    /// `Logoff` sent: no more actions; the server answers `Goodbye` and closes.
    LoggingOff,
    /// The connection is over ([`ClientEvent::Closed`] was or is about to be reported).
    Closed,
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The server closed after answering `Logoff` with `Goodbye`.
    Logoff,
    /// The server closed after refusing the login (Asterisk always does).
    LoginFailed,
    /// The server closed the connection at another time (or the caller reported an I/O error
    /// with [`ClientSession::handle_eof`]).
    PeerClosed,
    /// The keepalive `Ping` went unanswered for [`Keepalive::timeout`]. The caller should drop
    /// the connection.
    KeepaliveTimeout,
    /// [`ClientConfig::max_consecutive_timeouts`] actions in a row timed out. The caller should
    /// drop the connection.
    Unresponsive,
}

/// What was wrong with a [`ClientEvent::Malformed`] message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MalformedError {
    /// The message broke a decoder limit ([`ClientConfig::decoder_limits`]); the event carries
    /// the lines that were kept.
    Limit(FrameErrorKind),
    /// The message has no `Response` or `Event` header (garbage, or an `Action`).
    NotResponseOrEvent,
    /// The first line the server sent is neither the `Asterisk Call Manager/` banner nor a
    /// header line (`HTTP/1.1 200 OK`, an SSH greeting, ...): the peer is not an AMI server
    /// ([`FrameErrorKind::NotAmiServer`]). The event's message holds that line as a bare line;
    /// the caller should close the connection.
    NotAmiServer,
}

/// Something the session reports. Drain them with [`ClientSession::poll_event`].
///
/// Messages are zero-copy views of the session's receive buffer, valid until the next call
/// that takes the session mutably; use [`Message::to_owned_message`] to keep one.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ClientEvent<'a> {
    /// The server's greeting line, `Asterisk Call Manager/<version>`.
    Banner {
        /// The whole line, without its line end.
        line: &'a [u8],
        /// The text after the first `/` (e.g. `11.0.0`), or empty.
        version: &'a [u8],
    },
    /// The login was accepted (`Authentication accepted`, or `Already authenticated` on a
    /// second login). Final event of the login's action.
    LoggedIn {
        /// The Login's ActionID (what [`ClientSession::login`] returned).
        action_id: ActionId,
        /// The server's response.
        message: Message<'a>,
    },
    /// The login was refused; the text is `message.get("Message")` (Asterisk:
    /// `Authentication failed`, for every reason). Asterisk closes the connection next, which
    /// is reported as [`Closed`](ClientEvent::Closed) with [`CloseReason::LoginFailed`]. Final
    /// event of the login's action. For MD5, a refused `Challenge` is reported here too.
    LoginFailed {
        /// The Login's ActionID (what [`ClientSession::login`] returned).
        action_id: ActionId,
        /// The server's response (to the Login, or to the Challenge).
        message: Message<'a>,
    },
    /// The response to an action.
    Response {
        /// The action it answers.
        action_id: ActionId,
        /// The response (`Response: Success | Error | Goodbye ...`).
        message: Message<'a>,
        /// `true`: the final event of the action. `false` only for an async `Originate` the
        /// server accepted: its [`OriginateResponse`](ClientEvent::OriginateResponse) follows.
        complete: bool,
    },
    /// The response that starts an event list (`EventList: start`). Items and a
    /// [`ListComplete`](ClientEvent::ListComplete) follow.
    ListStart {
        /// The list's action.
        action_id: ActionId,
        /// The start response (its `Message` says e.g. `Channels will follow`).
        message: Message<'a>,
    },
    /// One item of an event list.
    ListItem {
        /// The list's action.
        action_id: ActionId,
        /// The item (an `Event:` message).
        message: Message<'a>,
    },
    /// The event that ends a list (`EventList: Complete`, with `ListItems: <n>`). Final event
    /// of the list's action.
    ListComplete {
        /// The list's action.
        action_id: ActionId,
        /// The completion event (e.g. `Event: StatusComplete`).
        message: Message<'a>,
    },
    /// The output of a `Command` action, current (`Output:` lines) or legacy
    /// (`Response: Follows` ... `--END COMMAND--`) form alike. Final event of the action.
    CommandOutput {
        /// The Command's ActionID.
        action_id: ActionId,
        /// The output; [`CommandOutput::message`] is the whole response.
        output: CommandOutput<'a>,
    },
    /// The `OriginateResponse` event of an async `Originate` (its `Response:` header says
    /// `Success` or `Failure`). Final event of the action.
    OriginateResponse {
        /// The Originate's ActionID.
        action_id: ActionId,
        /// The event.
        message: Message<'a>,
    },
    /// An asynchronous event.
    Event(Message<'a>),
    /// A response that answers no pending action: its ActionID is unknown (for example its
    /// action had timed out), or it has none and nothing waits for a response.
    Unsolicited(Message<'a>),
    /// The action got no final answer within its time limit. Final event of the action; a late
    /// answer is reported as [`Unsolicited`](ClientEvent::Unsolicited) (response) or
    /// [`Event`](ClientEvent::Event) (list items).
    ActionTimedOut {
        /// The action.
        action_id: ActionId,
    },
    /// The connection ended before the action's final answer. Final event of the action.
    ActionAborted {
        /// The action.
        action_id: ActionId,
        /// Why the connection ended.
        reason: CloseReason,
    },
    /// A message the session could not use as is: it broke a decoder limit, or it is neither
    /// a response nor an event.
    Malformed {
        /// Set when the message (as far as it was kept) was the final answer of this action,
        /// which it ends: this is then the action's final event.
        action_id: Option<ActionId>,
        /// What was wrong.
        error: MalformedError,
        /// The message, or the lines of it that were kept.
        message: Message<'a>,
    },
    /// The session is over; always the last event. Every pending action was reported before
    /// it with [`ActionAborted`](ClientEvent::ActionAborted).
    Closed {
        /// Why.
        reason: CloseReason,
        /// The server's bytes ended in the middle of a message, which was dropped.
        truncated: bool,
    },
}

impl<'a> ClientEvent<'a> {
    /// The ActionID the event is about, if any.
    pub fn action_id(&self) -> Option<&ActionId> {
        match self {
            ClientEvent::LoggedIn { action_id, .. }
            | ClientEvent::LoginFailed { action_id, .. }
            | ClientEvent::Response { action_id, .. }
            | ClientEvent::ListStart { action_id, .. }
            | ClientEvent::ListItem { action_id, .. }
            | ClientEvent::ListComplete { action_id, .. }
            | ClientEvent::CommandOutput { action_id, .. }
            | ClientEvent::OriginateResponse { action_id, .. }
            | ClientEvent::ActionTimedOut { action_id }
            | ClientEvent::ActionAborted { action_id, .. } => Some(action_id),
            ClientEvent::Malformed { action_id, .. } => action_id.as_ref(),
            ClientEvent::Banner { .. }
            | ClientEvent::Event(_)
            | ClientEvent::Unsolicited(_)
            | ClientEvent::Closed { .. } => None,
        }
    }

    /// The message the event carries, if any.
    pub fn message(&self) -> Option<Message<'a>> {
        match self {
            ClientEvent::LoggedIn { message, .. }
            | ClientEvent::LoginFailed { message, .. }
            | ClientEvent::Response { message, .. }
            | ClientEvent::ListStart { message, .. }
            | ClientEvent::ListItem { message, .. }
            | ClientEvent::ListComplete { message, .. }
            | ClientEvent::OriginateResponse { message, .. }
            | ClientEvent::Malformed { message, .. }
            | ClientEvent::Event(message)
            | ClientEvent::Unsolicited(message) => Some(*message),
            ClientEvent::CommandOutput { output, .. } => Some(output.message()),
            ClientEvent::Banner { .. }
            | ClientEvent::ActionTimedOut { .. }
            | ClientEvent::ActionAborted { .. }
            | ClientEvent::Closed { .. } => None,
        }
    }

    /// True if this is the final event of [`ClientEvent::action_id`]: the action is no longer
    /// pending. Each accepted action gets exactly one.
    pub fn is_final(&self) -> bool {
        match self {
            ClientEvent::LoggedIn { .. }
            | ClientEvent::LoginFailed { .. }
            | ClientEvent::ListComplete { .. }
            | ClientEvent::CommandOutput { .. }
            | ClientEvent::OriginateResponse { .. }
            | ClientEvent::ActionTimedOut { .. }
            | ClientEvent::ActionAborted { .. } => true,
            ClientEvent::Response { complete, .. } => *complete,
            ClientEvent::Malformed { action_id, .. } => action_id.is_some(),
            _ => false,
        }
    }
}

/// An action or command refused by the session; nothing was queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalError {
    /// No login has been started; the server would answer `Permission denied` (see
    /// [`ClientConfig::require_login`]).
    NotLoggedIn,
    /// A login is already in flight.
    LoginInProgress,
    /// The session is closed, or logging off.
    Closed,
    /// [`ClientConfig::max_in_flight`] actions are pending.
    TooManyPending {
        /// The limit.
        limit: usize,
    },
    /// The caller-supplied ActionID belongs to a pending action.
    DuplicateActionId,
    /// A name or value cannot be encoded (CR, LF, NUL, ...); the error's `field` is the index in
    /// the caller's action (0: the action name, 1: its first field, ...).
    Encode(EncodeError),
    /// The encoded action breaks the server's limits ([`ClientConfig::server_limits`]).
    ExceedsServerLimits(FrameErrorKind),
    /// The transmit buffer would hold more than [`ClientConfig::max_transmit`] bytes: flush it
    /// first.
    TransmitBufferFull {
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalError::NotLoggedIn => f.write_str("not logged in"),
            LocalError::LoginInProgress => f.write_str("a login is already in flight"),
            LocalError::Closed => f.write_str("the session is closed or logging off"),
            LocalError::TooManyPending { limit } => {
                write!(f, "too many pending actions (limit {limit})")
            }
            LocalError::DuplicateActionId => f.write_str("the ActionID is already pending"),
            LocalError::Encode(e) => write!(f, "cannot encode the action: {e}"),
            LocalError::ExceedsServerLimits(k) => {
                write!(f, "the action breaks the server's limits: {k}")
            }
            LocalError::TransmitBufferFull { limit } => {
                write!(f, "transmit buffer full (limit {limit} bytes)")
            }
        }
    }
}

impl std::error::Error for LocalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LocalError::Encode(e) => Some(e),
            LocalError::ExceedsServerLimits(k) => Some(k),
            _ => None,
        }
    }
}

impl From<EncodeError> for LocalError {
    fn from(e: EncodeError) -> LocalError {
        LocalError::Encode(e)
    }
}

// ---------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------

/// A secret kept until the MD5 challenge arrives; never printed.
#[derive(Clone)]
struct Secret(Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// What an action is, as far as correlation cares.
#[derive(Clone, Debug)]
enum Kind {
    Plain,
    Command,
    AsyncOriginate,
    Login,
    Logoff,
    /// The session's own MD5 `Challenge`, for the Login `login_id` (registered alongside).
    Challenge {
        login_id: ActionId,
        username: Vec<u8>,
        secret: Secret,
    },
    /// The session's own keepalive `Ping`.
    Keepalive,
}

impl Kind {
    /// Internal actions are not the caller's: no final event, not counted in max_in_flight.
    fn is_internal(&self) -> bool {
        matches!(self, Kind::Challenge { .. } | Kind::Keepalive)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    AwaitingResponse,
    /// List start received; items until the completion event.
    List,
    /// Async Originate accepted; waiting for OriginateResponse.
    AwaitingOriginateResponse,
    /// MD5 Login not sent yet (waiting for the Challenge's answer).
    AwaitingChallenge,
}

#[derive(Debug)]
struct Pending {
    seq: u64,
    kind: Kind,
    phase: Phase,
    deadline: Option<Instant>,
    /// Until when the server may legitimately be busy with it before reading the next action
    /// (a synchronous Originate waits for the call to be answered).
    blocks_until: Option<Instant>,
}

/// How a received message is reported (the message itself is attached when building the
/// event).
#[derive(Clone, Debug)]
enum Route {
    Banner,
    LoggedIn(ActionId),
    LoginFailed(ActionId),
    Response(ActionId, bool),
    ListStart(ActionId),
    ListItem(ActionId),
    ListComplete(ActionId),
    CommandOutput(ActionId),
    OriginateResponse(ActionId),
    Event,
    Unsolicited,
    /// A reply to the session's own action (the MD5 Challenge, a keepalive Ping): handled, not
    /// reported.
    Internal,
    Malformed(Option<ActionId>, MalformedError),
}

impl Route {
    /// The action this route ends, if it is final.
    fn final_action(&self) -> Option<&ActionId> {
        match self {
            Route::LoggedIn(id)
            | Route::LoginFailed(id)
            | Route::ListComplete(id)
            | Route::CommandOutput(id)
            | Route::OriginateResponse(id)
            | Route::Response(id, true) => Some(id),
            Route::Malformed(id, _) => id.as_ref(),
            _ => None,
        }
    }

    fn build(self, message: Message<'_>) -> ClientEvent<'_> {
        match self {
            Route::LoggedIn(action_id) => ClientEvent::LoggedIn { action_id, message },
            Route::LoginFailed(action_id) => ClientEvent::LoginFailed { action_id, message },
            Route::Response(action_id, complete) => {
                ClientEvent::Response { action_id, message, complete }
            }
            Route::ListStart(action_id) => ClientEvent::ListStart { action_id, message },
            Route::ListItem(action_id) => ClientEvent::ListItem { action_id, message },
            Route::ListComplete(action_id) => ClientEvent::ListComplete { action_id, message },
            Route::CommandOutput(action_id) => match message.command_output() {
                Some(output) => ClientEvent::CommandOutput { action_id, output },
                None => ClientEvent::Response { action_id, message, complete: true },
            },
            Route::OriginateResponse(action_id) => {
                ClientEvent::OriginateResponse { action_id, message }
            }
            // Filtered out before building (see `ClientSession::poll_event`).
            Route::Internal => ClientEvent::Unsolicited(message),
            Route::Unsolicited => ClientEvent::Unsolicited(message),
            Route::Malformed(action_id, error) => {
                ClientEvent::Malformed { action_id, error, message }
            }
            Route::Banner | Route::Event => ClientEvent::Event(message),
        }
    }
}

/// An event kept by the session (owned): timeouts, aborts, the close, and messages that had
/// to be decoded before the caller drained them.
#[derive(Debug)]
enum Stored {
    Banner(Vec<u8>),
    Message(Route, OwnedMessage),
    TimedOut(ActionId),
    Aborted(ActionId, CloseReason),
    Closed(CloseReason, bool),
}

impl Stored {
    fn event(&self) -> ClientEvent<'_> {
        match self {
            Stored::Banner(line) => {
                ClientEvent::Banner { line: line.as_slice(), version: banner_version(line) }
            }
            Stored::Message(route, msg) => route.clone().build(msg.as_message()),
            Stored::TimedOut(id) => ClientEvent::ActionTimedOut { action_id: id.clone() },
            Stored::Aborted(id, reason) => {
                ClientEvent::ActionAborted { action_id: id.clone(), reason: *reason }
            }
            Stored::Closed(reason, truncated) => {
                ClientEvent::Closed { reason: *reason, truncated: *truncated }
            }
        }
    }
}

fn banner_version(line: &[u8]) -> &[u8] {
    match memchr::memchr(b'/', line) {
        Some(i) => line.get(i + 1..).unwrap_or_default(),
        None => &[],
    }
}

/// Asterisk's `ast_true`.
fn ast_true(v: &[u8]) -> bool {
    [&b"yes"[..], b"true", b"y", b"t", b"1", b"on"].iter().any(|t| v.eq_ignore_ascii_case(t))
}

fn is_success(m: &Message<'_>) -> bool {
    m.response().is_some_and(|r| r.eq_ignore_ascii_case(b"Success"))
}

/// Checks one encoded action against the limits of the server that reads it.
fn check_server_limits(bytes: &[u8], limits: &DecoderLimits) -> Result<(), FrameErrorKind> {
    if bytes.len() > limits.max_message {
        return Err(FrameErrorKind::MessageTooLarge { limit: limits.max_message });
    }
    let mut lines = 0usize;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if line.len() > limits.max_line {
            return Err(FrameErrorKind::LineTooLong { limit: limits.max_line });
        }
        if line != b"\r\n" {
            lines += 1;
        }
    }
    if lines > limits.max_headers {
        return Err(FrameErrorKind::TooManyHeaders { limit: limits.max_headers });
    }
    Ok(())
}

/// Encodes `Action: <name>` with the ActionID `id` (in place of the first `ActionID` field,
/// or right after the Action line when `has_action_id_field` is false) and the fields, into
/// `out`. Appends
/// nothing on error; error field indices are the caller's.
fn encode_action<'f>(
    out: &mut Vec<u8>,
    name: &[u8],
    id: &[u8],
    fields: impl Iterator<Item = (&'f [u8], &'f [u8])>,
    has_action_id_field: bool,
    limits: Option<&DecoderLimits>,
) -> Result<(), LocalError> {
    let mark = out.len();
    {
        let mut w = MessageWriter::action(out, name)?;
        let mut wrote_id = false;
        if !has_action_id_field {
            w.header("ActionID", id)?;
            wrote_id = true;
        }
        for (i, (n, v)) in fields.enumerate() {
            let v = if !wrote_id && n.eq_ignore_ascii_case(b"ActionID") {
                wrote_id = true;
                id
            } else {
                v
            };
            w.header(n, v).map_err(|mut e| {
                e.field = i + 1;
                e
            })?;
        }
        w.finish();
    }
    if let Some(limits) = limits
        && let Err(kind) = check_server_limits(out.get(mark..).unwrap_or_default(), limits)
    {
        out.truncate(mark);
        return Err(LocalError::ExceedsServerLimits(kind));
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Special {
    Login,
    Logoff,
    Challenge,
    Command,
    Originate,
    Other,
}

impl Special {
    fn of(name: &[u8]) -> Special {
        let table = [
            (&b"Login"[..], Special::Login),
            (b"Logoff", Special::Logoff),
            (b"Challenge", Special::Challenge),
            (b"Command", Special::Command),
            (b"Originate", Special::Originate),
        ];
        table.iter().find(|(n, _)| name.eq_ignore_ascii_case(n)).map_or(Special::Other, |t| t.1)
    }
}

/// Everything but the decoder and the borrowed-event slot, so that a decoded frame (borrowing
/// the decoder) and the state it updates can be used at once.
#[derive(Debug)]
struct Core {
    config: ClientConfig,
    state: ClientState,
    now: Instant,
    /// When a byte was last received (or the session started).
    last_received: Instant,
    /// User actions that timed out since the last final answer.
    consecutive_timeouts: u32,
    next_id: u64,
    next_seq: u64,
    pending: BTreeMap<ActionId, Pending>,
    /// seq → ActionID, in sending order.
    order: BTreeMap<u64, ActionId>,
    deadlines: BTreeSet<(Instant, u64)>,
    user_pending: usize,
    login_pending: bool,
    keepalive_pending: bool,
    /// The server answered Logoff.
    goodbye: bool,
    /// The server refused a login.
    login_refused: bool,
    transmit: Vec<u8>,
    sent: usize,
    banner: Option<Vec<u8>>,
    /// Something (banner or message) was received.
    heard: bool,
    queue: VecDeque<Stored>,
}

impl Core {
    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn unsent(&self) -> usize {
        self.transmit.len() - self.sent
    }

    fn generate_id(&mut self) -> ActionId {
        loop {
            let n = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            let mut bytes = self.config.action_id_prefix.as_bytes().to_vec();
            bytes.extend_from_slice(n.to_string().as_bytes());
            if !self.pending.contains_key(bytes.as_slice()) {
                return ActionId::from(bytes);
            }
        }
    }

    fn insert(&mut self, id: ActionId, kind: Kind, phase: Phase, deadline: Option<Instant>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if !kind.is_internal() {
            self.user_pending += 1;
        }
        match kind {
            Kind::Login => self.login_pending = true,
            Kind::Keepalive => self.keepalive_pending = true,
            _ => {}
        }
        if let Some(d) = deadline {
            self.deadlines.insert((d, seq));
        }
        self.order.insert(seq, id.clone());
        self.pending.insert(id, Pending { seq, kind, phase, deadline, blocks_until: None });
    }

    fn remove(&mut self, id: &[u8]) -> Option<(ActionId, Pending)> {
        let (id, p) = self.pending.remove_entry(id)?;
        self.order.remove(&p.seq);
        if let Some(d) = p.deadline {
            self.deadlines.remove(&(d, p.seq));
        }
        if !p.kind.is_internal() {
            self.user_pending = self.user_pending.saturating_sub(1);
        }
        match p.kind {
            Kind::Login => self.login_pending = false,
            Kind::Keepalive => self.keepalive_pending = false,
            _ => {}
        }
        Some((id, p))
    }

    fn set_phase(&mut self, id: &[u8], phase: Phase) {
        if let Some(p) = self.pending.get_mut(id) {
            p.phase = phase;
        }
    }

    fn set_deadline(&mut self, id: &[u8], deadline: Option<Instant>) {
        if let Some(p) = self.pending.get_mut(id) {
            if let Some(d) = p.deadline {
                self.deadlines.remove(&(d, p.seq));
            }
            p.deadline = deadline;
            if let Some(d) = deadline {
                self.deadlines.insert((d, p.seq));
            }
        }
    }

    fn oldest_awaiting_response(&self) -> Option<ActionId> {
        self.order
            .values()
            .find(|id| {
                self.pending.get(id.as_bytes()).is_some_and(|p| p.phase == Phase::AwaitingResponse)
            })
            .cloned()
    }

    /// A login ended without success.
    fn login_not_ok(&mut self) {
        if self.state == ClientState::Authenticating {
            self.state =
                if self.heard { ClientState::Connected } else { ClientState::AwaitingBanner };
        }
    }

    fn login_ok(&mut self) {
        if matches!(
            self.state,
            ClientState::AwaitingBanner | ClientState::Connected | ClientState::Authenticating
        ) {
            self.state = ClientState::Ready;
        }
    }

    fn check_can_send(&self, special: Special) -> Result<(), LocalError> {
        if matches!(self.state, ClientState::Closed | ClientState::LoggingOff) {
            return Err(LocalError::Closed);
        }
        if special == Special::Login && self.login_pending {
            return Err(LocalError::LoginInProgress);
        }
        if self.config.require_login
            && matches!(self.state, ClientState::AwaitingBanner | ClientState::Connected)
            && !matches!(special, Special::Login | Special::Logoff | Special::Challenge)
        {
            return Err(LocalError::NotLoggedIn);
        }
        if self.user_pending >= self.config.max_in_flight {
            return Err(LocalError::TooManyPending { limit: self.config.max_in_flight });
        }
        Ok(())
    }

    fn send(
        &mut self,
        action: &Action,
        timeout: Option<Duration>,
        now: Instant,
    ) -> Result<ActionId, LocalError> {
        self.advance(now);
        let special = Special::of(action.name());
        self.check_can_send(special)?;
        let saved_next_id = self.next_id;
        let id = match action.get("ActionID").filter(|v| !v.is_empty()) {
            Some(v) if self.pending.contains_key(v) => return Err(LocalError::DuplicateActionId),
            Some(v) => ActionId::new(v),
            None => self.generate_id(),
        };
        let mark = self.transmit.len();
        let limits = self.config.server_limits;
        let has_id_field = action.get("ActionID").is_some();
        let encoded = encode_action(
            &mut self.transmit,
            action.name(),
            id.as_bytes(),
            action.fields.iter(),
            has_id_field,
            limits.as_ref(),
        );
        if let Err(e) = encoded {
            self.next_id = saved_next_id;
            return Err(e);
        }
        if self.unsent() > self.config.max_transmit {
            self.transmit.truncate(mark);
            self.next_id = saved_next_id;
            return Err(LocalError::TransmitBufferFull { limit: self.config.max_transmit });
        }
        let mut deadline = timeout.map(|t| self.now + t);
        let kind = match special {
            Special::Login => {
                self.login_refused = false;
                if self.state != ClientState::Ready {
                    self.state = ClientState::Authenticating;
                }
                Kind::Login
            }
            Special::Logoff => {
                self.state = ClientState::LoggingOff;
                Kind::Logoff
            }
            Special::Command => Kind::Command,
            Special::Originate if is_async_originate(action) => {
                deadline = deadline.map(|d| d + originate_ring_time(action));
                Kind::AsyncOriginate
            }
            _ => Kind::Plain,
        };
        let blocks = special == Special::Originate && matches!(kind, Kind::Plain);
        self.insert(id.clone(), kind, Phase::AwaitingResponse, deadline);
        if blocks && let Some(p) = self.pending.get_mut(id.as_bytes()) {
            // Asterisk runs a synchronous Originate in the session's thread: nothing behind it
            // is answered until the call is answered or its Timeout has passed.
            p.blocks_until = Some(self.now + originate_ring_time(action));
        }
        Ok(id)
    }

    fn login_md5(&mut self, username: &[u8], secret: &[u8]) -> Result<ActionId, LocalError> {
        self.check_can_send(Special::Login)?;
        let limits = self.config.server_limits;
        // Check the Login that will be sent once the challenge arrives.
        let mut probe = Vec::new();
        let dummy_key = [b'0'; 32];
        let mut fields: Vec<(&[u8], &[u8])> =
            vec![(b"AuthType", b"MD5"), (b"Username", username), (b"Key", &dummy_key)];
        if let Some(events) = &self.config.events {
            fields.push((b"Events", events));
        }
        let probe_id = self.config.action_id_prefix.clone() + "0000000000";
        encode_action(
            &mut probe,
            b"Login",
            probe_id.as_bytes(),
            fields.iter().copied(),
            false,
            limits.as_ref(),
        )?;
        let saved_next_id = self.next_id;
        let challenge_id = self.generate_id();
        let login_id = self.generate_id();
        let mark = self.transmit.len();
        let challenge_fields = [(&b"AuthType"[..], &b"MD5"[..])];
        let encoded = encode_action(
            &mut self.transmit,
            b"Challenge",
            challenge_id.as_bytes(),
            challenge_fields.iter().copied(),
            false,
            limits.as_ref(),
        );
        if let Err(e) = encoded {
            self.next_id = saved_next_id;
            return Err(e);
        }
        if self.unsent() > self.config.max_transmit {
            self.transmit.truncate(mark);
            self.next_id = saved_next_id;
            return Err(LocalError::TransmitBufferFull { limit: self.config.max_transmit });
        }
        let deadline = self.config.action_timeout.map(|t| self.now + t);
        let kind = Kind::Challenge {
            login_id: login_id.clone(),
            username: username.to_vec(),
            secret: Secret(secret.to_vec()),
        };
        self.insert(challenge_id, kind, Phase::AwaitingResponse, deadline);
        self.insert(login_id.clone(), Kind::Login, Phase::AwaitingChallenge, None);
        self.login_refused = false;
        if self.state != ClientState::Ready {
            self.state = ClientState::Authenticating;
        }
        Ok(login_id)
    }

    /// Sends the MD5 Login after the challenge `challenge` arrived.
    fn send_md5_login(
        &mut self,
        login_id: &ActionId,
        username: &[u8],
        secret: &[u8],
        challenge: &[u8],
    ) -> Result<(), LocalError> {
        let key = md5_key(challenge, secret);
        let events = self.config.events.clone();
        let mut fields: Vec<(&[u8], &[u8])> =
            vec![(b"AuthType", b"MD5"), (b"Username", username), (b"Key", &key)];
        if let Some(events) = &events {
            fields.push((b"Events", events));
        }
        // Checked at login(); the limits are not applied again (the challenge is short).
        encode_action(
            &mut self.transmit,
            b"Login",
            login_id.as_bytes(),
            fields.into_iter(),
            false,
            None,
        )
    }

    fn send_keepalive(&mut self, k: Keepalive) {
        let id = self.generate_id();
        let fields = core::iter::empty();
        let encoded =
            encode_action(&mut self.transmit, b"Ping", id.as_bytes(), fields, false, None);
        if encoded.is_ok() {
            // Answered in order: not before a synchronous Originate ahead of it is done.
            let busy_until = self
                .pending
                .values()
                .filter(|p| p.phase == Phase::AwaitingResponse)
                .filter_map(|p| p.blocks_until)
                .max()
                .unwrap_or(self.now)
                .max(self.now);
            self.insert(id, Kind::Keepalive, Phase::AwaitingResponse, Some(busy_until + k.timeout));
        }
    }

    fn keepalive_due(&self) -> Option<Instant> {
        let k = self.config.keepalive?;
        (self.state == ClientState::Ready && !self.keepalive_pending)
            .then(|| self.last_received + k.interval)
    }

    // ---- routing of received frames ----

    fn route(&mut self, item: &Result<Frame<'_>, FrameError<'_>>) -> Route {
        self.last_received = self.now;
        self.heard = true;
        if self.state == ClientState::AwaitingBanner {
            self.state = ClientState::Connected;
        }
        let route = self.route_frame(item);
        if !matches!(
            route,
            Route::Banner | Route::Event | Route::Unsolicited | Route::Malformed(None, _)
        ) {
            // The server answered an action: it is alive.
            self.consecutive_timeouts = 0;
        }
        route
    }

    fn route_frame(&mut self, item: &Result<Frame<'_>, FrameError<'_>>) -> Route {
        match item {
            Ok(Frame::Banner(b)) => {
                self.banner = Some(b.line().to_vec());
                Route::Banner
            }
            Ok(Frame::Message(m)) => match m.kind() {
                MessageKind::Response => self.route_response(m),
                MessageKind::Event => self.route_event(m),
                MessageKind::Action | MessageKind::Unknown => {
                    Route::Malformed(None, MalformedError::NotResponseOrEvent)
                }
            },
            Err(e) if e.kind() == FrameErrorKind::NotAmiServer => {
                Route::Malformed(None, MalformedError::NotAmiServer)
            }
            Err(e) => {
                let error = MalformedError::Limit(e.kind());
                let partial = e.partial();
                let route = match partial.kind() {
                    MessageKind::Response => self.route_response(&partial),
                    MessageKind::Event => self.route_event(&partial),
                    _ => Route::Malformed(None, error),
                };
                Route::Malformed(route.final_action().cloned(), error)
            }
        }
    }

    fn route_response(&mut self, m: &Message<'_>) -> Route {
        let id = match m.action_id().filter(|v| !v.is_empty()) {
            Some(v) => match self.pending.get_key_value(v) {
                Some((k, p)) if p.phase == Phase::AwaitingResponse => k.clone(),
                _ => return Route::Unsolicited,
            },
            None => match self.oldest_awaiting_response() {
                Some(k) => k,
                None => return Route::Unsolicited,
            },
        };
        let success = is_success(m);
        let Some(p) = self.pending.get(id.as_bytes()) else {
            return Route::Unsolicited;
        };
        match &p.kind {
            Kind::Login => {
                self.remove(id.as_bytes());
                if success {
                    self.login_ok();
                    Route::LoggedIn(id)
                } else {
                    self.login_refused = true;
                    self.login_not_ok();
                    Route::LoginFailed(id)
                }
            }
            Kind::Challenge { .. } => self.on_challenge(id, m, success),
            Kind::Keepalive => {
                self.remove(id.as_bytes());
                Route::Internal
            }
            Kind::Logoff => {
                self.remove(id.as_bytes());
                self.goodbye = true;
                Route::Response(id, true)
            }
            _ if m.event_list().is_some_and(|v| v.eq_ignore_ascii_case(b"start")) => {
                self.set_phase(id.as_bytes(), Phase::List);
                Route::ListStart(id)
            }
            Kind::Command if m.command_output().is_some() => {
                self.remove(id.as_bytes());
                Route::CommandOutput(id)
            }
            Kind::AsyncOriginate if success => {
                self.set_phase(id.as_bytes(), Phase::AwaitingOriginateResponse);
                Route::Response(id, false)
            }
            _ => {
                self.remove(id.as_bytes());
                Route::Response(id, true)
            }
        }
    }

    fn on_challenge(&mut self, id: ActionId, m: &Message<'_>, success: bool) -> Route {
        let Some((_, p)) = self.remove(id.as_bytes()) else {
            return Route::Unsolicited;
        };
        let Kind::Challenge { login_id, username, secret } = p.kind else {
            return Route::Unsolicited;
        };
        if !self.pending.contains_key(login_id.as_bytes()) {
            // The login was given up meanwhile; nothing to answer.
            return Route::Internal;
        }
        let challenge = m.get("Challenge").filter(|c| !c.is_empty());
        if let Some(challenge) = challenge.filter(|_| success)
            && self.send_md5_login(&login_id, &username, &secret.0, challenge).is_ok()
        {
            self.set_phase(login_id.as_bytes(), Phase::AwaitingResponse);
            self.set_deadline(login_id.as_bytes(), p.deadline);
            return Route::Internal;
        }
        self.remove(login_id.as_bytes());
        self.login_refused = true;
        self.login_not_ok();
        Route::LoginFailed(login_id)
    }

    fn route_event(&mut self, m: &Message<'_>) -> Route {
        if self.pending.is_empty() {
            return Route::Event;
        }
        let Some(v) = m.action_id().filter(|v| !v.is_empty()) else {
            return Route::Event;
        };
        let Some((id, p)) = self.pending.get_key_value(v) else {
            return Route::Event;
        };
        let id = id.clone();
        match p.phase {
            Phase::List => {
                let done = m.event_list().is_some_and(|v| {
                    v.eq_ignore_ascii_case(b"Complete") || v.eq_ignore_ascii_case(b"Cancelled")
                });
                if done {
                    self.remove(id.as_bytes());
                    Route::ListComplete(id)
                } else {
                    Route::ListItem(id)
                }
            }
            Phase::AwaitingOriginateResponse
                if m.event().is_some_and(|e| e.eq_ignore_ascii_case(b"OriginateResponse")) =>
            {
                self.remove(id.as_bytes());
                Route::OriginateResponse(id)
            }
            _ => Route::Event,
        }
    }

    // ---- time and the end of the connection ----

    fn expire(&mut self, now: Instant) {
        while let Some(&(t, seq)) = self.deadlines.first() {
            if t > now {
                break;
            }
            let Some(id) = self.order.get(&seq).cloned() else {
                self.deadlines.remove(&(t, seq));
                continue;
            };
            let Some((id, p)) = self.remove(id.as_bytes()) else {
                self.deadlines.remove(&(t, seq));
                continue;
            };
            match p.kind {
                Kind::Keepalive => {
                    self.close(CloseReason::KeepaliveTimeout, false);
                    return;
                }
                Kind::Challenge { login_id, .. } => {
                    if self.remove(login_id.as_bytes()).is_some() {
                        self.login_not_ok();
                        self.queue.push_back(Stored::TimedOut(login_id));
                    }
                }
                Kind::Login => {
                    self.login_not_ok();
                    self.queue.push_back(Stored::TimedOut(id));
                }
                _ => {
                    self.queue.push_back(Stored::TimedOut(id));
                    self.consecutive_timeouts = self.consecutive_timeouts.saturating_add(1);
                    if self
                        .config
                        .max_consecutive_timeouts
                        .is_some_and(|max| self.consecutive_timeouts >= max)
                    {
                        self.close(CloseReason::Unresponsive, false);
                        return;
                    }
                }
            }
        }
    }

    fn close(&mut self, reason: CloseReason, truncated: bool) {
        if self.state == ClientState::Closed {
            return;
        }
        for id in self.order.values() {
            let internal = self.pending.get(id.as_bytes()).is_none_or(|p| p.kind.is_internal());
            if !internal {
                self.queue.push_back(Stored::Aborted(id.clone(), reason));
            }
        }
        self.pending.clear();
        self.order.clear();
        self.deadlines.clear();
        self.user_pending = 0;
        self.login_pending = false;
        self.keepalive_pending = false;
        self.transmit.clear();
        self.sent = 0;
        self.state = ClientState::Closed;
        self.queue.push_back(Stored::Closed(reason, truncated));
    }
}

/// The whole time limit a session gives `action` when it is sent with `timeout`: `timeout`
/// itself, except for an async `Originate` (a true `Async` header), whose `OriginateResponse`
/// comes only when the call is answered or given up: it gets its own `Timeout` header
/// (milliseconds, Asterisk's default 30 s) on top. An I/O layer that enforces deadlines of its
/// own uses this to agree with the session.
///
/// ```
/// use ami_proto::client::time_limit;
/// use ami_proto::encode::Action;
/// use ami_proto::time::Duration;
///
/// let ping = Action::new("Ping");
/// assert_eq!(time_limit(&ping, Duration::from_secs(10)), Duration::from_secs(10));
/// let call = Action::new("Originate").with("Async", "yes").with("Timeout", "20000");
/// assert_eq!(time_limit(&call, Duration::from_secs(10)), Duration::from_secs(30));
/// ```
pub fn time_limit(action: &Action, timeout: Duration) -> Duration {
    if Special::of(action.name()) == Special::Originate && is_async_originate(action) {
        timeout + originate_ring_time(action)
    } else {
        timeout
    }
}

fn is_async_originate(action: &Action) -> bool {
    action.get("Async").is_some_and(ast_true)
}

/// The `Timeout` of an Originate (ms; 30 s when absent or unreadable, as in Asterisk).
fn originate_ring_time(action: &Action) -> Duration {
    let ms = action
        .get("Timeout")
        .and_then(|t| core::str::from_utf8(t).ok())
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or(30_000);
    Duration::from_millis(ms)
}

/// A sans-IO AMI client session. See the [module documentation](self) for the run loop and the
/// correlation rules.
#[derive(Debug)]
pub struct ClientSession {
    decoder: Decoder,
    core: Core,
    /// The stored event lent out by the last `poll_event`.
    current: Option<Stored>,
}

impl ClientSession {
    /// A new session on a connection opened at `now`. Nothing is sent until a command.
    pub fn new(config: ClientConfig, now: Instant) -> ClientSession {
        let decoder = Decoder::with_limits(Role::Client, config.decoder_limits)
            .unwrap_or_else(|_| Decoder::new(Role::Client));
        ClientSession {
            decoder,
            core: Core {
                config,
                state: ClientState::AwaitingBanner,
                now,
                last_received: now,
                consecutive_timeouts: 0,
                next_id: 1,
                next_seq: 0,
                pending: BTreeMap::new(),
                order: BTreeMap::new(),
                deadlines: BTreeSet::new(),
                user_pending: 0,
                login_pending: false,
                keepalive_pending: false,
                goodbye: false,
                login_refused: false,
                transmit: Vec::new(),
                sent: 0,
                banner: None,
                heard: false,
                queue: VecDeque::new(),
            },
            current: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.core.config
    }

    /// Where the session stands.
    pub fn state(&self) -> ClientState {
        self.core.state
    }

    /// The banner line received from the server (without its line end), once it came.
    pub fn banner(&self) -> Option<&[u8]> {
        self.core.banner.as_deref()
    }

    /// Number of the caller's actions still waiting for their final event.
    pub fn pending_actions(&self) -> usize {
        self.core.user_pending
    }

    /// True if the caller's action `id` is still waiting for its final event.
    pub fn is_pending(&self, id: impl AsRef<[u8]>) -> bool {
        self.core.pending.get(id.as_ref()).is_some_and(|p| !p.kind.is_internal())
    }

    // ---- inputs ----

    /// Bytes received from the server, in any chunks. They are decoded lazily, by
    /// [`poll_event`](ClientSession::poll_event). Ignored once the session is closed.
    pub fn handle_input(&mut self, data: &[u8]) {
        if self.core.state == ClientState::Closed {
            return;
        }
        self.decoder.feed(data);
        if !data.is_empty() {
            self.core.last_received = self.core.now;
        }
    }

    /// The server closed the connection (or reading or writing failed). Messages already
    /// received are still reported, then every pending action gets
    /// [`ActionAborted`](ClientEvent::ActionAborted) and the session
    /// [`Closed`](ClientEvent::Closed). A message cut short by the EOF is dropped, as
    /// Asterisk's own reader does (spec §1.6), and reported as `truncated`.
    pub fn handle_eof(&mut self) {
        if self.core.state == ClientState::Closed {
            return;
        }
        self.spill();
        let truncated = self.decoder.is_mid_message();
        let core = &mut self.core;
        let reason = if core.goodbye {
            CloseReason::Logoff
        } else if core.login_refused && core.state != ClientState::Ready {
            CloseReason::LoginFailed
        } else {
            CloseReason::PeerClosed
        };
        core.close(reason, truncated);
    }

    /// The timer armed from [`poll_timeout`](ClientSession::poll_timeout) fired (calling it
    /// early or late is harmless). Times out overdue actions (after accounting for every
    /// message already received) and sends a keepalive `Ping` when one is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.core.state == ClientState::Closed {
            return;
        }
        self.core.advance(now);
        self.spill();
        let now = self.core.now;
        self.core.expire(now);
        if let (Some(k), Some(due)) = (self.core.config.keepalive, self.core.keepalive_due())
            && now >= due
        {
            self.core.send_keepalive(k);
        }
    }

    /// Decodes and routes every complete message still buffered, keeping the events, so that
    /// what follows (a timeout, the close) is decided after them and reported after them.
    /// Nothing is copied when the caller drained the events, as the run loop does.
    fn spill(&mut self) {
        let ClientSession { decoder, core, .. } = self;
        while let Some(item) = decoder.next_frame() {
            let route = core.route(&item);
            if matches!(route, Route::Internal) {
                continue;
            }
            let stored = match item {
                Ok(Frame::Banner(b)) => Stored::Banner(b.line().to_vec()),
                Ok(Frame::Message(m)) => Stored::Message(route, m.to_owned_message()),
                Err(e) => Stored::Message(route, e.partial().to_owned_message()),
            };
            core.queue.push_back(stored);
        }
    }

    // ---- commands ----

    /// Starts a login, which [`LoggedIn`](ClientEvent::LoggedIn) or
    /// [`LoginFailed`](ClientEvent::LoginFailed) ends. May be called before the banner. Sends
    /// `Login` (`Username`, `Secret`, and `Events` if [configured](ClientConfig::events)), or
    /// for [`LoginMethod::Md5`] a `Challenge` first and the `Login` with the key when the
    /// challenge arrives. Returns the Login's ActionID.
    pub fn login(
        &mut self,
        username: impl AsRef<[u8]>,
        secret: impl AsRef<[u8]>,
        method: LoginMethod,
    ) -> Result<ActionId, LocalError> {
        let (username, secret) = (username.as_ref(), secret.as_ref());
        match method {
            LoginMethod::Plain => {
                let mut action = Action::new("Login").with("Username", username);
                action.push("Secret", secret);
                if let Some(events) = &self.core.config.events {
                    action.push("Events", events.clone());
                }
                let (timeout, now) = (self.core.config.action_timeout, self.core.now);
                self.core.send(&action, timeout, now)
            }
            LoginMethod::Md5 => self.core.login_md5(username, secret),
        }
    }

    /// Queues an action with the default time limit ([`ClientConfig::action_timeout`]) and
    /// returns its ActionID: the action's first `ActionID` field if it is non-empty (it must
    /// not be pending), else a generated one, written right after the `Action` line (or in
    /// place of an empty `ActionID` field).
    ///
    /// Refused before a login is started (except `Login`, `Challenge`, `Logoff`), after
    /// `Logoff` or the close, and when a limit would be exceeded; see [`LocalError`]. `Login`
    /// and `Logoff` sent this way act like [`login`](ClientSession::login) (with the caller's
    /// fields) and [`logoff`](ClientSession::logoff).
    pub fn send_action(&mut self, action: &Action, now: Instant) -> Result<ActionId, LocalError> {
        let timeout = self.core.config.action_timeout;
        self.core.send(action, timeout, now)
    }

    /// [`send_action`](ClientSession::send_action) with this action's own time limit (`None`:
    /// none), e.g. for a long synchronous `Originate`.
    pub fn send_action_with_timeout(
        &mut self,
        action: &Action,
        now: Instant,
        timeout: Option<Duration>,
    ) -> Result<ActionId, LocalError> {
        self.core.send(action, timeout, now)
    }

    /// Sends `Logoff`. The server answers `Response: Goodbye` (reported as a
    /// [`Response`](ClientEvent::Response)) and closes; [`handle_eof`](ClientSession::handle_eof)
    /// then reports [`Closed`](ClientEvent::Closed) with [`CloseReason::Logoff`]. Actions still
    /// pending then are aborted. No action can be sent after it.
    pub fn logoff(&mut self) -> Result<ActionId, LocalError> {
        let (timeout, now) = (self.core.config.action_timeout, self.core.now);
        self.core.send(&Action::new("Logoff"), timeout, now)
    }

    // ---- outputs ----

    /// The next event, or `None` when there is nothing more until the next input or command.
    /// The event borrows the session until the next call that takes it mutably.
    pub fn poll_event(&mut self) -> Option<ClientEvent<'_>> {
        self.current = self.core.queue.pop_front();
        if let Some(stored) = &self.current {
            return Some(stored.event());
        }
        if self.core.state == ClientState::Closed {
            return None;
        }
        let ClientSession { decoder, core, .. } = self;
        loop {
            // Two steps (token, then view) so that the session's own replies (the MD5
            // Challenge, keepalive Pings), which are handled by routing them, can be skipped.
            let token = decoder.advance()?;
            let route = core.route(&decoder.frame(token)?);
            if matches!(route, Route::Internal) {
                continue;
            }
            return Some(match decoder.frame(token)? {
                Ok(Frame::Banner(b)) => banner_event(b),
                Ok(Frame::Message(m)) => route.build(m),
                Err(e) => route.build(e.partial()),
            });
        }
    }

    /// Bytes to send to the server (empty if none). Report how many were written with
    /// [`consume_transmit`](ClientSession::consume_transmit).
    pub fn poll_transmit(&self) -> &[u8] {
        self.core.transmit.get(self.core.sent..).unwrap_or_default()
    }

    /// `n` bytes of [`poll_transmit`](ClientSession::poll_transmit) were written (more than
    /// are waiting counts as all).
    pub fn consume_transmit(&mut self, n: usize) {
        let core = &mut self.core;
        core.sent += n.min(core.unsent());
        if core.sent == core.transmit.len() {
            core.transmit.clear();
            core.sent = 0;
        } else if core.sent >= 4096 && core.sent * 2 >= core.transmit.len() {
            core.transmit.drain(..core.sent);
            core.sent = 0;
        }
    }

    /// When [`handle_timeout`](ClientSession::handle_timeout) should be called next (the
    /// earliest action deadline or keepalive), or `None`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.core.state == ClientState::Closed {
            return None;
        }
        let deadline = self.core.deadlines.first().map(|&(t, _)| t);
        match (deadline, self.core.keepalive_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

fn banner_event(b: Banner<'_>) -> ClientEvent<'_> {
    ClientEvent::Banner { line: b.line(), version: b.version() }
}
