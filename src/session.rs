//! The session: the one owner of the call state.
//!
//! Browser callbacks, signaling, timers and API commands all become [`Input`]s on one
//! channel; a single task takes them one at a time, routes each to the part it concerns
//! (the [`link`] to the server, the [`call`], the [`devices`]), carries out the
//! [`action`]s they return, and publishes the state once per input. Nothing else changes
//! the state, so there are no re-entrant borrows and negotiation steps never interleave.

pub mod action;
mod call;
pub mod command;
mod devices;
mod group;
pub mod input;
mod link;
mod live;
mod options;
mod pace;
mod presence;
mod recovery;
mod transfers;

use std::{cell::RefCell, rc::Rc};

use crate::queue::{self, Receiver, Sender};
use wasm_bindgen::JsValue;

use protocol::{CallId, ClientMessage, DeclineReason, PeerId, PeerInfo, Signal};

use self::{
    action::{Action, Actions},
    call::Call,
    command::{Command, answer},
    devices::{Devices, Swap, Then},
    group::{Connector, Group},
    input::{CallInput, Input, Wake},
    link::{Credentials, Heard, Link},
    live::{Live, PeerSetup, Work},
    transfers::{TransferInput, TransferNumbers},
};
pub use self::{devices::Pick, options::Options};
use crate::{
    error::{Error, ErrorCode},
    event::{Emitter, EndReason, Event, LeftReason, State},
    js::Timer,
    media::show,
};

/// Why there is no room call to join or invite to outside a named room.
const NO_ROOM_CALL: &str = "the default room has no room call: use a named room";

/// The refusal of a command that needs a call, outside one.
fn no_call(what: &str) -> Error {
    Error::new(ErrorCode::InvalidState, ["no call to ", what].concat())
}

/// How often the connections' statistics are read (ms).
const SAMPLE_EVERY_MS: u32 = 1_000;

/// Every how many readings each connection's mark goes to the page (`quality`).
const QUALITY_EVERY: u32 = 3;

/// Commands kept while a call is being accepted; a page that sends more is refused.
const MAX_DEFERRED: usize = 64;

/// What the page can read at any time without asking the session.
pub struct Snapshot {
    /// The API state.
    pub state: State,
    /// Our id, while logged in.
    pub id: Option<String>,
}

/// Starts a session task; returns the way in and a view of its state.
pub fn start(options: Options, emitter: Rc<Emitter>) -> (Sender<Input>, Rc<RefCell<Snapshot>>) {
    let (inputs, queue) = queue::queue();
    let snapshot = Rc::new(RefCell::new(Snapshot {
        state: State::Offline,
        id: None,
    }));
    let link_inputs = inputs.clone();
    let session = Session {
        link: Link::new(
            options.url.clone(),
            Credentials {
                name: options.name.clone(),
                room: options.room.clone(),
                token: options.token.clone(),
                password: options.password.clone(),
            },
            options.heartbeat_ms,
            Rc::new(move |generation, input| {
                let _ = link_inputs.send(Input::Link(generation, input));
            }),
        ),
        devices: Devices::new(options.media.clone(), options.local_video.clone(), &inputs),
        options,
        emitter,
        inputs: inputs.clone(),
        snapshot: snapshot.clone(),
        engaged: None,
        calls: 0,
        transfer_numbers: TransferNumbers::default(),
        deferred: Vec::new(),
        watching: false,
        sampling: None,
        samples: 0,
    };
    wasm_bindgen_futures::spawn_local(session.run(queue));
    (inputs, snapshot)
}

/// The call the session is in.
enum Engaged {
    /// A call with one other person: placed, ringing, or live.
    Pair(Call),
    /// The room call.
    Group(Group),
}

/// Which live connection a piece of [`Work`] is for.
enum Target {
    /// The one numbered so (its own inputs).
    Number(u32),
    /// The one with this peer (their signals).
    Peer(PeerId),
}

/// Of `connections`, the one with `who`, or the only one.
fn one<'a>(
    connections: Vec<(&'a mut Live, &'a PeerInfo)>,
    who: Option<&PeerId>,
) -> Result<&'a mut Live, Error> {
    let count = connections.len();
    let found = connections
        .into_iter()
        .find(|(_, with)| who.is_none_or(|who| with.id == *who))
        .filter(|_| who.is_some() || count == 1)
        .map(|(live, _)| live);
    match (found, who) {
        (Some(live), _) => Ok(live),
        (None, Some(_)) => Err(Error::new(
            ErrorCode::InvalidState,
            "no participant with that id in the call",
        )),
        (None, None) if count > 1 => Err(Error::new(
            ErrorCode::InvalidState,
            "in a room call, name the participant",
        )),
        (None, None) => Err(Error::new(ErrorCode::InvalidState, "no call to use")),
    }
}

