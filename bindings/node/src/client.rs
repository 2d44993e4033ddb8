//! `NativeClient`: the sans-IO client session behind the TypeScript `ClientConnection`.

use ami_proto::client::{
    ClientConfig, ClientEvent, ClientSession, ClientState, CloseReason, Keepalive, LoginMethod,
    MalformedError,
};
use ami_proto::encode::Action;
use ami_proto::time::Duration;
use napi::Either;
use napi::bindgen_prelude::Buffer;
use napi::{Env, Result};
use napi_derive::napi;

use crate::batch::{BatchWriter, Item, NativeBatch, flag, tag};
use crate::convert;
use crate::errors;

/// The text of a close reason.
pub fn close_reason(r: CloseReason) -> &'static str {
    match r {
        CloseReason::Logoff => "logoff",
        CloseReason::LoginFailed => "login-failed",
        CloseReason::PeerClosed => "peer-closed",
        CloseReason::KeepaliveTimeout => "keepalive-timeout",
        CloseReason::Unresponsive => "unresponsive",
        _ => "closed",
    }
}

fn state_name(s: ClientState) -> &'static str {
    match s {
        ClientState::AwaitingBanner => "awaiting-banner",
        ClientState::Connected => "connected",
        ClientState::Authenticating => "authenticating",
        ClientState::Ready => "ready",
        ClientState::LoggingOff => "logging-off",
        ClientState::Closed => "closed",
    }
}

fn method(auth: Option<&str>) -> Result<LoginMethod> {
    match auth.map(str::to_ascii_lowercase).as_deref() {
        None | Some("md5") => Ok(LoginMethod::Md5),
        Some("plain") => Ok(LoginMethod::Plain),
        Some(other) => {
            Err(errors::invalid(format!("auth must be \"md5\" or \"plain\", not {other:?}")))
        }
    }
}

/// Settings of a client session (times in milliseconds).
#[napi(object)]
#[derive(Clone, Debug, Default)]
pub struct NativeClientOptions {
    /// The `Events:` mask sent with the login (`"off"`, `"call,system"`; absent: the user's
    /// `read=`).
    pub events: Option<String>,
    /// Prefix of generated ActionIDs (default `ami-`).
    pub action_id_prefix: Option<String>,
    /// Default time limit of an action (default 30000; `Infinity`: none).
    pub action_timeout: Option<f64>,
    /// Silence before a keepalive `Ping` (absent: no keepalive).
    pub keepalive_interval: Option<f64>,
    /// How long the keepalive `Ping` may go unanswered (default 10000).
    pub keepalive_timeout: Option<f64>,
    /// Most actions pending at once (default 1024).
    pub max_in_flight: Option<u32>,
    /// After this many actions in a row time out, the session closes as `unresponsive`.
    pub max_consecutive_timeouts: Option<u32>,
    /// Refuse actions before a login (default true).
    pub require_login: Option<bool>,
}

/// A sans-IO AMI client session: the TypeScript `ClientConnection` drives it.
#[napi]
#[derive(Debug)]
pub struct NativeClient {
    session: ClientSession,
}

#[napi]
impl NativeClient {
    /// A session created at `now` (milliseconds of the caller's monotonic clock).
    #[napi(constructor)]
    pub fn new(options: Option<NativeClientOptions>, now: f64) -> NativeClient {
        let o = options.unwrap_or_default();
        let mut config = ClientConfig::default()
            .with_action_timeout(convert::limit(o.action_timeout.unwrap_or(30_000.0)))
            .with_max_in_flight(o.max_in_flight.unwrap_or(1024).max(1) as usize);
        if let Some(prefix) = o.action_id_prefix {
            config = config.with_action_id_prefix(prefix);
        }
        if let Some(ev) = o.events {
            config = config.with_events(ev.into_bytes());
        }
        if let Some(interval) = o.keepalive_interval {
            config = config.with_keepalive(Some(Keepalive {
                interval: Duration::from_millis(convert::millis(interval)),
                timeout: Duration::from_millis(convert::millis(
                    o.keepalive_timeout.unwrap_or(10_000.0),
                )),
            }));
        }
        config.require_login = o.require_login.unwrap_or(true);
        config.max_consecutive_timeouts = o.max_consecutive_timeouts.filter(|&n| n > 0);
        NativeClient { session: ClientSession::new(config, convert::instant(now)) }
    }

