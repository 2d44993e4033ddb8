//! `NativeServer`: the sans-IO AMI server behind the TypeScript `Server` and `serve`.
//!
//! An action handed to the application (`ACTION_RECEIVED`) is kept here under a token until it
//! is answered; the core holds the session's further input meanwhile, so there is at most one
//! per session, and a session's token is dropped with the session.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;

use ami_proto::encode::{Event as EncEvent, Response};
use ami_proto::perm::{self, Strictness};
use ami_proto::server::{
    ActionRef, DisconnectReason, PublishedEvent, ServerError, ServerEvent, ServerOptions, SessionId,
};
use napi::bindgen_prelude::Buffer;
use napi::{Either, Env, Result};
use napi_derive::napi;

use crate::access::{ManagerConfig, Privilege};
use crate::batch::{BatchWriter, Item, NativeBatch, tag};
use crate::convert;
use crate::errors;

fn disconnect_reason(r: DisconnectReason) -> &'static str {
    match r {
        DisconnectReason::Logoff => "logoff",
        DisconnectReason::LoginFailed => "login-failed",
        DisconnectReason::LoginInUse => "login-in-use",
        DisconnectReason::AuthTimeout => "auth-timeout",
        DisconnectReason::PeerClosed => "peer-closed",
        DisconnectReason::InputOverflow => "input-overflow",
        _ => "closed",
    }
}

/// 32 bits for an MD5 challenge from the operating system's CSPRNG; if it ever failed, from
/// std's randomly keyed hasher (itself seeded from the OS), never a constant.
fn random_u32() -> u32 {
    getrandom::u32().unwrap_or_else(|_| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x5eed);
        h.finish() as u32
    })
}

/// Settings of a server (times in milliseconds).
#[napi(object)]
#[derive(Clone, Debug, Default)]
pub struct NativeServerOptions {
    /// The AMI version in the banner (default `11.0.0`, Asterisk 22's).
    pub ami_version: Option<String>,
    /// Delay before a failed login is answered (default 1000, as Asterisk).
    pub login_failure_delay: Option<f64>,
    /// Whether `FullyBooted` is sent at login (default true).
    pub fully_booted: Option<bool>,
    /// The `SystemName` shown in `CoreSettings`/`FullyBooted`, if any.
    pub system_name: Option<String>,
    /// Most bytes queued for one client before its events are dropped (default 1 MiB).
    pub max_outbound: Option<u32>,
    /// Most unprocessed bytes from one client (default 1 MiB).
    pub max_inbound: Option<u32>,
    /// The Asterisk modules whose actions the server registers (default: the core's).
    pub modules: Option<Vec<String>>,
}

/// A session snapshot.
#[napi(object, object_from_js = false)]
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// `ip:port` of the client.
    pub peer: String,
    /// Whether it logged in.
    pub authenticated: bool,
    /// The user name.
    pub username: String,
    /// Its `read=` classes.
    pub read: Privilege,
    /// Its `write=` classes.
    pub write: Privilege,
    /// The classes it receives (its `Events:` mask applied).
    pub send_events: Privilege,
    /// Bytes queued for it.
    pub queued: f64,
}

/// A sans-IO AMI server over every connection of one listener, with Asterisk 22's behaviour:
/// it answers Login (plain and MD5, ACLs), Challenge, Logoff, Events, Filter, Ping,
/// ListCommands and WaitEvent itself, enforces `write=` permissions and the escalation checks,
/// and fans events out to the sessions whose `read=` classes and filters let them through.
#[napi]
#[derive(Debug)]
pub struct NativeServer {
    inner: ami_proto::Server,
    ids: HashMap<u64, SessionId>,
    actions: HashMap<u32, ActionRef>,
    next_token: u32,
}

impl NativeServer {
    fn sid(&self, env: &Env, session: f64) -> Result<SessionId> {
        self.ids.get(&(convert::millis(session))).copied().ok_or_else(|| {
            errors::error(
                env,
                errors::Kind::Local,
                format!("no such session: {session}"),
                &errors::Details { reason: Some("no-such-session"), ..errors::Details::default() },
            )
        })
    }

    fn action(&self, env: &Env, token: u32) -> Result<ActionRef> {
        self.actions.get(&token).cloned().ok_or_else(|| {
            errors::error(
                env,
                errors::Kind::Local,
                "the action was already answered (or its session is gone)",
                &errors::Details { reason: Some("answered"), ..errors::Details::default() },
            )
        })
    }

