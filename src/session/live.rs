//! A call that was accepted: its peer connection, chat and file channels, ICE recovery
//! and transfers, owned together and dropped together.

use std::rc::Rc;

use protocol::{CallId, ClientMessage, PeerInfo, Signal};
use wasm_bindgen::JsValue;
use web_sys::{HtmlVideoElement, MediaStream, MediaStreamTrack};

use super::{
    action::Actions,
    input::{CallInput, Wake},
    link::Link,
    options::Options,
    pace::Pace,
    recovery::{IceRecovery, Step, Verdict},
    transfers::{TransferNumbers, Transfers},
};
use crate::{
    channel::{
        chat::{Chat, ChatEvent, MediaState},
        files::{FileChannel, chunk_size},
    },
    error::{Error, ErrorCode},
    event::{EndReason, Event, State, StreamKind, TransferId},
    js::Timer,
    media::playback::Playback,
    peer::{Description, IceRestart, IceRole, Peer, PeerEvent, quality::Meter},
    words::decimal,
};

/// What a live connection is handed: an input of its own, or a signal from the other
/// side. The session hands it over in one place, so that its negotiation is one state
/// machine however many connections there are.
pub enum Work {
    /// From its connection, channels, timers or transfers.
    Input(CallInput),
    /// From the other side, through the server.
    Signal(Signal),
}

/// Which side of the call this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Placed the call: makes the first offer.
    Caller,
    /// Took the call: answers it.
    Callee,
}

/// What a new connection is made with.
pub struct PeerSetup<'a> {
    /// `RTCIceServer[]`.
    pub ice_servers: &'a JsValue,
    /// `all` or `relay`.
    pub ice_transport_policy: Option<&'a str>,
    /// Perfect negotiation's polite side.
    pub polite: bool,
    /// Where the other side is shown.
    pub show: Show<'a>,
    /// Numbers its file transfers, as all of the session's.
    pub transfer_numbers: &'a TransferNumbers,
    /// How long it may take to connect the first time (ms).
    pub connect_ms: u32,
}

/// Where a new connection's remote media goes.
#[derive(Clone, Copy)]
pub enum Show<'a> {
    /// A two-person call: into the page's remote `<video>`, if it gave one.
    Pair(Option<&'a HtmlVideoElement>),
    /// The room call's mesh: to the page, which lays it out.
    Mesh,
}

impl<'a> PeerSetup<'a> {
    /// How a connection with `with` is made: the lower id is polite, so both sides agree
    /// on perfect negotiation's roles without talking. The page's ICE servers if it gave
    /// any, else the server's. Its transfers are numbered by `transfer_numbers`.
    pub fn new(
        options: &'a Options,
        link: &'a Link,
        with: &PeerInfo,
        transfer_numbers: &'a TransferNumbers,
    ) -> Self {
        let me = link.me();
        Self {
            ice_servers: options.ice_servers.as_ref().unwrap_or(link.ice_servers()),
            ice_transport_policy: options.ice_transport_policy.as_deref(),
            polite: me.is_some_and(|me| me.id < with.id),
            show: Show::Pair(options.remote_video.as_ref()),
            transfer_numbers,
            connect_ms: options.connect_timeout_ms,
        }
    }

    /// The same, for a member of the room call: its media is the page's to lay out.
    pub fn in_mesh(mut self) -> Self {
        self.show = Show::Mesh;
        self
    }
}

/// Where the other side's media goes.
enum Shown {
    /// A two-person call: the first remote stream plays in the page's remote `<video>`
    /// (once it does, `playback` watches it), and each is announced as `remote-stream`.
    Pair {
        remote_video: Option<HtmlVideoElement>,
        playback: Option<Playback>,
    },
    /// A member of the room call: each stream is announced as `participant-stream`, and
    /// the page lays them out.
    Mesh,
}

