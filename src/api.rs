//! The embeddable JavaScript API: class `PeerCall` (see `docs/API.md`).

use std::{cell::RefCell, rc::Rc};

use crate::queue::Sender;
use js_sys::{Function, Promise, Reflect};
use protocol::{ClientMessage, PeerId};
use wasm_bindgen::{JsCast, JsValue, prelude::wasm_bindgen};
use web_sys::HtmlVideoElement;

use crate::{
    error::{Error, ErrorCode},
    event::{Emitter, TransferId},
    media::{self, choice::DeviceKind},
    session::{
        self, Options, Pick, Snapshot,
        command::{Command, FileCommand, Reply},
        input::Input,
    },
};

/// How long a call rings unless the options say otherwise.
const DEFAULT_RING_TIMEOUT_MS: u32 = 30_000;

/// How long an accepted call may take to connect unless the options say otherwise.
const DEFAULT_CONNECT_TIMEOUT_MS: u32 = 30_000;

/// How often the server is pinged unless the options say otherwise.
const DEFAULT_HEARTBEAT_MS: u32 = 5_000;

/// The video uplink a member of a room call shares among the others, by default (kbps).
const DEFAULT_VIDEO_BUDGET_KBPS: u32 = 2_500;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** Options of `new PeerCall(...)`. */
export interface PeerCallOptions {
  /** The signaling server's WebSocket URL, e.g. "ws://127.0.0.1:8080/ws". */
  url: string;
  /** Your display name: 1 to 32 characters, unique in the room. */
  name: string;
  /** The room to join: 1 to 64 letters, digits, "-" and "_". Default: the server's default room. */
  room?: string;
  /** The access token (an HS256 JWT from your backend), on a server in token mode. */
  token?: string;
  /** The room's password: the first person in sets it, everyone after must give it. */
  password?: string;
  /** ICE servers for every call; default: the ones the server hands out (none is enough on one network). */
  iceServers?: RTCIceServer[];
  /** "relay" sends media only through the TURN servers given; default "all". */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** Where to show your own camera. */
  localVideo?: HTMLVideoElement | null;
  /** Where to show the other side. */
  remoteVideo?: HTMLVideoElement | null;
  /** getUserMedia constraints; default { audio: true, video: true }. */
  media?: MediaStreamConstraints;
  /** How long an unanswered call rings, in ms; default 30000. */
  ringTimeoutMs?: number;
  /** How long an accepted call (or a room call's connection) may take to connect, in ms; default 30000. */
  connectTimeoutMs?: number;
  /** How often the server is pinged, in ms; silence for two pings means reconnecting. Default 5000. */
  heartbeatMs?: number;
  /** In a room call, the video uplink (kbps) shared among the others: each gets an equal part. Default 2500. */
  videoBudgetKbps?: number;
}
"#;

/// A video call client: log in, see who is online, call, talk, hang up.
#[wasm_bindgen]
pub struct PeerCall {
    inputs: Sender<Input>,
    emitter: Rc<Emitter>,
    snapshot: Rc<RefCell<Snapshot>>,
}

