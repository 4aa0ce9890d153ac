//! The calls of one room, as far as the server needs them to route signals: each call's
//! id, its members, and whether it rings or was accepted. Never its SDP.
//!
//! `ring` opens a call, `accept` makes it live, `decline` and `hangup` end it, and so does
//! either member leaving. `offer`, `answer`, `candidate` and `restart-ice` pass only
//! between two members of a live call, so nobody can push session descriptions or
//! candidates at someone who never took their call.
//!
//! A named room also has at most one room call, a mesh of up to the call capacity:
//! `join-call` enters it, `leave-call` (or leaving the room) leaves it, and a member may
//! invite someone with a `ring` carrying its id, which the invitee's `accept` turns into a
//! join. A two-person call grows into the room call the same way.

use std::collections::HashMap;

use protocol::{CallId, ErrorCode, PeerId};
use rand::{Rng, distr::Alphanumeric};

use crate::refusal::Refusal;

/// Random characters in a call id the server makes up: about 130 bits.
const CALL_ID_CHARS: usize = 22;

/// Calls one person may have ringing at once; past this the oldest stops ringing.
const RINGING_PER_CALLER: usize = 4;

/// Where a call is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// The caller rang; the callee has not answered.
    Ringing,
    /// The callee accepted.
    Accepted,
    /// A member resumed saying it is in this call, which the server did not know (it
    /// restarted): live once the other member says the same.
    Claimed { by: PeerId },
}

/// One call.
#[derive(Debug)]
struct Call {
    caller: PeerId,
    callee: PeerId,
    phase: Phase,
    /// Order of ringing, so the oldest of a caller's rings is known.
    rang: u64,
}

impl Call {
    fn joins(&self, a: &PeerId, b: &PeerId) -> bool {
        (&self.caller == a && &self.callee == b) || (&self.caller == b && &self.callee == a)
    }

    fn has(&self, member: &PeerId) -> bool {
        &self.caller == member || &self.callee == member
    }
}

/// Invitations one member may have open at once; past this the oldest is dropped.
const INVITES_PER_MEMBER: usize = 4;

/// The room's call.
#[derive(Debug)]
struct Group {
    id: CallId,
    /// Who is in it, earliest first.
    members: Vec<PeerId>,
}

/// An open invitation into a call.
#[derive(Debug)]
struct Invitation {
    call: CallId,
    callee: PeerId,
    by: PeerId,
}

impl Group {
    fn has(&self, member: &PeerId) -> bool {
        self.members.contains(member)
    }
}

/// A two-person call as a node records it for another to take over.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeptCall {
    /// The call's id.
    pub id: CallId,
    /// Who rang.
    pub caller: PeerId,
    /// Who was rung.
    pub callee: PeerId,
    /// Whether the callee accepted (else it still rings).
    pub accepted: bool,
}

/// A ring opened (a call rung, or an invitation into one), and the earlier rings of the
/// same caller it stopped: past [`RINGING_PER_CALLER`] calls, or [`INVITES_PER_MEMBER`]
/// invitations, the oldest stops ringing.
#[derive(Debug)]
pub struct Rang {
    /// The call rung.
    pub call: CallId,
    /// The rings stopped, whose callees are to be told.
    pub stopped: Vec<Stopped>,
}

/// A ring the server stopped: its callee is told with a `hangup` from the caller, as if
/// the caller had cancelled it.
#[derive(Debug, PartialEq, Eq)]
pub struct Stopped {
    /// The call that rang.
    pub call: CallId,
    /// Who it rang.
    pub callee: PeerId,
}

/// How a signal of a call is routed.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// Relayed to its recipient, stamped with the call.
    Relay(CallId),
    /// An invitation taken: the sender joined the room call, whose members before it are
    /// listed. Nothing is relayed; everyone is told who joined.
    Joined(CallId, Vec<PeerId>),
}

/// A member's departure from the room call: the call, and who is still in it.
#[derive(Debug, PartialEq, Eq)]
pub struct Departure {
    /// The call.
    pub call: CallId,
    /// Who is still in it.
    pub remaining: Vec<PeerId>,
}

