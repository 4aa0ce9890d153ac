//! The calls of one room, as far as the server needs them to route signals: each call's
//! id, its two members, and whether it rings or was accepted. Never its SDP.
//!
//! `ring` opens a call, `accept` makes it live, `decline` and `hangup` end it, and so does
//! either member leaving. `offer`, `answer`, `candidate` and `restart-ice` pass only
//! between the two members of a live call, so nobody can push session descriptions or
//! candidates at someone who never took their call.

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
}

/// The calls of one room.
#[derive(Default)]
pub struct Calls {
    calls: HashMap<CallId, Call>,
    /// The calls of each member, so that leaving costs the calls one had, not all.
    of: HashMap<PeerId, Vec<CallId>>,
    rings: u64,
}

fn not_in_call(what: &str) -> Refusal {
    Refusal::new(ErrorCode::NotInCall, what.to_owned())
}

impl Calls {
    /// `caller` rings `callee` in call `call` (made up here when the ring has none).
    /// Their earlier unanswered rings to the same callee stop ringing.
    pub fn ring(
        &mut self,
        caller: &PeerId,
        callee: &PeerId,
        call: Option<CallId>,
    ) -> Result<CallId, Refusal> {
        let id = call.unwrap_or_else(new_call_id);
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
        superseded.iter().for_each(|id| self.remove(id));
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
        for (_, id) in ringing
            .iter()
            .take((ringing.len() + 1).saturating_sub(RINGING_PER_CALLER))
        {
            self.remove(id);
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
        Ok(id)
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
        others.iter().for_each(|other| self.remove(other));
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
        self.remove(&id);
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
                earlier.iter().for_each(|id| self.remove(id));
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
            self.remove(&id);
        }
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

    fn remove(&mut self, id: &CallId) {
        let Some(call) = self.calls.remove(id) else {
            return;
        };
        for member in [&call.caller, &call.callee] {
            if let Some(calls) = self.of.get_mut(member) {
                calls.retain(|other| other != id);
                if calls.is_empty() {
                    self.of.remove(member);
                }
            }
        }
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
