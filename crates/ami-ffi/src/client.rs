//! `ami_client`: the sans-IO client session (login, actions matched to their answers, events,
//! timeouts), with the current event kept as an owned copy readable through const accessors.

use core::ffi::c_char;

use ami_proto::client::{ClientState, CloseReason, Keepalive, LoginMethod};
use ami_proto::message::OwnedMessage;
use ami_proto::time::{Duration, Instant};
use ami_proto::{ClientConfig, ClientEvent, ClientSession, LocalError, Message};

use crate::builder::ami_message_builder;
use crate::decoder::ami_header;
use crate::error::{
    HandleState, ami_bytes, ami_result, free_handle, input, input_text, last_error, new_handle,
    with_mut, with_ref, write,
};
use ami_result::*;

/// Settings of an `ami_client`. Fill it with `ami_client_config_default`, then change fields.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ami_client_config {
    /// Time limit of an action, from sending it to its final event, in ms (0: none; default
    /// 30000). An action past it ends with `AMI_CLIENT_EVENT_ACTION_TIMED_OUT`.
    pub action_timeout_ms: u64,
    /// Silence (no byte received, whether or not actions are pending) before a keepalive
    /// `Ping` is sent, in ms (0: no keepalive, the default).
    pub keepalive_interval_ms: u64,
    /// How long the keepalive `Ping` may go unanswered before the session closes, in ms (at
    /// least as long as the actions sent before it still await their responses).
    pub keepalive_timeout_ms: u64,
    /// Most actions pending at once (default 1024).
    pub max_in_flight: usize,
    /// Most bytes waiting to be sent (default 1 MiB).
    pub max_transmit: usize,
    /// Refuse actions other than Login, Challenge and Logoff before a login (default true).
    pub require_login: bool,
    /// Close the session (`AMI_CLOSE_UNRESPONSIVE`) after this many actions in a row timed out
    /// (0: never, the default).
    pub max_consecutive_timeouts: u32,
}

/// What `ami_client_poll_event` found. Read the event with the `ami_client_event_*` accessors.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ami_client_event_kind {
    /// Nothing more until the next input, command or timeout.
    AMI_CLIENT_EVENT_NONE = 0,
    /// The server's greeting (`ami_client_event_banner`).
    AMI_CLIENT_EVENT_BANNER = 1,
    /// The login was accepted (final event of the login's action).
    AMI_CLIENT_EVENT_LOGGED_IN = 2,
    /// The login was refused (final); the server closes next.
    AMI_CLIENT_EVENT_LOGIN_FAILED = 3,
    /// The response to an action (final unless `ami_client_event_is_final` says otherwise, for
    /// an accepted async Originate).
    AMI_CLIENT_EVENT_RESPONSE = 4,
    /// The response that starts an event list.
    AMI_CLIENT_EVENT_LIST_START = 5,
    /// One item of an event list.
    AMI_CLIENT_EVENT_LIST_ITEM = 6,
    /// The event that ends a list (final).
    AMI_CLIENT_EVENT_LIST_COMPLETE = 7,
    /// The output of a `Command` action (final; `ami_client_event_output_lines`).
    AMI_CLIENT_EVENT_COMMAND_OUTPUT = 8,
    /// The `OriginateResponse` of an async Originate (final).
    AMI_CLIENT_EVENT_ORIGINATE_RESPONSE = 9,
    /// An asynchronous event.
    AMI_CLIENT_EVENT_EVENT = 10,
    /// A response that answers no pending action.
    AMI_CLIENT_EVENT_UNSOLICITED = 11,
    /// The action got no final answer in time (final).
    AMI_CLIENT_EVENT_ACTION_TIMED_OUT = 12,
    /// The connection ended before the action's final answer (final;
    /// `ami_client_event_close_reason` says why).
    AMI_CLIENT_EVENT_ACTION_ABORTED = 13,
    /// A message the session could not use (it broke a limit, or is neither a response nor an
    /// event); final for its action if it has an action id.
    AMI_CLIENT_EVENT_MALFORMED = 14,
    /// The session is over; always the last event (`ami_client_event_close_reason`).
    AMI_CLIENT_EVENT_CLOSED = 15,
    /// An event of a later libami version; the generic accessors still work.
    AMI_CLIENT_EVENT_OTHER = 16,
}

