//! The peercall signaling wire contract, shared by the browser client and the server.
//!
//! Every frame is one JSON object tagged by `type` (see `docs/PROTOCOL.md`). Clients send
//! [`ClientMessage`]s, the server sends [`ServerMessage`]s. The call signals a client
//! addresses to another peer travel as [`Signal`]s: the client names the recipient (`to`),
//! the server replaces it with its own stamp of the sender (`from` and `name`).
//!
//! SDP and ICE candidates are opaque payloads here: nobody on the server looks inside.

#![forbid(unsafe_code)]

mod files;
mod flat;
pub use files::{
    ControlError, ControlField, ControlFields, FileControl, MAX_FILE_NAME_CHARS, Party,
};
pub use flat::{Field, FlatClientMessage, MAX_EXACT, ServerFields};
mod name;
mod room;

pub use name::{MAX_NAME_CHARS, NameError, name_key, validate_name};
pub use room::{MAX_ROOM_CHARS, RoomError, validate_room};
use serde::{Deserialize, Serialize};

/// Frames larger than this many bytes are refused; the server closes with code 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// The longest `reason` a `hangup` may carry, in bytes.
pub const MAX_REASON_BYTES: usize = 64;

/// The longest call id, in characters.
pub const MAX_CALL_ID_CHARS: usize = 64;

/// A call's id: chosen by the caller (or stamped by the server on a `ring` without one),
/// repeated by every signal of the call. 1 to 64 ASCII letters, digits, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallId(pub String);

impl CallId {
    /// Whether it keeps the rules for call ids.
    pub fn is_valid(&self) -> bool {
        (1..=MAX_CALL_ID_CHARS).contains(&self.0.len())
            && self
                .0
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }
}

impl std::fmt::Display for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An opaque, URL-safe peer id assigned by the server at login.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeerId(pub String);

impl std::fmt::Display for PeerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for PeerId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

/// Someone who is logged in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// Their id, for addressing signals.
    pub id: PeerId,
    /// Their display name, for people.
    pub name: String,
}

/// A STUN or TURN server, as `RTCConfiguration.iceServers` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:`, `turn:` or `turns:` URLs of one server.
    pub urls: Vec<String>,
    /// For TURN: the user name, `<expiry in unix seconds>:<peer id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// For TURN: the password that goes with `username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// One trickled ICE candidate, as `RTCIceCandidate.toJSON()` gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    /// The `candidate:` attribute line.
    #[serde(default)]
    pub candidate: String,
    /// The media stream identification tag the candidate belongs to.
    #[serde(default)]
    pub sdp_mid: Option<String>,
    /// The index of the m-line the candidate belongs to.
    #[serde(default)]
    pub sdp_m_line_index: Option<u16>,
    /// The ICE username fragment of the generation this candidate belongs to.
    #[serde(default)]
    pub username_fragment: Option<String>,
}

/// Why a callee refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeclineReason {
    /// The person said no.
    Declined,
    /// The callee is already in a call.
    Busy,
}

impl DeclineReason {
    /// The reason as it stands on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Declined => "declined",
            Self::Busy => "busy",
        }
    }
}

/// Why someone is no longer in a room's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeaveReason {
    /// They left the call.
    Left,
    /// They left the room (closed the page, lost their connection for good, or were
    /// removed).
    Gone,
}

impl LeaveReason {
    /// The reason as it stands on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Left => "left",
            Self::Gone => "gone",
        }
    }
}