/// The calls of one room.
#[derive(Default)]
pub struct Calls {
    calls: HashMap<CallId, Call>,
    /// The calls of each member, so that leaving costs the calls one had, not all.
    of: HashMap<PeerId, Vec<CallId>>,
    rings: u64,
    /// The room call, in a named room.
    group: Option<Group>,
    /// Open invitations, oldest first.
    invitations: Vec<Invitation>,
}

fn not_in_call(what: &str) -> Refusal {
    Refusal::new(ErrorCode::NotInCall, what.to_owned())
}

impl Calls {
    /// `caller` rings `callee` in call `call` (made up here when the ring has none).
    /// Their earlier unanswered rings to the same callee stop ringing (the new ring takes
    /// their place), and so does the oldest of the caller's rings to others past
    /// [`RINGING_PER_CALLER`].
    pub fn ring(
        &mut self,
        caller: &PeerId,
        callee: &PeerId,
        call: Option<CallId>,
    ) -> Result<Rang, Refusal> {
        let id = call.unwrap_or_else(new_call_id);
        if self.group.as_ref().is_some_and(|group| group.id == id) {
            return Err(Refusal::new(
                ErrorCode::BadRequest,
                "only a member of the room call invites to it",
            ));
        }
        if self.calls.contains_key(&id) {
            return Err(Refusal::new(
                ErrorCode::BadRequest,
                format!("call id {id} is in use already"),
            ));
        }
        let superseded: Vec<CallId> = self
            .between(caller, callee)
            .filter(|(_, call)| call.phase == Phase::Ringing && &call.caller == caller)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &superseded {
            self.remove(id);
        }
        let mut ringing: Vec<(u64, CallId)> = self
            .of
            .get(caller)
            .into_iter()
            .flatten()
            .filter_map(|id| Some((id, self.calls.get(id)?)))
            .filter(|(_, call)| call.phase == Phase::Ringing && &call.caller == caller)
            .map(|(id, call)| (call.rang, id.clone()))
            .collect();
        ringing.sort();
        let mut stopped = Vec::new();
        for (_, id) in ringing
            .iter()
            .take((ringing.len() + 1).saturating_sub(RINGING_PER_CALLER))
        {
            if let Some(call) = self.remove(id) {
                stopped.push(Stopped {
                    call: id.clone(),
                    callee: call.callee,
                });
            }
        }
        self.rings += 1;
        self.insert(
            id.clone(),
            Call {
                caller: caller.clone(),
                callee: callee.clone(),
                phase: Phase::Ringing,
                rang: self.rings,
            },
        );
        Ok(Rang { call: id, stopped })
    }

    /// Whether `member` is in call `call`, accepted: the room call, or a live
    /// two-person call.
    pub fn is_in(&self, member: &PeerId, call: &CallId) -> bool {
        match &self.group {
            Some(group) if group.id == *call => group.has(member),
            _ => self
                .calls
                .get(call)
                .is_some_and(|pair| pair.phase == Phase::Accepted && pair.has(member)),
        }
    }

    /// `member` of call `call` (see [`Calls::is_in`]) invites `callee` into it, in a room
    /// whose calls hold `capacity` people. A two-person call can be grown only in a room
    /// that has no room call yet: it becomes the room call when the invitation is taken.
    pub fn invite(
        &mut self,
        member: &PeerId,
        callee: &PeerId,
        call: &CallId,
        capacity: usize,
    ) -> Result<Rang, Refusal> {
        let members = match (&self.group, self.calls.get(call)) {
            (Some(group), _) if group.id == *call => group.members.clone(),
            (Some(_), _) => {
                return Err(Refusal::new(
                    ErrorCode::BadRequest,
                    "the room has a call already: join it",
                ));
            }
            (None, Some(pair)) => vec![pair.caller.clone(), pair.callee.clone()],
            (None, None) => return Err(not_in_call("no call with that id")),
        };
        if !members.contains(member) {
            return Err(not_in_call("you are not in that call"));
        }
        if members.contains(callee) {
            return Err(Refusal::new(
                ErrorCode::BadRequest,
                "they are in the call already",
            ));
        }
        if members.len() >= capacity {
            return Err(Refusal::new(ErrorCode::CallFull, "the call is full"));
        }
        self.invitations
            .retain(|i| !(i.callee == *callee && i.call == *call));
        let open = self.invitations.iter().filter(|i| i.by == *member).count();
        let mut stopped = Vec::new();
        if open >= INVITES_PER_MEMBER
            && let Some(oldest) = self.invitations.iter().position(|i| i.by == *member)
        {
            let oldest = self.invitations.remove(oldest);
            stopped.push(Stopped {
                call: oldest.call,
                callee: oldest.callee,
            });
        }
        self.invitations.push(Invitation {
            call: call.clone(),
            callee: callee.clone(),
            by: member.clone(),
        });
        Ok(Rang {
            call: call.clone(),
            stopped,
        })
    }