/// Why a client session ended.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ami_close_reason {
    /// The server closed after answering Logoff.
    AMI_CLOSE_LOGOFF = 0,
    /// The server closed after refusing the login.
    AMI_CLOSE_LOGIN_FAILED = 1,
    /// The server closed at another time (or the caller reported EOF or an I/O error).
    AMI_CLOSE_PEER_CLOSED = 2,
    /// The keepalive Ping went unanswered: drop the connection.
    AMI_CLOSE_KEEPALIVE_TIMEOUT = 3,
    /// A reason of a later libami version.
    AMI_CLOSE_OTHER = 4,
    /// `max_consecutive_timeouts` actions in a row timed out: drop the connection.
    AMI_CLOSE_UNRESPONSIVE = 5,
}

/// Where a client session stands (`ami_client_get_state`).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ami_client_state {
    /// Nothing received yet and no login started.
    AMI_CLIENT_AWAITING_BANNER = 0,
    /// Connected, not logged in, no login in flight.
    AMI_CLIENT_CONNECTED = 1,
    /// A login (or its MD5 challenge) is in flight.
    AMI_CLIENT_AUTHENTICATING = 2,
    /// Logged in: any action may be sent.
    AMI_CLIENT_READY = 3,
    /// Logoff sent.
    AMI_CLIENT_LOGGING_OFF = 4,
    /// The connection is over.
    AMI_CLIENT_CLOSED = 5,
}

/// How `ami_client_login` authenticates (passed as `uint32_t`).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ami_login_method {
    /// `Login` with `Username` and `Secret` (the secret crosses the wire in clear).
    AMI_LOGIN_PLAIN = 0,
    /// `Challenge` (MD5) first, then `Login` with `Key: md5hex(challenge + secret)`.
    AMI_LOGIN_MD5 = 1,
}

/// The event last returned by `ami_client_poll_event`, copied out of the session.
#[derive(Debug)]
struct Current {
    kind: ami_client_event_kind,
    action_id: Option<Vec<u8>>,
    message: Option<OwnedMessage>,
    banner: Vec<u8>,
    reason: Option<CloseReason>,
    truncated: bool,
    is_final: bool,
}

/// A client session (opaque): bytes from the server in, bytes to send and events out. Not
/// thread-safe.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ami_client {
    session: ClientSession,
    current: Option<Current>,
    action_id: Vec<u8>,
    state: HandleState,
}

crate::error::impl_handle!(ami_client);

fn config_to_c(c: &ClientConfig) -> ami_client_config {
    ami_client_config {
        action_timeout_ms: c.action_timeout.map_or(0, Duration::as_millis),
        keepalive_interval_ms: c.keepalive.map_or(0, |k| k.interval.as_millis()),
        keepalive_timeout_ms: c.keepalive.map_or(0, |k| k.timeout.as_millis()),
        max_in_flight: c.max_in_flight,
        max_transmit: c.max_transmit,
        require_login: c.require_login,
        max_consecutive_timeouts: c.max_consecutive_timeouts.unwrap_or(0),
    }
}

fn config_from_c(c: &ami_client_config) -> ClientConfig {
    let mut config = ClientConfig::default();
    config.action_timeout =
        (c.action_timeout_ms > 0).then(|| Duration::from_millis(c.action_timeout_ms));
    config.keepalive = (c.keepalive_interval_ms > 0).then(|| Keepalive {
        interval: Duration::from_millis(c.keepalive_interval_ms),
        timeout: Duration::from_millis(c.keepalive_timeout_ms),
    });
    config.max_in_flight = c.max_in_flight;
    config.max_transmit = c.max_transmit;
    config.require_login = c.require_login;
    config.max_consecutive_timeouts =
        (c.max_consecutive_timeouts > 0).then_some(c.max_consecutive_timeouts);
    config
}

/// A header view of line `i` of `m` (shared with the server's accessors).
pub(crate) fn header_at(m: Message<'_>, i: usize) -> Option<ami_header> {
    let h = m.header(i)?;
    Some(ami_header {
        name: ami_bytes::from(h.name()),
        value: ami_bytes::from(h.value()),
        bare: h.is_bare(),
    })
}

