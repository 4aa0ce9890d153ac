//! The call with one remote participant: ring, accept or decline, connect, end. It takes
//! typed inputs and returns [`Actions`]; the session holds it (and could hold several).

use protocol::{CallId, ClientMessage, DeclineReason, PeerInfo, Signal};
use wasm_bindgen::JsValue;
use web_sys::{MediaStream, MediaStreamTrack};

use super::{
    action::Actions,
    input::{CallInput, Wake},
    live::{Live, PeerSetup, Role, Work},
};
use crate::{
    event::{EndReason, Event, State},
    js::Timer,
};

/// Where a call is.
enum Phase {
    /// We call: the ring goes out once our camera and microphone are here, and `rang`
    /// then times how long it rings.
    Calling { rang: Option<Timer> },
    /// They call us.
    Ringing { _timer: Timer },
    /// Accepted: negotiating, connected, or recovering.
    Live(Box<Live>),
}

/// A call with `with`.
pub struct Call {
    id: u32,
    with: PeerInfo,
    /// Its id on the wire, which every signal of it carries.
    call: Option<CallId>,
    phase: Phase,
    wake: Wake,
    /// The tracks the page added (`addTrack`): a room call it grows into sends them to
    /// those who join.
    added: Tracks,
}

/// Tracks the page added to a call, each with its stream.
pub type Tracks = Vec<(MediaStreamTrack, MediaStream)>;

impl Call {
    /// A call we place, number `id`; it rings once our devices are here ([`Call::ring`]).
    pub fn place(id: u32, with: PeerInfo, wake: Wake) -> Self {
        Self {
            id,
            with,
            call: Some(CallId(crate::js::unique_name())),
            phase: Phase::Calling { rang: None },
            wake,
            added: Vec::new(),
        }
    }

    /// Call `call` that `with` places to us, ringing for `ring_ms`.
    pub fn incoming(
        id: u32,
        with: PeerInfo,
        call: Option<CallId>,
        ring_ms: u32,
        wake: Wake,
        out: &mut Actions,
    ) -> Self {
        out.emit(Event::Incoming(with.clone()));
        Self {
            id,
            call,
            phase: Phase::Ringing {
                _timer: ring_timer(&wake, ring_ms),
            },
            with,
            wake,
            added: Vec::new(),
        }
    }

    /// Its number; inputs for an ended call are told apart by it.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Who it is with.
    pub fn with(&self) -> &PeerInfo {
        &self.with
    }

    /// Invited into the same room call again, by `from`: the answer goes to them.
    pub fn invited_again(&mut self, from: PeerInfo) {
        self.with = from;
    }

    /// Its id on the wire.
    pub fn call_id(&self) -> Option<&CallId> {
        self.call.as_ref()
    }

    /// Whether a signal of call `call` from `from` belongs to it: from the other side, and
    /// not of an earlier or another call with them.
    pub fn owns(&self, from: &PeerInfo, call: Option<&CallId>) -> bool {
        self.with.id == from.id
            && match (&self.call, call) {
                (Some(ours), Some(theirs)) => ours == theirs,
                _ => true,
            }
    }

    /// It goes on as `call`: two rings crossed and theirs is the call, or they rang again
    /// while it rang.
    pub fn adopt(&mut self, call: Option<CallId>) {
        self.call = call;
    }

    fn message(&self, signal: Signal) -> ClientMessage {
        ClientMessage::signal(self.with.id.clone(), self.call.clone(), signal)
    }

    /// The API state of a logged-in session in this call.
    pub fn state(&self) -> State {
        match &self.phase {
            Phase::Calling { .. } => State::Calling,
            Phase::Ringing { .. } => State::Ringing,
            Phase::Live(live) => live.state(),
        }
    }

    /// Whether the other side has heard of it (a call still waiting for our devices has
    /// not rung yet).
    pub fn heard_of(&self) -> bool {
        !matches!(self.phase, Phase::Calling { rang: None })
    }

    /// Whether it is still ringing, either way.
    pub fn is_ringing(&self) -> bool {
        matches!(self.phase, Phase::Calling { .. } | Phase::Ringing { .. })
    }

    /// Whether we placed it and it has not been answered.
    pub fn is_placing(&self) -> bool {
        matches!(self.phase, Phase::Calling { .. })
    }

    /// Whether it rings for us.
    pub fn is_incoming(&self) -> bool {
        matches!(self.phase, Phase::Ringing { .. })
    }

    /// Whether we accepted it and have heard nothing of the other side since: no offer
    /// yet. Until it comes, the only signal of ours in this call is the accept.
    pub fn awaits_first_offer(&self) -> bool {
        match &self.phase {
            Phase::Live(live) => live.awaits_first_offer(),
            _ => false,
        }
    }

    /// Whether it was accepted.
    pub fn is_live(&self) -> bool {
        matches!(self.phase, Phase::Live(_))
    }

    /// The page sends `track` of `stream` too (on the connection, by the caller).
    pub fn keep_track(&mut self, track: &MediaStreamTrack, stream: &MediaStream) {
        self.added.push((Clone::clone(track), Clone::clone(stream)));
    }

