//! Who is logged in, and the outbox of each: presence and routing.
//!
//! One short-held lock guards the whole map. Every frame for a peer is queued into its
//! outbox while the lock is held, so presence is seen in one order by everyone: a newcomer
//! either finds a peer in its `peers` list or later gets that peer's `peer-joined`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

use axum::extract::ws::{Message, Utf8Bytes};
use protocol::{
    ErrorCode, NameError, PeerId, PeerInfo, ServerMessage, Signal, name_key, validate_name,
};
use rand::{Rng, distr::Alphanumeric};
use tokio::sync::{Notify, mpsc};

use crate::refusal::Refusal;

/// Random characters in an id: 16 alphanumerics carry about 95 bits.
const ID_CHARS: usize = 16;

/// Where a connection's frames go, and how to tell it to hang up.
#[derive(Clone)]
pub struct Outbox {
    frames: mpsc::Sender<Message>,
    /// Notified when the connection is too slow to keep up and must go.
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

    /// Queues `frame`, waiting for room.
    pub async fn send(&self, frame: Message) {
        // A closed outbox means the writer is gone, and with it the socket.
        let _ = self.frames.send(frame).await;
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

struct Member {
    name: String,
    outbox: Outbox,
}

#[derive(Default)]
struct Members {
    by_id: HashMap<PeerId, Member>,
    /// Name keys in use (see [`name_key`]).
    names: HashMap<String, PeerId>,
}

/// Everyone logged in.
pub struct Registry {
    members: Mutex<Members>,
    outbox_capacity: usize,
}

impl Registry {
    /// An empty registry whose outboxes hold `outbox_capacity` frames.
    pub fn new(outbox_capacity: usize) -> Self {
        Self {
            members: Mutex::default(),
            outbox_capacity,
        }
    }

    /// The capacity of a new outbox.
    pub fn outbox_capacity(&self) -> usize {
        self.outbox_capacity
    }

    fn lock(&self) -> MutexGuard<'_, Members> {
        // A panic while holding the lock leaves the map consistent (every change is a
        // single insert or remove), so a poisoned lock is still usable.
        self.members
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Logs `raw_name` in: queues `welcome` and `peers` to `outbox` and `peer-joined` to
    /// everyone else, or returns the refusal.
    pub fn login(&self, raw_name: &str, outbox: &Outbox) -> Result<PeerInfo, Refusal> {
        let name = validate_name(raw_name)
            .map_err(|error: NameError| Refusal::new(ErrorCode::InvalidName, error.to_string()))?;
        let key = name_key(name);
        let mut members = self.lock();
        if members.names.contains_key(&key) {
            return Err(Refusal::new(
                ErrorCode::NameTaken,
                format!("the name {name} is already taken"),
            ));
        }
        let id = loop {
            let id = new_id();
            if !members.by_id.contains_key(&id) {
                break id;
            }
        };
        let me = PeerInfo {
            id: id.clone(),
            name: name.to_owned(),
        };
        let peers = members
            .by_id
            .iter()
            .map(|(id, member)| PeerInfo {
                id: id.clone(),
                name: member.name.clone(),
            })
            .collect();
        outbox.push(frame(&ServerMessage::Welcome {
            id: id.clone(),
            name: me.name.clone(),
        }));
        outbox.push(frame(&ServerMessage::Peers { peers }));
        let joined = frame(&ServerMessage::PeerJoined {
            id: id.clone(),
            name: me.name.clone(),
        });
        for member in members.by_id.values() {
            member.outbox.push(joined.clone());
        }
        members.names.insert(key, id.clone());
        members.by_id.insert(
            id,
            Member {
                name: me.name.clone(),
                outbox: outbox.clone(),
            },
        );
        Ok(me)
    }

    /// Relays `signal` from `from` to `to`, stamped with the sender's id and name.
    pub fn relay(&self, from: &PeerId, to: PeerId, signal: Signal) -> Result<(), Refusal> {
        let route = {
            let members = self.lock();
            match (members.by_id.get(from), members.by_id.get(&to)) {
                (Some(sender), Some(recipient)) => {
                    Some((sender.name.clone(), recipient.outbox.clone()))
                }
                _ => None,
            }
        };
        let Some((name, outbox)) = route else {
            let message = format!("no peer with id {to}");
            return Err(Refusal {
                to: Some(to),
                ..Refusal::new(ErrorCode::PeerUnavailable, message)
            });
        };
        // Serialized outside the lock: SDP can be kilobytes.
        outbox.push(frame(&ServerMessage::relayed(from.clone(), name, signal)));
        Ok(())
    }

    /// Logs `id` out and tells everyone else.
    pub fn leave(&self, id: &PeerId) {
        let mut members = self.lock();
        let Some(member) = members.by_id.remove(id) else {
            return;
        };
        members.names.remove(&name_key(&member.name));
        let left = frame(&ServerMessage::PeerLeft { id: id.clone() });
        for other in members.by_id.values() {
            other.outbox.push(left.clone());
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
