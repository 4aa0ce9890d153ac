//! The room call: one connection with each other member (a full mesh), each with the same
//! perfect negotiation, trickle ICE, ICE recovery, chat and file channels as a two-person
//! call. The member already in the call offers to a newcomer, so joining never collides.
//!
//! Each member's video uplink is shared out: every sender is capped at the budget divided
//! by the number of others, and from four people on the resolution is halved.

use crate::queue::Sender;
use protocol::{CallId, ClientMessage, PeerId, PeerInfo, Signal};
use wasm_bindgen::JsValue;
use web_sys::MediaStream;

use super::{
    action::{Action, Actions},
    command::{Reply, answer},
    devices::Screen,
    input::Input,
    link::Link,
    live::{Live, PeerSetup, Role, Work},
    options::Options,
    transfers::TransferNumbers,
};
use crate::{
    error::{Error, ErrorCode},
    event::{EndReason, Event, LeftReason, State},
    peer::cap_video,
};

/// People from whom on each sender's resolution is halved.
const HALVED_FROM: usize = 4;

/// Where we are in the room call.
enum Phase {
    /// `join-call` goes out once our devices are here; `reply` then hears who is in it.
    Joining { reply: Option<Reply> },
    /// In call `.0`.
    In(CallId),
}

/// Someone in the call with us, and our connection with them.
struct Member {
    /// Numbers the inputs of this connection, so late ones of a removed member are
    /// ignored.
    number: u32,
    info: PeerInfo,
    live: Live,
}

/// What a new connection with a member is made with: the session's parts it needs.
pub struct Connector<'a> {
    /// The session's options.
    pub options: &'a Options,
    /// The link, for our id and the ICE servers.
    pub link: &'a Link,
    /// What we send.
    pub local: Option<&'a MediaStream>,
    /// The screen we share, if we do.
    pub screen: Option<&'a Screen>,
    /// The session's input queue.
    pub inputs: &'a Sender<Input>,
    /// The session's call numbers.
    pub numbers: &'a mut u32,
    /// The session's transfer numbers.
    pub transfer_numbers: &'a TransferNumbers,
}

impl Connector<'_> {
    /// A connection with `with` in call `call`, as `role`.
    fn connect(&mut self, with: &PeerInfo, call: &CallId, role: Role) -> Result<Member, Error> {
        *self.numbers += 1;
        let number = *self.numbers;
        let setup = PeerSetup::new(self.options, self.link, with, self.transfer_numbers).in_mesh();
        let wake = super::wake(self.inputs, number);
        let mut live = Live::start(&setup, role, self.local.cloned(), Some(call.clone()), wake)?;
        if let Some(screen) = self.screen {
            live.add_track(&screen.track, &screen.stream);
        }
        Ok(Member {
            number,
            info: with.clone(),
            live,
        })
    }
}

/// The room call, as one member holds it.
pub struct Group {
    phase: Phase,
    members: Vec<Member>,
    /// The video uplink shared among the others, in kbps.
    budget_kbps: u32,
    /// The participant list the page was told last.
    told: Vec<(PeerInfo, State)>,
}

impl Group {
    /// Joining the room call; `reply` hears who is in it.
    pub fn joining(reply: Reply, budget_kbps: u32) -> Self {
        Self {
            phase: Phase::Joining { reply: Some(reply) },
            members: Vec::new(),
            budget_kbps,
            told: Vec::new(),
        }
    }

    /// A two-person call with `with`, connection number `number`, grown into room call
    /// `call`.
    pub fn grown(
        call: CallId,
        number: u32,
        with: PeerInfo,
        mut live: Live,
        budget_kbps: u32,
        out: &mut Actions,
    ) -> Self {
        out.emit(Event::ParticipantJoined(with.clone()));
        live.join_mesh(&with, out);
        let mut group = Self {
            phase: Phase::In(call),
            members: vec![Member {
                number,
                info: with,
                live,
            }],
            budget_kbps,
            told: Vec::new(),
        };
        group.changed(out);
        group
    }

    /// The call's id, once in it.
    pub fn call_id(&self) -> Option<&CallId> {
        match &self.phase {
            Phase::In(call) => Some(call),
            Phase::Joining { .. } => None,
        }
    }

