//! Where a login secret comes from: never from the command line in plain form.

use std::fmt;
use std::io::IsTerminal;
use std::path::PathBuf;

use crate::conn::CliError;

/// The environment variable read when neither `--secret-env` nor `--secret-file` is given.
pub const DEFAULT_SECRET_ENV: &str = "AMI_SECRET";

/// A secret. Its `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// A secret with this text.
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret's text, to hand to the login and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How the caller asked for the secret.
#[derive(Clone, Debug, Default)]
pub struct SecretSource {
    /// `--secret-env VAR`.
    pub env: Option<String>,
    /// `--secret-file FILE`.
    pub file: Option<PathBuf>,
}

impl SecretSource {
    /// Reads the secret: from `--secret-env`, `--secret-file`, else `$AMI_SECRET`, else a prompt
    /// on the terminal (without echo). `who` names the account in the prompt.
    pub fn read(&self, who: &str) -> Result<Secret, CliError> {
        if let Some(var) = &self.env {
            return std::env::var(var).map(Secret).map_err(|_| {
                CliError::Secret(format!(
                    "the environment variable {var} (from --secret-env) is not set or not UTF-8"
                ))
            });
        }
        if let Some(path) = &self.file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CliError::Secret(format!("cannot read the secret file {}: {e}", path.display()))
            })?;
            // One trailing line end is not part of the secret (`echo secret > file`).
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            return Ok(Secret(text.to_owned()));
        }
        if let Ok(s) = std::env::var(DEFAULT_SECRET_ENV) {
            return Ok(Secret(s));
        }
        if std::io::stdin().is_terminal() {
            return rpassword::prompt_password(format!("Secret for {who}: "))
                .map(Secret)
                .map_err(|e| CliError::Secret(format!("cannot read the secret: {e}")));
        }
        Err(CliError::Secret(format!(
            "no secret given: use --secret-env VAR or --secret-file FILE, or set {DEFAULT_SECRET_ENV} \
             (secrets are never taken from the command line)"
        )))
    }
}
