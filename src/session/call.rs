//! The call itself: ring, accept or decline, negotiate, connect, end.

use std::rc::Rc;

use protocol::{ClientMessage, DeclineReason, PeerId, PeerInfo, Signal};
use wasm_bindgen::JsValue;
use web_sys::{HtmlVideoElement, MediaStream};

pub use super::recovery::Recovery;
use super::recovery::{CONNECT_MS, Step};
use super::transfer::Transfers;
use crate::channel::{chat::Chat, files::FileChannel};

use super::{Input, Reply, Session, answer};
use crate::{
    error::{Error, ErrorCode},
    events::object,
    listener::Timer,
    media::{self, playback::Playback},
    peer::{Description, Peer, PeerEvent},
};

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
    /// The reason as pages see it.
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

/// What a call waits for the camera and microphone to do.
pub enum OnMedia {
    /// Ring the callee of the call being placed, then tell the page it is placed.
    Ring(Reply),
    /// Take the call from this peer.
    Answer(PeerInfo),
}

/// Which side of the call this is.
#[derive(Clone, Copy)]
enum Role {
    /// Placed the call: makes the first offer.
    Caller,
    /// Took the call: answers it.
    Callee,
}

/// Where the call is.
pub enum Phase {
    /// No call.
    Idle,
    /// We call `with`: the ring goes out once our camera and microphone are here, and
    /// `rang` then times how long it rings.
    Calling { with: PeerInfo, rang: Option<Timer> },
    /// `with` rings us.
    Ringing { with: PeerInfo, _timer: Timer },
    /// Accepted: negotiating, connected, or recovering.
    InCall(Box<Active>),
}

/// A call that was accepted.
pub struct Active {
    /// Who it is with.
    pub with: PeerInfo,
    /// The connection.
    pub peer: Peer,
    /// Media has flowed at least once.
    pub connected: bool,
    /// Ids of the remote streams announced so far.
    pub remote: Vec<String>,
    /// Set while a dropped connection is being recovered (see `recovery`).
    pub recovery: Option<Recovery>,
    /// The chat channel.
    pub chat: Chat,
    /// The file channel, shared with the pump of the file being sent.
    pub files: Rc<FileChannel>,
    /// Files on their way, both ways.
    pub transfers: Transfers,
    /// The first remote stream playing in the page's remote `<video>`.
    pub playback: Option<Playback>,
    /// Ends the call if it never connects (an offer lost, say).
    _connect_deadline: Timer,
}

impl Phase {
    /// Who the call is with.
    pub fn with(&self) -> Option<&PeerInfo> {
        match self {
            Self::Idle => None,
            Self::Calling { with, .. } | Self::Ringing { with, .. } => Some(with),
            Self::InCall(active) => Some(&active.with),
        }
    }

    /// The peer connection, once there is one.
    pub fn peer(&self) -> Option<&Peer> {
        match self {
            Self::InCall(active) => Some(&active.peer),
            _ => None,
        }
    }

    /// The API state of a logged-in session in this phase.
    pub fn state(&self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Calling { .. } => "calling",
            Self::Ringing { .. } => "ringing",
            Self::InCall(active) if active.recovery.is_some() => "reconnecting",
            Self::InCall(active) if active.connected => "connected",
            Self::InCall(_) => "connecting",
        }
    }

    fn is_with(&self, id: &PeerId) -> bool {
        self.with().is_some_and(|with| &with.id == id)
    }

    /// Whether the other side has heard of this call (a call still waiting for our
    /// devices has not rung yet).
    pub fn heard_of(&self) -> bool {
        !matches!(self, Self::Calling { rang: None, .. })
    }
}

impl Session {
    /// Places a call to `to`; `reply` hears once it rings there, or why it could not.
    pub(super) fn call(&mut self, to: PeerId, reply: Reply) {
        match self.can_call(to) {
            Ok(with) => {
                self.generation += 1;
                self.phase = Phase::Calling { with, rang: None };
                self.publish_state();
                self.with_media(OnMedia::Ring(reply));
            }
            Err(error) => answer(reply, Err::<JsValue, _>(error)),
        }
    }

    /// Who `to` is, if we may call them now.
    fn can_call(&self, to: PeerId) -> Result<PeerInfo, Error> {
        let me = self
            .me
            .clone()
            .ok_or_else(|| Error::new(ErrorCode::NotConnected, "connect before calling"))?;
        if !matches!(self.phase, Phase::Idle) {
            return Err(Error::new(ErrorCode::InvalidState, "already in a call"));
        }
        if to == me.id {
            return Err(Error::new(
                ErrorCode::InvalidState,
                "you cannot call yourself",
            ));
        }
        self.peers
            .iter()
            .find(|peer| peer.id == to)
            .cloned()
            .ok_or_else(|| Error::new(ErrorCode::PeerUnavailable, format!("{to} is not online")))
    }

