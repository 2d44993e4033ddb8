//! TLS (rustls, ring) for the proxy's listener and its upstream connections.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Why TLS could not be set up: the file and what was wrong.
#[derive(Debug)]
pub struct TlsError(pub String);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError(format!("cannot read certificates from {}: {e}", path.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError(format!("bad certificate in {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(TlsError(format!("no certificate in {}", path.display())));
    }
    Ok(certs)
}

/// An acceptor for the listener: certificate chain and private key in PEM (the key may be in
/// the certificate file, as with Asterisk's `tlscertfile` alone).
pub fn acceptor(cert_file: &Path, key_file: Option<&Path>) -> Result<TlsAcceptor, TlsError> {
    let chain = certs(cert_file)?;
    let key_path = key_file.unwrap_or(cert_file);
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|e| TlsError(format!("no private key in {}: {e}", key_path.display())))?;
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError(format!("certificate and key do not fit: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A connector that trusts the authorities in `ca_file` (PEM) and verifies `server_name`.
pub fn connector(
    ca_file: &Path,
    server_name: &str,
) -> Result<(TlsConnector, ServerName<'static>), TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certs(ca_file)? {
        roots.add(cert).map_err(|e| {
            TlsError(format!("unusable CA certificate in {}: {e}", ca_file.display()))
        })?;
    }
    let config = ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let name = ServerName::try_from(server_name.to_owned())
        .map_err(|e| TlsError(format!("bad TLS server name {server_name:?}: {e}")))?;
    Ok((TlsConnector::from(Arc::new(config)), name))
}
