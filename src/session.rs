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
pub mod input;
mod link;
mod live;
mod options;
mod presence;
mod recovery;
mod transfers;

use std::{cell::RefCell, rc::Rc};

use futures::{StreamExt, channel::mpsc};
use wasm_bindgen::JsValue;

use protocol::{CallId, ClientMessage, DeclineReason, PeerInfo, Signal};

pub use self::options::Options;
use self::{
    action::{Action, Actions},
    call::Call,
    command::{Command, answer},
    devices::{Devices, Then},
    input::{CallInput, Input, Wake},
    link::{Credentials, Heard, Link},
    live::PeerSetup,
    transfers::TransferInput,
};
use crate::{
    error::{Error, ErrorCode},
    event::{Emitter, EndReason, Event, State},
    media::show,
};

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
pub fn start(
    options: Options,
    emitter: Rc<Emitter>,
) -> (mpsc::UnboundedSender<Input>, Rc<RefCell<Snapshot>>) {
    let (inputs, queue) = mpsc::unbounded();
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
                let _ = link_inputs.unbounded_send(Input::Link(generation, input));
            }),
        ),
        devices: Devices::new(options.media.clone(), options.local_video.clone()),
        options,
        emitter,
        inputs: inputs.clone(),
        snapshot: snapshot.clone(),
        call: None,
        calls: 0,
        deferred: Vec::new(),
    };
    wasm_bindgen_futures::spawn_local(session.run(queue));
    (inputs, snapshot)
}

/// The session task's state: each part has one owner.
struct Session {
    options: Options,
    emitter: Rc<Emitter>,
    inputs: mpsc::UnboundedSender<Input>,
    snapshot: Rc<RefCell<Snapshot>>,
    link: Link,
    devices: Devices,
    call: Option<Call>,
    /// Numbers calls, so late inputs of an ended one are ignored.
    calls: u32,
    /// Commands for the call being accepted, kept until it begins or ends.
    deferred: Vec<Command>,
}

impl Session {
    async fn run(mut self, mut queue: mpsc::UnboundedReceiver<Input>) {
        loop {
            let input = match queue.try_recv() {
                Ok(input) => input,
                Err(mpsc::TryRecvError::Closed) => break,
                // Nothing waits: a good moment to say what was handled.
                Err(mpsc::TryRecvError::Empty) => {
                    self.link.acknowledge();
                    match queue.next().await {
                        Some(input) => input,
                        None => break,
                    }
                }
            };
            let mut out = Actions::default();
            match input {
                Input::Command(Command::Close) => break,
                Input::Command(command) => self.command(command, &mut out),
                Input::Link(generation, input) => {
                    if let Some(heard) = self.link.input(generation, input, &mut out) {
                        self.heard(heard, &mut out).await;
                    }
                }
                Input::Call(id, input) => self.call_input(id, input, &mut out).await,
                Input::Media(media) => {
                    if let Some(then) = self.devices.arrived(*media, &mut out) {
                        self.proceed(then, &mut out);
                    }
                }
            }
            self.act(out);
            if !self.deferred.is_empty() && !self.devices.is_answering() {
                self.run_deferred();
            }
            self.publish_state();
        }
        let mut out = Actions::default();
        if let Some(call) = &mut self.call {
            call.hang_up(&mut out);
        }
        self.act(out);
        self.link.close();
        self.run_deferred();
        self.publish_state();
        // Devices that came too late for anyone are let go.
        queue.close();
        while let Ok(input) = queue.try_recv() {
            if let Input::Media(media) = input {
                media.stop();
            }
        }
    }

    async fn call_input(&mut self, id: u32, input: CallInput, out: &mut Actions) {
        match (&mut self.call, input) {
            (Some(call), input) if call.id() == id => call.input(input, out).await,
            // A file checked after its call ended is handed over all the same: it is whole.
            (_, CallInput::Transfer(TransferInput::Checked(checked))) => {
                transfers::handed_over(*checked, out);
            }
            // Late news from a call that has ended.
            _ => {}
        }
    }

    fn command(&mut self, command: Command, out: &mut Actions) {
        if self.devices.is_answering() && command.needs_call() {
            // After accept() the page may use the call at once; it begins once the
            // camera and microphone are here.
            if self.deferred.len() < MAX_DEFERRED {
                self.deferred.push(command);
            } else {
                let message = "too many commands wait for the call to begin";
                command.refuse(Error::new(ErrorCode::InvalidState, message));
            }
            return;
        }
        let live = self.call.as_mut().and_then(Call::live);
        let no_call =
            |what: &str| Error::new(ErrorCode::InvalidState, format!("no call to {what}"));
        match command {
            Command::Connect(reply) => self.link.connect(reply),
            Command::Call(to, reply) => match self.link.callee(&to, self.call.is_some()) {
                Ok(with) => {
                    self.calls += 1;
                    self.call = Some(Call::place(self.calls, with, self.wake(self.calls)));
                    self.want(Then::Ring(reply), out);
                }
                Err(error) => answer(reply, Err::<JsValue, _>(error)),
            },
            Command::Accept => match self.call.as_ref().filter(|call| call.is_incoming()) {
                Some(call) => self.want(Then::Answer(call.with().clone()), out),
                None => out.report(no_call("accept")),
            },
            Command::Decline => {
                if let Some(call) = self.call.as_mut().filter(|call| call.is_incoming()) {
                    call.decline(out);
                }
            }
            Command::Hangup => {
                if let Some(call) = &mut self.call {
                    call.hang_up(out);
                }
            }
            Command::SetMic(enabled) => self.devices.set_mic(enabled),
            Command::SetCamera(enabled) => self.devices.set_camera(enabled),
            // The outer promise adopts the stats promise.
            Command::Stats(reply) => answer(
                reply,
                Ok(live.map_or(JsValue::NULL, |live| live.peer().stats().into())),
            ),
            Command::RestartIce => {
                if let Some(call) = &mut self.call {
                    call.restart_ice(out);
                }
            }
            Command::AddTrack(track, stream) => match live {
                Some(live) => live.add_track(&track, &stream),
                None => out.report(no_call("add a track to")),
            },
            Command::CreateDataChannel(label, reply) => {
                let channel = live
                    .map(|live| live.peer().create_data_channel(&label))
                    .ok_or_else(|| no_call("open a channel on"));
                answer(reply, channel);
            }
            Command::SendText(text, reply) => answer(
                reply,
                live.ok_or_else(|| no_call("chat in"))
                    .and_then(|live| live.send_text(&text)),
            ),
            Command::SendFile(file, reply) => answer(
                reply,
                live.map(|live| live.send_file(file).to_string())
                    .ok_or_else(|| no_call("send a file in")),
            ),
            Command::File(command, id) => {
                if let Some(live) = live {
                    live.transfers().command(command, id, out);
                }
            }
            Command::SetToken(token) => self.link.set_token(token),
            Command::Moderate(message) => {
                if self.link.is_online() {
                    self.link.send(message, out);
                } else {
                    out.report(Error::new(ErrorCode::NotConnected, "connect first"));
                }
            }
            Command::Close => {}
        }
    }