/// How connection (or call) number `number` reaches the session.
fn wake(inputs: &Sender<Input>, number: u32) -> Wake {
    let inputs = inputs.clone();
    Rc::new(move |input| {
        let _ = inputs.send(Input::Call(number, input));
    })
}

/// The session task's state: each part has one owner.
struct Session {
    options: Options,
    emitter: Rc<Emitter>,
    inputs: Sender<Input>,
    snapshot: Rc<RefCell<Snapshot>>,
    link: Link,
    devices: Devices,
    engaged: Option<Engaged>,
    /// Numbers calls and the room call's connections, so late inputs of an ended one
    /// are ignored.
    calls: u32,
    /// Numbers the file transfers of every call and connection.
    transfer_numbers: TransferNumbers,
    /// Commands for the call being accepted, kept until it begins or ends.
    deferred: Vec<Command>,
    /// The page asked for the figures of every connection once a second.
    watching: bool,
    /// Wakes the session to read the connections' statistics, while there are any.
    sampling: Option<Timer>,
    /// Readings so far: every third one also gives each connection's mark.
    samples: u32,
}

impl Session {
    async fn run(mut self, queue: Receiver<Input>) {
        loop {
            let input = match queue.try_next() {
                Some(input) => input,
                // Nothing waits: a good moment to say what was handled.
                None => {
                    self.link.acknowledge();
                    queue.next().await
                }
            };
            let mut out = Actions::default();
            let work = match input {
                Input::Command(Command::Close) => break,
                Input::Command(command) => {
                    self.command(command, &mut out);
                    None
                }
                Input::Link(generation, input) => self
                    .link
                    .input(generation, input, &mut out)
                    .and_then(|heard| self.heard(heard, &mut out)),
                Input::Call(id, input) => self.call_input(id, input, &mut out),
                Input::Media(media) => {
                    if let Some(then) = self.devices.arrived(*media, &mut out) {
                        self.proceed(then, &mut out);
                    }
                    None
                }
                Input::Screen(screen) => {
                    self.screen_arrived(screen, &mut out);
                    None
                }
                Input::ScreenEnded => {
                    self.stop_share(&mut out);
                    None
                }
                Input::Device(kind, track, reply) => {
                    let swap = self.devices.fetched(kind, track, reply, &mut out);
                    self.swap(swap, &mut out);
                    None
                }
                Input::DevicesChanged => {
                    let inputs = self.inputs.clone();
                    crate::media::choice::list(Box::new(move |list| {
                        if let Ok(list) = list {
                            let _ = inputs.send(Input::DeviceList(list));
                        }
                    }));
                    None
                }
                Input::DeviceList(list) => {
                    self.devices.listed(list, &self.inputs, &mut out);
                    None
                }
                Input::StatsTick => {
                    self.sample();
                    None
                }
            };
            if let Some((target, work)) = work {
                self.work(target, work, &mut out).await;
            }
            self.act(out);
            if !self.deferred.is_empty() && !self.devices.is_answering() {
                self.run_deferred();
            }
            self.tell_media();
            self.keep_sampling();
            self.publish_state();
        }
        let mut out = Actions::default();
        self.hang_up(&mut out);
        self.act(out);
        self.link.close();
        self.run_deferred();
        self.publish_state();
        // Nothing more is told: the page's handlers, which may hold the page's `PeerCall`,
        // are let go, so that a closed one is freed.
        self.emitter.clear();
        // Devices, screens and tracks that came too late for anyone are let go.
        queue.close();
        while let Some(input) = queue.try_next() {
            match input {
                Input::Media(media) => media.stop(),
                Input::Screen(Ok(stream)) => crate::media::stop(&stream),
                Input::Device(_, Ok(track), _) => track.stop(),
                _ => {}
            }
        }
    }

    /// The two-person call, if that is what we are in.
    fn pair(&mut self) -> Option<&mut Call> {
        match &mut self.engaged {
            Some(Engaged::Pair(call)) => Some(call),
            _ => None,
        }
    }

    /// The room call, if that is what we are in.
    fn group(&mut self) -> Option<&mut Group> {
        match &mut self.engaged {
            Some(Engaged::Group(group)) => Some(group),
            _ => None,
        }
    }

