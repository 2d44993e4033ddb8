//! Actions as NATS request/reply on `ami.<role>.<pbx>.act`: authorised with the role's write
//! classes exactly as Asterisk would (refused ones never reach the PBX), run on a separate AMI
//! session per PBX (so their answers never disturb the event numbering), collected within the
//! server's `max_payload`, answered with the AMI bytes and the caller's ActionID.

use std::collections::HashMap;
use std::sync::Arc;

use ami_proto::authority::{list_commands, list_commands_text};
use ami_proto::encode::Action;
use ami_proto::{Decoder, Frame, Message, Role as DecoderRole};
use ami_tokio::{Client, ClientOptions, Part, StreamEvent};
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::StreamExt;

use super::metrics::Metrics;
use super::roles::Role;

/// The queue group every bridge of a pair answers in.
pub const QUEUE_GROUP: &str = "ami-bridge";

/// The action sessions, by PBX name: (upstream index, client).
pub type ActionClients = HashMap<String, (usize, Client)>;

/// An AMI session for actions: it reads only `OriginateResponse` events (for async
/// Originate), through an event filter set again after every login.
pub fn action_client(options: ClientOptions) -> Client {
    let (client, mut events) = Client::spawn(options.with_events("call"));
    let c = client.clone();
    tokio::spawn(async move {
        while let Some(item) = events.recv().await {
            if let StreamEvent::Connected { .. } = item {
                let filter = Action::new("Filter")
                    .with("Operation", "Add")
                    .with("Filter", "Event: OriginateResponse");
                if let Err(e) = c.action(&filter).await {
                    tracing::warn!(target = %c.target(), "cannot set the action session's event filter: {e}");
                }
            }
        }
    });
    client
}