    /// The API state of a logged-in session in the call.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Joining { .. } => State::Connecting,
            Phase::In(_) => State::Connected,
        }
    }

    /// Whether `member` is in the call with us.
    pub fn has(&self, member: &PeerId) -> bool {
        self.members.iter().any(|m| m.info.id == *member)
    }

    /// Our devices are here: ask to join.
    pub fn join(&self, out: &mut Actions) {
        out.send(ClientMessage::JoinCall { seq: None });
    }

    /// We are in call `call`, which `peers` were in already: each of them offers to us.
    pub fn joined(
        &mut self,
        call: CallId,
        peers: Vec<PeerInfo>,
        connector: &mut Connector,
        out: &mut Actions,
    ) {
        match &mut self.phase {
            Phase::Joining { reply } => {
                if let Some(reply) = reply.take() {
                    // The same list as the `peers` event's.
                    answer(reply, Ok(crate::event::peer_list(&peers)));
                }
                self.phase = Phase::In(call.clone());
            }
            Phase::In(ours) if *ours == call => {}
            // News of a call we are not in.
            Phase::In(_) => return,
        }
        for peer in peers {
            self.add(peer, &call, Role::Callee, connector, out);
        }
        self.changed(out);
    }

    /// `peer` joined call `call`: we offer to them.
    pub fn participant_joined(
        &mut self,
        call: &CallId,
        peer: PeerInfo,
        connector: &mut Connector,
        out: &mut Actions,
    ) {
        if self.call_id() == Some(call) {
            self.add(peer, call, Role::Caller, connector, out);
            self.changed(out);
        }
    }

    fn add(
        &mut self,
        peer: PeerInfo,
        call: &CallId,
        role: Role,
        connector: &mut Connector,
        out: &mut Actions,
    ) {
        // The server lists everyone once, and never us.
        if self.has(&peer.id) {
            return;
        }
        match connector.connect(&peer, call, role) {
            Ok(member) => {
                out.emit(Event::ParticipantJoined(peer));
                self.members.push(member);
            }
            Err(error) => out.report(error),
        }
    }

    /// `id` is no longer in call `call`, `reason`.
    pub fn participant_left(
        &mut self,
        call: &CallId,
        id: &PeerId,
        reason: LeftReason,
        out: &mut Actions,
    ) {
        if self.call_id() == Some(call) {
            self.remove(id, reason, out);
        }
    }

    /// Our connection with `id` ends, `reason`.
    pub fn remove(&mut self, id: &PeerId, reason: LeftReason, out: &mut Actions) {
        let Some(at) = self.members.iter().position(|m| m.info.id == *id) else {
            return;
        };
        let member = self.members.remove(at);
        member.live.finish(out);
        out.emit(Event::ParticipantLeft {
            id: member.info.id,
            reason,
        });
        self.changed(out);
    }

    /// The connection numbered `number`, and who it is with.
    pub fn numbered(&mut self, number: u32) -> Option<(&mut Live, &PeerInfo)> {
        self.members
            .iter_mut()
            .find(|m| m.number == number)
            .map(|m| (&mut m.live, &m.info))
    }

    /// The connection with `id`, and who it is with.
    pub fn with(&mut self, id: &PeerId) -> Option<(&mut Live, &PeerInfo)> {
        self.members
            .iter_mut()
            .find(|m| m.info.id == *id)
            .map(|m| (&mut m.live, &m.info))
    }

    /// A signal of call `call` from `from`: a hang-up ends the connection with them;
    /// the rest is returned for it.
    pub fn signal(
        &mut self,
        from: &PeerInfo,
        call: Option<&CallId>,
        signal: Signal,
        out: &mut Actions,
    ) -> Option<Work> {
        // A signal from someone not in the call finds no connection to go to.
        if call != self.call_id() {
            return None;
        }
        if let Signal::Hangup { reason } = &signal {
            let failed = reason.as_deref() == Some(EndReason::Failed.as_str());
            let reason = if failed {
                LeftReason::Failed
            } else {
                LeftReason::Left
            };
            self.remove(&from.id, reason, out);
            return None;
        }
        Some(Work::Signal(signal))
    }

    /// Carries `own`, the actions of the connection with `id`, over to `out`: what would
    /// end a two-person call ends only this connection.
    pub fn contain(&mut self, id: &PeerId, mut own: Actions, out: &mut Actions) {
        let mut ended = false;
        for action in own.take() {
            match action {
                Action::End(_) => ended = true,
                action => out.push(action),
            }
        }
        if ended {
            self.remove(id, LeftReason::Failed, out);
        } else {
            self.changed(out);
        }
    }

    /// After any change: caps the senders for the number of people, and tells the page
    /// the participants if they changed.
    fn changed(&mut self, out: &mut Actions) {
        let others = self.members.len();
        if others > 0 {
            let kbps = self.budget_kbps / others as u32;
            let scale = if others + 1 >= HALVED_FROM { 2.0 } else { 1.0 };
            for member in &self.members {
                cap_video(member.live.peer().pc(), kbps, scale);
            }
        }
        let now: Vec<(PeerInfo, State)> = self
            .members
            .iter()
            .map(|m| (m.info.clone(), m.live.state()))
            .collect();
        if now != self.told {
            self.told = now.clone();
            out.emit(Event::Participants(now));
        }
    }

    /// Fresh TURN credentials: every connection restarts ICE with them.
    pub fn refresh_ice(&mut self, ice_servers: &JsValue, out: &mut Actions) {
        for member in &mut self.members {
            member.live.refresh_ice(ice_servers, &member.info, out);
        }
    }

    /// Every connection, and who it is with.
    pub fn connections(&mut self) -> Vec<(&mut Live, &PeerInfo)> {
        self.members
            .iter_mut()
            .map(|m| (&mut m.live, &m.info))
            .collect()
    }

    /// We leave, and the server is told (a join still on its way is undone by it).
    pub fn leave(&self, out: &mut Actions) {
        out.send(ClientMessage::LeaveCall { seq: None });
        out.end(EndReason::Hangup);
    }

    /// The call is over for us: every connection ends, and the page is told why.
    pub fn finish(self, reason: EndReason, out: &mut Actions) {
        if let Phase::Joining { reply: Some(reply) } = self.phase {
            let error = Error::new(
                ErrorCode::InvalidState,
                "the call ended before it was joined",
            );
            answer(reply, Err::<JsValue, _>(error));
        }
        for member in self.members {
            member.live.finish(out);
        }
        out.emit(Event::Participants(Vec::new()));
        out.emit(Event::Ended(reason));
    }

    /// Joining was refused (the call is full): the promise hears why.
    pub fn refused(&mut self, error: Error, out: &mut Actions) {
        if let Phase::Joining { reply } = &mut self.phase
            && let Some(reply) = reply.take()
        {
            answer(reply, Err::<JsValue, _>(error));
            out.end(EndReason::Failed);
        } else {
            out.report(error);
        }
    }
}