/// An accepted call's connection and what rides on it.
pub struct Live {
    /// The call's id on the wire.
    call: Option<CallId>,
    /// Which side of it this is.
    role: Role,
    peer: Peer,
    recovery: IceRecovery,
    /// The remote streams announced so far, and what each carries.
    remote: Vec<(MediaStream, StreamKind)>,
    /// What the other side last said it sends.
    heard: Option<MediaState>,
    /// Reads its statistics.
    meter: Meter,
    chat: Chat,
    transfers: Transfers,
    /// What the other side's channels may cost the page.
    pace: Pace,
    shown: Shown,
    wake: Wake,
}

impl Live {
    /// Connects call `call` as `role`, sending `local`; what happens reaches `wake`.
    pub fn start(
        setup: &PeerSetup,
        role: Role,
        local: Option<MediaStream>,
        call: Option<CallId>,
        wake: Wake,
    ) -> Result<Self, Error> {
        let on_peer = wake.clone();
        let mut peer = Peer::new(
            setup.ice_servers,
            setup.ice_transport_policy,
            setup.polite,
            Rc::new(move |event| on_peer(CallInput::Peer(event))),
        )?;
        match role {
            Role::Caller => peer.start_as_caller(local.as_ref())?,
            Role::Callee => peer.start_as_callee(local),
        }
        let (on_chat, on_files, on_transfer) = (wake.clone(), wake.clone(), wake.clone());
        let chat = Chat::new(
            peer.pc(),
            Rc::new(move |event| on_chat(CallInput::Chat(event))),
        );
        let files = FileChannel::new(
            peer.pc(),
            Rc::new(move |event| on_files(CallInput::Files(event))),
        );
        let transfers = Transfers::new(
            files,
            Rc::new(move |input| on_transfer(CallInput::Transfer(input))),
            setup.transfer_numbers.clone(),
        );
        Ok(Self {
            call,
            role,
            recovery: IceRecovery::new(setup.connect_ms, &schedule(&wake)),
            peer,
            remote: Vec::new(),
            heard: None,
            meter: Meter::default(),
            chat,
            transfers,
            pace: Pace::default(),
            shown: match setup.show {
                Show::Pair(video) => Shown::Pair {
                    remote_video: video.cloned(),
                    playback: None,
                },
                Show::Mesh => Shown::Mesh,
            },
            wake,
        })
    }

    /// The call grew into the room call: what `with` sends is announced as theirs, and
    /// the page's remote `<video>` is left for the page to use.
    pub fn join_mesh(&mut self, with: &PeerInfo, out: &mut Actions) {
        if let Shown::Pair { remote_video, .. } = &self.shown {
            crate::media::show(remote_video.as_ref(), None);
        }
        self.shown = Shown::Mesh;
        for (stream, kind) in &self.remote {
            out.emit(Event::ParticipantStream {
                id: with.id.clone(),
                stream: Clone::clone(stream),
                kind: *kind,
            });
        }
    }

    /// Announces `stream` of `with` as carrying `kind`.
    fn announce(
        &mut self,
        stream: MediaStream,
        kind: StreamKind,
        with: &PeerInfo,
        out: &mut Actions,
    ) {
        match &mut self.shown {
            Shown::Pair {
                remote_video,
                playback,
            } => {
                // The first camera plays in the page's remote `<video>`.
                if kind == StreamKind::Camera
                    && playback.is_none()
                    && let Some(video) = remote_video
                {
                    video.set_src_object(Some(&stream));
                    let wake = self.wake.clone();
                    let blocked = move |error| wake(CallInput::Autoplay(error));
                    *playback = Some(Playback::start(video.clone(), blocked));
                }
                out.emit(Event::RemoteStream(stream, kind));
            }
            Shown::Mesh => out.emit(Event::ParticipantStream {
                id: with.id.clone(),
                stream,
                kind,
            }),
        }
    }

