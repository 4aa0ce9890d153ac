//! Who is logged in, and the outbox of each: presence and routing.
//!
//! One short-held lock guards the whole map. Every frame for a peer is queued into its
//! outbox while the lock is held, so presence is seen in one order by everyone: a newcomer
//! either finds a peer in its `peers` list or later gets that peer's `peer-joined`.
//!
//! A socket that drops without a close frame leaves its user *away*: name and id stay
//! reserved for the resume grace period and frames for it are kept, so that the same user
//! logging in again with its resume token carries on as if nothing happened. A socket
//! closed on purpose leaves at once.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use axum::extract::ws::{Message, Utf8Bytes};
use protocol::{
    ErrorCode, NameError, PeerId, PeerInfo, ServerMessage, Signal, name_key, validate_name,
};
use rand::{Rng, distr::Alphanumeric};
use tokio::sync::{Notify, mpsc};

use crate::{ice::IceServers, refusal::Refusal, tokens::Tokens};

/// Random characters in an id: 16 alphanumerics carry about 95 bits.
const ID_CHARS: usize = 16;

/// Frames kept for an away user; past this the oldest go.
const AWAY_FRAMES: usize = 256;

/// Where a connection's frames go, and how to tell it to hang up.
#[derive(Clone)]
pub struct Outbox {
    frames: mpsc::Sender<Message>,
    /// Notified when the connection must go: too slow to keep up, or replaced by a resume.
    pub evicted: Arc<Notify>,
}

impl Outbox {
    /// A new outbox holding at most `capacity` frames, and its receiving end.
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<Message>) {
        let (frames, rx) = mpsc::channel(capacity);
        let outbox = Self {
            frames,
            evicted: Arc::new(Notify::new()),
        };
        (outbox, rx)
    }

    /// Queues `frame` without waiting; a full outbox evicts its (too slow) owner.
    pub fn push(&self, frame: Message) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.frames.try_send(frame) {
            self.evicted.notify_one();
        }
    }
}