    pub(super) fn accept(&mut self) {
        let Phase::Ringing { with, .. } = &self.phase else {
            self.report(&Error::new(ErrorCode::InvalidState, "no call to accept"));
            return;
        };
        let with = with.clone();
        self.with_media(OnMedia::Answer(with));
    }

    pub(super) fn decline(&mut self) {
        let Phase::Ringing { with, .. } = &self.phase else {
            return;
        };
        let reason = DeclineReason::Declined;
        self.send(ClientMessage::signal(
            with.id.clone(),
            Signal::Decline { reason },
        ));
        self.end_call(EndReason::Declined);
    }

    pub(super) fn hangup(&mut self) {
        if matches!(self.phase, Phase::Ringing { .. }) {
            self.decline();
        } else if let Some(with) = self.phase.with() {
            if self.phase.heard_of() {
                let to = with.id.clone();
                self.send(ClientMessage::signal(to, Signal::Hangup { reason: None }));
            }
            self.end_call(EndReason::Hangup);
        }
    }

    pub(super) fn ring_timeout(&mut self) {
        let (Phase::Calling { with, .. } | Phase::Ringing { with, .. }) = &self.phase else {
            return;
        };
        let to = with.id.clone();
        let reason = Some(EndReason::NoAnswer.as_str().to_owned());
        self.send(ClientMessage::signal(to, Signal::Hangup { reason }));
        self.end_call(EndReason::NoAnswer);
    }

    /// A call signal from `from`.
    pub(super) async fn signal(&mut self, from: PeerInfo, signal: Signal) {
        match signal {
            Signal::Ring => self.ring(from),
            Signal::Accept => {
                // Only once our ring went out: before, it can only answer an earlier call.
                let rang = matches!(self.phase, Phase::Calling { rang: Some(_), .. });
                if rang && self.phase.is_with(&from.id) {
                    self.begin(from, Role::Caller);
                } else if !self.phase.is_with(&from.id) {
                    // An answer to a call we no longer place: say so, or they wait forever.
                    let hangup = Signal::Hangup { reason: None };
                    self.send(ClientMessage::signal(from.id, hangup));
                }
            }
            Signal::Decline { reason } => {
                if matches!(&self.phase, Phase::Calling { with, .. } if with.id == from.id) {
                    self.end_call(match reason {
                        DeclineReason::Busy => EndReason::Busy,
                        DeclineReason::Declined => EndReason::Declined,
                    });
                }
            }
            Signal::Offer { sdp } => self.describe(&from.id, Description::Offer(sdp)).await,
            Signal::Answer { sdp } => self.describe(&from.id, Description::Answer(sdp)).await,
            Signal::Candidate { candidate } => {
                if let Phase::InCall(active) = &mut self.phase
                    && active.with.id == from.id
                {
                    active.peer.add_candidate(candidate).await;
                }
            }
            Signal::RestartIce => self.restart_asked(&from.id),
            Signal::Hangup { reason } => {
                if self.phase.is_with(&from.id) {
                    let no_answer = reason.as_deref() == Some(EndReason::NoAnswer.as_str());
                    let ringing =
                        matches!(self.phase, Phase::Ringing { .. } | Phase::Calling { .. });
                    self.end_call(if no_answer && ringing {
                        EndReason::NoAnswer
                    } else {
                        EndReason::RemoteHangup
                    });
                }
            }
        }
    }

    fn ring(&mut self, from: PeerInfo) {
        match &self.phase {
            Phase::Idle => {
                self.generation += 1;
                self.emitter.emit(
                    "incoming",
                    &object(&[
                        ("from", from.id.0.as_str().into()),
                        ("name", from.name.as_str().into()),
                    ]),
                );
                self.phase = Phase::Ringing {
                    _timer: self.ring_timer(),
                    with: from,
                };
                self.publish_state();
            }
            // We are ringing them. Still ringing each other: let the id order pick one call,
            // so the two rings end as exactly one call.
            Phase::Calling { with, .. } if with.id == from.id => {
                if self.me.as_ref().is_some_and(|me| me.id < from.id) {
                    // Ours yields: take theirs as if the person had accepted it. Ours is
                    // placed all the same: the two become one call.
                    if let Some(OnMedia::Ring(reply)) = self.on_media.take() {
                        answer(reply, Ok(JsValue::UNDEFINED));
                    }
                    self.with_media(OnMedia::Answer(from));
                }
                // Otherwise ours wins and theirs is dropped: they accept ours.
            }
            _ => {
                let reason = DeclineReason::Busy;
                self.send(ClientMessage::signal(from.id, Signal::Decline { reason }));
            }
        }
    }

