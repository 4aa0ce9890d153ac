//! A node among several: it announces itself in Redis with a heartbeat (a key that lapses
//! a few seconds after the node stops renewing it, goodbye or not), and keeps an eye on
//! Redis itself. While Redis is away the node goes on serving its own users, says so in
//! its log and on `/healthz` (still 200: a balancer must not drain every node at once),
//! and rejoins by itself when Redis is back.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use redis::aio::MultiplexedConnection;
use tokio::sync::watch;

/// How often the node renews its key.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// How long a node's key lives without renewal: a node gone for this long is gone.
const NODE_TTL: Duration = Duration::from_secs(4);

/// How long one Redis command may take before Redis counts as away.
const PATIENCE: Duration = Duration::from_secs(2);

/// The Redis key announcing node `id`.
pub fn node_key(id: &str) -> String {
    format!("peercall:node:{id}")
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

/// This node's membership of the cluster.
pub struct Cluster {
    /// The node's id, random per start.
    pub id: String,
    /// What the node knows of Redis now.
    pub health: Arc<Health>,
    /// The heartbeat, which says goodbye once stopped.
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Cluster {
    /// Joins the cluster through the Redis at `url`: the heartbeat runs until `stop`
    /// says so, then the node's key is removed.
    pub fn join(url: &str, stop: watch::Receiver<bool>) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let id = format!("{:016x}", rand::random::<u64>());
        let health = Arc::new(Health::default());
        let heartbeat = tokio::spawn(heartbeat(client, node_key(&id), Arc::clone(&health), stop));
        tracing::info!(node = %id, "joining the cluster through Redis");
        Ok(Self {
            id,
            health,
            heartbeat,
        })
    }

    /// Waits (a moment at most) for the goodbye of a stopped node to reach Redis.
    pub async fn left(self) {
        let _ = tokio::time::timeout(PATIENCE * 2, self.heartbeat).await;
    }
}

/// Renews the node's key each second; notes (once) when Redis goes away and when it is
/// back.
async fn heartbeat(
    client: redis::Client,
    key: String,
    health: Arc<Health>,
    mut stop: watch::Receiver<bool>,
) {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let mut connection: Option<MultiplexedConnection> = None;
    let mut first = true;
    loop {
        let renewed = renew(&client, &mut connection, &key, started).await;
        let was_up = health.redis_up.swap(renewed.is_ok(), Ordering::Relaxed);
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
        if renewed.is_err() {
            connection = None;
        }
        tokio::select! {
            _ = tokio::time::sleep(HEARTBEAT) => {}
            _ = stop.wait_for(|stopped| *stopped) => break,
        }
    }
    // A goodbye: the others need not wait for the key to lapse.
    if let Some(mut connection) = connection {
        let mut goodbye = redis::cmd("DEL");
        goodbye.arg(&key);
        let _ = tokio::time::timeout(PATIENCE, goodbye.query_async::<()>(&mut connection)).await;
    }
}

/// Sets the node's key with its time to live, connecting first if need be.
async fn renew(
    client: &redis::Client,
    connection: &mut Option<MultiplexedConnection>,
    key: &str,
    started: u128,
) -> Result<(), String> {
    let timed_out = || "no answer in time".to_owned();
    if connection.is_none() {
        let connecting = client.get_multiplexed_async_connection();
        let made = tokio::time::timeout(PATIENCE, connecting)
            .await
            .map_err(|_| timed_out())?
            .map_err(|error| error.to_string())?;
        *connection = Some(made);
    }
    let Some(connection) = connection else {
        return Err(timed_out());
    };
    let mut set = redis::cmd("SET");
    set.arg(key)
        .arg(started.to_string())
        .arg("PX")
        .arg(NODE_TTL.as_millis().to_string());
    tokio::time::timeout(PATIENCE, set.query_async::<()>(connection))
        .await
        .map_err(|_| timed_out())?
        .map_err(|error| error.to_string())
}
