//! `Server`: the sans-IO AMI server over every connection of one listener.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use ami_proto::encode::{Event as EncEvent, Response};
use ami_proto::server::{
    ActionRef, DisconnectReason, PublishedEvent, ServerEvent, ServerOptions, SessionId,
};
use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use crate::access::{ManagerConfig, Privilege, privilege_arg};
use crate::convert::{bytes_of, fields_of, millis, now_or_monotonic, seconds, text, with_bytes};
use crate::errors;
use crate::events;
use crate::message::Message;

/// An action handed to the application (in `ActionReceived`): the request and what is needed
/// to answer it. Reads like a `Message` (`action["Channel"]`, `action.get(...)`).
#[pyclass(frozen, module = "libami")]
#[derive(Debug)]
pub struct ServerAction {
    action: ActionRef,
}

#[pymethods]
impl ServerAction {
    /// The canonical action name (`Getvar` for `Action: GETVAR`).
    #[getter]
    fn name(&self) -> &'static str {
        self.action.name()
    }

    /// The session that sent it.
    #[getter]
    fn session(&self) -> u64 {
        self.action.session().get()
    }

    /// The ActionID the answer echoes (the first non-empty `ActionID`), or `None`.
    #[getter]
    fn action_id<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.action.action_id().map(|v| text(py, v)).transpose()
    }

    /// The classes a user needs in `write=` to run it.
    #[getter]
    fn authority(&self) -> Privilege {
        Privilege { bits: self.action.info().authority.bits() }
    }

    /// The request as a `Message`.
    #[getter]
    fn message(&self, py: Python<'_>) -> Message {
        Message::new(py, self.action.owned_message().clone())
    }

    /// The first value of header `name` (case-insensitive), or `default`.
    #[pyo3(signature = (name, default = None, /))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        name: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.action.get(bytes_of(name, "name")?) {
            Some(v) => Ok(Some(text(py, v)?)),
            None => Ok(default),
        }
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        name: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match self.action.get(bytes_of(name, "name")?) {
            Some(v) => text(py, v),
            None => Err(PyKeyError::new_err(name.clone().unbind())),
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "<libami.ServerAction {} from session {}>",
            self.action.name(),
            self.action.session().get()
        )
    }
}

fn disconnect_reason(r: DisconnectReason) -> &'static str {
    match r {
        DisconnectReason::Logoff => "logoff",
        DisconnectReason::LoginFailed => "login-failed",
        DisconnectReason::LoginInUse => "login-in-use",
        DisconnectReason::AuthTimeout => "auth-timeout",
        DisconnectReason::PeerClosed => "peer-closed",
        DisconnectReason::InputOverflow => "input-overflow",
        DisconnectReason::OutputOverflow => "output-overflow",
        _ => "closed",
    }
}

/// 32 random bits for MD5 challenges, from the operating system's CSPRNG (`getrandom`).
fn random_u32() -> u32 {
    getrandom::u32().expect("the operating system's random number generator failed")
}

fn peer_arg(peer: &Bound<'_, PyAny>) -> PyResult<SocketAddr> {
    if let Ok(s) = peer.extract::<String>() {
        return s
            .parse()
            .map_err(|e| PyValueError::new_err(format!("peer {s:?} is not an address:port: {e}")));
    }
    if let Ok(t) = peer.cast::<PyTuple>()
        && t.len() >= 2
    {
        let host: String = t.get_item(0)?.extract()?;
        let port: u16 = t.get_item(1)?.extract()?;
        let ip: IpAddr =
            host.parse().map_err(|e| PyValueError::new_err(format!("peer host {host:?}: {e}")))?;
        return Ok(SocketAddr::new(ip, port));
    }
    Err(PyTypeError::new_err("peer must be \"ip:port\" or a (host, port, ...) tuple"))
}

/// A sans-IO AMI server over every connection of one listener, with Asterisk 22's behaviour:
/// it answers Login (plain and MD5, ACLs), Challenge, Logoff, Events, Filter, Ping,
/// ListCommands and WaitEvent itself, enforces `write=` permissions and the escalation checks,
/// and fans events out to the sessions whose `read=` classes and filters let them through.
/// Every other permitted action comes out as `ActionReceived` for the application to answer.
///
/// Run loop: `accept` a connection, `receive_data` its bytes, drain `next_event` until
/// `NEED_DATA` (answer `ActionReceived`; on `Disconnect` send what is left, close and
/// `remove`), send `data_to_send(session)` of every session, and call `handle_timeout` at
/// `next_timeout()`. Times are seconds of `time.monotonic()`.
#[pyclass(module = "libami")]
#[derive(Debug)]
pub struct Server {
    inner: std::sync::Mutex<ami_proto::Server>,
    ids: HashMap<u64, SessionId>,
}

