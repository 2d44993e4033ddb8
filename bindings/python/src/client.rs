//! `ClientConnection`: the sans-IO client session, h11 style.

use ami_proto::client::{
    ClientConfig, ClientEvent, ClientSession, ClientState, CloseReason, Keepalive, LoginMethod,
    MalformedError,
};
use ami_proto::encode::Action;
use ami_proto::time::Duration;
use ami_proto::{ActionId, FrameErrorKind};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::convert::{bytes_of, fields_of, millis, now_or_monotonic, seconds, text, with_bytes};
use crate::errors;
use crate::events::{self, message_object};
use crate::message::Banner;

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

fn method_arg(auth: &str) -> PyResult<LoginMethod> {
    match auth.to_ascii_lowercase().as_str() {
        "md5" => Ok(LoginMethod::Md5),
        "plain" => Ok(LoginMethod::Plain),
        other => {
            Err(PyValueError::new_err(format!("auth must be \"md5\" or \"plain\", not {other:?}")))
        }
    }
}

fn id_text(py: Python<'_>, id: &ActionId) -> PyResult<Py<PyAny>> {
    Ok(text(py, id.as_bytes())?.unbind())
}

fn duration_arg(secs: f64) -> Option<Duration> {
    if secs.is_infinite() { None } else { Some(Duration::from_millis(millis(secs))) }
}

/// A client event as a Python object.
fn event_object(py: Python<'_>, ev: ClientEvent<'_>) -> PyResult<Py<PyAny>> {
    let b =
        |v: bool| -> Py<PyAny> { pyo3::types::PyBool::new(py, v).to_owned().into_any().unbind() };
    Ok(match ev {
        ClientEvent::Banner { line, version } => {
            Py::new(py, Banner::new(line, version))?.into_any()
        }
        ClientEvent::LoggedIn { action_id, message } => Py::new(
            py,
            events::LoggedIn {
                action_id: id_text(py, &action_id)?,
                message: message_object(py, message)?,
            },
        )?
        .into_any(),
        ClientEvent::LoginFailed { action_id, message } => Py::new(
            py,
            events::LoginFailed {
                action_id: id_text(py, &action_id)?,
                message: message_object(py, message)?,
            },
        )?
        .into_any(),
        ClientEvent::Response { action_id, message, complete } => Py::new(
            py,
            events::Response {
                action_id: id_text(py, &action_id)?,
                message: message_object(py, message)?,
                complete: b(complete),
            },
        )?
        .into_any(),
        ClientEvent::ListStart { action_id, message } => Py::new(
            py,
            events::ListStart {
                action_id: id_text(py, &action_id)?,
                message: message_object(py, message)?,
            },
        )?
        .into_any(),
        ClientEvent::ListItem { action_id, message } => Py::new(
            py,
            events::ListItem {
                action_id: id_text(py, &action_id)?,
                message: message_object(py, message)?,
            },
        )?
        .into_any(),
        ClientEvent::ListComplete { action_id, message } => Py::new(
            py,
            events::ListComplete {
                action_id: id_text(py, &action_id)?,
                message: message_object(py, message)?,
            },
        )?
        .into_any(),
        ClientEvent::CommandOutput { action_id, output } => {
            let lines = PyList::empty(py);
            for line in output.lines() {
                lines.append(text(py, line)?)?;
            }
            Py::new(
                py,
                events::CommandOutput {
                    action_id: id_text(py, &action_id)?,
                    message: message_object(py, output.message())?,
                    lines: lines.into_any().unbind(),
                    success: b(output.is_success()),
                },
            )?
            .into_any()
        }
        ClientEvent::OriginateResponse { action_id, message } => Py::new(
            py,
            events::OriginateResponse {
                action_id: id_text(py, &action_id)?,
                message: message_object(py, message)?,
            },
        )?
        .into_any(),
        ClientEvent::Event(message) => {
            Py::new(py, events::Event { message: message_object(py, message)? })?.into_any()
        }
        ClientEvent::Unsolicited(message) => {
            Py::new(py, events::Unsolicited { message: message_object(py, message)? })?.into_any()
        }
        ClientEvent::ActionTimedOut { action_id } => {
            Py::new(py, events::ActionTimedOut { action_id: id_text(py, &action_id)? })?.into_any()
        }
        ClientEvent::ActionAborted { action_id, reason } => Py::new(
            py,
            events::ActionAborted {
                action_id: id_text(py, &action_id)?,
                reason: close_reason(reason).into_pyobject(py)?.into_any().unbind(),
            },
        )?
        .into_any(),
        ClientEvent::Malformed { action_id, error, message } => {
            let error = match error {
                MalformedError::Limit(k) => k.to_string(),
                MalformedError::NotResponseOrEvent => "neither a response nor an event".to_owned(),
                MalformedError::NotAmiServer => FrameErrorKind::NotAmiServer.to_string(),
                _ => "malformed".to_owned(),
            };
            let action_id = match action_id {
                Some(id) => id_text(py, &id)?,
                None => py.None(),
            };
            Py::new(
                py,
                events::Malformed {
                    action_id,
                    error: error.into_pyobject(py)?.into_any().unbind(),
                    message: message_object(py, message)?,
                },
            )?
            .into_any()
        }
        ClientEvent::Closed { reason, truncated } => Py::new(
            py,
            events::Closed {
                reason: close_reason(reason).into_pyobject(py)?.into_any().unbind(),
                truncated: b(truncated),
            },
        )?
        .into_any(),
        _ => py.None(),
    })
}

