//! What the server reports to the application ([`ServerEvent`], [`SecurityEvent`]) and what
//! the application publishes to sessions ([`PublishedEvent`]).

use core::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::auth::{LoginFailure, SecurityEventKind};
use crate::encode::{self, EncodeError, EncodeErrorKind};
use crate::frame::Role;
use crate::perm::Privilege;

use super::options::Transport;
use super::{ActionRef, SessionId};

/// Something the application must know or do, from [`Server::poll_event`](super::Server::poll_event).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ServerEvent {
    /// An action the session's user may run (known, authorised by its write classes and past
    /// the escalation checks of spec §4.7) that the server does not answer itself. Answer it
    /// with one of the completion calls ([`respond`](super::Server::respond),
    /// [`ack`](super::Server::ack), [`error`](super::Server::error),
    /// [`list_complete`](super::Server::list_complete),
    /// [`command_output`](super::Server::command_output),
    /// [`respond_raw`](super::Server::respond_raw)); until then the session processes no
    /// further request and holds the events published to it.
    ActionReceived {
        /// The action, with what is needed to answer it.
        action: ActionRef,
    },
    /// A Login succeeded.
    LoggedIn {
        /// The `Username` as the client typed it (at most 79 bytes, as Asterisk keeps it).
        username: Vec<u8>,
    },
    /// A Login failed; the reply follows after the login failure delay, then the session is
    /// disconnected.
    LoginFailed {
        /// The `Username` as the client typed it.
        username: Vec<u8>,
        /// Why (all reasons give the same bytes on the wire).
        failure: LoginFailure,
    },
    /// A security event (spec §3.7). It has also been published, like any event, to the
    /// sessions that read `security`.
    Security(SecurityEvent),
    /// The session's outbound queue reached [`ServerOptions::max_outbound`](super::ServerOptions::max_outbound):
    /// events for it are dropped until the application has sent everything queued.
    SlowConsumer {
        /// Bytes queued at that moment.
        queued: usize,
    },
    /// The session is over: send what [`poll_transmit`](super::Server::poll_transmit) still
    /// holds, close the connection, then call [`remove`](super::Server::remove).
    Disconnect {
        /// Why.
        reason: DisconnectReason,
    },
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client sent Logoff (after `Response: Goodbye`).
    Logoff,
    /// A Login failed (after `Authentication failed`).
    LoginFailed,
    /// `allowmultiplelogin = no` refused a second login (after `Login Already In Use`).
    LoginInUse,
    /// The client did not log in within `authtimeout` (nothing is sent).
    AuthTimeout,
    /// The client closed its side and every complete request before the end was answered.
    PeerClosed,
    /// The client sent more than [`ServerOptions::max_inbound`](super::ServerOptions::max_inbound)
    /// bytes that could not be processed yet.
    InputOverflow,
    /// A part of an answer ([`list_start`](super::Server::list_start),
    /// [`list_item`](super::Server::list_item), [`write_raw`](super::Server::write_raw)) found
    /// the session's outbound queue at [`ServerOptions::max_outbound`](super::ServerOptions::max_outbound):
    /// the client does not read its answers. Asterisk ends such a session the same way when a
    /// write exceeds its `writetimeout` (`send_string` sets `write_error`, and `session_do`
    /// stops after the action). The rest of the answer is never written, and what was still
    /// queued for the session is discarded: [`poll_transmit`](super::Server::poll_transmit)
    /// is empty, so the connection can be closed at once.
    OutputOverflow,
    /// A [reload](super::Server::reload) removed the session's user, or its network filter no
    /// longer lets the client's address in.
    Revoked,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DisconnectReason::Logoff => "logged off",
            DisconnectReason::LoginFailed => "login failed",
            DisconnectReason::LoginInUse => "login already in use",
            DisconnectReason::AuthTimeout => "did not authenticate in time",
            DisconnectReason::PeerClosed => "peer closed the connection",
            DisconnectReason::InputOverflow => "too much unprocessed input",
            DisconnectReason::OutputOverflow => "did not read its answers (outbound queue full)",
            DisconnectReason::Revoked => "user removed or no longer permitted by a reload",
        })
    }
}