    /// Takes the call from `with`: tells them, and waits for their offer.
    fn answer(&mut self, with: PeerInfo) {
        self.send(ClientMessage::signal(with.id.clone(), Signal::Accept));
        self.begin(with, Role::Callee);
    }

    /// Creates the peer connection for the call with `with` and attaches the local media:
    /// the caller offers at once, the callee waits for the offer.
    fn begin(&mut self, with: PeerInfo, role: Role) {
        let local = self.media.as_ref().and_then(|media| media.stream.clone());
        let started = self.new_peer(&with).and_then(|mut peer| {
            match role {
                Role::Caller => peer.start_as_caller(local.as_ref())?,
                Role::Callee => peer.start_as_callee(local),
            }
            Ok(peer)
        });
        match started {
            Ok(peer) => {
                self.phase = Phase::InCall(Box::new(self.active(with, peer)));
                self.publish_state();
            }
            Err(error) => {
                self.report(&error);
                let hangup = Signal::Hangup { reason: None };
                self.send(ClientMessage::signal(with.id, hangup));
                self.end_call(EndReason::Failed);
            }
        }
    }

    async fn describe(&mut self, from: &PeerId, description: Description) {
        let Phase::InCall(active) = &mut self.phase else {
            return;
        };
        if &active.with.id != from {
            return;
        }
        match active.peer.receive(description).await {
            Ok(Some(sdp)) => self.send(ClientMessage::signal(from.clone(), Signal::Answer { sdp })),
            Ok(None) => {}
            Err(error) => self.negotiation_failed(error),
        }
    }

    pub(super) async fn peer_event(&mut self, event: PeerEvent) {
        let Phase::InCall(active) = &mut self.phase else {
            return;
        };
        let to = active.with.id.clone();
        match event {
            PeerEvent::NegotiationNeeded => match active.peer.make_offer().await {
                Ok(Some(sdp)) => self.send(ClientMessage::signal(to, Signal::Offer { sdp })),
                Ok(None) => {}
                Err(error) => self.negotiation_failed(error),
            },
            PeerEvent::Candidate(candidate) => {
                self.send(ClientMessage::signal(to, Signal::Candidate { candidate }));
            }
            PeerEvent::Track(stream) => {
                if active.remote.contains(&stream.id()) {
                    return;
                }
                if active.remote.is_empty()
                    && let Some(video) = &self.options.remote_video
                {
                    show(Some(video), Some(&stream));
                    let playback = Playback::start(video.clone(), self.emitter.clone());
                    active.playback = Some(playback);
                }
                active.remote.push(stream.id());
                self.emitter.emit("remote-stream", &stream);
            }
            PeerEvent::DataChannel(channel) => self.emitter.emit("datachannel", &channel),
            PeerEvent::ConnectionState(state) => self.connection_state(&state),
        }
    }

    fn negotiation_failed(&mut self, error: Error) {
        self.report(&error);
        if let Some(with) = self.phase.with() {
            let to = with.id.clone();
            self.send(ClientMessage::signal(to, Signal::Hangup { reason: None }));
        }
        self.end_call(EndReason::Failed);
    }

    /// Ends the call: closes the connection (removing its listeners), stops the camera and
    /// microphone, clears the views, and tells the page.
    pub(super) fn end_call(&mut self, reason: EndReason) {
        if matches!(self.phase, Phase::Idle) {
            return;
        }
        if let Phase::InCall(active) = std::mem::replace(&mut self.phase, Phase::Idle) {
            let Active {
                transfers, chat, ..
            } = *active;
            self.end_transfers(transfers);
            let undelivered = chat.undelivered();
            if undelivered > 0 {
                let message = format!("{undelivered} chat message(s) could not be delivered");
                self.report(&Error::new(ErrorCode::InvalidState, message));
            }
        }
        self.generation += 1;
        // Devices still on their way are let go when they come (see `media_arrived`).
        if let Some(OnMedia::Ring(reply)) = self.on_media.take() {
            let error = Error::new(ErrorCode::InvalidState, "the call ended before it rang");
            answer(reply, Err::<JsValue, _>(error));
        }
        if let Some(media) = self.media.take() {
            media.stop();
        }
        show(self.options.local_video.as_ref(), None);
        show(self.options.remote_video.as_ref(), None);
        self.emit_ended(reason);
        self.publish_state();
    }