    /// The call's number, the other side, its id, its connection and the tracks the page
    /// added, once accepted: what the room call it grows into keeps. `Err(self)` before.
    #[allow(clippy::result_large_err, clippy::type_complexity)]
    pub fn into_live(self) -> Result<(u32, PeerInfo, CallId, Live, Tracks), Self> {
        match (self.phase, self.call) {
            (Phase::Live(live), Some(call)) => Ok((self.id, self.with, call, *live, self.added)),
            (phase, call) => Err(Self {
                phase,
                call,
                ..self
            }),
        }
    }

    /// Fresh TURN credentials: a connected call restarts ICE with them.
    pub fn refresh_ice(&mut self, ice_servers: &JsValue, out: &mut Actions) {
        if let Phase::Live(live) = &mut self.phase {
            live.refresh_ice(ice_servers, &self.with, out);
        }
    }

    /// Our devices are here: ring the callee, for `ring_ms` at most.
    pub fn ring(&mut self, ring_ms: u32, out: &mut Actions) {
        if let Phase::Calling { rang } = &mut self.phase {
            *rang = Some(ring_timer(&self.wake, ring_ms));
            out.send(self.message(Signal::Ring));
        }
    }

    /// Takes the call (ours yields to theirs, or theirs rings): tells them, and waits for
    /// their offer.
    pub fn answer(&mut self, setup: &PeerSetup, local: Option<MediaStream>, out: &mut Actions) {
        out.send(self.message(Signal::Accept));
        self.connect(setup, Role::Callee, local, out);
    }

    /// Connects: the caller offers at once, the callee waits for the offer.
    fn connect(
        &mut self,
        setup: &PeerSetup,
        role: Role,
        local: Option<MediaStream>,
        out: &mut Actions,
    ) {
        match Live::start(setup, role, local, self.call.clone(), self.wake.clone()) {
            Ok(live) => self.phase = Phase::Live(Box::new(live)),
            Err(error) => super::live::fail(error, &self.with, self.call.as_ref(), out),
        }
    }

    /// We refuse it.
    pub fn decline(&mut self, out: &mut Actions) {
        let reason = DeclineReason::Declined;
        let decline = Signal::Decline { reason };
        out.send(self.message(decline));
        out.end(EndReason::Declined);
    }

    /// We end it (or cancel it, or decline it).
    pub fn hang_up(&mut self, out: &mut Actions) {
        if self.is_incoming() {
            return self.decline(out);
        }
        if self.heard_of() {
            let hangup = Signal::Hangup { reason: None };
            out.send(self.message(hangup));
        }
        out.end(EndReason::Hangup);
    }

    /// An input for this call; what its live connection is to do is returned.
    pub fn input(&mut self, input: CallInput, out: &mut Actions) -> Option<Work> {
        match (input, &mut self.phase) {
            (CallInput::RingTimeout, Phase::Calling { .. } | Phase::Ringing { .. }) => {
                let reason = Some(EndReason::NoAnswer.as_str().to_owned());
                let hangup = Signal::Hangup { reason };
                out.send(self.message(hangup));
                out.end(EndReason::NoAnswer);
                None
            }
            (input, Phase::Live(_)) => Some(Work::Input(input)),
            // Late news for a phase that has passed.
            _ => None,
        }
    }

    /// The live connection, and who it is with.
    pub fn connection(&mut self) -> Option<(&mut Live, &PeerInfo)> {
        match &mut self.phase {
            Phase::Live(live) => Some((live, &self.with)),
            _ => None,
        }
    }

    /// The callee took the call: connect, sending `local`. Only once our ring went out:
    /// before, an `accept` can only answer an earlier call.
    pub fn accepted(&mut self, setup: &PeerSetup, local: Option<&MediaStream>, out: &mut Actions) {
        if let Phase::Calling { rang: Some(_) } = self.phase {
            self.connect(setup, Role::Caller, local.cloned(), out);
        }
    }

    /// A call signal from the other side (`ring` and `accept` are the session's: a ring
    /// may yield ours, an accept needs our devices); what its live connection is to do
    /// is returned.
    pub fn signal(&mut self, signal: Signal, out: &mut Actions) -> Option<Work> {
        match (signal, &mut self.phase) {
            (Signal::Decline { reason }, Phase::Calling { .. }) => out.end(match reason {
                DeclineReason::Busy => EndReason::Busy,
                DeclineReason::Declined => EndReason::Declined,
            }),
            (Signal::Hangup { reason }, Phase::Live(live))
                if reason.as_deref() == Some(EndReason::Failed.as_str()) =>
            {
                live.failed_there(&self.with, out);
            }
            (Signal::Hangup { reason }, phase) => {
                let no_answer = reason.as_deref() == Some(EndReason::NoAnswer.as_str());
                let ringing = !matches!(phase, Phase::Live(_));
                out.end(if no_answer && ringing {
                    EndReason::NoAnswer
                } else {
                    EndReason::RemoteHangup
                });
            }
            (signal, Phase::Live(_)) => return Some(Work::Signal(signal)),
            _ => {}
        }
        None
    }

    /// The call is over: what was under way ends with it, and the page is told why.
    pub fn finish(self, reason: EndReason, out: &mut Actions) {
        if let Phase::Live(live) = self.phase {
            live.finish(out);
        }
        out.emit(Event::Ended(reason));
    }
}

fn ring_timer(wake: &Wake, ring_ms: u32) -> Timer {
    let wake = wake.clone();
    Timer::new(ring_ms, move || wake(CallInput::RingTimeout))
}