/// Event-specific fields of a [`SecurityEvent`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecurityDetails {
    /// No further fields.
    None,
    /// `RequestType` (RequestNotAllowed, RequestBadFormat): `Action: <name>`, at most 63 bytes.
    RequestType(Vec<u8>),
    /// ChallengeResponseFailed's `Challenge`, `Response` (the client's key) and
    /// `ExpectedResponse` (the correct key, which Asterisk reveals to every `security` reader:
    /// with the challenge it is an offline brute-force oracle on the user's secret).
    ChallengeResponse {
        /// The session's challenge.
        challenge: Vec<u8>,
        /// The key the client sent.
        response: Vec<u8>,
        /// The key that would have been accepted; `None` (the line left out) with
        /// [`ServerOptions::hide_expected_response`](super::ServerOptions::hide_expected_response).
        expected: Option<Vec<u8>>,
    },
}

/// One security event of AMI (spec §3.7), as Asterisk builds it in `main/manager.c`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityEvent {
    /// Which event.
    pub kind: SecurityEventKind,
    /// The session it is about.
    pub session: SessionId,
    /// `AccountID`: the Username of the Login for InvalidAccountID, FailedACL and
    /// InvalidPassword; otherwise the session's user name (empty before login).
    pub account_id: Vec<u8>,
    /// `SessionID`, rendered like the C pointer Asterisk prints (`0x…`), derived from the
    /// session id.
    pub session_id: String,
    /// The listener's address (`LocalAddress`).
    pub local: SocketAddr,
    /// The client's address (`RemoteAddress`).
    pub remote: SocketAddr,
    /// The listener's transport.
    pub transport: Transport,
    /// `EventTV`: when it happened, in Unix milliseconds.
    pub event_time_ms: i64,
    /// `SessionTV`: when the session logged in, in Unix milliseconds; `None` before login
    /// (rendered as the epoch).
    pub session_time_ms: Option<i64>,
    /// Event-specific fields.
    pub details: SecurityDetails,
}

impl SecurityEvent {
    /// The body of the event as Asterisk writes it after `Privilege:` (`main/security_events.c`
    /// order: required fields, then optional ones), each line ending with CRLF.
    pub fn body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(320);
        let line = |out: &mut Vec<u8>, name: &str, value: &[u8]| {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        };
        let mut tv = Vec::with_capacity(32);
        format_event_tv(self.event_time_ms, &mut tv);
        line(&mut out, "EventTV", &tv);
        line(&mut out, "Severity", self.kind.severity().as_bytes());
        line(&mut out, "Service", b"AMI");
        line(&mut out, "EventVersion", self.kind.version().to_string().as_bytes());
        let bad_format = self.kind == SecurityEventKind::RequestBadFormat;
        if !bad_format {
            line(&mut out, "AccountID", &self.account_id);
        }
        line(&mut out, "SessionID", self.session_id.as_bytes());
        line(&mut out, "LocalAddress", address(self.local, self.transport).as_bytes());
        line(&mut out, "RemoteAddress", address(self.remote, self.transport).as_bytes());
        match &self.details {
            SecurityDetails::None => {}
            SecurityDetails::RequestType(t) => line(&mut out, "RequestType", t),
            SecurityDetails::ChallengeResponse { challenge, response, expected } => {
                line(&mut out, "Challenge", challenge);
                line(&mut out, "Response", response);
                if let Some(expected) = expected {
                    line(&mut out, "ExpectedResponse", expected);
                }
            }
        }
        if self.kind == SecurityEventKind::SuccessfulAuth {
            line(&mut out, "UsingPassword", b"0");
        }
        tv.clear();
        format_event_tv(self.session_time_ms.unwrap_or(0), &mut tv);
        line(&mut out, "SessionTV", &tv);
        if bad_format {
            line(&mut out, "AccountID", &self.account_id);
        }
        out
    }

    /// Whether Asterisk can publish it: its string fields go through JSON, and jansson
    /// refuses strings that are not UTF-8, which drops the whole event.
    pub fn is_publishable(&self) -> bool {
        let utf8 = |b: &[u8]| core::str::from_utf8(b).is_ok();
        utf8(&self.account_id)
            && match &self.details {
                SecurityDetails::None => true,
                SecurityDetails::RequestType(t) => utf8(t),
                SecurityDetails::ChallengeResponse { challenge, response, expected } => {
                    utf8(challenge) && utf8(response) && expected.as_deref().is_none_or(utf8)
                }
            }
    }
}

