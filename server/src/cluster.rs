//! A node among several, joined through Redis.
//!
//! - The node announces itself with a heartbeat: a key that lapses a few seconds after
//!   the node stops renewing it, goodbye or not.
//! - Every room has a home node, named by a lease in Redis that holds while its node's
//!   key lives: the first node to need a room whose home is free (or dead) takes it. A
//!   socket reaching another node is tunnelled to the home (see [`crate::tunnel`]).
//! - The home records who is in each of its rooms (`peercall:members:<room>`, each second
//!   when it changed). A node that takes a room over from a dead home holds everyone
//!   recorded as away: they resume with their ids and nobody is told they left, and those
//!   who do not come back within the grace leave as dropped users do.
//! - Ids that left on purpose are kept in Redis until their tokens expire, so no node
//!   lets one of their resume tokens back in.
//! - While Redis is away the node goes on serving the rooms it holds and takes new logins
//!   itself, says so in its log and on `/healthz` (still 200: a balancer must not drain
//!   every node at once), and rejoins by itself when Redis is back: it listens again,
//!   announces itself, and claims its rooms again. A room another node took meanwhile is
//!   given up: its sockets here close with 1012 and resume at the room's home.

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures_util::StreamExt;
use protocol::PeerId;
use redis::{FromRedisValue, aio::MultiplexedConnection};
use tokio::sync::{mpsc, watch};

use crate::{
    metrics::Crossings,
    registry::Registry,
    rooms::RoomKey,
    tunnel::{Bus, NodeId, channel},
};

/// How often the node renews its key, and looks after its leases and tunnels.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// How long a node's key lives without renewal: a node gone for this long is gone.
const NODE_TTL: Duration = Duration::from_secs(4);

/// How long one Redis command may take before Redis counts as away.
const PATIENCE: Duration = Duration::from_secs(2);

/// Messages the publisher sends in one pipeline at most.
const PUBLISH_BATCH: usize = 512;

/// What every node key starts with.
const NODE_PREFIX: &str = "peercall:node:";

/// Takes room `KEYS[1]` for node `ARGV[1]` unless another live node (its key is `ARGV[2]`
/// and the holder's id) holds it; returns the holder, and the dead node it was taken
/// from (empty if none).
const CLAIM: &str = r"
local home = redis.call('GET', KEYS[1])
if home == ARGV[1] then return {home, ''} end
if home and redis.call('EXISTS', ARGV[2] .. home) == 1 then return {home, ''} end
redis.call('SET', KEYS[1], ARGV[1])
return {ARGV[1], home or ''}";

/// Frees room `KEYS[1]` and its members `KEYS[2]` if node `ARGV[1]` holds it.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1], KEYS[2]) end
return 0";

/// The Redis key announcing node `id`.
pub fn node_key(id: &str) -> String {
    format!("{NODE_PREFIX}{id}")
}

/// The Redis key naming room `room`'s home.
fn room_key(room: &RoomKey) -> String {
    format!("peercall:room:{}", room.as_str())
}

/// The Redis key recording who is in room `room` (see [`Record`]), by id.
fn members_key(room: &RoomKey) -> String {
    format!("peercall:members:{}", room.as_str())
}

/// The Redis key that refuses `id`'s resume tokens.
fn left_key(id: &PeerId) -> String {
    format!("peercall:left:{id}")
}

/// Whether Redis answers, as `/healthz` and `/metrics` say it.
#[derive(Default)]
pub struct Health {
    redis_up: AtomicBool,
}

