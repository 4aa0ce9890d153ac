//! Sockets whose room lives on another node.
//!
//! Every room has one home: the node that holds its members, calls and signals, as a lone
//! server holds all of them. A client whose socket reaches another node (its *edge*) logs
//! in through a tunnel: the edge forwards the client's frames over Redis pub/sub to the
//! home, where a *visitor* connection runs exactly as a socket of the home's own would,
//! and the home's frames come back the same way. So presence, the server-stamped `from`,
//! the access rules, the call registry and the delivery numbering are the home's, one
//! place for each room. Connection limits count where the socket is; the rate limits
//! hold on the edge (before anything crosses Redis) and again on the home.
//!
//! Each node listens on its own channel. Frames of one socket keep their order: one
//! publisher per node sends everything, in order, pipelined; what waits for it is
//! bounded in bytes. Each second a home asks every edge whether the sockets it serves
//! for it are still there, so that no visitor outlives its socket when a goodbye was
//! lost.
//!
//! When a room's home goes (stopped, dead, or unreachable because Redis is away), its
//! tunnels close with 1012: the clients resume at once, reach a node that becomes the
//! room's new home, and get their ids back there. When an edge goes, its visitors end as
//! dropped sockets do: their users are away until they resume.

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, close_code};
use futures_util::{Sink, Stream};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use protocol::ErrorCode;

use crate::{
    metrics::Crossings,
    outbox::{Claim, Eviction, Outbox, Waiting},
    refusal::Refusal,
};

/// A node's id (see `cluster::Cluster`).
pub type NodeId = String;

/// Frames of one visitor waiting for it; past this the visitor is dropped (its edge
/// forwards faster than the home can handle, which no honest client makes it do).
const VISITOR_BACKLOG: usize = 1024;

/// Bytes waiting for the publisher; past this Redis cannot keep up, and what would
/// cross gives up instead (its tunnel closes).
const PUBLISH_BYTES: usize = 32 * 1024 * 1024;

/// Bytes of one socket's frames waiting for the publisher; past this its frames are
/// refused (`rate-limited`) until Redis has taken what waits, so that no one client
/// fills what every tunnel of the node shares.
const TUNNEL_BYTES: usize = 256 * 1024;

/// The reason sent with the close that ends a tunnel whose room moved.
pub const MOVED: &str = "the room moved to another server: reconnecting";

/// The pub/sub channel node `node` listens on.
pub fn channel(node: &str) -> String {
    format!("peercall:bus:{node}")
}

/// What goes between two nodes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "kebab-case")]
pub enum Envelope {
    /// Edge to home: socket `conn` of node `edge`, from `remote`, logs in with `text`.
    Open {
        edge: NodeId,
        conn: u64,
        remote: SocketAddr,
        text: String,
    },
    /// Edge to home: the socket's next frame.
    Frame {
        edge: NodeId,
        conn: u64,
        text: String,
    },
    /// Edge to home: the socket ended; `clean` when its user left on purpose.
    Closed {
        edge: NodeId,
        conn: u64,
        clean: bool,
    },
    /// Home to edge: frames for the edge's socket `conn`.
    Frames {
        home: NodeId,
        conn: u64,
        frames: Vec<Frame>,
    },
    /// Home to edge: are these sockets of yours, which I serve, still there?
    Probe { home: NodeId, conns: Vec<u64> },
    /// Edge to home: these sockets are gone.
    Gone { edge: NodeId, conns: Vec<u64> },
}

/// A message for another node, waiting for the publisher.
pub struct Outgoing {
    /// The node it goes to.
    pub to: NodeId,
    /// The envelope, as JSON.
    pub payload: String,
    /// For a client's frame: its part of what its socket has waiting, given back once
    /// it has gone out.
    _claim: Option<Claim>,
}

/// A frame from the home to a client.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Frame {
    /// A text frame.
    Text(String),
    /// The close that ends the socket.
    Close { code: u16, reason: String },
}

/// A socket of another node, to be served here as a visitor.
pub struct Visit {
    /// The node the socket is on.
    pub edge: NodeId,
    /// Its number there.
    pub conn: u64,
    /// The client's address.
    pub remote: SocketAddr,
    /// Its frames, the login first; `Close` when its user left, the end when the socket
    /// dropped.
    pub frames: mpsc::Receiver<Message>,
}

