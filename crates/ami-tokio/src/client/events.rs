//! [`EventStream`]: the events of a [`Client`](crate::Client), with a bounded buffer that
//! reports what a slow reader missed instead of losing it silently.

use std::ops::Deref;
use std::sync::Arc;

use ami_proto::OwnedMessage;
use tokio::sync::broadcast;

/// An event received from the server (cheap to clone: shared by every stream).
#[derive(Clone, Debug)]
pub struct Event(Arc<OwnedMessage>);

impl Event {
    pub(crate) fn new(message: OwnedMessage) -> Event {
        Event(Arc::new(message))
    }

    /// The event's name (`Hangup`, `Newchannel`, ...).
    pub fn name(&self) -> &[u8] {
        self.0.as_message().event().unwrap_or_default()
    }

    /// The message.
    pub fn message(&self) -> &OwnedMessage {
        &self.0
    }
}

impl Deref for Event {
    type Target = OwnedMessage;

    fn deref(&self) -> &OwnedMessage {
        &self.0
    }
}

/// What an [`EventStream`] yields.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum StreamEvent {
    /// An event.
    Event(Event),
    /// This stream fell behind by more than the buffer
    /// ([`ClientOptions::event_buffer`](crate::ClientOptions::event_buffer)) and `missed`
    /// events were dropped for it; the stream goes on with the oldest event still held.
    Lagged {
        /// How many.
        missed: u64,
    },
    /// The connection dropped: events the server sends until the next
    /// [`Connected`](StreamEvent::Connected) are not seen.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// Connected and logged in again after a [`Disconnected`](StreamEvent::Disconnected).
    Connected {
        /// The server's banner line.
        banner: String,
    },
}

/// A subscription to a client's events, from the moment [`Client::events`](crate::Client::events)
/// was called. Each stream has its own position in a shared, bounded buffer: a slow stream
/// never slows the connection or other streams; it is told what it missed.
#[derive(Debug)]
pub struct EventStream {
    rx: broadcast::Receiver<StreamEvent>,
}

impl EventStream {
    pub(crate) fn new(rx: broadcast::Receiver<StreamEvent>) -> EventStream {
        EventStream { rx }
    }

    /// The next item; `None` once the client has ended (closed, or every handle dropped and
    /// the connection gone).
    pub async fn recv(&mut self) -> Option<StreamEvent> {
        match self.rx.recv().await {
            Ok(item) => Some(item),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                Some(StreamEvent::Lagged { missed })
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The next item if one is waiting, without waiting (`None`: nothing now, or the client
    /// has ended). For consumers that take events in batches.
    pub fn try_recv(&mut self) -> Option<StreamEvent> {
        match self.rx.try_recv() {
            Ok(item) => Some(item),
            Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                Some(StreamEvent::Lagged { missed })
            }
            Err(_) => None,
        }
    }

    /// The next event, skipping connection notices; lags are reported as `Err(missed)`.
    pub async fn next_event(&mut self) -> Option<Result<Event, u64>> {
        loop {
            match self.recv().await? {
                StreamEvent::Event(e) => return Some(Ok(e)),
                StreamEvent::Lagged { missed } => return Some(Err(missed)),
                _ => {}
            }
        }
    }
}
