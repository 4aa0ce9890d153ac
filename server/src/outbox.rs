//! Where a connection's frames go, and how it is told to end.

use std::sync::{Arc, OnceLock};

use axum::extract::ws::{Message, Utf8Bytes};
use protocol::ServerMessage;
use tokio::sync::{Notify, mpsc};

/// Why a connection is made to end from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// Its outbox filled up, or a frame took too long to go out: too slow to keep up.
    TooSlow,
    /// Its user resumed on another connection.
    Replaced,
    /// A moderator removed its user from the room.
    Removed,
}

struct Evicted {
    why: OnceLock<Eviction>,
    notify: Notify,
}

/// The sending end of a connection's frames.
#[derive(Clone)]
pub struct Outbox {
    frames: mpsc::Sender<Message>,
    evicted: Arc<Evicted>,
}

impl Outbox {
    /// A new outbox holding at most `capacity` frames, and its receiving end.
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<Message>) {
        let (frames, rx) = mpsc::channel(capacity);
        let evicted = Arc::new(Evicted {
            why: OnceLock::new(),
            notify: Notify::new(),
        });
        (Self { frames, evicted }, rx)
    }

    /// Queues `frame` without waiting; a full outbox evicts its (too slow) owner.
    pub fn push(&self, frame: Message) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.frames.try_send(frame) {
            self.evict(Eviction::TooSlow);
        }
    }

    /// Tells the connection to end, for the first reason it is given.
    pub fn evict(&self, why: Eviction) {
        self.evictor().evict(why);
    }

    /// A handle that can end the connection but queues nothing (so it does not keep the
    /// outbox open).
    pub fn evictor(&self) -> Evictor {
        Evictor(Arc::clone(&self.evicted))
    }

    /// Completes once the connection must end; says why.
    pub async fn evicted(&self) -> Eviction {
        loop {
            if let Some(why) = self.evicted.why.get() {
                return *why;
            }
            self.evicted.notify.notified().await;
        }
    }
}

/// Ends a connection from outside, without a way to queue frames to it.
pub struct Evictor(Arc<Evicted>);

impl Evictor {
    /// Tells the connection to end, for the first reason it is given.
    pub fn evict(&self, why: Eviction) {
        let _ = self.0.why.set(why);
        self.0.notify.notify_one();
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
