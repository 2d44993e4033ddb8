//! The connection arguments of `ami tail` and `ami action`, turned into the client's options.

use std::path::PathBuf;
use std::time::Duration;

use ami_proto::client::LoginMethod;
use ami_tokio::{ClientOptions, Target, TlsClientOptions, TlsRoots};

use crate::error::CliError;
use crate::secret::SecretSource;

/// Connection arguments shared by `tail` and `action`.
#[derive(Clone, Debug, clap::Args)]
pub struct ConnectArgs {
    /// The AMI server: HOST, HOST:PORT, [IPv6]:PORT (default port 5038)
    #[arg(value_name = "HOST[:PORT]")]
    pub target: String,
    /// The manager.conf user to log in as
    #[arg(long, short = 'u')]
    pub user: String,
    /// Read the secret from this environment variable (default: $AMI_SECRET, else a prompt)
    #[arg(long, value_name = "VAR")]
    pub secret_env: Option<String>,
    /// Read the secret from this file (one trailing newline is ignored)
    #[arg(long, value_name = "FILE", conflicts_with = "secret_env")]
    pub secret_file: Option<PathBuf>,
    /// Log in with the secret in clear (`Secret:`) instead of the MD5 challenge
    #[arg(long)]
    pub plain: bool,
    /// Seconds to wait for the connection, the login and each answer
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// Speak TLS (Asterisk's `tlsenable`, usually port 5039); trusts the system's roots
    /// unless --tls-ca is given
    #[arg(long)]
    pub tls: bool,
    /// Trust the certificate authorities in this PEM file (implies --tls)
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Verify (and send as SNI) this name instead of HOST (implies --tls)
    #[arg(long, value_name = "NAME")]
    pub tls_server_name: Option<String>,
}

impl ConnectArgs {
    /// The client options these arguments describe (reads the secret). No reconnection:
    /// callers that want it set it.
    pub fn options(&self) -> Result<ClientOptions, CliError> {
        if !(self.timeout.is_finite() && self.timeout > 0.0) {
            return Err(CliError::Usage(format!(
                "--timeout must be a positive number of seconds, not {}",
                self.timeout
            )));
        }
        let target: Target = self
            .target
            .parse()
            .map_err(|e: ami_tokio::TargetError| CliError::Usage(e.to_string()))?;
        let source = SecretSource { env: self.secret_env.clone(), file: self.secret_file.clone() };
        let secret = source.read(&format!("{}@{}", self.user, self.target))?;
        let timeout = Duration::from_secs_f64(self.timeout);
        let tls =
            (self.tls || self.tls_ca.is_some() || self.tls_server_name.is_some()).then(|| {
                let roots = self.tls_ca.clone().map_or(TlsRoots::System, TlsRoots::CaFile);
                let mut tls = TlsClientOptions::new(roots);
                if let Some(name) = &self.tls_server_name {
                    tls = tls.with_server_name(name.clone());
                }
                tls
            });
        Ok(ClientOptions::new(target, self.user.clone(), secret)
            .with_login(if self.plain { LoginMethod::Plain } else { LoginMethod::Md5 })
            .with_tls(tls)
            .with_connect_timeout(timeout)
            .with_action_timeout(timeout)
            .with_action_id_prefix("ami-cli-")
            .with_reconnect(None))
    }
}
