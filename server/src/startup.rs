//! What is checked and loaded before the server takes its first connection: a server that
//! cannot do what its flags ask refuses to start, with one line saying what to fix.

use std::{fmt, path::Path, time::Duration};

use crate::{Config, ice::IceServers, tls::Tls};

/// Why the server cannot start, in one line.
#[derive(Debug)]
pub struct StartError(String);

impl StartError {
    /// A refusal saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

impl From<StartError> for std::io::Error {
    fn from(error: StartError) -> Self {
        Self::other(error.0)
    }
}

/// The flags, with their files read and checked.
pub struct Prepared {
    /// The flags.
    pub config: Config,
    /// HTTPS, unless the server speaks plain HTTP.
    pub tls: Option<Tls>,
    /// What every client is told about STUN and TURN.
    pub ice: IceServers,
    /// Bound to `--metrics-addr`, when `/healthz` and `/metrics` have their own port.
    pub metrics_listener: Option<std::net::TcpListener>,
}

impl Prepared {
    /// Reads and checks everything `config` names.
    pub fn new(config: Config) -> Result<Self, StartError> {
        let secret = turn_secret(&config)?;
        let ice = IceServers::new(
            config.stun_urls.clone(),
            config.turn_urls.clone(),
            secret,
            Duration::from_secs(config.turn_ttl),
        )?;
        let tls = Tls::new(&config)?;
        let metrics_listener = config
            .metrics_addr
            .map(|addr| {
                let listener = std::net::TcpListener::bind(addr)?;
                listener.set_nonblocking(true)?;
                Ok(listener)
            })
            .transpose()
            .map_err(|error: std::io::Error| {
                StartError::new(format!("cannot listen on --metrics-addr: {error}"))
            })?;
        Ok(Self {
            config,
            tls,
            ice,
            metrics_listener,
        })
    }
}

/// The TURN secret: from `--turn-secret-file`, else `PEERCALL_TURN_SECRET`.
fn turn_secret(config: &Config) -> Result<Option<Vec<u8>>, StartError> {
    match (&config.turn_secret_file, &config.turn_secret) {
        (Some(file), _) => read_secret(file).map(Some),
        (None, Some(secret)) => Ok(Some(secret.trim().as_bytes().to_vec())),
        (None, None) => Ok(None),
    }
}

fn read_secret(file: &Path) -> Result<Vec<u8>, StartError> {
    let text = std::fs::read_to_string(file).map_err(|error| {
        StartError::new(format!(
            "cannot read the TURN secret file {}: {error}",
            file.display()
        ))
    })?;
    // A trailing newline from `echo` or an editor is not part of the secret.
    Ok(text.trim().as_bytes().to_vec())
}
