//! A logged-in AMI connection over tokio: the core's [`ClientSession`] plus a socket.
//!
//! One owner drives it: [`AmiClient::action`] sends an action and reads until its final event;
//! events that arrive meanwhile are kept (bounded) for [`AmiClient::next_event`].

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::time::Duration as StdDuration;

use ami_proto::OwnedMessage;
use ami_proto::client::{
    ActionId, ClientConfig, ClientEvent, ClientSession, CloseReason, LocalError, LoginMethod,
};
use ami_proto::encode::Action;
use ami_proto::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::clock::{self, now};
use crate::secret::{Secret, SecretSource};

/// The AMI port of Asterisk.
pub const DEFAULT_PORT: u16 = 5038;

/// Most events kept while the caller waits for a response; older ones are dropped (counted).
const MAX_QUEUED_EVENTS: usize = 100_000;

/// Why a subcommand failed. Each says what happened, where, and what to do.
#[derive(Debug)]
pub enum CliError {
    /// Bad command-line input.
    Usage(String),
    /// No secret could be read.
    Secret(String),
    /// The TCP connection could not be made.
    Connect {
        /// `host:port` as given.
        target: String,
        /// The error.
        source: io::Error,
    },
    /// The server refused the login.
    LoginFailed {
        /// `host:port`.
        target: String,
        /// The user.
        user: String,
        /// The server's `Message`.
        message: String,
    },
    /// The connection ended.
    Closed {
        /// `host:port`.
        target: String,
        /// Why.
        reason: String,
    },
    /// Nothing came in time.
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        after: StdDuration,
    },
    /// The session refused an action before sending it.
    Local(LocalError),
    /// A socket or file error.
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: io::Error,
    },
    /// A configuration file could not be used.
    Config(String),
}

impl CliError {
    /// The process exit status for this error: 2 for usage errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }

    fn io(context: impl Into<String>, source: io::Error) -> CliError {
        CliError::Io { context: context.into(), source }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Secret(m) | CliError::Config(m) => f.write_str(m),
            CliError::Connect { target, source } => {
                write!(f, "cannot connect to {target}: {source}")?;
                if source.kind() == io::ErrorKind::ConnectionRefused {
                    f.write_str(
                        " (is Asterisk running, with `enabled = yes` in manager.conf's \
                         [general], on this port?)",
                    )?;
                }
                Ok(())
            }
            CliError::LoginFailed { target, user, message } => write!(
                f,
                "login as {user:?} at {target} refused: {message} (check the user name, the \
                 secret, and the user's permit/deny lines in manager.conf)"
            ),
            CliError::Closed { target, reason } => {
                write!(f, "connection to {target} ended: {reason}")
            }
            CliError::Timeout { what, after } => {
                write!(f, "no answer to {what} within {:.1} s", after.as_secs_f64())
            }
            CliError::Local(e) => write!(f, "action not sent: {e}"),
            CliError::Io { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl std::error::Error for CliError {}

impl From<LocalError> for CliError {
    fn from(e: LocalError) -> CliError {
        CliError::Local(e)
    }
}

/// Connection arguments shared by `tail` and `action`.
#[derive(Clone, Debug, clap::Args)]
pub struct ConnectArgs {
    /// The AMI server: HOST, HOST:PORT, [IPv6]:PORT (default port 5038)
    #[arg(value_name = "HOST[:PORT]")]
    pub target: String,
    /// The manager.conf user to log in as
    #[arg(long, short = 'u')]
    pub user: String,
    /// Read the secret from this environment variable (default: $AMI_SECRET, else a prompt)
    #[arg(long, value_name = "VAR")]
    pub secret_env: Option<String>,
    /// Read the secret from this file (one trailing newline is ignored)
    #[arg(long, value_name = "FILE", conflicts_with = "secret_env")]
    pub secret_file: Option<std::path::PathBuf>,
    /// Log in with the secret in clear (`Secret:`) instead of the MD5 challenge
    #[arg(long)]
    pub plain: bool,
    /// Seconds to wait for the connection, the login and each answer
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub timeout: f64,
}

impl ConnectArgs {
    /// The login settings these arguments describe (reads the secret).
    pub fn login(&self) -> Result<Login, CliError> {
        if !(self.timeout.is_finite() && self.timeout > 0.0) {
            return Err(CliError::Usage(format!(
                "--timeout must be a positive number of seconds, not {}",
                self.timeout
            )));
        }
        let (host, port) = parse_target(&self.target)?;
        let source = SecretSource { env: self.secret_env.clone(), file: self.secret_file.clone() };
        let secret = source.read(&format!("{}@{}", self.user, self.target))?;
        Ok(Login {
            host,
            port,
            user: self.user.clone(),
            secret,
            method: if self.plain { LoginMethod::Plain } else { LoginMethod::Md5 },
            timeout: StdDuration::from_secs_f64(self.timeout),
            events: None,
        })
    }
}

/// Splits `HOST[:PORT]` (`[v6]:port`, bare IPv6 without a port).
pub fn parse_target(target: &str) -> Result<(String, u16), CliError> {
    let bad = |why: &str| CliError::Usage(format!("bad server address {target:?}: {why}"));
    if target.is_empty() {
        return Err(bad("empty"));
    }
    if let Some(rest) = target.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("missing `]`"))?;
        let port = match after {
            "" => DEFAULT_PORT,
            p => p
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| bad("the port must be a number 1-65535"))?,
        };
        return Ok((host.to_owned(), port));
    }
    match target.rsplit_once(':') {
        // More than one colon and no brackets: a bare IPv6 address.
        Some((host, _)) if host.contains(':') => Ok((target.to_owned(), DEFAULT_PORT)),
        Some((host, port)) => {
            let port: u16 = port
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("the port must be a number 1-65535"))?;
            Ok((host.to_owned(), port))
        }
        None => Ok((target.to_owned(), DEFAULT_PORT)),
    }
}