/// A refused command: the code and the last error text.
fn refused(c: &mut ami_client, e: LocalError) -> ami_result {
    c.state.last_error = e.to_string();
    match e {
        LocalError::Encode(_) => AMI_RESULT_ENCODE_ERROR,
        _ => AMI_RESULT_REFUSED,
    }
}

/// Writes the default settings to `out`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_config_default(out: *mut ami_client_config) -> ami_result {
    crate::error::guard(|| write(out, config_to_c(&ClientConfig::default())))
}

/// Creates a client session with `config` (NULL: the defaults) at time `now_ms` (any monotonic
/// millisecond clock; use the same clock for every call). Free it with `ami_client_free`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_new(
    config: *const ami_client_config,
    now_ms: u64,
    out: *mut *mut ami_client,
) -> ami_result {
    crate::error::guard(|| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        // SAFETY: by the C contract a non-NULL `config` points to a readable ami_client_config.
        let config = match unsafe { config.as_ref() } {
            None => ClientConfig::default(),
            Some(c) => config_from_c(c),
        };
        let session = ClientSession::new(config, Instant::from_millis(now_ms));
        new_handle(
            out,
            ami_client {
                session,
                current: None,
                action_id: Vec::new(),
                state: HandleState::default(),
            },
        )
    })
}

/// Frees a client session. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_free(client: *mut ami_client) {
    free_handle(client);
}

/// Starts a login with `method` (`AMI_LOGIN_PLAIN` or `AMI_LOGIN_MD5`); the session answers
/// the MD5 challenge by itself. Ends with `AMI_CLIENT_EVENT_LOGGED_IN` or
/// `AMI_CLIENT_EVENT_LOGIN_FAILED`. `action_id` (may be NULL) receives the Login's ActionID,
/// valid until the next non-const call. `AMI_RESULT_REFUSED` if a login is in flight or the
/// session is closed.
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_login(
    client: *mut ami_client,
    username: *const c_char,
    username_len: usize,
    secret: *const c_char,
    secret_len: usize,
    method: u32,
    action_id: *mut ami_bytes,
) -> ami_result {
    with_mut(client, |c| {
        let (user, secret) =
            match (input_text(username, username_len), input_text(secret, secret_len)) {
                (Ok(u), Ok(s)) => (u, s),
                (Err(e), _) | (_, Err(e)) => return e,
            };
        let method = match method {
            0 => LoginMethod::Plain,
            1 => LoginMethod::Md5,
            _ => return AMI_RESULT_INVALID_PARAMETER,
        };
        c.current = None;
        match c.session.login(user, secret, method) {
            Ok(id) => {
                c.action_id = id.as_bytes().to_vec();
                if action_id.is_null() {
                    return AMI_RESULT_OK;
                }
                write(action_id, ami_bytes::from(&c.action_id))
            }
            Err(e) => refused(c, e),
        }
    })
}

/// Queues the action built in `action` (an `AMI_MESSAGE_ACTION` builder, which is not changed)
/// at time `now_ms`. Its ActionID is its own `ActionID` header if non-empty, else a generated
/// one; `action_id` (may be NULL) receives it, valid until the next non-const call.
/// `AMI_RESULT_REFUSED` before a login, after Logoff or the close, or when a limit would be
/// exceeded; `AMI_RESULT_INVALID_PARAMETER` if `action` is not an action.
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_send_action(
    client: *mut ami_client,
    action: *const ami_message_builder,
    now_ms: u64,
    action_id: *mut ami_bytes,
) -> ami_result {
    with_mut(client, |c| {
        // SAFETY: by the C contract a non-NULL `action` is a live builder not used elsewhere
        // during the call.
        let Some(builder) = (unsafe { action.as_ref() }) else {
            return AMI_RESULT_NULL_PARAMETER;
        };
        let Some(action) = builder.action() else { return AMI_RESULT_INVALID_PARAMETER };
        c.current = None;
        match c.session.send_action(action, Instant::from_millis(now_ms)) {
            Ok(id) => {
                c.action_id = id.as_bytes().to_vec();
                if action_id.is_null() {
                    return AMI_RESULT_OK;
                }
                write(action_id, ami_bytes::from(&c.action_id))
            }
            Err(e) => refused(c, e),
        }
    })
}

