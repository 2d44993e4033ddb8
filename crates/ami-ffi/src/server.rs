//! `ami_server`: the sans-IO many-session AMI server. Sessions are named by `uint64_t` ids; the
//! action a session waits to have answered is kept inside the handle, so the answering calls
//! name only the session.

use core::ffi::c_char;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use ami_proto::config::{ConfigOptions, NoIncludes, parse_manager_conf};
use ami_proto::perm::Privilege;
use ami_proto::server::{ActionRef, DisconnectReason, PublishedEvent, ServerError};
use ami_proto::time::{Duration, Instant};
use ami_proto::{Server, ServerEvent, ServerOptions, SessionId};

use crate::builder::ami_message_builder;
use crate::client::header_at;
use crate::decoder::ami_header;
use crate::error::{
    HandleState, ami_bytes, ami_result, ami_str, free_handle, input, input_text, last_error,
    new_handle, with_mut, with_ref, write,
};
use ami_result::*;

/// Settings of an `ami_server`. Fill it with `ami_server_options_default`, then change fields.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ami_server_options {
    /// Delay before `Authentication failed` is sent, in ms (default 1000, as Asterisk).
    pub login_failure_delay_ms: u64,
    /// Most bytes queued for one session before its events are dropped (default 1 MiB).
    pub max_outbound: usize,
    /// Most unprocessed bytes from one session before it is disconnected (default 1 MiB).
    pub max_inbound: usize,
}

/// What `ami_server_poll_event` found. Read it with the `ami_server_event_*` accessors.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ami_server_event_kind {
    /// Nothing more for now.
    AMI_SERVER_EVENT_NONE = 0,
    /// An action the session's user may run that the server does not answer itself: answer it
    /// with `ami_server_ack`, `_error`, `_respond`, `_command_output` or a list. Until then the
    /// session processes no further request.
    AMI_SERVER_EVENT_ACTION = 1,
    /// A login succeeded (`ami_server_event_username`).
    AMI_SERVER_EVENT_LOGGED_IN = 2,
    /// A login failed (`ami_server_event_username`); the answer follows after the login
    /// failure delay, then the session is disconnected.
    AMI_SERVER_EVENT_LOGIN_FAILED = 3,
    /// A security event (already published to the sessions reading `security`).
    AMI_SERVER_EVENT_SECURITY = 4,
    /// The session's outbound queue is full: events for it are dropped until it is sent.
    AMI_SERVER_EVENT_SLOW_CONSUMER = 5,
    /// The session is over: send what `ami_server_poll_transmit` still holds, close the
    /// connection, then call `ami_server_remove` (`ami_server_event_disconnect_reason`).
    AMI_SERVER_EVENT_DISCONNECT = 6,
    /// An event of a later libami version.
    AMI_SERVER_EVENT_OTHER = 7,
}

/// Why a server session ended.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ami_disconnect_reason {
    /// The client sent Logoff.
    AMI_DISCONNECT_LOGOFF = 0,
    /// A login failed.
    AMI_DISCONNECT_LOGIN_FAILED = 1,
    /// `allowmultiplelogin = no` refused a second login.
    AMI_DISCONNECT_LOGIN_IN_USE = 2,
    /// The client did not log in within `authtimeout`.
    AMI_DISCONNECT_AUTH_TIMEOUT = 3,
    /// The client closed its side.
    AMI_DISCONNECT_PEER_CLOSED = 4,
    /// The client sent too much unprocessed input.
    AMI_DISCONNECT_INPUT_OVERFLOW = 5,
    /// A reason of a later libami version.
    AMI_DISCONNECT_OTHER = 6,
    /// The client did not read its answers: a list part found its outbound queue full.
    AMI_DISCONNECT_OUTPUT_OVERFLOW = 7,
}

/// An AMI server (opaque): many sessions, bytes in, bytes out, actions for the application.
/// Not thread-safe.
#[allow(non_camel_case_types)]
pub struct ami_server {
    server: Server,
    sessions: HashMap<u64, SessionId>,
    pending: HashMap<u64, ActionRef>,
    current: Option<(SessionId, ServerEvent)>,
    state: HandleState,
}

impl core::fmt::Debug for ami_server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ami_server").field("server", &self.server).finish_non_exhaustive()
    }
}

crate::error::impl_handle!(ami_server);

