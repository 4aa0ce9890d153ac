//! What a node does each second: its heartbeat (on its own, so that nothing slow can let
//! the node's key lapse), and the upkeep of the rooms it holds and the tunnels it has.

use std::{collections::HashSet, sync::Arc, time::Duration};

use redis::FromRedisValue;
use tokio::sync::watch;

use super::{Cluster, LEASE, RELEASE, ROOM_FIELD, Seen, claim, members_key, node_key, room_key};
use crate::{rooms::RoomKey, tunnel::channel};

/// How often the node renews its key, and looks after its rooms and tunnels.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// How long a node's key lives without renewal: a node gone for this long is gone.
const NODE_TTL: Duration = Duration::from_secs(4);

/// Renews the node's key each second until the node stops, then says goodbye. Notes
/// (once) when Redis goes away and when it is back: away, every tunnel is cut; back,
/// every room held here is recorded again.
pub async fn beat(cluster: Arc<Cluster>, mut stop: watch::Receiver<bool>) {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let key = node_key(&cluster.id);
    let mut every = tokio::time::interval(HEARTBEAT);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.wait_for(|stop| *stop) => break,
        }
        let mut set = ::redis::cmd("SET");
        set.arg(&key)
            .arg(started.to_string())
            .arg("PX")
            .arg(NODE_TTL.as_millis().to_string());
        let renewed = cluster.redis.query::<()>(&set).await;
        let seen = if renewed.is_ok() {
            Seen::Up
        } else {
            Seen::Away
        };
        let before = cluster.health.see(seen);
        if before == seen {
            continue;
        }
        match &renewed {
            Ok(()) => {
                tracing::info!("Redis answers: the node is in the cluster");
                // Redis may be new: what is held here is recorded again.
                cluster.registry.mark_all_changed();
            }
            Err(error) => {
                tracing::warn!(
                    %error,
                    "Redis is away: serving this node's users only until it is back"
                );
                cluster.bus.cut();
            }
        }
    }
    // A goodbye: the others need not wait for the key to lapse.
    let mut goodbye = ::redis::cmd("DEL");
    goodbye.arg(&key);
    let _ = cluster.redis.query::<()>(&goodbye).await;
}

/// Each second while Redis answers, until the node stops: looks after the rooms held here
/// and the tunnels (see [`upkeep`]).
pub async fn look_after(cluster: Arc<Cluster>, mut stop: watch::Receiver<bool>) {
    let mut held: HashSet<RoomKey> = HashSet::new();
    let mut every = tokio::time::interval(HEARTBEAT);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        if !cluster.health.redis_up() {
            continue;
        }
        if let Err(error) = upkeep(&cluster, &mut held).await {
            tracing::warn!(%error, "cannot look after the rooms held here");
        }
    }
}

/// Claims the rooms held here (again, after Redis lost them) and gives up those another
/// node holds; takes over those whose home died meanwhile; frees those emptied; records
/// who is in those whose members changed or whose record Redis lost; asks the edges of its visitors whether their
/// sockets are still there; ends the tunnels of nodes that are gone; and subscribes again
/// if its subscription was lost without a word.
async fn upkeep(cluster: &Cluster, held: &mut HashSet<RoomKey>) -> Result<(), String> {
    let registry = &cluster.registry;
    let rooms: HashSet<RoomKey> = registry.room_keys().into_iter().collect();
    held.extend(
        cluster
            .claimed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain(),
    );
    let freed: Vec<RoomKey> = held.difference(&rooms).cloned().collect();
    let peers = cluster.bus.peers();
    let subscription = cluster.subscription.current();
    let mut pipeline = ::redis::pipe();
    pipeline
        .cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel(&cluster.id));
    let lease = LEASE.as_millis().to_string();
    for room in &rooms {
        pipeline.add_command(claim(room, &cluster.id));
    }
    for peer in &peers {
        pipeline.cmd("EXISTS").arg(node_key(peer));
    }
    for room in &rooms {
        pipeline.cmd("PEXPIRE").arg(members_key(room)).arg(&lease);
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
    let answers: Vec<::redis::Value> = cluster.redis.pipeline(&pipeline).await?;
    let mut answers = answers.into_iter();
    let listening = answers
        .next()
        .and_then(|answer| <(String, i64)>::from_redis_value(answer).ok())
        .is_some_and(|(_, subscribers)| subscribers > 0);
    if !listening {
        tracing::warn!("the node's subscription is gone: subscribing again");
        cluster.subscription.lost(subscription);
    }
    held.clear();
    for room in rooms.iter().cloned() {
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
    // A room held here whose record Redis no longer has (flushed, or evicted under
    // memory pressure) is recorded again now, not at its next change.
    let lost: Vec<RoomKey> = rooms
        .into_iter()
        .zip(answers)
        .filter(|(room, renewed)| {
            held.contains(room) && i64::from_redis_value(renewed.clone()).ok() == Some(0)
        })
        .map(|(room, _)| room)
        .collect();
    registry.mark_changed(lost);
    cluster.bus.probe();
    record(cluster, held).await
}

/// Records in Redis who is in each room held here whose members changed, and the room's
/// own state; what cannot be recorded now is tried again at the next upkeep.
async fn record(cluster: &Cluster, held: &HashSet<RoomKey>) -> Result<(), String> {
    let changed = cluster.registry.take_changed(|room| held.contains(room));
    if changed.is_empty() {
        return Ok(());
    }
    let mut pipeline = ::redis::pipe();
    for (room, state, records) in &changed {
        let key = members_key(room);
        pipeline.cmd("DEL").arg(&key).ignore();
        if records.is_empty() {
            continue;
        }
        let set = pipeline.cmd("HSET").arg(&key);
        let state = serde_json::to_string(state).map_err(|error| error.to_string())?;
        set.arg(ROOM_FIELD).arg(state);
        for record in records {
            let json = serde_json::to_string(record).map_err(|error| error.to_string())?;
            set.arg(&record.id.0).arg(json);
        }
        set.ignore();
        pipeline
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(LEASE.as_millis().to_string())
            .ignore();
    }
    let recorded = cluster.redis.pipeline::<()>(&pipeline).await;
    if recorded.is_err() {
        cluster
            .registry
            .mark_changed(changed.into_iter().map(|(room, _, _)| room));
    }
    recorded
}
