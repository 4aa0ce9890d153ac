//! A node among several, joined through Redis.
//!
//! - The node announces itself with a heartbeat: a key that lapses a few seconds after
//!   the node stops renewing it, goodbye or not.
//! - Every room has a home node, named by a lease in Redis that holds while its node's
//!   key lives: the first node to need a room whose home is free (or dead) takes it. A
//!   socket reaching another node is tunnelled to the home (see [`crate::tunnel`]).
//! - The home records who is in each of its rooms, with the room's own state (lock,
//!   password), in `peercall:members:<room>`, each second when it changed. A node that
//!   takes a room over from a dead home holds everyone recorded as away: they resume with
//!   their ids and nobody is told they left, and those who do not come back within the
//!   grace leave as dropped users do.
//! - Ids that left on purpose are kept in Redis until their tokens expire, so no node
//!   lets one of their resume tokens back in.
//! - While Redis is away the node goes on serving the rooms it holds and takes new logins
//!   itself, says so in its log and on `/healthz` (still 200: a balancer must not drain
//!   every node at once), and rejoins by itself when Redis is back: it listens again,
//!   announces itself, and claims and records its rooms again. A room another node took
//!   meanwhile is given up: its sockets here close with 1012 and resume at the room's home.

mod pubsub;
mod redis;
mod upkeep;

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, Ordering},
    },
    time::Duration,
};

use protocol::PeerId;
use tokio::sync::{mpsc, watch};

use self::redis::Redis;
use crate::{
    metrics::Crossings,
    registry::{Registry, RoomState},
    rooms::RoomKey,
    tunnel::{Bus, NodeId, Visit, channel},
};

/// What every node key starts with.
const NODE_PREFIX: &str = "peercall:node:";

/// The field of a room's members record that holds the room's own state.
const ROOM_FIELD: &str = "~room";

/// Takes room `KEYS[1]` for node `ARGV[1]` for `ARGV[3]` ms (or keeps it that much
/// longer), unless another node whose key (`ARGV[2]` followed by its id) still lives
/// holds it. Returns the holder, and the node it was taken from (empty if none).
const CLAIM: &str = r"
local home = redis.call('GET', KEYS[1])
if home and home ~= ARGV[1] and redis.call('EXISTS', ARGV[2] .. home) == 1 then
  return {home, ''}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
if home == ARGV[1] then return {home, ''} end
return {ARGV[1], home or ''}";

/// How long a room's lease and its record last without their home renewing them (each
/// second): a dead home's rooms are taken over within this, or start afresh after it.
const LEASE: Duration = Duration::from_secs(15);

/// Frees room `KEYS[1]` and its members `KEYS[2]` if node `ARGV[1]` holds it.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1], KEYS[2]) end
return 0";

/// The Redis key announcing node `id`.
pub fn node_key(id: &str) -> String {
    format!("{NODE_PREFIX}{id}")
}

/// The command that claims `room` for node `node` (see [`CLAIM`]).
fn claim(room: &RoomKey, node: &str) -> ::redis::Cmd {
    let mut claim = ::redis::cmd("EVAL");
    claim
        .arg(CLAIM)
        .arg(1)
        .arg(room_key(room))
        .arg(node)
        .arg(NODE_PREFIX)
        .arg(LEASE.as_millis().to_string());
    claim
}

/// The Redis key naming room `room`'s home.
fn room_key(room: &RoomKey) -> String {
    format!("peercall:room:{}", room.as_str())
}

/// The Redis key recording who is in room `room` (see [`crate::registry::Record`]).
fn members_key(room: &RoomKey) -> String {
    format!("peercall:members:{}", room.as_str())
}

/// The Redis key that refuses `id`'s resume tokens.
fn left_key(id: &PeerId) -> String {
    format!("peercall:left:{id}")
}

/// Redis as the node last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Seen {
    /// Not asked yet.
    Unknown = 0,
    Up = 1,
    Away = 2,
}

/// Whether Redis answers, as `/healthz` and `/metrics` say it.
#[derive(Default)]
pub struct Health {
    seen: AtomicU8,
}

impl Seen {
    /// What `value` (a `Seen as u8`) stands for.
    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Up,
            2 => Self::Away,
            _ => Self::Unknown,
        }
    }
}

impl Health {
    fn seen(&self) -> Seen {
        Seen::from_u8(self.seen.load(Ordering::Relaxed))
    }

    /// Notes what the last heartbeat saw; returns what was seen before.
    fn see(&self, seen: Seen) -> Seen {
        Seen::from_u8(self.seen.swap(seen as u8, Ordering::Relaxed))
    }

    /// Whether the node reached Redis at its last heartbeat.
    pub fn redis_up(&self) -> bool {
        self.seen() == Seen::Up
    }
}

/// Where a room lives.
#[derive(Debug, PartialEq, Eq)]
pub enum Home {
    /// On this node (also whenever Redis cannot say).
    Here,
    /// On another node.
    There(NodeId),
}