/// One node's tunnels, both ways.
pub struct Bus {
    node: NodeId,
    publisher: mpsc::UnboundedSender<Outgoing>,
    /// Bytes waiting for the publisher.
    waiting: Arc<AtomicUsize>,
    /// This node's sockets whose room is elsewhere, by connection number.
    tunnels: Mutex<HashMap<u64, Tunnelled>>,
    /// Other nodes' sockets served here, by their node and number.
    visitors: Mutex<HashMap<(NodeId, u64), mpsc::Sender<Message>>>,
    /// Where visitors go to be served.
    visits: mpsc::Sender<Visit>,
    crossings: Crossings,
}

/// What the publisher takes from the bus: the messages, and the count of their bytes to
/// give back as they go out.
pub struct Publications {
    /// The messages.
    pub queue: mpsc::UnboundedReceiver<Outgoing>,
    /// Bytes waiting, shared with the bus.
    pub waiting: Arc<AtomicUsize>,
}

impl Publications {
    /// `bytes` of what waited have gone out (or failed to).
    pub fn sent(&self, bytes: usize) {
        self.waiting.fetch_sub(bytes, Ordering::Relaxed);
    }
}

struct Tunnelled {
    home: NodeId,
    outbox: Outbox,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every change under these locks is one insert or remove: a poisoned lock is usable.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Bus {
    /// The bus of node `node`, what its publisher sends from, and the visitors to serve.
    pub fn new(
        node: NodeId,
        crossings: Crossings,
    ) -> (Arc<Self>, Publications, mpsc::Receiver<Visit>) {
        let (publisher, queue) = mpsc::unbounded_channel();
        let (visits, visitors) = mpsc::channel(VISITOR_BACKLOG);
        let waiting = Arc::new(AtomicUsize::new(0));
        let bus = Arc::new(Self {
            node,
            publisher,
            waiting: Arc::clone(&waiting),
            tunnels: Mutex::default(),
            visitors: Mutex::default(),
            visits,
            crossings,
        });
        (bus, Publications { queue, waiting }, visitors)
    }

    /// Queues `envelope` for node `to`; `false` when it cannot go (Redis cannot keep up).
    fn send(&self, to: &str, envelope: &Envelope) -> bool {
        self.send_counted(to, envelope, None)
    }

    /// Queues `envelope` as [`Bus::send`] does, its bytes counted in `waiting` until it
    /// has gone out.
    fn send_counted(&self, to: &str, envelope: &Envelope, waiting: Option<&Waiting>) -> bool {
        let Ok(payload) = serde_json::to_string(envelope) else {
            return false;
        };
        // Never waits: past the bound the message gives up, and its tunnel with it.
        let bytes = payload.len();
        if self.waiting.fetch_add(bytes, Ordering::Relaxed) + bytes > PUBLISH_BYTES {
            self.waiting.fetch_sub(bytes, Ordering::Relaxed);
            return false;
        }
        let outgoing = Outgoing {
            to: to.to_owned(),
            payload,
            _claim: waiting.map(|waiting| Claim::new(waiting, bytes)),
        };
        if self.publisher.send(outgoing).is_err() {
            self.waiting.fetch_sub(bytes, Ordering::Relaxed);
            return false;
        }
        self.crossings.sent.inc();
        true
    }

    /// Socket `conn` of this node, whose frames go to `outbox`, logs in with `text` to
    /// the room whose home is node `home`.
    pub fn open(
        self: &Arc<Self>,
        home: NodeId,
        conn: u64,
        remote: SocketAddr,
        outbox: &Outbox,
        text: &str,
    ) -> Tunnel {
        locked(&self.tunnels).insert(
            conn,
            Tunnelled {
                home: home.clone(),
                outbox: outbox.clone(),
            },
        );
        let open = Envelope::Open {
            edge: self.node.clone(),
            conn,
            remote,
            text: text.to_owned(),
        };
        if !self.send(&home, &open) {
            self.close_tunnel(conn);
        }
        Tunnel {
            bus: Arc::clone(self),
            home,
            conn,
            waiting: Waiting::default(),
        }
    }

    /// Ends this node's tunnel `conn` with 1012: the client comes back and finds the
    /// room's home anew.
    fn close_tunnel(&self, conn: u64) {
        if let Some(tunnel) = locked(&self.tunnels).remove(&conn) {
            moved(&tunnel.outbox);
        }
    }

    /// Acts on what came in on this node's channel.
    pub fn receive(&self, payload: &str) {
        let envelope = match serde_json::from_str::<Envelope>(payload) {
            Ok(envelope) => envelope,
            Err(error) => {
                tracing::warn!(%error, "unreadable message from another node");
                return;
            }
        };
        self.crossings.received.inc();
        match envelope {
            Envelope::Open {
                edge,
                conn,
                remote,
                text,
            } => {
                let (sender, frames) = mpsc::channel(VISITOR_BACKLOG);
                let _ = sender.try_send(Message::Text(text.into()));
                let visit = Visit {
                    edge: edge.clone(),
                    conn,
                    remote,
                    frames,
                };
                if self.visits.try_send(visit).is_ok() {
                    locked(&self.visitors).insert((edge, conn), sender);
                } else {
                    // Not serving any more (stopping), or swamped: the socket goes elsewhere.
                    self.moved_away(&edge, conn);
                }
            }
            Envelope::Frame { edge, conn, text } => {
                let key = (edge, conn);
                let mut visitors = locked(&self.visitors);
                let delivered = visitors
                    .get(&key)
                    .is_some_and(|visitor| visitor.try_send(Message::Text(text.into())).is_ok());
                if !delivered {
                    // Unknown here (this node restarted) or flooding: the socket comes back.
                    visitors.remove(&key);
                    drop(visitors);
                    self.moved_away(&key.0, key.1);
                }
            }
            Envelope::Closed { edge, conn, clean } => {
                if let Some(visitor) = locked(&self.visitors).remove(&(edge, conn))
                    && clean
                {
                    let _ = visitor.try_send(Message::Close(Some(CloseFrame {
                        code: close_code::NORMAL,
                        reason: Utf8Bytes::default(),
                    })));
                }
            }
            Envelope::Frames { home, conn, frames } => {
                let mut tunnels = locked(&self.tunnels);
                let Some(tunnel) = tunnels.get(&conn).filter(|tunnel| tunnel.home == home) else {
                    return;
                };
                let mut ended = false;
                for frame in frames {
                    match frame {
                        Frame::Text(text) => tunnel.outbox.push(Message::Text(text.into())),
                        Frame::Close { code, reason } => {
                            tunnel.outbox.push(Message::Close(Some(CloseFrame {
                                code,
                                reason: reason.into(),
                            })));
                            tunnel.outbox.evict(Eviction::Ended);
                            ended = true;
                            break;
                        }
                    }
                }
                if ended {
                    tunnels.remove(&conn);
                }
            }
            Envelope::Probe { home, conns } => {
                let tunnels = locked(&self.tunnels);
                let gone: Vec<u64> = conns
                    .into_iter()
                    .filter(|conn| tunnels.get(conn).is_none_or(|tunnel| tunnel.home != home))
                    .collect();
                drop(tunnels);
                if !gone.is_empty() {
                    let edge = self.node.clone();
                    self.send(&home, &Envelope::Gone { edge, conns: gone });
                }
            }
            Envelope::Gone { edge, conns } => {
                let mut visitors = locked(&self.visitors);
                for conn in conns {
                    // Dropping its sender ends the visitor as a dropped socket.
                    visitors.remove(&(edge.clone(), conn));
                }
            }
        }
    }

    /// Tells node `edge` that its socket `conn` must look for its room again (1012).
    fn moved_away(&self, edge: &str, conn: u64) {
        let close = Frame::Close {
            code: close_code::RESTART,
            reason: MOVED.to_owned(),
        };
        let frames = Envelope::Frames {
            home: self.node.clone(),
            conn,
            frames: vec![close],
        };
        self.send(edge, &frames);
    }

    /// Asks every edge with sockets served here whether they are still there.
    pub fn probe(&self) {
        let mut by_edge: HashMap<NodeId, Vec<u64>> = HashMap::new();
        for (edge, conn) in locked(&self.visitors).keys() {
            by_edge.entry(edge.clone()).or_default().push(*conn);
        }
        for (edge, conns) in by_edge {
            let home = self.node.clone();
            self.send(&edge, &Envelope::Probe { home, conns });
        }
    }

    /// Visitor `conn` of node `edge` ended here: it is forgotten. If its edge had not
    /// ended it, the edge's socket is told to look for its room again (the close frame
    /// of an ending the visitor said goodbye with has gone before; the edge ignores this).
    pub fn visitor_ended(&self, edge: &str, conn: u64) {
        if locked(&self.visitors)
            .remove(&(edge.to_owned(), conn))
            .is_some()
        {
            self.moved_away(edge, conn);
        }
    }

    /// Which of `nodes` a publication reached nobody on: each is gone as far as this
    /// node can tell.
    pub fn unreachable(&self, nodes: HashSet<NodeId>) {
        for node in nodes {
            tracing::warn!(%node, "a node listens no more: its tunnels close");
            self.node_gone(&node);
        }
    }

    /// The other nodes this node has tunnels with, either way.
    pub fn peers(&self) -> Vec<NodeId> {
        let mut nodes: Vec<NodeId> = locked(&self.tunnels)
            .values()
            .map(|tunnel| tunnel.home.clone())
            .collect();
        nodes.extend(locked(&self.visitors).keys().map(|(edge, _)| edge.clone()));
        nodes.sort();
        nodes.dedup();
        nodes
    }

    /// Node `node` is gone: the tunnels to its rooms close with 1012 and its sockets
    /// served here end as dropped sockets.
    pub fn node_gone(&self, node: &str) {
        locked(&self.tunnels).retain(|_, tunnel| {
            let gone = tunnel.home == node;
            if gone {
                moved(&tunnel.outbox);
            }
            !gone
        });
        locked(&self.visitors).retain(|(edge, _), _| edge != node);
    }

    /// Redis went away: no tunnel carries anything any more. Every one closes with 1012
    /// (their homes learn it by probing), and every visitor ends as a dropped socket.
    pub fn cut(&self) {
        for (_, tunnel) in locked(&self.tunnels).drain() {
            moved(&tunnel.outbox);
        }
        locked(&self.visitors).clear();
    }
}

/// Ends a socket whose room moved with 1012, which a client takes as a restart.
pub fn moved(outbox: &Outbox) {
    outbox.push(Message::Close(Some(CloseFrame {
        code: close_code::RESTART,
        reason: MOVED.into(),
    })));
    outbox.evict(Eviction::Ended);
}

/// An edge socket's tunnel to its room's home.
pub struct Tunnel {
    bus: Arc<Bus>,
    home: NodeId,
    conn: u64,
    /// Bytes of its frames waiting for the publisher.
    waiting: Waiting,
}

impl Tunnel {
    /// Forwards the client's frame `text` to the home; a `bounded` one is refused while
    /// too much of what the socket sent still waits to cross.
    pub fn forward(&self, text: &str, bounded: bool) -> Result<(), Refusal> {
        if bounded && self.waiting.load(Ordering::Relaxed) + text.len() > TUNNEL_BYTES {
            return Err(Refusal::new(
                ErrorCode::RateLimited,
                "too much of what you sent is still on its way: slow down",
            ));
        }
        let frame = Envelope::Frame {
            edge: self.bus.node.clone(),
            conn: self.conn,
            text: text.to_owned(),
        };
        if !self
            .bus
            .send_counted(&self.home, &frame, Some(&self.waiting))
        {
            self.bus.close_tunnel(self.conn);
        }
        Ok(())
    }

