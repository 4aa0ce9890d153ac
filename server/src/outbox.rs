//! Where a connection's frames go, and how it is told to end.

use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicUsize, Ordering},
};

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

/// What a queued frame costs beyond its bytes: its place in the queue.
const FRAME_OVERHEAD: usize = 64;

/// The sending end of a connection's frames.
#[derive(Clone)]
pub struct Outbox {
    frames: mpsc::UnboundedSender<Message>,
    queued: Arc<Queued>,
    evicted: Arc<Evicted>,
}

/// How many bytes wait in an outbox, and how many may.
pub struct Queued {
    bytes: AtomicUsize,
    limit: usize,
}

impl Queued {
    /// A frame of `cost` bytes has gone out.
    pub fn sent(&self, cost: usize) {
        self.bytes.fetch_sub(cost, Ordering::Relaxed);
    }
}

/// What `frame` counts for in an outbox.
pub fn cost(frame: &Message) -> usize {
    FRAME_OVERHEAD
        + match frame {
            Message::Text(text) => text.len(),
            Message::Binary(bytes) | Message::Ping(bytes) | Message::Pong(bytes) => bytes.len(),
            Message::Close(close) => close.as_ref().map_or(0, |close| close.reason.len()),
        }
}

impl Outbox {
    /// A new outbox holding at most `limit` bytes, and its receiving end.
    pub fn new(limit: usize) -> (Self, mpsc::UnboundedReceiver<Message>, Arc<Queued>) {
        let (frames, rx) = mpsc::unbounded_channel();
        let evicted = Arc::new(Evicted {
            why: OnceLock::new(),
            notify: Notify::new(),
        });
        let queued = Arc::new(Queued {
            bytes: AtomicUsize::new(0),
            limit,
        });
        (
            Self {
                frames,
                queued: Arc::clone(&queued),
                evicted,
            },
            rx,
            queued,
        )
    }

    /// Queues `frame` without waiting; an outbox that would hold more bytes than its limit
    /// evicts its (too slow) owner instead.
    pub fn push(&self, frame: Message) {
        let cost = cost(&frame);
        let before = self.queued.bytes.fetch_add(cost, Ordering::Relaxed);
        if before + cost > self.queued.limit && !matches!(frame, Message::Close(_)) {
            self.queued.sent(cost);
            self.evict(Eviction::TooSlow);
            return;
        }
        if self.frames.send(frame).is_err() {
            // The writer has ended: nothing waits any more.
            self.queued.sent(cost);
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
