//! [`Error`]: why a client call failed. Each says what happened, where, and what to do.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use ami_proto::OwnedMessage;
use ami_proto::client::{LocalError, MalformedError};

use crate::Target;
use crate::tls::TlsError;

/// Why a [`Client`](crate::Client) call failed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// The TCP connection could not be made.
    Connect {
        /// The server.
        target: Target,
        /// The error.
        source: Arc<io::Error>,
    },
    /// TLS could not be set up (a file, a name).
    TlsSetup(Arc<TlsError>),
    /// The TLS handshake failed.
    TlsHandshake {
        /// The server.
        target: Target,
        /// The error.
        source: Arc<io::Error>,
    },
    /// The peer greeted with something that is not an AMI banner
    /// (`Asterisk Call Manager/<version>`).
    NotAmi {
        /// The server.
        target: Target,
        /// The first bytes received (at most 120).
        received: Vec<u8>,
    },
    /// The server refused the login.
    LoginFailed {
        /// The server.
        target: Target,
        /// The user.
        user: String,
        /// The server's `Message:` (Asterisk says `Authentication failed` for every reason).
        message: String,
    },
    /// Nothing came in time.
    Timeout {
        /// The server.
        target: Target,
        /// What was waited for.
        what: String,
        /// How long.
        after: Duration,
    },
    /// The connection ended before the answer.
    Closed {
        /// The server.
        target: Target,
        /// Why.
        reason: String,
    },
    /// Not connected at the moment; the client is reconnecting (see
    /// [`Client::wait_connected`](crate::Client::wait_connected)).
    Disconnected {
        /// The server.
        target: Target,
        /// Why the last connection ended (or the last attempt failed).
        reason: String,
    },
    /// The session refused the action before sending it (an unencodable value, too many
    /// pending, ...).
    Local(LocalError),
    /// A list answer broke the collection limits ([`ListLimits`](crate::ListLimits)); the rest
    /// of it was read and dropped.
    TooLarge {
        /// The action.
        action: String,
        /// Items received when the limit was reached.
        items: usize,
        /// Bytes received when the limit was reached.
        bytes: usize,
        /// Which limit: `"items"` or `"bytes"`.
        limit: &'static str,
    },
    /// The server answered `Response: Error` ([`Reply::check`](crate::Reply::check)).
    Action {
        /// The action.
        action: String,
        /// The response's `Message:`.
        message: String,
        /// The whole response.
        response: Box<OwnedMessage>,
    },
    /// The final answer was malformed (it broke a decoder limit, or was not a response).
    Malformed {
        /// The action.
        action: String,
        /// What was wrong.
        error: MalformedError,
    },
    /// [`Client::close`](crate::Client::close) was called (or every handle dropped).
    ClientClosed,
}

impl Error {
    /// Whether trying again later may help (the connection, not the request, was the
    /// problem).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Connect { .. }
                | Error::TlsHandshake { .. }
                | Error::Timeout { .. }
                | Error::Closed { .. }
                | Error::Disconnected { .. }
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Connect { target, source } => {
                write!(f, "cannot connect to {target}: {source}")?;
                if source.kind() == io::ErrorKind::ConnectionRefused {
                    f.write_str(
                        " (is Asterisk running, with `enabled = yes` in manager.conf's [general], \
                         on this port?)",
                    )?;
                }
                Ok(())
            }
            Error::TlsSetup(e) => write!(f, "TLS: {e}"),
            Error::TlsHandshake { target, source } => write!(
                f,
                "TLS handshake with {target} failed: {source} (is it a TLS port? Asterisk's \
                 AMI over TLS is `tlsenable`/`tlsbindaddr`, usually port 5039)"
            ),
            Error::NotAmi { target, received } => write!(
                f,
                "{target} is not an AMI server: it sent {:?} instead of `Asterisk Call \
                 Manager/...`{}",
                String::from_utf8_lossy(received),
                if received.first() == Some(&0x16) || received.starts_with(b"\x15\x03") {
                    " (a TLS record: connect with TLS)"
                } else if received.starts_with(b"HTTP/") {
                    " (an HTTP server)"
                } else {
                    ""
                }
            ),
            Error::LoginFailed { target, user, message } => write!(
                f,
                "login as {user:?} at {target} refused: {message} (check the user name, the \
                 secret, and the user's permit/deny lines in manager.conf)"
            ),
            Error::Timeout { target, what, after } => {
                write!(f, "no answer from {target} to {what} within {:.1} s", after.as_secs_f64())
            }
            Error::Closed { target, reason } => write!(f, "connection to {target} ended: {reason}"),
            Error::Disconnected { target, reason } => {
                write!(f, "not connected to {target} (reconnecting; last: {reason})")
            }
            Error::Local(e) => write!(f, "action not sent: {e}"),
            Error::TooLarge { action, items, bytes, limit } => write!(
                f,
                "the answer to {action} is too large: {items} items, {bytes} bytes when the \
                 {limit} limit was reached (raise ListLimits if the server is trusted)"
            ),
            Error::Action { action, message, .. } => write!(f, "{action} failed: {message}"),
            Error::Malformed { action, error } => {
                write!(f, "the answer to {action} was malformed: {error:?}")
            }
            Error::ClientClosed => f.write_str("the client is closed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connect { source, .. } | Error::TlsHandshake { source, .. } => Some(&**source),
            Error::TlsSetup(e) => Some(&**e),
            Error::Local(e) => Some(e),
            _ => None,
        }
    }
}

impl From<LocalError> for Error {
    fn from(e: LocalError) -> Error {
        Error::Local(e)
    }
}