/// Sends `Logoff`; the server answers `Goodbye` and closes. `action_id` as in
/// `ami_client_send_action`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_logoff(
    client: *mut ami_client,
    action_id: *mut ami_bytes,
) -> ami_result {
    with_mut(client, |c| {
        c.current = None;
        match c.session.logoff() {
            Ok(id) => {
                c.action_id = id.as_bytes().to_vec();
                if action_id.is_null() {
                    return AMI_RESULT_OK;
                }
                write(action_id, ami_bytes::from(&c.action_id))
            }
            Err(e) => refused(c, e),
        }
    })
}

/// Feeds `len` bytes received from the server (any chunking). Then drain the events.
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_handle_input(
    client: *mut ami_client,
    data: *const u8,
    len: usize,
) -> ami_result {
    with_mut(client, |c| {
        let data = match input(data, len) {
            Ok(d) => d,
            Err(e) => return e,
        };
        c.current = None;
        c.session.handle_input(data);
        AMI_RESULT_OK
    })
}

/// The server closed the connection (or reading failed): pending actions are aborted and
/// `AMI_CLIENT_EVENT_CLOSED` follows.
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_handle_eof(client: *mut ami_client) -> ami_result {
    with_mut(client, |c| {
        c.current = None;
        c.session.handle_eof();
        AMI_RESULT_OK
    })
}

/// Tells the session the time is `now_ms` (call it when `ami_client_poll_timeout` says):
/// actions past their time limit end, keepalive Pings are queued.
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_handle_timeout(client: *mut ami_client, now_ms: u64) -> ami_result {
    with_mut(client, |c| {
        c.current = None;
        c.session.handle_timeout(Instant::from_millis(now_ms));
        AMI_RESULT_OK
    })
}

fn close_reason(r: CloseReason) -> ami_close_reason {
    match r {
        CloseReason::Logoff => ami_close_reason::AMI_CLOSE_LOGOFF,
        CloseReason::LoginFailed => ami_close_reason::AMI_CLOSE_LOGIN_FAILED,
        CloseReason::PeerClosed => ami_close_reason::AMI_CLOSE_PEER_CLOSED,
        CloseReason::KeepaliveTimeout => ami_close_reason::AMI_CLOSE_KEEPALIVE_TIMEOUT,
        CloseReason::Unresponsive => ami_close_reason::AMI_CLOSE_UNRESPONSIVE,
        _ => ami_close_reason::AMI_CLOSE_OTHER,
    }
}

fn current_of(e: &ClientEvent<'_>) -> Current {
    use ami_client_event_kind::*;
    let kind = match e {
        ClientEvent::Banner { .. } => AMI_CLIENT_EVENT_BANNER,
        ClientEvent::LoggedIn { .. } => AMI_CLIENT_EVENT_LOGGED_IN,
        ClientEvent::LoginFailed { .. } => AMI_CLIENT_EVENT_LOGIN_FAILED,
        ClientEvent::Response { .. } => AMI_CLIENT_EVENT_RESPONSE,
        ClientEvent::ListStart { .. } => AMI_CLIENT_EVENT_LIST_START,
        ClientEvent::ListItem { .. } => AMI_CLIENT_EVENT_LIST_ITEM,
        ClientEvent::ListComplete { .. } => AMI_CLIENT_EVENT_LIST_COMPLETE,
        ClientEvent::CommandOutput { .. } => AMI_CLIENT_EVENT_COMMAND_OUTPUT,
        ClientEvent::OriginateResponse { .. } => AMI_CLIENT_EVENT_ORIGINATE_RESPONSE,
        ClientEvent::Event(_) => AMI_CLIENT_EVENT_EVENT,
        ClientEvent::Unsolicited(_) => AMI_CLIENT_EVENT_UNSOLICITED,
        ClientEvent::ActionTimedOut { .. } => AMI_CLIENT_EVENT_ACTION_TIMED_OUT,
        ClientEvent::ActionAborted { .. } => AMI_CLIENT_EVENT_ACTION_ABORTED,
        ClientEvent::Malformed { .. } => AMI_CLIENT_EVENT_MALFORMED,
        ClientEvent::Closed { .. } => AMI_CLIENT_EVENT_CLOSED,
        _ => AMI_CLIENT_EVENT_OTHER,
    };
    let (reason, truncated) = match e {
        ClientEvent::Closed { reason, truncated } => (Some(*reason), *truncated),
        ClientEvent::ActionAborted { reason, .. } => (Some(*reason), false),
        _ => (None, false),
    };
    let banner = match e {
        ClientEvent::Banner { version, .. } => version.to_vec(),
        _ => Vec::new(),
    };
    Current {
        kind,
        action_id: e.action_id().map(|a| a.as_bytes().to_vec()),
        message: e.message().map(|m| m.to_owned_message()),
        banner,
        reason,
        truncated,
        is_final: e.is_final(),
    }
}

