//! [`ServerOptions`], [`RandomSource`] and [`Transport`]: what a [`Server`](super::Server)
//! needs besides manager.conf.

use std::net::SocketAddr;

use crate::authority::{ACTIONS, ActionInfo};
use crate::frame::DecoderLimits;
use crate::time::{Duration, Instant};

/// The caller's source of randomness for MD5 challenges (spec §3.3).
///
/// The core never reads a random device itself. Production code should use a cryptographically
/// secure generator (a guessable challenge lets an eavesdropper replay a key); tests use fixed
/// values. Any `FnMut() -> u32 + Send` closure is a `RandomSource`.
///
/// ```
/// use ami_proto::server::RandomSource;
///
/// let mut fixed = || 840_486_216u32;
/// assert_eq!(fixed.next_u32(), 840_486_216);
/// ```
pub trait RandomSource: Send {
    /// Returns 32 random bits.
    fn next_u32(&mut self) -> u32;
}

impl<F: FnMut() -> u32 + Send> RandomSource for F {
    fn next_u32(&mut self) -> u32 {
        self()
    }
}

/// The transport of the listener, as named in security events (`IPV4/TCP/…`, `IPV4/TLS/…`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Plain TCP (port 5038 by default).
    #[default]
    Tcp,
    /// TLS (port 5039 by default); the byte protocol is the same.
    Tls,
}

impl Transport {
    /// `TCP` or `TLS`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }
}

/// The modules whose actions the Asterisk 22.10.1 server of the conformance captures had
/// registered (its ListCommands output lists exactly the catalog actions of these modules).
pub const CAPTURE_MODULES: [&str; 11] = [
    "core",
    "app_confbridge",
    "app_mixmonitor",
    "app_queue",
    "app_senddtmf",
    "pbx_config",
    "res_agi",
    "res_manager_devicestate",
    "res_manager_presencestate",
    "res_mutestream",
    "res_parking",
];

/// Settings of a [`Server`](super::Server) that manager.conf does not hold.
///
/// Time: every `now` the server receives is the caller's monotonic [`Instant`] in milliseconds.
/// Wall-clock values (Ping's `Timestamp`, the `Timestamp:` of events with `timestampevents`,
/// the `EventTV`/`SessionTV` of security events) are rendered from
/// `now.as_millis() + unix_offset_ms` = milliseconds since the Unix epoch, in UTC. Since
/// instants have millisecond resolution, the microseconds of `Timestamp: <sec>.<usec>` always
/// end in `000`.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// AMI version of the banner `Asterisk Call Manager/<version>` (Asterisk 22: `11.0.0`).
    pub ami_version: String,
    /// The registered actions: what is "known" (unknown actions get `Invalid/unknown command`)
    /// and what ListCommands lists. Listed in any order; duplicates (by case-insensitive name)
    /// keep the first. Actions that are not in [`crate::authority::ACTIONS`] may be added with
    /// their own `&'static ActionInfo`.
    pub actions: Vec<&'static ActionInfo>,
    /// Most bytes queued for one session. Events that would exceed it are dropped for that
    /// session (and [`ServerEvent::SlowConsumer`](super::ServerEvent::SlowConsumer) is
    /// reported) until its queue has drained; while it is exceeded the session processes no
    /// further requests. Default 1 MiB.
    pub max_outbound: usize,
    /// Most bytes of client input buffered without being processed (while an action is with the
    /// application or the outbound queue is full). Beyond it the session is disconnected
    /// ([`DisconnectReason::InputOverflow`](super::DisconnectReason::InputOverflow)). Default
    /// 1 MiB; callers that stop reading while [`Server::wants_input`](super::Server::wants_input)
    /// is false never reach it.
    pub max_inbound: usize,
    /// Most event filters one session may add with the `Filter` action (Asterisk has no limit;
    /// beyond this one the action answers `Internal Error. Failed adding filter.`). Default 256.
    pub max_session_filters: usize,
    /// Delay before a failed login (or a refused second login) is answered and the connection
    /// closed. Asterisk sleeps 1 s. Default 1 s.
    pub login_failure_delay: Duration,
    /// Unix time in milliseconds minus the caller's `Instant` (see the type's documentation).
    pub unix_offset_ms: i64,
    /// When Asterisk started, for FullyBooted's `Uptime` (`None` → 0, as Asterisk with an unset
    /// start time).
    pub started_at: Option<Instant>,
    /// When Asterisk last reloaded, for FullyBooted's `LastReload` (`None` → 0).
    pub last_reload_at: Option<Instant>,
    /// Whether FullyBooted is written after a successful login (Asterisk: once fully booted).
    /// Default true.
    pub fully_booted: bool,
    /// The listener's bind address, shown as `LocalAddress` in security events. `None` takes
    /// `bindaddr` and `port` from manager.conf.
    pub local_address: Option<SocketAddr>,
    /// The listener's transport, shown in security events' addresses.
    pub transport: Transport,
    /// `systemname` of asterisk.conf: adds `SystemName:` to every queued event.
    pub system_name: Option<String>,
    /// Start in the "Asterisk is shutting down" state (see
    /// [`Server::set_shutting_down`](super::Server::set_shutting_down)).
    pub shutting_down: bool,
    /// Input limits of every session (default: Asterisk's, [`DecoderLimits::ASTERISK_SERVER`]).
    pub decoder_limits: DecoderLimits,
    /// Leave `ExpectedResponse` out of ChallengeResponseFailed security events. Asterisk sends
    /// it, and with the event's `Challenge` it lets any `security` reader try secrets offline;
    /// a gateway should hide it (default false, as Asterisk).
    pub hide_expected_response: bool,
    /// What happens to an action that is not registered in [`actions`](Self::actions).
    pub unregistered_actions: UnregisteredActions,
}

