//! Certificates from an ACME server (Let's Encrypt), validated with TLS-ALPN-01 on the
//! HTTPS port itself, cached across restarts and renewed before they expire.

use std::{path::Path, sync::Arc};

use futures_util::StreamExt;
use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, pem::PemObject},
};
use rustls_acme::{AcmeConfig, AcmeState, ResolvesServerCertAcme, caches::DirCache};
use tokio::sync::watch;

use super::provider;
use crate::{Config, startup::StartError};

/// The ACME account's state: polled, it orders, caches and renews the certificate.
pub type State = AcmeState<std::io::Error, std::io::Error>;

/// The resolver that shows the ACME certificate (or a challenge's), and the state that
/// gets it.
pub fn start(config: &Config) -> Result<(Arc<ResolvesServerCertAcme>, State), StartError> {
    for domain in &config.acme_domains {
        let valid = !domain.is_empty()
            && domain.parse::<std::net::IpAddr>().is_err()
            && domain.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !valid {
            return Err(StartError::new(format!(
                "--acme-domain {domain}: an ACME certificate is for a DNS name such as call.example.org"
            )));
        }
    }
    // The cache holds the certificate's private key and the account's key, written as
    // plain files: only the server's own user may enter the folder, one made before too.
    let mut folder = std::fs::DirBuilder::new();
    std::os::unix::fs::DirBuilderExt::mode(folder.recursive(true), 0o700);
    folder
        .create(&config.acme_cache)
        .and_then(|()| {
            let private = std::os::unix::fs::PermissionsExt::from_mode(0o700);
            std::fs::set_permissions(&config.acme_cache, private)
        })
        .map_err(|error| {
            StartError::new(format!(
                "cannot make the ACME cache folder {} private: {error}",
                config.acme_cache.display()
            ))
        })?;
    let mut acme = AcmeConfig::new_with_client_config(
        config.acme_domains.iter(),
        client_config(config.acme_ca.as_deref())?,
    )
    .directory(&config.acme_directory);
    if let Some(email) = &config.acme_email {
        acme = acme.contact_push(format!("mailto:{email}"));
    }
    let state = acme.cache(DirCache::new(config.acme_cache.clone())).state();
    Ok((state.resolver(), state))
}

/// Polls `state` (ordering, caching, renewing) until `stop` turns true.
pub async fn drive(mut state: State, domains: Vec<String>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            event = state.next() => match event {
                Some(Ok(event)) => tracing::info!(?event, domains = ?domains, "ACME"),
                Some(Err(error)) => tracing::warn!(%error, domains = ?domains, "ACME"),
                None => return,
            },
            () = crate::connection::stopping(&mut stop) => return,
        }
    }
}

/// HTTPS to the ACME server: the usual web roots, and `extra_ca` if given.
fn client_config(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, StartError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        let problem = |error: &dyn std::fmt::Display| {
            StartError::new(format!("cannot use --acme-ca {}: {error}", path.display()))
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| problem(&e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| problem(&e))?;
        if certs.is_empty() {
            return Err(problem(&"no certificate in it"));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| problem(&e))?;
        }
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| StartError::new(format!("TLS set-up failed: {error}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
