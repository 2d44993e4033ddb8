//! Messages as read-only mappings, the banner, the standalone `Decoder` and the encoders.

use ami_proto::encode::{Action, Event as EncEvent, Response};
use ami_proto::frame::{Frame, FrameError};
use ami_proto::{DecoderLimits, MessageKind, OwnedMessage, Role};
use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::convert::{bytes_of, fields_of, text, with_bytes, with_key};
use crate::{errors, storage};

/// One AMI message (action, response or event), as a read-only mapping.
///
/// Lookup is ASCII case-insensitive and gives the first value of a header; `get_all` gives
/// every value. Values are `str` decoded as UTF-8 with `surrogateescape` (so
/// `value.encode("utf-8", "surrogateescape")` gives back the exact bytes); `raw` is the
/// message's bytes as framed. The message is copied once from the decoder; values are built
/// when touched.
#[pyclass(frozen, mapping, module = "libami")]
#[derive(Debug)]
pub struct Message {
    pub(crate) inner: OwnedMessage,
    pub(crate) error: Option<String>,
    kind: MessageKind,
    /// `"action"`, `"response"`, `"event"` or `"unknown"`, from the first line.
    ///
    /// A plain (interned) `str` field, so that reading it is a struct-member access by the
    /// interpreter rather than a call: `kind` is read for every item of a decode loop.
    #[pyo3(get, name = "kind")]
    kind_name: Py<PyString>,
}

/// A dropped message's storage goes back to the pool ([`storage`]) for the next one.
impl Drop for Message {
    fn drop(&mut self) {
        storage::recycle(std::mem::take(&mut self.inner));
    }
}

impl Message {
    /// Wraps an owned message.
    pub fn new(py: Python<'_>, inner: OwnedMessage) -> Message {
        Message::with_error(py, inner, None)
    }

    fn with_error(py: Python<'_>, inner: OwnedMessage, error: Option<String>) -> Message {
        let kind = inner.as_message().kind();
        let kind_name = match kind {
            MessageKind::Event => pyo3::intern!(py, "event"),
            MessageKind::Response => pyo3::intern!(py, "response"),
            MessageKind::Action => pyo3::intern!(py, "action"),
            MessageKind::Unknown => pyo3::intern!(py, "unknown"),
        };
        Message { inner, error, kind, kind_name: kind_name.clone().unbind() }
    }

    /// The first value of header `name` (a `str` or bytes key), as text.
    fn lookup<'py>(&self, name: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = name.py();
        let raw = self.inner.raw();
        // The value is a slice of `raw`: keep its range, so that the key cache is released
        // before the Python string is built.
        let range = with_key(name, |key| {
            self.inner.get(key).and_then(|v| {
                let start = (v.as_ptr() as usize).checked_sub(raw.as_ptr() as usize)?;
                Some(start..start + v.len())
            })
        })?;
        range.and_then(|r| raw.get(r)).map(|v| crate::values::value(py, v)).transpose()
    }

    /// The message salvaged from a frame error, with the error's text.
    pub fn from_error(py: Python<'_>, e: &FrameError<'_>) -> Message {
        Message::with_error(py, e.partial().to_owned_message(), Some(e.kind().to_string()))
    }

    fn unique_names(&self) -> Vec<&[u8]> {
        let mut names: Vec<&[u8]> = Vec::new();
        for h in self.inner.as_message().iter() {
            if h.is_bare() {
                continue;
            }
            if !names.iter().any(|n| n.eq_ignore_ascii_case(h.name())) {
                names.push(h.name());
            }
        }
        names
    }
}