    /// Applies an answering call; a final answer forgets the action.
    fn answer(
        &mut self,
        env: &Env,
        token: u32,
        last: bool,
        f: impl FnOnce(
            &mut ami_proto::Server,
            SessionId,
            &ActionRef,
        ) -> std::result::Result<(), ServerError>,
    ) -> Result<()> {
        let action = self.action(env, token)?;
        f(&mut self.inner, action.session(), &action)
            .map_err(|e| errors::local(env, "cannot answer the action", e))?;
        if last {
            self.actions.remove(&token);
        }
        Ok(())
    }

    fn token(&mut self, action: ActionRef) -> u32 {
        loop {
            self.next_token = self.next_token.wrapping_add(1).max(1);
            if !self.actions.contains_key(&self.next_token) {
                break;
            }
        }
        self.actions.insert(self.next_token, action);
        self.next_token
    }
}

fn category(env: &Env, c: Option<Either<String, u32>>) -> Result<perm::Privilege> {
    match c {
        None => Ok(perm::Privilege::USER),
        Some(Either::B(bits)) => Ok(perm::Privilege::from_bits(bits)),
        Some(Either::A(text)) => perm::parse_perm(&text, Strictness::AsteriskCompatible)
            .map(|p| p.privilege)
            .map_err(|e| errors::config(env, &format!("permission list {text:?}"), e)),
    }
}

#[napi]
impl NativeServer {
    /// A server for `config`'s users and settings, created at `now` (ms of the caller's
    /// monotonic clock); `wall_now` is the wall clock (ms since 1970) at that moment.
    #[napi(constructor)]
    pub fn new(
        config: &ManagerConfig,
        options: Option<NativeServerOptions>,
        now: f64,
        wall_now: f64,
    ) -> NativeServer {
        let o = options.unwrap_or_default();
        let mut opts = match &o.modules {
            Some(m) => {
                let names: Vec<&str> = m.iter().map(String::as_str).collect();
                ServerOptions::with_modules(&names)
            }
            None => ServerOptions::default(),
        };
        if let Some(v) = o.ami_version {
            opts.ami_version = v;
        }
        opts.login_failure_delay = ami_proto::time::Duration::from_millis(convert::millis(
            o.login_failure_delay.unwrap_or(1000.0),
        ));
        opts.fully_booted = o.fully_booted.unwrap_or(true);
        opts.system_name = o.system_name;
        opts.max_outbound = o.max_outbound.map_or(1 << 20, |v| v as usize);
        opts.max_inbound = o.max_inbound.map_or(1 << 20, |v| v as usize);
        opts.unix_offset_ms = (wall_now - now) as i64;
        let inner = ami_proto::Server::new(config.inner.clone(), opts, Box::new(random_u32));
        NativeServer { inner, ids: HashMap::new(), actions: HashMap::new(), next_token: 0 }
    }

    /// A new connection from `peer` (`"ip:port"`, `"[v6]:port"`); returns its session id and
    /// queues the banner. Throws `LocalProtocolError` when `authlimit` unauthenticated sessions
    /// are open (then close the connection without sending anything).
    #[napi]
    pub fn accept(&mut self, env: Env, peer: String, now: f64) -> Result<f64> {
        let addr: SocketAddr = peer
            .parse()
            .map_err(|e| errors::invalid(format!("peer {peer:?} is not an address:port: {e}")))?;
        let sid = self
            .inner
            .accept(addr, convert::instant(now))
            .map_err(|e| errors::local(&env, "connection refused", e))?;
        self.ids.insert(sid.get(), sid);
        Ok(sid.get() as f64)
    }

    /// Bytes received from a session's client.
    #[napi]
    pub fn receive_data(&mut self, env: Env, session: f64, data: &[u8], now: f64) -> Result<()> {
        let sid = self.sid(&env, session)?;
        if !data.is_empty() {
            self.inner.handle_input(sid, data, convert::instant(now));
        }
        Ok(())
    }

    /// The client closed its side.
    #[napi]
    pub fn receive_eof(&mut self, env: Env, session: f64, now: f64) -> Result<()> {
        let sid = self.sid(&env, session)?;
        self.inner.handle_eof(sid, convert::instant(now));
        Ok(())
    }

