//! The messages as flat bags of fields, for readers and writers without serde:
//! [`ServerMessage`] read field by field (every field optional, then checked per `type`),
//! [`ClientMessage`] written field by field.

use serde::Deserialize;

use crate::{
    ClientMessage, DeclineReason, ErrorCode, IceCandidate, PeerId, PeerInfo, ServerMessage,
};

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
        Ok(match m.kind.as_str() {
            "welcome" => Self::Welcome {
                id: need(m.id, "id")?,
                name: need(m.name, "name")?,
                resume: m.resume,
            },
            "pong" => Self::Pong,
            "peers" => Self::Peers {
                peers: need(m.peers, "peers")?,
            },
            "peer-joined" => Self::PeerJoined {
                id: need(m.id, "id")?,
                name: need(m.name, "name")?,
            },
            "peer-left" => Self::PeerLeft {
                id: need(m.id, "id")?,
            },
            "ring" => Self::Ring {
                from: need(m.from, "from")?,
                name: need(m.name, "name")?,
            },
            "accept" => Self::Accept {
                from: need(m.from, "from")?,
                name: need(m.name, "name")?,
            },
            "decline" => Self::Decline {
                from: need(m.from, "from")?,
                name: need(m.name, "name")?,
                reason: match need(m.reason, "reason")?.as_str() {
                    "declined" => DeclineReason::Declined,
                    "busy" => DeclineReason::Busy,
                    other => return Err(format!("unknown decline reason `{other}`")),
                },
            },
            "offer" => Self::Offer {
                from: need(m.from, "from")?,
                name: need(m.name, "name")?,
                sdp: need(m.sdp, "sdp")?,
            },
            "answer" => Self::Answer {
                from: need(m.from, "from")?,
                name: need(m.name, "name")?,
                sdp: need(m.sdp, "sdp")?,
            },
            "candidate" => Self::Candidate {
                from: need(m.from, "from")?,
                name: need(m.name, "name")?,
                candidate: m.candidate,
            },
            "hangup" => Self::Hangup {
                from: need(m.from, "from")?,
                name: need(m.name, "name")?,
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

/// One field of a [`FlatClientMessage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    /// A string.
    Text(&'a str),
    /// An ICE candidate.
    Candidate(&'a IceCandidate),
    /// `null` (the end-of-candidates marker).
    Null,
}

/// A [`ClientMessage`] as its `type` and its fields in wire order, each named as on the
/// wire: what serde writes, for a writer that has no serde serializer (the browser client
/// builds the object for the browser's `JSON.stringify` from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlatClientMessage<'a> {
    /// The `type`.
    pub kind: &'static str,
    /// The other fields; absent optional fields are left out.
    pub fields: Vec<(&'static str, Field<'a>)>,
}

impl ClientMessage {
    /// This message as [`FlatClientMessage`].
    pub fn flat<'a>(&'a self) -> FlatClientMessage<'a> {
        use Field::{Null, Text};
        let to = |to: &'a PeerId| ("to", Text(&to.0));
        let optional = |key, value: &'a Option<String>| value.as_deref().map(|v| (key, Text(v)));
        let (kind, fields): (_, Vec<_>) = match self {
            Self::Login { name, resume } => (
                "login",
                [Some(("name", Text(name))), optional("resume", resume)]
                    .into_iter()
                    .flatten()
                    .collect(),
            ),
            Self::Ping => ("ping", vec![]),
            Self::Ring { to: peer } => ("ring", vec![to(peer)]),
            Self::Accept { to: peer } => ("accept", vec![to(peer)]),
            Self::Decline { to: peer, reason } => {
                ("decline", vec![to(peer), ("reason", Text(reason.as_str()))])
            }
            Self::Offer { to: peer, sdp } => ("offer", vec![to(peer), ("sdp", Text(sdp))]),
            Self::Answer { to: peer, sdp } => ("answer", vec![to(peer), ("sdp", Text(sdp))]),
            Self::Candidate {
                to: peer,
                candidate,
            } => (
                "candidate",
                vec![
                    to(peer),
                    (
                        "candidate",
                        candidate.as_ref().map_or(Null, Field::Candidate),
                    ),
                ],
            ),
            Self::Hangup { to: peer, reason } => (
                "hangup",
                [Some(to(peer)), optional("reason", reason)]
                    .into_iter()
                    .flatten()
                    .collect(),
            ),
        };
        FlatClientMessage { kind, fields }
    }
}
