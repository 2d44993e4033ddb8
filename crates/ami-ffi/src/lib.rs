//! C ABI of libami.
//!
//! This crate builds `libami.so` and `libami.a`. It grows with the C API issue; today it exports
//! the library version so that C programs can check what they linked against.
#![deny(missing_docs)]

use core::ffi::{CStr, c_char};

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
mod tests {
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