/// Takes the next event and writes its kind (`AMI_CLIENT_EVENT_NONE`: nothing more for now).
/// It stays current, readable with the `ami_client_event_*` accessors, until the next
/// non-const call on the client.
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_poll_event(
    client: *mut ami_client,
    kind: *mut ami_client_event_kind,
) -> ami_result {
    with_mut(client, |c| {
        if kind.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        c.current = c.session.poll_event().map(|e| current_of(&e));
        let k = c.current.as_ref().map_or(ami_client_event_kind::AMI_CLIENT_EVENT_NONE, |e| e.kind);
        write(kind, k)
    })
}

fn current(c: &ami_client) -> Result<&Current, ami_result> {
    c.current.as_ref().ok_or(AMI_RESULT_NO_FRAME)
}

fn current_message(c: &ami_client) -> Result<Message<'_>, ami_result> {
    let cur = current(c)?;
    cur.message.as_ref().map(OwnedMessage::as_message).ok_or(AMI_RESULT_NOT_FOUND)
}

/// Writes the ActionID the current event is about. `AMI_RESULT_NO_FRAME` without a current
/// event, `AMI_RESULT_NOT_FOUND` if it is about no action (banner, event, unsolicited, closed).
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_event_action_id(
    client: *const ami_client,
    out: *mut ami_bytes,
) -> ami_result {
    with_ref(client, |c| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match current(c) {
            Ok(Current { action_id: Some(id), .. }) => write(out, ami_bytes::from(id)),
            Ok(_) => AMI_RESULT_NOT_FOUND,
            Err(e) => e,
        }
    })
}

/// Writes whether the current event is the final one of its action (the action is no longer
/// pending).
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_event_is_final(
    client: *const ami_client,
    out: *mut bool,
) -> ami_result {
    with_ref(client, |c| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match current(c) {
            Ok(cur) => write(out, cur.is_final),
            Err(e) => e,
        }
    })
}

/// Writes the number of lines of the current event's message. `AMI_RESULT_NOT_FOUND` for an
/// event without one (banner, timed out, aborted, closed).
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_event_header_count(
    client: *const ami_client,
    out: *mut usize,
) -> ami_result {
    with_ref(client, |c| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match current_message(c) {
            Ok(m) => write(out, m.len()),
            Err(e) => e,
        }
    })
}

/// Writes line `index` (from 0) of the current event's message, as `ami_decoder_header` does.
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_event_header(
    client: *const ami_client,
    index: usize,
    out: *mut ami_header,
) -> ami_result {
    with_ref(client, |c| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match current_message(c) {
            Ok(m) => header_at(m, index).map_or(AMI_RESULT_NOT_FOUND, |h| write(out, h)),
            Err(e) => e,
        }
    })
}

/// Writes the value of the first header called `name` (case-insensitive) of the current
/// event's message. `AMI_RESULT_NOT_FOUND` if there is none.
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_event_get(
    client: *const ami_client,
    name: *const c_char,
    len: usize,
    out: *mut ami_bytes,
) -> ami_result {
    with_ref(client, |c| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let name = match input_text(name, len) {
            Ok(n) => n,
            Err(e) => return e,
        };
        match current_message(c) {
            Ok(m) => m.get(name).map_or(AMI_RESULT_NOT_FOUND, |v| write(out, ami_bytes::from(v))),
            Err(e) => e,
        }
    })
}

