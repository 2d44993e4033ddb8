//! `ami_message_builder`: actions, responses and events to bytes, with injection refused.

use core::ffi::c_char;

use ami_proto::encode::{Action, EncodeError, Event, Response};

use crate::error::{
    HandleState, ami_bytes, ami_result, ami_str, copy_out, free_handle, input_text, last_error,
    new_handle, with_mut, with_ref, write,
};
use ami_result::*;

/// A message being built (opaque): its first line (`Action:`, `Response:` or `Event:`) and the
/// headers added so far, kept encoded. Not thread-safe.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ami_message_builder {
    msg: Msg,
    encoded: Vec<u8>,
    state: HandleState,
}

#[derive(Debug)]
enum Msg {
    Action(Action),
    Response(Response),
    Event(Event),
}

impl Msg {
    fn push(&mut self, name: &[u8], value: &[u8]) {
        match self {
            Msg::Action(m) => m.push(name, value),
            Msg::Response(m) => m.push(name, value),
            Msg::Event(m) => m.push(name, value),
        }
    }

    fn pop(&mut self) {
        let fields = match self {
            Msg::Action(m) => &mut m.fields,
            Msg::Response(m) => &mut m.fields,
            Msg::Event(m) => &mut m.fields,
        };
        let mut kept = ami_proto::encode::Fields::default();
        let n = fields.len().saturating_sub(1);
        for (name, value) in fields.iter().take(n) {
            kept.push(name, value);
        }
        *fields = kept;
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        out.clear();
        match self {
            Msg::Action(m) => m.encode_into(out),
            Msg::Response(m) => m.encode_into(out),
            Msg::Event(m) => m.encode_into(out),
        }
    }
}

impl ami_message_builder {
    /// The message if it is an action.
    pub(crate) fn action(&self) -> Option<&Action> {
        match &self.msg {
            Msg::Action(a) => Some(a),
            _ => None,
        }
    }

    /// The message if it is a response.
    pub(crate) fn response(&self) -> Option<&Response> {
        match &self.msg {
            Msg::Response(r) => Some(r),
            _ => None,
        }
    }

    /// The message if it is an event.
    pub(crate) fn event(&self) -> Option<&Event> {
        match &self.msg {
            Msg::Event(e) => Some(e),
            _ => None,
        }
    }
}

crate::error::impl_handle!(ami_message_builder);

/// Starts a message of `kind` (`AMI_MESSAGE_ACTION`, `AMI_MESSAGE_RESPONSE` or
/// `AMI_MESSAGE_EVENT`) whose first line carries `first` (`len` bytes): the action name, the
/// response status or the event name. Free it with `ami_message_builder_free`.
///
/// `AMI_RESULT_INVALID_PARAMETER` for another kind; `AMI_RESULT_ENCODE_ERROR` if `first` contains
/// CR, LF or NUL (or, for an action, starts with a blank the server would drop).
#[unsafe(no_mangle)]
pub extern "C" fn ami_message_builder_new(
    kind: u32,
    first: *const c_char,
    len: usize,
    out: *mut *mut ami_message_builder,
) -> ami_result {
    crate::error::guard(|| {
        if out.is_null() {
            return AMI_RESULT_NULL_PARAMETER;
        }
        let first = match input_text(first, len) {
            Ok(b) => b,
            Err(e) => return e,
        };
        let msg = match kind {
            1 => Msg::Action(Action::new(first)),
            2 => Msg::Response(Response::new(first)),
            3 => Msg::Event(Event::new(first)),
            _ => return AMI_RESULT_INVALID_PARAMETER,
        };
        let mut encoded = Vec::new();
        if msg.encode(&mut encoded).is_err() {
            return AMI_RESULT_ENCODE_ERROR;
        }
        new_handle(out, ami_message_builder { msg, encoded, state: HandleState::default() })
    })
}

/// Frees a builder. NULL is a no-op.
#[unsafe(no_mangle)]
pub extern "C" fn ami_message_builder_free(builder: *mut ami_message_builder) {
    free_handle(builder);
}

/// Appends the header `name: value`. A name that is empty, contains `:`, CR, LF or NUL, or has a
/// blank at either end, and a value with CR, LF or NUL (or, in an action, a leading blank) are
/// refused with `AMI_RESULT_ENCODE_ERROR`: the message is unchanged and
/// `ami_message_builder_last_error` says which field and byte.
#[unsafe(no_mangle)]
pub extern "C" fn ami_message_builder_add_header(
    builder: *mut ami_message_builder,
    name: *const c_char,
    name_len: usize,
    value: *const c_char,
    value_len: usize,
) -> ami_result {
    with_mut(builder, |b| {
        let (name, value) = match (input_text(name, name_len), input_text(value, value_len)) {
            (Ok(n), Ok(v)) => (n, v),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        b.msg.push(name, value);
        let mut encoded = Vec::with_capacity(b.encoded.len() + name.len() + value.len() + 4);
        match b.msg.encode(&mut encoded) {
            Ok(_) => {
                b.encoded = encoded;
                AMI_RESULT_OK
            }
            Err(e) => {
                b.msg.pop();
                b.state.last_error = e.to_string();
                AMI_RESULT_ENCODE_ERROR
            }
        }
    })
}

/// Writes a view of the encoded message (`Name: value` lines ending in CRLF, then a blank line),
/// valid until the next non-const call on the builder.
#[unsafe(no_mangle)]
pub extern "C" fn ami_message_builder_bytes(
    builder: *const ami_message_builder,
    out: *mut ami_bytes,
) -> ami_result {
    with_ref(builder, |b| write(out, ami_bytes::from(&b.encoded)))
}

/// Copies the encoded message into `buf` (`cap` bytes; no NUL is added) and writes its length to
/// `written`. `AMI_RESULT_INSUFFICIENT_SIZE` if it does not fit: then nothing is copied and
/// `written` receives the length needed (`buf` may be NULL when `cap` is 0, to ask for it).
#[unsafe(no_mangle)]
pub extern "C" fn ami_message_builder_encode(
    builder: *const ami_message_builder,
    buf: *mut u8,
    cap: usize,
    written: *mut usize,
) -> ami_result {
    with_ref(builder, |b| copy_out(&b.encoded, buf, cap, written, false))
}

/// Writes the text of the last failure of a non-const call on this builder (empty if that call
/// succeeded). Also works on a poisoned builder.
#[unsafe(no_mangle)]
pub extern "C" fn ami_message_builder_last_error(
    builder: *const ami_message_builder,
    out: *mut ami_str,
) -> ami_result {
    last_error(builder, out)
}