/// What an `error` frame is about; a program switches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// Not JSON, no `type`, an unknown `type`, or a missing or ill-typed field.
    BadRequest,
    /// The login name breaks the name rules.
    InvalidName,
    /// Someone in the room already uses that name, or one that looks the same.
    NameTaken,
    /// Only `login` is accepted before `welcome`.
    NotLoggedIn,
    /// No logged-in peer in the room has the `to` id.
    PeerUnavailable,
    /// The sender sends faster than the server allows.
    RateLimited,
    /// The room name breaks the room rules, or the server has no default room.
    BadRoom,
    /// The room holds as many people as it may.
    RoomFull,
    /// The room is locked: nobody new may join.
    RoomLocked,
    /// The room has a password, and the login did not carry it.
    RoomPassword,
    /// The server needs a token, and the login's is missing, forged, expired, not yet
    /// valid, or for another room or name.
    Unauthorized,
    /// The page that opened the socket is on a site the server does not serve.
    OriginRefused,
    /// A moderator removed you from the room.
    Removed,
    /// The same user resumed on another connection; this one is over.
    SessionReplaced,
    /// Only a moderator of the room may do that.
    NotModerator,
    /// Too many sockets are open from the sender's address.
    TooManyConnections,
    /// The signal belongs to no call the server knows between the sender and its `to`:
    /// `offer`, `answer`, `candidate` and `restart-ice` need an accepted call, `accept` a
    /// ringing one.
    NotInCall,
    /// The room's call holds as many people as it may.
    CallFull,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [Self; 18] = [
        Self::BadRequest,
        Self::InvalidName,
        Self::NameTaken,
        Self::NotLoggedIn,
        Self::PeerUnavailable,
        Self::RateLimited,
        Self::BadRoom,
        Self::RoomFull,
        Self::RoomLocked,
        Self::RoomPassword,
        Self::Unauthorized,
        Self::OriginRefused,
        Self::Removed,
        Self::SessionReplaced,
        Self::NotModerator,
        Self::TooManyConnections,
        Self::NotInCall,
        Self::CallFull,
    ];

    /// The code as it stands on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad-request",
            Self::InvalidName => "invalid-name",
            Self::NameTaken => "name-taken",
            Self::NotLoggedIn => "not-logged-in",
            Self::PeerUnavailable => "peer-unavailable",
            Self::RateLimited => "rate-limited",
            Self::BadRoom => "bad-room",
            Self::RoomFull => "room-full",
            Self::RoomLocked => "room-locked",
            Self::RoomPassword => "room-password",
            Self::Unauthorized => "unauthorized",
            Self::OriginRefused => "origin-refused",
            Self::Removed => "removed",
            Self::SessionReplaced => "session-replaced",
            Self::NotModerator => "not-moderator",
            Self::TooManyConnections => "too-many-connections",
            Self::NotInCall => "not-in-call",
            Self::CallFull => "call-full",
        }
    }

    /// The code spelled `wire` on the wire, if there is one.
    pub fn from_wire(wire: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == wire)
    }

    /// For a final refusal, the WebSocket close code the server ends the socket with
    /// (its reason is [`ErrorCode::as_str`]). A client must not log in again on its own
    /// after one of these: the same login would be refused again.
    pub fn close_code(self) -> Option<u16> {
        Some(match self {
            Self::BadRoom => 4400,
            Self::Unauthorized => 4401,
            Self::RoomPassword => 4402,
            Self::OriginRefused => 4403,
            Self::SessionReplaced => 4409,
            Self::Removed => 4410,
            Self::RoomLocked => 4423,
            Self::RoomFull => 4424,
            Self::TooManyConnections => 4430,
            _ => return None,
        })
    }

    /// The final refusal a socket closed with `code` ended on.
    pub fn from_close_code(code: u16) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|error| error.close_code() == Some(code))
    }
}

/// A call signal one peer addresses to another; relayed untouched by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Ask for a call. Carries no SDP, so no network address leaves before an accept.
    Ring,
    /// The callee takes the call; the caller then sends the first offer.
    Accept,
    /// The callee refuses the call.
    Decline {
        /// Why.
        reason: DeclineReason,
    },
    /// An SDP offer (the first one after `accept`, or a renegotiation).
    Offer {
        /// The session description.
        sdp: String,
    },
    /// An SDP answer.
    Answer {
        /// The session description.
        sdp: String,
    },
    /// One trickled ICE candidate; `None` means the end of candidates.
    Candidate {
        /// The candidate.
        candidate: Option<IceCandidate>,
    },
    /// The sender ends (or, before an answer, cancels) its call.
    Hangup {
        /// Why, e.g. `no-answer`.
        reason: Option<String>,
    },
    /// The callee asks the caller to restart ICE: only the caller, the side that made the
    /// first offer and so holds the ICE controlling role, offers ICE restarts. Chromium
    /// takes the controlling role whenever it offers a restart, Firefox keeps the role it
    /// has, and a call whose two ends both control (or both wait) never reconnects.
    RestartIce,
}

