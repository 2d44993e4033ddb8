//! One upstream Asterisk: a task that owns the TCP (or TLS) connection and the core's
//! [`ClientSession`], logs in, reconnects with backoff, and relays to the proxy's main task.
//!
//! The main task chooses every upstream ActionID itself ([`upstream_action_id`]), so it can
//! route answers and restore each client's own ActionID; this task only reports which token an
//! answer belongs to.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use ami_proto::OwnedMessage;
use ami_proto::client::{ActionId, ClientConfig, ClientEvent, ClientSession, Keepalive};
use ami_proto::encode::Action;
use ami_proto::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::config::UpstreamConfig;
use crate::clock::{self, now};
use crate::conn::send_transmit;
use crate::secret::Secret;

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
}

/// Any byte stream (TCP or TLS).
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Runs upstream `index` until the main task goes away.
pub async fn run(
    index: usize,
    config: UpstreamConfig,
    secret: Secret,
    max_backoff: StdDuration,
    mut commands: mpsc::Receiver<Command>,
    reports: mpsc::Sender<Report>,
) {
    let mut backoff = StdDuration::from_millis(250);
    loop {
        let outcome = session(index, &config, &secret, &mut commands, &reports).await;
        let (reason, was_logged_in) = match outcome {
            Ok(ended) => ended,
            Err(Gone) => return,
        };
        if was_logged_in {
            backoff = StdDuration::from_millis(250);
        }
        if reports.send(Report::Disconnected { upstream: index, reason }).await.is_err() {
            return;
        }
        // Wait, failing every action that arrives meanwhile.
        let sleep = tokio::time::sleep(backoff);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => break,
                cmd = commands.recv() => match cmd {
                    Some(Command::Action { token, .. }) => {
                        let r = Report::Failed {
                            upstream: index,
                            token,
                            reason: "not connected to the upstream server".into(),
                        };
                        if reports.send(r).await.is_err() {
                            return;
                        }
                    }
                    None => return,
                },
            }
        }
        backoff = (backoff * 2).min(max_backoff);
        if reports.is_closed() {
            return;
        }
    }
}

/// The main task is gone.
struct Gone;

async fn connect(config: &UpstreamConfig) -> Result<Box<dyn Stream>, String> {
    let tcp = tokio::time::timeout(
        StdDuration::from_secs(10),
        TcpStream::connect((config.host.as_str(), config.port)),
    )
    .await
    .map_err(|_| format!("no connection to {}:{} within 10 s", config.host, config.port))?
    .map_err(|e| format!("cannot connect to {}:{}: {e}", config.host, config.port))?;
    let _ = tcp.set_nodelay(true);
    match &config.tls {
        None => Ok(Box::new(tcp)),
        Some(tls) => {
            let (connector, name) =
                crate::tls::connector(&tls.ca_file, &tls.server_name).map_err(|e| e.to_string())?;
            let stream = connector
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake with {}: {e}", config.host))?;
            Ok(Box::new(stream))
        }
    }
}