/// `ast_json_ipaddr`: `IPV4|IPV6/<transport>/<address>/<port>`; IPv4-mapped IPv6 addresses are
/// shown as IPv4.
pub(super) fn address(addr: SocketAddr, transport: Transport) -> String {
    let ip = match addr.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let family = if ip.is_ipv4() { "IPV4" } else { "IPV6" };
    format!("{family}/{}/{ip}/{}", transport.as_str(), addr.port())
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DDTHH:MM:SS.mmm+0000` (Asterisk's `AST_ISO8601_FORMAT`, in UTC).
pub(super) fn format_event_tv(unix_ms: i64, out: &mut Vec<u8>) {
    // Keep the arithmetic far from overflow whatever the caller's offset is.
    let unix_ms = unix_ms.clamp(-(1 << 52), 1 << 52);
    let secs = unix_ms.div_euclid(1000);
    let ms = unix_ms.rem_euclid(1000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}+0000",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    out.extend_from_slice(text.as_bytes());
}

/// `<sec>.<usec, 6 digits>` (`%ld.%06lu` of a `struct timeval`).
pub(super) fn format_timestamp(unix_ms: i64, out: &mut Vec<u8>) {
    let secs = unix_ms.div_euclid(1000);
    let usec = unix_ms.rem_euclid(1000) * 1000;
    out.extend_from_slice(format!("{secs}.{usec:06}").as_bytes());
}

/// An event to publish to the sessions ([`Server::publish`](super::Server::publish)): its
/// name, its category and its body lines. The server adds `Event:`, `Privilege:` (rendered from
/// the category), `Timestamp:` (with `timestampevents = yes`), `SystemName:` (if configured) and
/// the final blank line, exactly like Asterisk's `manager_event`.
///
/// Every line is checked: CR, LF and NUL are refused, so an event cannot inject lines.
///
/// ```
/// use ami_proto::perm::Privilege;
/// use ami_proto::server::PublishedEvent;
///
/// let mut e = PublishedEvent::new("UserEvent", Privilege::USER)?;
/// e.header("UserEvent", "Foo")?.raw_line("Bar:baz")?; // a UserEvent copies lines verbatim
/// assert_eq!(e.body(), b"UserEvent: Foo\r\nBar:baz\r\n");
/// # Ok::<(), ami_proto::encode::EncodeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PublishedEvent {
    name: Vec<u8>,
    category: Privilege,
    body: Vec<u8>,
    lines: usize,
}

fn forbidden(b: &u8) -> bool {
    matches!(b, b'\r' | b'\n' | 0)
}

impl PublishedEvent {
    /// An event named `name` (the `Event:` value, case-sensitive) of the given category, without
    /// body lines yet. Refuses a name that is empty or contains CR, LF or NUL.
    pub fn new(name: impl AsRef<[u8]>, category: Privilege) -> Result<PublishedEvent, EncodeError> {
        let name = name.as_ref();
        if name.is_empty() {
            return Err(EncodeError { kind: EncodeErrorKind::EmptyName, field: 0, offset: 0 });
        }
        if let Some(i) = name.iter().position(forbidden) {
            let kind = EncodeErrorKind::ForbiddenByteInValue(name.get(i).copied().unwrap_or(0));
            return Err(EncodeError { kind, field: 0, offset: i });
        }
        Ok(PublishedEvent { name: name.to_vec(), category, body: Vec::new(), lines: 0 })
    }