    /// The socket ended (`clean`: its user left on purpose); the home is told, unless it
    /// ended it.
    pub fn close(self, clean: bool) {
        if locked(&self.bus.tunnels).remove(&self.conn).is_some() {
            let closed = Envelope::Closed {
                edge: self.bus.node.clone(),
                conn: self.conn,
                clean,
            };
            self.bus.send(&self.home, &closed);
        }
    }
}

/// A visitor's frames, read as a socket's.
pub struct VisitorFrames(pub mpsc::Receiver<Message>);

impl Stream for VisitorFrames {
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|frame| frame.map(Ok))
    }
}

/// Where a visitor's frames are written: gathered, and sent to its edge on each flush.
pub struct VisitorSink {
    bus: Arc<Bus>,
    edge: NodeId,
    conn: u64,
    batch: Vec<Frame>,
}

impl VisitorSink {
    /// The sink of visitor `conn` from node `edge`.
    pub fn new(bus: Arc<Bus>, edge: NodeId, conn: u64) -> Self {
        Self {
            bus,
            edge,
            conn,
            batch: Vec::new(),
        }
    }
}

impl Sink<Message> for VisitorSink {
    type Error = std::io::Error;

    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), Self::Error> {
        let frame = match message {
            Message::Text(text) => Frame::Text(text.as_str().to_owned()),
            Message::Close(close) => {
                let (code, reason) = close.map_or((close_code::NORMAL, String::new()), |close| {
                    (close.code, close.reason.as_str().to_owned())
                });
                Frame::Close { code, reason }
            }
            // The edge pings the socket itself.
            Message::Binary(_) | Message::Ping(_) | Message::Pong(_) => return Ok(()),
        };
        self.batch.push(frame);
        Ok(())
    }

    fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.batch.is_empty() {
            return Poll::Ready(Ok(()));
        }
        let frames = std::mem::take(&mut self.batch);
        let envelope = Envelope::Frames {
            home: self.bus.node.clone(),
            conn: self.conn,
            frames,
        };
        if self.bus.send(&self.edge, &envelope) {
            Poll::Ready(Ok(()))
        } else {
            Poll::Ready(Err(std::io::Error::other("Redis cannot keep up")))
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.poll_flush(cx)
    }
}
