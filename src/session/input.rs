//! Everything the session reacts to, each addressed to the part it concerns.

use std::rc::Rc;

use super::{command::Command, recovery::Step, transfers::TransferInput};
use crate::{
    channel::{chat::ChatEvent, files::FileEvent},
    error::Error,
    media::LocalMedia,
    peer::PeerEvent,
    signaling::SignalingEvent,
};

/// Everything the session reacts to.
pub enum Input {
    /// From the page.
    Command(Command),
    /// For the signaling link's socket number `.0`.
    Link(u32, LinkInput),
    /// For call number `.0`.
    Call(u32, CallInput),
    /// The camera and microphone asked for.
    Media(Box<LocalMedia>),
    /// The screen the person chose to share, or why there is none.
    Screen(Result<web_sys::MediaStream, Error>),
    /// The shared screen's capture ended (the browser's "Stop sharing").
    ScreenEnded,
    /// A track from the camera or microphone asked for, for the page's reply if it asked.
    Device(
        crate::media::choice::DeviceKind,
        Result<web_sys::MediaStreamTrack, Error>,
        Option<super::command::Reply>,
    ),
    /// A device was plugged in or out.
    DevicesChanged,
    /// The devices, as listed after a change.
    DeviceList(js_sys::Array),
    /// Time to read the connections' statistics.
    StatsTick,
}

/// What concerns the link to the signaling server.
pub enum LinkInput {
    /// From its socket.
    Socket(SignalingEvent),
    /// Time to check that the socket still hears the server.
    Heartbeat,
    /// Time to try connecting again.
    Retry,
}

/// What concerns one call.
pub enum CallInput {
    /// It rang too long.
    RingTimeout,
    /// From its peer connection.
    Peer(PeerEvent),
    /// A timer of its ICE recovery fired.
    Recovery(Step),
    /// From its chat channel.
    Chat(ChatEvent),
    /// From its file channel.
    Files(FileEvent),
    /// From the tasks of its file transfers.
    Transfer(TransferInput),
    /// The browser plays its remote video muted until the person clicks.
    Autoplay(Error),
    /// A statistics report of its connection: its figures go to the page as `stats` if
    /// `detail`, its mark as `quality` if `quality`.
    Stats {
        /// The `RTCStatsReport`.
        report: wasm_bindgen::JsValue,
        /// Tell the figures.
        detail: bool,
        /// Tell the mark.
        quality: bool,
    },
}

/// How a call's browser callbacks, timers and tasks reach the session.
pub type Wake = Rc<dyn Fn(CallInput)>;
