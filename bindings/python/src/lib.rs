//! Python bindings of libami: the `libami._native` extension module.
//!
//! Built by maturin from `pyproject.toml` (abi3, one wheel for CPython 3.9+). Everything here is a
//! thin layer over `ami-proto`: the sans-IO sessions ([`client::ClientConnection`],
//! [`server::Server`]), the standalone [`message::Decoder`] and encoders, and the access rules
//! ([`access`]). The pure-Python package `libami` (asyncio and blocking I/O) is built on top.
//!
//! Conventions (DESIGN.md, "Python API"): text is decoded as UTF-8 with `surrogateescape`, so
//! that no byte is ever lost; text given by Python is encoded the same way. A frame is copied
//! once into a [`message::Message`], into the storage of a spent one when there is one
//! ([`storage`]); its values are built only when touched.
//!
//! `unsafe` is used in two places, each block with a `// SAFETY:` comment: [`convert::text`]
//! calls CPython's UTF-8 decoder with the `surrogateescape` handler directly (one pass instead of
//! a validation and a copy), and `Message.get` is installed as a `METH_FASTCALL` method by hand
//! (pyo3's abi3 methods for 3.9 pack every call's arguments into a tuple).

use pyo3::prelude::*;

pub mod access;
pub mod client;
pub mod convert;
pub mod edit;
pub mod errors;
pub mod events;
pub mod message;
pub mod server;
pub mod storage;
pub mod values;

/// The `libami._native` module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    message::register(m)?;
    events::register(m)?;
    client::register(m)?;
    server::register(m)?;
    access::register(m)?;
    edit::register(m)?;
    m.add("NEED_DATA", events::need_data(py)?)?;
    m.add("CAPTURE_MODULES", pyo3::types::PyTuple::new(py, ami_proto::server::CAPTURE_MODULES)?)?;
    Ok(())
}
