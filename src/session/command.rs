//! What a page asks of the session.

use js_sys::Function;
use protocol::PeerId;
use wasm_bindgen::JsValue;

use crate::{
    error::{Error, ErrorCode},
    event::TransferId,
};

/// Where the session answers a command: the `resolve` and `reject` of the promise the
/// page holds. Every answer settles a promise, so it is in JavaScript's terms already: one
/// reply type for all commands, and no future per promise, keeps the module small. A reply
/// dropped unanswered (the session is gone) rejects: the `PeerCall` is closed.
pub struct Reply {
    settle: Option<(Function, Function)>,
}

impl Reply {
    /// The reply that settles a promise with `resolve` or `reject`.
    pub fn new(resolve: Function, reject: Function) -> Self {
        Self {
            settle: Some((resolve, reject)),
        }
    }

    fn settle(&mut self, result: Result<JsValue, JsValue>) {
        if let Some((resolve, reject)) = self.settle.take() {
            let (with, value) = match result {
                Ok(value) => (resolve, value),
                Err(error) => (reject, error),
            };
            let _ = with.call1(&JsValue::NULL, &value);
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        let closed = Error::new(ErrorCode::NotConnected, "this PeerCall is closed");
        self.settle(Err(closed.into()));
    }
}

/// Answers a command.
pub fn answer(mut reply: Reply, result: Result<impl Into<JsValue>, Error>) {
    reply.settle(result.map(Into::into).map_err(Into::into));
}

/// What a page asks of the session.
pub enum Command {
    /// Log in; answered with our id.
    Connect(Reply),
    /// Call a peer; answered (with `undefined`) once the call is placed.
    Call(PeerId, Reply),
    /// Join the room call (starting it); answered with who is in it already.
    JoinCall(Reply),
    /// Leave the room call.
    LeaveCall,
    /// Ring this peer into the call we are in.
    Invite(PeerId),
    /// Take the incoming call.
    Accept,
    /// Refuse the incoming call.
    Decline,
    /// End the current call.
    Hangup,
    /// Mute or unmute the microphone.
    SetMic(bool),
    /// Turn the camera off or on.
    SetCamera(bool),
    /// The `getStats()` promise of the current call (of the connection with this
    /// participant, in the room call), or `null` outside a call.
    Stats(Option<PeerId>, Reply),
    /// Restart ICE on the current call.
    RestartIce,
    /// Send another track on the current call (renegotiates).
    AddTrack(web_sys::MediaStreamTrack, web_sys::MediaStream),
    /// Open a data channel on the current call (renegotiates the first time).
    CreateDataChannel(String, Reply),
    /// Send a chat message; answered with its timestamp.
    SendText(String, Reply),
    /// Offer a file (to this participant, in the room call); answered with the
    /// transfer's id.
    SendFile(web_sys::File, Option<PeerId>, Reply),
    /// Tell the figures of every connection once a second (or stop).
    WatchStats(bool),
    /// List the devices; answered with `[{id, kind, label}]`.
    Devices(Reply),
    /// Use this camera or microphone (now, or from the next call on).
    UseDevice(
        crate::media::choice::DeviceKind,
        super::devices::Pick,
        Reply,
    ),
    /// Play the call through this speaker.
    UseSpeaker(String, Reply),
    /// Share a screen in the current call; answered with its stream.
    ShareScreen(Reply),
    /// Stop sharing the screen.
    StopShare,
    /// Accept, decline or cancel the transfer with this id.
    File(FileCommand, TransferId),
    /// Use this access token from the next login on.
    SetToken(String),
    /// A moderator's command for the room: lock, unlock, remove someone.
    Moderate(protocol::ClientMessage),
    /// Leave for good.
    Close,
}

/// What a page asks of one file transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileCommand {
    /// Take the incoming file.
    Accept,
    /// Refuse the incoming file.
    Decline,
    /// Stop the transfer, either way, queued or under way.
    Cancel,
}

impl Command {
    /// Turns the command down: a command that waits for an answer gets `error`; the
    /// others have nobody to tell.
    pub fn refuse(self, error: Error) {
        match self {
            Self::Connect(reply)
            | Self::Call(_, reply)
            | Self::JoinCall(reply)
            | Self::Stats(_, reply)
            | Self::CreateDataChannel(_, reply)
            | Self::SendText(_, reply)
            | Self::SendFile(_, _, reply)
            | Self::ShareScreen(reply)
            | Self::Devices(reply)
            | Self::UseDevice(_, _, reply)
            | Self::UseSpeaker(_, reply) => answer(reply, Err::<JsValue, _>(error)),
            _ => {}
        }
    }

    /// Whether it needs the camera and microphone the call is waiting for.
    pub fn needs_devices(&self) -> bool {
        matches!(self, Self::ShareScreen(_) | Self::UseDevice(..))
    }

    /// Whether the command acts on the current call.
    pub fn needs_call(&self) -> bool {
        matches!(
            self,
            Self::Stats(..)
                | Self::RestartIce
                | Self::AddTrack(..)
                | Self::CreateDataChannel(..)
                | Self::SendText(..)
                | Self::SendFile(..)
                | Self::ShareScreen(_)
                | Self::UseDevice(..)
        )
    }
}