    /// The fields of an [`encode::Event`] as the body, with the given category.
    pub fn from_event(
        event: &encode::Event,
        category: Privilege,
    ) -> Result<PublishedEvent, EncodeError> {
        let mut e = PublishedEvent::new(event.name(), category)?;
        for (n, v) in event.fields.iter() {
            e.header(n, v)?;
        }
        Ok(e)
    }

    /// Appends `name: value` (one space after the colon), checked like
    /// [`encode::MessageWriter::header`].
    pub fn header(
        &mut self,
        name: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<&mut Self, EncodeError> {
        encode::append_header(
            &mut self.body,
            name.as_ref(),
            value.as_ref(),
            Role::Client,
            self.lines + 1,
        )?;
        self.lines += 1;
        Ok(self)
    }

    /// Appends a line exactly as given (e.g. a request line a UserEvent forwards verbatim,
    /// spec §8.6). Refuses an empty line (it would end the event) and CR, LF or NUL.
    pub fn raw_line(&mut self, line: impl AsRef<[u8]>) -> Result<&mut Self, EncodeError> {
        let line = line.as_ref();
        let field = self.lines + 1;
        if line.is_empty() {
            return Err(EncodeError { kind: EncodeErrorKind::EmptyName, field, offset: 0 });
        }
        if let Some(i) = line.iter().position(forbidden) {
            let kind = EncodeErrorKind::ForbiddenByteInValue(line.get(i).copied().unwrap_or(0));
            return Err(EncodeError { kind, field, offset: i });
        }
        self.body.extend_from_slice(line);
        self.body.extend_from_slice(b"\r\n");
        self.lines += 1;
        Ok(self)
    }

    /// The `Event:` value.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// The category (decides who receives it, and the `Privilege:` header).
    pub fn category(&self) -> Privilege {
        self.category
    }

    /// The body lines, each ending with CRLF.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_tv_is_iso8601_utc_with_milliseconds() {
        let mut out = Vec::new();
        format_event_tv(1_795_380_148_186, &mut out);
        assert_eq!(out, b"2026-11-22T20:42:28.186+0000");
        out.clear();
        format_event_tv(0, &mut out);
        assert_eq!(out, b"1970-01-01T00:00:00.000+0000");
        out.clear();
        format_event_tv(951_782_400_000, &mut out); // leap day
        assert_eq!(out, b"2000-02-29T00:00:00.000+0000");
        out.clear();
        format_event_tv(i64::MIN, &mut out); // no overflow, no panic
        assert!(!out.is_empty());
    }

    #[test]
    fn timestamp_is_seconds_dot_six_digit_microseconds() {
        let mut out = Vec::new();
        format_timestamp(1_795_380_032_745, &mut out);
        assert_eq!(out, b"1795380032.745000");
        out.clear();
        format_timestamp(5, &mut out);
        assert_eq!(out, b"0.005000");
    }

    #[test]
    fn addresses_render_like_ast_json_ipaddr() {
        let v4: SocketAddr = "127.0.0.1:5038".parse().unwrap();
        assert_eq!(address(v4, Transport::Tcp), "IPV4/TCP/127.0.0.1/5038");
        let mapped: SocketAddr = "[::ffff:10.1.2.3]:4000".parse().unwrap();
        assert_eq!(address(mapped, Transport::Tls), "IPV4/TLS/10.1.2.3/4000");
        let v6: SocketAddr = "[::1]:5038".parse().unwrap();
        assert_eq!(address(v6, Transport::Tcp), "IPV6/TCP/::1/5038");
    }

    #[test]
    fn published_event_refuses_injection() {
        assert!(PublishedEvent::new("X\r\nY", Privilege::CALL).is_err());
        assert!(PublishedEvent::new("", Privilege::CALL).is_err());
        let mut e = PublishedEvent::new("X", Privilege::CALL).unwrap();
        assert!(e.header("A", "b\r\nEvent: Y").is_err());
        assert!(e.raw_line("").is_err());
        assert!(e.raw_line("a\0b").is_err());
        assert!(e.body().is_empty());
    }
}