/// A sans-IO AMI client session (h11 style): feed it what the socket received with
/// `receive_data`, take events with `next_event` until `NEED_DATA`, send what `data_to_send`
/// returns, and call `handle_timeout` at `next_timeout()`.
///
/// With `username` and `secret` the login (MD5 challenge-response by default) is queued at
/// once; the session then reports `LoggedIn` or `LoginFailed`. Every action gets an ActionID
/// and exactly one final event (its response, list completion, `ActionTimedOut`,
/// `ActionAborted`, ...). Times are seconds of `time.monotonic()` (the default for every
/// `now` argument).
#[pyclass(module = "libami")]
#[derive(Debug)]
pub struct ClientConnection {
    session: ClientSession,
}

#[pymethods]
impl ClientConnection {
    #[new]
    #[pyo3(signature = (
        username = None, secret = None, *, auth = "md5", events = None,
        action_id_prefix = "ami-", action_timeout = 30.0, keepalive_interval = None,
        keepalive_timeout = 10.0, max_in_flight = 1024, require_login = true,
        max_consecutive_timeouts = None, now = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        py: Python<'_>,
        username: Option<&Bound<'_, PyAny>>,
        secret: Option<&Bound<'_, PyAny>>,
        auth: &str,
        events: Option<&Bound<'_, PyAny>>,
        action_id_prefix: &str,
        action_timeout: f64,
        keepalive_interval: Option<f64>,
        keepalive_timeout: f64,
        max_in_flight: usize,
        require_login: bool,
        max_consecutive_timeouts: Option<u32>,
        now: Option<f64>,
    ) -> PyResult<ClientConnection> {
        let method = method_arg(auth)?;
        let mut config = ClientConfig::default()
            .with_action_id_prefix(action_id_prefix)
            .with_action_timeout(duration_arg(action_timeout))
            .with_max_in_flight(max_in_flight);
        if let Some(ev) = events {
            config = config.with_events(bytes_of(ev, "events")?);
        }
        if let Some(interval) = keepalive_interval {
            config = config.with_keepalive(Some(Keepalive {
                interval: Duration::from_millis(millis(interval)),
                timeout: Duration::from_millis(millis(keepalive_timeout)),
            }));
        }
        config.require_login = require_login;
        config.max_consecutive_timeouts = max_consecutive_timeouts.filter(|&n| n > 0);
        let mut session = ClientSession::new(config, now_or_monotonic(py, now)?);
        match (username, secret) {
            (Some(u), Some(s)) => {
                session
                    .login(bytes_of(u, "username")?, bytes_of(s, "secret")?, method)
                    .map_err(|e| errors::local("cannot log in", e))?;
            }
            (None, None) => {}
            _ => return Err(PyValueError::new_err("give both username and secret, or neither")),
        }
        Ok(ClientConnection { session })
    }

    /// Bytes received from the server, in any chunks; `b""` means the server closed the
    /// connection (end of file).
    fn receive_data(&mut self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let session = &mut self.session;
        with_bytes(data, "data", |b| {
            if b.is_empty() {
                session.handle_eof();
            } else {
                session.handle_input(b);
            }
        })
    }

    /// The next event, or `NEED_DATA` when nothing more happens until more data, a command
    /// or a timeout.
    fn next_event(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.session.poll_event() {
            Some(ev) => event_object(py, ev),
            None => events::need_data(py),
        }
    }

    /// Starts a login (`auth`: `"md5"` or `"plain"`); returns the Login's ActionID.
    #[pyo3(signature = (username, secret, auth = "md5"))]
    fn login(
        &mut self,
        py: Python<'_>,
        username: &Bound<'_, PyAny>,
        secret: &Bound<'_, PyAny>,
        auth: &str,
    ) -> PyResult<Py<PyAny>> {
        let id = self
            .session
            .login(bytes_of(username, "username")?, bytes_of(secret, "secret")?, method_arg(auth)?)
            .map_err(|e| errors::local("cannot log in", e))?;
        id_text(py, &id)
    }

    /// Queues an action and returns its ActionID (`action_id` if given, else a generated one).
    /// `fields` is a mapping or `(name, value)` pairs. `timeout` is this action's time limit
    /// in seconds (`None`: the connection's `action_timeout`; `math.inf`: none). Raises
    /// `LocalProtocolError` when the session refuses (not logged in, closed, a limit, a value
    /// that could inject a line, ...); nothing is queued then.
    #[pyo3(signature = (name, fields = None, *, action_id = None, timeout = None, now = None))]
    fn send_action(
        &mut self,
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        fields: Option<&Bound<'_, PyAny>>,
        action_id: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
        now: Option<f64>,
    ) -> PyResult<Py<PyAny>> {
        let mut action = Action::new(bytes_of(name, "name")?);
        if let Some(id) = action_id {
            action.push("ActionID", bytes_of(id, "action_id")?);
        }
        for (n, v) in fields_of(fields)? {
            action.push(n, v);
        }
        let now = now_or_monotonic(py, now)?;
        let result = match timeout {
            None => self.session.send_action(&action, now),
            Some(t) => self.session.send_action_with_timeout(&action, now, duration_arg(t)),
        };
        let id = result.map_err(|e| errors::local("cannot send the action", e))?;
        id_text(py, &id)
    }

    /// Sends `Logoff`; returns its ActionID.
    fn logoff(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let id = self.session.logoff().map_err(|e| errors::local("cannot log off", e))?;
        id_text(py, &id)
    }

    /// The bytes to send to the server (at most `max_bytes`), which count as sent.
    #[pyo3(signature = (max_bytes = None))]
    fn data_to_send<'py>(
        &mut self,
        py: Python<'py>,
        max_bytes: Option<usize>,
    ) -> Bound<'py, PyBytes> {
        let out = self.session.poll_transmit();
        let n = max_bytes.map_or(out.len(), |m| m.min(out.len()));
        let bytes = PyBytes::new(py, out.get(..n).unwrap_or_default());
        self.session.consume_transmit(n);
        bytes
    }

    /// When `handle_timeout` should be called next, in seconds of `time.monotonic()`, or
    /// `None`.
    fn next_timeout(&self) -> Option<f64> {
        self.session.poll_timeout().map(seconds)
    }

    /// The timer fired (early or late is harmless): times out overdue actions and sends a
    /// keepalive `Ping` when due.
    #[pyo3(signature = (now = None))]
    fn handle_timeout(&mut self, py: Python<'_>, now: Option<f64>) -> PyResult<()> {
        let now = now_or_monotonic(py, now)?;
        self.session.handle_timeout(now);
        Ok(())
    }

    /// Where the session stands: `"awaiting-banner"`, `"connected"`, `"authenticating"`,
    /// `"ready"`, `"logging-off"` or `"closed"`.
    #[getter]
    fn state(&self) -> &'static str {
        state_name(self.session.state())
    }

    /// The server's banner line, once received.
    #[getter]
    fn banner<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.session.banner().map(|b| text(py, b)).transpose()
    }

    /// Number of the caller's actions still waiting for their final event.
    #[getter]
    fn pending_actions(&self) -> usize {
        self.session.pending_actions()
    }

    /// Whether action `action_id` is still waiting for its final event.
    fn is_pending(&self, action_id: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.session.is_pending(bytes_of(action_id, "action_id")?))
    }

    fn __repr__(&self) -> String {
        format!(
            "<libami.ClientConnection state={} pending={}>",
            state_name(self.session.state()),
            self.session.pending_actions()
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ClientConnection>()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infinite_timeout_means_no_limit() {
        assert_eq!(duration_arg(f64::INFINITY), None);
        assert_eq!(duration_arg(0.25), Some(Duration::from_millis(250)));
    }

    #[test]
    fn close_reasons_and_states_have_distinct_names() {
        let reasons = [
            CloseReason::Logoff,
            CloseReason::LoginFailed,
            CloseReason::PeerClosed,
            CloseReason::KeepaliveTimeout,
        ]
        .map(close_reason);
        let states = [
            ClientState::AwaitingBanner,
            ClientState::Connected,
            ClientState::Authenticating,
            ClientState::Ready,
            ClientState::LoggingOff,
            ClientState::Closed,
        ]
        .map(state_name);
        for names in [&reasons[..], &states[..]] {
            let mut sorted = names.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), names.len(), "{names:?}");
        }
        assert_eq!(reasons, ["logoff", "login-failed", "peer-closed", "keepalive-timeout"]);
    }
}
