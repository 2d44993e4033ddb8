//! [`ListCollector`]: gathers one event list, with a cap.

use crate::message::OwnedMessage;

use super::{ActionId, ClientEvent, CloseReason};

/// How a collected list ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListOutcome {
    /// The completion event arrived ([`ListCollector::complete`]).
    Complete,
    /// The action was answered by a plain response instead of a list (e.g.
    /// `Response: Error`, `Message: No such channel`): see [`ListCollector::response`].
    NotAList,
    /// The action timed out.
    TimedOut,
    /// The connection ended first.
    Aborted(CloseReason),
    /// The final answer was a malformed message.
    Malformed,
}

/// Collects the events of one list action into owned messages, keeping at most `max_items`
/// items (the rest are counted, not kept), so memory stays bounded whatever the server sends.
///
/// Offer it every event while draining; it takes the ones of its action.
///
/// ```
/// use ami_proto::client::{ClientConfig, ClientSession, ListCollector, ListOutcome, LoginMethod};
/// use ami_proto::encode::Action;
/// use ami_proto::time::Instant;
///
/// let now = Instant::from_millis(0);
/// let mut client = ClientSession::new(ClientConfig::default().with_action_id_prefix("c-"), now);
/// client.login("admin", "s3cret", LoginMethod::Plain)?;
/// let id = client.send_action(&Action::new("CoreShowChannels"), now)?;
/// let mut list = ListCollector::new(id, 1);
/// client.handle_input(
///     b"Asterisk Call Manager/11.0.0\r\n\
///       Response: Success\r\nActionID: c-1\r\nMessage: Authentication accepted\r\n\r\n\
///       Response: Success\r\nActionID: c-2\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n\
///       Event: CoreShowChannel\r\nActionID: c-2\r\nChannel: PJSIP/100-00000001\r\n\r\n\
///       Event: CoreShowChannel\r\nActionID: c-2\r\nChannel: PJSIP/200-00000002\r\n\r\n\
///       Event: CoreShowChannelsComplete\r\nActionID: c-2\r\nEventList: Complete\r\nListItems: 2\r\n\r\n",
/// );
/// while let Some(event) = client.poll_event() {
///     list.handle(&event);
/// }
/// assert_eq!(list.outcome(), Some(ListOutcome::Complete));
/// assert_eq!(list.items().len(), 1); // the cap
/// assert_eq!(list.dropped(), 1);
/// assert_eq!(list.expected_items(), Some(2));
/// # Ok::<(), ami_proto::client::LocalError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ListCollector {
    action_id: ActionId,
    max_items: usize,
    response: Option<OwnedMessage>,
    items: Vec<OwnedMessage>,
    complete: Option<OwnedMessage>,
    dropped: usize,
    outcome: Option<ListOutcome>,
}

impl ListCollector {
    /// A collector for the list of `action_id`, keeping at most `max_items` items.
    pub fn new(action_id: ActionId, max_items: usize) -> ListCollector {
        ListCollector {
            action_id,
            max_items,
            response: None,
            items: Vec::new(),
            complete: None,
            dropped: 0,
            outcome: None,
        }
    }

    /// The action whose list this collects.
    pub fn action_id(&self) -> &ActionId {
        &self.action_id
    }

    /// Takes `event` if it belongs to this list (returns `true`), ignores it otherwise.
    /// Events after the list ended are ignored.
    pub fn handle(&mut self, event: &ClientEvent<'_>) -> bool {
        if self.outcome.is_some() || event.action_id() != Some(&self.action_id) {
            return false;
        }
        match event {
            ClientEvent::ListStart { message, .. } => {
                self.response = Some(message.to_owned_message());
            }
            ClientEvent::ListItem { message, .. } => {
                if self.items.len() < self.max_items {
                    self.items.push(message.to_owned_message());
                } else {
                    self.dropped = self.dropped.saturating_add(1);
                }
            }
            ClientEvent::ListComplete { message, .. } => {
                self.complete = Some(message.to_owned_message());
                self.outcome = Some(ListOutcome::Complete);
            }
            ClientEvent::ActionTimedOut { .. } => self.outcome = Some(ListOutcome::TimedOut),
            ClientEvent::ActionAborted { reason, .. } => {
                self.outcome = Some(ListOutcome::Aborted(*reason));
            }
            ClientEvent::Malformed { message, .. } => {
                self.response.get_or_insert_with(|| message.to_owned_message());
                self.outcome = Some(ListOutcome::Malformed);
            }
            other if other.is_final() => {
                if let Some(message) = other.message() {
                    self.response = Some(message.to_owned_message());
                }
                self.outcome = Some(ListOutcome::NotAList);
            }
            _ => return false,
        }
        true
    }

    /// True once the list has ended (any [`ListOutcome`]).
    pub fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }

    /// How the list ended, once it has.
    pub fn outcome(&self) -> Option<ListOutcome> {
        self.outcome
    }

    /// The list's start response, or the plain response that answered the action instead.
    pub fn response(&self) -> Option<&OwnedMessage> {
        self.response.as_ref()
    }

    /// The items kept (at most `max_items`), in order.
    pub fn items(&self) -> &[OwnedMessage] {
        &self.items
    }

    /// The completion event (with `ListItems`), once it came.
    pub fn complete(&self) -> Option<&OwnedMessage> {
        self.complete.as_ref()
    }

    /// Items received beyond the cap, not kept.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// True if items were dropped because of the cap.
    pub fn overflowed(&self) -> bool {
        self.dropped > 0
    }

    /// The `ListItems` count announced by the completion event, if it came and parses.
    pub fn expected_items(&self) -> Option<usize> {
        let value = self.complete.as_ref()?.get("ListItems")?;
        core::str::from_utf8(value).ok()?.trim().parse().ok()
    }

    /// The items kept, by value.
    pub fn into_items(self) -> Vec<OwnedMessage> {
        self.items
    }
}
