//! [`Client`]: an AMI connection over tokio.
//!
//! A `Client` is a handle (cheap to clone, usable from many tasks at once) to a task that owns
//! the socket and the core's sans-IO [`ClientSession`](ami_proto::client::ClientSession). The
//! task logs in (MD5 by default), correlates every answer with its action (actions from many
//! tasks are pipelined), collects lists within [`ListLimits`], fans events out to
//! [`EventStream`]s, sends keepalive `Ping`s, declares a silent server dead, and reconnects
//! with [`Backoff`] and logs in again.
//!
//! ```no_run
//! use ami_proto::encode::Action;
//! use ami_tokio::{Client, ClientOptions, Secret, StreamEvent};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let options = ClientOptions::new("127.0.0.1:5038".parse()?, "admin", Secret::from_env("AMI_SECRET")?);
//! let client = Client::connect(options).await?;
//!
//! let pong = client.action(&Action::new("Ping")).await?.check()?;
//! assert_eq!(pong.get("Ping"), Some(&b"Pong"[..]));
//!
//! let channels = client.action(&Action::new("CoreShowChannels")).await?.check()?;
//! for item in channels.items() {
//!     println!("{}", String::from_utf8_lossy(item.get("Channel").unwrap_or_default()));
//! }
//!
//! let mut events = client.events();
//! while let Some(item) = events.recv().await {
//!     match item {
//!         StreamEvent::Event(ev) if ev.name() == b"Hangup" => println!("hangup"),
//!         StreamEvent::Lagged { missed } => eprintln!("missed {missed} events"),
//!         _ => {}
//!     }
//! }
//! client.close().await;
//! # Ok(())
//! # }
//! ```

mod backoff;
mod driver;
mod error;
mod events;
mod options;
mod reply;
mod status;

use std::sync::Arc;
use std::time::Duration;

use ami_proto::OwnedMessage;
use ami_proto::encode::Action;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

pub use backoff::{Backoff, Waits};
pub use error::Error;
pub use events::{Event, EventStream, StreamEvent};
pub use options::{ClientOptions, ListLimits};
pub use reply::{Part, Reply};
pub use status::Status;

use crate::target::Target;
use driver::{Channels, Command, Sink};

/// How much later than its time limit a call may return (the driver's own timer fires first;
/// this bounds the call even if the driver were stuck).
const DEADLINE_MARGIN: Duration = Duration::from_millis(250);

/// A logged-in AMI connection. See the [crate documentation](crate) for a tutorial.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    options: Arc<ClientOptions>,
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<StreamEvent>,
    status: watch::Receiver<Status>,
}

impl Client {
    /// Connects, reads the banner and logs in; fails if any of it fails or takes longer than
    /// [`ClientOptions::connect_timeout`]. Later connection losses are handled in the
    /// background (see [`ClientOptions::reconnect`]).
    ///
    /// Must be called within a tokio runtime (the connection's task is spawned on it).
    pub async fn connect(options: ClientOptions) -> Result<Client, Error> {
        Ok(Client::connect_with_events(options).await?.0)
    }