/// A frame from a client to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ClientMessage {
    /// Join a room with a display name.
    Login {
        /// The display name.
        name: String,
        /// The `resume` token of an earlier `welcome`: asks for the same id back after a
        /// dropped connection (see docs/PROTOCOL.md, "Resuming").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
        /// The room to join; absent: the default room.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        /// An access token (a JWT from the embedding site), on a server that needs one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// The room's password: the first person in sets it, everyone after must match it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
        /// On a resume: the highest `seq` handled so far. The server drops what it kept up
        /// to it and replays the rest, and a new session numbers on from it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ack: Option<u64>,
        /// The highest `seq` among the signals this client has sent. A session the server
        /// starts afresh (after a restart) takes everything up to it as dealt with, so
        /// that nothing meant for an earlier session is sent again into this one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sent: Option<u64>,
        /// On a resume: the call under way, so that a server that lost it (a restart)
        /// knows it again once both its members say so.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        /// The other member of `call`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        with: Option<PeerId>,
    },
    /// A moderator locks the room: nobody new may join until it is unlocked.
    LockRoom,
    /// A moderator unlocks the room.
    UnlockRoom,
    /// A moderator removes someone from the room.
    RemovePeer {
        /// Who.
        id: PeerId,
    },
    /// Asks the server for a `pong`: lets a client notice a server that went silent.
    Ping,
    /// Join the room's call, starting it if nobody is in it (see docs/PROTOCOL.md,
    /// "Room calls"). The server answers `call-joined`.
    JoinCall {
        /// Its number among the messages this session sent, as a signal's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// Leave the room's call.
    LeaveCall {
        /// Its number among the messages this session sent, as a signal's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// The highest `seq` of a relayed signal handled so far: the server forgets it and
    /// everything before it.
    Ack {
        /// That `seq`.
        seq: u64,
    },
    /// See [`Signal::Ring`].
    Ring {
        /// The callee.
        to: PeerId,
        /// The call this signal belongs to (see docs/PROTOCOL.md, "Calls").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        /// Its number among the signals this session sent, so that a resume sends again
        /// only what the server did not get (see docs/PROTOCOL.md, "Delivery").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// See [`Signal::Accept`].
    Accept {
        /// The caller.
        to: PeerId,
        /// The call this signal belongs to (see docs/PROTOCOL.md, "Calls").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        /// Its number among the signals this session sent, so that a resume sends again
        /// only what the server did not get (see docs/PROTOCOL.md, "Delivery").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// See [`Signal::Decline`].
    Decline {
        /// The caller.
        to: PeerId,
        /// The call this signal belongs to (see docs/PROTOCOL.md, "Calls").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        /// Its number among the signals this session sent, so that a resume sends again
        /// only what the server did not get (see docs/PROTOCOL.md, "Delivery").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// Why.
        reason: DeclineReason,
    },
    /// See [`Signal::Offer`].
    Offer {
        /// The other peer.
        to: PeerId,
        /// The call this signal belongs to (see docs/PROTOCOL.md, "Calls").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        /// Its number among the signals this session sent, so that a resume sends again
        /// only what the server did not get (see docs/PROTOCOL.md, "Delivery").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// The session description.
        sdp: String,
    },
    /// See [`Signal::Answer`].
    Answer {
        /// The other peer.
        to: PeerId,
        /// The call this signal belongs to (see docs/PROTOCOL.md, "Calls").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        /// Its number among the signals this session sent, so that a resume sends again
        /// only what the server did not get (see docs/PROTOCOL.md, "Delivery").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// The session description.
        sdp: String,
    },
    /// See [`Signal::Candidate`].
    Candidate {
        /// The other peer.
        to: PeerId,
        /// The call this signal belongs to (see docs/PROTOCOL.md, "Calls").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        /// Its number among the signals this session sent, so that a resume sends again
        /// only what the server did not get (see docs/PROTOCOL.md, "Delivery").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// The candidate, or `null` for the end of candidates.
        candidate: Option<IceCandidate>,
    },
    /// See [`Signal::Hangup`].
    Hangup {
        /// The other peer.
        to: PeerId,
        /// The call this signal belongs to (see docs/PROTOCOL.md, "Calls").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        /// Its number among the signals this session sent, so that a resume sends again
        /// only what the server did not get (see docs/PROTOCOL.md, "Delivery").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// See [`Signal::RestartIce`].
    RestartIce {
        /// The caller.
        to: PeerId,
        /// The call this signal belongs to (see docs/PROTOCOL.md, "Calls").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        /// Its number among the signals this session sent, so that a resume sends again
        /// only what the server did not get (see docs/PROTOCOL.md, "Delivery").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
}

impl ClientMessage {
    /// The frame that sends `signal` of call `call` to `to`.
    pub fn signal(to: PeerId, call: Option<CallId>, signal: Signal) -> Self {
        let seq = None;
        match signal {
            Signal::Ring => Self::Ring { to, call, seq },
            Signal::Accept => Self::Accept { to, call, seq },
            Signal::Decline { reason } => Self::Decline {
                to,
                call,
                seq,
                reason,
            },
            Signal::Offer { sdp } => Self::Offer { to, call, seq, sdp },
            Signal::Answer { sdp } => Self::Answer { to, call, seq, sdp },
            Signal::Candidate { candidate } => Self::Candidate {
                to,
                call,
                seq,
                candidate,
            },
            Signal::Hangup { reason } => Self::Hangup {
                to,
                call,
                seq,
                reason,
            },
            Signal::RestartIce => Self::RestartIce { to, call, seq },
        }
    }

    /// The `seq` of a signal frame: `None` for the messages to the server itself.
    pub fn seq_mut(&mut self) -> Option<&mut Option<u64>> {
        match self {
            Self::Login { .. }
            | Self::Ping
            | Self::Ack { .. }
            | Self::LockRoom
            | Self::UnlockRoom
            | Self::RemovePeer { .. } => None,
            Self::Ring { seq, .. }
            | Self::Accept { seq, .. }
            | Self::Decline { seq, .. }
            | Self::Offer { seq, .. }
            | Self::Answer { seq, .. }
            | Self::Candidate { seq, .. }
            | Self::Hangup { seq, .. }
            | Self::RestartIce { seq, .. }
            | Self::JoinCall { seq }
            | Self::LeaveCall { seq } => Some(seq),
        }
    }

    /// The recipient of a relayed frame; `None` for the messages to the server itself.
    pub fn recipient(&self) -> Option<&PeerId> {
        match self {
            Self::Ring { to, .. }
            | Self::Accept { to, .. }
            | Self::Decline { to, .. }
            | Self::Offer { to, .. }
            | Self::Answer { to, .. }
            | Self::Candidate { to, .. }
            | Self::Hangup { to, .. }
            | Self::RestartIce { to, .. } => Some(to),
            _ => None,
        }
    }

    /// The call a relayed frame names; `None` for the messages to the server itself and
    /// for a ring that leaves its id to the server.
    pub fn call(&self) -> Option<&CallId> {
        match self {
            Self::Ring { call, .. }
            | Self::Accept { call, .. }
            | Self::Decline { call, .. }
            | Self::Offer { call, .. }
            | Self::Answer { call, .. }
            | Self::Candidate { call, .. }
            | Self::Hangup { call, .. }
            | Self::RestartIce { call, .. } => call.as_ref(),
            _ => None,
        }
    }

    /// The recipient, the call, the number and the signal of a relayed frame; `Err(self)`
    /// for the messages to the server itself.
    #[allow(clippy::result_large_err)]
    pub fn into_signal(self) -> Result<Outgoing, Self> {
        let outgoing = |to, call, seq, signal| Outgoing {
            to,
            call,
            seq,
            signal,
        };
        Ok(match self {
            Self::Login { .. }
            | Self::Ping
            | Self::Ack { .. }
            | Self::LockRoom
            | Self::UnlockRoom
            | Self::RemovePeer { .. }
            | Self::JoinCall { .. }
            | Self::LeaveCall { .. } => return Err(self),
            Self::Ring { to, call, seq } => outgoing(to, call, seq, Signal::Ring),
            Self::Accept { to, call, seq } => outgoing(to, call, seq, Signal::Accept),
            Self::Decline {
                to,
                call,
                seq,
                reason,
            } => outgoing(to, call, seq, Signal::Decline { reason }),
            Self::Offer { to, call, seq, sdp } => outgoing(to, call, seq, Signal::Offer { sdp }),
            Self::Answer { to, call, seq, sdp } => outgoing(to, call, seq, Signal::Answer { sdp }),
            Self::Candidate {
                to,
                call,
                seq,
                candidate,
            } => outgoing(to, call, seq, Signal::Candidate { candidate }),
            Self::Hangup {
                to,
                call,
                seq,
                reason,
            } => outgoing(to, call, seq, Signal::Hangup { reason }),
            Self::RestartIce { to, call, seq } => outgoing(to, call, seq, Signal::RestartIce),
        })
    }
}

/// A signal as its sender addresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The recipient.
    pub to: PeerId,
    /// The call it belongs to.
    pub call: Option<CallId>,
    /// Its number among the sender's signals.
    pub seq: Option<u64>,
    /// The signal.
    pub signal: Signal,
}

/// A relayed signal as its recipient gets it: stamped by the server with its sender, its
/// call and its number in the recipient's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relayed {
    /// The sender.
    pub from: PeerId,
    /// The sender's name.
    pub name: String,
    /// The call it belongs to.
    pub call: Option<CallId>,
    /// Its number in the recipient's session.
    pub seq: Option<u64>,
    /// The signal.
    pub signal: Signal,
}

/// A frame from the server to a client.
///
/// Read through a flat bag of optional fields and [`ServerMessage::read`]: the same wire format,
/// but serde's buffering of internally tagged enums would cost the browser client tens of
/// kilobytes of code, and the client reads the same fields without serde.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "kebab-case",
    try_from = "flat::FlatServerMessage"
)]
pub enum ServerMessage {
    /// Login accepted.
    Welcome {
        /// Your id.
        id: PeerId,
        /// Your name, trimmed.
        name: String,
        /// Log in with this after a dropped connection to get the same id back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
        /// The STUN and TURN servers to use, TURN with credentials minted for this login.
        #[serde(rename = "iceServers", default, skip_serializing_if = "Vec::is_empty")]
        ice_servers: Vec<IceServer>,
        /// On a resume of a session the server still held: the highest `seq` of the
        /// client's signals it has taken; the client sends the later ones again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        received: Option<u64>,
        /// The login took the place of a session the server still held (or recorded):
        /// nobody saw the user leave, and its calls, ringing ones too, go on. Absent for
        /// a session started afresh: a call that was still ringing is gone with the old.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        resumed: bool,
    },
    /// The room you are in, and your part in it: sent after `welcome` in a named room, and
    /// again whenever it changes.
    Room {
        /// The room's name.
        room: String,
        /// Whether the room is locked.
        locked: bool,
        /// Whether you may lock the room and remove people.
        moderator: bool,
    },
    /// A fresh resume token, sent while connected, before the last one expires.
    ResumeToken {
        /// Log in with this after a dropped connection, as with `welcome`'s.
        resume: String,
    },
    /// Fresh TURN credentials, sent before the ones given earlier expire.
    IceServers {
        /// The STUN and TURN servers, as in `welcome`.
        #[serde(rename = "iceServers")]
        ice_servers: Vec<IceServer>,
    },
    /// The answer to a `ping`.
    Pong {
        /// The highest `seq` of the client's own signals the server has taken.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        received: Option<u64>,
    },
    /// Everyone else logged in; sent right after `welcome`.
    Peers {
        /// Them.
        peers: Vec<PeerInfo>,
    },
    /// Someone logged in.
    PeerJoined {
        /// Their id.
        id: PeerId,
        /// Their name.
        name: String,
    },
    /// Someone's socket closed; any call with them is over.
    PeerLeft {
        /// Their id.
        id: PeerId,
    },
    /// A relayed [`Signal::Ring`].
    Ring {
        /// The sender, stamped by the server.
        from: PeerId,
        /// The sender's name.
        name: String,
        /// The call it belongs to, stamped by the server.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        /// Its number in the recipient's session, for `ack` and replay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// A relayed [`Signal::Accept`].
    Accept {
        /// The sender, stamped by the server.
        from: PeerId,
        /// The sender's name.
        name: String,
        /// The call it belongs to, stamped by the server.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        /// Its number in the recipient's session, for `ack` and replay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// A relayed [`Signal::Decline`].
    Decline {
        /// The sender, stamped by the server.
        from: PeerId,
        /// The sender's name.
        name: String,
        /// The call it belongs to, stamped by the server.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        /// Its number in the recipient's session, for `ack` and replay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// Why.
        reason: DeclineReason,
    },
    /// A relayed [`Signal::Offer`].
    Offer {
        /// The sender, stamped by the server.
        from: PeerId,
        /// The sender's name.
        name: String,
        /// The call it belongs to, stamped by the server.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        /// Its number in the recipient's session, for `ack` and replay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// The session description.
        sdp: String,
    },
    /// A relayed [`Signal::Answer`].
    Answer {
        /// The sender, stamped by the server.
        from: PeerId,
        /// The sender's name.
        name: String,
        /// The call it belongs to, stamped by the server.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        /// Its number in the recipient's session, for `ack` and replay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// The session description.
        sdp: String,
    },
    /// A relayed [`Signal::Candidate`].
    Candidate {
        /// The sender, stamped by the server.
        from: PeerId,
        /// The sender's name.
        name: String,
        /// The call it belongs to, stamped by the server.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        /// Its number in the recipient's session, for `ack` and replay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// The candidate, or `null` for the end of candidates.
        candidate: Option<IceCandidate>,
    },
    /// A relayed [`Signal::Hangup`].
    Hangup {
        /// The sender, stamped by the server.
        from: PeerId,
        /// The sender's name.
        name: String,
        /// The call it belongs to, stamped by the server.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        /// Its number in the recipient's session, for `ack` and replay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A relayed [`Signal::RestartIce`].
    RestartIce {
        /// The sender, stamped by the server.
        from: PeerId,
        /// The sender's name.
        name: String,
        /// The call it belongs to, stamped by the server.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
        /// Its number in the recipient's session, for `ack` and replay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// You are in the room's call `call` (the answer to `join-call`, or to the `accept`
    /// of an invitation); `peers` were in it before you, and each of them offers to you.
    CallJoined {
        /// The call.
        call: CallId,
        /// Who was in it already, earliest first.
        peers: Vec<PeerInfo>,
        /// Its number in the recipient's session, for `ack` and replay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// Someone joined the room's call you are in: you offer to them.
    ParticipantJoined {
        /// The call.
        call: CallId,
        /// Their id.
        id: PeerId,
        /// Their name.
        name: String,
        /// Its number in the recipient's session, for `ack` and replay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// Someone is no longer in the room's call you are in.
    ParticipantLeft {
        /// The call.
        call: CallId,
        /// Their id.
        id: PeerId,
        /// Why.
        reason: LeaveReason,
        /// Its number in the recipient's session, for `ack` and replay.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
    /// Something was refused.
    Error {
        /// What kind of refusal.
        code: ErrorCode,
        /// A sentence a person can read.
        message: String,
        /// The recipient of the refused relayed message, when there was one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<PeerId>,
        /// The call the refused relayed message named, when it named one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<CallId>,
    },
}

impl ServerMessage {
    /// The frame that delivers `relayed`.
    pub fn relayed(relayed: Relayed) -> Self {
        let Relayed {
            from,
            name,
            call,
            seq,
            signal,
        } = relayed;
        match signal {
            Signal::Ring => Self::Ring {
                from,
                name,
                call,
                seq,
            },
            Signal::Accept => Self::Accept {
                from,
                name,
                call,
                seq,
            },
            Signal::Decline { reason } => Self::Decline {
                from,
                name,
                call,
                seq,
                reason,
            },
            Signal::Offer { sdp } => Self::Offer {
                from,
                name,
                call,
                seq,
                sdp,
            },
            Signal::Answer { sdp } => Self::Answer {
                from,
                name,
                call,
                seq,
                sdp,
            },
            Signal::Candidate { candidate } => Self::Candidate {
                from,
                name,
                call,
                seq,
                candidate,
            },
            Signal::Hangup { reason } => Self::Hangup {
                from,
                name,
                call,
                seq,
                reason,
            },
            Signal::RestartIce => Self::RestartIce {
                from,
                name,
                call,
                seq,
            },
        }
    }

    /// A relayed frame's sender, call, number and signal; `Err(self)` for the rest.
    // Handing the message back unchanged is the point; it is moved, not copied.
    #[allow(clippy::result_large_err)]
    pub fn into_relayed(self) -> Result<Relayed, Self> {
        let relayed = |from, name, call, seq, signal| Relayed {
            from,
            name,
            call,
            seq,
            signal,
        };
        Ok(match self {
            Self::Ring {
                from,
                name,
                call,
                seq,
            } => relayed(from, name, call, seq, Signal::Ring),
            Self::Accept {
                from,
                name,
                call,
                seq,
            } => relayed(from, name, call, seq, Signal::Accept),
            Self::Decline {
                from,
                name,
                call,
                seq,
                reason,
            } => relayed(from, name, call, seq, Signal::Decline { reason }),
            Self::Offer {
                from,
                name,
                call,
                seq,
                sdp,
            } => relayed(from, name, call, seq, Signal::Offer { sdp }),
            Self::Answer {
                from,
                name,
                call,
                seq,
                sdp,
            } => relayed(from, name, call, seq, Signal::Answer { sdp }),
            Self::Candidate {
                from,
                name,
                call,
                seq,
                candidate,
            } => relayed(from, name, call, seq, Signal::Candidate { candidate }),
            Self::Hangup {
                from,
                name,
                call,
                seq,
                reason,
            } => relayed(from, name, call, seq, Signal::Hangup { reason }),
            Self::RestartIce {
                from,
                name,
                call,
                seq,
            } => relayed(from, name, call, seq, Signal::RestartIce),
            other => return Err(other),
        })
    }

    /// The `seq` of a numbered message (relayed signals and room-call news), which the
    /// recipient acknowledges; `None` for the rest.
    pub fn seq_mut(&mut self) -> Option<&mut Option<u64>> {
        match self {
            Self::Ring { seq, .. }
            | Self::Accept { seq, .. }
            | Self::Decline { seq, .. }
            | Self::Offer { seq, .. }
            | Self::Answer { seq, .. }
            | Self::Candidate { seq, .. }
            | Self::Hangup { seq, .. }
            | Self::RestartIce { seq, .. }
            | Self::CallJoined { seq, .. }
            | Self::ParticipantJoined { seq, .. }
            | Self::ParticipantLeft { seq, .. } => Some(seq),
            _ => None,
        }
    }

    /// An `error` frame: the refusal of a relayed message names its recipient `to` and
    /// the `call` it named.
    pub fn error(
        code: ErrorCode,
        message: impl Into<String>,
        to: Option<PeerId>,
        call: Option<CallId>,
    ) -> Self {
        Self::Error {
            code,
            message: message.into(),
            to,
            call,
        }
    }
}