#[pymethods]
impl Message {
    /// Parses one complete message (ending with an empty line) read by `role` (`"client"`
    /// reads what a server writes, `"server"` what a client writes). Raises
    /// `RemoteProtocolError` if `data` is not exactly one whole message.
    #[staticmethod]
    #[pyo3(signature = (data, role = "client"))]
    fn parse(data: &Bound<'_, PyAny>, role: &str) -> PyResult<Message> {
        let role = role_arg(role)?;
        let py = data.py();
        with_bytes(data, "data", |b| {
            let mut d = ami_proto::Decoder::new(role);
            d.feed(b);
            let msg = match d.next_frame() {
                Some(Ok(Frame::Message(m))) => m.to_owned_message(),
                Some(Ok(Frame::Banner(_))) | None => {
                    return Err(errors::RemoteProtocolError::new_err(
                        "not a complete message (it must end with an empty line)",
                    ));
                }
                Some(Err(e)) => {
                    return Err(errors::RemoteProtocolError::new_err(format!(
                        "malformed message: {}",
                        e.kind()
                    )));
                }
            };
            if d.buffered() != 0 {
                return Err(errors::RemoteProtocolError::new_err("more than one message in data"));
            }
            Ok(Message::new(py, msg))
        })?
    }

    /// The value of the first line: the action, response status or event name (`None` for an
    /// unknown message).
    #[getter]
    fn name<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let m = self.inner.as_message();
        let v = match self.kind {
            MessageKind::Action => m.action(),
            MessageKind::Response => m.response(),
            MessageKind::Event => m.event(),
            _ => None,
        };
        v.map(|v| text(py, v)).transpose()
    }

    /// The first `ActionID` value, or `None`.
    #[getter]
    fn action_id<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner.as_message().action_id().map(|v| text(py, v)).transpose()
    }

    /// The message's bytes as framed (for a message cut by a limit: the lines kept).
    #[getter]
    fn raw<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.raw())
    }

    /// `None`, or why the decoder rejected the message (it broke a limit; the lines kept are
    /// still readable).
    #[getter]
    fn error(&self) -> Option<String> {
        self.error.clone()
    }

    fn __getitem__<'py>(&self, name: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        match self.lookup(name)? {
            Some(v) => Ok(v),
            None => Err(PyKeyError::new_err(name.clone().unbind())),
        }
    }

    /// The first value of header `name` as bytes, or `None`.
    fn get_bytes<'py>(
        &self,
        py: Python<'py>,
        name: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let key = bytes_of(name, "name")?;
        Ok(self.inner.get(&key).map(|v| PyBytes::new(py, v)))
    }

    /// Every value of header `name` (case-insensitive), in order.
    fn get_all<'py>(
        &self,
        py: Python<'py>,
        name: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let key = bytes_of(name, "name")?;
        let list = PyList::empty(py);
        for v in self.inner.as_message().get_all(&key) {
            list.append(text(py, v)?)?;
        }
        Ok(list)
    }

    /// Every line of the message in order, as `(name, value)` pairs, with `None` as the name
    /// of a bare line (a line without a colon, e.g. `No categories found`, or each line of a
    /// plain-text reply with no header at all, such as Asterisk 13's `No queues have been
    /// created.`), whose value is the whole line. The mapping view (`items()`, `keys()`,
    /// lookups) shows headers only.
    fn lines<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for h in self.inner.as_message().iter() {
            let name = if h.is_bare() { py.None().into_bound(py) } else { text(py, h.name())? };
            list.append(PyTuple::new(py, [name, text(py, h.value())?])?)?;
        }
        Ok(list)
    }

    /// Every header line as a `(name, value)` pair, in order, duplicates included (lines
    /// without a colon are left out; `lines()` has them).
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for h in self.inner.as_message().iter().filter(|h| !h.is_bare()) {
            list.append(PyTuple::new(py, [text(py, h.name())?, text(py, h.value())?])?)?;
        }
        Ok(list)
    }

    /// The distinct header names, in order of first appearance (spelled as first sent).
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for n in self.unique_names() {
            list.append(text(py, n)?)?;
        }
        Ok(list)
    }

    /// The first value of each distinct header name, in the order of `keys()`.
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for n in self.unique_names() {
            list.append(text(py, self.inner.get(n).unwrap_or_default())?)?;
        }
        Ok(list)
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.keys(py)?.try_iter()?.into_any())
    }

    fn __len__(&self) -> usize {
        self.unique_names().len()
    }

    fn __contains__(&self, name: &Bound<'_, PyAny>) -> bool {
        with_key(name, |key| self.inner.get(key).is_some()).unwrap_or(false)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<Message>() {
            Ok(o) => o.get().inner.as_message() == self.inner.as_message(),
            Err(_) => false,
        }
    }

    fn __repr__(&self) -> String {
        format!("<libami.Message {:?}>", self.inner)
    }
}

