//! [`CliError`]: why a subcommand failed, and its exit status.

use std::fmt;
use std::io;

/// Why a subcommand failed. Each says what happened, where, and what to do.
#[derive(Debug)]
pub enum CliError {
    /// Bad command-line input (exit status 2).
    Usage(String),
    /// No secret could be read.
    Secret(String),
    /// A configuration file could not be used.
    Config(String),
    /// A socket or file error.
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: io::Error,
    },
    /// The AMI connection failed (connect, TLS, login, an answer).
    Ami(ami_tokio::Error),
}

impl CliError {
    /// The process exit status for this error: 2 for usage errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }

    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> CliError {
        CliError::Io { context: context.into(), source }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Secret(m) | CliError::Config(m) => f.write_str(m),
            CliError::Io { context, source } => write!(f, "{context}: {source}"),
            CliError::Ami(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CliError {}

impl From<ami_tokio::Error> for CliError {
    fn from(e: ami_tokio::Error) -> CliError {
        CliError::Ami(e)
    }
}
