//! What is checked and loaded before the server takes its first connection: a server that
//! cannot do what its flags ask refuses to start, with one line saying what to fix.

use std::{fmt, path::Path, time::Duration};

use rand::RngCore;

use crate::{
    Config,
    auth::{Auth, MIN_SECRET_BYTES},
    ice::IceServers,
    tls::Tls,
};

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
    /// Token mode: the key every login's token is checked with.
    pub auth: Option<Auth>,
    /// The key of resume tokens.
    pub resume_key: Vec<u8>,
}

impl Prepared {
    /// Reads and checks everything `config` names.
    pub fn new(config: Config) -> Result<Self, StartError> {
        let auth = auth_secret(&config)?.map(|secret| Auth::new(&secret, config.token_leeway_secs));
        let resume_key = resume_key(&config)?;
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
            auth,
            resume_key,
        })
    }
}

/// The TURN secret: from `--turn-secret-file`, else `PEERCALL_TURN_SECRET`.
fn turn_secret(config: &Config) -> Result<Option<Vec<u8>>, StartError> {
    match (&config.turn_secret_file, &config.turn_secret) {
        (Some(file), _) => read_secret(file, "TURN secret").map(Some),
        (None, Some(secret)) => Ok(Some(secret.trim().as_bytes().to_vec())),
        (None, None) => Ok(None),
    }
}

/// The token secret, for token mode: from `--auth-secret-file`, else
/// `PEERCALL_AUTH_SECRET`; at least [`MIN_SECRET_BYTES`].
pub fn auth_secret(config: &Config) -> Result<Option<Vec<u8>>, StartError> {
    let secret = match (&config.auth_secret_file, &config.auth_secret) {
        (Some(file), _) => read_secret(file, "token secret")?,
        (None, Some(secret)) => secret.trim().as_bytes().to_vec(),
        (None, None) => return Ok(None),
    };
    long_enough(secret, "the token secret").map(Some)
}

/// The resume key: from `--resume-secret-file` (made with a random key if missing), else
/// `PEERCALL_RESUME_SECRET`, else random for this process.
fn resume_key(config: &Config) -> Result<Vec<u8>, StartError> {
    let key = match (&config.resume_secret_file, &config.resume_secret) {
        (Some(file), _) if !file.exists() => {
            let key = random_key();
            write_new_secret(file, &key)?;
            tracing::info!(file = %file.display(), "made a new resume key");
            key.into_bytes()
        }
        (Some(file), _) => read_secret(file, "resume key")?,
        (None, Some(secret)) => secret.trim().as_bytes().to_vec(),
        (None, None) => return Ok(random_key().into_bytes()),
    };
    long_enough(key, "the resume key")
}

fn long_enough(secret: Vec<u8>, what: &str) -> Result<Vec<u8>, StartError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(StartError::new(format!(
            "{what} is {} bytes long; it must have at least {MIN_SECRET_BYTES}",
            secret.len()
        )));
    }
    Ok(secret)
}

/// 32 random bytes, in hex.
fn random_key() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    key.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Writes `key` to a new file only its owner can read.
fn write_new_secret(file: &Path, key: &str) -> Result<(), StartError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(file)
        .and_then(|mut out| writeln!(out, "{key}"))
        .map_err(|error| {
            StartError::new(format!(
                "cannot write a new resume key to {}: {error}",
                file.display()
            ))
        })
}

fn read_secret(file: &Path, what: &str) -> Result<Vec<u8>, StartError> {
    let text = std::fs::read_to_string(file).map_err(|error| {
        StartError::new(format!(
            "cannot read the {what} file {}: {error}",
            file.display()
        ))
    })?;
    // A trailing newline from `echo` or an editor is not part of the secret.
    Ok(text.trim().as_bytes().to_vec())
}