/// The server's greeting line, `Asterisk Call Manager/<version>`.
#[pyclass(frozen, module = "libami")]
#[derive(Debug)]
pub struct Banner {
    line: Vec<u8>,
    version: Vec<u8>,
}

impl Banner {
    /// A banner from its line and version.
    pub fn new(line: &[u8], version: &[u8]) -> Banner {
        Banner { line: line.to_vec(), version: version.to_vec() }
    }
}

#[pymethods]
impl Banner {
    #[classattr]
    fn __match_args__(py: Python<'_>) -> PyResult<Py<PyTuple>> {
        Ok(PyTuple::new(py, ["version"])?.unbind())
    }

    /// Always `"banner"`, so that a loop over decoded items can test `item.kind` alone.
    #[getter]
    fn kind<'py>(&self, py: Python<'py>) -> &Bound<'py, PyString> {
        pyo3::intern!(py, "banner")
    }

    /// The whole line, without its line end.
    #[getter]
    fn line<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        text(py, &self.line)
    }

    /// The text after the first `/` (e.g. `11.0.0`), or empty.
    #[getter]
    fn version<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        text(py, &self.version)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Banner>().is_ok_and(|o| o.get().line == self.line)
    }

    fn __repr__(&self) -> String {
        format!("Banner(version={:?})", String::from_utf8_lossy(&self.version))
    }
}

pub(crate) fn role_arg(role: &str) -> PyResult<Role> {
    match role {
        "client" => Ok(Role::Client),
        "server" => Ok(Role::Server),
        other => Err(PyValueError::new_err(format!(
            "role must be \"client\" (reads server output) or \"server\" (reads client input), not {other:?}"
        ))),
    }
}

/// A frame as a Python object: `Banner` or `Message` (with `error` set for a frame that broke a
/// limit).
pub(crate) fn frame_object(
    py: Python<'_>,
    item: Result<Frame<'_>, FrameError<'_>>,
) -> PyResult<Py<PyAny>> {
    Ok(match item {
        Ok(Frame::Banner(b)) => Py::new(py, Banner::new(b.line(), b.version()))?.into_any(),
        Ok(Frame::Message(m)) => Py::new(py, Message::new(py, storage::owned(&m)))?.into_any(),
        Err(e) => Py::new(py, Message::from_error(py, &e))?.into_any(),
    })
}

/// The AMI stream decoder: bytes in any chunks, `Banner` and `Message` objects out.
///
/// `role="client"` reads what a server writes (banner first, then responses and events);
/// `role="server"` reads what a client writes, with Asterisk's line limits and value rule.
/// Iterating yields every complete item and stops when more data is needed; feeding more
/// data and iterating again continues. A message that breaks a limit comes out as a `Message`
/// whose `error` says why, and the stream goes on.
#[pyclass(module = "libami")]
#[derive(Debug)]
pub struct Decoder {
    inner: ami_proto::Decoder,
}

#[pymethods]
impl Decoder {
    #[new]
    #[pyo3(signature = (role = "client", *, max_line = None, max_headers = None, max_message = None))]
    fn py_new(
        role: &str,
        max_line: Option<usize>,
        max_headers: Option<usize>,
        max_message: Option<usize>,
    ) -> PyResult<Decoder> {
        let role = role_arg(role)?;
        let mut limits = DecoderLimits::for_role(role);
        if let Some(v) = max_line {
            limits.max_line = v;
        }
        if let Some(v) = max_headers {
            limits.max_headers = v;
        }
        if let Some(v) = max_message {
            limits.max_message = v;
        }
        let inner = ami_proto::Decoder::with_limits(role, limits)
            .map_err(|e| PyValueError::new_err(format!("invalid decoder limits: {e}")))?;
        Ok(Decoder { inner })
    }

