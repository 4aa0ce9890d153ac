//! Where a connection's frames go, and how it is told to end.

use std::{
    cell::RefCell,
    collections::VecDeque,
    marker::PhantomData,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
};

use axum::extract::ws::{Message, Utf8Bytes};
use protocol::ServerMessage;
use tokio::sync::Notify;

/// Why a connection is made to end from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// Its outbox filled up, or a frame took too long to go out: too slow to keep up.
    TooSlow,
    /// Its user resumed on another connection.
    Replaced,
    /// A moderator removed its user from the room.
    Removed,
    /// Ended from elsewhere, its close frame already queued: the node that holds the
    /// room closed it, or the room moved to another node.
    Ended,
}

struct Evicted {
    why: OnceLock<Eviction>,
    notify: Notify,
}

/// What a queued frame costs beyond its bytes: its place in the queue.
const FRAME_OVERHEAD: usize = 64;

/// Frames a drained queue may keep room for; past this its memory is given back, so that
/// an idle connection holds no queue at all.
const KEPT_ROOM: usize = 8;

/// The bytes one sender has waiting in a connection's queue (see [`Outbox::push_claimed`]).
pub type Waiting = Arc<AtomicUsize>;

/// A queued frame's part of its sender's [`Waiting`] bytes, given back when the frame has
/// gone out or is dropped unsent.
pub struct Claim {
    waiting: Waiting,
    cost: usize,
}

impl Claim {
    /// Counts `cost` more bytes of the sender's waiting.
    pub fn new(waiting: &Waiting, cost: usize) -> Self {
        waiting.fetch_add(cost, Ordering::Relaxed);
        Self {
            waiting: Arc::clone(waiting),
            cost,
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.waiting.fetch_sub(self.cost, Ordering::Relaxed);
    }
}

/// The frames waiting for a connection's writer.
struct Queue {
    frames: Mutex<VecDeque<(Message, Option<Claim>)>>,
    /// Bytes waiting or being written, and how many may.
    bytes: AtomicUsize,
    limit: usize,
    /// Handles that can still queue frames; at none the writer ends.
    senders: AtomicUsize,
    ready: Notify,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Message, Option<Claim>)>> {
        // Every change under the lock is a single push or pop: a poisoned lock is usable.
        self.frames
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The sending end of a connection's frames.
pub struct Outbox {
    queue: Arc<Queue>,
    evicted: Arc<Evicted>,
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.queue.senders.fetch_add(1, Ordering::Relaxed);
        Self {
            queue: Arc::clone(&self.queue),
            evicted: Arc::clone(&self.evicted),
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if self.queue.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.queue.ready.notify_one();
        }
    }
}

/// The receiving end: what the connection's writer takes frames from.
pub struct Frames {
    queue: Arc<Queue>,
    /// The claims of frames taken and not yet sent.
    taken: Vec<Claim>,
}

impl Frames {
    /// The next frame, once there is one; `None` once no sender is left and all is taken.
    pub async fn recv(&mut self) -> Option<Message> {
        loop {
            if let Some(frame) = self.try_recv() {
                return Some(frame);
            }
            if self.queue.senders.load(Ordering::Acquire) == 0 {
                return self.try_recv();
            }
            self.queue.ready.notified().await;
        }
    }

    /// The next frame, if one waits. Its sender's claim lasts until [`Frames::sent`].
    pub fn try_recv(&mut self) -> Option<Message> {
        let mut frames = self.queue.lock();
        let (frame, claim) = frames.pop_front()?;
        if frames.is_empty() && frames.capacity() > KEPT_ROOM {
            *frames = VecDeque::new();
        }
        drop(frames);
        self.taken.extend(claim);
        Some(frame)
    }