impl Server {
    fn srv(&mut self) -> &mut ami_proto::Server {
        self.inner.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn sid(&self, session: u64) -> PyResult<SessionId> {
        self.ids.get(&session).copied().ok_or_else(|| {
            errors::LocalProtocolError::new_err(format!("no such session: {session}"))
        })
    }

    fn server_event(py: Python<'_>, sid: SessionId, ev: ServerEvent) -> PyResult<Py<PyAny>> {
        let session = sid.get().into_pyobject(py)?.into_any().unbind();
        let t = |b: &[u8]| -> PyResult<Py<PyAny>> { Ok(text(py, b)?.unbind()) };
        Ok(match ev {
            ServerEvent::ActionReceived { action } => {
                let action = Py::new(py, ServerAction { action })?.into_any();
                Py::new(py, events::ActionReceived { session, action })?.into_any()
            }
            ServerEvent::LoggedIn { username } => {
                Py::new(py, events::UserLoggedIn { session, username: t(&username)? })?.into_any()
            }
            ServerEvent::LoginFailed { username, failure } => Py::new(
                py,
                events::UserLoginFailed {
                    session,
                    username: t(&username)?,
                    reason: failure.to_string().into_pyobject(py)?.into_any().unbind(),
                },
            )?
            .into_any(),
            ServerEvent::Security(se) => Py::new(
                py,
                events::SecurityNotice {
                    session,
                    kind: se.kind.name().into_pyobject(py)?.into_any().unbind(),
                    account_id: t(&se.account_id)?,
                },
            )?
            .into_any(),
            ServerEvent::SlowConsumer { queued } => Py::new(
                py,
                events::SlowConsumer {
                    session,
                    queued: queued.into_pyobject(py)?.into_any().unbind(),
                },
            )?
            .into_any(),
            ServerEvent::Disconnect { reason } => Py::new(
                py,
                events::Disconnect {
                    session,
                    reason: disconnect_reason(reason).into_pyobject(py)?.into_any().unbind(),
                },
            )?
            .into_any(),
            _ => py.None(),
        })
    }

    fn answered(r: Result<(), ami_proto::server::ServerError>) -> PyResult<()> {
        r.map_err(|e| errors::local("cannot answer the action", e))
    }
}

#[pymethods]
impl Server {
    #[new]
    #[pyo3(signature = (
        config, *, ami_version = "11.0.0", login_failure_delay = 1.0, fully_booted = true,
        system_name = None, max_outbound = 1048576, max_inbound = 1048576, modules = None,
        now = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        py: Python<'_>,
        config: &Bound<'_, ManagerConfig>,
        ami_version: &str,
        login_failure_delay: f64,
        fully_booted: bool,
        system_name: Option<String>,
        max_outbound: usize,
        max_inbound: usize,
        modules: Option<Vec<String>>,
        now: Option<f64>,
    ) -> PyResult<Server> {
        let mut options = match &modules {
            Some(m) => {
                let names: Vec<&str> = m.iter().map(String::as_str).collect();
                ServerOptions::with_modules(&names)
            }
            None => ServerOptions::default(),
        };
        options.ami_version = ami_version.to_owned();
        options.login_failure_delay =
            ami_proto::time::Duration::from_millis(millis(login_failure_delay));
        options.fully_booted = fully_booted;
        options.system_name = system_name;
        options.max_outbound = max_outbound;
        options.max_inbound = max_inbound;
        let mono = now_or_monotonic(py, now)?;
        let wall: f64 = py.import("time")?.getattr("time")?.call0()?.extract()?;
        options.unix_offset_ms = (wall * 1000.0) as i64 - mono.as_millis() as i64;
        let inner =
            ami_proto::Server::new(config.get().inner.clone(), options, Box::new(random_u32));
        Ok(Server { inner: std::sync::Mutex::new(inner), ids: HashMap::new() })
    }

    /// A new connection from `peer` (`"ip:port"` or a `(host, port)` tuple); returns its
    /// session id and queues the banner. Raises `LocalProtocolError` when `authlimit`
    /// unauthenticated sessions are open (close the connection without sending anything).
    #[pyo3(signature = (peer, now = None))]
    fn accept(
        &mut self,
        py: Python<'_>,
        peer: &Bound<'_, PyAny>,
        now: Option<f64>,
    ) -> PyResult<u64> {
        let addr = peer_arg(peer)?;
        let now = now_or_monotonic(py, now)?;
        let sid =
            self.srv().accept(addr, now).map_err(|e| errors::local("connection refused", e))?;
        self.ids.insert(sid.get(), sid);
        Ok(sid.get())
    }