/// Fills `lines[0..count)` with the output lines of an `AMI_CLIENT_EVENT_COMMAND_OUTPUT`, as
/// `ami_decoder_output_lines` does (`AMI_RESULT_INSUFFICIENT_SIZE` writes the count needed).
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_event_output_lines(
    client: *const ami_client,
    lines: *mut ami_bytes,
    cap: usize,
    count: *mut usize,
) -> ami_result {
    with_ref(client, |c| {
        if count.is_null() || (lines.is_null() && cap > 0) {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let m = match current_message(c) {
            Ok(m) => m,
            Err(e) => return e,
        };
        let Some(output) = m.command_output() else { return AMI_RESULT_NOT_FOUND };
        let n = output.lines().count();
        if n > cap {
            return write(count, n).and(AMI_RESULT_INSUFFICIENT_SIZE);
        }
        for (i, line) in output.lines().enumerate() {
            // SAFETY: `i < n <= cap`, so `lines` is non-NULL and, by the C contract,
            // `lines[i]` is writable.
            unsafe { lines.add(i).write(ami_bytes::from(line)) };
        }
        write(count, n)
    })
}

/// Writes why the session ended, for `AMI_CLIENT_EVENT_CLOSED` and
/// `AMI_CLIENT_EVENT_ACTION_ABORTED`; `truncated` (may be NULL) says whether the server's bytes
/// ended in the middle of a message. `AMI_RESULT_NOT_FOUND` for other events.
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_event_close_reason(
    client: *const ami_client,
    reason: *mut ami_close_reason,
    truncated: *mut bool,
) -> ami_result {
    with_ref(client, |c| {
        if reason.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match current(c) {
            Ok(Current { reason: Some(r), truncated: t, .. }) => {
                let r = write(reason, close_reason(*r));
                if truncated.is_null() { r } else { r.and(write(truncated, *t)) }
            }
            Ok(_) => AMI_RESULT_NOT_FOUND,
            Err(e) => e,
        }
    })
}

/// Writes the version of an `AMI_CLIENT_EVENT_BANNER` (the text after `/`, e.g. `11.0.0`).
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_event_banner(
    client: *const ami_client,
    version: *mut ami_bytes,
) -> ami_result {
    with_ref(client, |c| {
        if version.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match current(c) {
            Ok(cur) if cur.kind == ami_client_event_kind::AMI_CLIENT_EVENT_BANNER => {
                write(version, ami_bytes::from(&cur.banner))
            }
            Ok(_) => AMI_RESULT_NOT_FOUND,
            Err(e) => e,
        }
    })
}

/// Writes a view of the bytes waiting to be sent to the server (empty if none). Send what you
/// can, then report it with `ami_client_consume_transmit`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_poll_transmit(
    client: *const ami_client,
    out: *mut ami_bytes,
) -> ami_result {
    with_ref(client, |c| write(out, ami_bytes::from(c.session.poll_transmit())))
}

/// `n` bytes of `ami_client_poll_transmit` were sent (more than are waiting counts as all).
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_consume_transmit(client: *mut ami_client, n: usize) -> ami_result {
    with_mut(client, |c| {
        c.current = None;
        c.session.consume_transmit(n);
        AMI_RESULT_OK
    })
}

/// Writes whether a deadline is set (`has`) and, if so, when `ami_client_handle_timeout`
/// should be called next (`at_ms`, untouched when `has` is false).
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_poll_timeout(
    client: *const ami_client,
    has: *mut bool,
    at_ms: *mut u64,
) -> ami_result {
    with_ref(client, |c| {
        if has.is_null() || at_ms.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match c.session.poll_timeout() {
            Some(t) => write(at_ms, t.as_millis()).and(write(has, true)),
            None => write(has, false),
        }
    })
}

/// Writes where the session stands.
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_get_state(
    client: *const ami_client,
    out: *mut ami_client_state,
) -> ami_result {
    with_ref(client, |c| {
        use ami_client_state::*;
        let s = match c.session.state() {
            ClientState::AwaitingBanner => AMI_CLIENT_AWAITING_BANNER,
            ClientState::Connected => AMI_CLIENT_CONNECTED,
            ClientState::Authenticating => AMI_CLIENT_AUTHENTICATING,
            ClientState::Ready => AMI_CLIENT_READY,
            ClientState::LoggingOff => AMI_CLIENT_LOGGING_OFF,
            ClientState::Closed => AMI_CLIENT_CLOSED,
        };
        write(out, s)
    })
}

/// Writes the text of the last failure of a non-const call on this client (empty if that call
/// succeeded). Also works on a poisoned client.
#[unsafe(no_mangle)]
pub extern "C" fn ami_client_last_error(
    client: *const ami_client,
    out: *mut crate::error::ami_str,
) -> ami_result {
    last_error(client, out)
}
