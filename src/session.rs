//! The session: the one owner of the call state.
//!
//! Browser callbacks, signaling, timers and API commands all become [`Input`]s on one
//! channel; a single task takes them one at a time and decides. Nothing else changes the
//! state, so there are no re-entrant borrows and negotiation steps never interleave.

mod call;
mod link;
mod recovery;
mod transfer;

use std::{cell::RefCell, rc::Rc};

use futures::{
    StreamExt,
    channel::{mpsc, oneshot},
};
use protocol::{ClientMessage, ErrorCode as WireCode, PeerId, PeerInfo, ServerMessage};
use wasm_bindgen::JsValue;
use web_sys::HtmlVideoElement;

use crate::{
    error::{Error, ErrorCode},
    events::{Emitter, object},
    listener::Timer,
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
    /// `all` (default) or `relay` (only TURN-relayed candidates: hides addresses).
    pub ice_transport_policy: Option<String>,
    /// Where to show the self view.
    pub local_video: Option<HtmlVideoElement>,
    /// Where to show the other side.
    pub remote_video: Option<HtmlVideoElement>,
    /// getUserMedia constraints.
    pub media: JsValue,
    /// How long a call rings before it ends as `no-answer`.
    pub ring_timeout_ms: u32,
    /// How often the server is pinged; silence for two of these drops the socket.
    pub heartbeat_ms: u32,
}

/// Where the session answers a command. Every answer settles a promise, so it is already
/// in JavaScript's terms: one reply type (and one promise future) for all commands keeps
/// the module small.
pub type Reply = oneshot::Sender<Result<JsValue, Error>>;

/// What a page asks of the session.
pub enum Command {
    /// Log in; answered with our id.
    Connect(Reply),
    /// Call a peer; answered (with `undefined`) once the call is placed.
    Call(PeerId, Reply),
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
    /// The current call's `getStats()` promise, or `null` outside a call.
    Stats(Reply),
    /// Restart ICE on the current call.
    RestartIce,
    /// Send another track on the current call (renegotiates).
    AddTrack(web_sys::MediaStreamTrack, web_sys::MediaStream),
    /// Open a data channel on the current call (renegotiates the first time).
    CreateDataChannel(String, Reply),
    /// Send a chat message; answered with its timestamp.
    SendText(String, Reply),
    /// Offer a file; answered with the transfer's id.
    SendFile(web_sys::File, Reply),
    /// Accept the incoming file with this id.
    AcceptFile(String),
    /// Decline the incoming file with this id.
    DeclineFile(String),
    /// Cancel the transfer with this id, either way.
    CancelFile(String),
    /// Leave for good.
    Close,
}