#[wasm_bindgen]
impl PeerCall {
    /// Creates a client; nothing happens on the network until `connect()`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "PeerCallOptions")] options: JsValue,
    ) -> Result<PeerCall, JsValue> {
        // A build whose panics abort at once (`/pkg`) has no message for the hook to show.
        #[cfg(not(panic = "immediate-abort"))]
        console_error_panic_hook::set_once();
        let options = parse_options(&options)?;
        let emitter = Rc::new(Emitter::default());
        let (inputs, snapshot) = session::start(options, emitter.clone());
        Ok(Self {
            inputs,
            emitter,
            snapshot,
        })
    }

    /// Calls `handler` with the payload of every `event` (see `PeerCallEvents`; typed in
    /// the `PeerCall` interface beside them).
    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, event: String, handler: Function) {
        self.emitter.on(event, handler);
    }

    /// Stops calling `handler` for `event`.
    #[wasm_bindgen(skip_typescript)]
    pub fn off(&self, event: String, handler: Function) {
        self.emitter.off(&event, &handler);
    }

    /// Logs in; resolves with your id, or rejects with `{code, message}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn connect(&self) -> Promise {
        self.ask(Command::Connect)
    }

    /// Calls the peer with id `peer_id`; resolves once the call is placed (ringing).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn call(&self, peer_id: String) -> Promise {
        self.ask(|reply| Command::Call(PeerId(peer_id), reply))
    }

    /// Joins the room call (starting it if nobody is in it); resolves with the
    /// participants already in it, who each connect to you.
    #[wasm_bindgen(js_name = joinCall, unchecked_return_type = "Promise<PeerInfo[]>")]
    pub fn join_call(&self) -> Promise {
        self.ask(Command::JoinCall)
    }

    /// Leaves the room call.
    #[wasm_bindgen(js_name = leaveCall)]
    pub fn leave_call(&self) {
        self.command(Command::LeaveCall);
    }

    /// Rings `peer_id` into the call you are in: a two-person call grows into the
    /// room call.
    pub fn invite(&self, peer_id: String) {
        self.command(Command::Invite(PeerId(peer_id)));
    }

    /// Answers the incoming call.
    pub fn accept(&self) {
        self.command(Command::Accept);
    }

    /// Refuses the incoming call.
    pub fn decline(&self) {
        self.command(Command::Decline);
    }

    /// Ends the current call (or cancels the one you placed, or declines the one ringing).
    pub fn hangup(&self) {
        self.command(Command::Hangup);
    }

    /// Mutes (`false`) or unmutes (`true`) your microphone.
    #[wasm_bindgen(js_name = setMicEnabled)]
    pub fn set_mic_enabled(&self, enabled: bool) {
        self.command(Command::SetMic(enabled));
    }

    /// Turns your camera off (`false`) or on (`true`).
    #[wasm_bindgen(js_name = setCameraEnabled)]
    pub fn set_camera_enabled(&self, enabled: bool) {
        self.command(Command::SetCamera(enabled));
    }

    /// The current call's `RTCStatsReport`, or `null` outside a call.
    #[wasm_bindgen(js_name = getStats, unchecked_return_type = "Promise<RTCStatsReport | null>")]
    pub fn get_stats(&self, participant_id: Option<String>) -> Promise {
        self.ask(|reply| Command::Stats(participant_id.map(PeerId), reply))
    }

    /// Restarts ICE on the current call (after a network change, say). The call also
    /// does this by itself when its connection drops.
    #[wasm_bindgen(js_name = restartIce)]
    pub fn restart_ice(&self) {
        self.command(Command::RestartIce);
    }

    /// Sends another track (a second camera, a screen) on the current call; the other
    /// side gets it as a new `remote-stream`. Renegotiates without interrupting the rest.
    #[wasm_bindgen(js_name = addTrack)]
    pub fn add_track(&self, track: web_sys::MediaStreamTrack, stream: web_sys::MediaStream) {
        self.command(Command::AddTrack(track, stream));
    }

    /// Sends a `stats` event for each connection once a second while `on` (`false`
    /// stops). The `quality` events come every 3 seconds regardless.
    #[wasm_bindgen(js_name = watchStats)]
    pub fn watch_stats(&self, on: bool) {
        self.command(Command::WatchStats(on));
    }

    /// The cameras, microphones and speakers (speakers only where the browser can play
    /// through a chosen one); labels are empty until the person has allowed a device.
    #[wasm_bindgen(unchecked_return_type = "Promise<PeerCallDevice[]>")]
    pub fn devices(&self) -> Promise {
        self.ask(Command::Devices)
    }

    /// Sends the camera `device` (an id from `devices()`, or a video track of your own)
    /// from now on: during a call without renegotiating and with the camera still off if
    /// it was; before a call, for the next one.
    #[wasm_bindgen(js_name = useCamera, unchecked_return_type = "Promise<void>")]
    pub fn use_camera(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | MediaStreamTrack")] device: JsValue,
    ) -> Promise {
        self.use_device(DeviceKind::Camera, device)
    }

    /// The same for the microphone (a muted one stays muted).
    #[wasm_bindgen(js_name = useMicrophone, unchecked_return_type = "Promise<void>")]
    pub fn use_microphone(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | MediaStreamTrack")] device: JsValue,
    ) -> Promise {
        self.use_device(DeviceKind::Microphone, device)
    }

    /// Plays the call in `remoteVideo` through the speaker `id` (`setSinkId`); rejects
    /// where the browser cannot choose a speaker.
    #[wasm_bindgen(js_name = useSpeaker, unchecked_return_type = "Promise<void>")]
    pub fn use_speaker(&self, id: String) -> Promise {
        self.ask(|reply| Command::UseSpeaker(id, reply))
    }

    /// Shares a screen, window or tab the person picks, as a second video next to the
    /// camera (to everyone in a room call); resolves with its stream. A cancelled or
    /// refused prompt rejects and leaves the call as it was. The browser's own "Stop
    /// sharing" ends it as `stopShare()` does.
    #[wasm_bindgen(js_name = shareScreen, unchecked_return_type = "Promise<MediaStream>")]
    pub fn share_screen(&self) -> Promise {
        self.ask(Command::ShareScreen)
    }

    /// Stops sharing the screen.
    #[wasm_bindgen(js_name = stopShare)]
    pub fn stop_share(&self) {
        self.command(Command::StopShare);
    }

    /// Opens a data channel on the current call; the other side gets a `datachannel`
    /// event. It closes with the call.
    #[wasm_bindgen(js_name = createDataChannel, unchecked_return_type = "Promise<RTCDataChannel>")]
    pub fn create_data_channel(&self, label: String) -> Promise {
        self.ask(|reply| Command::CreateDataChannel(label, reply))
    }

    /// Sends a chat message in the current call; resolves with its timestamp (ms since
    /// the epoch). Typed before the chat channel is open, it waits and goes when it opens.
    #[wasm_bindgen(js_name = sendText, unchecked_return_type = "Promise<number>")]
    pub fn send_text(&self, text: String) -> Promise {
        self.ask(|reply| Command::SendText(text, reply))
    }

    /// Offers `file` to the other side; resolves with the transfer's id. Several files
    /// queue up and go one after another; watch the `file-*` events.
    #[wasm_bindgen(js_name = sendFile, unchecked_return_type = "Promise<string>")]
    pub fn send_file(&self, file: web_sys::File, participant_id: Option<String>) -> Promise {
        self.ask(|reply| Command::SendFile(file, participant_id.map(PeerId), reply))
    }

    /// Accepts the incoming file `id` (from a `file-offer` event): its bytes start flowing.
    #[wasm_bindgen(js_name = acceptFile)]
    pub fn accept_file(&self, id: String) {
        if let Some(id) = TransferId::parse(&id) {
            self.command(Command::File(FileCommand::Accept, id));
        }
    }

    /// Declines the incoming file `id`.
    #[wasm_bindgen(js_name = declineFile)]
    pub fn decline_file(&self, id: String) {
        if let Some(id) = TransferId::parse(&id) {
            self.command(Command::File(FileCommand::Decline, id));
        }
    }

    /// Cancels the transfer `id`, either way, queued or under way.
    #[wasm_bindgen(js_name = cancelFile)]
    pub fn cancel_file(&self, id: String) {
        if let Some(id) = TransferId::parse(&id) {
            self.command(Command::File(FileCommand::Cancel, id));
        }
    }

    /// Logs in with `token` from the next login on (after a dropped connection, say):
    /// hand a fresh one before the last one expires.
    #[wasm_bindgen(js_name = setToken)]
    pub fn set_token(&self, token: String) {
        self.command(Command::SetToken(token));
    }

    /// Locks the room (moderators only): nobody new may join. Everyone in it hears `room`.
    #[wasm_bindgen(js_name = lockRoom)]
    pub fn lock_room(&self) {
        self.command(Command::Moderate(ClientMessage::LockRoom));
    }

    /// Unlocks the room (moderators only).
    #[wasm_bindgen(js_name = unlockRoom)]
    pub fn unlock_room(&self) {
        self.command(Command::Moderate(ClientMessage::UnlockRoom));
    }

    /// Removes the peer `peer_id` from the room (moderators only): they are told, and
    /// cannot come back while the room lasts.
    #[wasm_bindgen(js_name = removePeer)]
    pub fn remove_peer(&self, peer_id: String) {
        self.command(Command::Moderate(ClientMessage::RemovePeer {
            id: PeerId(peer_id),
        }));
    }

    /// Leaves: hangs up, closes the socket, releases camera and microphone.
    pub fn close(&self) {
        self.command(Command::Close);
    }

    /// The current state (see `PeerCallState`).
    #[wasm_bindgen(getter, unchecked_return_type = "PeerCallState")]
    pub fn state(&self) -> String {
        self.snapshot.borrow().state.as_str().to_owned()
    }

    /// Your id while logged in, and while reconnecting after a drop.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> Option<String> {
        self.snapshot.borrow().id.clone()
    }
}