/// A message serialized once, ready to be queued to any number of outboxes.
pub fn frame(message: &ServerMessage) -> Message {
    let json = serde_json::to_string(message).unwrap_or_else(|error| {
        // Serializing our own types into a String cannot fail; keep the socket alive anyway.
        tracing::error!(%error, "cannot serialize a server message");
        String::from(r#"{"type":"error","code":"bad-request","message":"internal error"}"#)
    });
    Message::Text(Utf8Bytes::from(json))
}

/// How a user is reached.
enum Link {
    /// Through connection number `conn`.
    Connected { conn: u64, outbox: Outbox },
    /// Not at all, since connection number `conn` dropped; frames wait here.
    Away { conn: u64, pending: Vec<Message> },
}

struct Member {
    name: String,
    link: Link,
}

impl Member {
    fn deliver(&mut self, frame: Message) {
        match &mut self.link {
            Link::Connected { outbox, .. } => outbox.push(frame),
            Link::Away { pending, .. } => {
                if pending.len() == AWAY_FRAMES {
                    pending.remove(0);
                }
                pending.push(frame);
            }
        }
    }

    fn conn(&self) -> u64 {
        match self.link {
            Link::Connected { conn, .. } | Link::Away { conn, .. } => conn,
        }
    }
}

#[derive(Default)]
struct Members {
    by_id: HashMap<PeerId, Member>,
    /// Name keys in use (see [`name_key`]).
    names: HashMap<String, PeerId>,
}

impl Members {
    fn announce(&mut self, except: &PeerId, message: &ServerMessage) {
        let frame = frame(message);
        for (id, member) in &mut self.by_id {
            if id != except {
                member.deliver(frame.clone());
            }
        }
    }

    fn others(&self, me: &PeerId) -> Vec<PeerInfo> {
        self.by_id
            .iter()
            .filter(|(id, _)| *id != me)
            .map(|(id, member)| PeerInfo {
                id: id.clone(),
                name: member.name.clone(),
            })
            .collect()
    }

    fn remove(&mut self, id: &PeerId) {
        if let Some(member) = self.by_id.remove(id) {
            self.names.remove(&name_key(&member.name));
            self.announce(id, &ServerMessage::PeerLeft { id: id.clone() });
        }
    }
}

/// A successful login.
pub struct Welcomed {
    /// Who logged in.
    pub me: PeerInfo,
    /// Whether this took an earlier session's place (nobody saw it leave).
    pub resumed: bool,
}

/// Everyone logged in, or away and reserved.
pub struct Registry {
    members: Mutex<Members>,
    outbox_capacity: usize,
    tokens: Tokens,
    grace: Duration,
}

impl Registry {
    /// An empty registry.
    pub fn new(outbox_capacity: usize, tokens: Tokens, grace: Duration) -> Self {
        Self {
            members: Mutex::default(),
            outbox_capacity,
            tokens,
            grace,
        }
    }

    /// The capacity of a new outbox.
    pub fn outbox_capacity(&self) -> usize {
        self.outbox_capacity
    }

    fn lock(&self) -> MutexGuard<'_, Members> {
        // A panic while holding the lock leaves the map consistent (every change is a
        // single insert, update or remove), so a poisoned lock is still usable.
        self.members
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Logs `raw_name` in on connection `conn`: queues `welcome` and `peers` to `outbox`
    /// and `peer-joined` to everyone else, or returns the refusal. A genuine `resume`
    /// token gets its id back; if that user is still known here, nobody else is told.
    pub fn login(
        &self,
        raw_name: &str,
        resume: Option<&str>,
        conn: u64,
        outbox: &Outbox,
        ice: &IceServers,
    ) -> Result<Welcomed, Refusal> {
        let name = validate_name(raw_name)
            .map_err(|error: NameError| Refusal::new(ErrorCode::InvalidName, error.to_string()))?;
        let key = name_key(name);
        let claimed = resume.and_then(|token| self.tokens.verify(token, name));
        let mut members = self.lock();

        if let Some(id) = &claimed
            && let Some(member) = members.by_id.get_mut(id)
        {
            let link = Link::Connected {
                conn,
                outbox: outbox.clone(),
            };
            let previous = std::mem::replace(&mut member.link, link);
            let me = PeerInfo {
                id: id.clone(),
                name: member.name.clone(),
            };
            self.welcome(&members, &me, outbox, ice);
            match previous {
                Link::Away { pending, .. } => pending.into_iter().for_each(|f| outbox.push(f)),
                // The old socket has not noticed it is dead yet: it goes now, quietly.
                Link::Connected { outbox: old, .. } => old.evicted.notify_one(),
            }
            return Ok(Welcomed { me, resumed: true });
        }

        if members.names.contains_key(&key) {
            return Err(Refusal::new(
                ErrorCode::NameTaken,
                format!("the name {name} is already taken"),
            ));
        }
        // A genuine token whose user is unknown here (the grace ran out, or the server
        // restarted) still gets its id back, unless someone else has it.
        let id = match claimed {
            Some(id) if !members.by_id.contains_key(&id) => id,
            _ => loop {
                let id = new_id();
                if !members.by_id.contains_key(&id) {
                    break id;
                }
            },
        };
        let me = PeerInfo {
            id: id.clone(),
            name: name.to_owned(),
        };
        self.welcome(&members, &me, outbox, ice);
        members.announce(
            &id,
            &ServerMessage::PeerJoined {
                id: id.clone(),
                name: me.name.clone(),
            },
        );
        members.names.insert(key, id.clone());
        members.by_id.insert(
            id,
            Member {
                name: me.name.clone(),
                link: Link::Connected {
                    conn,
                    outbox: outbox.clone(),
                },
            },
        );
        Ok(Welcomed { me, resumed: false })
    }

    fn welcome(&self, members: &Members, me: &PeerInfo, outbox: &Outbox, ice: &IceServers) {
        outbox.push(frame(&ServerMessage::Welcome {
            id: me.id.clone(),
            name: me.name.clone(),
            resume: Some(self.tokens.issue(&me.id, &me.name)),
            ice_servers: ice.for_peer(&me.id),
        }));
        outbox.push(frame(&ServerMessage::Peers {
            peers: members.others(&me.id),
        }));
    }

    /// Relays `signal` from `from` to `to`, stamped with the sender's id and name. A
    /// recipient who is away gets it when it is back.
    pub fn relay(&self, from: &PeerId, to: PeerId, signal: Signal) -> Result<(), Refusal> {
        let mut members = self.lock();
        let Some(name) = members.by_id.get(from).map(|sender| sender.name.clone()) else {
            return Err(Refusal::new(ErrorCode::NotLoggedIn, "log in again"));
        };
        let Some(recipient) = members.by_id.get_mut(&to) else {
            let message = format!("no peer with id {to}");
            return Err(Refusal {
                to: Some(to),
                ..Refusal::new(ErrorCode::PeerUnavailable, message)
            });
        };
        recipient.deliver(frame(&ServerMessage::relayed(from.clone(), name, signal)));
        Ok(())
    }

    /// Connection `conn` of `id` ended. On purpose (`clean`): `id` leaves now. Otherwise
    /// it is away, and leaves when the grace period ends without a resume.
    pub fn depart(self: &Arc<Self>, id: &PeerId, conn: u64, clean: bool) {
        let mut members = self.lock();
        let Some(member) = members.by_id.get_mut(id) else {
            return;
        };
        // A resume on another connection has taken this user over: nothing to do.
        if !matches!(member.link, Link::Connected { conn: c, .. } if c == conn) {
            return;
        }
        if clean {
            members.remove(id);
            return;
        }
        member.link = Link::Away {
            conn,
            pending: Vec::new(),
        };
        let (registry, id) = (Arc::clone(self), id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(registry.grace).await;
            registry.expire(&id, conn);
        });
    }

    fn expire(&self, id: &PeerId, conn: u64) {
        let mut members = self.lock();
        let still_away = members
            .by_id
            .get(id)
            .is_some_and(|m| matches!(m.link, Link::Away { .. }) && m.conn() == conn);
        if still_away {
            tracing::info!(%id, "resume grace over: left");
            members.remove(id);
        }
    }
}

fn new_id() -> PeerId {
    let id = rand::rng()
        .sample_iter(Alphanumeric)
        .take(ID_CHARS)
        .map(char::from)
        .collect();
    PeerId(id)
}
