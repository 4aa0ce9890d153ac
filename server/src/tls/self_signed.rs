//! A certificate made at start for localhost and the names given: HTTPS on a LAN without
//! certificate files. Browsers warn once; the log says how to check and trust it.

use std::sync::Arc;

use base64::Engine as _;
use rustls::{
    pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};
use sha2::{Digest, Sha256};

use super::provider;
use crate::startup::StartError;

/// The one certificate made at start.
#[derive(Debug)]
pub struct SelfSigned(Arc<CertifiedKey>);

impl ResolvesServerCert for SelfSigned {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
}

/// A certificate for localhost, 127.0.0.1, ::1 and `names` (host names or IP addresses).
pub fn make(names: &[String]) -> Result<SelfSigned, StartError> {
    let mut all: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).into();
    for name in names {
        if !all.contains(name) {
            all.push(name.clone());
        }
    }
    let made = rcgen::generate_simple_self_signed(all.clone()).map_err(|error| {
        StartError::new(format!("cannot make a certificate for {all:?}: {error}"))
    })?;
    let cert: CertificateDer<'static> = made.cert.der().clone();
    let spki = rcgen::PublicKeyData::subject_public_key_info(&made.signing_key);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let certified = CertifiedKey::from_der(vec![cert.clone()], key, &provider())
        .map_err(|error| StartError::new(format!("cannot use the certificate made: {error}")))?;
    tracing::info!(
        names = all.join(", "),
        sha256 = fingerprint(&cert),
        "self-signed certificate made; browsers warn once: check that the fingerprint they show is this one, then accept"
    );
    tracing::info!(
        "to trust it in Chromium without a warning, start it with --ignore-certificate-errors-spki-list={}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&spki))
    );
    Ok(SelfSigned(Arc::new(certified)))
}

/// SHA-256 of `cert`, as browsers show it: hex pairs joined by colons.
fn fingerprint(cert: &[u8]) -> String {
    Sha256::digest(cert)
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
