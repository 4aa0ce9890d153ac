//! A certificate and key from PEM files, read again when they change or on SIGHUP. New
//! connections get the new certificate; open ones keep theirs.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, RwLock},
    time::SystemTime,
};

use rustls::{
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};
use tokio::sync::watch;

use super::provider;

/// How often the files are looked at for changes.
const WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
use crate::startup::StartError;

/// The files, and the certificate last read from them.
#[derive(Debug)]
pub struct CertFiles {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' modification times when last read.
    seen: Mutex<Stamp>,
}

type Stamp = (Option<SystemTime>, Option<SystemTime>);

impl CertFiles {
    /// Reads `cert` and `key`, which must belong together.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, StartError> {
        let seen = stamp(cert, key);
        let certified = read(cert, key).map_err(StartError::new)?;
        Ok(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: RwLock::new(Arc::new(certified)),
            seen: Mutex::new(seen),
        })
    }

    /// Reads the files again; on any problem the certificate in use stays.
    pub fn reload(&self) {
        let seen = stamp(&self.cert, &self.key);
        match read(&self.cert, &self.key) {
            Ok(certified) => {
                *self
                    .current
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(certified);
                tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
            }
            Err(problem) => {
                tracing::warn!("{problem}; still using the certificate read before");
            }
        }
        *self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = seen;
    }

    /// Whether either file changed since it was last read.
    fn changed(&self) -> bool {
        *self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            != stamp(&self.cert, &self.key)
    }
}

impl ResolvesServerCert for CertFiles {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        ))
    }
}

/// Reloads `files` when they change or on SIGHUP, until `stop` turns true. SIGHUP is
/// listened for from the call on, before the first connection is taken.
pub fn watch(files: Arc<CertFiles>, stop: watch::Receiver<bool>) {
    tokio::spawn(watching(files, hangups(), stop));
}

async fn watching(files: Arc<CertFiles>, mut hangups: Hangups, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(WATCH_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => if files.changed() { files.reload() },
            Some(()) = next_hangup(&mut hangups) => {
                tracing::info!("SIGHUP: reading the TLS certificate again");
                files.reload();
            }
            () = crate::connection::stopping(&mut stop) => return,
        }
    }
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = Option<()>;

#[cfg(unix)]
fn hangups() -> Hangups {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::hangup())
        .inspect_err(|error| tracing::warn!(%error, "cannot listen for SIGHUP"))
        .ok()
}

#[cfg(not(unix))]
fn hangups() -> Hangups {
    None
}

async fn next_hangup(hangups: &mut Hangups) -> Option<()> {
    #[cfg(unix)]
    if let Some(signal) = hangups {
        return signal.recv().await;
    }
    let _ = hangups;
    std::future::pending().await
}

fn stamp(cert: &Path, key: &Path) -> Stamp {
    let modified = |path: &Path| fs::metadata(path).and_then(|m| m.modified()).ok();
    (modified(cert), modified(key))
}

/// The certificate chain in `cert` with the key in `key`, checked to belong together.
fn read(cert: &Path, key: &Path) -> Result<CertifiedKey, String> {
    let cert_pem = fs::read(cert).map_err(|error| {
        format!(
            "cannot read the TLS certificate {}: {error}",
            cert.display()
        )
    })?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("{} is not a PEM certificate: {error}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "{} holds no certificate (expected -----BEGIN CERTIFICATE-----)",
            cert.display()
        ));
    }
    let key_pem = fs::read(key)
        .map_err(|error| format!("cannot read the TLS key {}: {error}", key.display()))?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|error| format!("{} holds no PEM private key: {error}", key.display()))?;
    CertifiedKey::from_der(chain, key_der, &provider()).map_err(|error| {
        format!(
            "the key in {} does not belong to the certificate in {}: {error}",
            key.display(),
            cert.display()
        )
    })
}
