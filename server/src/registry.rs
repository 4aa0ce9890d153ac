//! Who is logged in, room by room, and the outbox of each: presence and routing.
//!
//! One short-held lock guards every room. Every frame for a peer is queued into its
//! outbox while the lock is held, so presence is seen in one order by everyone in a room:
//! a newcomer either finds a peer in its `peers` list or later gets that peer's
//! `peer-joined`.
//!
//! A socket that drops without a close frame leaves its user *away*: name and id stay
//! reserved for the resume grace period and frames for it are kept, so that the same user
//! logging in again with its resume token carries on as if nothing happened. A socket
//! closed on purpose leaves at once, and the tokens of its id are refused from then on.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use protocol::{
    CallId, ErrorCode, LeaveReason, MAX_REASON_BYTES, Outgoing, PeerId, Relayed, ServerMessage,
    Signal,
};
use rand::{Rng, distr::Alphanumeric};

use crate::{
    calls::{KeptCall, Rang, Route, Stopped},
    ice::IceServers,
    identity::name_key,
    inbox::Inbox,
    outbox::{Eviction, Outbox, WakesHeld, frame},
    refusal::Refusal,
    rooms::{Link, Member, Room, RoomKey},
    tokens::{Resumable, Tokens},
};

/// The registry's rooms while its lock is held. The writers of frames queued meanwhile
/// are woken once the lock is let go (its fields drop in order: the lock, then the wakes).
struct Held<'a> {
    guard: MutexGuard<'a, Rooms>,
    _wakes: WakesHeld,
}

impl std::ops::Deref for Held<'_> {
    type Target = Rooms;

    fn deref(&self) -> &Rooms {
        &self.guard
    }
}

impl std::ops::DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut Rooms {
        &mut self.guard
    }
}

/// Random characters in an id: 16 alphanumerics carry about 95 bits.
const ID_CHARS: usize = 16;

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// Where a logged-in connection sits: its room and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    /// The room.
    pub room: RoomKey,
    /// The id.
    pub id: PeerId,
    /// The display name.
    pub name: String,
    /// When the session began, in ms since the epoch.
    pub started_ms: u64,
}

/// A login, its name and room already checked.
pub struct Login<'a> {
    /// The display name, normalized.
    pub name: &'a str,
    /// The room.
    pub room: RoomKey,
    /// The resume token's claim, when it was genuine and unexpired.
    pub resume: Option<Resumable>,
    /// The room password given.
    pub password: Option<&'a str>,
    /// Whether a token made this user a moderator.
    pub admin: bool,
    /// Whether the login's token (in token mode) is good now, not only when the session it
    /// resumes began: only a session the room still holds goes on without one.
    pub token_current: bool,
    /// The highest `seq` the client has handled; absent for a client that never
    /// acknowledges.
    pub ack: Option<u64>,
    /// The highest `seq` the client has given its own signals.
    pub sent: Option<u64>,
    /// The call a resuming client says it is in, and with whom.
    pub claim: Option<(CallId, PeerId)>,
}

/// A successful login.
pub struct Welcomed {
    /// Where the user sits.
    pub seat: Seat,
    /// Whether this took an earlier session's place (nobody saw it leave).
    pub resumed: bool,
}

/// How many people rooms hold.
#[derive(Debug, Clone, Copy)]
pub struct Capacity {
    /// Each named room.
    pub named: usize,
    /// The default room, if limited.
    pub default: Option<usize>,
    /// Whether logins without a room are taken.
    pub default_room: bool,
    /// Each named room's call.
    pub call: usize,
}

#[derive(Default)]
struct Rooms {
    rooms: HashMap<RoomKey, Room>,
    /// On a node of a cluster, the rooms whose members or state changed since they were
    /// last recorded (see [`Record`]); a server alone records nothing.
    changed: Option<HashSet<RoomKey>>,
    /// The room of every id in use, so ids stay unique across rooms.
    homes: HashMap<PeerId, RoomKey>,
    /// Ids that left on purpose: their tokens are refused until they expire.
    left: Left,
}

/// What another node needs to hold a member if this node dies: kept in Redis by a node of
/// a cluster for each room it holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// The id.
    pub id: PeerId,
    /// The display name.
    pub name: String,
    /// When the session began, in ms since the epoch.
    pub started_ms: u64,
    /// Whether they moderate the room.
    pub moderator: bool,
    /// The room call they are in, and their place in it (0 the earliest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_call: Option<(CallId, usize)>,
    /// While they are away: the signals waiting for them, each with its sender.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<(PeerId, String)>,
}

impl Rooms {
    /// Notes that `room`'s members or state changed, if changes are recorded.
    fn note_change(&mut self, room: RoomKey) {
        if let Some(changed) = &mut self.changed {
            changed.insert(room);
        }
    }
}

