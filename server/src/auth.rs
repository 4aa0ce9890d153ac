//! Token mode: every login carries an HS256 JWT minted by the embedding site's backend,
//! naming who (`sub`) may join which room (`room`) until when (`exp`, and optionally from
//! when, `nbf`); `admin` makes its holder a moderator of the room.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use protocol::ErrorCode;
use serde::{Deserialize, Serialize};

use crate::{identity::display_name, refusal::Refusal, rooms::RoomKey};

/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The display name its holder logs in with.
    pub sub: String,
    /// The room it lets its holder into; absent or empty: the default room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Until when it is good for a new login, in seconds since the epoch.
    pub exp: u64,
    /// From when it is good, in seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Whether its holder moderates the room.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
}

/// What a valid token grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Moderation of the room.
    pub admin: bool,
    /// Whether it is good at the first of the instants checked (now), not only at a later
    /// one (when the session it resumes began).
    pub current: bool,
}

/// Checks tokens against the shared secret.
pub struct Auth {
    decoding: DecodingKey,
    validation: Validation,
    /// How far the clocks of the server and of the backend that minted a token may
    /// disagree, in seconds.
    leeway: u64,
}

impl Auth {
    /// Tokens signed with `secret` (at least [`MIN_SECRET_BYTES`], checked at start), their
    /// times checked with `leeway` seconds to spare.
    pub fn new(secret: &[u8], leeway: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Times are checked below, against the instants the caller names.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims = ["exp", "sub"].into_iter().map(String::from).collect();
        // A backend may name an audience; the secret alone says who the token is for.
        validation.validate_aud = false;
        Self {
            decoding: DecodingKey::from_secret(secret),
            validation,
            leeway,
        }
    }

    /// What `token` grants to `name` in `room`, if it was good at one of `instants`
    /// (seconds since the epoch): now, or when the session it resumes began.
    pub fn check(
        &self,
        token: Option<&str>,
        name: &str,
        room: &RoomKey,
        instants: &[u64],
    ) -> Result<Grant, Refusal> {
        let refuse = |why: &str| Refusal::new(ErrorCode::Unauthorized, why);
        let token = token.ok_or_else(|| refuse("this server needs a token to log in"))?;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::InvalidSignature => refuse("the token's signature is not valid"),
                _ => refuse("the token cannot be read"),
            })?
            .claims;
        let sub = display_name(&claims.sub).map_err(|_| refuse("the token's name is not valid"))?;
        if sub != name {
            return Err(refuse("the token is for another name"));
        }
        if claims.room.as_deref().unwrap_or_default() != room.as_str() {
            return Err(refuse("the token is for another room"));
        }
        let started = |at: u64| {
            claims
                .nbf
                .is_none_or(|nbf| nbf <= at.saturating_add(self.leeway))
        };
        let unexpired = |at: u64| at < claims.exp.saturating_add(self.leeway);
        if !instants.iter().any(|&at| started(at)) {
            return Err(refuse("the token is not valid yet"));
        }
        if !instants.iter().any(|&at| started(at) && unexpired(at)) {
            return Err(refuse("the token has expired"));
        }
        Ok(Grant {
            admin: claims.admin,
            current: instants
                .first()
                .is_some_and(|&at| started(at) && unexpired(at)),
        })
    }
}

/// A token carrying `claims`, signed with `secret`: what a backend mints (see
/// docs/TOKENS.md), and what `peercall-server mint-token` prints.
pub fn mint(secret: &[u8], claims: &Claims) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap_or_else(|error| unreachable!("claims of strings and numbers serialize: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: u64 = 1_800_000_000;

    fn claims() -> Claims {
        Claims {
            sub: "alice".into(),
            room: Some("team".into()),
            exp: NOW + 60,
            nbf: None,
            admin: false,
        }
    }

    fn check(claims: &Claims, instants: &[u64]) -> Result<Grant, String> {
        let auth = Auth::new(SECRET, 30);
        let token = mint(SECRET, claims);
        auth.check(Some(&token), "alice", &RoomKey::named("team"), instants)
            .map_err(|refusal| refusal.message)
    }

    #[test]
    fn a_good_token_grants_entry() {
        let grant = |admin| Grant {
            admin,
            current: true,
        };
        assert_eq!(check(&claims(), &[NOW]), Ok(grant(false)));
        let admin = Claims {
            admin: true,
            ..claims()
        };
        assert_eq!(check(&admin, &[NOW]), Ok(grant(true)));
    }

    #[test]
    fn an_expired_token_is_good_for_a_session_it_began() {
        let expired = Claims {
            exp: NOW - 3_600,
            ..claims()
        };
        assert!(check(&expired, &[NOW]).is_err());
        let resumed = check(&expired, &[NOW, NOW - 3_700]);
        assert_eq!(resumed.map(|grant| grant.current), Ok(false));
    }

    #[test]
    fn bad_tokens_are_refused() {
        let auth = Auth::new(SECRET, 30);
        let room = RoomKey::named("team");
        assert!(auth.check(None, "alice", &room, &[NOW]).is_err());
        let forged = mint(b"another secret, also 32 bytes long", &claims());
        assert!(auth.check(Some(&forged), "alice", &room, &[NOW]).is_err());
        let early = Claims {
            nbf: Some(NOW + 3_600),
            ..claims()
        };
        assert!(check(&early, &[NOW]).is_err());
        let elsewhere = Claims {
            room: Some("other".into()),
            ..claims()
        };
        assert!(check(&elsewhere, &[NOW]).is_err());
        let someone = Claims {
            sub: "mallory".into(),
            ..claims()
        };
        assert!(check(&someone, &[NOW]).is_err());
    }
}
