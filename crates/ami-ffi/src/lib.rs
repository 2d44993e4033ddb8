//! C ABI of libami.
//!
//! This crate builds `libami.so` (SONAME `libami.so.0`) and `libami.a`; `include/ami.h` is
//! generated from it by cbindgen. It follows rustls-ffi's conventions (see the header's top
//! comment for the C reader's contract):
//!
//! * every export returns an [`ami_result`] (0 = OK, codes never renumbered) or is infallible;
//! * opaque handles made by `ami_x_new(..., ami_x **out)` and freed by `ami_x_free` (NULL-safe);
//! * every pointer is checked for NULL, outputs are written only on success (the one exception
//!   is the needed length reported with `AMI_RESULT_INSUFFICIENT_SIZE`);
//! * every export catches panics: the call returns `AMI_RESULT_PANIC` and poisons its handle,
//!   whose later calls return `AMI_RESULT_POISONED`;
//! * views ([`ami_str`], [`ami_bytes`], [`decoder::ami_header`]) point into a handle and stay
//!   valid until the next non-`const` call on it;
//! * per-handle last-error text (`ami_x_last_error`).
//!
//! It covers the codec (decoder, message builder), the access semantics (permissions, event
//! categories, ACL, MD5 key), manager.conf (`ami_config`) and its editor (`ami_config_edit`),
//! the catalog of documented actions and events, the client session (`ami_client`) and the
//! server (`ami_server`).
#![deny(missing_docs)]
// The exports are safe `extern "C"` functions that dereference the pointers C passes, as in
// rustls-ffi: the contract (valid, live, correctly sized pointers) is C's and is written in the
// header; every dereference is checked for NULL and documented with a SAFETY comment.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use core::ffi::{CStr, c_char};

pub mod access;
pub mod builder;
pub mod catalog;
pub mod client;
pub mod config;
pub mod decoder;
pub mod edit;
pub mod error;
pub mod server;

pub use access::*;
pub use builder::*;
pub use catalog::*;
pub use client::*;
pub use config::*;
pub use decoder::*;
pub use edit::*;
pub use error::{ami_bytes, ami_result, ami_result_str, ami_str};
pub use server::*;

/// The version of libami as a NUL-terminated string, e.g. `"0.1.0"`.
const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("the package version contains a NUL byte"),
    };

/// Returns the libami version as a static NUL-terminated string (`"MAJOR.MINOR.PATCH"`).
///
/// The pointer is valid for the life of the program and must not be freed.
#[unsafe(no_mangle)]
pub extern "C" fn ami_version() -> *const c_char {
    VERSION.as_ptr()
}

#[cfg(test)]
mod version_tests {
    use super::*;

    #[test]
    fn header_version_macros_match_cargo_toml() {
        let header = include_str!("../../../include/ami.h");
        for (name, value) in [
            ("AMI_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
            ("AMI_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR")),
            ("AMI_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH")),
        ] {
            let line = format!("#define {name} {value}\n");
            assert!(header.contains(&line), "include/ami.h lacks `{}`", line.trim());
        }
    }

    #[test]
    fn version_matches_cargo_toml() {
        // SAFETY: ami_version returns a pointer to a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(ami_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}

#[cfg(test)]
mod tests;