/// A room's own state, recorded beside its members.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoomState {
    /// Whether newcomers are turned away.
    pub locked: bool,
    /// The MAC of the room's password (hex), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Its two-person calls that ring or were accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<KeptCall>,
}

/// Ids that left on purpose, each until its last token's expiry (ms since the epoch).
/// Every entry lasts one token lifetime, so they expire in the order they came, and
/// forgetting the expired ones costs nothing for those still kept.
#[derive(Default)]
struct Left {
    ids: HashSet<PeerId>,
    order: VecDeque<(u64, PeerId)>,
}

impl Left {
    fn insert(&mut self, id: PeerId, until: u64) {
        if self.ids.insert(id.clone()) {
            self.order.push_back((until, id));
        }
    }

    fn contains(&self, id: &PeerId) -> bool {
        self.ids.contains(id)
    }

    /// Forgets the ids whose tokens have all expired by `now`.
    fn expire(&mut self, now: u64) {
        while let Some((until, _)) = self.order.front()
            && *until < now
        {
            if let Some((_, id)) = self.order.pop_front() {
                self.ids.remove(&id);
            }
        }
    }
}

/// Everyone logged in, or away and reserved, in every room.
pub struct Registry {
    rooms: Mutex<Rooms>,
    limits: Limits,
    tokens: Tokens,
    grace: Duration,
    capacity: Capacity,
}

/// How much may wait for one user.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes queued to a socket before it counts as too slow.
    pub outbox_bytes: usize,
    /// Bytes of call signals kept until acknowledged (see [`Inbox`]).
    pub backlog_bytes: usize,
}

impl Registry {
    /// An empty registry.
    pub fn new(limits: Limits, tokens: Tokens, grace: Duration, capacity: Capacity) -> Self {
        Self {
            rooms: Mutex::default(),
            limits,
            tokens,
            grace,
            capacity,
        }
    }

    /// The byte limit of a new outbox: the signals kept for its user may all be in it (a
    /// resume replays them at once), and other frames up to the outbox's own limit.
    pub fn outbox_bytes(&self) -> usize {
        self.limits.outbox_bytes + self.limits.backlog_bytes
    }

    /// The resume token's claim for `name` in `room`, if it is genuine, unexpired, and
    /// its id has not left on purpose.
    pub fn resumable(&self, token: Option<&str>, room: &RoomKey, name: &str) -> Option<Resumable> {
        let claim = self.tokens.verify(token?, room, name, now_ms())?;
        (!self.lock().left.contains(&claim.id)).then_some(claim)
    }

    /// A fresh resume token for `seat`.
    pub fn resume_token(&self, seat: &Seat) -> String {
        self.tokens
            .issue(&seat.id, &seat.room, &seat.name, seat.started_ms, now_ms())
    }

    /// How long a resume token lasts.
    pub fn token_lifetime(&self) -> Duration {
        self.tokens.lifetime()
    }

    /// Whether logins without a room are taken.
    pub fn has_default_room(&self) -> bool {
        self.capacity.default_room
    }