impl PeerCall {
    fn use_device(&self, kind: DeviceKind, device: JsValue) -> Promise {
        let pick = match device.as_string() {
            Some(id) => Ok(Pick::Device(id)),
            None => device
                .dyn_into::<web_sys::MediaStreamTrack>()
                .map(Pick::Track)
                .map_err(|_| {
                    let message = "give a device id from devices(), or a MediaStreamTrack";
                    Error::new(ErrorCode::InvalidState, message)
                }),
        };
        match pick {
            Ok(pick) => self.ask(|reply| Command::UseDevice(kind, pick, reply)),
            Err(error) => Promise::reject(&error.into()),
        }
    }

    /// Sends the command `make` builds around a reply channel; the promise settles with
    /// the session's answer.
    fn ask(&self, make: impl FnOnce(Reply) -> Command) -> Promise {
        let mut make = Some(make);
        // The executor runs at once, within `new`.
        Promise::new(&mut |resolve, reject| {
            if let Some(make) = make.take() {
                self.command(make(Reply::new(resolve, reject)));
            }
        })
    }

    fn command(&self, command: Command) {
        // After close() the session is gone; a command then has nobody to act on it, and
        // any promise waiting on it rejects as its reply is dropped.
        let _ = self.inputs.send(Input::Command(command));
    }
}

