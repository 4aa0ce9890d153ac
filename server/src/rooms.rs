//! Rooms: who is in each, and the room's own rules (capacity, lock, password,
//! moderators, who was removed). Presence and relaying never cross a room's walls.

use std::collections::{HashMap, VecDeque};

use axum::extract::ws::Message;
use hmac::{Hmac, Mac};
use protocol::{CallId, LeaveReason, PeerId, PeerInfo, ServerMessage};
use sha2::Sha256;

use crate::{
    calls::{Calls, Departure},
    inbox::Inbox,
    outbox::{Outbox, frame},
    refusal::Refusal,
};

/// Removals a room remembers; past this the oldest are forgotten, so a room kept alive
/// for ever cannot grow without bound.
const REMOVALS_KEPT: usize = 1024;

/// A room's name; the default room's is empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoomKey(String);

impl RoomKey {
    /// The room of a login that names none.
    pub fn default_room() -> Self {
        Self(String::new())
    }

    /// The room named `name` (checked by `protocol::validate_room`).
    pub fn named(name: &str) -> Self {
        Self(name.to_owned())
    }

    /// The name, empty for the default room.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name of a named room.
    pub fn name(&self) -> Option<&str> {
        (!self.0.is_empty()).then_some(self.0.as_str())
    }
}

/// How a user is reached.
pub enum Link {
    /// Through connection number `conn`.
    Connected { conn: u64, outbox: Outbox },
    /// Not at all, since connection number `conn` dropped (none: it was taken over from
    /// a node that died, and no connection of this node's had it); call signals wait in
    /// its inbox, and what it must know of the room is sent afresh when it is back.
    Away { conn: Option<u64> },
}

/// Someone in a room.
pub struct Member {
    /// Their display name.
    pub name: String,
    /// How they are reached.
    pub link: Link,
    /// When their session began, in ms since the epoch.
    pub started_ms: u64,
    /// Order of arrival in the room: the earliest present becomes moderator when the last
    /// one leaves.
    pub arrival: u64,
    /// Whether they may lock the room and remove people.
    pub moderator: bool,
    /// The call signals relayed to them.
    pub inbox: Inbox,
}

impl Member {
    /// Queues `frame` for them if they are connected: presence and room news for someone
    /// away is sent afresh when they are back.
    pub fn deliver(&self, frame: Message) {
        if let Some(outbox) = self.outbox() {
            outbox.push(frame);
        }
    }

    /// Their outbox, while connected.
    pub fn outbox(&self) -> Option<&Outbox> {
        match &self.link {
            Link::Connected { outbox, .. } => Some(outbox),
            Link::Away { .. } => None,
        }
    }
}

/// One room and everyone in it, connected or away.
#[derive(Default)]
pub struct Room {
    /// Everyone, by id.
    pub members: HashMap<PeerId, Member>,
    /// Name keys in use (see `identity::name_key`).
    pub names: HashMap<String, PeerId>,
    /// Whether newcomers are turned away.
    pub locked: bool,
    /// The MAC of the room's password under the server's key, set by the first person in.
    password: Option<Vec<u8>>,
    /// The ids and name keys a moderator removed, oldest first: they stay out while the
    /// room lasts (the last [`REMOVALS_KEPT`] of them).
    removed: VecDeque<(PeerId, String)>,
    arrivals: u64,
    /// The calls between members.
    pub calls: Calls,
}

impl Room {
    /// Queues `message` for everyone but `except`.
    pub fn announce(&mut self, except: &PeerId, message: &ServerMessage) {
        let frame = frame(message);
        for (id, member) in &self.members {
            if id != except {
                member.deliver(frame.clone());
            }
        }
    }

    /// Everyone but `me`.
    pub fn others(&self, me: &PeerId) -> Vec<PeerInfo> {
        self.members
            .iter()
            .filter(|(id, _)| *id != me)
            .map(|(id, member)| PeerInfo {
                id: id.clone(),
                name: member.name.clone(),
            })
            .collect()
    }

    /// The number for the next arrival.
    pub fn arrive(&mut self) -> u64 {
        self.arrivals += 1;
        self.arrivals
    }

    /// Whether `id` or the name with key `key` was removed from the room.
    pub fn was_removed(&self, id: Option<&PeerId>, key: &str) -> bool {
        self.removed
            .iter()
            .any(|(gone, gone_key)| id == Some(gone) || gone_key == key)
    }

    /// Whether `seq`, the number `from` gave a message, was taken already (a resume sent
    /// it again); otherwise it is noted as taken.
    pub fn repeated(&mut self, from: &PeerId, seq: Option<u64>) -> bool {
        let (Some(seq), Some(sender)) = (seq, self.members.get_mut(from)) else {
            return false;
        };
        if seq <= sender.inbox.received {
            return true;
        }
        sender.inbox.received = seq;
        false
    }