    /// Every server event (see `batch.rs` for the tags).
    #[napi]
    pub fn poll(&mut self) -> NativeBatch {
        let mut out = BatchWriter::new();
        while !out.is_full() {
            let Some((sid, ev)) = self.inner.poll_event() else { return out.finish(false) };
            let session = sid.get();
            let text = |b: &[u8]| Some(String::from_utf8_lossy(b).into_owned());
            match ev {
                ServerEvent::ActionReceived { action } => {
                    let owned = action.owned_message().clone();
                    let name = action.name().to_owned();
                    let authority = Privilege::of(action.info().authority).render();
                    let token = self.token(action);
                    out.push(Item {
                        tag: tag::ACTION_RECEIVED,
                        text0: Some(name),
                        text1: Some(authority),
                        num: session,
                        num2: token,
                        message: Some(owned.as_message()),
                        ..Item::default()
                    });
                }
                ServerEvent::LoggedIn { username } => out.push(Item {
                    tag: tag::USER_LOGGED_IN,
                    text0: text(&username),
                    num: session,
                    ..Item::default()
                }),
                ServerEvent::LoginFailed { username, failure } => out.push(Item {
                    tag: tag::USER_LOGIN_FAILED,
                    text0: text(&username),
                    text1: Some(failure.to_string()),
                    num: session,
                    ..Item::default()
                }),
                ServerEvent::Security(se) => out.push(Item {
                    tag: tag::SECURITY_NOTICE,
                    text0: text(&se.account_id),
                    text1: Some(se.kind.name().to_owned()),
                    num: session,
                    ..Item::default()
                }),
                ServerEvent::SlowConsumer { queued } => out.push(Item {
                    tag: tag::SLOW_CONSUMER,
                    num: session,
                    num2: u32::try_from(queued).unwrap_or(u32::MAX),
                    ..Item::default()
                }),
                ServerEvent::Disconnect { reason } => out.push(Item {
                    tag: tag::DISCONNECT,
                    text1: Some(disconnect_reason(reason).to_owned()),
                    num: session,
                    ..Item::default()
                }),
                _ => {}
            }
        }
        out.finish(true)
    }

    /// The bytes queued for a session's client (they count as sent), or `null`.
    #[napi]
    pub fn take_transmit(&mut self, env: Env, session: f64) -> Result<Option<Buffer>> {
        let sid = self.sid(&env, session)?;
        let out = self.inner.poll_transmit(sid);
        if out.is_empty() {
            return Ok(None);
        }
        let bytes = Buffer::from(out.to_vec());
        let n = out.len();
        self.inner.consume_transmit(sid, n);
        Ok(Some(bytes))
    }

    /// Whether the caller should keep reading the session's socket (false while an action is
    /// with the application or its outbound queue is full, and once it is over).
    #[napi]
    pub fn wants_input(&self, session: f64) -> bool {
        self.ids.get(&convert::millis(session)).is_some_and(|&sid| self.inner.wants_input(sid))
    }

    /// Forgets a session (after `Disconnect`, or when its connection broke), and its action
    /// if one was unanswered.
    #[napi]
    pub fn remove(&mut self, session: f64) -> bool {
        let Some(sid) = self.ids.remove(&convert::millis(session)) else { return false };
        self.actions.retain(|_, a| a.session() != sid);
        self.inner.remove(sid)
    }

    /// When `handleTimeout` must be called next (ms of the caller's clock), or `null`.
    #[napi]
    pub fn next_timeout(&self) -> Option<f64> {
        self.inner.poll_timeout().map(|t| t.as_millis() as f64)
    }

    /// Fires the timers due at `now`: delayed login failures, `authtimeout`, WaitEvent.
    #[napi]
    pub fn handle_timeout(&mut self, now: f64) {
        self.inner.handle_timeout(convert::instant(now));
    }

    /// Publishes an event of `category` (a class list such as `"call"`, or bits; default
    /// `user`) to every logged-in session allowed to read it; returns how many got it.
    #[napi]
    pub fn publish(
        &mut self,
        env: Env,
        name: Either<String, Buffer>,
        fields: Vec<Either<String, Buffer>>,
        category_arg: Option<Either<String, u32>>,
    ) -> Result<u32> {
        let c = category(&env, category_arg)?;
        let mut e = PublishedEvent::new(convert::bytes(&name), c)
            .map_err(|e| errors::encode(&env, "the event", &e))?;
        for (n, v) in convert::pairs(&fields)? {
            e.header(n, v).map_err(|e| errors::encode(&env, "the event", &e))?;
        }
        Ok(u32::try_from(self.inner.publish(&e)).unwrap_or(u32::MAX))
    }

