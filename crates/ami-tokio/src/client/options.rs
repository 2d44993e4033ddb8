//! [`ClientOptions`]: everything a [`Client`](crate::Client) needs, with defaults that suit a
//! real PBX.

use std::time::Duration;

use ami_proto::client::LoginMethod;

use crate::secret::Secret;
use crate::target::Target;
use crate::tls::TlsClientOptions;

use super::backoff::Backoff;

/// Caps on what one action may bring back, so that no server can make the client grow without
/// bound. Past a cap the action fails with [`Error::TooLarge`](crate::Error::TooLarge) and the
/// rest of its answer is read and dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListLimits {
    /// Most list items (and `Command` output lines) collected (default 100,000: more
    /// channels, queue members or peers than any real PBX has).
    pub max_items: usize,
    /// Most bytes collected for one action (default 64 MiB).
    pub max_bytes: usize,
}

impl Default for ListLimits {
    fn default() -> ListLimits {
        ListLimits { max_items: 100_000, max_bytes: 64 << 20 }
    }
}

/// Settings of a [`Client`](crate::Client): where, who, and how it behaves.
///
/// ```
/// use std::time::Duration;
/// use ami_tokio::{ClientOptions, Secret};
///
/// let options = ClientOptions::new("127.0.0.1:5038".parse()?, "admin", Secret::new("s3cret"))
///     .with_events("call,system")
///     .with_action_timeout(Duration::from_secs(10))
///     .with_reconnect(None); // fail instead of reconnecting
/// assert_eq!(options.username, "admin");
/// # Ok::<(), ami_tokio::TargetError>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientOptions {
    /// The server.
    pub target: Target,
    /// The manager.conf user.
    pub username: String,
    /// Its secret.
    pub secret: Secret,
    /// MD5 challenge-response (the default: the secret never crosses the wire) or plain.
    pub login: LoginMethod,
    /// AMI over TLS (`None`: plain TCP, the default).
    pub tls: Option<TlsClientOptions>,
    /// The `Events:` header of the Login (`off`, `call,system`, ...; `None`: the user's
    /// `read=` classes).
    pub events: Option<String>,
    /// Time for the whole connection: TCP, TLS, banner and login (default 10 s).
    pub connect_timeout: Duration,
    /// Default time limit of an action, from sending to its final answer (default 30 s).
    pub action_timeout: Duration,
    /// Silence (no byte received) before a keepalive `Ping`; `None` turns it off (default
    /// 20 s). It runs while actions are pending too, so a dead server is noticed.
    pub keepalive_interval: Option<Duration>,
    /// How long a keepalive `Ping` may go unanswered (default 10 s; longer if actions ahead
    /// of it are still running, since Asterisk answers in order).
    pub keepalive_timeout: Duration,
    /// After this many actions in a row time out, the connection is taken for dead and
    /// dropped (and re-made, with [`reconnect`](Self::reconnect)); default 3.
    pub max_consecutive_timeouts: Option<u32>,
    /// Reconnect with this backoff when the connection drops, and log in again (default on);
    /// `None`: the client ends with the connection.
    pub reconnect: Option<Backoff>,
    /// Caps on collected answers.
    pub list_limits: ListLimits,
    /// Events buffered for the [`EventStream`](crate::EventStream)s (one buffer they share,
    /// each with its own position; rounded up to a power of two). A stream that falls behind
    /// by more misses the oldest, and is told so with
    /// [`StreamEvent::Lagged`](crate::StreamEvent::Lagged); default 10,000 (16,384). Size it
    /// for the largest burst a reader may have to absorb.
    pub event_buffer: usize,
    /// Most actions awaiting their answer at once; more wait for a slot (default 1024).
    pub max_in_flight: usize,
    /// Prefix of generated ActionIDs (default `ami-`).
    pub action_id_prefix: String,
}

impl ClientOptions {
    /// Options for logging in to `target` as `username` with the defaults above.
    pub fn new(target: Target, username: impl Into<String>, secret: Secret) -> ClientOptions {
        ClientOptions {
            target,
            username: username.into(),
            secret,
            login: LoginMethod::Md5,
            tls: None,
            events: None,
            connect_timeout: Duration::from_secs(10),
            action_timeout: Duration::from_secs(30),
            keepalive_interval: Some(Duration::from_secs(20)),
            keepalive_timeout: Duration::from_secs(10),
            max_consecutive_timeouts: Some(3),
            reconnect: Some(Backoff::default()),
            list_limits: ListLimits::default(),
            event_buffer: 10_000,
            max_in_flight: 1024,
            action_id_prefix: "ami-".to_owned(),
        }
    }

    /// Sets [`login`](Self::login).
    pub fn with_login(mut self, method: LoginMethod) -> ClientOptions {
        self.login = method;
        self
    }

    /// Sets [`tls`](Self::tls).
    pub fn with_tls(mut self, tls: Option<TlsClientOptions>) -> ClientOptions {
        self.tls = tls;
        self
    }

    /// Sets [`events`](Self::events).
    pub fn with_events(mut self, events: impl Into<String>) -> ClientOptions {
        self.events = Some(events.into());
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> ClientOptions {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`action_timeout`](Self::action_timeout).
    pub fn with_action_timeout(mut self, timeout: Duration) -> ClientOptions {
        self.action_timeout = timeout;
        self
    }

    /// Sets [`keepalive_interval`](Self::keepalive_interval) and
    /// [`keepalive_timeout`](Self::keepalive_timeout).
    pub fn with_keepalive(
        mut self,
        interval: Option<Duration>,
        timeout: Duration,
    ) -> ClientOptions {
        self.keepalive_interval = interval;
        self.keepalive_timeout = timeout;
        self
    }

    /// Sets [`max_consecutive_timeouts`](Self::max_consecutive_timeouts).
    pub fn with_max_consecutive_timeouts(mut self, max: Option<u32>) -> ClientOptions {
        self.max_consecutive_timeouts = max;
        self
    }

    /// Sets [`reconnect`](Self::reconnect).
    pub fn with_reconnect(mut self, backoff: Option<Backoff>) -> ClientOptions {
        self.reconnect = backoff;
        self
    }

    /// Sets [`list_limits`](Self::list_limits).
    pub fn with_list_limits(mut self, limits: ListLimits) -> ClientOptions {
        self.list_limits = limits;
        self
    }

    /// Sets [`event_buffer`](Self::event_buffer).
    pub fn with_event_buffer(mut self, events: usize) -> ClientOptions {
        self.event_buffer = events;
        self
    }

    /// Sets [`max_in_flight`](Self::max_in_flight).
    pub fn with_max_in_flight(mut self, max: usize) -> ClientOptions {
        self.max_in_flight = max;
        self
    }

    /// Sets [`action_id_prefix`](Self::action_id_prefix).
    pub fn with_action_id_prefix(mut self, prefix: impl Into<String>) -> ClientOptions {
        self.action_id_prefix = prefix.into();
        self
    }
}