    fn lock(&self) -> Held<'_> {
        let wakes = WakesHeld::new();
        // A panic while holding the lock leaves the maps consistent (every change is a
        // single insert, update or remove), so a poisoned lock is still usable.
        let guard = self
            .rooms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Held {
            guard,
            _wakes: wakes,
        }
    }

    /// Logs `login` in on connection `conn`: queues `welcome`, `room` (in a named room)
    /// and `peers` to `outbox` and `peer-joined` to everyone else in the room, or returns
    /// the refusal. A genuine resume gets its id back; if that user is still known here,
    /// nobody else is told.
    pub fn login(
        &self,
        login: Login<'_>,
        conn: u64,
        outbox: &Outbox,
        ice: &IceServers,
    ) -> Result<Welcomed, Refusal> {
        let key = name_key(login.name);
        let mut state = self.lock();
        let now = now_ms();
        state.left.expire(now);
        let claimed = login.resume.filter(|claim| !state.left.contains(&claim.id));
        let room_key = login.room;
        if claimed.is_some() {
            // A resume takes what waited: the record must say so.
            state.note_change(room_key.clone());
        }
        let room = state.rooms.entry(room_key.clone()).or_default();

        if room.was_removed(claimed.as_ref().map(|c| &c.id), &key) {
            drop_if_empty(&mut state, &room_key);
            return Err(Refusal::new(
                ErrorCode::Removed,
                "a moderator removed you from this room",
            ));
        }
        if let Some(claim) = &claimed
            && let Some(member) = room.members.get_mut(&claim.id)
        {
            let link = Link::Connected {
                conn,
                outbox: outbox.clone(),
            };
            let previous = std::mem::replace(&mut member.link, link);
            if matches!(previous, Link::Away { conn: None }) {
                // Taken over from a node that died: the session starts afresh here.
                member.inbox.restart(login.ack, login.sent);
            }
            let seat = Seat {
                room: room_key.clone(),
                id: claim.id.clone(),
                name: member.name.clone(),
                started_ms: member.started_ms,
            };
            let received = room
                .members
                .get(&claim.id)
                .filter(|_| login.ack.is_some())
                .map(|member| member.inbox.received);
            self.welcome(room, &seat, outbox, ice, received, true);
            // The old socket has not noticed it is dead yet: it goes now.
            if let Link::Connected { outbox: old, .. } = previous {
                old.evict(Eviction::Replaced);
            }
            if let Some(member) = room.members.get_mut(&claim.id) {
                member.inbox.replay(login.ack, outbox);
            }
            if let Some((call, with)) = login.claim {
                room.calls.claim(&seat.id, call, &with);
            }
            return Ok(Welcomed {
                seat,
                resumed: true,
            });
        }

        let refusal = if !login.token_current {
            Some(Refusal::new(
                ErrorCode::Unauthorized,
                "the token has expired",
            ))
        } else if room.locked {
            Some(Refusal::new(
                ErrorCode::RoomLocked,
                "the room is locked: nobody new may join",
            ))
        } else if room.members.len() >= self.capacity_of(&room_key) {
            Some(Refusal::new(ErrorCode::RoomFull, "the room is full"))
        } else if room_key.name().is_some() && !room.admits(login.password, self.tokens.key()) {
            Some(Refusal::new(
                ErrorCode::RoomPassword,
                "wrong password for this room",
            ))
        } else if room.names.contains_key(&key) {
            Some(Refusal::new(
                ErrorCode::NameTaken,
                format!(
                    "the name {} (or one that looks the same) is already taken in this room",
                    login.name
                ),
            ))
        } else {
            None
        };
        if let Some(refusal) = refusal {
            drop_if_empty(&mut state, &room_key);
            return Err(refusal);
        }
        // A genuine token whose user is unknown here (the grace ran out, or the server
        // restarted) still gets its id back, unless someone else has it.
        let same_id = claimed
            .as_ref()
            .is_some_and(|claim| !state.homes.contains_key(&claim.id));
        let (id, started_ms) = match claimed {
            Some(claim) if same_id => (claim.id, claim.started_ms),
            _ => loop {
                let id = new_id();
                if !state.homes.contains_key(&id) {
                    break (id, now);
                }
            },
        };
        let seat = Seat {
            room: room_key.clone(),
            id: id.clone(),
            name: login.name.to_owned(),
            started_ms,
        };
        state.homes.insert(id.clone(), room_key.clone());
        state.note_change(room_key.clone());
        let room = state.rooms.entry(room_key.clone()).or_default();
        let arrival = room.arrive();
        let moderator = room_key.name().is_some() && (login.admin || room.members.is_empty());
        room.announce(
            &id,
            &ServerMessage::PeerJoined {
                id: id.clone(),
                name: seat.name.clone(),
            },
        );
        room.names.insert(key, id.clone());
        room.members.insert(
            id,
            Member {
                name: seat.name.clone(),
                link: Link::Connected {
                    conn,
                    outbox: outbox.clone(),
                },
                started_ms,
                arrival,
                moderator,
                inbox: Inbox::new(login.ack, login.sent),
            },
        );
        if same_id && let Some((call, with)) = login.claim {
            room.calls.claim(&seat.id, call, &with);
        }
        let received = room
            .members
            .get(&seat.id)
            .and_then(|member| member.inbox.acks().then_some(member.inbox.received));
        self.welcome(room, &seat, outbox, ice, received, false);
        Ok(Welcomed {
            seat,
            resumed: false,
        })
    }

    fn capacity_of(&self, room: &RoomKey) -> usize {
        match room.name() {
            Some(_) => self.capacity.named,
            None => self.capacity.default.unwrap_or(usize::MAX),
        }
    }

    fn welcome(
        &self,
        room: &Room,
        seat: &Seat,
        outbox: &Outbox,
        ice: &IceServers,
        received: Option<u64>,
        resumed: bool,
    ) {
        outbox.push(frame(&ServerMessage::Welcome {
            id: seat.id.clone(),
            name: seat.name.clone(),
            resume: Some(self.resume_token(seat)),
            ice_servers: ice.for_peer(&seat.id),
            received,
            resumed,
        }));
        if let Some(message) = room.state_for(&seat.room, &seat.id) {
            outbox.push(frame(&message));
        }
        outbox.push(frame(&ServerMessage::Peers {
            peers: room.others(&seat.id),
        }));
    }

    /// Relays `signal` of call `call` from `from` to `to` in the same room, stamped with
    /// the sender's id and name, the call and its number. A ring opens a call, an accept
    /// makes it live, a decline or hang-up ends it; the rest pass only within a live call.
    /// A recipient who is away gets it when it is back.
    pub fn relay(&self, from: &Seat, outgoing: Outgoing) -> Result<(), Refusal> {
        let Outgoing {
            to,
            call,
            seq,
            signal,
        } = outgoing;
        if call.as_ref().is_some_and(|call| !call.is_valid()) {
            return Err(Refusal::new(
                ErrorCode::BadRequest,
                "a call id is 1 to 64 letters, digits, - and _",
            ));
        }
        if let Signal::Hangup {
            reason: Some(reason),
        } = &signal
            && reason.len() > MAX_REASON_BYTES
        {
            return Err(Refusal::new(
                ErrorCode::BadRequest,
                format!("a hang-up reason is at most {MAX_REASON_BYTES} bytes"),
            ));
        }
        let mut state = self.lock();
        if !matches!(
            signal,
            Signal::Offer { .. }
                | Signal::Answer { .. }
                | Signal::Candidate { .. }
                | Signal::RestartIce
        ) {
            // Rings, answers to them and hang-ups change the calls (an accepted invitation
            // the room call): they are recorded anew.
            state.note_change(from.room.clone());
        }
        let Some(room) = state.rooms.get_mut(&from.room) else {
            return Err(Refusal::new(ErrorCode::NotLoggedIn, "log in again"));
        };
        let Some(sender) = room.members.get_mut(&from.id) else {
            return Err(Refusal::new(ErrorCode::NotLoggedIn, "log in again"));
        };
        let name = sender.name.clone();
        if room.repeated(&from.id, seq) {
            return Ok(());
        }
        // A refusal names the recipient and the call the signal named.
        let addressed =
            |refusal: Refusal, call: Option<&CallId>| refusal.addressed(Some(&to), call);
        if !room.members.contains_key(&to) {
            let message = format!("no peer with id {to} in this room");
            let refusal = Refusal::new(ErrorCode::PeerUnavailable, message);
            return Err(addressed(refusal, call.as_ref()));
        }
        let named = from.room.name().is_some();
        let capacity = self.capacity.call;
        let calls = &mut room.calls;
        // Rings, answers to them and hang-ups are rare: their ids are copied, so that a
        // refusal can name the call.
        let mut stopped = Vec::new();
        let mut rang = |rang: Rang| {
            stopped = rang.stopped;
            Route::Relay(rang.call)
        };
        let route = match &signal {
            Signal::Ring => match call.as_ref().filter(|id| calls.is_in(&from.id, id)) {
                Some(_) if !named => Err(no_room_call()),
                Some(id) => calls.invite(&from.id, &to, id, capacity).map(&mut rang),
                None => calls.ring(&from.id, &to, call.clone()).map(&mut rang),
            },
            Signal::Accept => calls.route_accept(&from.id, &to, call.clone(), capacity),
            Signal::Decline { .. } | Signal::Hangup { .. } => {
                calls.route_end(&from.id, &to, call.clone())
            }
            Signal::Offer { .. }
            | Signal::Answer { .. }
            | Signal::Candidate { .. }
            | Signal::RestartIce => calls.live(&from.id, &to, call.as_ref()).map(Route::Relay),
        }
        .map_err(|refusal| addressed(refusal, call.as_ref()))?;
        let call = match route {
            Route::Relay(call) => call,
            Route::Joined(call, before) => {
                room.joined(&from.id, call, &before, &before, self.limits.backlog_bytes);
                return Ok(());
            }
        };
        let limit = self.limits.backlog_bytes;
        for Stopped { call, callee } in stopped {
            // A ring the server stopped ends at its callee's as if cancelled. One that
            // cannot be told (its callee's backlog is full) ends there when nobody answers.
            let hangup = Relayed {
                from: from.id.clone(),
                name: name.clone(),
                call: Some(call),
                seq: None,
                signal: Signal::Hangup { reason: None },
            };
            let _ = room.deliver(
                &callee,
                from.id.clone(),
                ServerMessage::relayed(hangup),
                limit,
            );
        }
        let ring = matches!(signal, Signal::Ring);
        let relayed = Relayed {
            from: from.id.clone(),
            name,
            call: Some(call.clone()),
            seq: None,
            signal,
        };
        let away = room.members.get(&to).is_some_and(|m| m.outbox().is_none());
        let delivered = room
            .deliver(&to, from.id.clone(), ServerMessage::relayed(relayed), limit)
            .map_err(|refusal| addressed(refusal, Some(&call)));
        if delivered.is_err() && ring {
            // A ring nobody heard rings nowhere, nor invites anyone.
            room.calls.withdraw(&call, &to);
            let _ = room.calls.end(&from.id, &to, Some(call));
        }
        if away && delivered.is_ok() {
            // What waits for someone away is recorded, for a node that takes the room over.
            state.note_change(from.room.clone());
        }
        delivered
    }

    /// `seat` joins its room's call (starting it): it is told who is in it already, and
    /// they are told it joined. `seq` numbers the request, as a signal's.
    pub fn join_call(&self, seat: &Seat, seq: Option<u64>) -> Result<(), Refusal> {
        if seat.room.name().is_none() {
            return Err(no_room_call());
        }
        let mut state = self.lock();
        state.note_change(seat.room.clone());
        // Removed (or gone) while this was on its way: no place in the call for a member
        // nobody would ever see leave it.
        let Some(room) = state
            .rooms
            .get_mut(&seat.room)
            .filter(|room| room.members.contains_key(&seat.id))
        else {
            return Err(Refusal::new(ErrorCode::NotLoggedIn, "log in again"));
        };
        if room.repeated(&seat.id, seq) {
            return Ok(());
        }
        let (call, before, new) = room.calls.join(&seat.id, self.capacity.call)?;
        // Someone in it already is told who is in it again; nobody else hears of it.
        let told: &[PeerId] = if new { &before } else { &[] };
        room.joined(&seat.id, call, &before, told, self.limits.backlog_bytes);
        Ok(())
    }

    /// `seat` leaves its room's call; the others in it are told.
    pub fn leave_call(&self, seat: &Seat, seq: Option<u64>) -> Result<(), Refusal> {
        let mut state = self.lock();
        state.note_change(seat.room.clone());
        let Some(room) = state.rooms.get_mut(&seat.room) else {
            return Err(Refusal::new(ErrorCode::NotLoggedIn, "log in again"));
        };
        if room.repeated(&seat.id, seq) {
            return Ok(());
        }
        if let Some(departure) = room.calls.leave_group(&seat.id) {
            room.departed(
                &seat.id,
                departure,
                LeaveReason::Left,
                self.limits.backlog_bytes,
            );
        }
        Ok(())
    }

    /// The highest `seq` of `seat`'s own signals taken, once it numbers them.
    pub fn received(&self, seat: &Seat) -> Option<u64> {
        let state = self.lock();
        let member = state.rooms.get(&seat.room)?.members.get(&seat.id)?;
        (member.inbox.received > 0).then_some(member.inbox.received)
    }

    /// `seat` handled the signals up to `seq`.
    pub fn ack(&self, seat: &Seat, seq: u64) {
        let mut state = self.lock();
        if let Some(member) = state
            .rooms
            .get_mut(&seat.room)
            .and_then(|room| room.members.get_mut(&seat.id))
        {
            member.inbox.ack(seq);
        }
    }

    /// A moderator of `by`'s room locks (or unlocks) it; everyone in it is told.
    pub fn set_locked(&self, by: &Seat, locked: bool) -> Result<(), Refusal> {
        let mut state = self.lock();
        let room = moderated(&mut state, by)?;
        room.locked = locked;
        room.tell_state(&by.room);
        state.note_change(by.room.clone());
        Ok(())
    }

    /// A moderator of `by`'s room removes `id` from it: they are told and their socket
    /// closed, the others see them leave, and they cannot come back while the room lasts.
    pub fn remove(&self, by: &Seat, id: &PeerId) -> Result<(), Refusal> {
        let mut state = self.lock();
        let room = moderated(&mut state, by)?;
        if *id == by.id {
            return Err(Refusal::new(
                ErrorCode::BadRequest,
                "you cannot remove yourself",
            ));
        }
        let Some(member) = room.leave(id, true, self.limits.backlog_bytes) else {
            let message = format!("no peer with id {id} in this room");
            return Err(Refusal::new(ErrorCode::PeerUnavailable, message).addressed(Some(id), None));
        };
        room.hand_over(&by.room);
        state.homes.remove(id);
        state.note_change(by.room.clone());
        if let Link::Connected { outbox, .. } = member.link {
            let refusal =
                Refusal::new(ErrorCode::Removed, "a moderator removed you from this room");
            outbox.push(frame(&refusal.into_message()));
            outbox.evict(Eviction::Removed);
        }
        Ok(())
    }

    /// Connection `conn` of `seat` ended. On purpose (`clean`): the user leaves now, and
    /// the answer is true. Otherwise it is away, and leaves when the grace period ends
    /// without a resume. A connection a resume has taken over changes nothing.
    pub fn depart(self: &Arc<Self>, seat: &Seat, conn: u64, clean: bool) -> bool {
        let mut state = self.lock();
        let Some(member) = state
            .rooms
            .get_mut(&seat.room)
            .and_then(|room| room.members.get_mut(&seat.id))
        else {
            return false;
        };
        // A resume on another connection has taken this user over: nothing to do.
        if !matches!(member.link, Link::Connected { conn: c, .. } if c == conn) {
            return false;
        }
        if clean {
            let until = now_ms() + self.tokens.lifetime().as_millis() as u64;
            state.left.insert(seat.id.clone(), until);
            leave(&mut state, seat, self.limits.backlog_bytes);
            return true;
        }
        member.link = Link::Away { conn: Some(conn) };
        // What it has not acknowledged waits for it now: the record must say so.
        state.note_change(seat.room.clone());
        let (registry, seat) = (Arc::clone(self), seat.clone());
        tokio::spawn(async move {
            tokio::time::sleep(registry.grace).await;
            registry.expire(&seat, Some(conn));
        });
        false
    }

    /// `seat`'s grace is over: it leaves if it is still away since connection `conn`.
    fn expire(&self, seat: &Seat, conn: Option<u64>) {
        let mut state = self.lock();
        let still_away = state
            .rooms
            .get(&seat.room)
            .and_then(|room| room.members.get(&seat.id))
            .is_some_and(|m| matches!(m.link, Link::Away { conn: c } if c == conn));
        if still_away {
            tracing::info!(id = %seat.id, "resume grace over: left");
            leave(&mut state, seat, self.limits.backlog_bytes);
        }
    }

    /// The rooms held here.
    pub fn room_keys(&self) -> Vec<RoomKey> {
        self.lock().rooms.keys().cloned().collect()
    }

    /// Records changes from now on (a node of a cluster).
    pub fn record_changes(&self) {
        let mut state = self.lock();
        if state.changed.is_none() {
            state.changed = Some(HashSet::new());
        }
    }

    /// Takes every room as changed: Redis lost what was recorded.
    pub fn mark_all_changed(&self) {
        let mut state = self.lock();
        let keys: Vec<RoomKey> = state.rooms.keys().cloned().collect();
        self.mark(&mut state, keys);
    }

    /// Takes `rooms` as changed again: their record did not reach Redis.
    pub fn mark_changed(&self, rooms: impl IntoIterator<Item = RoomKey>) {
        let mut state = self.lock();
        self.mark(&mut state, rooms);
    }

    fn mark(&self, state: &mut Rooms, rooms: impl IntoIterator<Item = RoomKey>) {
        for room in rooms {
            state.note_change(room);
        }
    }

    /// The rooms that changed since they were last taken and that `wanted` takes now,
    /// each with its state and who is in it (nobody for a room that has gone); the others
    /// wait for a later call, except rooms gone from here that `wanted` does not take:
    /// their record is no longer this node's to write.
    pub fn take_changed(
        &self,
        wanted: impl Fn(&RoomKey) -> bool,
    ) -> Vec<(RoomKey, RoomState, Vec<Record>)> {
        let mut state = self.lock();
        let Rooms { changed, rooms, .. } = &mut *state;
        let Some(changed) = changed else {
            return Vec::new();
        };
        changed.retain(|room| wanted(room) || rooms.contains_key(room));
        let taken: Vec<RoomKey> = changed
            .iter()
            .filter(|room| wanted(room))
            .cloned()
            .collect();
        for room in &taken {
            changed.remove(room);
        }
        taken
            .into_iter()
            .map(|key| {
                let Some(room) = state.rooms.get(&key) else {
                    return (key, RoomState::default(), Vec::new());
                };
                let group = room.calls.group();
                let place = |id: &PeerId| {
                    let (call, members) = group?;
                    let at = members.iter().position(|member| member == id)?;
                    Some((call.clone(), at))
                };
                let records = room
                    .members
                    .iter()
                    .map(|(id, member)| Record {
                        id: id.clone(),
                        name: member.name.clone(),
                        started_ms: member.started_ms,
                        moderator: member.moderator,
                        room_call: place(id),
                        waiting: match member.link {
                            Link::Away { .. } => member.inbox.waiting(),
                            Link::Connected { .. } => Vec::new(),
                        },
                    })
                    .collect();
                let room_state = RoomState {
                    locked: room.locked,
                    password: room.password_mac().map(hex),
                    calls: room.calls.two_person(),
                };
                (key, room_state, records)
            })
            .collect()
    }

    /// Takes over `room` from a node that died, with the members it recorded: each is
    /// away here until it resumes, and leaves (everyone told) if the grace ends first.
    /// Those known here already stay as they are.
    pub fn adopt(
        self: &Arc<Self>,
        room: &RoomKey,
        records: Vec<Record>,
        room_state: Option<RoomState>,
    ) {
        let mut state = self.lock();
        let mut calls = Vec::new();
        if let Some(room_state) = room_state {
            let place = state.rooms.entry(room.clone()).or_default();
            place.restore(
                room_state.locked,
                room_state.password.as_deref().and_then(unhex),
            );
            calls = room_state.calls;
        }
        let mut adopted = Vec::new();
        let mut in_call: Vec<(usize, CallId, PeerId)> = Vec::new();
        for record in records {
            if state.homes.contains_key(&record.id) {
                continue;
            }
            let key = name_key(&record.name);
            let place = state.rooms.entry(room.clone()).or_default();
            if place.names.contains_key(&key) {
                continue;
            }
            let arrival = place.arrive();
            // Someone already back sees them come: they were there all along.
            place.announce(
                &record.id,
                &ServerMessage::PeerJoined {
                    id: record.id.clone(),
                    name: record.name.clone(),
                },
            );
            place.names.insert(key, record.id.clone());
            let mut inbox = Inbox::new(None, None);
            inbox.keep_waiting(record.waiting);
            place.members.insert(
                record.id.clone(),
                Member {
                    name: record.name.clone(),
                    link: Link::Away { conn: None },
                    started_ms: record.started_ms,
                    arrival,
                    moderator: record.moderator,
                    inbox,
                },
            );
            state.homes.insert(record.id.clone(), room.clone());
            if let Some((call, at)) = record.room_call {
                in_call.push((at, call, record.id.clone()));
            }
            adopted.push(Seat {
                room: room.clone(),
                id: record.id,
                name: record.name,
                started_ms: record.started_ms,
            });
        }
        if adopted.is_empty() {
            return;
        }
        // The calls as they were: two-person calls between those in the room, and the
        // room call with its members in their order.
        if let Some(place) = state.rooms.get_mut(room) {
            for call in calls {
                if place.members.contains_key(&call.caller)
                    && place.members.contains_key(&call.callee)
                {
                    place.calls.restore(call);
                }
            }
        }
        in_call.sort();
        if let Some((_, call, _)) = in_call.first()
            && let Some(place) = state.rooms.get_mut(room)
        {
            let call = call.clone();
            let members = in_call
                .into_iter()
                .filter(|(_, id, _)| *id == call)
                .map(|(_, _, member)| member)
                .collect();
            place.calls.restore_group(call, members);
        }
        state.note_change(room.clone());
        tracing::info!(
            room = room.as_str(),
            members = adopted.len(),
            "room taken over from a node that is gone"
        );
        let registry = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(registry.grace).await;
            for seat in adopted {
                registry.expire(&seat, None);
            }
        });
    }

    /// Gives up `room`, which another node holds: it is forgotten here without a word to
    /// anyone, and the outboxes of its connected members are handed back to be closed.
    pub fn surrender(&self, room: &RoomKey) -> Vec<Outbox> {
        let mut state = self.lock();
        let Some(room) = state.rooms.remove(room) else {
            return Vec::new();
        };
        let mut outboxes = Vec::new();
        for (id, member) in room.members {
            state.homes.remove(&id);
            if let Link::Connected { outbox, .. } = member.link {
                outboxes.push(outbox);
            }
        }
        outboxes
    }
}