    /// The other side says what it sends: its mute marks, and whether (and in which
    /// stream) it shares a screen.
    fn heard_media(&mut self, state: MediaState, with: &PeerInfo, out: &mut Actions) {
        let before = self.heard.replace(state.clone());
        let id = || with.id.clone();
        let marks = |s: &MediaState| (s.audio, s.video);
        if before.as_ref().map(marks) != Some(marks(&state)) {
            out.emit(Event::ParticipantMedia {
                id: id(),
                audio: state.audio,
                video: state.video,
            });
        }
        let shared_before = before.and_then(|s| s.screen);
        if shared_before == state.screen {
            return;
        }
        if shared_before.is_some() {
            out.emit(Event::ShareEnded(id()));
        }
        if let Some(screen) = &state.screen {
            out.emit(Event::ShareStarted(id()));
            // Its media came first and was taken for a camera: announced again, rightly.
            let known = self
                .remote
                .iter_mut()
                .find(|(stream, kind)| stream.id() == *screen && *kind == StreamKind::Camera);
            if let Some((stream, kind)) = known {
                *kind = StreamKind::Screen;
                let stream = Clone::clone(stream);
                self.announce(stream, StreamKind::Screen, with, out);
                // On a room call's new connection the screen's media always comes before
                // the word, after the camera's: the camera (the first stream) is announced
                // again, so that the last stream the page heard of as the participant's
                // camera is their camera, with its sound. (A two-person call's screen
                // starts in a call whose camera plays already.)
                let camera = (self.remote.iter())
                    .find(|(_, kind)| *kind == StreamKind::Camera)
                    .map(|(stream, _)| Clone::clone(stream));
                if let (Shown::Mesh, Some(camera)) = (&self.shown, camera) {
                    self.announce(camera, StreamKind::Camera, with, out);
                }
            }
        }
    }

    /// Reads the connection's statistics; the report comes back as an input.
    pub fn sample(&self, detail: bool, quality: bool) {
        let wake = self.wake.clone();
        crate::js::when_settled(
            self.peer.stats(),
            Box::new(move |result| {
                if let Ok(report) = result {
                    wake(CallInput::Stats {
                        report,
                        detail,
                        quality,
                    });
                }
            }),
        );
    }

    /// Tells the other side what we send, if that changed.
    pub fn tell_media(&mut self, state: &MediaState) {
        self.chat.tell_media(state);
    }

    /// The API state of the call.
    pub fn state(&self) -> State {
        self.recovery.state()
    }

    /// Whether this side took the call and no offer has reached the connection yet.
    pub fn awaits_first_offer(&self) -> bool {
        self.role == Role::Callee
            && self.state() == State::Connecting
            && self.peer.pc().remote_description().is_none()
    }

    /// Which side of the call this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the other side said it shares a screen.
    pub fn shares_screen(&self) -> bool {
        self.heard
            .as_ref()
            .is_some_and(|state| state.screen.is_some())
    }

    /// Does `work`, for the connection with `with`.
    pub async fn handle(&mut self, work: Work, with: &PeerInfo, out: &mut Actions) {
        match work {
            Work::Input(input) => self.input(input, with, out).await,
            Work::Signal(signal) => self.signal(signal, with, out).await,
        }
    }

    /// An input of this call's connection, channels or transfers.
    async fn input(&mut self, input: CallInput, with: &PeerInfo, out: &mut Actions) {
        match input {
            CallInput::Peer(event) => self.peer_event(event, with, out).await,
            CallInput::Recovery(step) => {
                let verdict = self.recovery.step(step);
                self.follow(verdict, with, out);
            }
            CallInput::Chat(ChatEvent::Open) => self.chat.flush(),
            CallInput::Chat(ChatEvent::Media(state)) => self.heard_media(state, with, out),
            CallInput::Chat(ChatEvent::Message { text, at }) => {
                if self.pace.chat(&with.name, out) {
                    out.emit(Event::Text {
                        from: with.clone(),
                        text,
                        at,
                    });
                }
            }
            CallInput::Chat(ChatEvent::Invalid(error)) => self.pace.complain(error, out),
            CallInput::Autoplay(error) => out.report(error),
            CallInput::Files(event) => {
                let chunk = chunk_size(self.peer.pc());
                let heard = (&with.id, &mut self.pace);
                self.transfers.file_event(event, chunk, heard, out);
            }
            CallInput::Transfer(input) => self.transfers.input(input, out),
            CallInput::Stats {
                report,
                detail,
                quality,
            } => {
                let figures = self.meter.read(&report);
                // The first reading has nothing to compare with: no mark yet.
                if let Some(mark) = figures.quality.filter(|_| quality) {
                    out.emit(Event::Quality(with.id.clone(), mark));
                }
                if detail {
                    out.emit(Event::Stats(with.id.clone(), figures));
                }
            }
            CallInput::RingTimeout => {}
        }
    }

