//! The session: the one owner of the call state.
//!
//! Browser callbacks, signaling, timers and API commands all become [`Input`]s on one
//! channel; a single task takes them one at a time and decides. Nothing else changes the
//! state, so there are no re-entrant borrows and negotiation steps never interleave.

mod call;

use std::{cell::RefCell, rc::Rc};

use futures::{
    StreamExt,
    channel::{mpsc, oneshot},
};
use protocol::{
    ClientMessage, ErrorCode as WireCode, PeerId, PeerInfo, ServerMessage, validate_name,
};
use wasm_bindgen::JsValue;
use web_sys::HtmlVideoElement;

use crate::{
    error::{Error, ErrorCode},
    events::{Emitter, object},
    peer::PeerEvent,
    signaling::{Signaling, SignalingEvent},
};
pub use call::EndReason;
use call::Phase;

/// What a session is given at creation.
pub struct Options {
    /// The signaling server's WebSocket URL.
    pub url: String,
    /// The display name to log in with.
    pub name: String,
    /// `RTCIceServer[]` for every peer connection.
    pub ice_servers: JsValue,
    /// Where to show the self view.
    pub local_video: Option<HtmlVideoElement>,
    /// Where to show the other side.
    pub remote_video: Option<HtmlVideoElement>,
    /// getUserMedia constraints.
    pub media: JsValue,
    /// How long a call rings before it ends as `no-answer`.
    pub ring_timeout_ms: u32,
}

/// What a page asks of the session.
pub enum Command {
    /// Log in; answered with our id.
    Connect(oneshot::Sender<Result<PeerId, Error>>),
    /// Call a peer; answered once the call is placed.
    Call(PeerId, oneshot::Sender<Result<(), Error>>),
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
    /// The current call's `getStats()` promise, if there is a call.
    Stats(oneshot::Sender<Option<js_sys::Promise>>),
    /// Leave for good.
    Close,
}

/// Everything the session reacts to.
pub enum Input {
    /// From the page.
    Command(Command),
    /// From signaling socket number `.0`.
    Signaling(u32, SignalingEvent),
    /// From peer connection number `.0`.
    Peer(u32, PeerEvent),
    /// Call number `.0` rang too long.
    RingTimeout(u32),
}

/// What the page can read at any time without asking the session.
#[derive(Default)]
pub struct Snapshot {
    /// The API state (`offline`, `idle`, ...).
    pub state: &'static str,
    /// Our id, while logged in.
    pub id: Option<String>,
}

/// Starts a session task; returns the way in and a view of its state.
pub fn start(
    options: Options,
    emitter: Rc<Emitter>,
) -> (mpsc::UnboundedSender<Input>, Rc<RefCell<Snapshot>>) {
    let (inputs, queue) = mpsc::unbounded();
    let snapshot = Rc::new(RefCell::new(Snapshot {
        state: "offline",
        id: None,
    }));
    let session = Session {
        options,
        emitter,
        inputs: inputs.clone(),
        snapshot: snapshot.clone(),
        signaling: None,
        signaling_generation: 0,
        me: None,
        pending_connect: None,
        peers: Vec::new(),
        phase: Phase::Idle,
        generation: 0,
        media: None,
        mic_enabled: true,
        camera_enabled: true,
    };
    wasm_bindgen_futures::spawn_local(session.run(queue));
    (inputs, snapshot)
}

struct Session {
    options: Options,
    emitter: Rc<Emitter>,
    inputs: mpsc::UnboundedSender<Input>,
    snapshot: Rc<RefCell<Snapshot>>,
    signaling: Option<Signaling>,
    signaling_generation: u32,
    me: Option<PeerInfo>,
    pending_connect: Option<oneshot::Sender<Result<PeerId, Error>>>,
    peers: Vec<PeerInfo>,
    phase: Phase,
    /// Numbers calls and their peer connections, so late events of an ended one are ignored.
    generation: u32,
    media: Option<crate::media::LocalMedia>,
    mic_enabled: bool,
    camera_enabled: bool,
}