    /// [`connect`](Client::connect), with an [`EventStream`] subscribed before the connection
    /// is made: it sees every event from the first one (`FullyBooted`, sent at login).
    pub async fn connect_with_events(
        options: ClientOptions,
    ) -> Result<(Client, EventStream), Error> {
        let (first_tx, first_rx) = oneshot::channel();
        let limit = options.connect_timeout + DEADLINE_MARGIN;
        let after = options.connect_timeout;
        let (client, events) = Client::start(options, Some(first_tx));
        match tokio::time::timeout(limit, first_rx).await {
            Ok(Ok(Ok(_banner))) => Ok((client, events)),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) => Err(Error::ClientClosed),
            Err(_) => Err(Error::Timeout {
                target: client.target().clone(),
                what: "the connection and login".to_owned(),
                after,
            }),
        }
    }

    /// A client that connects in the background and keeps trying, with
    /// [`ClientOptions::reconnect`]'s backoff (or its default), until it is closed: for
    /// daemons that must start while the server is down. Actions fail with
    /// [`Error::Disconnected`] until it is connected ([`Client::wait_connected`],
    /// [`StreamEvent::Connected`]). The stream returned is subscribed before anything is
    /// received. Must be called within a tokio runtime.
    pub fn spawn(mut options: ClientOptions) -> (Client, EventStream) {
        options.reconnect = Some(options.reconnect.unwrap_or_default());
        Client::start(options, None)
    }

    fn start(
        options: ClientOptions,
        first: Option<oneshot::Sender<Result<String, Error>>>,
    ) -> (Client, EventStream) {
        let options = Arc::new(options);
        let (commands_tx, commands) = mpsc::channel(options.max_in_flight.max(1));
        let (events, subscribed) = broadcast::channel(options.event_buffer.max(1));
        let (status_tx, status) = watch::channel(Status::Connecting);
        let channels = Channels { commands, events: events.clone(), status: status_tx };
        tokio::spawn(driver::run(Arc::clone(&options), channels, first));
        let client =
            Client { inner: Arc::new(Inner { options, commands: commands_tx, events, status }) };
        (client, EventStream::new(subscribed))
    }

    /// The server this client talks to.
    pub fn target(&self) -> &Target {
        &self.inner.options.target
    }

    /// The options it was made with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// Where the connection stands now.
    pub fn status(&self) -> Status {
        self.inner.status.borrow().clone()
    }

    /// The banner of the current connection (`Asterisk Call Manager/11.0.0`), or of the last
    /// one while reconnecting.
    pub fn banner(&self) -> Option<String> {
        match &*self.inner.status.borrow() {
            Status::Connected { banner } => Some(banner.clone()),
            _ => None,
        }
    }

    /// Waits until the client is connected and logged in (after a reconnect), up to `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<(), Error> {
        let mut status = self.inner.status.clone();
        let waited = tokio::time::timeout(timeout, async {
            loop {
                match &*status.borrow_and_update() {
                    Status::Connected { .. } => return Ok(()),
                    Status::Closed => return Err(Error::ClientClosed),
                    _ => {}
                }
                if status.changed().await.is_err() {
                    return Err(Error::ClientClosed);
                }
            }
        })
        .await;
        waited.unwrap_or_else(|_| {
            let reason = match self.status() {
                Status::Disconnected { reason } => reason,
                other => format!("{other:?}"),
            };
            Err(Error::Timeout {
                target: self.target().clone(),
                what: format!("the reconnection (last: {reason})"),
                after: timeout,
            })
        })
    }

    /// Sends `action` and returns everything it brought back, up to its final answer, within
    /// [`ClientOptions::action_timeout`] (an async `Originate` also gets its own `Timeout`).
    /// `Response: Error` is a [`Reply`] too: use [`Reply::check`] to turn it into an error.
    pub async fn action(&self, action: &Action) -> Result<Reply, Error> {
        self.action_with_timeout(action, self.inner.options.action_timeout).await
    }

    /// [`action`](Client::action) with its own time limit (e.g. a synchronous `Originate`).
    pub async fn action_with_timeout(
        &self,
        action: &Action,
        timeout: Duration,
    ) -> Result<Reply, Error> {
        let (tx, rx) = oneshot::channel();
        let limit = self.call_limit(action, timeout);
        let sent = Command::Send {
            action: action.clone(),
            timeout: Some(timeout),
            sink: Sink::Collect(tx),
        };
        let result = tokio::time::timeout(limit, async {
            self.inner.commands.send(sent).await.map_err(|_| Error::ClientClosed)?;
            rx.await.map_err(|_| Error::ClientClosed)?
        })
        .await;
        result.unwrap_or_else(|_| Err(self.late(action, timeout)))
    }

    /// Sends a list action (`CoreShowChannels`, `Status`, `QueueStatus`, ...) and returns its
    /// items, collected within [`ListLimits`]; `Response: Error` is an error, and so is an
    /// answer that is not a list.
    pub async fn action_list(&self, action: &Action) -> Result<Vec<OwnedMessage>, Error> {
        let reply = self.action(action).await?.check()?;
        if reply.complete().is_none() {
            let name = String::from_utf8_lossy(action.name()).into_owned();
            let message = reply.message().map_or_else(String::new, |m| m.into_owned());
            return Err(Error::Action {
                action: name,
                message: format!("not a list: {message}"),
                response: Box::new(reply.response().clone()),
            });
        }
        Ok(reply.into_items())
    }

    /// Runs a CLI command (`Action: Command`) and returns its output lines (invalid UTF-8
    /// replaced); `Response: Error` is an error.
    pub async fn command(&self, command: &str) -> Result<Vec<String>, Error> {
        let reply = self.action(&Action::new("Command").with("Command", command)).await?.check()?;
        Ok(reply
            .output()
            .unwrap_or_default()
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect())
    }

    /// Sends `action` and returns its answer part by part as it arrives (for relaying list
    /// items without collecting them). The parts end with a [final](Part::is_final) one; the
    /// time limit and [`ListLimits`] apply as for [`action`](Client::action). Keep reading:
    /// parts wait in memory until read.
    pub async fn send(&self, action: &Action, timeout: Option<Duration>) -> Result<Parts, Error> {
        let (tx, rx) = mpsc::unbounded_channel();
        let sent = Command::Send { action: action.clone(), timeout, sink: Sink::Stream(tx) };
        self.inner.commands.send(sent).await.map_err(|_| Error::ClientClosed)?;
        Ok(Parts { rx })
    }

    /// Subscribes to the events from now on (see [`EventStream`]).
    pub fn events(&self) -> EventStream {
        EventStream::new(self.inner.events.subscribe())
    }

    /// Logs off (waiting briefly for the server's goodbye) and ends the connection; actions
    /// still waiting fail with [`Error::ClientClosed`]. Other handles end too.
    pub async fn close(&self) {
        let (done, rx) = oneshot::channel();
        if self.inner.commands.send(Command::Close { done }).await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(3), rx).await;
        }
    }

    /// The longest a call for `action` may take.
    fn call_limit(&self, action: &Action, timeout: Duration) -> Duration {
        Duration::from(ami_proto::client::time_limit(action, timeout.into())) + DEADLINE_MARGIN
    }

    fn late(&self, action: &Action, timeout: Duration) -> Error {
        let name = String::from_utf8_lossy(action.name());
        let what = match self.status() {
            Status::Connected { .. } => format!("the action {name}"),
            Status::Disconnected { reason } => {
                format!("the action {name} (not connected: {reason})")
            }
            _ => format!("the action {name} (not connected)"),
        };
        Error::Timeout { target: self.target().clone(), what, after: timeout }
    }
}

/// The parts of one action's answer ([`Client::send`]).
#[derive(Debug)]
pub struct Parts {
    rx: mpsc::UnboundedReceiver<Part>,
}

impl Parts {
    /// The next part; `None` after the final one (or if the client ended).
    pub async fn recv(&mut self) -> Option<Part> {
        self.rx.recv().await
    }
}
