//! The DTLS role a connection settled on, kept in re-answers where the peer needs it.
//!
//! The first offer/answer decides which side is the DTLS client (`a=setup:active`) and
//! which the server (`passive`); every later offer says `actpass`, and the answerer must
//! answer with the role it already has (RFC 8842, section 5.5). Firefox does not: when it
//! answers a re-offer that restarts ICE, it can say `active` where it was the server, and
//! Chromium then refuses the answer ("Failed to set SSL role for the transport"), so an
//! ICE restart started by Chromium towards Firefox ended the call. The answer is
//! corrected to the settled role before it is applied, except to an offer from Firefox,
//! which takes a switch as the start of a new DTLS handshake and expects its peer to
//! follow: between two Firefoxes the answer is left as the browser made it.
//!
//! SDP is searched with the browser's own string methods: Rust's substring search and
//! line splitting would cost the bundle several KB for these few lines.

use js_sys::JsString;

/// Whether the author of `offer` is Firefox (`o=mozilla...`), which switches DTLS roles
/// in re-answers and expects its peer to follow.
pub fn switches_roles(offer: &JsString) -> bool {
    offer.includes("\no=mozilla", 0)
}

/// Which end of the DTLS handshake this side is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtlsRole {
    /// The DTLS client: `a=setup:active`.
    Client,
    /// The DTLS server: `a=setup:passive`.
    Server,
}

impl DtlsRole {
    fn setup(self) -> &'static str {
        match self {
            Self::Client => "a=setup:active",
            Self::Server => "a=setup:passive",
        }
    }

    /// The role an answer's `a=setup` gives its author; `None` if it names none.
    pub fn of_answer(sdp: &JsString) -> Option<Self> {
        [Self::Client, Self::Server]
            .into_iter()
            .find(|role| sdp.includes(role.setup(), 0))
    }

    /// The other end's role.
    pub fn opposite(self) -> Self {
        match self {
            Self::Client => Self::Server,
            Self::Server => Self::Client,
        }
    }

    /// `answer` with every `a=setup` saying this role.
    pub fn keep_in(self, answer: &JsString) -> JsString {
        answer.replace_all(self.opposite().setup(), self.setup())
    }
}