/// What a login needs.
#[derive(Clone, Debug)]
pub struct Login {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The user.
    pub user: String,
    /// The secret.
    pub secret: Secret,
    /// Plain or MD5.
    pub method: LoginMethod,
    /// Connect/login/action time limit.
    pub timeout: StdDuration,
    /// `Events:` of the Login (`None`: the user's read classes).
    pub events: Option<String>,
}

impl Login {
    /// `host:port` for messages.
    pub fn target(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Everything an action produced, up to its final event.
#[derive(Clone, Debug, Default)]
pub struct Reply {
    /// The response (for a list: the start response; for Command: the whole response).
    pub response: Option<OwnedMessage>,
    /// List items, in order.
    pub items: Vec<OwnedMessage>,
    /// The list's completion event.
    pub complete: Option<OwnedMessage>,
    /// Command output lines.
    pub output: Option<Vec<Vec<u8>>>,
    /// The `OriginateResponse` of an async Originate.
    pub originate_response: Option<OwnedMessage>,
    /// Set when the action ended without an answer (timeout, connection lost).
    pub failure: Option<String>,
}

impl Reply {
    /// True when the answer is `Response: Error` (or no answer came).
    pub fn is_error(&self) -> bool {
        self.failure.is_some()
            || self.response.as_ref().and_then(|r| r.as_message().response()) == Some(&b"Error"[..])
            || self
                .originate_response
                .as_ref()
                .and_then(|r| r.get("Response"))
                .is_some_and(|r| r.eq_ignore_ascii_case(b"Failure"))
    }

    /// The `Message:` text of the response, if any.
    pub fn message_text(&self) -> Option<String> {
        self.response
            .as_ref()
            .and_then(|r| r.get("Message"))
            .map(|m| String::from_utf8_lossy(m).into_owned())
    }
}

/// A logged-in AMI client connection.
#[derive(Debug)]
pub struct AmiClient {
    stream: TcpStream,
    session: ClientSession,
    login: Login,
    buf: Vec<u8>,
    events: VecDeque<OwnedMessage>,
    dropped_events: u64,
    replies: HashMap<ActionId, (Reply, bool)>,
    closed: Option<CloseReason>,
}

impl AmiClient {
    /// Connects, reads the banner and logs in.
    pub async fn connect(login: &Login) -> Result<AmiClient, CliError> {
        let target = login.target();
        let connect = TcpStream::connect((login.host.as_str(), login.port));
        let stream = match tokio::time::timeout(login.timeout, connect).await {
            Ok(Ok(s)) => s,
            Ok(Err(source)) => return Err(CliError::Connect { target, source }),
            Err(_) => {
                return Err(CliError::Timeout {
                    what: format!("the connection to {target}"),
                    after: login.timeout,
                });
            }
        };
        stream.set_nodelay(true).map_err(|e| CliError::io("setting TCP_NODELAY", e))?;
        let mut config =
            ClientConfig::default().with_action_id_prefix("ami-cli-").with_action_timeout(Some(
                Duration::from_millis(u64::try_from(login.timeout.as_millis()).unwrap_or(u64::MAX)),
            ));
        if let Some(ev) = &login.events {
            config = config.with_events(ev.as_bytes().to_vec());
        }
        let mut session = ClientSession::new(config, now());
        let login_id = session.login(&login.user, login.secret.expose(), login.method)?;
        let mut client = AmiClient {
            stream,
            session,
            login: login.clone(),
            buf: vec![0; 64 * 1024],
            events: VecDeque::new(),
            dropped_events: 0,
            replies: HashMap::new(),
            closed: None,
        };
        client.replies.insert(login_id.clone(), (Reply::default(), false));
        let reply = client.wait(&login_id, "the login").await?;
        if let Some(failure) = reply.failure {
            // No answer (connection lost, timeout): not a refusal, so worth retrying.
            return Err(CliError::Closed {
                target: client.login.target(),
                reason: format!("before the login was answered: {failure}"),
            });
        }
        match reply.response.as_ref().and_then(|r| r.as_message().response()) {
            Some(r) if r.eq_ignore_ascii_case(b"Success") => Ok(client),
            _ => Err(CliError::LoginFailed {
                target: client.login.target(),
                user: client.login.user.clone(),
                message: reply.message_text().unwrap_or_else(|| "no message".into()),
            }),
        }
    }

    /// The banner line, e.g. `Asterisk Call Manager/11.0.0`.
    pub fn banner(&self) -> String {
        self.session.banner().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default()
    }

    /// Events dropped because the caller did not read them while waiting for responses.
    pub fn dropped_events(&self) -> u64 {
        self.dropped_events
    }

    /// Sends `action` and waits for its final event.
    pub async fn action(&mut self, action: &Action) -> Result<Reply, CliError> {
        let id = self.session.send_action(action, now())?;
        self.replies.insert(id.clone(), (Reply::default(), false));
        let what = format!("the action {}", String::from_utf8_lossy(action.name()));
        self.wait(&id, &what).await
    }

    /// The next event; `Ok(None)` once the connection has ended.
    pub async fn next_event(&mut self) -> Result<Option<OwnedMessage>, CliError> {
        loop {
            if let Some(ev) = self.events.pop_front() {
                return Ok(Some(ev));
            }
            if self.closed.is_some() {
                return Ok(None);
            }
            self.step().await?;
        }
    }

    /// Why the connection ended, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.closed
    }

    /// Sends Logoff and waits (briefly) for the server to close.
    pub async fn logoff(mut self) -> Result<(), CliError> {
        if self.closed.is_some() {
            return Ok(());
        }
        let id = self.session.logoff()?;
        self.replies.insert(id.clone(), (Reply::default(), false));
        let _ = tokio::time::timeout(StdDuration::from_secs(2), async {
            while self.closed.is_none() {
                self.step().await?;
            }
            Ok::<(), CliError>(())
        })
        .await;
        Ok(())
    }

    async fn wait(&mut self, id: &ActionId, what: &str) -> Result<Reply, CliError> {
        loop {
            if self.replies.get(id).is_some_and(|(_, done)| *done) {
                let (reply, _) = self.replies.remove(id).unwrap_or_default();
                return Ok(reply);
            }
            if self.closed.is_some() && !self.replies.contains_key(id) {
                return Err(CliError::Closed {
                    target: self.login.target(),
                    reason: format!("before the answer to {what}"),
                });
            }
            self.step().await?;
        }
    }

    /// One round of the run loop: flush, wait for input or the timer, feed, drain.
    async fn step(&mut self) -> Result<(), CliError> {
        match send_transmit(&mut self.session, &mut self.stream).await {
            Ok(()) => {}
            Err(e) if is_disconnect(&e) => self.session.handle_eof(),
            Err(e) => return Err(CliError::io("writing to the server", e)),
        }
        self.drain();
        if self.closed.is_some() {
            return Ok(());
        }
        let timer = clock::sleep_until(self.session.poll_timeout());
        tokio::select! {
            r = self.stream.read(&mut self.buf) => match r {
                Ok(0) => self.session.handle_eof(),
                Ok(n) => self.session.handle_input(&self.buf[..n]),
                Err(e) if is_disconnect(&e) => self.session.handle_eof(),
                Err(e) => return Err(CliError::io("reading from the server", e)),
            },
            () = timer => self.session.handle_timeout(now()),
        }
        self.drain();
        Ok(())
    }

    fn drain(&mut self) {
        while let Some(event) = self.session.poll_event() {
            let final_ = event.is_final();
            match &event {
                ClientEvent::Event(m) => {
                    if self.events.len() >= MAX_QUEUED_EVENTS {
                        self.events.pop_front();
                        self.dropped_events += 1;
                    }
                    self.events.push_back(m.to_owned_message());
                    continue;
                }
                ClientEvent::Closed { reason, .. } => {
                    self.closed = Some(*reason);
                    continue;
                }
                _ => {}
            }
            let Some(id) = event.action_id() else { continue };
            let Some((reply, done)) = self.replies.get_mut(id) else { continue };
            match &event {
                ClientEvent::LoggedIn { message, .. }
                | ClientEvent::LoginFailed { message, .. }
                | ClientEvent::Response { message, .. }
                | ClientEvent::ListStart { message, .. }
                | ClientEvent::Malformed { message, .. } => {
                    reply.response = Some(message.to_owned_message());
                }
                ClientEvent::ListItem { message, .. } => {
                    reply.items.push(message.to_owned_message());
                }
                ClientEvent::ListComplete { message, .. } => {
                    reply.complete = Some(message.to_owned_message());
                }
                ClientEvent::CommandOutput { output, .. } => {
                    reply.response = Some(output.message().to_owned_message());
                    reply.output = Some(output.lines().map(<[u8]>::to_vec).collect());
                }
                ClientEvent::OriginateResponse { message, .. } => {
                    reply.originate_response = Some(message.to_owned_message());
                }
                ClientEvent::ActionTimedOut { .. } => {
                    reply.failure =
                        Some(format!("no answer within {:.1} s", self.login.timeout.as_secs_f64()));
                }
                ClientEvent::ActionAborted { reason, .. } => {
                    reply.failure = Some(format!("connection ended ({reason:?})"));
                }
                _ => {}
            }
            *done |= final_;
        }
    }
}

/// Writes everything the session has queued (and flushes, for TLS). A peer that takes no
/// more bytes is an `UnexpectedEof` error.
pub async fn send_transmit<S: AsyncWrite + Unpin>(
    session: &mut ClientSession,
    stream: &mut S,
) -> io::Result<()> {
    while !session.poll_transmit().is_empty() {
        match stream.write(session.poll_transmit()).await? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => session.consume_transmit(n),
        }
    }
    stream.flush().await
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(parse_target("pbx").unwrap(), ("pbx".into(), 5038));
        assert_eq!(parse_target("pbx:6000").unwrap(), ("pbx".into(), 6000));
        assert_eq!(parse_target("[::1]:6000").unwrap(), ("::1".into(), 6000));
        assert_eq!(parse_target("[::1]").unwrap(), ("::1".into(), 5038));
        assert_eq!(parse_target("fe80::1").unwrap(), ("fe80::1".into(), 5038));
        for bad in ["", "pbx:", "pbx:0", "pbx:70000", "[::1", "[::1]6000", "pbx:x"] {
            assert!(matches!(parse_target(bad), Err(CliError::Usage(_))), "{bad}");
        }
    }

    #[test]
    fn replies_classify_errors() {
        let msg = |raw: &[u8]| {
            let mut d = ami_proto::Decoder::new(ami_proto::Role::Client);
            d.feed(raw);
            match d.next_frame() {
                Some(Ok(ami_proto::Frame::Message(m))) => m.to_owned_message(),
                other => panic!("{other:?}"),
            }
        };
        let ok = Reply {
            response: Some(msg(b"Response: Success\r\nMessage: ok\r\n\r\n")),
            ..Reply::default()
        };
        assert!(!ok.is_error());
        assert_eq!(ok.message_text().as_deref(), Some("ok"));
        let err = Reply {
            response: Some(msg(b"Response: Error\r\nMessage: Permission denied\r\n\r\n")),
            ..Reply::default()
        };
        assert!(err.is_error());
        let failed_call = Reply {
            response: ok.response.clone(),
            originate_response: Some(msg(b"Event: OriginateResponse\r\nResponse: Failure\r\n\r\n")),
            ..Reply::default()
        };
        assert!(failed_call.is_error());
        let lost = Reply { failure: Some("gone".into()), ..Reply::default() };
        assert!(lost.is_error());
    }
}