/// What a [`Server`](super::Server) does with an action it does not know.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnregisteredActions {
    /// `Invalid/unknown command` (+ RequestBadFormat), as Asterisk (the default).
    #[default]
    Refuse,
    /// Hand it to the application ([`ServerEvent::ActionReceived`](super::ServerEvent::ActionReceived),
    /// with [`ActionInfo::name`] empty and an authority of every class) when the session's
    /// user may write **every** class (`write = all`): a gateway in front of an Asterisk with
    /// modules libami does not know. Anyone else gets `Invalid/unknown command`.
    ForWriteAll,
}

impl Default for ServerOptions {
    /// Every action of the catalog registered, AMI version `11.0.0` (Asterisk 22).
    fn default() -> ServerOptions {
        ServerOptions {
            ami_version: "11.0.0".to_owned(),
            actions: ACTIONS.iter().collect(),
            max_outbound: 1 << 20,
            max_inbound: 1 << 20,
            max_session_filters: 256,
            login_failure_delay: Duration::from_secs(1),
            unix_offset_ms: 0,
            started_at: None,
            last_reload_at: None,
            fully_booted: true,
            local_address: None,
            transport: Transport::Tcp,
            system_name: None,
            shutting_down: false,
            decoder_limits: DecoderLimits::ASTERISK_SERVER,
            hide_expected_response: false,
            unregistered_actions: UnregisteredActions::Refuse,
        }
    }
}

impl ServerOptions {
    /// Defaults with exactly the catalog actions of the given modules registered (module names
    /// as in [`ActionInfo::module`], `core` for `main/`).
    pub fn with_modules(modules: &[&str]) -> ServerOptions {
        ServerOptions {
            actions: ACTIONS.iter().filter(|a| modules.contains(&a.module)).collect(),
            ..ServerOptions::default()
        }
    }

    /// Defaults with the action set of the server the conformance captures were recorded
    /// from ([`CAPTURE_MODULES`]).
    pub fn asterisk_22_capture() -> ServerOptions {
        ServerOptions::with_modules(&CAPTURE_MODULES)
    }
}
