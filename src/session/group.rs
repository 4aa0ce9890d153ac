//! The room call: one connection with each other member (a full mesh), each with the same
//! perfect negotiation, trickle ICE, ICE recovery, chat and file channels as a two-person
//! call. The member already in the call offers to a newcomer, so joining never collides.
//!
//! Each member's video uplink is shared out: every sender is capped at the budget divided
//! by the number of others, and from four people on the resolution is halved.
//!
//! A connection that fails for good (it never connected, or ICE restarts did not bring it
//! back) is made again, from scratch, with the member staying in the call: the side that
//! failed says `hangup` with reason `reconnect`, the other answers `reconnected`, both
//! start a new connection in the roles they had, and the one who offered first offers
//! again. A side that asked drops what the other sends until the answer comes: it came
//! from their old connection. Two requests that cross answer each other. After
//! [`MAX_REMAKES`] without connecting, the member is let go (reason `failed`).

use crate::queue::Sender;
use protocol::{CallId, ClientMessage, PeerId, PeerInfo, Signal};
use wasm_bindgen::JsValue;
use web_sys::{MediaStream, MediaStreamTrack, MediaStreamTrackState};

use super::{
    action::{Action, Actions},
    call::Tracks,
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

/// How often the connection with a member is made again without connecting in between;
/// if it fails once more, they are let go.
pub const MAX_REMAKES: u8 = 3;

/// The `hangup` reason that asks the other side to start our connection afresh.
pub const RECONNECT: &str = "reconnect";

/// The `hangup` reason that answers [`RECONNECT`]: we started afresh too.
pub const RECONNECTED: &str = "reconnected";

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
    /// How often the connection was made again since it last connected.
    remade: u8,
    /// Our `reconnect`s they have not answered (`reconnected`, or a `reconnect` of theirs
    /// that crossed ours) yet. Until they have, what they send comes from a connection of
    /// theirs that our new one does not match, and is dropped.
    unanswered: u8,
}

impl Member {
    /// How the connection is, as the page hears it: one made again is `reconnecting`.
    fn state(&self) -> State {
        match self.live.state() {
            State::Connecting if self.remade > 0 => State::Reconnecting,
            state => state,
        }
    }
}

/// Why a connection is made again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// It failed here: the other side is asked to start afresh too.
    FailedHere,
    /// The other side asked: they are answered (`reconnected`), so that they know where
    /// our old connection's signals end.
    TheyAsked,
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
    /// A connection with `with` in call `call`, as `role`, sending those of `tracks` that
    /// are live too.
    fn connect(
        &mut self,
        with: &PeerInfo,
        call: &CallId,
        role: Role,
        tracks: &Tracks,
    ) -> Result<Member, Error> {
        *self.numbers += 1;
        let number = *self.numbers;
        let setup = PeerSetup::new(self.options, self.link, with, self.transfer_numbers).in_mesh();
        let wake = super::wake(self.inputs, number);
        let mut live = Live::start(&setup, role, self.local.cloned(), Some(call.clone()), wake)?;
        if let Some(screen) = self.screen {
            live.add_track(&screen.track, &screen.stream);
        }
        for (track, stream) in tracks {
            if track.ready_state() == MediaStreamTrackState::Live {
                live.add_track(track, stream);
            }
        }
        Ok(Member {
            number,
            info: with.clone(),
            live,
            remade: 0,
            unanswered: 0,
        })
    }
}

/// A `hangup` to `to` in room call `call`, with `reason`.
fn hangup(to: &PeerId, call: &CallId, reason: &str) -> ClientMessage {
    let reason = Some(reason.to_owned());
    ClientMessage::signal(to.clone(), Some(call.clone()), Signal::Hangup { reason })
}

/// The room call, as one member holds it.
pub struct Group {
    phase: Phase,
    members: Vec<Member>,
    /// The video uplink shared among the others, in kbps.
    budget_kbps: u32,
    /// The participant list the page was told last.
    told: Vec<(PeerInfo, State)>,
    /// The tracks the page added during the call (`addTrack`), sent on every connection:
    /// those made later too, while the track is live.
    tracks: Tracks,
}

impl Group {
    /// Joining the room call; `reply` hears who is in it.
    pub fn joining(reply: Reply, budget_kbps: u32) -> Self {
        Self {
            phase: Phase::Joining { reply: Some(reply) },
            members: Vec::new(),
            budget_kbps,
            told: Vec::new(),
            tracks: Vec::new(),
        }
    }

