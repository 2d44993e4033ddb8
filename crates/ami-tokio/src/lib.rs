//! The Asterisk Manager Interface (AMI) over tokio, on the sans-IO core [`ami_proto`].
//!
//! `ami-proto` decides every byte, every correlation and every permission; this crate adds
//! sockets, TLS, clocks and tasks, the way quinn sits on quinn-proto:
//!
//! * [`Client`]: an AMI connection. Connect over TCP or TLS, log in (MD5 by default), send
//!   actions from any number of tasks ([`Client::action`] collects the answer into a
//!   [`Reply`]: the response, list items, `Command` output, the `OriginateResponse` of an
//!   async `Originate`), subscribe to events ([`Client::events`]: bounded, and a slow reader
//!   is told what it missed), and let it reconnect (exponential [`Backoff`] with jitter) and
//!   log in again when the connection drops.
//! * [`server::Endpoint`]: the I/O loop of an AMI server built on the core's
//!   [`Server`](ami_proto::Server) (TCP and TLS listeners, per-connection tasks, the timer).
//!   `ami mock`, `ami proxy` and `ami bridge` are built on it.
//! * What both need: the [`clock`], [`OsRandom`] challenges from the OS CSPRNG, [`Secret`]s
//!   that are never printed, [`tls`] helpers and [`Target`] addresses.
//!
//! # A client in five steps
//!
//! ```no_run
//! use ami_proto::encode::Action;
//! use ami_tokio::{Client, ClientOptions, Secret, StreamEvent};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // 1. Where and who. MD5 login, keepalive, reconnect and bounded lists are the defaults.
//!     let options = ClientOptions::new("127.0.0.1:5038".parse()?, "admin", Secret::from_env("AMI_SECRET")?);
//!     // 2. Connect: the TCP connection, the banner and the login, within 10 s.
//!     let client = Client::connect(options).await?;
//!     // 3. Actions: any number at once, from any task. Lists and Command output come whole.
//!     let reply = client.action(&Action::new("CoreShowChannels")).await?.check()?;
//!     println!("{} channels", reply.items().len());
//!     println!("{:?}", client.command("core show version").await?);
//!     // 4. Events: a stream per subscriber, bounded; lag and reconnections are reported.
//!     let mut events = client.events();
//!     while let Some(item) = events.recv().await {
//!         match item {
//!             StreamEvent::Event(ev) => println!("{}", String::from_utf8_lossy(ev.name())),
//!             StreamEvent::Lagged { missed } => eprintln!("too slow: {missed} events missed"),
//!             StreamEvent::Disconnected { reason } => eprintln!("lost: {reason}"),
//!             StreamEvent::Connected { .. } => eprintln!("back"),
//!             _ => {}
//!         }
//!     }
//!     // 5. Log off.
//!     client.close().await;
//!     Ok(())
//! }
//! ```
//!
//! # What a hostile or broken server cannot do
//!
//! * Make the client grow without bound: a list answer is collected up to [`ListLimits`]
//!   (100,000 items, 64 MiB by default), then the action fails with [`Error::TooLarge`] and
//!   the rest is read and dropped; every event stream holds at most
//!   [`ClientOptions::event_buffer`] events.
//! * Hang a call: every call returns within its time limit plus a small margin, whatever the
//!   server does (a silent server, one that stops reading, a slow trickle).
//! * Go unnoticed when it stops answering: the keepalive `Ping` runs while actions are
//!   pending too, and [`ClientOptions::max_consecutive_timeouts`] timeouts in a row declare
//!   it dead; the client then reconnects.
//! * Pass for an AMI server: a greeting that is not `Asterisk Call Manager/...` (an HTTP or
//!   TLS server, garbage) fails the connection at once with [`Error::NotAmi`], showing what
//!   was received.
//! * Make a flapping server hammered: a connection that drops right after login does not
//!   reset the backoff.

mod client;
pub mod clock;
pub mod random;
mod secret;
pub mod server;
mod target;
pub mod tls;

pub use client::{
    Backoff, Client, ClientOptions, Error, Event, EventStream, ListLimits, Part, Parts, Reply,
    Status, StreamEvent, Waits,
};
pub use random::OsRandom;
pub use secret::{Secret, SecretError};
pub use target::{DEFAULT_PORT, Target, TargetError};
pub use tls::{TlsClientOptions, TlsError, TlsRoots};

/// The README's Rust examples (the async client, the sans-IO core, the catalog), compiled (and
/// all but the client's run) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