/// SplitMix64: a small generator for MD5 challenges, seeded by the caller.
fn splitmix(seed: u64) -> impl FnMut() -> u32 + Send {
    let mut state = seed;
    move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 32) as u32
    }
}

/// Writes the default options to `out`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_options_default(out: *mut ami_server_options) -> ami_result {
    crate::error::guard(|| {
        let d = ServerOptions::default();
        write(
            out,
            ami_server_options {
                login_failure_delay_ms: d.login_failure_delay.as_millis(),
                max_outbound: d.max_outbound,
                max_inbound: d.max_inbound,
            },
        )
    })
}

/// Creates a server for the users and `[general]` settings of the manager.conf text
/// `manager_conf` (`len` bytes; `#include` is not followed) with `options` (NULL: the
/// defaults; every action of the catalog registered). `seed` chooses where the MD5 challenges
/// come from: 0 (recommended) draws each from the operating system's CSPRNG (`getrandom`), so
/// a recorded key cannot be replayed; any other value seeds a deterministic generator, for
/// tests that need reproducible challenges only. `AMI_RESULT_CONFIG_ERROR` if the text is not UTF-8 or Asterisk would refuse it.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_new(
    manager_conf: *const c_char,
    len: usize,
    options: *const ami_server_options,
    seed: u64,
    out: *mut *mut ami_server,
) -> ami_result {
    crate::error::guard(|| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let text = match input_text(manager_conf, len) {
            Ok(t) => t,
            Err(e) => return e,
        };
        let Ok(text) = core::str::from_utf8(text) else { return AMI_RESULT_CONFIG_ERROR };
        let Ok(config) = parse_manager_conf(text, &mut NoIncludes, &ConfigOptions::default())
        else {
            return AMI_RESULT_CONFIG_ERROR;
        };
        let mut opts = ServerOptions::default();
        // SAFETY: by the C contract a non-NULL `options` points to a readable
        // ami_server_options.
        if let Some(o) = unsafe { options.as_ref() } {
            opts.login_failure_delay = Duration::from_millis(o.login_failure_delay_ms);
            opts.max_outbound = o.max_outbound;
            opts.max_inbound = o.max_inbound;
        }
        let random: Box<dyn ami_proto::server::RandomSource> = if seed == 0 {
            Box::new(|| {
                getrandom::u32().expect("the operating system's random number generator failed")
            })
        } else {
            Box::new(splitmix(seed))
        };
        let server = Server::new(config, opts, random);
        new_handle(
            out,
            ami_server {
                server,
                sessions: HashMap::new(),
                pending: HashMap::new(),
                current: None,
                state: HandleState::default(),
            },
        )
    })
}

/// Frees a server and every session in it. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_free(server: *mut ami_server) {
    free_handle(server);
}

fn session(s: &ami_server, id: u64) -> Result<SessionId, ami_result> {
    s.sessions.get(&id).copied().ok_or(AMI_RESULT_NOT_FOUND)
}

/// Accepts a connection from `peer_ip` (`len` bytes of IPv4 or IPv6 text) port `port` at
/// `now_ms`, and writes the new session's id (never 0, never reused) to `session_out`. The
/// banner is queued for it. `AMI_RESULT_REFUSED` when `authlimit` unauthenticated sessions are
/// open: close the connection without sending anything.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_accept(
    server: *mut ami_server,
    peer_ip: *const c_char,
    len: usize,
    port: u16,
    now_ms: u64,
    session_out: *mut u64,
) -> ami_result {
    with_mut(server, |s| {
        if session_out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let ip = match input_text(peer_ip, len) {
            Ok(t) => t,
            Err(e) => return e,
        };
        let Some(ip) = core::str::from_utf8(ip).ok().and_then(|t| t.parse::<IpAddr>().ok()) else {
            return AMI_RESULT_INVALID_PARAMETER;
        };
        s.current = None;
        match s.server.accept(SocketAddr::new(ip, port), Instant::from_millis(now_ms)) {
            Ok(id) => {
                s.sessions.insert(id.get(), id);
                write(session_out, id.get())
            }
            Err(e) => {
                s.state.last_error = e.to_string();
                AMI_RESULT_REFUSED
            }
        }
    })
}