/// `seat` leaves its room; an empty room goes, with its lock and password.
fn leave(state: &mut Rooms, seat: &Seat, limit: usize) {
    state.homes.remove(&seat.id);
    state.note_change(seat.room.clone());
    if let Some(room) = state.rooms.get_mut(&seat.room) {
        room.leave(&seat.id, false, limit);
        room.hand_over(&seat.room);
    }
    drop_if_empty(state, &seat.room);
}

fn drop_if_empty(state: &mut Rooms, room: &RoomKey) {
    if state
        .rooms
        .get(room)
        .is_some_and(|room| room.members.is_empty())
    {
        state.rooms.remove(room);
    }
}

fn no_room_call() -> Refusal {
    Refusal::new(
        ErrorCode::BadRequest,
        "the default room has no room call: join a named room",
    )
}

/// `by`'s room, if `by` moderates it.
fn moderated<'a>(state: &'a mut Rooms, by: &Seat) -> Result<&'a mut Room, Refusal> {
    state
        .rooms
        .get_mut(&by.room)
        .filter(|room| room.members.get(&by.id).is_some_and(|m| m.moderator))
        .ok_or_else(|| {
            Refusal::new(
                ErrorCode::NotModerator,
                "only a moderator of a named room may lock it or remove people",
            )
        })
}