    fn new_peer(&self, with: &PeerInfo) -> Result<Peer, Error> {
        let me = self
            .me
            .as_ref()
            .ok_or_else(|| Error::new(ErrorCode::NotConnected, "not connected"))?;
        // Perfect negotiation roles: the lower id is polite. Both sides agree without talking.
        let polite = me.id < with.id;
        let generation = self.generation;
        let inputs = self.inputs.clone();
        Peer::new(
            &self.options.ice_servers,
            self.options.ice_transport_policy.as_deref(),
            polite,
            Rc::new(move |event| {
                let _ = inputs.unbounded_send(Input::Peer(generation, event));
            }),
        )
    }

    /// A call with `with` over `peer`, with its chat and file channels.
    fn active(&self, with: PeerInfo, peer: Peer) -> Active {
        let generation = self.generation;
        let (chat_inputs, file_inputs) = (self.inputs.clone(), self.inputs.clone());
        let chat = Chat::new(
            peer.pc(),
            Rc::new(move |event| {
                let _ = chat_inputs.unbounded_send(Input::Chat(generation, event));
            }),
        );
        let files = Rc::new(FileChannel::new(
            peer.pc(),
            Rc::new(move |event| {
                let _ = file_inputs.unbounded_send(Input::Files(generation, event));
            }),
        ));
        Active {
            with,
            peer,
            connected: false,
            remote: Vec::new(),
            recovery: None,
            chat,
            files,
            transfers: Transfers::default(),
            playback: None,
            _connect_deadline: self.recovery_timer(CONNECT_MS, Step::NeverConnected),
        }
    }

    fn ring_timer(&self) -> Timer {
        let generation = self.generation;
        let inputs = self.inputs.clone();
        Timer::new(self.options.ring_timeout_ms, move || {
            let _ = inputs.unbounded_send(Input::RingTimeout(generation));
        })
    }

    /// Does `then` once this call has the camera and microphone, asking for them (once) if
    /// need be. The session goes on meanwhile: a permission prompt may stay open for as
    /// long as the person likes, and hanging up or the other side giving up must still work.
    fn with_media(&mut self, then: OnMedia) {
        if self.media.is_some() {
            return self.proceed(then);
        }
        self.on_media = Some(then);
        if self.acquiring {
            return;
        }
        self.acquiring = true;
        let inputs = self.inputs.clone();
        let constraints = self.options.media.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let media = media::acquire(&constraints).await;
            if let Err(unheard) = inputs.unbounded_send(Input::Media(Box::new(media))) {
                // The session is gone: nobody will use the devices, so let them go.
                if let Input::Media(media) = unheard.into_inner() {
                    media.stop();
                }
            }
        });
    }

    /// getUserMedia answered: the call waiting for it goes on, and the page learns what it
    /// sends. With no call waiting any more, the devices are let go at once.
    pub(super) fn media_arrived(&mut self, media: media::LocalMedia) {
        self.acquiring = false;
        let Some(then) = self.on_media.take() else {
            media.stop();
            return;
        };
        media.set_enabled("audio", self.mic_enabled);
        media.set_enabled("video", self.camera_enabled);
        if let Some(problem) = &media.problem {
            self.report(problem);
        }
        show(self.options.local_video.as_ref(), media.stream.as_ref());
        if let Some(stream) = &media.stream {
            self.emitter.emit("local-stream", stream);
        }
        let sending = object(&[
            ("audio", media.has("audio").into()),
            ("video", media.has("video").into()),
        ]);
        self.emitter.emit("media", &sending);
        self.media = Some(media);
        self.proceed(then);
    }

    /// What the call does now that it has its media.
    fn proceed(&mut self, then: OnMedia) {
        match then {
            OnMedia::Ring(reply) => {
                let timer = self.ring_timer();
                if let Phase::Calling { with, rang } = &mut self.phase {
                    *rang = Some(timer);
                    let to = with.id.clone();
                    self.send(ClientMessage::signal(to, Signal::Ring));
                    answer(reply, Ok(JsValue::UNDEFINED));
                }
            }
            OnMedia::Answer(from) => {
                let waiting = matches!(self.phase, Phase::Calling { .. } | Phase::Ringing { .. });
                if waiting && self.phase.is_with(&from.id) {
                    self.answer(from);
                }
            }
        }
    }
}

fn show(video: Option<&HtmlVideoElement>, stream: Option<&MediaStream>) {
    if let Some(video) = video {
        video.set_src_object(stream);
        if stream.is_none() {
            // Drop the last frame too, so an ended call leaves an empty stage.
            video.load();
        }
    }
}