/// Feeds `len` bytes received on `session` at `now_ms`. `AMI_RESULT_NOT_FOUND` for an unknown
/// (or removed) session.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_handle_input(
    server: *mut ami_server,
    session_id: u64,
    data: *const u8,
    len: usize,
    now_ms: u64,
) -> ami_result {
    with_mut(server, |s| {
        let data = match input(data, len) {
            Ok(d) => d,
            Err(e) => return e,
        };
        let id = match session(s, session_id) {
            Ok(id) => id,
            Err(e) => return e,
        };
        s.current = None;
        s.server.handle_input(id, data, Instant::from_millis(now_ms));
        AMI_RESULT_OK
    })
}

/// The client closed its side of `session` (or reading failed) at `now_ms`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_handle_eof(
    server: *mut ami_server,
    session_id: u64,
    now_ms: u64,
) -> ami_result {
    with_mut(server, |s| {
        let id = match session(s, session_id) {
            Ok(id) => id,
            Err(e) => return e,
        };
        s.current = None;
        s.server.handle_eof(id, Instant::from_millis(now_ms));
        AMI_RESULT_OK
    })
}

/// Tells the server the time is `now_ms` (call it when `ami_server_poll_timeout` says): delayed
/// login failures are answered, `authtimeout` is enforced.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_handle_timeout(server: *mut ami_server, now_ms: u64) -> ami_result {
    with_mut(server, |s| {
        s.current = None;
        s.server.handle_timeout(Instant::from_millis(now_ms));
        AMI_RESULT_OK
    })
}

/// Writes whether a deadline is set (`has`) and, if so, when `ami_server_handle_timeout`
/// should be called next (`at_ms`, untouched when `has` is false).
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_poll_timeout(
    server: *const ami_server,
    has: *mut bool,
    at_ms: *mut u64,
) -> ami_result {
    with_ref(server, |s| {
        if has.is_null() || at_ms.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match s.server.poll_timeout() {
            Some(t) => write(at_ms, t.as_millis()).and(write(has, true)),
            None => write(has, false),
        }
    })
}

/// Takes the next event: writes its kind and the session it is about (`session_out` is
/// untouched for `AMI_SERVER_EVENT_NONE`). It stays current, readable with the
/// `ami_server_event_*` accessors, until the next non-const call on the server. An
/// `AMI_SERVER_EVENT_ACTION` also becomes the session's pending action, which the answering
/// calls refer to until one of them completes it.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_poll_event(
    server: *mut ami_server,
    kind: *mut ami_server_event_kind,
    session_out: *mut u64,
) -> ami_result {
    with_mut(server, |s| {
        use ami_server_event_kind::*;
        if kind.is_null() || session_out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        s.current = s.server.poll_event();
        let Some((id, event)) = &s.current else { return write(kind, AMI_SERVER_EVENT_NONE) };
        let k = match event {
            ServerEvent::ActionReceived { action } => {
                s.pending.insert(id.get(), action.clone());
                AMI_SERVER_EVENT_ACTION
            }
            ServerEvent::LoggedIn { .. } => AMI_SERVER_EVENT_LOGGED_IN,
            ServerEvent::LoginFailed { .. } => AMI_SERVER_EVENT_LOGIN_FAILED,
            ServerEvent::Security(_) => AMI_SERVER_EVENT_SECURITY,
            ServerEvent::SlowConsumer { .. } => AMI_SERVER_EVENT_SLOW_CONSUMER,
            ServerEvent::Disconnect { .. } => AMI_SERVER_EVENT_DISCONNECT,
            _ => AMI_SERVER_EVENT_OTHER,
        };
        write(session_out, id.get()).and(write(kind, k))
    })
}

fn current_action(s: &ami_server) -> Result<&ActionRef, ami_result> {
    match &s.current {
        Some((_, ServerEvent::ActionReceived { action })) => Ok(action),
        Some(_) => Err(AMI_RESULT_NOT_FOUND),
        None => Err(AMI_RESULT_NO_FRAME),
    }
}

/// Writes the canonical name of the current `AMI_SERVER_EVENT_ACTION` (`Getvar` for
/// `Action: GETVAR`).
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_event_action_name(
    server: *const ami_server,
    out: *mut ami_str,
) -> ami_result {
    with_ref(server, |s| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match current_action(s) {
            Ok(a) => write(out, ami_str::from(a.name())),
            Err(e) => e,
        }
    })
}

