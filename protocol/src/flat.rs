//! [`ServerMessage`] read field by field: every field optional, then checked per `type`.

use serde::Deserialize;

use crate::{DeclineReason, ErrorCode, IceCandidate, PeerId, PeerInfo, ServerMessage};

/// Any server frame, as a flat bag of optional fields, each named as on the wire.
///
/// Filled by serde, or field by field by a reader that has no serde deserializer (the
/// browser client reads the browser's `JSON.parse` result this way).
#[derive(Debug, Default, Deserialize)]
#[allow(missing_docs)]
pub struct FlatServerMessage {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<PeerId>,
    pub name: Option<String>,
    pub peers: Option<Vec<PeerInfo>>,
    pub from: Option<PeerId>,
    pub sdp: Option<String>,
    pub candidate: Option<IceCandidate>,
    pub reason: Option<String>,
    pub code: Option<ErrorCode>,
    pub message: Option<String>,
    pub to: Option<PeerId>,
    pub resume: Option<String>,
}

fn need<T>(value: Option<T>, field: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("missing field `{field}`"))
}

impl TryFrom<FlatServerMessage> for ServerMessage {
    type Error = String;

    fn try_from(m: FlatServerMessage) -> Result<Self, String> {
        let from = || need(m.from.clone(), "from");
        let name = || need(m.name.clone(), "name");
        let sdp = || need(m.sdp.clone(), "sdp");
        Ok(match m.kind.as_str() {
            "welcome" => Self::Welcome {
                id: need(m.id, "id")?,
                name: name()?,
                resume: m.resume,
            },
            "pong" => Self::Pong,
            "peers" => Self::Peers {
                peers: need(m.peers, "peers")?,
            },
            "peer-joined" => Self::PeerJoined {
                id: need(m.id, "id")?,
                name: name()?,
            },
            "peer-left" => Self::PeerLeft {
                id: need(m.id, "id")?,
            },
            "ring" => Self::Ring {
                from: from()?,
                name: name()?,
            },
            "accept" => Self::Accept {
                from: from()?,
                name: name()?,
            },
            "decline" => Self::Decline {
                from: from()?,
                name: name()?,
                reason: match need(m.reason, "reason")?.as_str() {
                    "declined" => DeclineReason::Declined,
                    "busy" => DeclineReason::Busy,
                    other => return Err(format!("unknown decline reason `{other}`")),
                },
            },
            "offer" => Self::Offer {
                from: from()?,
                name: name()?,
                sdp: sdp()?,
            },
            "answer" => Self::Answer {
                from: from()?,
                name: name()?,
                sdp: sdp()?,
            },
            "candidate" => Self::Candidate {
                from: from()?,
                name: name()?,
                candidate: m.candidate,
            },
            "hangup" => Self::Hangup {
                from: from()?,
                name: name()?,
                reason: m.reason,
            },
            "error" => Self::Error {
                code: need(m.code, "code")?,
                message: need(m.message, "message")?,
                to: m.to,
            },
            other => return Err(format!("unknown message type `{other}`")),
        })
    }
}