    /// Every live connection, and who it is with.
    fn connections(&mut self) -> Vec<(&mut Live, &PeerInfo)> {
        match &mut self.engaged {
            Some(Engaged::Pair(call)) => call.connection().into_iter().collect(),
            Some(Engaged::Group(group)) => group.connections(),
            None => Vec::new(),
        }
    }

    /// Every connection tells the other side what we send, if that changed.
    fn tell_media(&mut self) {
        // Nothing is said while the devices are still coming: not yet off, nor muted.
        if self.devices.is_answering() {
            return;
        }
        let state = self.devices.media_state();
        for (live, _) in self.connections() {
            live.tell_media(&state);
        }
    }

    /// Reads every connection's statistics each second (the rates of a mark need the
    /// reading before it): the figures go to the page while it watches, the marks every
    /// third second.
    fn sample(&mut self) {
        self.sampling = None;
        self.samples = self.samples.wrapping_add(1);
        let (detail, quality) = (self.watching, self.samples.is_multiple_of(QUALITY_EVERY));
        for (live, _) in self.connections() {
            live.sample(detail, quality);
        }
    }

    /// Keeps the statistics timer running while there are connections, and only then.
    fn keep_sampling(&mut self) {
        if self.connections().is_empty() {
            self.sampling = None;
        } else if self.sampling.is_none() {
            let inputs = self.inputs.clone();
            self.sampling = Some(Timer::new(SAMPLE_EVERY_MS, move || {
                let _ = inputs.send(Input::StatsTick);
            }));
        }
    }

    /// The screen the person chose: it goes out on every connection.
    fn screen_arrived(&mut self, screen: Result<web_sys::MediaStream, Error>, out: &mut Actions) {
        // A room call goes on while we are alone in it: newcomers get the screen too.
        let in_call = self.engaged.is_some();
        let me = self.link.me().map(|me| &me.id);
        let Some(shared) = self
            .devices
            .screen_arrived(screen, in_call, me, &self.inputs)
        else {
            return;
        };
        let (track, stream) = (Clone::clone(&shared.track), Clone::clone(&shared.stream));
        let announced = shared.announced.clone();
        for (live, _) in self.connections() {
            live.add_track(&track, &stream);
        }
        if let Some(me) = announced {
            out.emit(Event::ShareStarted(me));
        }
    }

    /// A camera or microphone was switched: every connection sends the new track.
    fn swap(&mut self, swap: Option<Swap>, out: &mut Actions) {
        match swap {
            Some(Swap::Replaced { old, new }) => {
                for (live, _) in self.connections() {
                    live.replace_track(&old, &new);
                }
                old.stop();
            }
            Some(Swap::Added { track, stream }) => {
                for (live, _) in self.connections() {
                    live.add_track(&track, &stream);
                }
                // The page learns what it sends now.
                let has = |kind: &str| crate::media::tracks_of(&stream).any(|t| t.kind() == kind);
                let (audio, video) = (has("audio"), has("video"));
                out.emit(Event::LocalStream(stream));
                out.emit(Event::Media { audio, video });
            }
            None => {}
        }
    }

    /// We stop sharing the screen, if we share one.
    fn stop_share(&mut self, out: &mut Actions) {
        let Some(screen) = self.devices.stop_share() else {
            return;
        };
        for (live, _) in self.connections() {
            live.remove_track(&screen.track);
        }
        if let Some(me) = screen.announced {
            out.emit(Event::ShareEnded(me));
        }
    }

    /// We end whatever call we are in.
    fn hang_up(&mut self, out: &mut Actions) {
        match &mut self.engaged {
            Some(Engaged::Pair(call)) => call.hang_up(out),
            Some(Engaged::Group(group)) => group.leave(out),
            None => {}
        }
    }

    /// Hands `work` to the live connection it is for: the one place a connection's
    /// negotiation is awaited. What would end a two-person call ends only one connection
    /// of the room call.
    async fn work(&mut self, target: Target, work: Work, out: &mut Actions) {
        let connection = match (&mut self.engaged, &target) {
            (Some(Engaged::Pair(call)), Target::Number(id)) if call.id() != *id => None,
            (Some(Engaged::Pair(call)), _) => call.connection(),
            (Some(Engaged::Group(group)), Target::Number(id)) => group.numbered(*id),
            (Some(Engaged::Group(group)), Target::Peer(id)) => group.with(id),
            (None, _) => None,
        };
        let Some((live, with)) = connection else {
            return;
        };
        let with = with.clone();
        let mut own = Actions::default();
        live.handle(work, &with, &mut own).await;
        match self.connector() {
            (Some(group), mut connector) => group.contain(&with.id, own, &mut connector, out),
            (None, _) => {
                for action in own.take() {
                    out.push(action);
                }
            }
        }
    }