/// Writes the number of lines of the current action's request.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_event_header_count(
    server: *const ami_server,
    out: *mut usize,
) -> ami_result {
    with_ref(server, |s| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match current_action(s) {
            Ok(a) => write(out, a.message().len()),
            Err(e) => e,
        }
    })
}

/// Writes line `index` (from 0) of the current action's request, as `ami_decoder_header`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_event_header(
    server: *const ami_server,
    index: usize,
    out: *mut ami_header,
) -> ami_result {
    with_ref(server, |s| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match current_action(s) {
            Ok(a) => header_at(a.message(), index).map_or(AMI_RESULT_NOT_FOUND, |h| write(out, h)),
            Err(e) => e,
        }
    })
}

/// Writes the value of the first header called `name` (case-insensitive, even if empty) of the
/// current action's request. `AMI_RESULT_NOT_FOUND` if there is none.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_event_get(
    server: *const ami_server,
    name: *const c_char,
    len: usize,
    out: *mut ami_bytes,
) -> ami_result {
    with_ref(server, |s| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let name = match input_text(name, len) {
            Ok(n) => n,
            Err(e) => return e,
        };
        match current_action(s) {
            Ok(a) => a.get(name).map_or(AMI_RESULT_NOT_FOUND, |v| write(out, ami_bytes::from(v))),
            Err(e) => e,
        }
    })
}

/// Writes the `Username` of the current `AMI_SERVER_EVENT_LOGGED_IN` or
/// `AMI_SERVER_EVENT_LOGIN_FAILED` as the client typed it.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_event_username(
    server: *const ami_server,
    out: *mut ami_bytes,
) -> ami_result {
    with_ref(server, |s| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match &s.current {
            Some((_, ServerEvent::LoggedIn { username }))
            | Some((_, ServerEvent::LoginFailed { username, .. })) => {
                write(out, ami_bytes::from(username))
            }
            Some(_) => AMI_RESULT_NOT_FOUND,
            None => AMI_RESULT_NO_FRAME,
        }
    })
}

/// Writes why the session of the current `AMI_SERVER_EVENT_DISCONNECT` ended.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_event_disconnect_reason(
    server: *const ami_server,
    out: *mut ami_disconnect_reason,
) -> ami_result {
    with_ref(server, |s| {
        use ami_disconnect_reason::*;
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let reason = match &s.current {
            Some((_, ServerEvent::Disconnect { reason })) => reason,
            Some(_) => return AMI_RESULT_NOT_FOUND,
            None => return AMI_RESULT_NO_FRAME,
        };
        write(
            out,
            match reason {
                DisconnectReason::Logoff => AMI_DISCONNECT_LOGOFF,
                DisconnectReason::LoginFailed => AMI_DISCONNECT_LOGIN_FAILED,
                DisconnectReason::LoginInUse => AMI_DISCONNECT_LOGIN_IN_USE,
                DisconnectReason::AuthTimeout => AMI_DISCONNECT_AUTH_TIMEOUT,
                DisconnectReason::PeerClosed => AMI_DISCONNECT_PEER_CLOSED,
                DisconnectReason::InputOverflow => AMI_DISCONNECT_INPUT_OVERFLOW,
                DisconnectReason::OutputOverflow => AMI_DISCONNECT_OUTPUT_OVERFLOW,
                _ => AMI_DISCONNECT_OTHER,
            },
        )
    })
}

/// Runs an answering call on `session`'s pending action; `done` removes it when the call
/// completes the answer.
fn answer(
    s: &mut ami_server,
    session_id: u64,
    done: bool,
    f: impl FnOnce(&mut Server, SessionId, &ActionRef) -> Result<(), ServerError>,
) -> ami_result {
    let id = match session(s, session_id) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let Some(action) = s.pending.get(&session_id) else {
        s.state.last_error = ServerError::NotPending.to_string();
        return AMI_RESULT_NOT_FOUND;
    };
    s.current = None;
    match f(&mut s.server, id, action) {
        Ok(()) => {
            if done {
                s.pending.remove(&session_id);
            }
            AMI_RESULT_OK
        }
        Err(e) => {
            let code = match e {
                ServerError::Encode(_) => AMI_RESULT_ENCODE_ERROR,
                ServerError::OutboundFull { .. } => {
                    // The server closed the session and ended the action.
                    s.pending.remove(&session_id);
                    AMI_RESULT_REFUSED
                }
                _ => AMI_RESULT_NOT_FOUND,
            };
            s.state.last_error = e.to_string();
            code
        }
    }
}

