//! HTTPS: where the certificate comes from (files, made at start, or ACME), and the
//! rustls configuration every connection's handshake uses.

mod acme;
mod files;
mod self_signed;

use std::sync::Arc;

use rustls::{ServerConfig, crypto::CryptoProvider, server::ResolvesServerCert};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::{Config, startup::StartError};

/// ALPN of HTTP/1.1, the only HTTP spoken: WebSockets upgrade from it.
const HTTP1: &[u8] = b"http/1.1";

/// ALPN of an ACME server's TLS-ALPN-01 challenge connection (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Where the certificate comes from.
enum Source {
    Files(Arc<files::CertFiles>),
    SelfSigned,
    /// The ACME state, until [`Tls::maintain`] sets it going.
    Acme(Option<acme::State>, Vec<String>),
}

/// HTTPS on the main port.
pub struct Tls {
    acceptor: TlsAcceptor,
    source: Source,
}

impl Tls {
    /// HTTPS as `config` asks for it, or `None` for plain HTTP.
    pub fn new(config: &Config) -> Result<Option<Self>, StartError> {
        let (resolver, source): (Arc<dyn ResolvesServerCert>, _) =
            match (&config.tls_cert, &config.tls_key) {
                (Some(cert), Some(key)) => {
                    let files = Arc::new(files::CertFiles::load(cert, key)?);
                    (files.clone(), Source::Files(files))
                }
                _ if config.tls_self_signed => (
                    Arc::new(self_signed::make(&config.tls_names)?),
                    Source::SelfSigned,
                ),
                _ if !config.acme_domains.is_empty() => {
                    let (resolver, state) = acme::start(config)?;
                    (
                        resolver,
                        Source::Acme(Some(state), config.acme_domains.clone()),
                    )
                }
                _ => return Ok(None),
            };
        let mut alpn = vec![HTTP1.to_vec()];
        if matches!(source, Source::Acme(..)) {
            alpn.push(ACME_TLS_ALPN.to_vec());
        }
        let acceptor = acceptor(resolver, alpn)?;
        Ok(Some(Self { acceptor, source }))
    }

    /// The handshake for new connections.
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// Whether browsers may be told to insist on HTTPS here (HSTS): only with a
    /// certificate they trust. A self-signed one would pin every development server on
    /// the same host name to HTTPS.
    pub fn is_trusted(&self) -> bool {
        !matches!(self.source, Source::SelfSigned)
    }

    /// Starts what keeps the certificate current until `stop` turns true.
    pub fn maintain(&mut self, stop: watch::Receiver<bool>) {
        match &mut self.source {
            Source::Files(files) => files::watch(Arc::clone(files), stop),
            Source::Acme(state, domains) => {
                if let Some(state) = state.take() {
                    tokio::spawn(acme::drive(state, domains.clone(), stop));
                }
            }
            Source::SelfSigned => {}
        }
    }
}

/// The ring provider: no C build, and the same everywhere in the server.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn acceptor(
    resolver: Arc<dyn ResolvesServerCert>,
    alpn: Vec<Vec<u8>>,
) -> Result<TlsAcceptor, StartError> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| StartError::new(format!("TLS set-up failed: {error}")))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = alpn;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
