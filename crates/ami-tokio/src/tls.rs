//! TLS with rustls (ring): the client's connector (a CA file or the system's roots, SNI) and
//! a server's acceptor (certificate chain and key in PEM).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Which certificate authorities a client trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsRoots {
    /// The operating system's trust store.
    System,
    /// The authorities in this PEM file (a private CA, or the server's self-signed
    /// certificate).
    CaFile(PathBuf),
}

/// TLS settings of a client.
///
/// ```
/// use ami_tokio::{TlsClientOptions, TlsRoots};
///
/// let tls = TlsClientOptions::new(TlsRoots::CaFile("/etc/ami/ca.pem".into()))
///     .with_server_name("pbx1.example.com");
/// assert_eq!(tls.server_name.as_deref(), Some("pbx1.example.com"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsClientOptions {
    /// The authorities trusted.
    pub roots: TlsRoots,
    /// The name the certificate must carry (and the SNI sent); default: the host connected to.
    pub server_name: Option<String>,
}

impl TlsClientOptions {
    /// TLS trusting `roots`, verifying the host name connected to.
    pub fn new(roots: TlsRoots) -> TlsClientOptions {
        TlsClientOptions { roots, server_name: None }
    }

    /// Verifies (and sends as SNI) `name` instead of the host connected to.
    pub fn with_server_name(mut self, name: impl Into<String>) -> TlsClientOptions {
        self.server_name = Some(name.into());
        self
    }
}

/// Why TLS could not be set up.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A PEM file holds no usable certificate (or key).
    Pem {
        /// The file.
        path: PathBuf,
        /// What was looked for.
        what: &'static str,
        /// The parser's complaint, if any.
        detail: String,
    },
    /// The system trust store could not be loaded, or is empty.
    SystemRoots(String),
    /// rustls refused the certificate, the key or the authorities.
    Config(rustls::Error),
    /// The server name is not a valid DNS name or IP address.
    ServerName(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            TlsError::Pem { path, what, detail } => {
                write!(f, "no usable {what} in {}", path.display())?;
                if !detail.is_empty() {
                    write!(f, ": {detail}")?;
                }
                Ok(())
            }
            TlsError::SystemRoots(e) => write!(
                f,
                "cannot load the system's trusted certificates ({e}); give a CA file instead"
            ),
            TlsError::Config(e) => write!(f, "TLS configuration refused: {e}"),
            TlsError::ServerName(n) => write!(f, "{n:?} is not a valid TLS server name"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Read { source, .. } => Some(source),
            TlsError::Config(e) => Some(e),
            _ => None,
        }
    }
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes =
        std::fs::read(path).map_err(|source| TlsError::Read { path: path.to_owned(), source })?;
    let certs: Vec<_> =
        CertificateDer::pem_slice_iter(&bytes).collect::<Result<_, _>>().map_err(|e| {
            TlsError::Pem { path: path.to_owned(), what: "certificate", detail: e.to_string() }
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_owned(),
            what: "certificate",
            detail: String::new(),
        });
    }
    Ok(certs)
}

fn ensure_provider() {
    // Several crates may link rustls with different providers: name ours explicitly.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A connector for `options`, and the name to verify when connecting to `host`.
pub fn connector(
    options: &TlsClientOptions,
    host: &str,
) -> Result<(TlsConnector, ServerName<'static>), TlsError> {
    ensure_provider();
    let mut roots = RootCertStore::empty();
    match &options.roots {
        TlsRoots::CaFile(path) => {
            for cert in certs(path)? {
                roots.add(cert).map_err(TlsError::Config)?;
            }
        }
        TlsRoots::System => {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                let why = found.errors.first().map_or_else(
                    || "no certificates found".to_owned(),
                    std::string::ToString::to_string,
                );
                return Err(TlsError::SystemRoots(why));
            }
            let (_added, _ignored) = roots.add_parsable_certificates(found.certs);
        }
    }
    let config = ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let name = options.server_name.as_deref().unwrap_or(host);
    let name =
        ServerName::try_from(name.to_owned()).map_err(|_| TlsError::ServerName(name.to_owned()))?;
    Ok((TlsConnector::from(Arc::new(config)), name))
}

/// An acceptor for a listener: certificate chain and private key in PEM (the key may be in
/// the certificate file, as with Asterisk's `tlscertfile` alone).
pub fn acceptor(cert_file: &Path, key_file: Option<&Path>) -> Result<TlsAcceptor, TlsError> {
    ensure_provider();
    let chain = certs(cert_file)?;
    let key_path = key_file.unwrap_or(cert_file);
    let bytes = std::fs::read(key_path)
        .map_err(|source| TlsError::Read { path: key_path.to_owned(), source })?;
    let key = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::Pem {
        path: key_path.to_owned(),
        what: "private key",
        detail: e.to_string(),
    })?;
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Config)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