    /// `signal` of this call, to `with`.
    fn to(&self, with: &PeerInfo, signal: Signal) -> ClientMessage {
        ClientMessage::signal(with.id.clone(), self.call.clone(), signal)
    }

    async fn peer_event(&mut self, event: PeerEvent, with: &PeerInfo, out: &mut Actions) {
        match event {
            PeerEvent::NegotiationNeeded => match self.peer.make_offer().await {
                Ok(Some(sdp)) => out.send(self.to(with, Signal::Offer { sdp })),
                Ok(None) => {}
                Err(error) => self.give_up(error, with, out),
            },
            PeerEvent::Candidate(candidate) => {
                out.send(self.to(with, Signal::Candidate { candidate }));
            }
            PeerEvent::Track(stream) => {
                let id = stream.id();
                if self.remote.iter().any(|(known, _)| known.id() == id) {
                    return;
                }
                let screen = self.heard.as_ref().and_then(|s| s.screen.as_ref());
                let kind = if screen == Some(&id) {
                    StreamKind::Screen
                } else {
                    StreamKind::Camera
                };
                self.remote.push((Clone::clone(&stream), kind));
                self.announce(stream, kind, with, out);
            }
            PeerEvent::DataChannel(channel) => out.emit(Event::DataChannel(channel)),
            PeerEvent::ConnectionState(state) => {
                let verdict = self
                    .recovery
                    .connection_state(&state, &schedule(&self.wake));
                self.follow(verdict, with, out);
            }
        }
    }

    /// A signal of the call's negotiation from the other side.
    async fn signal(&mut self, signal: Signal, with: &PeerInfo, out: &mut Actions) {
        let description = match signal {
            Signal::Offer { sdp } => Description::Offer(sdp),
            Signal::Answer { sdp } => Description::Answer(sdp),
            Signal::Candidate { candidate } => return self.peer.add_candidate(candidate),
            Signal::RestartIce => {
                // The callee asks: the caller restarts, unless a restart is under way.
                if self.peer.ice_role() == IceRole::Controlling && !self.recovery.is_restarting() {
                    self.restart(with, out);
                }
                return;
            }
            _ => return,
        };
        match self.peer.receive(description).await {
            Ok(Some(sdp)) => out.send(self.to(with, Signal::Answer { sdp })),
            Ok(None) => {}
            Err(error) => self.give_up(error, with, out),
        }
    }

    /// Fresh TURN credentials: used from an ICE restart made now, so that a relayed path
    /// outlives the credentials it began with.
    pub fn refresh_ice(&mut self, ice_servers: &JsValue, with: &PeerInfo, out: &mut Actions) {
        self.peer.reconfigure(ice_servers);
        if !self.recovery.is_restarting() {
            self.restart(with, out);
        }
    }

    /// Restarts ICE now (the page asked, or the connection dropped) and gives it a
    /// bounded time to work.
    pub fn restart(&mut self, with: &PeerInfo, out: &mut Actions) {
        if self.peer.restart_ice() == IceRestart::ByTheCaller {
            out.send(self.to(with, Signal::RestartIce));
        }
        let healthy = self.peer.state() == "connected";
        self.recovery.restarted(healthy, &schedule(&self.wake));
    }

    fn follow(&mut self, verdict: Verdict, with: &PeerInfo, out: &mut Actions) {
        let error = match verdict {
            Verdict::Wait => return,
            Verdict::Restart => return self.restart(with, out),
            Verdict::NeverConnected => never_connected(with),
            Verdict::Lost => dropped(with),
        };
        self.give_up(error, with, out);
    }