/// One connection: connect, log in, relay until it ends. `Ok((reason, logged_in))` when it
/// ended.
async fn session(
    index: usize,
    config: &UpstreamConfig,
    secret: &Secret,
    commands: &mut mpsc::Receiver<Command>,
    reports: &mpsc::Sender<Report>,
) -> Result<(String, bool), Gone> {
    let mut stream = match connect(config).await {
        Ok(s) => s,
        Err(reason) => return Ok((reason, false)),
    };
    let timeout =
        Duration::from_millis(u64::try_from(config.action_timeout.as_millis()).unwrap_or(u64::MAX));
    let client_config = ClientConfig::default()
        .with_action_id_prefix("ami-proxy-internal-")
        .with_action_timeout(Some(timeout))
        .with_keepalive(Some(Keepalive {
            interval: Duration::from_secs(20),
            timeout: Duration::from_secs(10),
        }))
        .with_max_in_flight(65_536);
    let mut client = ClientSession::new(client_config, now());
    let login = match client.login(&config.username, secret.expose(), config.method) {
        Ok(id) => id,
        Err(e) => return Ok((format!("login not sent: {e}"), false)),
    };
    let mut tokens: HashMap<ActionId, u64> = HashMap::new();
    let mut logged_in = false;
    let mut banner = String::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // Drain.
        let mut ended = None;
        while let Some(event) = client.poll_event() {
            let answer = |token: u64, part: Part, message: ami_proto::Message<'_>| Report::Answer {
                token,
                part,
                message: message.to_owned_message(),
            };
            let report = match &event {
                ClientEvent::Banner { line, .. } => {
                    banner = String::from_utf8_lossy(line).into_owned();
                    None
                }
                ClientEvent::LoggedIn { action_id, .. } if *action_id == login => {
                    logged_in = true;
                    Some(Report::Connected { upstream: index, banner: banner.clone() })
                }
                ClientEvent::LoginFailed { message, .. } => {
                    let text =
                        message.get("Message").map(|m| String::from_utf8_lossy(m).into_owned());
                    ended = Some(format!(
                        "login as {:?} refused: {} (check the upstream section's username and secret)",
                        config.username,
                        text.unwrap_or_default()
                    ));
                    None
                }
                ClientEvent::Event(m) | ClientEvent::Unsolicited(m) if m.event().is_some() => {
                    Some(Report::Event { upstream: index, message: m.to_owned_message() })
                }
                ClientEvent::Closed { reason, .. } => {
                    ended.get_or_insert_with(|| format!("connection closed ({reason:?})"));
                    None
                }
                _ => {
                    let token = event.action_id().and_then(|id| tokens.get(id).copied());
                    match (token, &event) {
                        (Some(t), ClientEvent::Response { message, complete, .. }) => {
                            Some(answer(t, Part::Response { complete: *complete }, *message))
                        }
                        (Some(t), ClientEvent::ListStart { message, .. }) => {
                            Some(answer(t, Part::ListStart, *message))
                        }
                        (Some(t), ClientEvent::ListItem { message, .. }) => {
                            Some(answer(t, Part::ListItem, *message))
                        }
                        (Some(t), ClientEvent::ListComplete { message, .. }) => {
                            Some(answer(t, Part::ListComplete, *message))
                        }
                        (Some(t), ClientEvent::CommandOutput { output, .. }) => {
                            Some(answer(t, Part::CommandOutput, output.message()))
                        }
                        (Some(t), ClientEvent::OriginateResponse { message, .. }) => {
                            Some(answer(t, Part::OriginateResponse, *message))
                        }
                        (Some(t), ClientEvent::Malformed { message, action_id: Some(_), .. }) => {
                            Some(answer(t, Part::Malformed, *message))
                        }
                        (Some(t), ClientEvent::ActionTimedOut { .. }) => Some(Report::Failed {
                            upstream: index,
                            token: t,
                            reason: "no answer from the upstream server in time".into(),
                        }),
                        (Some(t), ClientEvent::ActionAborted { reason, .. }) => {
                            Some(Report::Failed {
                                upstream: index,
                                token: t,
                                reason: format!("the upstream connection ended ({reason:?})"),
                            })
                        }
                        _ => None,
                    }
                }
            };
            if event.is_final()
                && let Some(id) = event.action_id()
            {
                tokens.remove(id);
            }
            if let Some(r) = report
                && reports.send(r).await.is_err()
            {
                return Err(Gone);
            }
        }
        if let Some(reason) = ended {
            return Ok((reason, logged_in));
        }
        // Flush what the input and the drain queued (the session answers the MD5 challenge
        // while its events are drained).
        if send_transmit(&mut client, &mut stream).await.is_err() {
            client.handle_eof();
        }
        if client.state() == ami_proto::client::ClientState::Closed {
            // handle_eof above: report it on the next round.
            continue;
        }
        // Wait for input, a command (once logged in) or the timer.
        let timer = clock::sleep_until(client.poll_timeout());
        tokio::select! {
            r = stream.read(&mut buf) => match r {
                Ok(0) | Err(_) => client.handle_eof(),
                Ok(n) => client.handle_input(&buf[..n]),
            },
            cmd = commands.recv(), if logged_in => match cmd {
                Some(Command::Action { token, action }) => match client.send_action(&action, now()) {
                    Ok(id) => {
                        tokens.insert(id, token);
                    }
                    Err(e) => {
                        let r = Report::Failed { upstream: index, token, reason: format!("not sent upstream: {e}") };
                        if reports.send(r).await.is_err() {
                            return Err(Gone);
                        }
                    }
                },
                None => {
                    let _ = client.logoff();
                    return Err(Gone);
                }
            },
            () = timer => client.handle_timeout(now()),
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
