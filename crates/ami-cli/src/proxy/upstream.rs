//! One upstream Asterisk: an `ami_tokio::Client` that connects, logs in, detects a dead server
//! and reconnects with backoff, and a task that relays between it and the proxy's main task.
//!
//! The main task chooses every upstream ActionID itself ([`upstream_action_id`]), so it can
//! route answers and restore each client's own ActionID (and recognise its ActionIDs quoted in
//! events, as UserEvent does); this task only reports which token an answer belongs to.

use std::time::Duration;

use ami_proto::OwnedMessage;
use ami_proto::encode::Action;
use ami_tokio::{
    Backoff, Client, ClientOptions, Part as ClientPart, Secret, StreamEvent, Target,
    TlsClientOptions, TlsRoots,
};
use tokio::sync::mpsc;

use super::config::UpstreamConfig;

/// Prefix of the ActionIDs the proxy sends upstream: `ami-proxy-<token>`.
pub const ACTION_ID_PREFIX: &str = "ami-proxy-";

/// The upstream ActionID of a token.
pub fn upstream_action_id(token: u64) -> String {
    format!("{ACTION_ID_PREFIX}{token}")
}

/// The token of an upstream ActionID the proxy made.
pub fn token_of(action_id: &[u8]) -> Option<u64> {
    let rest = action_id.strip_prefix(ACTION_ID_PREFIX.as_bytes())?;
    std::str::from_utf8(rest).ok()?.parse().ok()
}

/// A command from the main task.
#[derive(Debug)]
pub enum Command {
    /// Send this action (its ActionID is already [`upstream_action_id`]`(token)`).
    Action {
        /// The main task's token.
        token: u64,
        /// The action.
        action: Action,
    },
}

/// What kind of answer a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// A response; `complete` false for an accepted async Originate.
    Response {
        /// Final answer of the action.
        complete: bool,
    },
    /// The response that starts a list.
    ListStart,
    /// A list item.
    ListItem,
    /// The event that ends a list.
    ListComplete,
    /// A Command's whole response.
    CommandOutput,
    /// The OriginateResponse of an async Originate.
    OriginateResponse,
    /// A malformed final answer.
    Malformed,
}

impl Part {
    /// Whether this part ends the action.
    pub fn is_final(self) -> bool {
        !matches!(self, Part::Response { complete: false } | Part::ListStart | Part::ListItem)
    }
}

/// A report to the main task.
#[derive(Debug)]
pub enum Report {
    /// Logged in (again).
    Connected {
        /// Upstream index.
        upstream: usize,
        /// The banner line.
        banner: String,
    },
    /// The connection ended (or could not be made); reconnecting.
    Disconnected {
        /// Upstream index.
        upstream: usize,
        /// Why.
        reason: String,
    },
    /// Part of an answer.
    Answer {
        /// The main task's token.
        token: u64,
        /// What it is.
        part: Part,
        /// The message as the upstream sent it.
        message: OwnedMessage,
    },
    /// The action ended without an answer (timeout, connection lost, refused locally).
    Failed {
        /// Upstream index.
        upstream: usize,
        /// The main task's token.
        token: u64,
        /// Why.
        reason: String,
    },
    /// An event for the fan-out.
    Event {
        /// Upstream index.
        upstream: usize,
        /// The event.
        message: OwnedMessage,
    },
    /// Events were lost between the upstream and the proxy (the proxy fell behind).
    EventsLost {
        /// Upstream index.
        upstream: usize,
        /// How many.
        missed: u64,
    },
}

/// The client options of an upstream section.
pub fn client_options(
    config: &UpstreamConfig,
    secret: Secret,
    max_backoff: Duration,
) -> ClientOptions {
    let tls = config.tls.as_ref().map(|t| {
        TlsClientOptions::new(TlsRoots::CaFile(t.ca_file.clone()))
            .with_server_name(t.server_name.clone())
    });
    ClientOptions::new(
        Target::new(config.host.clone(), config.port),
        config.username.clone(),
        secret,
    )
    .with_login(config.method)
    .with_tls(tls)
    .with_action_timeout(config.action_timeout)
    .with_action_id_prefix("ami-proxy-internal-")
    .with_max_in_flight(65_536)
    .with_event_buffer(1 << 16)
    .with_reconnect(Some(Backoff { max: max_backoff, ..Backoff::default() }))
}

/// Runs upstream `index` until the main task goes away.
pub async fn run(
    index: usize,
    options: ClientOptions,
    mut commands: mpsc::Receiver<Command>,
    reports: mpsc::Sender<Report>,
) {
    let (client, mut events) = Client::spawn(options);
    loop {
        tokio::select! {
            item = events.recv() => {
                let report = match item {
                    Some(StreamEvent::Event(ev)) => {
                        Report::Event { upstream: index, message: ev.message().clone() }
                    }
                    Some(StreamEvent::Connected { banner }) => Report::Connected { upstream: index, banner },
                    Some(StreamEvent::Disconnected { reason }) => Report::Disconnected { upstream: index, reason },
                    Some(StreamEvent::Lagged { missed }) => Report::EventsLost { upstream: index, missed },
                    Some(_) => continue,
                    None => return,
                };
                if reports.send(report).await.is_err() {
                    client.close().await;
                    return;
                }
            }
            cmd = commands.recv() => match cmd {
                Some(Command::Action { token, action }) => {
                    // Each action's answer is relayed by its own task, part by part.
                    let (client, reports) = (client.clone(), reports.clone());
                    tokio::spawn(async move { relay(index, &client, token, &action, &reports).await });
                }
                None => {
                    client.close().await;
                    return;
                }
            },
        }
    }
}

/// Sends one action and reports its parts.
async fn relay(
    index: usize,
    client: &Client,
    token: u64,
    action: &Action,
    reports: &mpsc::Sender<Report>,
) {
    let failed = |reason: String| Report::Failed { upstream: index, token, reason };
    let mut parts = match client.send(action, None).await {
        Ok(p) => p,
        Err(e) => {
            let _ = reports.send(failed(e.to_string())).await;
            return;
        }
    };
    while let Some(part) = parts.recv().await {
        let report = match part {
            ClientPart::Response { message, complete } => {
                Report::Answer { token, part: Part::Response { complete }, message }
            }
            ClientPart::ListStart(message) => {
                Report::Answer { token, part: Part::ListStart, message }
            }
            ClientPart::ListItem(message) => {
                Report::Answer { token, part: Part::ListItem, message }
            }
            ClientPart::ListComplete(message) => {
                Report::Answer { token, part: Part::ListComplete, message }
            }
            ClientPart::CommandOutput(message) => {
                Report::Answer { token, part: Part::CommandOutput, message }
            }
            ClientPart::OriginateResponse(message) => {
                Report::Answer { token, part: Part::OriginateResponse, message }
            }
            ClientPart::Malformed { message, .. } => {
                Report::Answer { token, part: Part::Malformed, message }
            }
            ClientPart::Failed(e) => failed(e.to_string()),
            _ => continue,
        };
        if reports.send(report).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_through_action_ids() {
        assert_eq!(upstream_action_id(42), "ami-proxy-42");
        assert_eq!(token_of(b"ami-proxy-42"), Some(42));
        assert_eq!(token_of(b"ami-proxy-"), None);
        assert_eq!(token_of(b"ami-proxy-x"), None);
        assert_eq!(token_of(b"client-42"), None);
        assert_eq!(token_of(b"ami-proxy-internal-1"), None);
    }
}
