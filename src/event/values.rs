//! The string values of the API, each an enum with its one spelling.

use std::fmt;

use crate::words::decimal;

/// Where the client is, as `state` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not logged in (or the link to the server is down).
    Offline,
    /// Logged in, no call.
    Idle,
    /// Our call rings at the other side.
    Calling,
    /// Someone calls us.
    Ringing,
    /// Accepted; the connection is being made.
    Connecting,
    /// Media flows.
    Connected,
    /// The connection dropped and is being brought back.
    Reconnecting,
}

impl State {
    /// Every state.
    pub const ALL: [Self; 7] = [
        Self::Offline,
        Self::Idle,
        Self::Calling,
        Self::Ringing,
        Self::Connecting,
        Self::Connected,
        Self::Reconnecting,
    ];

    /// The state as pages see it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offline => "offline",
            Self::Idle => "idle",
            Self::Calling => "calling",
            Self::Ringing => "ringing",
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Reconnecting => "reconnecting",
        }
    }
}

/// Why a call ended, as the `ended` event says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// We hung up (or cancelled, or declined).
    Hangup,
    /// The other side hung up.
    RemoteHangup,
    /// The other side went offline.
    PeerLeft,
    /// The connection could not be made or kept.
    Failed,
    /// The callee said no.
    Declined,
    /// The callee is in another call.
    Busy,
    /// Nobody answered in time.
    NoAnswer,
}

impl EndReason {
    /// Every reason.
    pub const ALL: [Self; 7] = [
        Self::Hangup,
        Self::RemoteHangup,
        Self::PeerLeft,
        Self::Failed,
        Self::Declined,
        Self::Busy,
        Self::NoAnswer,
    ];

    /// The reason as pages (and `hangup`'s `reason` on the wire) say it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hangup => "hangup",
            Self::RemoteHangup => "remote-hangup",
            Self::PeerLeft => "peer-left",
            Self::Failed => "failed",
            Self::Declined => "declined",
            Self::Busy => "busy",
            Self::NoAnswer => "no-answer",
        }
    }
}

/// Which way a file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// We send it.
    Send,
    /// We receive it.
    Receive,
}

impl Direction {
    /// Both directions.
    pub const ALL: [Self; 2] = [Self::Send, Self::Receive];

    /// The direction as pages see it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Receive => "receive",
        }
    }
}

/// Who stopped a transfer, as `file-cancelled` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelledBy {
    /// This page.
    Me,
    /// The other side, once the transfer had started (or before we accepted).
    Peer,
    /// The receiver said no to the offer.
    Declined,
    /// The call ended first.
    Ended,
}

impl CancelledBy {
    /// Every one.
    pub const ALL: [Self; 4] = [Self::Me, Self::Peer, Self::Declined, Self::Ended];

    /// As pages see it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Me => "me",
            Self::Peer => "peer",
            Self::Declined => "declined",
            Self::Ended => "ended",
        }
    }
}

/// A transfer as pages name it: `out-3` a file we send, `in-4` one we receive, numbered
/// in the order they were sent or offered, over every call and connection of the session
/// (the numbers on the wire are each sender's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferId {
    /// A file we send.
    Out(u32),
    /// A file we receive.
    In(u32),
}

impl TransferId {
    /// Which way the file goes.
    pub fn direction(self) -> Direction {
        match self {
            Self::Out(_) => Direction::Send,
            Self::In(_) => Direction::Receive,
        }
    }

    /// The id a page gave back, if it is one.
    pub fn parse(id: &str) -> Option<Self> {
        let (side, number): (fn(u32) -> Self, _) = if let Some(number) = id.strip_prefix("out-") {
            (Self::Out, number)
        } else {
            (Self::In, id.strip_prefix("in-")?)
        };
        // Digits only: `u32::from_str` would also take a leading `+`.
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        number.parse().ok().map(side)
    }

    /// The id as pages see it: `out-3`, `in-1`.
    pub fn text(self) -> String {
        let (side, n) = match self {
            Self::Out(n) => ("out-", n),
            Self::In(n) => ("in-", n),
        };
        [side, &decimal(n.into())].concat()
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// Why someone is no longer in the room call, as `participant-left` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftReason {
    /// They left the call.
    Left,
    /// They left the room, or lost their link to the server for good.
    Gone,
    /// The connection with them could not be made or kept.
    Failed,
}

impl LeftReason {
    /// Every reason.
    pub const ALL: [Self; 3] = [Self::Left, Self::Gone, Self::Failed];

    /// The reason as pages see it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Left => "left",
            Self::Gone => "gone",
            Self::Failed => "failed",
        }
    }
}

impl From<protocol::LeaveReason> for LeftReason {
    fn from(reason: protocol::LeaveReason) -> Self {
        match reason {
            protocol::LeaveReason::Left => Self::Left,
            protocol::LeaveReason::Gone => Self::Gone,
        }
    }
}

/// What a remote stream carries, as `remote-stream` and `participant-stream` say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// Their camera and microphone.
    Camera,
    /// Their shared screen.
    Screen,
}

impl StreamKind {
    /// Every kind.
    pub const ALL: [Self; 2] = [Self::Camera, Self::Screen];

    /// The kind as pages see it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Camera => "camera",
            Self::Screen => "screen",
        }
    }
}