/// An error reply in AMI bytes.
fn error_bytes(action_id: Option<&[u8]>, message: &str) -> Vec<u8> {
    let mut out = b"Response: Error\r\n".to_vec();
    if let Some(id) = action_id {
        out.extend_from_slice(b"ActionID: ");
        out.extend_from_slice(id);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Message: ");
    out.extend_from_slice(message.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out
}

/// The request body as AMI bytes: AMI as it is, or a JSON object turned into an action.
pub fn request_bytes(body: &[u8]) -> Result<Vec<u8>, String> {
    let trimmed =
        body.iter().position(|b| !b.is_ascii_whitespace()).map_or(&b""[..], |i| &body[i..]);
    if !trimmed.starts_with(b"{") {
        let mut v = body.to_vec();
        if !v.ends_with(b"\r\n\r\n") && !v.ends_with(b"\n\n") {
            v.extend_from_slice(if v.ends_with(b"\r\n") { b"\r\n" } else { b"\r\n\r\n" });
        }
        return Ok(v);
    }
    let value: serde_json::Value = serde_json::from_slice(trimmed)
        .map_err(|e| format!("the request is not valid JSON: {e}"))?;
    let obj = value.as_object().ok_or("a JSON request is an object: {\"Action\": \"Ping\"}")?;
    let action = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Action"))
        .and_then(|(_, v)| v.as_str())
        .ok_or("a JSON request needs \"Action\": \"...\"")?;
    let mut a = Action::new(action);
    for (k, v) in obj {
        if k.eq_ignore_ascii_case("Action") {
            continue;
        }
        let values: Vec<String> = match v {
            serde_json::Value::Array(items) => items.iter().map(json_text).collect(),
            other => vec![json_text(other)],
        };
        for value in values {
            a.push(k.as_bytes(), value.into_bytes());
        }
    }
    a.to_bytes().map_err(|e| format!("the request cannot be sent as AMI: {e}"))
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parses one action message.
fn parse(bytes: &[u8], f: impl FnOnce(Option<Message<'_>>) -> Reply) -> Reply {
    let mut d = Decoder::new(DecoderRole::Server);
    d.feed(bytes);
    match d.next_frame() {
        Some(Ok(Frame::Message(m))) => f(Some(m)),
        _ => f(None),
    }
}

/// A reply: status header and AMI bytes.
#[derive(Debug)]
pub struct Reply {
    /// `ok`, `error`, `refused` or `failed`.
    pub status: &'static str,
    /// The AMI bytes.
    pub body: Vec<u8>,
}

/// What to do with a request.
enum Plan {
    Done(Reply),
    Run { action: Action, action_id: Option<Vec<u8>> },
}

/// Decides a request of `role` (authorisation, ListCommands): either the reply, or the
/// action to send.
fn plan(role: &Role, body: &[u8]) -> Plan {
    let bytes = match request_bytes(body) {
        Ok(b) => b,
        Err(e) => return Plan::Done(Reply { status: "refused", body: error_bytes(None, &e) }),
    };
    let mut planned = None;
    let reply = parse(&bytes, |m| {
        let Some(m) = m else {
            return Reply {
                status: "refused",
                body: error_bytes(None, "the request is not one AMI action"),
            };
        };
        let id = m.action_id().filter(|v| !v.is_empty());
        let info = match role.authorize(&m) {
            Ok(info) => info,
            Err(r) => return Reply { status: "refused", body: error_bytes(id, &r.0) },
        };
        if info.name == "ListCommands" {
            let mut out = b"Response: Success\r\n".to_vec();
            if let Some(id) = id {
                out.extend_from_slice(b"ActionID: ");
                out.extend_from_slice(id);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(list_commands_text(list_commands(role.write)).as_bytes());
            out.extend_from_slice(b"\r\n");
            return Reply { status: "ok", body: out };
        }
        let mut a = Action::new(info.name);
        for h in m.iter() {
            if h.is_bare() || h.is(b"Action") || h.is(b"ActionID") {
                continue;
            }
            a.push(h.name(), h.value());
        }
        planned = Some((a, id.map(<[u8]>::to_vec)));
        Reply { status: "ok", body: Vec::new() }
    });
    match planned {
        Some((action, action_id)) => Plan::Run { action, action_id },
        None => Plan::Done(reply),
    }
}

/// Sends `action` and collects its answer's bytes (the caller's ActionID put back) within
/// `max_bytes`.
async fn run(
    client: &Client,
    action: &Action,
    action_id: Option<&[u8]>,
    max_bytes: usize,
) -> Reply {
    let mut parts = match client.send(action, None).await {
        Ok(p) => p,
        Err(e) => return Reply { status: "failed", body: error_bytes(action_id, &e.to_string()) },
    };
    let mut body = Vec::new();
    let mut status = "ok";
    while let Some(part) = parts.recv().await {
        if let Part::Failed(e) = &part {
            return Reply { status: "failed", body: error_bytes(action_id, &e.to_string()) };
        }
        let Some(m) = part.message() else { continue };
        let m = m.as_message();
        if m.response()
            .is_some_and(|r| r.eq_ignore_ascii_case(b"Error") || r.eq_ignore_ascii_case(b"Failure"))
        {
            status = "error";
        }
        body.extend_from_slice(&crate::proxy::relay::rewrite(&m, action_id));
        if body.len() > max_bytes {
            // Read the rest so the session stays in step, then say so.
            while parts.recv().await.is_some() {}
            return Reply {
                status: "failed",
                body: error_bytes(
                    action_id,
                    &format!(
                        "the answer is larger than the NATS server's max_payload ({max_bytes} bytes)"
                    ),
                ),
            };
        }
        if part.is_final() {
            break;
        }
    }
    Reply { status, body }
}

/// Serves the action requests of every role and PBX until the subscription ends.
pub async fn serve(
    nc: async_nats::Client,
    prefix: String,
    roles: Arc<Vec<Role>>,
    clients: Arc<ActionClients>,
    metrics: Arc<Metrics>,
) -> Result<(), async_nats::SubscribeError> {
    let mut sub = nc.queue_subscribe(format!("{prefix}.*.*.act"), QUEUE_GROUP.to_owned()).await?;
    let max_bytes = nc.server_info().max_payload.saturating_sub(4096).max(4096);
    while let Some(msg) = sub.next().await {
        let Some(reply_to) = msg.reply.clone() else { continue };
        let mut tokens = msg.subject.split('.');
        let (_, role, pbx) =
            (tokens.next(), tokens.next().unwrap_or_default(), tokens.next().unwrap_or_default());
        let (role, pbx) = (role.to_owned(), pbx.to_owned());
        let (nc, roles, clients, metrics) =
            (nc.clone(), Arc::clone(&roles), Arc::clone(&clients), Arc::clone(&metrics));
        tokio::spawn(async move {
            let reply = match (roles.iter().find(|r| r.name == role), clients.get(&pbx)) {
                (Some(r), Some((index, client))) if r.sees_pbx(*index) => {
                    match plan(r, &msg.payload) {
                        Plan::Done(reply) => reply,
                        Plan::Run { action, action_id } => {
                            run(client, &action, action_id.as_deref(), max_bytes).await
                        }
                    }
                }
                _ => Reply {
                    status: "refused",
                    body: error_bytes(
                        None,
                        &format!("no PBX {pbx:?} for role {role:?} on this bridge"),
                    ),
                },
            };
            metrics.action(&role, &pbx, reply.status);
            if reply.status == "refused" {
                tracing::info!(%role, %pbx, "action refused: {}", String::from_utf8_lossy(&reply.body).trim_end());
            }
            let mut headers = HeaderMap::new();
            headers.insert("Ami-Status", reply.status);
            if let Err(e) =
                nc.publish_with_headers(reply_to, headers, Bytes::from(reply.body)).await
            {
                tracing::warn!(%role, %pbx, "cannot send an action's reply: {e}");
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_proto::filter::FilterSet;
    use ami_proto::perm::Privilege;

    #[test]
    fn json_requests_become_actions() {
        let b = request_bytes(br#"{"Action": "Originate", "Channel": "Local/1@x", "Variable": ["A=1", "B=2"], "Async": true}"#).unwrap();
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "Action: Originate\r\nChannel: Local/1@x\r\nVariable: A=1\r\nVariable: B=2\r\nAsync: true\r\n\r\n"
        );
        assert_eq!(request_bytes(b"Action: Ping\r\n").unwrap(), b"Action: Ping\r\n\r\n");
        assert!(request_bytes(b"{\"Channel\": \"x\"}").unwrap_err().contains("Action"));
        assert!(request_bytes(b"{nope").is_err());
    }

    #[test]
    fn refusals_and_list_commands_are_answered_here() {
        let role = Role::new(
            "r".into(),
            Privilege::CALL,
            Privilege::REPORTING,
            FilterSet::default(),
            None,
        );
        let Plan::Done(r) =
            plan(&role, b"Action: Originate\r\nActionID: 9\r\nChannel: Local/1@x\r\n\r\n")
        else {
            panic!("Originate must be refused");
        };
        assert_eq!(r.status, "refused");
        assert_eq!(r.body, b"Response: Error\r\nActionID: 9\r\nMessage: Permission denied\r\n\r\n");
        let Plan::Done(r) = plan(&role, b"Action: ListCommands\r\n\r\n") else { panic!() };
        assert!(String::from_utf8_lossy(&r.body).contains("CoreShowChannels:"));
        assert!(!String::from_utf8_lossy(&r.body).contains("Originate:"));
        let Plan::Run { action, action_id } =
            plan(&role, b"Action: Status\r\nActionID: a\r\nChannel: X\r\n\r\n")
        else {
            panic!("Status is allowed with reporting");
        };
        assert_eq!(action.get("Channel"), Some(&b"X"[..]));
        assert_eq!(action.get("ActionID"), None);
        assert_eq!(action_id.as_deref(), Some(&b"a"[..]));
    }
}