impl Health {
    /// Whether the node reached Redis at its last heartbeat.
    pub fn redis_up(&self) -> bool {
        self.redis_up.load(Ordering::Relaxed)
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

/// One connection to Redis for commands, made again after a failure.
struct Redis {
    client: redis::Client,
    connection: Mutex<Option<MultiplexedConnection>>,
}

impl Redis {
    fn held(&self) -> std::sync::MutexGuard<'_, Option<MultiplexedConnection>> {
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn connection(&self) -> Result<MultiplexedConnection, String> {
        if let Some(connection) = self.held().clone() {
            return Ok(connection);
        }
        let connecting = self.client.get_multiplexed_async_connection();
        let made = tokio::time::timeout(PATIENCE, connecting)
            .await
            .map_err(|_| "no answer in time".to_owned())?
            .map_err(|error| error.to_string())?;
        *self.held() = Some(made.clone());
        Ok(made)
    }

    /// Runs `command`, within [`PATIENCE`].
    async fn query<T: FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, String> {
        let mut connection = self.connection().await?;
        let answer = tokio::time::timeout(PATIENCE, command.query_async(&mut connection)).await;
        self.answered(answer)
    }

    /// Runs `pipeline`, within [`PATIENCE`].
    async fn pipeline<T: FromRedisValue>(&self, pipeline: &redis::Pipeline) -> Result<T, String> {
        let mut connection = self.connection().await?;
        let answer = tokio::time::timeout(PATIENCE, pipeline.query_async(&mut connection)).await;
        self.answered(answer)
    }

    fn answered<T>(
        &self,
        answer: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, String> {
        let failed = match answer {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => error.to_string(),
            Err(_) => "no answer in time".to_owned(),
        };
        // The next command connects afresh.
        *self.held() = None;
        Err(failed)
    }
}

/// This node's membership of the cluster.
pub struct Cluster {
    /// The node's id, random per start.
    pub id: NodeId,
    /// What the node knows of Redis now.
    pub health: Arc<Health>,
    /// The tunnels to and from other nodes.
    pub bus: Arc<Bus>,
    redis: Arc<Redis>,
    registry: Arc<Registry>,
    /// The heartbeat, which says goodbye once stopped.
    heartbeat: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Stops the publisher and the listener, once every connection has ended (so that
    /// their last frames reach the other nodes).
    quit: watch::Sender<bool>,
}

impl Cluster {
    /// Joins the cluster through the Redis at `url` with the rooms of `registry`: the
    /// node beats until `stop` says so, and listens and publishes until it has [left].
    ///
    /// [left]: Cluster::left
    pub fn join(
        url: &str,
        registry: Arc<Registry>,
        crossings: Crossings,
        stop: watch::Receiver<bool>,
    ) -> redis::RedisResult<Arc<Self>> {
        let client = redis::Client::open(url)?;
        let id = format!("{:016x}", rand::random::<u64>());
        let health = Arc::new(Health::default());
        let (bus, queue) = Bus::new(id.clone(), crossings);
        let redis = Arc::new(Redis {
            client: client.clone(),
            connection: Mutex::default(),
        });
        let (quit, quitting) = watch::channel(false);
        tokio::spawn(publish(
            Arc::clone(&redis),
            queue,
            Arc::clone(&bus),
            quitting.clone(),
        ));
        tokio::spawn(listen(client, Arc::clone(&bus), channel(&id), quitting));
        let cluster = Arc::new(Self {
            id: id.clone(),
            health: Arc::clone(&health),
            bus,
            redis,
            registry,
            heartbeat: Mutex::default(),
            quit,
        });
        let heartbeat = tokio::spawn(heartbeat(Arc::clone(&cluster), stop));
        *cluster
            .heartbeat
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(heartbeat);
        tracing::info!(node = %id, "joining the cluster through Redis");
        Ok(cluster)
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
            let _ = tokio::time::timeout(PATIENCE * 2, heartbeat).await;
        }
    }

    /// The home of `room`, taken by this node if it has none (or a dead one). While
    /// Redis cannot say, the room is served here.
    pub async fn home_of(&self, room: &RoomKey) -> Home {
        if !self.health.redis_up() {
            return Home::Here;
        }
        let mut claim = redis::cmd("EVAL");
        claim
            .arg(CLAIM)
            .arg(1)
            .arg(room_key(room))
            .arg(&self.id)
            .arg(NODE_PREFIX);
        match self.redis.query::<(String, String)>(&claim).await {
            Ok((home, _)) if home != self.id => Home::There(home),
            Ok((_, from)) => {
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

    /// Takes `room` over, with its members as its dead home recorded them.
    async fn take_over(&self, room: &RoomKey) {
        let mut members = redis::cmd("HGETALL");
        members.arg(members_key(room));
        match self.redis.query::<Vec<(String, String)>>(&members).await {
            Ok(members) => {
                let records = members
                    .into_iter()
                    .filter_map(|(_, record)| serde_json::from_str(&record).ok())
                    .collect();
                self.registry.adopt(room, records);
            }
            Err(error) => {
                tracing::warn!(%error, room = room.as_str(), "cannot read who was in a room taken over");
            }
        }
    }

    /// Whether `id` left on purpose, as some node noted; `false` while Redis cannot say.
    pub async fn has_left(&self, id: &PeerId) -> bool {
        let mut exists = redis::cmd("EXISTS");
        exists.arg(left_key(id));
        self.redis.query::<bool>(&exists).await.unwrap_or(false)
    }

    /// Notes that `id` left on purpose: its tokens are refused for `lifetime`.
    pub fn note_left(&self, id: &PeerId, lifetime: Duration) {
        let mut set = redis::cmd("SET");
        set.arg(left_key(id))
            .arg(1)
            .arg("PX")
            .arg(lifetime.as_millis().to_string());
        let redis = Arc::clone(&self.redis);
        tokio::spawn(async move {
            if let Err(error) = redis.query::<()>(&set).await {
                tracing::warn!(%error, "cannot note a departure in Redis");
            }
        });
    }
}

/// Sends what the bus queued, in order, pipelined; a failure cuts every tunnel.
async fn publish(
    redis: Arc<Redis>,
    mut queue: mpsc::Receiver<(String, String)>,
    bus: Arc<Bus>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let first = tokio::select! {
            // What is queued still goes out after the node has left.
            biased;
            first = queue.recv() => first,
            _ = stop.wait_for(|stopped| *stopped) => None,
        };
        let Some((channel, payload)) = first else {
            return;
        };
        let mut pipeline = redis::pipe();
        pipeline.cmd("PUBLISH").arg(channel).arg(payload).ignore();
        for _ in 1..PUBLISH_BATCH {
            let Ok((channel, payload)) = queue.try_recv() else {
                break;
            };
            pipeline.cmd("PUBLISH").arg(channel).arg(payload).ignore();
        }
        if let Err(error) = redis.pipeline::<()>(&pipeline).await {
            tracing::warn!(%error, "cannot publish to other nodes: tunnels closed");
            bus.cut();
        }
    }
}

/// Listens on the node's channel, again after every loss; a loss cuts every tunnel.
async fn listen(
    client: redis::Client,
    bus: Arc<Bus>,
    channel: String,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            redis::RedisResult::Ok(pubsub)
        };
        if let Ok(Ok(pubsub)) = tokio::time::timeout(PATIENCE, subscribed).await {
            let mut messages = pubsub.into_on_message();
            loop {
                tokio::select! {
                    message = messages.next() => match message {
                        Some(message) => match message.get_payload::<String>() {
                            Ok(payload) => bus.receive(&payload),
                            Err(error) => tracing::warn!(%error, "unreadable message from another node"),
                        },
                        None => break,
                    },
                    _ = stop.wait_for(|stopped| *stopped) => return,
                }
            }
            bus.cut();
        }
        tokio::select! {
            _ = tokio::time::sleep(HEARTBEAT) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
    }
}

/// Each second: renews the node's key, looks after the rooms held here (see [`upkeep`]),
/// and ends the tunnels of nodes that are gone. Notes (once) when Redis goes
/// away and when it is back.
async fn heartbeat(cluster: Arc<Cluster>, mut stop: watch::Receiver<bool>) {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let key = node_key(&cluster.id);
    let mut first = true;
    let mut held: HashSet<RoomKey> = HashSet::new();
    loop {
        let mut set = redis::cmd("SET");
        set.arg(&key)
            .arg(started.to_string())
            .arg("PX")
            .arg(NODE_TTL.as_millis().to_string());
        let renewed = cluster.redis.query::<()>(&set).await;
        let was_up = cluster
            .health
            .redis_up
            .swap(renewed.is_ok(), Ordering::Relaxed);
        // Said once: at the first heartbeat, and whenever Redis comes or goes.
        if std::mem::take(&mut first) || was_up != renewed.is_ok() {
            match &renewed {
                Ok(()) => tracing::info!("Redis answers: the node is in the cluster"),
                Err(error) => tracing::warn!(
                    %error,
                    "Redis is away: serving this node's users only until it is back"
                ),
            }
        }
        match renewed {
            Ok(()) => {
                if let Err(error) = upkeep(&cluster, &mut held).await {
                    tracing::warn!(%error, "cannot look after the rooms held here");
                }
            }
            Err(_) if was_up => cluster.bus.cut(),
            Err(_) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(HEARTBEAT) => {}
            _ = stop.wait_for(|stopped| *stopped) => break,
        }
    }
    // A goodbye: the others need not wait for the key to lapse.
    let mut goodbye = redis::cmd("DEL");
    goodbye.arg(&key);
    let _ = cluster.redis.query::<()>(&goodbye).await;
}

/// Claims the rooms held here (again, after Redis lost them), gives up those another node
/// holds, records who is in those whose members changed, frees those emptied, and ends the
/// tunnels of nodes that are gone.
async fn upkeep(cluster: &Cluster, held: &mut HashSet<RoomKey>) -> Result<(), String> {
    let registry = &cluster.registry;
    let rooms = registry.room_keys();
    let peers = cluster.bus.peers();
    let freed: Vec<RoomKey> = held
        .iter()
        .filter(|room| !rooms.contains(room))
        .cloned()
        .collect();
    let mut pipeline = redis::pipe();
    for room in &rooms {
        pipeline
            .cmd("EVAL")
            .arg(CLAIM)
            .arg(1)
            .arg(room_key(room))
            .arg(&cluster.id)
            .arg(NODE_PREFIX);
    }
    for peer in &peers {
        pipeline.cmd("EXISTS").arg(node_key(peer));
    }
    for room in &freed {
        pipeline
            .cmd("EVAL")
            .arg(RELEASE)
            .arg(2)
            .arg(room_key(room))
            .arg(members_key(room))
            .arg(&cluster.id)
            .ignore();
    }
    if rooms.is_empty() && peers.is_empty() && freed.is_empty() {
        return Ok(());
    }
    let answers: Vec<redis::Value> = cluster.redis.pipeline(&pipeline).await?;
    let mut answers = answers.into_iter();
    held.clear();
    for room in rooms {
        let claim = answers
            .next()
            .and_then(|answer| <(String, String)>::from_redis_value(answer).ok());
        match claim {
            Some((home, _)) if home != cluster.id => {
                tracing::warn!(room = room.as_str(), %home, "another node holds this room: its sockets here move there");
                for outbox in registry.surrender(&room) {
                    crate::tunnel::moved(&outbox);
                }
            }
            Some((_, from)) if !from.is_empty() => {
                cluster.take_over(&room).await;
                held.insert(room);
            }
            _ => {
                held.insert(room);
            }
        }
    }
    for peer in peers {
        let alive = answers
            .next()
            .and_then(|answer| bool::from_redis_value(answer).ok());
        if alive == Some(false) {
            tracing::info!(node = %peer, "a node is gone: its tunnels close");
            cluster.bus.node_gone(&peer);
        }
    }
    record(cluster, held).await
}

/// Records in Redis who is in each room held here whose members changed.
async fn record(cluster: &Cluster, held: &HashSet<RoomKey>) -> Result<(), String> {
    let mut pipeline = redis::pipe();
    let mut any = false;
    for (room, records) in cluster.registry.take_changed() {
        if !held.contains(&room) {
            continue;
        }
        let key = members_key(&room);
        pipeline.cmd("DEL").arg(&key).ignore();
        if !records.is_empty() {
            let set = pipeline.cmd("HSET").arg(&key);
            for record in &records {
                let json = serde_json::to_string(record).map_err(|error| error.to_string())?;
                set.arg(&record.id.0).arg(json);
            }
            set.ignore();
        }
        any = true;
    }
    if !any {
        return Ok(());
    }
    cluster.redis.pipeline::<()>(&pipeline).await
}