    /// Answers action `token` with `Response: <status>`, the echoed ActionID and `fields`.
    #[napi]
    pub fn respond(
        &mut self,
        env: Env,
        token: u32,
        fields: Vec<Either<String, Buffer>>,
        status: String,
    ) -> Result<()> {
        let mut r = Response::new(status);
        for (n, v) in convert::pairs(&fields)? {
            r.push(n, v);
        }
        self.answer(&env, token, true, |s, id, a| s.respond(id, a, &r))
    }

    /// Answers `Response: Success` with `Message: <message>`.
    #[napi]
    pub fn ack(&mut self, env: Env, token: u32, message: String) -> Result<()> {
        self.answer(&env, token, true, |s, id, a| s.ack(id, a, message))
    }

    /// Answers `Response: Error` with `Message: <message>`.
    #[napi]
    pub fn error(&mut self, env: Env, token: u32, message: String) -> Result<()> {
        self.answer(&env, token, true, |s, id, a| s.error(id, a, message))
    }

    /// Starts a list answer (`EventList: start`); the action stays pending.
    #[napi]
    pub fn list_start(&mut self, env: Env, token: u32, message: String) -> Result<()> {
        self.answer(&env, token, false, |s, id, a| s.list_start(id, a, message))
    }

    /// Writes one list item `Event: <name>` with the echoed ActionID and `fields`.
    #[napi]
    pub fn list_item(
        &mut self,
        env: Env,
        token: u32,
        name: Either<String, Buffer>,
        fields: Vec<Either<String, Buffer>>,
    ) -> Result<()> {
        let mut e = EncEvent::new(convert::bytes(&name));
        for (n, v) in convert::pairs(&fields)? {
            e.push(n, v);
        }
        self.answer(&env, token, false, |s, id, a| s.list_item(id, a, &e))
    }

    /// Ends a list answer with `Event: <event_name>`, `EventList: Complete`, `ListItems:
    /// <items>` and the extra `fields`.
    #[napi]
    pub fn list_complete(
        &mut self,
        env: Env,
        token: u32,
        event_name: String,
        items: u32,
        fields: Vec<String>,
    ) -> Result<()> {
        if !fields.len().is_multiple_of(2) {
            return Err(errors::invalid("fields must alternate names and values"));
        }
        let refs: Vec<(&str, &str)> = fields
            .chunks_exact(2)
            .filter_map(|c| match c {
                [n, v] => Some((n.as_str(), v.as_str())),
                _ => None,
            })
            .collect();
        self.answer(&env, token, true, |s, id, a| {
            s.list_complete(id, a, &event_name, items as usize, &refs)
        })
    }

    /// Answers a Command action with its output (one `Output:` line per line of `text`).
    #[napi]
    pub fn command_output(
        &mut self,
        env: Env,
        token: u32,
        text: Either<String, Buffer>,
        success: bool,
    ) -> Result<()> {
        self.answer(&env, token, true, |s, id, a| {
            s.command_output(id, a, success, convert::bytes(&text))
        })
    }

    /// Answers with bytes written exactly as given (empty, or ending with an empty line).
    #[napi]
    pub fn respond_raw(&mut self, env: Env, token: u32, data: &[u8]) -> Result<()> {
        self.answer(&env, token, true, |s, id, a| s.respond_raw(id, a, data))
    }

    /// Enters or leaves the state where every request gets `Asterisk is shutting down`.
    #[napi]
    pub fn set_shutting_down(&mut self, shutting_down: bool) {
        self.inner.set_shutting_down(shutting_down);
    }

    /// The sessions not yet removed.
    #[napi(getter)]
    pub fn sessions(&self) -> Vec<f64> {
        let mut v: Vec<u64> = self.ids.keys().copied().collect();
        v.sort_unstable();
        v.into_iter().map(|s| s as f64).collect()
    }

    /// A snapshot of a session, or `null` for an unknown one.
    #[napi]
    pub fn session_info(&self, session: f64) -> Option<SessionInfo> {
        let sid = self.ids.get(&convert::millis(session)).copied()?;
        let info = self.inner.session_info(sid)?;
        Some(SessionInfo {
            peer: info.peer.to_string(),
            authenticated: info.authenticated,
            username: String::from_utf8_lossy(&info.username).into_owned(),
            read: Privilege::of(info.read),
            write: Privilege::of(info.write),
            send_events: Privilege::of(info.send_events),
            queued: info.queued as f64,
        })
    }
}
