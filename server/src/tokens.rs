//! Resume tokens: `<id>.<mac>`, where the MAC (HMAC-SHA-256 under the server's secret)
//! binds the id to the name. Verifying needs no memory of the login, so a server restarted
//! with the same secret hands a reconnecting client its old id back.

use hmac::{Hmac, Mac};
use protocol::PeerId;
use rand::RngCore;
use sha2::Sha256;

/// Issues and checks resume tokens.
pub struct Tokens {
    key: Vec<u8>,
}

impl Tokens {
    /// Tokens under `secret`, or under a random key (valid until this process ends).
    pub fn new(secret: Option<&str>) -> Self {
        let key = match secret {
            Some(secret) => secret.as_bytes().to_vec(),
            None => {
                let mut key = vec![0; 32];
                rand::rng().fill_bytes(&mut key);
                key
            }
        };
        Self { key }
    }

    fn mac(&self, id: &PeerId, name: &str) -> Hmac<Sha256> {
        // Any key length is valid for HMAC.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(id.0.as_bytes());
        mac.update(b"\0");
        mac.update(name.as_bytes());
        mac
    }

    /// The token that gives `id` back to whoever logs in as `name` with it.
    pub fn issue(&self, id: &PeerId, name: &str) -> String {
        let tag = self.mac(id, name).finalize().into_bytes();
        let hex: String = tag.iter().map(|byte| format!("{byte:02x}")).collect();
        format!("{id}.{hex}")
    }

    /// The id `token` gives back to `name`, if it is genuine.
    pub fn verify(&self, token: &str, name: &str) -> Option<PeerId> {
        let (id, hex) = token.rsplit_once('.')?;
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) || hex.len() != 64 {
            return None;
        }
        let tag: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect::<Option<_>>()?;
        let id = PeerId(id.to_owned());
        // verify_slice compares in constant time.
        self.mac(&id, name).verify_slice(&tag).ok().map(|()| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_gives_its_id_back_to_its_name_only() {
        let tokens = Tokens::new(Some("secret"));
        let id = PeerId::from("abc123");
        let token = tokens.issue(&id, "alice");
        assert_eq!(tokens.verify(&token, "alice"), Some(id));
        assert_eq!(tokens.verify(&token, "mallory"), None);
    }

    #[test]
    fn forged_and_foreign_tokens_are_refused() {
        let tokens = Tokens::new(Some("secret"));
        let token = tokens.issue(&PeerId::from("abc123"), "alice");
        let forged = token.replacen("abc123", "abc124", 1);
        assert_eq!(tokens.verify(&forged, "alice"), None);
        assert_eq!(Tokens::new(Some("other")).verify(&token, "alice"), None);
        assert_eq!(Tokens::new(None).verify(&token, "alice"), None);
        for junk in ["", ".", "abc", "abc.zz", "abc.é", "a.b.c"] {
            assert_eq!(tokens.verify(junk, "alice"), None, "{junk}");
        }
    }
}