    /// The invitation of `callee` into `call` is withdrawn (its ring could not be
    /// delivered).
    pub fn withdraw(&mut self, call: &CallId, callee: &PeerId) {
        self.invitations
            .retain(|i| !(i.call == *call && i.callee == *callee));
    }

    /// `member` joins the room call (starting it), which holds `capacity` people at most.
    /// Returns the call, who was in it before, and whether `member` is new to it.
    pub fn join(
        &mut self,
        member: &PeerId,
        capacity: usize,
    ) -> Result<(CallId, Vec<PeerId>, bool), Refusal> {
        let group = self.group.get_or_insert_with(|| Group {
            id: new_call_id(),
            members: Vec::new(),
        });
        let before: Vec<PeerId> = group
            .members
            .iter()
            .filter(|other| *other != member)
            .cloned()
            .collect();
        let new = !group.has(member);
        if new {
            if group.members.len() >= capacity {
                return Err(Refusal::new(ErrorCode::CallFull, "the call is full"));
            }
            group.members.push(member.clone());
        }
        let id = group.id.clone();
        self.invitations.retain(|i| i.callee != *member);
        Ok((id, before, new))
    }

    /// The two-person calls that ring or were accepted, oldest first.
    pub fn two_person(&self) -> Vec<KeptCall> {
        let mut calls: Vec<(&CallId, &Call)> = self
            .calls
            .iter()
            .filter(|(_, call)| !matches!(call.phase, Phase::Claimed { .. }))
            .collect();
        calls.sort_by_key(|(_, call)| call.rang);
        calls
            .into_iter()
            .map(|(id, call)| KeptCall {
                id: id.clone(),
                caller: call.caller.clone(),
                callee: call.callee.clone(),
                accepted: call.phase == Phase::Accepted,
            })
            .collect()
    }

    /// Holds `kept` again, as a node that died recorded it, unless its id is in use.
    pub fn restore(&mut self, kept: KeptCall) {
        if self.calls.contains_key(&kept.id) {
            return;
        }
        self.rings += 1;
        let call = Call {
            caller: kept.caller,
            callee: kept.callee,
            phase: if kept.accepted {
                Phase::Accepted
            } else {
                Phase::Ringing
            },
            rang: self.rings,
        };
        self.insert(kept.id, call);
    }

    /// The room call's id and members, earliest first, if there is one.
    pub fn group(&self) -> Option<(&CallId, &[PeerId])> {
        self.group
            .as_ref()
            .map(|group| (&group.id, group.members.as_slice()))
    }

    /// Holds the room call `id` of `members` (earliest first) again, as a node that died
    /// recorded it, unless there is a room call already.
    pub fn restore_group(&mut self, id: CallId, members: Vec<PeerId>) {
        if self.group.is_none() && !members.is_empty() {
            self.group = Some(Group { id, members });
        }
    }

    /// `member` leaves the room call, if it is in it; its invitations are withdrawn, and
    /// a call nobody is in is over.
    pub fn leave_group(&mut self, member: &PeerId) -> Option<Departure> {
        self.invitations
            .retain(|i| i.callee != *member && i.by != *member);
        let group = self.group.as_mut()?;
        let at = group.members.iter().position(|m| m == member)?;
        group.members.remove(at);
        let departure = Departure {
            call: group.id.clone(),
            remaining: group.members.clone(),
        };
        if group.members.is_empty() {
            let call = departure.call.clone();
            self.invitations.retain(|i| i.call != call);
            self.group = None;
        }
        Some(departure)
    }