    /// An input of call (or connection) number `id`: what its connection is to do.
    fn call_input(
        &mut self,
        id: u32,
        input: CallInput,
        out: &mut Actions,
    ) -> Option<(Target, Work)> {
        match (&mut self.engaged, input) {
            (Some(Engaged::Pair(call)), input) if call.id() == id => call
                .input(input, out)
                .map(|work| (Target::Number(id), work)),
            (Some(Engaged::Group(group)), input) if group.has_number(id) => {
                Some((Target::Number(id), Work::Input(input)))
            }
            // A file checked after its call ended, or after its connection of the room call
            // ended (the sender left, the connection was made again), is handed over all
            // the same: it is whole.
            (_, CallInput::Transfer(TransferInput::Checked(checked))) => {
                transfers::handed_over(*checked, out);
                None
            }
            // Late news from a call that has ended.
            _ => None,
        }
    }

    fn command(&mut self, command: Command, out: &mut Actions) {
        if self.devices.is_answering()
            && command.needs_call()
            && (command.needs_devices() || self.connections().is_empty())
        {
            // After accept() the page may use the call at once: what needs the camera and
            // microphone (or a connection not made yet) waits until they are here.
            if self.deferred.len() < MAX_DEFERRED {
                self.deferred.push(command);
            } else {
                let message = "too many commands wait for the call to begin";
                command.refuse(Error::new(ErrorCode::InvalidState, message));
            }
            return;
        }
        match command {
            Command::Connect(reply) => self.link.connect(reply),
            Command::Call(to, reply) => match self.link.callee(&to, self.engaged.is_some()) {
                Ok(with) => {
                    self.calls += 1;
                    let call = Call::place(self.calls, with, wake(&self.inputs, self.calls));
                    self.engaged = Some(Engaged::Pair(call));
                    self.want(Then::Ring(reply), out);
                }
                Err(error) => answer(reply, Err::<JsValue, _>(error)),
            },
            Command::JoinCall(reply) => {
                if let Err(error) = self.can_join() {
                    return answer(reply, Err::<JsValue, _>(error));
                }
                let group = Group::joining(reply, self.options.video_budget_kbps);
                self.engaged = Some(Engaged::Group(group));
                self.want(Then::Join, out);
            }
            // Whatever call we are in.
            Command::LeaveCall | Command::Hangup => self.hang_up(out),
            Command::Invite(to) => self.invite(to, out),
            // Taken already, its devices still coming: nothing more to do.
            Command::Accept if self.devices.is_answering() => {}
            Command::Accept => match self.pair().filter(|call| call.is_incoming()) {
                Some(call) => {
                    let from = call.with().clone();
                    self.want(Then::Answer(from), out);
                    // The devices are still to come (the permission prompt open, say): the
                    // call is taken now, so that it rings no more on either side, and they
                    // join its connection when they come.
                    if let Some(Engaged::Pair(call)) = &mut self.engaged
                        && call.is_incoming()
                    {
                        let setup = PeerSetup::new(
                            &self.options,
                            &self.link,
                            call.with(),
                            &self.transfer_numbers,
                        );
                        call.answer(&setup, None, out);
                    }
                }
                None => out.report(no_call("accept")),
            },
            Command::Decline => {
                let answering = self.devices.is_answering();
                match self.pair().filter(|call| call.is_incoming()) {
                    Some(call) => call.decline(out),
                    // Taken, its devices still coming: the person changed their mind.
                    None if answering => self.hang_up(out),
                    None => {}
                }
            }
            Command::SetMic(enabled) => self.devices.set_mic(enabled),
            Command::SetCamera(enabled) => self.devices.set_camera(enabled),
            Command::SetToken(token) => self.link.set_token(token),
            Command::ShareScreen(reply) => {
                if self.connections().is_empty() {
                    return answer(reply, Err::<JsValue, _>(no_call("share a screen in")));
                }
                self.devices.share(reply, &self.inputs);
            }
            Command::StopShare => self.stop_share(out),
            Command::WatchStats(on) => self.watching = on,
            Command::Devices(reply) => {
                crate::media::choice::list(Box::new(move |list| answer(reply, list)));
            }
            Command::UseDevice(kind, pick, reply) => {
                let swap = self.devices.switch(kind, pick, reply, &self.inputs);
                self.swap(swap, out);
            }
            Command::UseSpeaker(id, reply) => {
                Devices::use_speaker(id, self.options.remote_video.clone(), reply);
            }
            Command::Moderate(message) => {
                if self.link.is_online() {
                    self.link.send(message, out);
                } else {
                    out.report(Error::new(ErrorCode::NotConnected, "connect first"));
                }
            }
            Command::Close => {}
            Command::AddTrack(track, stream) => {
                // A room call's later connections get the track too, and so do those
                // of the room call a two-person call grows into.
                match &mut self.engaged {
                    Some(Engaged::Group(group)) => group.keep_track(&track, &stream),
                    Some(Engaged::Pair(call)) if call.is_live() => call.keep_track(&track, &stream),
                    _ => {}
                }
                self.connection_command(Command::AddTrack(track, stream), out);
            }
            command => self.connection_command(command, out),
        }
    }

