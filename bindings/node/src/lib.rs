//! Node.js bindings of libami: the napi-rs addon behind the npm package `libami`.
//!
//! Everything here is a thin layer over `ami-proto`: the stream decoder
//! ([`decoder::NativeDecoder`]), the encoders ([`encode`]), the sans-IO client session
//! ([`client::NativeClient`]) and server ([`server::NativeServer`]), the access rules
//! ([`access`]) and the manager.conf editor ([`edit`]). The TypeScript package
//! (`bindings/node/ts`) builds the public API on top: `Message` views, `ClientConnection`,
//! `Server`, `ConfigEditor`, and the `net`/`tls` client and server.
//!
//! Messages cross into JavaScript in batches ([`batch`]): one `Buffer` of bytes and one
//! `Uint32Array` index per call, never one object per message, so that decoding in Node costs
//! little more than decoding in Rust. Errors are instances of the package's error classes
//! ([`errors`]).
//!
//! `unsafe` is denied crate-wide: the FFI is the glue napi-rs's `#[napi]` macro generates (it
//! opts itself in with `allow(unsafe_code)`), and every value that crosses it is checked by
//! napi-rs's conversions. The one exception is [`pool`]: batch tables are handed to V8 and taken
//! back for reuse, two `unsafe` calls with their `// SAFETY:` reasoning.
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod access;
pub mod batch;
pub mod client;
pub mod convert;
pub mod decoder;
pub mod edit;
pub mod encode;
pub mod errors;
pub mod pool;
pub mod server;

/// The version of libami.
#[napi_derive::napi]
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
