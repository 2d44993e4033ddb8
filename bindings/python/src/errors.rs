//! The exception hierarchy: `ProtocolError` → `LocalProtocolError` (the caller asked for
//! something the protocol or the session refuses) / `RemoteProtocolError` (the peer broke the
//! protocol), and `ConfigError` (a `ValueError`) for manager.conf, ACL, filter and permission
//! text that cannot be loaded.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;

create_exception!(
    libami,
    ProtocolError,
    PyException,
    "Base class of the protocol errors of libami."
);
create_exception!(
    libami,
    LocalProtocolError,
    ProtocolError,
    "The caller asked for something the protocol or the session refuses (nothing was queued)."
);
create_exception!(
    libami,
    RemoteProtocolError,
    ProtocolError,
    "The peer sent something that breaks the protocol."
);
create_exception!(
    libami,
    ConfigError,
    PyValueError,
    "manager.conf, an ACL rule, an event filter or a permission list cannot be loaded."
);

/// A `LocalProtocolError` with `context: error`.
pub fn local(context: &str, error: impl std::fmt::Display) -> PyErr {
    LocalProtocolError::new_err(format!("{context}: {error}"))
}

/// A `ConfigError` with `context: error`.
pub fn config(context: &str, error: impl std::fmt::Display) -> PyErr {
    ConfigError::new_err(format!("{context}: {error}"))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ProtocolError", py.get_type::<ProtocolError>())?;
    m.add("LocalProtocolError", py.get_type::<LocalProtocolError>())?;
    m.add("RemoteProtocolError", py.get_type::<RemoteProtocolError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    Ok(())
}