    /// Numbers `message`, set off by `from`, in `to`'s inbox and sends it if `to` is
    /// connected (see [`Inbox::deliver`]).
    pub fn deliver(
        &mut self,
        to: &PeerId,
        from: PeerId,
        message: ServerMessage,
        limit: usize,
    ) -> Result<(), Refusal> {
        let Some(recipient) = self.members.get_mut(to) else {
            return Ok(());
        };
        let outbox = recipient.outbox().cloned();
        recipient
            .inbox
            .deliver(from, message, outbox.as_ref(), limit)
    }

    /// `id` joined the room call `call`, which `before` were in: it is told who they are,
    /// and `told` (those of them new to it) are told it came.
    pub fn joined(
        &mut self,
        id: &PeerId,
        call: CallId,
        before: &[PeerId],
        told: &[PeerId],
        limit: usize,
    ) {
        let info = |id: &PeerId| {
            self.members.get(id).map(|member| PeerInfo {
                id: id.clone(),
                name: member.name.clone(),
            })
        };
        let peers = before.iter().filter_map(info).collect();
        let Some(me) = info(id) else {
            return;
        };
        let seq = None;
        let joined = ServerMessage::CallJoined {
            call: call.clone(),
            peers,
            seq,
        };
        // The room call's news is small and rare (its rate is a caller's), so a full
        // backlog drops nothing here: the limit doubles for it.
        let _ = self.deliver(id, id.clone(), joined, limit * 2);
        for other in told {
            let news = ServerMessage::ParticipantJoined {
                call: call.clone(),
                id: me.id.clone(),
                name: me.name.clone(),
                seq,
            };
            let _ = self.deliver(other, id.clone(), news, limit * 2);
        }
    }

    /// `id` is no longer in the room call, `why`: the others in it are told.
    pub fn departed(&mut self, id: &PeerId, departure: Departure, why: LeaveReason, limit: usize) {
        for other in &departure.remaining {
            let news = ServerMessage::ParticipantLeft {
                call: departure.call.clone(),
                id: id.clone(),
                reason: why,
                seq: None,
            };
            let _ = self.deliver(other, id.clone(), news, limit * 2);
        }
    }

    /// Takes `id` out, telling the others; a removal keeps them out.
    pub fn leave(&mut self, id: &PeerId, removed: bool, limit: usize) -> Option<Member> {
        if let Some(departure) = self.calls.leave_group(id) {
            self.departed(id, departure, LeaveReason::Gone, limit);
        }
        let member = self.members.remove(id)?;
        self.calls.leave(id);
        let key = crate::identity::name_key(&member.name);
        self.names.remove(&key);
        if removed {
            if self.removed.len() == REMOVALS_KEPT {
                self.removed.pop_front();
            }
            self.removed.push_back((id.clone(), key));
        }
        self.announce(id, &ServerMessage::PeerLeft { id: id.clone() });
        Some(member)
    }

    /// Whether `password` opens the room; the first password given (with the room's
    /// first member) becomes the room's.
    pub fn admits(&mut self, password: Option<&str>, key: &[u8]) -> bool {
        let mac = |password: &str| {
            let mut mac = Hmac::<Sha256>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
            mac.update(password.as_bytes());
            mac
        };
        match (&self.password, password) {
            (None, password) => {
                if self.members.is_empty() {
                    self.password = password
                        .filter(|p| !p.is_empty())
                        .map(|p| mac(p).finalize().into_bytes().to_vec());
                }
                true
            }
            (Some(_), None) => false,
            // verify_slice compares in constant time.
            (Some(expected), Some(given)) => mac(given).verify_slice(expected).is_ok(),
        }
    }

    /// The MAC of the room's password, if it has one.
    pub fn password_mac(&self) -> Option<&[u8]> {
        self.password.as_deref()
    }

    /// Takes the lock and the password's MAC a node that died recorded, unless the room
    /// has a password already.
    pub fn restore(&mut self, locked: bool, password: Option<Vec<u8>>) {
        self.locked |= locked;
        if self.password.is_none() {
            self.password = password;
        }
    }

    /// The `room` message for `id`, in a named room.
    pub fn state_for(&self, room: &RoomKey, id: &PeerId) -> Option<ServerMessage> {
        let name = room.name()?;
        Some(ServerMessage::Room {
            room: name.to_owned(),
            locked: self.locked,
            moderator: self.members.get(id).is_some_and(|m| m.moderator),
        })
    }

    /// Sends everyone their `room` message.
    pub fn tell_state(&mut self, room: &RoomKey) {
        let ids: Vec<PeerId> = self.members.keys().cloned().collect();
        for id in ids {
            if let Some(message) = self.state_for(room, &id)
                && let Some(member) = self.members.get(&id)
            {
                member.deliver(frame(&message));
            }
        }
    }

    /// When the last moderator has gone, the earliest arrival still here takes over.
    pub fn hand_over(&mut self, room: &RoomKey) {
        let Some(name) = room.name() else {
            return;
        };
        if self.members.values().any(|m| m.moderator) {
            return;
        }
        let locked = self.locked;
        if let Some(heir) = self.members.values_mut().min_by_key(|m| m.arrival) {
            heir.moderator = true;
            heir.deliver(frame(&ServerMessage::Room {
                room: name.to_owned(),
                locked,
                moderator: true,
            }));
        }
    }
}