/// `bytes` in lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The bytes of lowercase or uppercase hex `text`, if it is that.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

fn new_id() -> PeerId {
    let id = rand::rng()
        .sample_iter(Alphanumeric)
        .take(ID_CHARS)
        .map(char::from)
        .collect();
    PeerId(id)
}

#[cfg(test)]
mod tests {
    use axum::extract::ws::Message;
    use serde_json::Value;

    use super::*;
    use crate::outbox::Frames;

    fn registry() -> Arc<Registry> {
        Arc::new(Registry::new(
            Limits {
                outbox_bytes: 1 << 20,
                backlog_bytes: 1 << 20,
            },
            Tokens::new(vec![7; 32], Duration::from_secs(3600)),
            Duration::from_secs(30),
            Capacity {
                named: 100,
                default: None,
                default_room: true,
                call: 4,
            },
        ))
    }

    fn log_in(registry: &Registry, name: &str, conn: u64) -> (Seat, Frames) {
        let (welcomed, frames) = log_in_as(registry, name, conn, None);
        (welcomed.seat, frames)
    }

    /// `name` logged in to room `team` on connection `conn` (resuming `resume`, if given),
    /// and what its socket would be sent.
    fn log_in_as(
        registry: &Registry,
        name: &str,
        conn: u64,
        resume: Option<Resumable>,
    ) -> (Welcomed, Frames) {
        let (outbox, frames) = Outbox::new(registry.outbox_bytes());
        let ice = IceServers::new(Vec::new(), Vec::new(), None, Duration::from_secs(60))
            .expect("no ICE servers");
        let login = Login {
            name,
            room: RoomKey::named("team"),
            resume,
            password: None,
            admin: false,
            token_current: true,
            ack: None,
            sent: None,
            claim: None,
        };
        let welcomed = registry
            .login(login, conn, &outbox, &ice)
            .expect("logged in");
        (welcomed, frames)
    }

