//! Resume tokens: `<id>.<started>.<expires>.<mac>`, where the MAC (HMAC-SHA-256 under the
//! server's resume key) binds the id to its room, its name, when its session began and
//! when the token expires (both in ms since the epoch). Verifying needs no memory of the
//! login, so a server restarted with the same key hands a reconnecting client its old id
//! back, as long as the token has not expired.

use std::time::Duration;

use hmac::{Hmac, Mac};
use protocol::PeerId;
use sha2::Sha256;

use crate::rooms::RoomKey;

/// A genuine, unexpired token's claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumable {
    /// The id it gives back.
    pub id: PeerId,
    /// When the session it resumes began, in ms since the epoch.
    pub started_ms: u64,
}

/// Issues and checks resume tokens.
pub struct Tokens {
    key: Vec<u8>,
    lifetime: Duration,
}

impl Tokens {
    /// Tokens under `key` that last `lifetime` from their issue.
    pub fn new(key: Vec<u8>, lifetime: Duration) -> Self {
        Self { key, lifetime }
    }

    /// The resume key: also keys the MACs of room passwords.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// How long a token lasts.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    fn mac(
        &self,
        id: &str,
        room: &RoomKey,
        name: &str,
        started: &str,
        expires: &str,
    ) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        for part in [id, room.as_str(), name, started, expires] {
            mac.update(part.as_bytes());
            mac.update(b"\0");
        }
        mac
    }

    /// The token that gives `id` back to `name` in `room` until `lifetime` after `now_ms`.
    pub fn issue(
        &self,
        id: &PeerId,
        room: &RoomKey,
        name: &str,
        started_ms: u64,
        now_ms: u64,
    ) -> String {
        let expires = now_ms
            .saturating_add(self.lifetime.as_millis() as u64)
            .to_string();
        let started = started_ms.to_string();
        let tag = self
            .mac(&id.0, room, name, &started, &expires)
            .finalize()
            .into_bytes();
        let hex: String = tag.iter().map(|byte| format!("{byte:02x}")).collect();
        format!("{id}.{started}.{expires}.{hex}")
    }

    /// What `token` gives back to `name` in `room` at `now_ms`, if it is genuine and has
    /// not expired.
    pub fn verify(
        &self,
        token: &str,
        room: &RoomKey,
        name: &str,
        now_ms: u64,
    ) -> Option<Resumable> {
        let mut parts = token.split('.');
        let (id, started, expires, hex) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some()
            || id.is_empty()
            || !id.chars().all(|c| c.is_ascii_alphanumeric())
            || hex.len() != 64
        {
            return None;
        }
        let started_ms: u64 = started.parse().ok()?;
        let expires_ms: u64 = expires.parse().ok()?;
        let tag: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect::<Option<_>>()?;
        // verify_slice compares in constant time.
        self.mac(id, room, name, started, expires)
            .verify_slice(&tag)
            .ok()?;
        (now_ms <= expires_ms).then(|| Resumable {
            id: PeerId(id.to_owned()),
            started_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    fn tokens(key: &[u8]) -> Tokens {
        Tokens::new(key.to_vec(), Duration::from_secs(60))
    }

    #[test]
    fn a_token_gives_its_id_back_to_its_name_and_room_only() {
        let tokens = tokens(b"secret");
        let (id, room) = (PeerId::from("abc123"), RoomKey::named("team"));
        let token = tokens.issue(&id, &room, "alice", NOW - 5, NOW);
        let back = Resumable {
            id,
            started_ms: NOW - 5,
        };
        assert_eq!(
            tokens.verify(&token, &room, "alice", NOW + 1_000),
            Some(back)
        );
        assert_eq!(tokens.verify(&token, &room, "mallory", NOW), None);
        assert_eq!(
            tokens.verify(&token, &RoomKey::named("other"), "alice", NOW),
            None
        );
        assert_eq!(
            tokens.verify(&token, &RoomKey::default_room(), "alice", NOW),
            None
        );
    }

    #[test]
    fn a_token_expires() {
        let tokens = tokens(b"secret");
        let room = RoomKey::default_room();
        let token = tokens.issue(&PeerId::from("abc123"), &room, "alice", NOW, NOW);
        assert!(
            tokens
                .verify(&token, &room, "alice", NOW + 60_000)
                .is_some()
        );
        assert_eq!(tokens.verify(&token, &room, "alice", NOW + 60_001), None);
    }

    #[test]
    fn forged_and_foreign_tokens_are_refused() {
        let tokens = tokens(b"secret");
        let room = RoomKey::default_room();
        let token = tokens.issue(&PeerId::from("abc123"), &room, "alice", NOW, NOW);
        let forged = token.replacen("abc123", "abc124", 1);
        assert_eq!(tokens.verify(&forged, &room, "alice", NOW), None);
        let (id, rest) = token.split_once('.').unwrap_or_default();
        let (started, rest) = rest.split_once('.').unwrap_or_default();
        let (_, mac) = rest.split_once('.').unwrap_or_default();
        let extended = format!("{id}.{started}.{}.{mac}", NOW + 999_999_999);
        assert_eq!(tokens.verify(&extended, &room, "alice", NOW), None);
        assert_eq!(
            self::tokens(b"other").verify(&token, &room, "alice", NOW),
            None
        );
        for junk in [
            "",
            ".",
            "abc",
            "abc.1.2.zz",
            "abc.é",
            "a.b.c.d.e",
            "a.1.x.00",
        ] {
            assert_eq!(tokens.verify(junk, &room, "alice", NOW), None, "{junk}");
        }
    }
}
