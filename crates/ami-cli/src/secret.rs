//! Where a login secret comes from: never from the command line in plain form.

use std::io::IsTerminal;
use std::path::PathBuf;

use ami_tokio::Secret;

use crate::error::CliError;

/// The environment variable read when neither `--secret-env` nor `--secret-file` is given.
pub const DEFAULT_SECRET_ENV: &str = "AMI_SECRET";

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
            return Secret::from_env(var)
                .map_err(|e| CliError::Secret(format!("{e} (from --secret-env)")));
        }
        if let Some(path) = &self.file {
            return Secret::from_file(path).map_err(|e| CliError::Secret(e.to_string()));
        }
        if let Ok(s) = Secret::from_env(DEFAULT_SECRET_ENV) {
            return Ok(s);
        }
        if std::io::stdin().is_terminal() {
            return rpassword::prompt_password(format!("Secret for {who}: "))
                .map(Secret::new)
                .map_err(|e| CliError::Secret(format!("cannot read the secret: {e}")));
        }
        Err(CliError::Secret(format!(
            "no secret given: use --secret-env VAR or --secret-file FILE, or set {DEFAULT_SECRET_ENV} \
             (secrets are never taken from the command line)"
        )))
    }
}