impl Drop for PeerCall {
    fn drop(&mut self) {
        // Freed: nobody can be listening any more, and the handlers may be gone already.
        self.emitter.clear();
        self.command(Command::Close);
    }
}

fn parse_options(options: &JsValue) -> Result<Options, Error> {
    let bad = |message: &str| Error::new(ErrorCode::BadOptions, message);
    if !options.is_object() {
        return Err(bad("new PeerCall(options) needs an options object"));
    }
    let get = |key: &str| {
        Reflect::get(options, &key.into())
            .ok()
            .filter(|value| !value.is_undefined() && !value.is_null())
    };
    let text = |key: &str| get(key).and_then(|value| value.as_string());
    let video = |key: &str| -> Result<Option<HtmlVideoElement>, Error> {
        get(key)
            .map(|value| {
                value
                    .dyn_into::<HtmlVideoElement>()
                    .map_err(|_| bad(&["options.", key, " must be a <video> element"].concat()))
            })
            .transpose()
    };
    let url =
        text("url").ok_or_else(|| bad("options.url (the signaling WebSocket URL) is required"))?;
    let name = text("name").ok_or_else(|| bad("options.name (your display name) is required"))?;
    let millis = |key: &str, default: u32| match get(key) {
        None => Ok(default),
        Some(value) => value
            .as_f64()
            // Browsers' timers take at most 2^31 - 1 ms (about 24.8 days).
            .filter(|ms| ms.is_finite() && *ms >= 1.0 && *ms <= f64::from(i32::MAX))
            .map(|ms| ms as u32)
            .ok_or_else(|| {
                bad(&[
                    "options.",
                    key,
                    " must be a positive number of milliseconds",
                ]
                .concat())
            }),
    };
    Ok(Options {
        url,
        name,
        // The server checks the room name: a bad one is refused as `bad-room`.
        room: text("room"),
        token: text("token"),
        password: text("password"),
        ice_servers: get("iceServers"),
        ice_transport_policy: text("iceTransportPolicy"),
        local_video: video("localVideo")?,
        remote_video: video("remoteVideo")?,
        media: get("media").unwrap_or_else(media::default_constraints),
        ring_timeout_ms: millis("ringTimeoutMs", DEFAULT_RING_TIMEOUT_MS)?,
        connect_timeout_ms: millis("connectTimeoutMs", DEFAULT_CONNECT_TIMEOUT_MS)?,
        heartbeat_ms: millis("heartbeatMs", DEFAULT_HEARTBEAT_MS)?,
        video_budget_kbps: match get("videoBudgetKbps") {
            None => DEFAULT_VIDEO_BUDGET_KBPS,
            Some(value) => value
                .as_f64()
                .filter(|kbps| (50.0..=100_000.0).contains(kbps))
                .map(|kbps| kbps as u32)
                .ok_or_else(|| bad("options.videoBudgetKbps must be from 50 to 100000"))?,
        },
    })
}