    /// A command for the live connections: the two-person call's one, or the room
    /// call's, all of them or the one with the participant named.
    fn connection_command(&mut self, command: Command, out: &mut Actions) {
        // A room call keeps what it is given for the connections still to come.
        let grouped = matches!(self.engaged, Some(Engaged::Group(_)));
        let mut connections = self.connections();
        match command {
            // The outer promise adopts the stats promise; outside a call it is `null`.
            Command::Stats(who, reply) => {
                let stats = if connections.is_empty() && who.is_none() {
                    Ok(JsValue::NULL)
                } else {
                    one(connections, who.as_ref()).map(|live| live.peer().stats().into())
                };
                answer(reply, stats);
            }
            Command::RestartIce => {
                for (live, with) in connections {
                    live.restart(with, out);
                }
            }
            Command::AddTrack(track, stream) => {
                if connections.is_empty() && !grouped {
                    out.report(no_call("add a track to"));
                }
                for (live, _) in &mut connections {
                    live.add_track(&track, &stream);
                }
            }
            Command::CreateDataChannel(label, reply) => answer(
                reply,
                one(connections, None).map(|live| live.peer().create_data_channel(&label)),
            ),
            Command::SendText(text, reply) => {
                // Sent if it went to anyone; what kept it from the others is reported.
                let mut sent = Err(no_call("chat in"));
                let mut missed = None;
                for (live, _) in &mut connections {
                    match live.send_text(&text) {
                        Ok(at) => sent = Ok(at),
                        Err(error) => missed = Some(error),
                    }
                }
                match (&sent, missed) {
                    (Ok(_), Some(error)) => out.report(error),
                    (Err(_), Some(error)) => sent = Err(error),
                    (_, None) => {}
                }
                answer(reply, sent);
            }
            Command::SendFile(file, who, reply) => answer(
                reply,
                one(connections, who.as_ref())
                    .and_then(|live| live.send_file(file))
                    .map(|id| id.text()),
            ),
            Command::File(command, id) => {
                for (live, _) in connections {
                    live.transfers().command(command, id, out);
                }
            }
            _ => {}
        }
    }

    /// Whether a room call can be joined now.
    fn can_join(&self) -> Result<(), Error> {
        if !self.link.is_online() {
            return Err(Error::new(ErrorCode::NotConnected, "connect first"));
        }
        if self.options.room.is_none() {
            return Err(Error::new(ErrorCode::InvalidState, NO_ROOM_CALL));
        }
        if self.engaged.is_some() {
            return Err(Error::new(ErrorCode::InvalidState, "already in a call"));
        }
        Ok(())
    }

    /// Rings `to` into the call we are in. A two-person call grows into the room call
    /// when they accept.
    fn invite(&mut self, to: PeerId, out: &mut Actions) {
        if self.options.room.is_none() {
            return out.report(Error::new(ErrorCode::InvalidState, NO_ROOM_CALL));
        }
        let call = match &self.engaged {
            Some(Engaged::Pair(call)) if call.is_live() => call.call_id(),
            Some(Engaged::Group(group)) => group.call_id(),
            _ => None,
        };
        match call {
            Some(call) => out.send(ClientMessage::signal(to, Some(call.clone()), Signal::Ring)),
            None => out.report(Error::new(
                ErrorCode::InvalidState,
                "no call to invite to: call someone or join the room call first",
            )),
        }
    }

    /// A live two-person call becomes the room call, keeping its connection.
    fn grow(&mut self, out: &mut Actions) {
        let Some(Engaged::Pair(call)) = self.engaged.take() else {
            return;
        };
        self.engaged = Some(match call.into_live() {
            Ok(grown) => {
                let budget = self.options.video_budget_kbps;
                Engaged::Group(Group::grown(grown, budget, out))
            }
            Err(call) => Engaged::Pair(call),
        });
    }