    /// The frames taken, `cost` bytes in all, have gone out.
    pub fn sent(&mut self, cost: usize) {
        self.queue.bytes.fetch_sub(cost, Ordering::Relaxed);
        if self.taken.capacity() > KEPT_ROOM {
            self.taken = Vec::new();
        } else {
            self.taken.clear();
        }
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
    pub fn new(limit: usize) -> (Self, Frames) {
        let queue = Arc::new(Queue {
            frames: Mutex::new(VecDeque::new()),
            bytes: AtomicUsize::new(0),
            limit,
            senders: AtomicUsize::new(1),
            ready: Notify::new(),
        });
        let evicted = Arc::new(Evicted {
            why: OnceLock::new(),
            notify: Notify::new(),
        });
        (
            Self {
                queue: Arc::clone(&queue),
                evicted,
            },
            Frames {
                queue,
                taken: Vec::new(),
            },
        )
    }

    /// Queues `frame` without waiting; an outbox that would hold more bytes than its limit
    /// evicts its (too slow) owner instead.
    pub fn push(&self, frame: Message) {
        self.push_claimed(frame, None);
    }

    /// Queues `frame` as [`Outbox::push`] does, counted in its sender's waiting bytes by
    /// `claim` until it has gone out.
    pub fn push_claimed(&self, frame: Message, claim: Option<Claim>) {
        let cost = cost(&frame);
        let before = self.queue.bytes.fetch_add(cost, Ordering::Relaxed);
        if before + cost > self.queue.limit && !matches!(frame, Message::Close(_)) {
            self.queue.bytes.fetch_sub(cost, Ordering::Relaxed);
            self.evict(Eviction::TooSlow);
            return;
        }
        self.queue.lock().push_back((frame, claim));
        wake(&self.queue);
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

/// The writers to wake once this thread lets go of the registry.
struct Deferred {
    holding: bool,
    queues: Vec<Arc<Queue>>,
}

thread_local! {
    static DEFERRED: RefCell<Deferred> = const {
        RefCell::new(Deferred {
            holding: false,
            queues: Vec::new(),
        })
    };
}

/// Wakes `queue`'s writer now, or, while the thread holds the registry, once it lets go.
fn wake(queue: &Arc<Queue>) {
    let deferred = DEFERRED.with_borrow_mut(|deferred| {
        if deferred.holding {
            deferred.queues.push(Arc::clone(queue));
        }
        deferred.holding
    });
    if !deferred {
        queue.ready.notify_one();
    }
}

/// While it lives, frames queued on this thread wake their writers only when it ends. The
/// registry holds one with its lock, dropped after the lock: waking a writer can take a
/// system call (to unpark an idle worker), and nobody waits for the lock meanwhile.
pub struct WakesHeld {
    /// Bound to its thread, as the list it fills.
    _thread: PhantomData<*const ()>,
}

impl WakesHeld {
    pub fn new() -> Self {
        DEFERRED.with_borrow_mut(|deferred| deferred.holding = true);
        Self {
            _thread: PhantomData,
        }
    }
}

impl Drop for WakesHeld {
    fn drop(&mut self) {
        let mut queues = DEFERRED.with_borrow_mut(|deferred| {
            deferred.holding = false;
            std::mem::take(&mut deferred.queues)
        });
        for queue in queues.drain(..) {
            queue.ready.notify_one();
        }
        // The list's memory is kept for the next time.
        DEFERRED.with_borrow_mut(|deferred| deferred.queues = queues);
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
    let mut json = sonic_rs::to_string(message).unwrap_or_else(|error| {
        // Serializing our own types into a String cannot fail; keep the socket alive anyway.
        tracing::error!(%error, "cannot serialize a server message");
        String::from(r#"{"type":"error","code":"bad-request","message":"internal error"}"#)
    });
    // The writer reserves room for the worst escaping (six bytes a character); a frame
    // may wait in queues and for replay, and holds only its bytes.
    json.shrink_to_fit();
    Message::Text(Utf8Bytes::from(json))
}

#[cfg(test)]
mod tests {
    use protocol::{CallId, ErrorCode, IceCandidate, PeerId, PeerInfo, Relayed, Signal};
    use serde_json::Value;

    use super::*;

    /// Every character a string can hold, the ones JSON must escape among them.
    fn every_kind_of_text() -> String {
        let mut text: String = (0..0x3000u32).filter_map(char::from_u32).collect();
        text.extend(['\u{fffd}', '\u{10000}', '\u{1f600}', '\u{10ffff}']);
        text.push_str("\"\\/\r\n\t\u{7f}\u{2028}\u{2029}");
        text
    }

    fn relayed(signal: Signal, text: &str) -> ServerMessage {
        ServerMessage::relayed(Relayed {
            from: PeerId::from(text),
            name: text.to_owned(),
            call: Some(CallId(text.to_owned())),
            seq: Some(u64::from(u32::MAX) + 7),
            signal,
        })
    }

    /// A queued frame is the JSON serde_json would write for the message, whatever its
    /// strings hold, and the client reads it back as the same message.
    #[test]
    fn frames_are_the_messages_json_whatever_their_text() {
        let text = every_kind_of_text();
        let messages = [
            relayed(Signal::Offer { sdp: text.clone() }, &text),
            relayed(Signal::Answer { sdp: text.clone() }, "a"),
            relayed(
                Signal::Candidate {
                    candidate: Some(IceCandidate {
                        candidate: text.clone(),
                        sdp_mid: Some(text.clone()),
                        sdp_m_line_index: Some(u16::MAX),
                        username_fragment: None,
                    }),
                },
                "b",
            ),
            relayed(Signal::Candidate { candidate: None }, ""),
            relayed(
                Signal::Hangup {
                    reason: Some(text.clone()),
                },
                "c",
            ),
            ServerMessage::Peers {
                peers: vec![PeerInfo {
                    id: PeerId::from("x"),
                    name: text.clone(),
                }],
            },
            ServerMessage::Error {
                code: ErrorCode::RateLimited,
                message: text.clone(),
                to: None,
                call: None,
            },
        ];
        for message in messages {
            let Message::Text(written) = frame(&message) else {
                panic!("a frame is text");
            };
            let parsed: Value = serde_json::from_str(written.as_str()).expect("valid JSON");
            let expected = serde_json::to_value(&message).expect("serializes");
            assert_eq!(parsed, expected);
            let read: ServerMessage = serde_json::from_str(written.as_str()).expect("reads");
            assert_eq!(read, message);
        }
    }
}