    /// Bytes received from the server.
    #[napi]
    pub fn receive_data(&mut self, data: &[u8]) {
        if !data.is_empty() {
            self.session.handle_input(data);
        }
    }

    /// The server closed the connection (or it broke).
    #[napi]
    pub fn receive_eof(&mut self) {
        self.session.handle_eof();
    }

    /// Every event the session has (see `batch.rs` for the tags).
    #[napi]
    pub fn poll(&mut self) -> NativeBatch {
        let mut out = BatchWriter::new();
        while !out.is_full() {
            let Some(ev) = self.session.poll_event() else { return out.finish(false) };
            push_event(&mut out, ev);
        }
        out.finish(true)
    }

    /// Starts a login (`auth`: `"md5"`, the default, or `"plain"`); returns its ActionID.
    #[napi]
    pub fn login(
        &mut self,
        env: Env,
        username: Either<String, Buffer>,
        secret: Either<String, Buffer>,
        auth: Option<String>,
    ) -> Result<String> {
        let id = self
            .session
            .login(convert::bytes(&username), convert::bytes(&secret), method(auth.as_deref())?)
            .map_err(|e| errors::session(&env, "cannot log in", &e))?;
        Ok(String::from_utf8_lossy(id.as_bytes()).into_owned())
    }

    /// Queues an action (`fields`: flat `[name, value, ...]`) and returns its ActionID.
    /// `timeout`: this action's limit in ms (absent: the session's; `Infinity`: none).
    #[napi]
    pub fn send_action(
        &mut self,
        env: Env,
        name: Either<String, Buffer>,
        fields: Vec<Either<String, Buffer>>,
        now: f64,
        action_id: Option<Either<String, Buffer>>,
        timeout: Option<f64>,
    ) -> Result<String> {
        let mut action = Action::new(convert::bytes(&name));
        if let Some(id) = &action_id {
            action.push("ActionID", convert::bytes(id));
        }
        for (n, v) in convert::pairs(&fields)? {
            action.push(n, v);
        }
        let now = convert::instant(now);
        let sent = match timeout {
            None => self.session.send_action(&action, now),
            Some(t) => self.session.send_action_with_timeout(&action, now, convert::limit(t)),
        };
        let id = sent.map_err(|e| errors::session(&env, "cannot send the action", &e))?;
        Ok(String::from_utf8_lossy(id.as_bytes()).into_owned())
    }

    /// Sends `Logoff`; returns its ActionID.
    #[napi]
    pub fn logoff(&mut self, env: Env) -> Result<String> {
        let id = self.session.logoff().map_err(|e| errors::session(&env, "cannot log off", &e))?;
        Ok(String::from_utf8_lossy(id.as_bytes()).into_owned())
    }

    /// The bytes to send to the server (they count as sent), or `null` when there are none.
    #[napi]
    pub fn take_transmit(&mut self) -> Option<Buffer> {
        let out = self.session.poll_transmit();
        if out.is_empty() {
            return None;
        }
        let bytes = Buffer::from(out.to_vec());
        let n = out.len();
        self.session.consume_transmit(n);
        Some(bytes)
    }

    /// When `handleTimeout` should be called next (ms of the caller's clock), or `null`.
    #[napi]
    pub fn next_timeout(&self) -> Option<f64> {
        self.session.poll_timeout().map(|t| t.as_millis() as f64)
    }

    /// The timer fired: times out overdue actions, sends a keepalive `Ping` when due.
    #[napi]
    pub fn handle_timeout(&mut self, now: f64) {
        self.session.handle_timeout(convert::instant(now));
    }

