//! The messages field by field, for readers and writers without serde:
//! [`ServerMessage::read`] takes a server frame's fields from any [`ServerFields`],
//! [`ClientMessage::flat`] lists a client frame's fields.

use serde::Deserialize;

use crate::{
    CallId, ClientMessage, DeclineReason, ErrorCode, IceCandidate, IceServer, LeaveReason, PeerId,
    PeerInfo, Relayed, ServerMessage, Signal,
};

/// Where the fields of a server frame come from, by their wire names: serde's flat bag of
/// optional fields, or a reader of the browser's `JSON.parse` result in the client.
/// Absent fields are `Ok(None)`; present fields of the wrong shape are errors.
pub trait ServerFields {
    /// The string field `key`.
    fn text(&mut self, key: &'static str) -> Result<Option<String>, String>;
    /// The `peers` list.
    fn peers(&mut self) -> Result<Option<Vec<PeerInfo>>, String>;
    /// The `candidate` object (`None` also for `null`, the end-of-candidates marker).
    fn candidate(&mut self) -> Result<Option<IceCandidate>, String>;
    /// The `iceServers` list.
    fn ice_servers(&mut self) -> Result<Option<Vec<IceServer>>, String>;
    /// The boolean field `key`.
    fn flag(&mut self, key: &'static str) -> Result<Option<bool>, String>;
    /// The whole, non-negative number `key` (at most 2^53, what JSON numbers hold exactly).
    fn number(&mut self, key: &'static str) -> Result<Option<u64>, String>;
}

/// The largest whole number a JSON reader keeps exactly.
pub const MAX_EXACT: u64 = (1 << 53) - 1;

fn need<T>(value: Option<T>, field: &str) -> Result<T, String> {
    value.ok_or_else(|| quoted("missing field", field))
}

/// "`what` `name`", the text of a decoding problem: one function for all of them keeps
/// the formatting machinery out of the browser's module.
fn quoted(what: &str, name: &str) -> String {
    let mut text = String::with_capacity(what.len() + name.len() + 3);
    text.push_str(what);
    text.push_str(" `");
    text.push_str(name);
    text.push('`');
    text
}

impl ServerMessage {
    /// The message of `type` `kind`, its fields taken from `fields`: the one place that
    /// says which fields each server message has.
    pub fn read(kind: &str, fields: &mut impl ServerFields) -> Result<Self, String> {
        match Self::read_relayed(kind, fields)? {
            Some(relayed) => Ok(Self::relayed(relayed)),
            None => Self::read_other(kind, fields),
        }
    }

    /// The relayed signal of `type` `kind`; `None` if `kind` is not a relayed signal's.
    pub fn read_relayed(
        kind: &str,
        fields: &mut impl ServerFields,
    ) -> Result<Option<Relayed>, String> {
        let mut text = |key| -> Result<String, String> { need(fields.text(key)?, key) };
        let signal = match kind {
            "ring" => Signal::Ring,
            "accept" => Signal::Accept,
            "restart-ice" => Signal::RestartIce,
            "decline" => Signal::Decline {
                reason: match text("reason")?.as_str() {
                    "declined" => DeclineReason::Declined,
                    "busy" => DeclineReason::Busy,
                    other => return Err(quoted("unknown decline reason", other)),
                },
            },
            "offer" => Signal::Offer { sdp: text("sdp")? },
            "answer" => Signal::Answer { sdp: text("sdp")? },
            "candidate" => Signal::Candidate {
                candidate: fields.candidate()?,
            },
            "hangup" => Signal::Hangup {
                reason: fields.text("reason")?,
            },
            _ => return Ok(None),
        };
        Ok(Some(Relayed {
            from: PeerId(need(fields.text("from")?, "from")?),
            name: need(fields.text("name")?, "name")?,
            call: fields.text("call")?.map(CallId),
            seq: fields.number("seq")?,
            signal,
        }))
    }

    /// The message of `type` `kind` that is not a relayed signal.
    pub fn read_other(kind: &str, fields: &mut impl ServerFields) -> Result<Self, String> {
        let mut text = |key| -> Result<String, String> { need(fields.text(key)?, key) };
        Ok(match kind {
            "welcome" => Self::Welcome {
                id: PeerId(text("id")?),
                name: text("name")?,
                resume: fields.text("resume")?,
                ice_servers: fields.ice_servers()?.unwrap_or_default(),
                received: fields.number("received")?,
                resumed: fields.flag("resumed")?.unwrap_or(false),
            },
            "room" => Self::Room {
                room: text("room")?,
                locked: need(fields.flag("locked")?, "locked")?,
                moderator: need(fields.flag("moderator")?, "moderator")?,
            },
            "resume-token" => Self::ResumeToken {
                resume: text("resume")?,
            },
            "ice-servers" => Self::IceServers {
                ice_servers: need(fields.ice_servers()?, "iceServers")?,
            },
            "pong" => Self::Pong {
                received: fields.number("received")?,
            },
            "peers" => Self::Peers {
                peers: need(fields.peers()?, "peers")?,
            },
            "peer-joined" => Self::PeerJoined {
                id: PeerId(text("id")?),
                name: text("name")?,
            },
            "peer-left" => Self::PeerLeft {
                id: PeerId(text("id")?),
            },
            "call-joined" | "participant-joined" | "participant-left" => {
                let call = CallId(text("call")?);
                let seq = fields.number("seq")?;
                if kind == "call-joined" {
                    let peers = need(fields.peers()?, "peers")?;
                    return Ok(Self::CallJoined { call, peers, seq });
                }
                let mut text = |key| -> Result<String, String> { need(fields.text(key)?, key) };
                let id = PeerId(text("id")?);
                if kind == "participant-joined" {
                    let name = text("name")?;
                    return Ok(Self::ParticipantJoined {
                        call,
                        id,
                        name,
                        seq,
                    });
                }
                let reason = match text("reason")?.as_str() {
                    "left" => LeaveReason::Left,
                    "gone" => LeaveReason::Gone,
                    other => return Err(quoted("unknown leave reason", other)),
                };
                Self::ParticipantLeft {
                    call,
                    id,
                    reason,
                    seq,
                }
            }
            "error" => {
                let code = text("code")?;
                Self::Error {
                    code: ErrorCode::from_wire(&code)
                        .ok_or_else(|| quoted("unknown error code", &code))?,
                    message: text("message")?,
                    to: fields.text("to")?.map(PeerId),
                    call: fields.text("call")?.map(CallId),
                }
            }
            other => return Err(quoted("unknown message type", other)),
        })
    }
}

/// Any server frame as serde reads it: a flat bag of optional fields, then
/// [`ServerMessage::read`].
#[derive(Deserialize)]
pub(crate) struct FlatServerMessage {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    name: Option<String>,
    peers: Option<Vec<PeerInfo>>,
    from: Option<String>,
    sdp: Option<String>,
    candidate: Option<IceCandidate>,
    reason: Option<String>,
    code: Option<String>,
    message: Option<String>,
    to: Option<String>,
    resume: Option<String>,
    room: Option<String>,
    locked: Option<bool>,
    moderator: Option<bool>,
    resumed: Option<bool>,
    call: Option<String>,
    seq: Option<u64>,
    received: Option<u64>,
    #[serde(rename = "iceServers")]
    ice_servers: Option<Vec<IceServer>>,
}

impl ServerFields for FlatServerMessage {
    fn text(&mut self, key: &'static str) -> Result<Option<String>, String> {
        Ok(match key {
            "id" => self.id.take(),
            "name" => self.name.take(),
            "from" => self.from.take(),
            "sdp" => self.sdp.take(),
            "reason" => self.reason.take(),
            "code" => self.code.take(),
            "message" => self.message.take(),
            "to" => self.to.take(),
            "resume" => self.resume.take(),
            "room" => self.room.take(),
            "call" => self.call.take(),
            _ => None,
        })
    }

    fn peers(&mut self) -> Result<Option<Vec<PeerInfo>>, String> {
        Ok(self.peers.take())
    }

    fn candidate(&mut self) -> Result<Option<IceCandidate>, String> {
        Ok(self.candidate.take())
    }

    fn ice_servers(&mut self) -> Result<Option<Vec<IceServer>>, String> {
        Ok(self.ice_servers.take())
    }

    fn flag(&mut self, key: &'static str) -> Result<Option<bool>, String> {
        Ok(match key {
            "locked" => self.locked.take(),
            "moderator" => self.moderator.take(),
            "resumed" => self.resumed.take(),
            _ => None,
        })
    }

    fn number(&mut self, key: &'static str) -> Result<Option<u64>, String> {
        let number = match key {
            "seq" => self.seq.take(),
            "received" => self.received.take(),
            _ => None,
        };
        match number {
            Some(n) if n > MAX_EXACT => Err(["`", key, "` is too large"].concat()),
            n => Ok(n),
        }
    }
}

impl TryFrom<FlatServerMessage> for ServerMessage {
    type Error = String;

    fn try_from(mut flat: FlatServerMessage) -> Result<Self, String> {
        let kind = std::mem::take(&mut flat.kind);
        Self::read(&kind, &mut flat)
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
    /// A whole number.
    Number(u64),
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
        let call = |call: &'a Option<CallId>| call.as_ref().map(|c| ("call", Text(&c.0)));
        let signal = |peer: &'a PeerId,
                      id: &'a Option<CallId>,
                      seq: &'a Option<u64>,
                      more: Option<(&'static str, Field<'a>)>| {
            let mut fields = Vec::with_capacity(4);
            fields.push(to(peer));
            if let Some(id) = id {
                fields.push(("call", Text(&id.0)));
            }
            if let Some(seq) = seq {
                fields.push(("seq", Field::Number(*seq)));
            }
            fields.extend(more);
            fields
        };
        let (kind, fields): (_, Vec<_>) = match self {
            Self::Login {
                name,
                resume,
                room,
                token,
                password,
                ack,
                sent,
                call: id,
                with,
            } => (
                "login",
                [
                    Some(("name", Text(name))),
                    optional("resume", resume),
                    optional("room", room),
                    optional("token", token),
                    optional("password", password),
                    ack.map(|seq| ("ack", Field::Number(seq))),
                    sent.map(|seq| ("sent", Field::Number(seq))),
                    call(id),
                    with.as_ref().map(|peer| ("with", Text(&peer.0))),
                ]
                .into_iter()
                .flatten()
                .collect(),
            ),
            Self::Ping => ("ping", vec![]),
            Self::LockRoom => ("lock-room", vec![]),
            Self::UnlockRoom => ("unlock-room", vec![]),
            Self::RemovePeer { id } => ("remove-peer", vec![("id", Text(&id.0))]),
            Self::Ack { seq } => ("ack", vec![("seq", Field::Number(*seq))]),
            Self::JoinCall { seq } => (
                "join-call",
                seq.map(|seq| ("seq", Field::Number(seq)))
                    .into_iter()
                    .collect(),
            ),
            Self::LeaveCall { seq } => (
                "leave-call",
                seq.map(|seq| ("seq", Field::Number(seq)))
                    .into_iter()
                    .collect(),
            ),
            Self::Ring {
                to: peer,
                call: id,
                seq,
            } => ("ring", signal(peer, id, seq, None)),
            Self::Accept {
                to: peer,
                call: id,
                seq,
            } => ("accept", signal(peer, id, seq, None)),
            Self::RestartIce {
                to: peer,
                call: id,
                seq,
            } => ("restart-ice", signal(peer, id, seq, None)),
            Self::Decline {
                to: peer,
                call: id,
                seq,
                reason,
            } => (
                "decline",
                signal(peer, id, seq, Some(("reason", Text(reason.as_str())))),
            ),
            Self::Offer {
                to: peer,
                call: id,
                seq,
                sdp,
            } => ("offer", signal(peer, id, seq, Some(("sdp", Text(sdp))))),
            Self::Answer {
                to: peer,
                call: id,
                seq,
                sdp,
            } => ("answer", signal(peer, id, seq, Some(("sdp", Text(sdp))))),
            Self::Candidate {
                to: peer,
                call: id,
                seq,
                candidate,
            } => (
                "candidate",
                signal(
                    peer,
                    id,
                    seq,
                    Some((
                        "candidate",
                        candidate.as_ref().map_or(Null, Field::Candidate),
                    )),
                ),
            ),
            Self::Hangup {
                to: peer,
                call: id,
                seq,
                reason,
            } => ("hangup", signal(peer, id, seq, optional("reason", reason))),
        };
        FlatClientMessage { kind, fields }
    }
}