impl Session {
    async fn run(mut self, mut queue: mpsc::UnboundedReceiver<Input>) {
        while let Some(input) = queue.next().await {
            match input {
                Input::Command(Command::Close) => break,
                Input::Command(command) => self.command(command).await,
                Input::Signaling(generation, event) if generation == self.signaling_generation => {
                    self.signaling_event(event).await;
                }
                Input::Peer(generation, event) if generation == self.generation => {
                    self.peer_event(event).await;
                }
                Input::RingTimeout(generation) if generation == self.generation => {
                    self.ring_timeout();
                }
                // Late news from a socket, call or peer connection that has ended.
                Input::Signaling(..) | Input::Peer(..) | Input::RingTimeout(_) => {}
            }
        }
        self.close();
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Connect(reply) => self.connect(reply),
            Command::Call(to, reply) => {
                let placed = self.call(to).await;
                let _ = reply.send(placed);
            }
            Command::Accept => self.accept().await,
            Command::Decline => self.decline(),
            Command::Hangup => self.hangup(),
            Command::SetMic(enabled) => {
                self.mic_enabled = enabled;
                if let Some(media) = &self.media {
                    media.set_enabled("audio", enabled);
                }
            }
            Command::SetCamera(enabled) => {
                self.camera_enabled = enabled;
                if let Some(media) = &self.media {
                    media.set_enabled("video", enabled);
                }
            }
            Command::Stats(reply) => {
                let _ = reply.send(self.phase.peer().map(crate::peer::Peer::stats));
            }
            Command::Close => {}
        }
    }

    fn connect(&mut self, reply: oneshot::Sender<Result<PeerId, Error>>) {
        if let Some(me) = &self.me {
            let _ = reply.send(Ok(me.id.clone()));
            return;
        }
        if self.pending_connect.is_some() {
            let _ = reply.send(Err(Error::new(
                ErrorCode::InvalidState,
                "already connecting",
            )));
            return;
        }
        if let Err(error) = validate_name(&self.options.name) {
            let _ = reply.send(Err(Error::new(ErrorCode::InvalidName, error.to_string())));
            return;
        }
        self.signaling_generation += 1;
        let generation = self.signaling_generation;
        let inputs = self.inputs.clone();
        let opened = Signaling::open(
            &self.options.url,
            Rc::new(move |event| {
                let _ = inputs.unbounded_send(Input::Signaling(generation, event));
            }),
        );
        let signaling = match opened {
            Ok(signaling) => signaling,
            Err(error) => {
                let _ = reply.send(Err(error));
                return;
            }
        };
        let login = ClientMessage::Login {
            name: self.options.name.clone(),
        };
        if let Err(error) = signaling.send(&login) {
            let _ = reply.send(Err(error));
            return;
        }
        self.signaling = Some(signaling);
        self.pending_connect = Some(reply);
    }

    async fn signaling_event(&mut self, event: SignalingEvent) {
        match event {
            SignalingEvent::Message(Ok(message)) => self.server_message(message).await,
            SignalingEvent::Message(Err(error)) => self.report(&error),
            SignalingEvent::Closed { code } => self.signaling_closed(code),
        }
    }

    fn signaling_closed(&mut self, code: Option<u16>) {
        self.signaling = None;
        self.me = None;
        self.peers.clear();
        if let Some(reply) = self.pending_connect.take() {
            let _ = reply.send(Err(Error::new(
                ErrorCode::ConnectFailed,
                format!("cannot reach the signaling server at {}", self.options.url),
            )));
        } else {
            let why = match code {
                Some(1001) => "the server is shutting down".to_owned(),
                Some(1009) => "a message was too large for the server".to_owned(),
                Some(code) => format!("close code {code}"),
                None => "no close code".to_owned(),
            };
            self.report(&Error::new(
                ErrorCode::SignalingClosed,
                format!("lost the connection to the signaling server ({why})"),
            ));
            self.emit_peers();
        }
        // A call still ringing cannot be answered without signaling; one that is connected
        // keeps its media flowing until someone hangs up.
        if matches!(self.phase, Phase::Calling { .. } | Phase::Ringing { .. }) {
            self.end_call(EndReason::Failed);
        }
        self.publish_state();
    }

    async fn server_message(&mut self, message: ServerMessage) {
        let message = match message.into_signal() {
            Ok((from, name, signal)) => {
                self.signal(PeerInfo { id: from, name }, signal).await;
                return;
            }
            Err(message) => message,
        };
        match message {
            // `connect()` resolves once the list of who is online is in too (it follows
            // `welcome` at once), so a page can call anyone it has just been told about.
            ServerMessage::Welcome { id, name } => self.me = Some(PeerInfo { id, name }),
            ServerMessage::Peers { peers } => {
                self.peers = peers;
                self.emit_peers();
                if let (Some(reply), Some(me)) = (self.pending_connect.take(), &self.me) {
                    let _ = reply.send(Ok(me.id.clone()));
                }
                self.publish_state();
            }
            ServerMessage::PeerJoined { id, name } => {
                self.peers.retain(|peer| peer.id != id);
                self.peers.push(PeerInfo { id, name });
                self.emit_peers();
            }
            ServerMessage::PeerLeft { id } => {
                self.peers.retain(|peer| peer.id != id);
                self.emit_peers();
                if self.phase.with().is_some_and(|with| with.id == id) {
                    self.end_call(EndReason::PeerLeft);
                }
            }
            ServerMessage::Error { code, message, to } => self.server_error(code, message, to),
            // Relayed signals were handled above.
            _ => {}
        }
    }

    fn server_error(&mut self, code: WireCode, message: String, to: Option<PeerId>) {
        let local = match code {
            WireCode::InvalidName => ErrorCode::InvalidName,
            WireCode::NameTaken => ErrorCode::NameTaken,
            WireCode::NotLoggedIn => ErrorCode::NotConnected,
            WireCode::PeerUnavailable => ErrorCode::PeerUnavailable,
            WireCode::BadRequest | WireCode::RateLimited => ErrorCode::Refused,
        };
        let error = Error::new(local, message);
        if let Some(reply) = self.pending_connect.take() {
            // A refused login: the socket has no further use.
            self.signaling = None;
            self.signaling_generation += 1;
            let _ = reply.send(Err(error));
            return;
        }
        self.report(&error);
        let about_call = to.is_some_and(|to| self.phase.with().is_some_and(|with| with.id == to));
        if about_call && code == WireCode::PeerUnavailable {
            self.end_call(EndReason::PeerLeft);
        }
    }

    /// Sends `message` to the server; a closed socket is reported by its own event.
    fn send(&self, message: ClientMessage) {
        if let Some(signaling) = &self.signaling
            && let Err(error) = signaling.send(&message)
        {
            self.report(&error);
        }
    }

    fn report(&self, error: &Error) {
        self.emitter.emit("error", &JsValue::from(error.clone()));
    }

    fn emit_peers(&self) {
        let peers = serde_wasm_bindgen::to_value(&self.peers).unwrap_or(JsValue::NULL);
        self.emitter.emit("peers", &peers);
    }

    /// The API state, from who we are and the call phase.
    fn state(&self) -> &'static str {
        if self.me.is_none() {
            return "offline";
        }
        self.phase.state()
    }

    /// Emits `state` if it changed.
    fn publish_state(&mut self) {
        let state = self.state();
        let id = self.me.as_ref().map(|me| me.id.0.clone());
        let changed = {
            let mut snapshot = self.snapshot.borrow_mut();
            snapshot.id = id;
            std::mem::replace(&mut snapshot.state, state) != state
        };
        if changed {
            self.emitter.emit("state", &state.into());
        }
    }

    fn close(&mut self) {
        if self.phase.with().is_some() {
            self.hangup();
        }
        self.signaling = None;
        self.signaling_generation += 1;
        self.me = None;
        if let Some(reply) = self.pending_connect.take() {
            let _ = reply.send(Err(Error::new(ErrorCode::NotConnected, "closed")));
        }
        self.publish_state();
    }

    fn emit_ended(&self, reason: EndReason) {
        self.emitter
            .emit("ended", &object(&[("reason", reason.as_str().into())]));
    }
}
