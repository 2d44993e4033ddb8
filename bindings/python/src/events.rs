//! The event classes: what `ClientConnection.next_event()` and `Server.next_event()` return.
//!
//! Every class is frozen, compares by value and has `__match_args__`, so events can be taken
//! apart with `match`:
//!
//! ```python
//! match conn.next_event():
//!     case libami.Response(action_id, message, complete): ...
//!     case libami.Event(message): ...
//! ```

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;

use crate::message::Message;

/// Defines a frozen event class whose fields are Python objects, with `__new__`, getters,
/// `__match_args__`, `__eq__` and `__repr__`.
macro_rules! event_class {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident),* $(,)? } $({ $($extra:tt)* })?) => {
        $(#[$doc])*
        #[pyclass(frozen, module = "libami")]
        #[derive(Debug)]
        pub struct $name {
            $($(#[$fdoc])* #[pyo3(get)] pub $field: Py<PyAny>,)*
        }

        #[pymethods]
        impl $name {
            #[new]
            fn py_new($($field: Py<PyAny>),*) -> Self {
                $name { $($field),* }
            }

            #[classattr]
            fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
                let names: &[&str] = &[$(stringify!($field)),*];
                Ok(PyTuple::new(py, names)?.unbind())
            }

            fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
                let Ok(other) = other.cast::<$name>() else { return Ok(false) };
                let other = other.get();
                $(
                    if !self.$field.bind(py).eq(other.$field.bind(py))? {
                        return Ok(false);
                    }
                )*
                let _ = other;
                Ok(true)
            }

            fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
                let parts: Vec<String> = vec![$(
                    format!("{}={}", stringify!($field), self.$field.bind(py).repr()?),
                )*];
                Ok(format!("{}({})", stringify!($name), parts.join(", ")))
            }

            $($($extra)*)?
        }
    };
}

event_class! {
    /// The login was accepted. Final event of the login's action.
    LoggedIn {
        /// The Login's ActionID.
        action_id,
        /// The server's response.
        message,
    }
}

event_class! {
    /// The login was refused (Asterisk then closes the connection). Final event of the
    /// login's action; for MD5, a refused `Challenge` is reported here too.
    LoginFailed {
        /// The Login's ActionID.
        action_id,
        /// The server's response.
        message,
    }
}

event_class! {
    /// The response to an action. `complete` is false only for an async `Originate` the
    /// server accepted: its `OriginateResponse` follows.
    Response {
        /// The action it answers.
        action_id,
        /// The response message.
        message,
        /// Whether this is the action's final event.
        complete,
    }
}

event_class! {
    /// The response that starts an event list (`EventList: start`); items and a
    /// `ListComplete` follow.
    ListStart {
        /// The list's action.
        action_id,
        /// The start response.
        message,
    }
}

event_class! {
    /// One item of an event list.
    ListItem {
        /// The list's action.
        action_id,
        /// The item (an `Event:` message).
        message,
    }
}

event_class! {
    /// The event that ends a list (`EventList: Complete`). Final event of the list's action.
    ListComplete {
        /// The list's action.
        action_id,
        /// The completion event.
        message,
    }
}

event_class! {
    /// The output of a `Command` action, in either wire form. Final event of the action.
    CommandOutput {
        /// The Command's ActionID.
        action_id,
        /// The whole response.
        message,
        /// The output lines (`list[str]`).
        lines,
        /// Whether the command succeeded.
        success,
    }
}

event_class! {
    /// The `OriginateResponse` event of an async `Originate`. Final event of the action.
    OriginateResponse {
        /// The Originate's ActionID.
        action_id,
        /// The event.
        message,
    }
}

event_class! {
    /// An asynchronous event. `event.name` is its `Event` header; `event["Channel"]` and
    /// `event.get(...)` read the message.
    Event {
        /// The event message.
        message,
    } {
    /// The event's name (its `Event` header).
    #[getter]
    fn name<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.message.bind(py).getattr("name")
    }

    fn __getitem__<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.message.bind(py).get_item(key)
    }

    /// The first value of header `name`, or `default`.
    #[pyo3(signature = (name, default = None, /))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        name: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.message.bind(py).call_method1("get", (name, default))
    }
}
}

event_class! {
    /// A response that answers no pending action (for example one that came after its
    /// action timed out).
    Unsolicited {
        /// The response.
        message,
    }
}

event_class! {
    /// The action got no final answer within its time limit. Final event of the action.
    ActionTimedOut {
        /// The action.
        action_id,
    }
}

