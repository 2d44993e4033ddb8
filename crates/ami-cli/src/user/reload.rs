//! `--reload HOST:PORT`: make Asterisk read the edited manager.conf, over AMI.
//!
//! Asterisk's `Reload` action with `Module: manager` runs the manager module's reload
//! (`reload_module` → `__init_manager(1, 0)` in `main/manager.c`), the same as the CLI command
//! `manager reload`. The action's authority is `system|config`, so the account needs write
//! `system` or `config`. Asterisk answers `Module Reloaded` once the configuration is read.

use std::path::PathBuf;
use std::time::Duration;

use ami_proto::client::LoginMethod;
use ami_proto::encode::Action;
use ami_tokio::{Client, ClientOptions, Target};

use crate::error::CliError;
use crate::secret::SecretSource;

/// How to reach and log in to the Asterisk to reload.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ReloadArgs {
    /// After writing, reload the manager configuration of this Asterisk over AMI (`Reload`,
    /// `Module: manager`)
    #[arg(long, value_name = "HOST[:PORT]")]
    pub reload: Option<String>,
    /// The account that reloads (needs write `system` or `config`)
    #[arg(long, value_name = "USER", requires = "reload")]
    pub reload_user: Option<String>,
    /// Read that account's secret from this environment variable (default: $AMI_SECRET, else a
    /// prompt)
    #[arg(long, value_name = "VAR", requires = "reload")]
    pub reload_secret_env: Option<String>,
    /// Read that account's secret from this file
    #[arg(long, value_name = "FILE", requires = "reload", conflicts_with = "reload_secret_env")]
    pub reload_secret_file: Option<PathBuf>,
    /// Log in with the secret in clear instead of the MD5 challenge
    #[arg(long, requires = "reload")]
    pub reload_plain: bool,
    /// Seconds to wait for the connection, the login and the reload
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, requires = "reload")]
    pub reload_timeout: f64,
}

/// The outcome of a reload.
#[derive(Clone, Debug)]
pub struct Reloaded {
    /// `host:port`.
    pub target: String,
    /// Asterisk's `Message:`.
    pub message: String,
}

impl ReloadArgs {
    /// The client options (reads the secret); `None` without `--reload`.
    pub fn options(&self) -> Result<Option<ClientOptions>, CliError> {
        let Some(target) = &self.reload else { return Ok(None) };
        let Some(user) = &self.reload_user else {
            return Err(CliError::Usage(
                "--reload needs --reload-user: an account with write `system` or `config`"
                    .to_owned(),
            ));
        };
        if !(self.reload_timeout.is_finite() && self.reload_timeout > 0.0) {
            return Err(CliError::Usage(format!(
                "--reload-timeout must be a positive number of seconds, not {}",
                self.reload_timeout
            )));
        }
        let parsed: Target =
            target.parse().map_err(|e: ami_tokio::TargetError| CliError::Usage(e.to_string()))?;
        let source = SecretSource {
            env: self.reload_secret_env.clone(),
            file: self.reload_secret_file.clone(),
        };
        let secret = source.read(&format!("{user}@{target}"))?;
        let timeout = Duration::from_secs_f64(self.reload_timeout);
        Ok(Some(
            ClientOptions::new(parsed, user.clone(), secret)
                .with_login(if self.reload_plain { LoginMethod::Plain } else { LoginMethod::Md5 })
                .with_events("off")
                .with_connect_timeout(timeout)
                .with_action_timeout(timeout)
                .with_action_id_prefix("ami-user-")
                .with_reconnect(None),
        ))
    }
}

/// Logs in and sends `Reload` with `Module: manager`.
pub fn reload(options: ClientOptions) -> Result<Reloaded, CliError> {
    let target = options.target.to_string();
    let user = options.username.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::io("cannot start the runtime", e))?;
    rt.block_on(async {
        let client = Client::connect(options).await?;
        let reply = client.action(&Action::new("Reload").with("Module", "manager")).await;
        client.close().await;
        let reply = reply?;
        let message = reply.message().map(|m| m.into_owned()).unwrap_or_default();
        if !reply.is_success() {
            let hint = if message.contains("Permission denied") {
                format!(" (the account {user} needs write `system` or `config`)")
            } else {
                String::new()
            };
            return Err(CliError::Config(format!(
                "Asterisk at {target} did not reload the manager configuration: {message}{hint}; \
                 the file is written: reload it with `asterisk -rx 'manager reload'`"
            )));
        }
        Ok(Reloaded { target, message })
    })
}