fn text_arg<'a>(data: *const c_char, len: usize) -> Result<&'a [u8], ami_result> {
    input_text(data, len)
}

/// Answers the pending action of `session` with `Response: Success` and `Message: <message>`.
/// `AMI_RESULT_NOT_FOUND` if the session is unknown or has no pending action;
/// `AMI_RESULT_ENCODE_ERROR` if `message` has CR, LF or NUL.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_ack(
    server: *mut ami_server,
    session_id: u64,
    message: *const c_char,
    len: usize,
) -> ami_result {
    with_mut(server, |s| match text_arg(message, len) {
        Ok(m) => answer(s, session_id, true, |srv, id, a| srv.ack(id, a, m)),
        Err(e) => e,
    })
}

/// Answers the pending action of `session` with `Response: Error` and `Message: <message>`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_error(
    server: *mut ami_server,
    session_id: u64,
    message: *const c_char,
    len: usize,
) -> ami_result {
    with_mut(server, |s| match text_arg(message, len) {
        Ok(m) => answer(s, session_id, true, |srv, id, a| srv.error(id, a, m)),
        Err(e) => e,
    })
}

/// Answers the pending action of `session` with the response built in `response` (an
/// `AMI_MESSAGE_RESPONSE` builder, not changed): its status, the echoed ActionID (unless it
/// has its own `ActionID` header), its headers. `AMI_RESULT_INVALID_PARAMETER` for another
/// kind of builder.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_respond(
    server: *mut ami_server,
    session_id: u64,
    response: *const ami_message_builder,
) -> ami_result {
    with_mut(server, |s| {
        // SAFETY: by the C contract a non-NULL `response` is a live builder.
        let Some(b) = (unsafe { response.as_ref() }) else { return AMI_RESULT_NULL_PARAMETER };
        let Some(r) = b.response() else { return AMI_RESULT_INVALID_PARAMETER };
        answer(s, session_id, true, |srv, id, a| srv.respond(id, a, r))
    })
}

/// Starts a list answer to the pending action of `session` (`EventList: start`,
/// `Message: <message>`); the action stays pending. `AMI_RESULT_REFUSED` if the session's
/// outbound queue is full: its client does not read, so the session has been closed (an
/// `AMI_SERVER_EVENT_DISCONNECT` with `AMI_DISCONNECT_OUTPUT_OVERFLOW` follows) and the action
/// is over, as Asterisk ends a session whose write exceeds `writetimeout`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_list_start(
    server: *mut ami_server,
    session_id: u64,
    message: *const c_char,
    len: usize,
) -> ami_result {
    with_mut(server, |s| match text_arg(message, len) {
        Ok(m) => answer(s, session_id, false, |srv, id, a| srv.list_start(id, a, m)),
        Err(e) => e,
    })
}

/// Writes one list item, the event built in `item` (an `AMI_MESSAGE_EVENT` builder), with the
/// echoed ActionID; the action stays pending. `AMI_RESULT_REFUSED` as for
/// `ami_server_list_start` when the session's outbound queue is full (the session is closed).
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_list_item(
    server: *mut ami_server,
    session_id: u64,
    item: *const ami_message_builder,
) -> ami_result {
    with_mut(server, |s| {
        // SAFETY: by the C contract a non-NULL `item` is a live builder.
        let Some(b) = (unsafe { item.as_ref() }) else { return AMI_RESULT_NULL_PARAMETER };
        let Some(e) = b.event() else { return AMI_RESULT_INVALID_PARAMETER };
        answer(s, session_id, false, |srv, id, a| srv.list_item(id, a, e))
    })
}

/// Ends a list answer with `Event: <event_name>` (UTF-8), `EventList: Complete` and
/// `ListItems: <items>`; the action is answered.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_list_complete(
    server: *mut ami_server,
    session_id: u64,
    event_name: *const c_char,
    len: usize,
    items: usize,
) -> ami_result {
    with_mut(server, |s| {
        let name = match text_arg(event_name, len) {
            Ok(n) => n,
            Err(e) => return e,
        };
        let Ok(name) = core::str::from_utf8(name) else { return AMI_RESULT_INVALID_PARAMETER };
        answer(s, session_id, true, |srv, id, a| srv.list_complete(id, a, name, items, &[]))
    })
}

