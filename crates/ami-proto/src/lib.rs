//! # ami-proto: the Asterisk Manager Interface, without I/O
//!
//! `ami-proto` is the core of libami. It knows everything about AMI, Asterisk's text protocol
//! on TCP port 5038, and does no I/O at all: you give it bytes and (later) the time, it gives
//! you messages, replies and bytes to send. Sockets, threads and clocks belong to the caller,
//! which is why the same core serves the `ami` tool, the C library and the Python package.
//!
//! This page is the tutorial. Each module's page has the details and the Asterisk facts behind
//! them.
//!
//! ## 1. Decoding a stream
//!
//! A [`Decoder`] takes bytes in any chunks and returns [`Frame`]s: the banner, then messages.
//! Messages are zero-copy views ([`Message`]) into the decoder's buffer, valid until the next
//! call that changes the decoder.
//!
//! ```
//! use ami_proto::{Decoder, Frame, MessageKind, Role};
//!
//! let wire = b"Asterisk Call Manager/11.0.0\r\n\
//!              Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/100-0000001a\r\n\r\n\
//!              Event: Hangup\r\nPrivilege: call,all\r\nCause-txt: Normal Clearing\r\n\r\n";
//!
//! let mut decoder = Decoder::new(Role::Client);
//! let mut names = Vec::new();
//! for chunk in wire.chunks(7) {            // a socket may split anywhere
//!     decoder.feed(chunk);
//!     while let Some(item) = decoder.next_frame() {
//!         match item.expect("within limits") {
//!             Frame::Banner(b) => assert_eq!(b.version(), b"11.0.0"),
//!             Frame::Message(m) => {
//!                 assert_eq!(m.kind(), MessageKind::Event);
//!                 names.push(String::from_utf8_lossy(m.event().unwrap()).into_owned());
//!             }
//!         }
//!     }
//! }
//! assert_eq!(names, ["Newchannel", "Hangup"]);
//! ```
//!
//! [`Role::Client`] reads what a server writes; [`Role::Server`] reads what a client writes,
//! with Asterisk's own line limits and value rule (see [`frame`]). A message that breaks a limit
//! comes out as a [`FrameError`] carrying its salvaged lines, and the stream goes on.
//!
//! ## 2. Parsing without a decoder
//!
//! [`parse_message`] parses one message from a slice into a caller-provided array of
//! [`HeaderSlot`]s and allocates nothing, in the manner of `httparse`:
//!
//! ```
//! use ami_proto::{parse_message, HeaderSlot, Role, Status};
//!
//! let mut slots = [HeaderSlot::EMPTY; 32];
//! let input = b"Action:Login\r\nUsername: admin\r\nSecret: s3cret \r\n\r\n";
//! let Status::Complete((len, msg)) = parse_message(Role::Server, input, &mut slots)? else {
//!     unreachable!()
//! };
//! assert_eq!(len, input.len());
//! assert_eq!(msg.action(), Some(&b"Login"[..]));          // no space after the colon is fine
//! assert_eq!(msg.get("secret"), Some(&b"s3cret "[..]));   // trailing blanks are kept
//! # Ok::<(), ami_proto::ParseError>(())
//! ```
//!
//! ## 3. Encoding
//!
//! [`encode::Action`], [`encode::Response`] and [`encode::Event`] build messages; encoding
//! refuses any name or value that could inject a line (CR, LF, NUL) or change a name (`:`,
//! surrounding blanks), so header injection cannot happen through this API.
//!
//! ```
//! use ami_proto::encode::Action;
//!
//! let originate = Action::new("Originate")
//!     .with("ActionID", "call-1")
//!     .with("Channel", "PJSIP/100")
//!     .with("Exten", "200")
//!     .with("Context", "default")
//!     .with("Priority", "1");
//! let bytes = originate.to_bytes()?;
//! assert!(bytes.starts_with(b"Action: Originate\r\nActionID: call-1\r\n"));
//! assert!(bytes.ends_with(b"\r\n\r\n"));
//! # Ok::<(), ami_proto::encode::EncodeError>(())
//! ```
//!
//! ## 4. Who may do what: Asterisk's access semantics
//!
//! [`config`] loads `manager.conf` exactly as Asterisk does (the core reads no files: includes go
//! through a resolver you supply) and reports every quirk that grants more than it seems as a
//! diagnostic. [`auth`] authenticates a Login in Asterisk's order of checks; [`perm`] and
//! [`authority`] decide which actions a user may run and which events it may read; [`filter`]
//! applies `eventfilter`s; [`acl`] evaluates `permit`/`deny`.
//!
//! ```
//! use ami_proto::auth::{authenticate, LoginAttempt, LoginFailure, UserCredentials};
//! use ami_proto::authority::{action_authority, check_originate, event_category};
//! use ami_proto::config::{parse_manager_conf, ConfigOptions, NoIncludes};
//! use ami_proto::perm::{may_receive, may_run};
//!
//! let conf = "[general]\nenabled = yes\n\n\
//!             [monitor]\nsecret = m0n\nread = ,call\nwrite = originate\n\
//!             deny = 0.0.0.0/0\npermit = 10.0.0.0/8\n";
//! let config = parse_manager_conf(conf, &mut NoIncludes, &ConfigOptions::default())?;
//! let monitor = config.user(b"MONITOR").expect("user names are case-insensitive");
//!
//! // `read = ,call` looks like "call only" but grants everything: Asterisk's empty-element
//! // quirk, reproduced and reported.
//! assert!(config.diagnostics.iter().any(|d| d.to_string().contains("empty element")));
//!
//! // Login: the ACL is checked before the secret. (An ACL starts from "allow": a lone
//! // `permit=` restricts nothing, which is why the `deny` line is needed.)
//! let peer_allowed = monitor.acl.permits("192.0.2.7".parse().unwrap());
//! let attempt = LoginAttempt {
//!     username: b"monitor", secret: Some(b"m0n"), auth_type: None, key: None, challenge: None,
//! };
//! let creds = UserCredentials { secret: monitor.secret.as_deref().map(str::as_bytes), peer_allowed };
//! assert!(matches!(authenticate(&attempt, Some(creds)), Err(LoginFailure::AclDenied)));
//!
//! // Actions: any shared write class suffices (§4.4); escalations are checked separately.
//! let originate = action_authority(b"originate").unwrap();
//! assert!(may_run(monitor.write, originate));
//! let refused = check_originate(monitor.write, Some(b"System"), Some(b"rm -rf /")).unwrap_err();
//! assert_eq!(refused.message(), "Originate Access Forbidden: app or data blacklisted");
//!
//! // Events: every category bit must be readable (§4.5).
//! assert!(may_receive(monitor.read, event_category(b"Hangup").unwrap()));
//! # Ok::<(), ami_proto::config::ConfigError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

pub mod acl;
pub mod auth;
pub mod authority;
pub mod client;
pub mod config;
pub mod encode;
pub mod filter;
pub mod frame;
pub mod message;
pub mod perm;
mod scan;
pub mod server;
pub mod time;

pub use client::{ActionId, ClientConfig, ClientEvent, ClientSession, LocalError};
pub use frame::{
    Banner, Decoder, DecoderLimits, DecoderStats, Frame, FrameError, FrameErrorKind, InvalidLimits,
    ParseError, ParseErrorKind, Role, Status, parse_banner, parse_message,
};
pub use message::{
    CommandOutput, Header, HeaderSlot, Headers, Message, MessageKind, OutputLines, OwnedMessage,
};
pub use server::{Server, ServerEvent, ServerOptions, SessionId};