    /// The parts a new connection of the room call is made with.
    fn connector(&mut self) -> (Option<&mut Group>, Connector<'_>) {
        let group = match &mut self.engaged {
            Some(Engaged::Group(group)) => Some(group),
            _ => None,
        };
        (
            group,
            Connector {
                options: &self.options,
                link: &self.link,
                local: self.devices.stream(),
                screen: self.devices.screen(),
                inputs: &self.inputs,
                numbers: &mut self.calls,
                transfer_numbers: &self.transfer_numbers,
            },
        )
    }

    /// Whether the two-person call we are in is call `call`, live.
    fn pair_is(&self, call: &CallId) -> bool {
        matches!(&self.engaged, Some(Engaged::Pair(pair)) if pair.is_live() && pair.call_id() == Some(call))
    }

    /// What the link heard that concerns the call; what a connection is to do is
    /// returned.
    fn heard(&mut self, heard: Heard, out: &mut Actions) -> Option<(Target, Work)> {
        match heard {
            Heard::CallJoined(call, peers) => {
                if self.pair_is(&call) {
                    // An invitation we took: the call with the one who invited us grows.
                    self.grow(out);
                }
                match self.connector() {
                    (Some(group), mut connector) => group.joined(call, peers, &mut connector, out),
                    // We are in no room call (we left while joining): say so.
                    (None, _) => out.send(ClientMessage::LeaveCall { seq: None }),
                }
                return None;
            }
            Heard::ParticipantJoined(call, peer) => {
                if self.pair_is(&call) {
                    // Someone took an invitation into our call: it grows.
                    self.grow(out);
                }
                match self.connector() {
                    (Some(group), mut connector) if group.call_id() == Some(&call) => {
                        group.participant_joined(&call, peer, &mut connector, out);
                    }
                    // The server counts us in a call we are no longer in (we hung up as it
                    // grew): say so, or the newcomer waits for our offer.
                    _ => out.send(ClientMessage::LeaveCall { seq: None }),
                }
                return None;
            }
            // A hang-up in the room call concerns one connection, which it may make again.
            Heard::Signal(from, call, Signal::Hangup { reason })
                if matches!(self.engaged, Some(Engaged::Group(_))) =>
            {
                if let (Some(group), mut connector) = self.connector() {
                    group.hung_up(
                        &from.id,
                        call.as_ref(),
                        reason.as_deref(),
                        &mut connector,
                        out,
                    );
                }
                return None;
            }
            Heard::ParticipantLeft(call, id, reason) => {
                if let Some(group) = self.group() {
                    group.participant_left(&call, &id, reason, out);
                }
                return None;
            }
            Heard::CallRefused(error) => {
                match &mut self.engaged {
                    Some(Engaged::Group(group)) => group.refused(error, out),
                    // We took an invitation into a call that filled meanwhile.
                    Some(Engaged::Pair(call))
                        if call.state() == State::Connecting
                            && error.code != ErrorCode::Refused =>
                    {
                        out.report(error);
                        out.end(EndReason::Failed);
                    }
                    _ => out.report(error),
                }
                return None;
            }
            _ => {}
        }
        let (pair, group) = match &mut self.engaged {
            Some(Engaged::Pair(call)) => (Some(call), None),
            Some(Engaged::Group(group)) => (None, Some(group)),
            None => (None, None),
        };
        match heard {
            // Rung while in a call: `rung` says we are busy.
            Heard::Signal(from, id, Signal::Ring) => self.rung(from, id, out),
            Heard::Signal(from, id, signal) if group.is_some() => {
                return group
                    .and_then(|group| group.signal(&from.id, id.as_ref(), signal))
                    .map(|work| (Target::Peer(from.id), work));
            }
            Heard::Signal(from, id, Signal::Accept) => match pair {
                Some(call) if call.owns(&from, id.as_ref()) => {
                    let setup =
                        PeerSetup::new(&self.options, &self.link, &from, &self.transfer_numbers);
                    call.accepted(&setup, self.devices.stream(), out);
                }
                // An answer to a call we no longer place: say so, or they wait forever.
                _ => out.send(ClientMessage::signal(
                    from.id,
                    id,
                    Signal::Hangup { reason: None },
                )),
            },
            Heard::Signal(from, id, signal) => {
                if let Some(call) = pair.filter(|call| call.owns(&from, id.as_ref())) {
                    return call
                        .signal(signal, out)
                        .map(|work| (Target::Peer(from.id), work));
                }
            }
            // After a call ends, its last candidates may still be on their way: the server
            // refuses them, and that is no news. Within a call it is.
            Heard::NotInCall(error, to, call) => {
                // Our accept named this call and the server has no call to take: its ring
                // had ended there (cancelled, its hang-up crossing our accept). The caller
                // will never offer; waiting for the connection would only time out.
                let taken_too_late = pair.as_ref().filter(|pair| {
                    pair.with().id == to
                        && call.is_some()
                        && pair.call_id() == call.as_ref()
                        && pair.awaits_first_offer()
                });
                if let Some(pair) = taken_too_late {
                    let name = &pair.with().name;
                    let message = ["the call from ", name, " had ended before it was taken"];
                    out.report(Error::new(error.code, message.concat()));
                    out.end(EndReason::Failed);
                    return None;
                }
                let within = pair.is_some_and(|call| call.with().id == to && call.is_live())
                    || group.is_some_and(|group| group.has(&to));
                if within {
                    out.report(error);
                }
            }
            // Our ring never reached them.
            Heard::Undelivered(id) => {
                if pair.is_some_and(|call| call.is_placing() && call.with().id == id) {
                    out.end(EndReason::Failed);
                }
            }
            Heard::PeerLeft(id) | Heard::Unavailable(id) => {
                if pair.is_some_and(|call| call.with().id == id) {
                    out.end(EndReason::PeerLeft);
                }
                if let Some(group) = group {
                    group.remove(&id, LeftReason::Gone, out);
                }
            }
            // A page that gave its own ICE servers keeps them.
            Heard::IceServers if self.options.ice_servers.is_none() => {
                let ice_servers = self.link.ice_servers();
                if let Some(call) = pair {
                    call.refresh_ice(ice_servers, out);
                }
                if let Some(group) = group {
                    group.refresh_ice(ice_servers, out);
                }
            }
            Heard::NewId | Heard::Refused => {
                if pair.is_some() || group.is_some() {
                    out.end(EndReason::Failed);
                }
            }
            // A live call was claimed with the login and goes on; the server never heard
            // of a ringing one, and nobody could answer it.
            Heard::Forgotten => {
                if pair.is_some_and(|call| call.is_ringing()) {
                    out.end(EndReason::Failed);
                }
                if let Some(group) = group {
                    group.forgotten(out);
                }
            }
            // Whoever rings us, or whom we ring, and is not on the list the login brought
            // left while we were away: the news went to a socket that was gone.
            Heard::Listed => {
                if pair.is_some_and(|call| call.is_ringing() && !self.link.lists(&call.with().id)) {
                    out.end(EndReason::PeerLeft);
                }
                // A join asked for and not answered may have been lost with a session the
                // server did not keep: asked again, it is answered as the first would be.
                if let Some(group) = group
                    && !self.devices.is_asking()
                {
                    group.ask_again(out);
                }
            }
            Heard::IceServers
            | Heard::CallJoined(..)
            | Heard::ParticipantJoined(..)
            | Heard::ParticipantLeft(..)
            | Heard::CallRefused(_) => {}
        }
        None
    }