    /// `"awaiting-banner"`, `"connected"`, `"authenticating"`, `"ready"`, `"logging-off"` or
    /// `"closed"`.
    #[napi(getter)]
    pub fn state(&self) -> &'static str {
        state_name(self.session.state())
    }

    /// The server's banner line, once received.
    #[napi(getter)]
    pub fn banner(&self) -> Option<String> {
        self.session.banner().map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// Actions still waiting for their final event.
    #[napi(getter)]
    pub fn pending_actions(&self) -> u32 {
        u32::try_from(self.session.pending_actions()).unwrap_or(u32::MAX)
    }

    /// Whether action `action_id` is still waiting for its final event.
    #[napi]
    pub fn is_pending(&self, action_id: Either<String, Buffer>) -> bool {
        self.session.is_pending(convert::bytes(&action_id))
    }
}

fn id_text(id: &ami_proto::ActionId) -> Option<String> {
    Some(String::from_utf8_lossy(id.as_bytes()).into_owned())
}

/// An item of `tag` for action `id`.
fn with<'a>(tag: u32, id: &ami_proto::ActionId) -> Item<'a> {
    Item { tag, text0: id_text(id), ..Item::default() }
}

/// Writes one client event.
fn push_event(out: &mut BatchWriter, ev: ClientEvent<'_>) {
    let item = match ev {
        ClientEvent::Banner { line, version } => Item {
            tag: tag::BANNER,
            text0: Some(String::from_utf8_lossy(line).into_owned()),
            text1: Some(String::from_utf8_lossy(version).into_owned()),
            ..Item::default()
        },
        ClientEvent::LoggedIn { action_id, message } => {
            Item { message: Some(message), ..with(tag::LOGGED_IN, &action_id) }
        }
        ClientEvent::LoginFailed { action_id, message } => {
            Item { message: Some(message), ..with(tag::LOGIN_FAILED, &action_id) }
        }
        ClientEvent::Response { action_id, message, complete } => Item {
            message: Some(message),
            flags: if complete { flag::BOOL } else { 0 },
            ..with(tag::RESPONSE, &action_id)
        },
        ClientEvent::ListStart { action_id, message } => {
            Item { message: Some(message), ..with(tag::LIST_START, &action_id) }
        }
        ClientEvent::ListItem { action_id, message } => {
            Item { message: Some(message), ..with(tag::LIST_ITEM, &action_id) }
        }
        ClientEvent::ListComplete { action_id, message } => {
            Item { message: Some(message), ..with(tag::LIST_COMPLETE, &action_id) }
        }
        ClientEvent::CommandOutput { action_id, output } => Item {
            message: Some(output.message()),
            flags: if output.is_success() { flag::BOOL } else { 0 },
            extras: output.lines().collect(),
            ..with(tag::COMMAND_OUTPUT, &action_id)
        },
        ClientEvent::OriginateResponse { action_id, message } => {
            Item { message: Some(message), ..with(tag::ORIGINATE_RESPONSE, &action_id) }
        }
        ClientEvent::Event(message) => {
            Item { tag: tag::EVENT, message: Some(message), ..Item::default() }
        }
        ClientEvent::Unsolicited(message) => {
            Item { tag: tag::UNSOLICITED, message: Some(message), ..Item::default() }
        }
        ClientEvent::ActionTimedOut { action_id } => with(tag::ACTION_TIMED_OUT, &action_id),
        ClientEvent::ActionAborted { action_id, reason } => Item {
            text1: Some(close_reason(reason).to_owned()),
            ..with(tag::ACTION_ABORTED, &action_id)
        },
        ClientEvent::Malformed { action_id, error, message } => Item {
            tag: tag::MALFORMED,
            text0: action_id.as_ref().and_then(id_text),
            text1: Some(match error {
                MalformedError::Limit(k) => k.to_string(),
                MalformedError::NotResponseOrEvent => "neither a response nor an event".to_owned(),
                _ => "malformed".to_owned(),
            }),
            message: Some(message),
            ..Item::default()
        },
        ClientEvent::Closed { reason, truncated } => Item {
            tag: tag::CLOSED,
            text1: Some(close_reason(reason).to_owned()),
            flags: if truncated { flag::BOOL } else { 0 },
            ..Item::default()
        },
        _ => return,
    };
    out.push(item);
}