impl Command {
    /// Whether the command acts on the current call.
    fn needs_call(&self) -> bool {
        matches!(
            self,
            Self::Stats(_)
                | Self::RestartIce
                | Self::AddTrack(..)
                | Self::CreateDataChannel(..)
                | Self::SendText(..)
                | Self::SendFile(..)
        )
    }
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
    /// Time to check that signaling socket number `.0` still hears the server.
    Heartbeat(u32),
    /// Time to try connecting again.
    Reconnect,
    /// The recovery timer of call number `.0` fired.
    Recovery(u32, recovery::Step),
    /// From the chat channel of call number `.0`.
    Chat(u32, crate::channel::chat::ChatEvent),
    /// From the file channel of call number `.0`.
    Files(u32, crate::channel::files::FileEvent),
    /// From the pump sending file `.1` on call number `.0`.
    Pump(u32, u32, crate::channel::files::PumpEvent),
    /// A file received on call number `.0`, checked.
    Received(u32, Box<(transfer::Incoming, Result<web_sys::Blob, Error>)>),
    /// The camera and microphone asked for (see `Session::with_media`).
    Media(Box<crate::media::LocalMedia>),
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
        online: false,
        wanted: false,
        resume: None,
        attempts: 0,
        reconnect: None,
        heartbeat: None,
        outgoing: Vec::new(),
        me: None,
        pending_connect: None,
        peers: Vec::new(),
        phase: Phase::Idle,
        generation: 0,
        media: None,
        deferred: Vec::new(),
        acquiring: false,
        on_media: None,
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
    /// The signaling socket is open and logged in.
    online: bool,
    /// The page wants to be online (between `connect()` and `close()`).
    wanted: bool,
    /// From the last `welcome`: logs in again as the same id after a drop.
    resume: Option<String>,
    /// Reconnection attempts since the socket was last up, and the timer of the next.
    attempts: u32,
    reconnect: Option<Timer>,
    heartbeat: Option<Timer>,
    /// Signals sent while the socket was down, delivered once it is back.
    outgoing: Vec<ClientMessage>,
    me: Option<PeerInfo>,
    pending_connect: Option<Reply>,
    peers: Vec<PeerInfo>,
    phase: Phase,
    /// Numbers calls and their peer connections, so late events of an ended one are ignored.
    generation: u32,
    media: Option<crate::media::LocalMedia>,
    /// Commands for the call being accepted, kept until it begins or ends.
    deferred: Vec<Command>,
    /// getUserMedia was asked and has not answered yet (a permission prompt may be open).
    acquiring: bool,
    /// What the call does once the camera and microphone are here.
    on_media: Option<call::OnMedia>,
    mic_enabled: bool,
    camera_enabled: bool,
}

impl Session {
    async fn run(mut self, mut queue: mpsc::UnboundedReceiver<Input>) {
        while let Some(input) = queue.next().await {
            match input {
                Input::Command(Command::Close) => break,
                Input::Command(command) => self.command(command),
                Input::Signaling(generation, event) if generation == self.signaling_generation => {
                    self.signaling_event(event).await;
                }
                Input::Peer(generation, event) if generation == self.generation => {
                    self.peer_event(event).await;
                }
                Input::RingTimeout(generation) if generation == self.generation => {
                    self.ring_timeout();
                }
                Input::Heartbeat(generation) if generation == self.signaling_generation => {
                    self.heartbeat();
                }
                Input::Reconnect => self.reconnect(),
                Input::Recovery(generation, step) if generation == self.generation => {
                    self.recovery_step(step);
                }
                Input::Chat(generation, event) if generation == self.generation => {
                    self.chat_event(event);
                }
                Input::Files(generation, event) if generation == self.generation => {
                    self.file_event(event);
                }
                Input::Pump(generation, id, event) if generation == self.generation => {
                    self.pump_event(id, event);
                }
                Input::Received(generation, received) => {
                    let (incoming, verdict) = *received;
                    self.received(generation, incoming, verdict);
                }
                Input::Media(media) => self.media_arrived(*media),
                // Late news from a socket, call or peer connection that has ended.
                Input::Signaling(..)
                | Input::Peer(..)
                | Input::RingTimeout(_)
                | Input::Heartbeat(_)
                | Input::Recovery(..)
                | Input::Chat(..)
                | Input::Files(..)
                | Input::Pump(..) => {}
            }
            if !self.deferred.is_empty() && !self.accepting() {
                self.run_deferred();
            }
        }
        self.close();
        self.run_deferred();
        // Devices that came too late for anyone are let go.
        queue.close();
        while let Ok(input) = queue.try_recv() {
            if let Input::Media(media) = input {
                media.stop();
            }
        }
    }