    /// A signal of call `call` between `from` and `to` that concerns an invitation or the
    /// room call; `None` for the rest (the signals of a two-person call).
    fn group_route(
        &mut self,
        from: &PeerId,
        to: &PeerId,
        call: &CallId,
        accept: bool,
        capacity: usize,
    ) -> Option<Result<Route, Refusal>> {
        let invitation = self
            .invitations
            .iter()
            .position(|i| i.call == *call && i.callee == *from && i.by == *to);
        let group = self.group.as_ref().filter(|group| group.id == *call);
        Some(match (accept, invitation, group) {
            (true, Some(at), _) => {
                self.invitations.remove(at);
                self.grow(call)
                    .and_then(|()| self.join(from, capacity))
                    .map(|(call, before, _)| Route::Joined(call, before))
            }
            // Declining an invitation, or a ring that timed out.
            (false, Some(at), _) => {
                self.invitations.remove(at);
                Ok(Route::Relay(call.clone()))
            }
            (false, None, Some(group)) if group.has(from) && group.has(to) => {
                Ok(Route::Relay(call.clone()))
            }
            (_, None, Some(_)) => Err(not_in_call("no invitation from that peer to its call")),
            (_, None, None) => return None,
        })
    }

    /// Makes `call` the room call, if it is a live two-person call (its members, caller
    /// first); the room call already, it stays as it is.
    fn grow(&mut self, call: &CallId) -> Result<(), Refusal> {
        if self.group.as_ref().is_some_and(|group| group.id == *call) {
            return Ok(());
        }
        if self.group.is_some() {
            return Err(Refusal::new(
                ErrorCode::BadRequest,
                "the room has a call already: join it",
            ));
        }
        let Some(pair) = self
            .calls
            .get(call)
            .filter(|pair| pair.phase == Phase::Accepted)
        else {
            return Err(not_in_call("that call is over"));
        };
        let members = vec![pair.caller.clone(), pair.callee.clone()];
        self.remove(call);
        self.group = Some(Group {
            id: call.clone(),
            members,
        });
        Ok(())
    }

    /// Routes `accept` of call `call` from `callee` to `caller`: an invitation into the
    /// room call joins it; anything else takes a ringing call.
    pub fn route_accept(
        &mut self,
        callee: &PeerId,
        caller: &PeerId,
        call: Option<CallId>,
        capacity: usize,
    ) -> Result<Route, Refusal> {
        if let Some(id) = &call
            && let Some(route) = self.group_route(callee, caller, id, true, capacity)
        {
            return route;
        }
        self.accept(callee, caller, call).map(Route::Relay)
    }

    /// Routes `decline` or `hangup` of call `call` from `from` to `to`: within the room
    /// call it ends an invitation or tells one member, and the call goes on.
    pub fn route_end(
        &mut self,
        from: &PeerId,
        to: &PeerId,
        call: Option<CallId>,
    ) -> Result<Route, Refusal> {
        if let Some(id) = &call
            && let Some(route) = self.group_route(from, to, id, false, usize::MAX)
        {
            return route;
        }
        self.end(from, to, call).map(Route::Relay)
    }

    /// `callee` takes `caller`'s ringing call (the one named, or the latest). Any other
    /// call between the two ends: two rings that crossed become this one call.
    pub fn accept(
        &mut self,
        callee: &PeerId,
        caller: &PeerId,
        call: Option<CallId>,
    ) -> Result<CallId, Refusal> {
        let id = self
            .find(callee, caller, call.as_ref(), |call| {
                call.phase == Phase::Ringing && &call.callee == callee
            })
            .ok_or_else(|| not_in_call("no call from that peer is ringing"))?;
        let others: Vec<CallId> = self
            .between(callee, caller)
            .filter(|(other, _)| **other != id)
            .map(|(other, _)| other.clone())
            .collect();
        others.iter().for_each(|other| self.end_call(other));
        if let Some(call) = self.calls.get_mut(&id) {
            call.phase = Phase::Accepted;
        }
        Ok(id)
    }

    /// `from` declines or hangs up its call with `to` (the one named, or the latest).
    pub fn end(
        &mut self,
        from: &PeerId,
        to: &PeerId,
        call: Option<CallId>,
    ) -> Result<CallId, Refusal> {
        let id = self
            .find(from, to, call.as_ref(), |_| true)
            .ok_or_else(|| not_in_call("no call with that peer to end"))?;
        self.end_call(&id);
        Ok(id)
    }