/// This node's membership of the cluster.
pub struct Cluster {
    /// The node's id, random per start.
    pub id: NodeId,
    /// What the node knows of Redis now.
    pub health: Arc<Health>,
    /// The tunnels to and from other nodes.
    pub bus: Arc<Bus>,
    redis: Redis,
    registry: Arc<Registry>,
    /// Rooms this node took for a login, until the upkeep counts them among its own.
    claimed: Mutex<HashSet<RoomKey>>,
    /// The listener's subscription, which the upkeep checks.
    subscription: Arc<pubsub::Subscription>,
    /// The heartbeat, which says goodbye once the node has left.
    heartbeat: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Stops the publisher and the listener once every connection has ended (so that
    /// their last frames reach the other nodes).
    quit: watch::Sender<bool>,
}

impl Cluster {
    /// Joins the cluster through the Redis at `url` with the rooms of `registry`; the
    /// node beats and looks after its rooms until `stop` says so (from then on its rooms
    /// are left to other nodes as they are, as a dead node's would be), and listens and
    /// publishes until it has [left]. Returns the sockets of other nodes to serve here.
    ///
    /// [left]: Cluster::left
    pub fn join(
        url: &str,
        registry: Arc<Registry>,
        crossings: Crossings,
        stop: watch::Receiver<bool>,
    ) -> ::redis::RedisResult<(Arc<Self>, mpsc::Receiver<Visit>)> {
        let client = ::redis::Client::open(url)?;
        let id = format!("{:016x}", rand::random::<u64>());
        let (bus, publications, visits) = Bus::new(id.clone(), crossings);
        let (quit, quitting) = watch::channel(false);
        let subscription = Arc::new(pubsub::Subscription::default());
        tokio::spawn(pubsub::publish(
            Redis::new(client.clone()),
            publications,
            Arc::clone(&bus),
            quitting.clone(),
        ));
        tokio::spawn(pubsub::listen(
            client.clone(),
            Arc::clone(&bus),
            channel(&id),
            Arc::clone(&subscription),
            quitting.clone(),
        ));
        registry.record_changes();
        let cluster = Arc::new(Self {
            id: id.clone(),
            health: Arc::new(Health::default()),
            bus,
            redis: Redis::new(client),
            registry,
            claimed: Mutex::default(),
            subscription,
            heartbeat: Mutex::default(),
            quit,
        });
        tokio::spawn(upkeep::look_after(Arc::clone(&cluster), stop.clone()));
        let heartbeat = tokio::spawn(upkeep::beat(Arc::clone(&cluster), stop));
        *cluster
            .heartbeat
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(heartbeat);
        tracing::info!(node = %id, "joining the cluster through Redis");
        Ok((cluster, visits))
    }

    /// Stops listening and publishing, and waits (a moment at most) for the goodbye of a
    /// stopped node to reach Redis.
    pub async fn left(&self) {
        let _ = self.quit.send(true);
        let heartbeat = self
            .heartbeat
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(heartbeat) = heartbeat {
            let _ = tokio::time::timeout(redis::PATIENCE * 2, heartbeat).await;
        }
    }

    /// The home of `room`, taken by this node if it has none (or a dead one). While
    /// Redis cannot say, the room is served here.
    pub async fn home_of(&self, room: &RoomKey) -> Home {
        if self.health.seen() == Seen::Away {
            return Home::Here;
        }
        match self
            .redis
            .query::<(String, String)>(&claim(room, &self.id))
            .await
        {
            Ok((home, _)) if home != self.id => Home::There(home),
            Ok((_, from)) => {
                self.claimed
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(room.clone());
                if !from.is_empty() {
                    self.take_over(room).await;
                }
                Home::Here
            }
            Err(error) => {
                tracing::warn!(%error, room = room.as_str(), "cannot ask Redis for a room's home: served here");
                Home::Here
            }
        }
    }

    /// Takes `room` over, with its members and its state as its dead home recorded them.
    async fn take_over(&self, room: &RoomKey) {
        let mut members = ::redis::cmd("HGETALL");
        members.arg(members_key(room));
        let fields = match self.redis.query::<Vec<(String, String)>>(&members).await {
            Ok(fields) => fields,
            Err(error) => {
                tracing::warn!(%error, room = room.as_str(), "cannot read who was in a room taken over");
                return;
            }
        };
        let mut records = Vec::new();
        let mut state = None;
        for (field, value) in fields {
            if field == ROOM_FIELD {
                state = serde_json::from_str::<RoomState>(&value).ok();
            } else if let Ok(record) = serde_json::from_str(&value) {
                records.push(record);
            }
        }
        self.registry.adopt(room, records, state);
    }

    /// Whether `id` left on purpose, as some node noted; `false` while Redis cannot say.
    pub async fn has_left(&self, id: &PeerId) -> bool {
        let mut exists = ::redis::cmd("EXISTS");
        exists.arg(left_key(id));
        self.redis.query::<bool>(&exists).await.unwrap_or(false)
    }

    /// Notes that `id` left on purpose: its tokens are refused for `lifetime`.
    pub async fn note_left(&self, id: &PeerId, lifetime: Duration) {
        let mut set = ::redis::cmd("SET");
        set.arg(left_key(id))
            .arg(1)
            .arg("PX")
            .arg(lifetime.as_millis().to_string());
        if let Err(error) = self.redis.query::<()>(&set).await {
            tracing::warn!(%error, "cannot note a departure in Redis");
        }
    }
}
