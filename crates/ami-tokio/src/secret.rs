//! [`Secret`]: a login secret that is never printed, and where it comes from.

use std::fmt;
use std::path::{Path, PathBuf};

/// A secret. Its `Debug` never shows it; [`expose`](Secret::expose) hands it to a login.
///
/// ```
/// let s = ami_tokio::Secret::new("s3cret");
/// assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
/// assert_eq!(s.expose(), "s3cret");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret with this text.
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret's text, to hand to a login and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads a secret from the environment variable `var`.
    pub fn from_env(var: &str) -> Result<Secret, SecretError> {
        std::env::var(var).map(Secret).map_err(|_| SecretError::Env { var: var.to_owned() })
    }

    /// Reads a secret from a file; one trailing line end is not part of it (`echo s > file`).
    pub fn from_file(path: &Path) -> Result<Secret, SecretError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SecretError::File { path: path.to_owned(), source })?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        Ok(Secret(text.to_owned()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Why a secret could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum SecretError {
    /// The environment variable is not set, or not UTF-8.
    Env {
        /// Its name.
        var: String,
    },
    /// The file could not be read.
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::Env { var } => {
                write!(f, "the environment variable {var} is not set (or not UTF-8)")
            }
            SecretError::File { path, source } => {
                write!(f, "cannot read the secret file {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for SecretError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SecretError::File { source, .. } => Some(source),
            SecretError::Env { .. } => None,
        }
    }
}
