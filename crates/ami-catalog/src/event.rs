//! [`CatalogEvent`]: what every generated event view is, and the field lookups they share.

use std::io::Write as _;

use ami_proto::{Message, MessageKind};

use crate::generated::events::EventKind;
use crate::spec::EventSpec;
use crate::value::Value;

/// A typed, zero-copy view of one documented event (`Hangup<'a>`, `Newchannel<'a>`, ...).
///
/// Views borrow the [`Message`] they were made from; every documented field has a getter
/// returning `Option<Value<'a>>` (`None` when the header is absent), and any other header is
/// reachable with [`CatalogEvent::get`] or the message itself.
///
/// ```
/// use ami_catalog::events::Hangup;
/// use ami_catalog::CatalogEvent;
/// use ami_proto::{parse_message, HeaderSlot, Role, Status};
///
/// let bytes = b"Event: Hangup\r\nChannel: PJSIP/1-0001\r\nCause: 16\r\nX-Site: lab\r\n\r\n";
/// let mut slots = [HeaderSlot::EMPTY; 8];
/// let Status::Complete((_, msg)) = parse_message(Role::Client, bytes, &mut slots)? else {
///     unreachable!()
/// };
/// let hangup = Hangup::from_message(&msg).expect("a Hangup event");
/// assert_eq!(hangup.channel().unwrap(), "PJSIP/1-0001");
/// assert_eq!(hangup.cause().and_then(|c| c.parse::<u8>()), Some(16));
/// assert_eq!(hangup.cause_txt(), None);
/// assert_eq!(hangup.get("X-Site").unwrap(), "lab"); // undocumented, still there
/// # Ok::<(), ami_proto::ParseError>(())
/// ```
pub trait CatalogEvent<'a>: Sized + Copy {
    /// Which event this is.
    const KIND: EventKind;

    /// The view of `message`, without checking its name.
    #[doc(hidden)]
    fn wrap(message: Message<'a>) -> Self;

    /// The message viewed.
    fn message(&self) -> Message<'a>;

    /// Every documented field (numbered families excepted) with its value, in documented
    /// order: `None` for a field the message lacks.
    fn fields(&self) -> Vec<(&'static str, Option<Value<'a>>)>;

    /// The view of `message` if it is this event (its `Event:` value matches
    /// ASCII-case-insensitively).
    fn from_message(message: &Message<'a>) -> Option<Self> {
        is_event(message, Self::KIND.name()).then(|| Self::wrap(*message))
    }

    /// The event's catalog entry.
    fn spec() -> &'static EventSpec {
        Self::KIND.spec()
    }

    /// The first value of any header (ASCII-case-insensitive), documented or not.
    fn get(&self, name: &str) -> Option<Value<'a>> {
        field(&self.message(), name)
    }
}

/// True if `message` is an event called `name` (ASCII-case-insensitive).
pub(crate) fn is_event(message: &Message<'_>, name: &str) -> bool {
    message.kind() == MessageKind::Event
        && message.event().is_some_and(|e| e.eq_ignore_ascii_case(name.as_bytes()))
}

/// The first value of header `name`.
#[inline]
pub(crate) fn field<'a>(message: &Message<'a>, name: &str) -> Option<Value<'a>> {
    message.get(name).map(Value::new)
}

/// The first value of member `index` of the numbered family `template` (`Report{}DLSR`):
/// the name is built on the stack, nothing is allocated.
pub(crate) fn indexed_field<'a>(
    message: &Message<'a>,
    template: &str,
    index: u32,
) -> Option<Value<'a>> {
    let (head, tail) = template.split_once("{}")?;
    let mut buf = [0u8; 96];
    let mut cursor = &mut buf[..];
    write!(cursor, "{head}{index}{tail}").ok()?;
    let len = 96 - cursor.len();
    message.get(buf.get(..len)?).map(Value::new)
}
