//! Python bindings of libami: the `libami._native` extension module.
//!
//! Built by maturin from `pyproject.toml`. It grows with the Python issue; today it exposes the
//! library version.

use pyo3::prelude::*;

/// The `libami._native` module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