    /// The frames of `kind` queued for a socket so far.
    fn sent(frames: &mut Frames, kind: &str) -> Vec<Value> {
        std::iter::from_fn(|| frames.try_recv())
            .filter_map(|frame| match frame {
                Message::Text(text) => serde_json::from_str::<Value>(text.as_str()).ok(),
                _ => None,
            })
            .filter(|frame| frame["type"] == kind)
            .collect()
    }

    #[tokio::test]
    async fn a_connection_a_resume_took_over_that_then_closes_cleanly_is_no_leave() {
        let registry = registry();
        let (ann, _old) = log_in(&registry, "ann", 1);
        // Ann resumes on connection 2 while connection 1 still looks open.
        let token = registry.resume_token(&ann);
        let claim = registry.resumable(Some(&token), &ann.room, "ann");
        assert!(claim.is_some(), "a fresh token is good");
        let (welcomed, _new) = log_in_as(&registry, "ann", 2, claim);
        assert!(welcomed.resumed);
        // The old connection then ends as if the person left: she did not.
        assert!(!registry.depart(&ann, 1, true));
        let token = registry.resume_token(&ann);
        assert!(
            registry.resumable(Some(&token), &ann.room, "ann").is_some(),
            "her tokens still resume"
        );
        // Her current connection's clean end is a leave.
        assert!(registry.depart(&ann, 2, true));
    }