    /// Adds received bytes (any bytes-like object; `b""` is not end-of-file here).
    fn feed(&mut self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        with_bytes(data, "data", |b| self.inner.feed(b))
    }

    /// Bytes buffered and not yet returned as items.
    #[getter]
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }

    /// True when the buffered bytes hold part of a message (so an EOF now would cut it).
    #[getter]
    fn is_mid_message(&self) -> bool {
        self.inner.is_mid_message()
    }

    /// The next complete item (`Banner` or `Message`), or `None` when more data is needed.
    fn next_item(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.inner.next_frame().map(|item| frame_object(py, item)).transpose()
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.next_item(py)
    }

    fn __repr__(&self) -> String {
        format!("<libami.Decoder role={:?} buffered={}>", self.inner.role(), self.inner.buffered())
    }
}

/// `Message.get` as a vectorcall (`METH_FASTCALL`) method.
///
/// pyo3 builds methods of an abi3 module for CPython 3.9 with `METH_VARARGS | METH_KEYWORDS`,
/// which packs every call's arguments into a new tuple and parses them by name: about 100 ns per
/// call, more than the lookup itself. `get` is the one method called per header in every
/// consumer loop, so it is installed by hand with `METH_FASTCALL`, which CPython has supported
/// with the same flag value and calling convention since 3.7 (it joined the limited API
/// unchanged in 3.10). Like `dict.get`, its arguments are positional-only.
mod fastcall {
    use std::os::raw::c_int;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use pyo3::exceptions::{PyRuntimeError, PyTypeError};
    use pyo3::ffi;
    use pyo3::prelude::*;
    use pyo3::types::PyType;

    use super::Message;

    /// `METH_FASTCALL` (`methodobject.h`); pyo3-ffi only exposes it for abi3 builds targeting 3.10+.
    const METH_FASTCALL: c_int = 0x0080;

    /// The C signature of a `METH_FASTCALL` method.
    type FastCall = unsafe extern "C" fn(
        *mut ffi::PyObject,
        *const *mut ffi::PyObject,
        ffi::Py_ssize_t,
    ) -> *mut ffi::PyObject;

    /// Replaces the `get` attribute of `ty` (the `Message` type) with the fast method.
    pub(super) fn install_get(ty: &Bound<'_, PyType>) -> PyResult<()> {
        let get: FastCall = get;
        // The definition must outlive the type, which lives as long as the process: leak it
        // (once per module initialisation).
        let def = Box::leak(Box::new(ffi::PyMethodDef {
            ml_name: c"get".as_ptr(),
            ml_meth: ffi::PyMethodDefPointer {
                // SAFETY: CPython calls `ml_meth` with the signature its `ml_flags` name
                // (METH_FASTCALL: self, argument array, count), so the pointer is stored under
                // the union's generic variant as C extensions do with a cast; both are plain
                // function pointers of the same size.
                PyCFunction: unsafe { std::mem::transmute::<FastCall, ffi::PyCFunction>(get) },
            },
            ml_flags: METH_FASTCALL,
            ml_doc: c"get($self, name, default=None, /)\n--\n\n\
The first value of header `name` (case-insensitive), or `default`."
                .as_ptr(),
        }));
        // SAFETY: `ty` is a live type object and `def` is valid forever; PyDescr_NewMethod
        // returns a new reference or NULL with an exception set.
        let descr = unsafe {
            Bound::from_owned_ptr_or_err(ty.py(), ffi::PyDescr_NewMethod(ty.as_type_ptr(), def))
        }?;
        ty.setattr("get", descr)
    }