    /// `from` rings us, in call `call`.
    fn rung(&mut self, from: PeerInfo, call: Option<CallId>, out: &mut Actions) {
        let me_first = self.link.me().is_some_and(|me| me.id < from.id);
        match &mut self.engaged {
            None => {
                self.calls += 1;
                let (id, ring_ms) = (self.calls, self.options.ring_timeout_ms);
                let wake = wake(&self.inputs, id);
                let call = Call::incoming(id, from, call, ring_ms, wake, out);
                self.engaged = Some(Engaged::Pair(call));
            }
            // We are ringing them. Still ringing each other: let the id order pick one call,
            // so the two rings end as exactly one call.
            Some(Engaged::Pair(ours)) if ours.with().id == from.id && ours.is_placing() => {
                if me_first {
                    // Ours yields: take theirs as if the person had accepted it. Ours is
                    // placed all the same: the two become one call, theirs.
                    ours.adopt(call);
                    if let Some(reply) = self.devices.take_ring() {
                        answer(reply, Ok(JsValue::UNDEFINED));
                    }
                    self.want(Then::Answer(from), out);
                }
                // Otherwise ours wins and theirs is dropped: they accept ours.
            }
            // Invited again into the room call whose invitation rings: the server keeps
            // the newest invitation only, so the answer goes to its sender. (The server
            // stamps every ring it relays with a call id.)
            Some(Engaged::Pair(ours)) if ours.is_incoming() && ours.call_id() == call.as_ref() => {
                ours.invited_again(from);
            }
            // They rang again while their ring rings here: the server keeps their newest
            // ring only, so the one ringing here goes on as that call.
            Some(Engaged::Pair(ours)) if ours.is_incoming() && ours.with().id == from.id => {
                ours.adopt(call);
            }
            Some(_) => {
                let reason = DeclineReason::Busy;
                out.send(ClientMessage::signal(
                    from.id,
                    call,
                    Signal::Decline { reason },
                ));
            }
        }
    }