    /// The live call between `from` and `to` (the one named, or the only one), which a
    /// negotiation signal belongs to.
    pub fn live(
        &self,
        from: &PeerId,
        to: &PeerId,
        call: Option<&CallId>,
    ) -> Result<CallId, Refusal> {
        if let Some(group) = &self.group
            && call == Some(&group.id)
            && group.has(from)
            && group.has(to)
        {
            return Ok(group.id.clone());
        }
        self.find(from, to, call, |call| call.phase == Phase::Accepted)
            .ok_or_else(|| {
                not_in_call(
                    "offers, answers and candidates go only to the other side of an accepted call",
                )
            })
    }

    /// `member` resumed saying it is in call `call` with `with`. A call the server knows
    /// already is left as it is; one it does not know waits for `with` to say the same.
    pub fn claim(&mut self, member: &PeerId, call: CallId, with: &PeerId) {
        if !call.is_valid() || member == with {
            return;
        }
        match self.calls.get_mut(&call) {
            Some(known) => {
                if let Phase::Claimed { by } = &known.phase
                    && by == with
                    && known.joins(member, with)
                {
                    known.phase = Phase::Accepted;
                    let calls = self.of.entry(member.clone()).or_default();
                    if !calls.contains(&call) {
                        calls.push(call);
                    }
                }
            }
            None => {
                // One claim per member: a newer one replaces what it claimed before.
                let earlier: Vec<CallId> = self
                    .of
                    .get(member)
                    .into_iter()
                    .flatten()
                    .filter(|id| {
                        self.calls.get(*id).is_some_and(
                            |c| matches!(&c.phase, Phase::Claimed { by } if by == member),
                        )
                    })
                    .cloned()
                    .collect();
                earlier.iter().for_each(|id| self.end_call(id));
                self.rings += 1;
                self.insert(
                    call,
                    Call {
                        caller: member.clone(),
                        callee: with.clone(),
                        phase: Phase::Claimed { by: member.clone() },
                        rang: self.rings,
                    },
                );
            }
        }
    }

    /// `member` left the room: its calls end.
    pub fn leave(&mut self, member: &PeerId) {
        for id in self.of.remove(member).unwrap_or_default() {
            self.end_call(&id);
        }
        self.invitations
            .retain(|i| i.callee != *member && i.by != *member);
    }

    /// The calls between `a` and `b`.
    fn between<'a>(
        &'a self,
        a: &'a PeerId,
        b: &'a PeerId,
    ) -> impl Iterator<Item = (&'a CallId, &'a Call)> + 'a {
        self.of
            .get(a)
            .into_iter()
            .flatten()
            .filter_map(|id| Some((id, self.calls.get(id)?)))
            .filter(move |(_, call)| call.joins(a, b))
    }

    /// The call between `a` and `b` that passes `test`: the one named `call`, or the
    /// latest one.
    fn find(
        &self,
        a: &PeerId,
        b: &PeerId,
        call: Option<&CallId>,
        test: impl Fn(&Call) -> bool,
    ) -> Option<CallId> {
        match call {
            Some(id) => self
                .calls
                .get(id)
                .filter(|found| found.joins(a, b) && test(found))
                .map(|_| id.clone()),
            None => self
                .between(a, b)
                .filter(|(_, found)| test(found))
                .max_by_key(|(_, found)| found.rang)
                .map(|(id, _)| id.clone()),
        }
    }

    fn insert(&mut self, id: CallId, call: Call) {
        for member in [&call.caller, &call.callee] {
            self.of.entry(member.clone()).or_default().push(id.clone());
        }
        self.calls.insert(id, call);
    }

    /// Call `id` ends: it goes, and so do the invitations into it.
    fn end_call(&mut self, id: &CallId) {
        self.remove(id);
        self.invitations.retain(|i| i.call != *id);
    }

    /// Call `id` goes (its invitations stay: it may be growing into the room call);
    /// returns it, if it was known.
    fn remove(&mut self, id: &CallId) -> Option<Call> {
        let call = self.calls.remove(id)?;
        for member in [&call.caller, &call.callee] {
            if let Some(calls) = self.of.get_mut(member) {
                calls.retain(|other| other != id);
                if calls.is_empty() {
                    self.of.remove(member);
                }
            }
        }
        Some(call)
    }
}

fn new_call_id() -> CallId {
    CallId(
        rand::rng()
            .sample_iter(Alphanumeric)
            .take(CALL_ID_CHARS)
            .map(char::from)
            .collect(),
    )
}