    /// `Message.get(name, default=None, /)`.
    unsafe extern "C" fn get(
        slf: *mut ffi::PyObject,
        args: *const *mut ffi::PyObject,
        nargs: ffi::Py_ssize_t,
    ) -> *mut ffi::PyObject {
        // SAFETY: CPython calls methods on a thread attached to the interpreter.
        let py = unsafe { Python::assume_attached() };
        let result = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: `slf` is the live object the method was called on (the method descriptor
            // has checked that it is a `Message`), and `args` points to `nargs` live
            // references, both borrowed for the duration of the call.
            let (slf, args) = unsafe {
                let n = usize::try_from(nargs).unwrap_or(0);
                let args = if n == 0 { &[][..] } else { std::slice::from_raw_parts(args, n) };
                (Bound::from_borrowed_ptr(py, slf), args)
            };
            let arg = |i: usize| {
                // SAFETY: every entry of `args` is a live borrowed reference (above).
                args.get(i).map(|&p| unsafe { Bound::from_borrowed_ptr(py, p) })
            };
            let (Some(name), None) = (arg(0), arg(2)) else {
                return Err(PyTypeError::new_err(format!(
                    "get() takes 1 or 2 positional arguments ({nargs} given)"
                )));
            };
            let message = slf.cast::<Message>()?;
            Ok(match message.get().lookup(&name)? {
                Some(value) => value,
                None => arg(1).unwrap_or_else(|| py.None().into_bound(py)),
            })
        }));
        match result {
            Ok(Ok(value)) => value.into_ptr(),
            Ok(Err(e)) => {
                e.restore(py);
                std::ptr::null_mut()
            }
            Err(_) => {
                PyRuntimeError::new_err("libami: Message.get panicked").restore(py);
                std::ptr::null_mut()
            }
        }
    }
}

fn encoded(r: Result<Vec<u8>, ami_proto::encode::EncodeError>, what: &str) -> PyResult<Vec<u8>> {
    r.map_err(|e| errors::local(&format!("cannot encode {what}"), e))
}

/// Encodes an action: `Action: <name>`, `ActionID: <action_id>` if given, then `fields` (a
/// mapping or `(name, value)` pairs; values may be `str`, `bytes`, `int` or `float`). Raises
/// `LocalProtocolError` for any name or value that could inject a line (CR, LF, NUL) or change
/// a header name (`:`, surrounding blanks).
#[pyfunction]
#[pyo3(signature = (name, fields = None, action_id = None))]
pub fn encode_action<'py>(
    py: Python<'py>,
    name: &Bound<'py, PyAny>,
    fields: Option<&Bound<'py, PyAny>>,
    action_id: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut a = Action::new(bytes_of(name, "name")?);
    if let Some(id) = action_id {
        a.push("ActionID", bytes_of(id, "action_id")?);
    }
    for (n, v) in fields_of(fields)? {
        a.push(n, v);
    }
    Ok(PyBytes::new(py, &encoded(a.to_bytes(), "the action")?))
}

/// Encodes a response: `Response: <status>`, then `fields`; refuses injection like
/// `encode_action`.
#[pyfunction]
#[pyo3(signature = (status, fields = None))]
pub fn encode_response<'py>(
    py: Python<'py>,
    status: &Bound<'py, PyAny>,
    fields: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut r = Response::new(bytes_of(status, "status")?);
    for (n, v) in fields_of(fields)? {
        r.push(n, v);
    }
    Ok(PyBytes::new(py, &encoded(r.to_bytes(), "the response")?))
}

/// Encodes an event: `Event: <name>`, then `fields`; refuses injection like `encode_action`.
#[pyfunction]
#[pyo3(signature = (name, fields = None))]
pub fn encode_event<'py>(
    py: Python<'py>,
    name: &Bound<'py, PyAny>,
    fields: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut e = EncEvent::new(bytes_of(name, "name")?);
    for (n, v) in fields_of(fields)? {
        e.push(n, v);
    }
    Ok(PyBytes::new(py, &encoded(e.to_bytes(), "the event")?))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Message>()?;
    fastcall::install_get(&m.py().get_type::<Message>())?;
    m.add_class::<Banner>()?;
    m.add_class::<Decoder>()?;
    m.add_function(wrap_pyfunction!(encode_action, m)?)?;
    m.add_function(wrap_pyfunction!(encode_response, m)?)?;
    m.add_function(wrap_pyfunction!(encode_event, m)?)?;
    Ok(())
}
