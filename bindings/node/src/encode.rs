//! `encodeAction`, `encodeResponse`, `encodeEvent`: messages built by the core's
//! injection-proof encoder.

use ami_proto::encode::{Action, Event, Response};
use napi::Either;
use napi::bindgen_prelude::Buffer;
use napi::{Env, Result};
use napi_derive::napi;

use crate::convert;
use crate::errors;

/// Encodes an action: `Action: <name>`, `ActionID: <actionId>` if given, then `fields` (a flat
/// `[name, value, ...]` list). Throws `LocalProtocolError` (with `field`, `offset` and `reason`)
/// for any name or value that could inject a line (CR, LF, NUL) or change a header name (`:`,
/// blanks around it).
#[napi(js_name = "encodeAction")]
pub fn encode_action(
    env: Env,
    name: Either<String, Buffer>,
    fields: Vec<Either<String, Buffer>>,
    action_id: Option<Either<String, Buffer>>,
) -> Result<Buffer> {
    let mut a = Action::new(convert::bytes(&name));
    if let Some(id) = &action_id {
        a.push("ActionID", convert::bytes(id));
    }
    for (n, v) in convert::pairs(&fields)? {
        a.push(n, v);
    }
    a.to_bytes().map(Buffer::from).map_err(|e| errors::encode(&env, "the action", &e))
}

/// Encodes a response: `Response: <status>`, then `fields`; refuses injection like
/// `encodeAction`.
#[napi(js_name = "encodeResponse")]
pub fn encode_response(
    env: Env,
    status: Either<String, Buffer>,
    fields: Vec<Either<String, Buffer>>,
) -> Result<Buffer> {
    let mut r = Response::new(convert::bytes(&status));
    for (n, v) in convert::pairs(&fields)? {
        r.push(n, v);
    }
    r.to_bytes().map(Buffer::from).map_err(|e| errors::encode(&env, "the response", &e))
}

/// Encodes an event: `Event: <name>`, then `fields`; refuses injection like `encodeAction`.
#[napi(js_name = "encodeEvent")]
pub fn encode_event(
    env: Env,
    name: Either<String, Buffer>,
    fields: Vec<Either<String, Buffer>>,
) -> Result<Buffer> {
    let mut e = Event::new(convert::bytes(&name));
    for (n, v) in convert::pairs(&fields)? {
        e.push(n, v);
    }
    e.to_bytes().map(Buffer::from).map_err(|err| errors::encode(&env, "the event", &err))
}

/// The longest an action may take in milliseconds, given its own `timeout`: an async
/// `Originate` also gets its ring time (its `Timeout` header, 30 s if absent), as the session
/// counts it.
#[napi(js_name = "actionTimeLimit")]
pub fn action_time_limit(
    name: Either<String, Buffer>,
    fields: Vec<Either<String, Buffer>>,
    timeout: f64,
) -> Result<f64> {
    let mut a = Action::new(convert::bytes(&name));
    for (n, v) in convert::pairs(&fields)? {
        a.push(n, v);
    }
    let Some(t) = convert::limit(timeout) else { return Ok(f64::INFINITY) };
    Ok(ami_proto::client::time_limit(&a, t).as_millis() as f64)
}