event_class! {
    /// The connection ended before the action's final answer. Final event of the action.
    ActionAborted {
        /// The action.
        action_id,
        /// Why the connection ended (`"logoff"`, `"login-failed"`, `"peer-closed"`,
        /// `"keepalive-timeout"`).
        reason,
    }
}

event_class! {
    /// A message the session could not use as is (it broke a limit, or is neither a response
    /// nor an event). When `action_id` is set it was that action's final answer.
    Malformed {
        /// The action it ended, or `None`.
        action_id,
        /// What was wrong.
        error,
        /// The message, or the lines of it that were kept.
        message,
    }
}

event_class! {
    /// The session is over; always the last event.
    Closed {
        /// Why (`"logoff"`, `"login-failed"`, `"peer-closed"`, `"keepalive-timeout"`).
        reason,
        /// The server's bytes ended in the middle of a message, which was dropped.
        truncated,
    }
}

event_class! {
    /// Server side: an action the session's user may run that the server does not answer
    /// itself. Answer it with one of `Server`'s answering methods.
    ActionReceived {
        /// The session id (`int`).
        session,
        /// The action (`ServerAction`).
        action,
    }
}

event_class! {
    /// Server side: a Login succeeded.
    UserLoggedIn {
        /// The session id.
        session,
        /// The user name as typed.
        username,
    }
}

event_class! {
    /// Server side: a Login failed; the reply follows after the login failure delay, then the
    /// session is disconnected.
    UserLoginFailed {
        /// The session id.
        session,
        /// The user name as typed.
        username,
        /// Why (all reasons give the same bytes on the wire).
        reason,
    }
}

event_class! {
    /// Server side: a security event (also published to the sessions that read `security`).
    SecurityNotice {
        /// The session id.
        session,
        /// The event name (`InvalidPassword`, `SuccessfulAuth`, ...).
        kind,
        /// The event's `AccountID`.
        account_id,
    }
}

event_class! {
    /// Server side: the session's outbound queue is full; events for it are dropped until
    /// what is queued has been sent.
    SlowConsumer {
        /// The session id.
        session,
        /// Bytes queued.
        queued,
    }
}

event_class! {
    /// Server side: the session is over. Send what `data_to_send` still holds, close the
    /// connection, then call `remove`.
    Disconnect {
        /// The session id.
        session,
        /// Why (`"logoff"`, `"login-failed"`, `"login-in-use"`, `"auth-timeout"`,
        /// `"peer-closed"`, `"input-overflow"`, `"output-overflow"`).
        reason,
    }
}

/// The type of `NEED_DATA`: nothing more can happen until more data (or time) comes.
#[pyclass(frozen, module = "libami", name = "_NeedData")]
#[derive(Debug)]
pub struct NeedData;

#[pymethods]
impl NeedData {
    fn __repr__(&self) -> &'static str {
        "NEED_DATA"
    }

    fn __bool__(&self) -> bool {
        false
    }
}

static NEED_DATA: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The `NEED_DATA` singleton.
pub fn need_data(py: Python<'_>) -> PyResult<Py<PyAny>> {
    NEED_DATA
        .get_or_try_init(py, || Py::new(py, NeedData).map(Py::into_any))
        .map(|o| o.clone_ref(py))
}

/// A `Message` object.
pub fn message_object(py: Python<'_>, m: ami_proto::Message<'_>) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, Message::new(py, crate::storage::owned(&m)))?.into_any())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<LoggedIn>()?;
    m.add_class::<LoginFailed>()?;
    m.add_class::<Response>()?;
    m.add_class::<ListStart>()?;
    m.add_class::<ListItem>()?;
    m.add_class::<ListComplete>()?;
    m.add_class::<CommandOutput>()?;
    m.add_class::<OriginateResponse>()?;
    m.add_class::<Event>()?;
    m.add_class::<Unsolicited>()?;
    m.add_class::<ActionTimedOut>()?;
    m.add_class::<ActionAborted>()?;
    m.add_class::<Malformed>()?;
    m.add_class::<Closed>()?;
    m.add_class::<ActionReceived>()?;
    m.add_class::<UserLoggedIn>()?;
    m.add_class::<UserLoginFailed>()?;
    m.add_class::<SecurityNotice>()?;
    m.add_class::<SlowConsumer>()?;
    m.add_class::<Disconnect>()?;
    m.add_class::<NeedData>()?;
    Ok(())
}
