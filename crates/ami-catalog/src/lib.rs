//! # ami-catalog: every AMI action and event, typed
//!
//! Generated from the documentation Asterisk builds from its own source
//! ([`ASTERISK_VERSION`]), so that a new Asterisk release is one `make catalog` away. It sits
//! on [`ami_proto`] and is a separate crate: a program that only decodes compiles none of it.
//!
//! ## 1. Typed events
//!
//! [`TypedEvent::from_message`] turns a decoded [`Message`](ami_proto::Message) into a typed,
//! zero-copy view: one variant per documented event, one getter per documented field.
//! Nothing is copied; getters return [`Value`]s borrowed from the message. Headers the
//! documentation does not list stay reachable (`get`), and events the catalog does not know
//! come out whole as [`TypedEvent::Other`]. Event names match case-insensitively.
//!
//! ```
//! use ami_catalog::TypedEvent;
//! use ami_proto::{Decoder, Frame, Role};
//!
//! let wire = b"Asterisk Call Manager/11.0.0\r\n\
//!     Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/100-00000001\r\n\
//!     Uniqueid: 1700000000.1\r\n\r\n\
//!     Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/100-00000001\r\n\
//!     Cause: 16\r\nCause-txt: Normal Clearing\r\n\r\n\
//!     Event: MyDialplanEvent\r\nX: 1\r\n\r\n";
//!
//! let mut decoder = Decoder::new(Role::Client);
//! decoder.feed(wire);
//! let mut seen = Vec::new();
//! while let Some(frame) = decoder.next_frame() {
//!     let Ok(Frame::Message(message)) = frame else { continue };
//!     match TypedEvent::from_message(&message) {
//!         Some(TypedEvent::Newchannel(e)) => {
//!             seen.push(format!("new {}", e.channel().unwrap_or_default()));
//!         }
//!         Some(TypedEvent::Hangup(e)) => {
//!             let cause: u32 = e.cause().and_then(|c| c.parse()).unwrap_or(0);
//!             seen.push(format!("{} gone ({cause}, {})", e.channel().unwrap_or_default(),
//!                 e.cause_txt().unwrap_or_default()));
//!         }
//!         Some(TypedEvent::Other(m)) => {
//!             seen.push(format!("other {}", String::from_utf8_lossy(m.event().unwrap_or_default())));
//!         }
//!         Some(_) => {}  // the other documented events
//!         None => {}     // not an event (a response)
//!     }
//! }
//! assert_eq!(seen, [
//!     "new PJSIP/100-00000001",
//!     "PJSIP/100-00000001 gone (16, Normal Clearing)",
//!     "other MyDialplanEvent",
//! ]);
//! ```
//!
//! ## 2. Actions, with their required parameters
//!
//! Each documented action has a builder in [`actions`](mod@actions): `new` takes the required parameters,
//! a setter per optional one (repeatable ones add a header each time, numbered families take an
//! index), and `header` adds anything else. Builders encode through
//! [`ami_proto::encode`], which refuses any value that could inject a line.
//!
//! ```
//! use ami_catalog::actions::{Originate, UpdateConfig};
//! use ami_catalog::CatalogAction;
//!
//! let call = Originate::new("PJSIP/100")
//!     .context("default").exten("200").priority("1")
//!     .variable("A=1").variable("B=2")
//!     .async_("true");
//! let bytes = call.to_bytes()?;
//! assert_eq!(bytes, b"Action: Originate\r\nChannel: PJSIP/100\r\nContext: default\r\n\
//!     Exten: 200\r\nPriority: 1\r\nVariable: A=1\r\nVariable: B=2\r\nAsync: true\r\n\r\n");
//!
//! let edit = UpdateConfig::new("extensions.conf", "extensions.conf")
//!     .action(0, "NewCat").cat(0, "demo");
//! assert!(edit.to_bytes()?.ends_with(b"Action-000000: NewCat\r\nCat-000000: demo\r\n\r\n"));
//!
//! // A value that would inject a header is refused.
//! assert!(Originate::new("PJSIP/1\r\nAction: Command").to_bytes().is_err());
//! # Ok::<(), ami_proto::encode::EncodeError>(())
//! ```
//!
//! Send one with [`ClientSession::send_action`](ami_proto::ClientSession::send_action)`(&call.into_action(), now)`.
//!
//! ## 3. Who may do what
//!
//! Every action records the write classes Asterisk registers it with and the extra check it
//! makes on its parameters ([`ActionSpec::authority`], [`ActionSpec::escalation`], from
//! [`ami_proto::authority`]); every event records the classes it is emitted with
//! ([`EventSpec::read_class`]). [`CatalogAction::permitted`] answers as Asterisk would:
//!
//! ```
//! use ami_catalog::actions::{Getvar, Hangup};
//! use ami_catalog::{CatalogAction, Denied};
//! use ami_proto::perm::Privilege;
//!
//! let write = Privilege::CALL;
//! assert!(Hangup::new("PJSIP/1-0001").permitted(write).is_ok());
//! let shell = Getvar::new("SHELL(id)");
//! assert!(matches!(shell.permitted(write), Err(Denied::Escalation(_))));
//! let spec = ami_catalog::event_spec(b"Hangup").unwrap();
//! assert_eq!(spec.read_class, Privilege::CALL);
//! ```
//!
//! ## 4. The tables
//!
//! [`actions()`] and [`events()`] list every entry (for a proxy that forwards every documented
//! action with its real authority, for completions, for other languages); [`action_spec`] and
//! [`event_spec`] look one up by name.
//!
//! ## Regenerating
//!
//! `make catalog` runs `ami-catalog-gen` on the documentation XML (`ASTERISK_XML=...`), which
//! rewrites `catalog/asterisk.json` (the facts, no prose) and `src/generated/`; `make
//! catalog-check` (part of `make test`) fails when the committed files differ from a fresh
//! generation. Where the documentation is wrong, the generator follows Asterisk's code and
//! records why (`corrections` in `catalog/asterisk.json`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

mod action;
mod event;
mod spec;
mod value;

#[rustfmt::skip]
mod generated;

pub use action::CatalogAction;
pub use event::CatalogEvent;
pub use generated::ASTERISK_VERSION;
pub use generated::events::{EventKind, TypedEvent};
pub use spec::{
    ActionSpec, Denied, EventSpec, ParameterSpec, action_spec, actions, event_spec, events,
};
pub use value::Value;

/// The action builders, one per documented action (`Originate`, `Hangup`, ...).
pub mod actions {
    pub use crate::generated::actions::*;
}

/// The typed event views, one per documented event (`Hangup<'a>`, `Newchannel<'a>`, ...),
/// with [`EventKind`] and [`TypedEvent`].
pub mod events {
    pub use crate::generated::events::*;
}