    /// `then` happens once the call has the camera and microphone.
    fn want(&mut self, then: Then, out: &mut Actions) {
        if let Some(then) = self.devices.want(then, &self.inputs) {
            self.proceed(then, out);
        }
    }

    /// What the call does now that it has its devices.
    fn proceed(&mut self, then: Then, out: &mut Actions) {
        match (&mut self.engaged, then) {
            (None, then) => then.abandon(),
            (Some(Engaged::Group(group)), Then::Join) => group.join(out),
            (Some(Engaged::Pair(call)), Then::Ring(reply)) => {
                call.ring(self.options.ring_timeout_ms, out);
                answer(reply, Ok(JsValue::UNDEFINED));
            }
            // Not taken yet (ours yields to theirs): taken now, with the devices.
            (Some(Engaged::Pair(call)), Then::Answer(from))
                if call.with().id == from.id && !call.is_live() =>
            {
                let setup =
                    PeerSetup::new(&self.options, &self.link, &from, &self.transfer_numbers);
                call.answer(&setup, self.devices.stream().cloned(), out);
            }
            // Taken before they came: they join its connection, or every connection of
            // the room call it led to (an invitation).
            (Some(_), Then::Answer(_)) => {
                let Some(local) = self.devices.stream().cloned() else {
                    return;
                };
                for (live, _) in self.connections() {
                    for track in crate::media::tracks_of(&local) {
                        live.add_track(&track, &local);
                    }
                }
            }
            (_, then) => then.abandon(),
        }
    }

    /// Carries out `out`, and whatever that leads to.
    fn act(&mut self, mut out: Actions) {
        while !out.is_empty() {
            for action in out.take() {
                match action {
                    Action::Send(message) => self.link.send(message, &mut out),
                    Action::Emit(event) => self.emitter.emit(&event),
                    Action::End(reason) => self.end_call(reason, &mut out),
                }
            }
        }
    }

    /// Ends the call: closes the connections (removing their listeners), stops the
    /// camera and microphone, clears the views, and tells the page.
    fn end_call(&mut self, reason: EndReason, out: &mut Actions) {
        let Some(engaged) = self.engaged.take() else {
            return;
        };
        // Told even when a final refusal ended the call: the login is gone by then.
        if let Some(me) = self
            .devices
            .stop_share()
            .and_then(|screen| screen.announced)
        {
            out.emit(Event::ShareEnded(me));
        }
        if let Some(then) = self.devices.release() {
            then.abandon();
        }
        match engaged {
            Engaged::Pair(call) => {
                show(self.options.remote_video.as_ref(), None);
                call.finish(reason, out);
            }
            Engaged::Group(group) => group.finish(reason, out),
        }
    }

    /// Carries out the commands kept while a call was being accepted: on the call, if it
    /// began, or refused as they would be outside one.
    fn run_deferred(&mut self) {
        let mut out = Actions::default();
        for command in std::mem::take(&mut self.deferred) {
            self.command(command, &mut out);
        }
        self.act(out);
    }

    /// The API state, from the link and the call.
    fn state(&self) -> State {
        if !self.link.is_online() {
            return State::Offline;
        }
        match &self.engaged {
            None => State::Idle,
            Some(Engaged::Pair(call)) => call.state(),
            Some(Engaged::Group(group)) => group.state(),
        }
    }

    /// Emits `state` if it changed.
    fn publish_state(&mut self) {
        let claim = match &self.engaged {
            Some(Engaged::Pair(call)) if call.is_live() => call
                .call_id()
                .map(|id| (id.clone(), call.with().id.clone())),
            _ => None,
        };
        self.link.set_claim(claim);
        let state = self.state();
        let id = self.link.me().map(|me| me.id.0.clone());
        let changed = {
            let mut snapshot = self.snapshot.borrow_mut();
            snapshot.id = id;
            std::mem::replace(&mut snapshot.state, state) != state
        };
        if changed {
            self.emitter.emit(&Event::State(state));
        }
    }
}