    /// The connection cannot go on. A two-person call ends ([`fail`]); a connection of
    /// the room call says why and ends, and the room call decides what the other side
    /// hears: it makes the connection again, or lets the member go.
    fn give_up(&self, error: Error, with: &PeerInfo, out: &mut Actions) {
        match self.shown {
            Shown::Mesh => {
                out.report(error);
                out.end(EndReason::Failed);
            }
            Shown::Pair { .. } => fail(error, with, self.call.as_ref(), out),
        }
    }

    /// The other side gave the call up as failed: so does this side, in the same words.
    pub fn failed_there(&self, with: &PeerInfo, out: &mut Actions) {
        out.report(self.failure_there(with));
        out.end(EndReason::Failed);
    }

    /// Why the other side gave the connection up, in the words this side would use.
    pub fn failure_there(&self, with: &PeerInfo) -> Error {
        match self.state() {
            State::Connecting => never_connected(with),
            _ => dropped(with),
        }
    }

    /// Sends a chat message; returns its timestamp.
    pub fn send_text(&mut self, text: &str) -> Result<f64, Error> {
        self.chat.send(text)
    }

    /// Offers `file`; returns the transfer's id.
    pub fn send_file(&mut self, file: web_sys::File) -> Result<TransferId, Error> {
        self.transfers.send(file)
    }

    /// The transfers of the call.
    pub fn transfers(&mut self) -> &mut Transfers {
        &mut self.transfers
    }

    /// Sends `track` too (renegotiates).
    pub fn add_track(&mut self, track: &MediaStreamTrack, stream: &MediaStream) {
        self.peer.add_track(track, stream);
    }

    /// Sends `new` in place of `old` (no renegotiation).
    pub fn replace_track(&mut self, old: &MediaStreamTrack, new: &MediaStreamTrack) {
        self.peer.replace_track(old, new);
    }

    /// Stops sending `track` (renegotiates).
    pub fn remove_track(&mut self, track: &MediaStreamTrack) {
        self.peer.remove_track(track);
    }

    /// The connection, for what a page asks of it directly.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// The call is over: what was under way ends with it.
    pub fn finish(self, out: &mut Actions) {
        let Self {
            transfers,
            chat,
            shown,
            peer,
            ..
        } = self;
        transfers.end(out);
        let undelivered = chat.undelivered();
        if undelivered > 0 {
            let message = [
                &decimal(undelivered as u64),
                " chat message(s) could not be delivered",
            ]
            .concat();
            out.report(Error::new(ErrorCode::InvalidState, message));
        }
        // The channels close before the connection does.
        drop((chat, shown));
        drop(peer);
    }
}

/// A connection that never came up, in words.
fn never_connected(with: &PeerInfo) -> Error {
    let message = ["could not connect to ", &with.name].concat();
    Error::new(ErrorCode::NegotiationFailed, message)
}

/// A connection that was up and is gone, in words.
fn dropped(with: &PeerInfo) -> Error {
    let message = [
        "the connection to ",
        &with.name,
        " dropped and did not come back",
    ]
    .concat();
    Error::new(ErrorCode::NegotiationFailed, message)
}

/// The call cannot go on: say why, tell the other side (a `hangup` with reason `failed`),
/// end it.
pub fn fail(error: Error, with: &PeerInfo, call: Option<&CallId>, out: &mut Actions) {
    out.report(error);
    let reason = Some(EndReason::Failed.as_str().to_owned());
    out.send(ClientMessage::signal(
        with.id.clone(),
        call.cloned(),
        Signal::Hangup { reason },
    ));
    out.end(EndReason::Failed);
}

/// Recovery timers that come back as this call's inputs.
fn schedule(wake: &Wake) -> impl Fn(u32, Step) -> Timer + use<> {
    let wake = wake.clone();
    move |millis, step| {
        let wake = wake.clone();
        Timer::new(millis, move || wake(CallInput::Recovery(step)))
    }
}