    /// Bytes received from a session's client; `b""` means the client closed its side.
    #[pyo3(signature = (session, data, now = None))]
    fn receive_data(
        &mut self,
        py: Python<'_>,
        session: u64,
        data: &Bound<'_, PyAny>,
        now: Option<f64>,
    ) -> PyResult<()> {
        let sid = self.sid(session)?;
        let now = now_or_monotonic(py, now)?;
        let inner = self.srv();
        with_bytes(data, "data", |b| {
            if b.is_empty() {
                inner.handle_eof(sid, now);
            } else {
                inner.handle_input(sid, b, now);
            }
        })
    }

    /// The next server event, or `NEED_DATA`.
    fn next_event(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.srv().poll_event() {
            Some((sid, ev)) => Self::server_event(py, sid, ev),
            None => events::need_data(py),
        }
    }

    /// The bytes queued for a session's client (at most `max_bytes`), which count as sent.
    #[pyo3(signature = (session, max_bytes = None))]
    fn data_to_send<'py>(
        &mut self,
        py: Python<'py>,
        session: u64,
        max_bytes: Option<usize>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let sid = self.sid(session)?;
        let srv = self.srv();
        let out = srv.poll_transmit(sid);
        let n = max_bytes.map_or(out.len(), |m| m.min(out.len()));
        let bytes = PyBytes::new(py, out.get(..n).unwrap_or_default());
        srv.consume_transmit(sid, n);
        Ok(bytes)
    }

    /// Whether the caller should keep reading the session's socket (false while an action is
    /// with the application or its outbound queue is full, and once it is over).
    fn wants_input(&mut self, session: u64) -> bool {
        match self.ids.get(&session).copied() {
            Some(sid) => self.srv().wants_input(sid),
            None => false,
        }
    }

    /// Forgets a session (after `Disconnect`, or when its connection broke).
    fn remove(&mut self, session: u64) -> bool {
        match self.ids.remove(&session) {
            Some(sid) => self.srv().remove(sid),
            None => false,
        }
    }

    /// When `handle_timeout` must be called next (seconds of `time.monotonic()`), or `None`.
    fn next_timeout(&mut self) -> Option<f64> {
        self.srv().poll_timeout().map(seconds)
    }

    /// Fires the timers due at `now`: delayed login failures, `authtimeout`, WaitEvent.
    #[pyo3(signature = (now = None))]
    fn handle_timeout(&mut self, py: Python<'_>, now: Option<f64>) -> PyResult<()> {
        let now = now_or_monotonic(py, now)?;
        self.srv().handle_timeout(now);
        Ok(())
    }

    /// Publishes an event of `category` (a `Privilege` or a class list such as `"call"`) to
    /// every logged-in session allowed to read it; returns how many sessions got it.
    #[pyo3(signature = (name, fields = None, category = None))]
    fn publish(
        &mut self,
        name: &Bound<'_, PyAny>,
        fields: Option<&Bound<'_, PyAny>>,
        category: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<usize> {
        let category = match category {
            Some(c) => privilege_arg(c)?,
            None => ami_proto::perm::Privilege::USER,
        };
        let mut e = PublishedEvent::new(bytes_of(name, "name")?, category)
            .map_err(|e| errors::local("cannot publish the event", e))?;
        for (n, v) in fields_of(fields)? {
            e.header(n, v).map_err(|e| errors::local("cannot publish the event", e))?;
        }
        Ok(self.srv().publish(&e))
    }

    /// Answers `action` with `Response: <status>`, the echoed ActionID and `fields`.
    #[pyo3(signature = (action, fields = None, status = "Success"))]
    fn respond(
        &mut self,
        action: &Bound<'_, ServerAction>,
        fields: Option<&Bound<'_, PyAny>>,
        status: &str,
    ) -> PyResult<()> {
        let a = &action.get().action;
        let mut r = Response::new(status);
        for (n, v) in fields_of(fields)? {
            r.push(n, v);
        }
        let res = self.srv().respond(a.session(), a, &r);
        Self::answered(res)
    }

    /// Answers `Response: Success` with `Message: <message>`.
    #[pyo3(signature = (action, message = "Success"))]
    fn ack(&mut self, action: &Bound<'_, ServerAction>, message: &str) -> PyResult<()> {
        let a = &action.get().action;
        let res = self.srv().ack(a.session(), a, message);
        Self::answered(res)
    }

    /// Answers `Response: Error` with `Message: <message>`.
    fn error(&mut self, action: &Bound<'_, ServerAction>, message: &str) -> PyResult<()> {
        let a = &action.get().action;
        let res = self.srv().error(a.session(), a, message);
        Self::answered(res)
    }

    /// Starts a list answer (`EventList: start`); the action stays pending.
    #[pyo3(signature = (action, message = "Events will follow"))]
    fn list_start(&mut self, action: &Bound<'_, ServerAction>, message: &str) -> PyResult<()> {
        let a = &action.get().action;
        let res = self.srv().list_start(a.session(), a, message);
        Self::answered(res)
    }

    /// Writes one list item `Event: <name>` with the echoed ActionID and `fields`.
    #[pyo3(signature = (action, name, fields = None))]
    fn list_item(
        &mut self,
        action: &Bound<'_, ServerAction>,
        name: &Bound<'_, PyAny>,
        fields: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let a = &action.get().action;
        let mut e = EncEvent::new(bytes_of(name, "name")?);
        for (n, v) in fields_of(fields)? {
            e.push(n, v);
        }
        let res = self.srv().list_item(a.session(), a, &e);
        Self::answered(res)
    }

    /// Ends a list answer with `Event: <event_name>`, `EventList: Complete`,
    /// `ListItems: <items>` and the extra `fields`.
    #[pyo3(signature = (action, event_name, items, fields = None))]
    fn list_complete(
        &mut self,
        action: &Bound<'_, ServerAction>,
        event_name: &str,
        items: usize,
        fields: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let a = &action.get().action;
        let extra = fields_of(fields)?;
        let extra: Vec<(String, String)> = extra
            .into_iter()
            .map(|(n, v)| {
                (String::from_utf8_lossy(&n).into_owned(), String::from_utf8_lossy(&v).into_owned())
            })
            .collect();
        let refs: Vec<(&str, &str)> = extra.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let res = self.srv().list_complete(a.session(), a, event_name, items, &refs);
        Self::answered(res)
    }

    /// Answers a Command action with its output (one `Output:` line per line of `text`).
    #[pyo3(signature = (action, text, success = true))]
    fn command_output(
        &mut self,
        action: &Bound<'_, ServerAction>,
        text: &Bound<'_, PyAny>,
        success: bool,
    ) -> PyResult<()> {
        let a = &action.get().action;
        let res = self.srv().command_output(a.session(), a, success, &bytes_of(text, "text")?);
        Self::answered(res)
    }

    /// Answers with bytes written exactly as given (empty, or ending with an empty line).
    fn respond_raw(
        &mut self,
        action: &Bound<'_, ServerAction>,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let a = &action.get().action;
        let res = self.srv().respond_raw(a.session(), a, &bytes_of(data, "data")?);
        Self::answered(res)
    }

    /// Enters or leaves the state where every request gets `Asterisk is shutting down`.
    fn set_shutting_down(&mut self, shutting_down: bool) {
        self.srv().set_shutting_down(shutting_down);
    }

    /// Number of sessions not yet removed.
    #[getter]
    fn session_count(&mut self) -> usize {
        self.srv().session_count()
    }

    /// The session ids not yet removed.
    #[getter]
    fn sessions(&mut self) -> Vec<u64> {
        let mut v: Vec<u64> = self.ids.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// A snapshot of a session: `peer`, `authenticated`, `username`, `read`, `write`,
    /// `send_events` and `queued`, or `None` for an unknown session.
    fn session_info<'py>(
        &mut self,
        py: Python<'py>,
        session: u64,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(sid) = self.ids.get(&session).copied() else { return Ok(None) };
        let Some(info) = self.srv().session_info(sid) else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("peer", info.peer.to_string())?;
        d.set_item("authenticated", info.authenticated)?;
        d.set_item("username", text(py, &info.username)?)?;
        d.set_item("read", Privilege { bits: info.read.bits() })?;
        d.set_item("write", Privilege { bits: info.write.bits() })?;
        d.set_item("send_events", Privilege { bits: info.send_events.bits() })?;
        d.set_item("queued", info.queued)?;
        Ok(Some(d))
    }

    fn __repr__(&mut self) -> String {
        format!("<libami.Server sessions={}>", self.srv().session_count())
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Server>()?;
    m.add_class::<ServerAction>()?;
    Ok(())
}