    /// A two-person call with `with`, connection number `number`, grown into room call
    /// `call`; the page added `tracks` to it.
    pub fn grown(
        (number, with, call, mut live, tracks): (u32, PeerInfo, CallId, Live, Tracks),
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
                remade: 0,
                unanswered: 0,
            }],
            budget_kbps,
            told: Vec::new(),
            tracks,
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

    /// The page sends `track` of `stream` on every connection: on those made later too.
    pub fn keep_track(&mut self, track: &MediaStreamTrack, stream: &MediaStream) {
        self.tracks
            .push((Clone::clone(track), Clone::clone(stream)));
    }

    /// Whether `member` is in the call with us.
    pub fn has(&self, member: &PeerId) -> bool {
        self.members.iter().any(|m| m.info.id == *member)
    }

    /// Our devices are here: ask to join.
    pub fn join(&self, out: &mut Actions) {
        out.send(ClientMessage::JoinCall { seq: None });
    }

    /// The server forgot the call we were in (it restarted, or we were away past its
    /// grace, and the others let us go): its connections go, and we join again once
    /// logged in ([`Group::ask_again`]), as someone new.
    pub fn forgotten(&mut self, out: &mut Actions) {
        if let Phase::In(_) = self.phase {
            for member in std::mem::take(&mut self.members) {
                member.live.finish(out);
                let (id, reason) = (member.info.id, LeftReason::Gone);
                out.emit(Event::ParticipantLeft { id, reason });
            }
            self.phase = Phase::Joining { reply: None };
            self.changed(out);
        }
    }

    /// Asks to join (again) if the server has not answered yet.
    pub fn ask_again(&self, out: &mut Actions) {
        if matches!(self.phase, Phase::Joining { .. }) {
            self.join(out);
        }
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
        match connector.connect(&peer, call, role, &self.tracks) {
            Ok(member) => {
                out.emit(Event::ParticipantJoined(peer));
                self.members.push(member);
            }
            Err(error) => {
                // The browser would not make the connection (its configuration was
                // refused): they would wait for it in vain, so they hear that it failed.
                out.report(error);
                out.send(hangup(&peer.id, call, EndReason::Failed.as_str()));
            }
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

    /// Whether a connection numbered `number` is one of the call's.
    pub fn has_number(&self, number: u32) -> bool {
        self.members.iter().any(|m| m.number == number)
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

    /// A signal of call `call` from `from`, for the connection with them (hang-ups go to
    /// [`Group::hung_up`]).
    pub fn signal(&self, from: &PeerId, call: Option<&CallId>, signal: Signal) -> Option<Work> {
        // A signal from someone not in the call finds no connection to go to, and one
        // from a connection they are replacing belongs to none of ours.
        let current = self
            .members
            .iter()
            .any(|m| m.info.id == *from && m.unanswered == 0);
        (call == self.call_id() && current).then_some(Work::Signal(signal))
    }

    /// `from` hung up their connection with us in call `call`, for `reason`: `reconnect`
    /// asks us to start afresh (or crosses ours), `reconnected` answers ours; anything else
    /// ends the connection.
    pub fn hung_up(
        &mut self,
        from: &PeerId,
        call: Option<&CallId>,
        reason: Option<&str>,
        connector: &mut Connector,
        out: &mut Actions,
    ) {
        if call != self.call_id() {
            return;
        }
        match reason {
            Some(reason @ (RECONNECT | RECONNECTED)) => {
                let Some(member) = self.members.iter_mut().find(|m| m.info.id == *from) else {
                    return;
                };
                if member.unanswered > 0 {
                    // Their answer to ours, or their request crossing it: from here on,
                    // what they send is for our new connection.
                    member.unanswered -= 1;
                } else if reason == RECONNECT {
                    self.remake(from, Cause::TheyAsked, connector, out);
                }
                // An answer to nothing we asked (we let them go and they came back
                // meanwhile) changes nothing.
                self.changed(out);
            }
            Some(reason) if reason == EndReason::Failed.as_str() => {
                // They gave up on our connection: so does this side, in its own words.
                if let Some(member) = self.members.iter().find(|m| m.info.id == *from) {
                    out.report(member.live.failure_there(&member.info));
                }
                self.remove(from, LeftReason::Failed, out);
            }
            _ => self.remove(from, LeftReason::Left, out),
        }
    }

    /// Carries `own`, the actions of the connection with `id`, over to `out`. A connection
    /// that ends is made again ([`Group::remake`]); its error is not reported then, as the
    /// participant is `reconnecting`.
    pub fn contain(
        &mut self,
        id: &PeerId,
        mut own: Actions,
        connector: &mut Connector,
        out: &mut Actions,
    ) {
        let actions = own.take();
        let ended = actions
            .iter()
            .any(|action| matches!(action, Action::End(_)));
        let mending = ended
            && self
                .members
                .iter()
                .any(|m| m.info.id == *id && m.remade < MAX_REMAKES);
        for action in actions {
            match action {
                Action::End(_) => {}
                Action::Emit(Event::Error(error))
                    if mending && error.code == ErrorCode::NegotiationFailed => {}
                action => out.push(action),
            }
        }
        if ended {
            self.remake(id, Cause::FailedHere, connector, out);
        }
        self.changed(out);
    }

    /// Makes the connection with `id` again, in the role it had, and tells them: a
    /// `hangup` with reason `reconnect` (or `reconnected`, if they asked), which goes out
    /// before anything of the new connection. One made again [`MAX_REMAKES`] times without
    /// connecting, or that cannot be made, ends instead: they hear `failed`, and the page
    /// hears why.
    fn remake(&mut self, id: &PeerId, cause: Cause, connector: &mut Connector, out: &mut Actions) {
        let (Some(call), Some(at)) = (
            self.call_id().cloned(),
            self.members.iter().position(|m| m.info.id == *id),
        ) else {
            return;
        };
        let hangup = |reason: &str| hangup(id, &call, reason);
        let old = &self.members[at];
        let made = (old.remade < MAX_REMAKES)
            .then(|| connector.connect(&old.info, &call, old.live.role(), &self.tracks));
        let mut member = match made {
            Some(Ok(member)) => member,
            Some(Err(error)) => {
                out.report(error);
                out.send(hangup(EndReason::Failed.as_str()));
                return self.remove(id, LeftReason::Failed, out);
            }
            None => {
                // A failure here was reported already; one there is told in our words.
                if cause == Cause::TheyAsked {
                    out.report(old.live.failure_there(&old.info));
                }
                out.send(hangup(EndReason::Failed.as_str()));
                return self.remove(id, LeftReason::Failed, out);
            }
        };
        out.send(hangup(match cause {
            Cause::FailedHere => RECONNECT,
            Cause::TheyAsked => RECONNECTED,
        }));
        let old = &self.members[at];
        member.remade = old.remade + 1;
        member.unanswered = old.unanswered + u8::from(cause == Cause::FailedHere);
        let old = std::mem::replace(&mut self.members[at], member);
        // Their screen comes again with the new connection, and is announced then.
        if old.live.shares_screen() {
            out.emit(Event::ShareEnded(id.clone()));
        }
        old.live.finish(out);
    }

    /// After any change: caps the senders for the number of people, and tells the page
    /// the participants if they changed.
    fn changed(&mut self, out: &mut Actions) {
        let others = self.members.len();
        if others > 0 {
            let kbps = self.budget_kbps / others as u32;
            let scale = if others + 1 >= HALVED_FROM { 2.0 } else { 1.0 };
            for member in &mut self.members {
                cap_video(member.live.peer().pc(), kbps, scale);
                if member.live.state() == State::Connected {
                    member.remade = 0;
                }
            }
        }
        let now: Vec<(PeerInfo, State)> = self
            .members
            .iter()
            .map(|m| (m.info.clone(), m.state()))
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

    /// Joining was refused (the call is full, or we asked too fast): it ends, and its
    /// promise, if the page waits on one, hears why.
    pub fn refused(&mut self, error: Error, out: &mut Actions) {
        let Phase::Joining { reply } = &mut self.phase else {
            return out.report(error);
        };
        match reply.take() {
            Some(reply) => answer(reply, Err::<JsValue, _>(error)),
            // Joining again by itself (see `forgotten`): the page hears it.
            None => out.report(error),
        }
        out.end(EndReason::Failed);
    }
}