    #[tokio::test]
    async fn a_room_that_went_before_its_record_was_written_is_forgotten() {
        let registry = registry();
        registry.record_changes();
        let (ann, _frames) = log_in(&registry, "ann", 1);
        // Ann leaves, and her room goes with her, before the next upkeep: the upkeep holds
        // it no more, and lets it go in Redis its own way.
        assert!(registry.depart(&ann, 1, true));
        assert!(registry.take_changed(|_| false).is_empty());
        // Nothing of it is kept for later upkeeps.
        assert!(registry.take_changed(|_| true).is_empty());
    }

    #[tokio::test]
    async fn a_join_from_someone_removed_meanwhile_leaves_nobody_in_the_call() {
        let registry = registry();
        let (ann, mut ann_frames) = log_in(&registry, "ann", 1);
        let (ben, _ben_frames) = log_in(&registry, "ben", 2);
        registry
            .remove(&ann, &ben.id)
            .expect("the first in the room moderates it");
        // Ben's join-call was on its way when he was removed.
        let refused = registry.join_call(&ben, None).err().map(|r| r.code);
        assert_eq!(refused, Some(ErrorCode::NotLoggedIn));
        // Ann starts the call alone: nobody is in it before her.
        registry.join_call(&ann, None).expect("ann joins");
        let joined = sent(&mut ann_frames, "call-joined");
        assert_eq!(joined.len(), 1, "{joined:?}");
        assert_eq!(joined[0]["peers"], serde_json::json!([]));
    }
}