    fn command(&mut self, command: Command) {
        if self.accepting() && command.needs_call() {
            // After accept() the page may use the call at once; it begins once the
            // camera and microphone are here.
            self.deferred.push(command);
            return;
        }
        match command {
            Command::Connect(reply) => self.connect(reply),
            Command::Call(to, reply) => self.call(to, reply),
            Command::Accept => self.accept(),
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
                // The outer promise adopts the stats promise.
                let stats = self.phase.peer().map(crate::peer::Peer::stats);
                answer(reply, Ok(stats.map_or(JsValue::NULL, JsValue::from)));
            }
            Command::RestartIce => self.restart_ice(),
            Command::AddTrack(track, stream) => match self.phase.peer() {
                Some(peer) => peer.add_track(&track, &stream),
                None => self.report(&Error::new(
                    ErrorCode::InvalidState,
                    "no call to add a track to",
                )),
            },
            Command::SendText(text, reply) => answer(reply, self.send_text(&text)),
            Command::SendFile(file, reply) => answer(reply, self.send_file(file)),
            Command::AcceptFile(id) => self.accept_file(&id),
            Command::DeclineFile(id) => self.decline_file(&id),
            Command::CancelFile(id) => self.cancel_file(&id),
            Command::CreateDataChannel(label, reply) => {
                let channel = self
                    .phase
                    .peer()
                    .map(|peer| peer.create_data_channel(&label))
                    .ok_or_else(|| {
                        Error::new(ErrorCode::InvalidState, "no call to open a channel on")
                    });
                answer(reply, channel);
            }
            Command::Close => {}
        }
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
            ServerMessage::Welcome { id, name, resume } => self.welcomed(id, name, resume),
            ServerMessage::Peers { peers } => {
                self.peers = peers;
                self.emit_peers();
                self.logged_in();
            }
            ServerMessage::Pong => {}
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
            self.wanted = false;
            let _ = reply.send(Err(error));
            return;
        }
        if !self.online && matches!(code, WireCode::InvalidName | WireCode::NameTaken) {
            // Logging in again after a drop was refused (the server restarted with another
            // key, and someone took the name meanwhile): there is no way back on our own.
            self.signaling = None;
            self.signaling_generation += 1;
            self.heartbeat = None;
            self.wanted = false;
            self.outgoing.clear();
            self.me = None;
            self.resume = None;
            let message = format!("could not log in again: {}", error.message);
            self.report(&Error::new(error.code, message));
            self.end_call(call::EndReason::Failed);
            self.publish_state();
            return;
        }
        self.report(&error);
        let about_call = to.is_some_and(|to| self.phase.with().is_some_and(|with| with.id == to));
        if about_call && code == WireCode::PeerUnavailable {
            self.end_call(EndReason::PeerLeft);
        }
    }

    /// Sends `message` to the server, or keeps it for when the socket is back.
    fn send(&mut self, message: ClientMessage) {
        match &self.signaling {
            Some(signaling) if self.online => {
                if let Err(error) = signaling.send(&message) {
                    self.report(&error);
                }
            }
            _ if self.wanted && self.outgoing.len() < link::MAX_OUTGOING => {
                self.outgoing.push(message);
            }
            _ => {}
        }
    }

    fn report(&self, error: &Error) {
        self.emitter.emit("error", &JsValue::from(error.clone()));
    }

    /// Whether a call was accepted and waits for our camera and microphone to begin.
    fn accepting(&self) -> bool {
        matches!(self.on_media, Some(call::OnMedia::Answer(_)))
    }

    /// Carries out the commands kept while a call was being accepted: on the call, if it
    /// began, or refused as they would be outside one.
    fn run_deferred(&mut self) {
        for command in std::mem::take(&mut self.deferred) {
            self.command(command);
        }
    }

    fn emit_peers(&self) {
        let peers = crate::signaling::write::peers(&self.peers);
        self.emitter.emit("peers", &peers);
    }

    /// The API state, from who we are and the call phase.
    fn state(&self) -> &'static str {
        if !self.online {
            return "offline";
        }
        self.phase.state()
    }

    /// Emits `state` if it changed.
    fn publish_state(&mut self) {
        let state = self.state();
        let id = self
            .me
            .as_ref()
            .filter(|_| self.online)
            .map(|me| me.id.0.clone());
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
        self.wanted = false;
        self.online = false;
        self.reconnect = None;
        self.heartbeat = None;
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

/// Answers a command; nobody may be waiting any more (a dropped promise), which is fine.
fn answer(reply: Reply, result: Result<impl Into<JsValue>, Error>) {
    let _ = reply.send(result.map(Into::into));
}