/// Answers a pending `Command` action with `text` (`len` bytes) as `Output:` lines, with
/// `Response: Success` or, if `success` is false, `Error`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_command_output(
    server: *mut ami_server,
    session_id: u64,
    success: bool,
    text: *const c_char,
    len: usize,
) -> ami_result {
    with_mut(server, |s| match text_arg(text, len) {
        Ok(t) => answer(s, session_id, true, |srv, id, a| srv.command_output(id, a, success, t)),
        Err(e) => e,
    })
}

/// Publishes the event `name` of `category` (an `AMI_PERM_*` mask) with the `n` lines in
/// `fields` (each `name: value`; a `bare` one is the line `value` as given) to every session
/// whose read classes and filters accept it; `delivered` receives how many. Nothing is
/// published on `AMI_RESULT_ENCODE_ERROR` (a line could inject a header; `_last_error` says
/// which). `fields` may be NULL when `n` is 0.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_publish(
    server: *mut ami_server,
    name: *const c_char,
    name_len: usize,
    category: u32,
    fields: *const ami_header,
    n: usize,
    delivered: *mut usize,
) -> ami_result {
    with_mut(server, |s| {
        if delivered.is_null() || (fields.is_null() && n > 0) {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let name = match text_arg(name, name_len) {
            Ok(n) => n,
            Err(e) => return e,
        };
        let fields: &[ami_header] = if n == 0 {
            &[]
        } else if n > isize::MAX as usize / core::mem::size_of::<ami_header>() {
            return AMI_RESULT_INVALID_PARAMETER;
        } else {
            // SAFETY: `fields` is non-NULL (checked above) and, by the C contract, points to `n`
            // readable ami_header values.
            unsafe { core::slice::from_raw_parts(fields, n) }
        };
        let built = (|| {
            let mut e = PublishedEvent::new(name, Privilege::from_bits(category))?;
            for f in fields {
                let (fname, value) =
                    match (input(f.name.data, f.name.len), input(f.value.data, f.value.len)) {
                        (Ok(a), Ok(b)) => (a, b),
                        (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
                    };
                if f.bare {
                    e.raw_line(value)?;
                } else {
                    e.header(fname, value)?;
                }
            }
            Ok::<_, ami_proto::encode::EncodeError>(Ok(e))
        })();
        match built {
            Ok(Ok(e)) => {
                s.current = None;
                let count = s.server.publish(&e);
                write(delivered, count)
            }
            Ok(Err(code)) => code,
            Err(e) => {
                s.state.last_error = e.to_string();
                AMI_RESULT_ENCODE_ERROR
            }
        }
    })
}

/// Writes a view of the bytes waiting to be sent on `session` (empty if none). Send what you
/// can, then report it with `ami_server_consume_transmit`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_poll_transmit(
    server: *const ami_server,
    session_id: u64,
    out: *mut ami_bytes,
) -> ami_result {
    with_ref(server, |s| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        match session(s, session_id) {
            Ok(id) => write(out, ami_bytes::from(s.server.poll_transmit(id))),
            Err(e) => e,
        }
    })
}

/// `n` bytes of `ami_server_poll_transmit` were sent on `session`.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_consume_transmit(
    server: *mut ami_server,
    session_id: u64,
    n: usize,
) -> ami_result {
    with_mut(server, |s| {
        let id = match session(s, session_id) {
            Ok(id) => id,
            Err(e) => return e,
        };
        s.current = None;
        s.server.consume_transmit(id, n);
        AMI_RESULT_OK
    })
}

/// Forgets `session` (after `AMI_SERVER_EVENT_DISCONNECT`, or to drop a connection) and its
/// pending action. `AMI_RESULT_NOT_FOUND` if it is unknown.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_remove(server: *mut ami_server, session_id: u64) -> ami_result {
    with_mut(server, |s| {
        let id = match session(s, session_id) {
            Ok(id) => id,
            Err(e) => return e,
        };
        s.current = None;
        s.server.remove(id);
        s.sessions.remove(&session_id);
        s.pending.remove(&session_id);
        AMI_RESULT_OK
    })
}

/// Writes the text of the last failure of a non-const call on this server (empty if that call
/// succeeded). Also works on a poisoned server.
#[unsafe(no_mangle)]
pub extern "C" fn ami_server_last_error(
    server: *const ami_server,
    out: *mut ami_str,
) -> ami_result {
    last_error(server, out)
}
