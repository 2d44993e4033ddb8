//! [`Status`]: where a client's connection stands.

/// Where a [`Client`](crate::Client)'s connection stands ([`Client::status`](crate::Client::status)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Connecting (or reconnecting) and logging in.
    Connecting,
    /// Logged in.
    Connected {
        /// The server's banner line.
        banner: String,
    },
    /// The connection dropped; a new attempt follows after the backoff.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// The client has ended.
    Closed,
}
