//! The STUN and TURN servers every client is told about, with TURN credentials minted
//! per login in the form coturn's `use-auth-secret` checks (the TURN REST scheme):
//! user name `<expiry in unix seconds>:<peer id>`, password
//! `base64(HMAC-SHA1(secret, user name))`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use protocol::{IceServer, PeerId};
use sha1::Sha1;

use crate::startup::StartError;

/// The shortest TURN secret accepted: anything shorter can be guessed offline from one
/// minted password.
pub const MIN_TURN_SECRET_BYTES: usize = 32;

/// The servers handed out, and the secret TURN credentials are minted with.
#[derive(Clone, Default)]
pub struct IceServers {
    stun: Vec<String>,
    turn: Option<Turn>,
}

#[derive(Clone)]
struct Turn {
    urls: Vec<String>,
    secret: Vec<u8>,
    ttl: Duration,
}

impl IceServers {
    /// STUN URLs as given; TURN URLs with `secret` (from a file or the environment) and
    /// credentials lasting `ttl`.
    pub fn new(
        stun: Vec<String>,
        turn_urls: Vec<String>,
        secret: Option<Vec<u8>>,
        ttl: Duration,
    ) -> Result<Self, StartError> {
        for url in &stun {
            if !url.starts_with("stun:") && !url.starts_with("stuns:") {
                return Err(StartError::new(format!(
                    "--stun {url}: a STUN URL starts with stun: or stuns:"
                )));
            }
        }
        for url in &turn_urls {
            if !url.starts_with("turn:") && !url.starts_with("turns:") {
                return Err(StartError::new(format!(
                    "--turn-url {url}: a TURN URL starts with turn: or turns:"
                )));
            }
        }
        let turn = match (turn_urls.is_empty(), secret) {
            (true, _) => None,
            (false, None) => {
                return Err(StartError::new(
                    "--turn-url needs the TURN secret: give --turn-secret-file FILE or set PEERCALL_TURN_SECRET",
                ));
            }
            (false, Some(secret)) if secret.len() < MIN_TURN_SECRET_BYTES => {
                return Err(StartError::new(format!(
                    "the TURN secret has {} bytes; use at least {MIN_TURN_SECRET_BYTES} (e.g. `openssl rand -hex 32`)",
                    secret.len()
                )));
            }
            (false, Some(_)) if ttl < Duration::from_secs(2) => {
                return Err(StartError::new("--turn-ttl must be at least 2 seconds"));
            }
            (false, Some(secret)) => Some(Turn {
                urls: turn_urls,
                secret,
                ttl,
            }),
        };
        Ok(Self { stun, turn })
    }

    /// Whether there is anything to hand out.
    pub fn is_empty(&self) -> bool {
        self.stun.is_empty() && self.turn.is_none()
    }

    /// How long after minting fresh credentials go out: when a quarter of their life is
    /// left, so a client has time to use them before the old ones expire. `None` when
    /// nothing is minted.
    pub fn refresh_after(&self) -> Option<Duration> {
        self.turn.as_ref().map(|turn| turn.ttl * 3 / 4)
    }

    /// The list for `id`, with TURN credentials valid from now for the TTL.
    pub fn for_peer(&self, id: &PeerId) -> Vec<IceServer> {
        let mut servers = Vec::with_capacity(2);
        if !self.stun.is_empty() {
            servers.push(IceServer {
                urls: self.stun.clone(),
                username: None,
                credential: None,
            });
        }
        if let Some(turn) = &self.turn {
            let expiry = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .saturating_add(turn.ttl)
                .as_secs();
            let username = format!("{expiry}:{id}");
            servers.push(IceServer {
                urls: turn.urls.clone(),
                credential: Some(turn_password(&turn.secret, &username)),
                username: Some(username),
            });
        }
        servers
    }
}

/// coturn's `use-auth-secret` password for `username`.
pub fn turn_password(secret: &[u8], username: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_the_one_coturn_computes() {
        // `echo -n "1700000000:alice" | openssl dgst -binary -sha1 -hmac "$SECRET" | base64`
        let secret = b"0123456789abcdef0123456789abcdef";
        assert_eq!(
            turn_password(secret, "1700000000:alice"),
            "syM0noiTOlQo3X9F1YXulwwxriE="
        );
    }

    #[test]
    fn refusals_say_what_to_fix() {
        let ttl = Duration::from_secs(60);
        let turn = || vec!["turn:t.test".to_owned()];
        let refused = |result: Result<IceServers, StartError>| result.err().map(|e| e.to_string());
        assert!(
            refused(IceServers::new(vec![], turn(), None, ttl))
                .is_some_and(|e| e.contains("--turn-secret-file"))
        );
        assert!(
            refused(IceServers::new(
                vec![],
                turn(),
                Some(b"short".to_vec()),
                ttl
            ))
            .is_some_and(|e| e.contains("5 bytes"))
        );
        assert!(
            refused(IceServers::new(vec!["http://x".into()], vec![], None, ttl))
                .is_some_and(|e| e.contains("stun:"))
        );
        assert!(IceServers::new(vec![], vec![], None, ttl).is_ok_and(|ice| ice.is_empty()));
    }
}