    /// What the link heard that concerns the call.
    async fn heard(&mut self, heard: Heard, out: &mut Actions) {
        let call = self.call.as_mut();
        match heard {
            Heard::Signal(from, id, Signal::Ring) => self.rung(from, id, out),
            Heard::Signal(from, id, Signal::Accept) => match call {
                Some(call) if call.owns(&from, id.as_ref()) => {
                    let setup = PeerSetup::new(&self.options, &self.link, &from);
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
                if let Some(call) = call.filter(|call| call.owns(&from, id.as_ref())) {
                    call.signal(signal, out).await;
                }
            }
            // After a call ends, its last candidates may still be on their way: the server
            // refuses them, and that is no news. Within a call it is.
            Heard::NotInCall(error, to) => {
                if call.is_some_and(|call| call.with().id == to && call.is_live()) {
                    out.report(error);
                }
            }
            Heard::PeerLeft(id) | Heard::Unavailable(id) => {
                if call.is_some_and(|call| call.with().id == id) {
                    out.end(EndReason::PeerLeft);
                }
            }
            // A page that gave its own ICE servers keeps them.
            Heard::IceServers => {
                if let Some(call) = call.filter(|_| self.options.ice_servers.is_none()) {
                    call.refresh_ice(self.link.ice_servers(), out);
                }
            }
            Heard::NewId | Heard::Refused => {
                if call.is_some() {
                    out.end(EndReason::Failed);
                }
            }
            // A call still ringing cannot be answered without signaling; one that is
            // connected keeps its media flowing until someone hangs up.
            Heard::Lost => {
                if let Some(call) = call.filter(|call| call.is_ringing()) {
                    if call.heard_of() {
                        // Queued for when the socket is back, so the other side stops too.
                        let hangup = Signal::Hangup { reason: None };
                        let (to, id) = (call.with().id.clone(), call.call_id().cloned());
                        out.send(ClientMessage::signal(to, id, hangup));
                    }
                    out.end(EndReason::Failed);
                }
            }
        }
    }

    /// `from` rings us, in call `call`.
    fn rung(&mut self, from: PeerInfo, call: Option<CallId>, out: &mut Actions) {
        match &mut self.call {
            None => {
                self.calls += 1;
                let (id, ring_ms) = (self.calls, self.options.ring_timeout_ms);
                let wake = self.wake(id);
                self.call = Some(Call::incoming(id, from, call, ring_ms, wake, out));
            }
            // We are ringing them. Still ringing each other: let the id order pick one call,
            // so the two rings end as exactly one call.
            Some(ours) if ours.with().id == from.id && ours.is_placing() => {
                if self.link.me().is_some_and(|me| me.id < from.id) {
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
        let Some(call) = &mut self.call else {
            return then.abandon();
        };
        match then {
            Then::Ring(reply) => {
                call.ring(self.options.ring_timeout_ms, out);
                answer(reply, Ok(JsValue::UNDEFINED));
            }
            Then::Answer(from) if call.with().id == from.id && call.is_ringing() => {
                let setup = PeerSetup::new(&self.options, &self.link, &from);
                call.answer(&setup, self.devices.stream().cloned(), out);
            }
            Then::Answer(_) => {}
        }
    }

    /// How call number `id` reaches the session.
    fn wake(&self, id: u32) -> Wake {
        let inputs = self.inputs.clone();
        Rc::new(move |input| {
            let _ = inputs.unbounded_send(Input::Call(id, input));
        })
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

    /// Ends the call: closes the connection (removing its listeners), stops the camera and
    /// microphone, clears the views, and tells the page.
    fn end_call(&mut self, reason: EndReason, out: &mut Actions) {
        let Some(call) = self.call.take() else {
            return;
        };
        if let Some(then) = self.devices.release() {
            then.abandon();
        }
        show(self.options.remote_video.as_ref(), None);
        call.finish(reason, out);
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
        self.call.as_ref().map_or(State::Idle, Call::state)
    }

    /// Emits `state` if it changed.
    fn publish_state(&mut self) {
        let claim = self
            .call
            .as_ref()
            .filter(|call| call.is_live())
            .and_then(|call| Some((call.call_id()?.clone(), call.with().id.clone())));
        self.link.set_claim(claim);
        let state = self.state();
        let id = self
            .link
            .me()
            .filter(|_| self.link.is_online())
            .map(|me| me.id.0.clone());
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
