//! The bus's way through Redis: one publisher per node, in order and pipelined, and one
//! subscription to the node's own channel, made again whenever it is lost.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use futures_util::{FutureExt, StreamExt};
use tokio::sync::{Notify, watch};

use super::redis::{PATIENCE, Redis};
use crate::tunnel::{Bus, Publications, channel};

/// Messages the publisher sends in one pipeline at most.
const PUBLISH_BATCH: usize = 512;

/// Bytes the publisher sends in one pipeline at most (one message may pass it alone): a
/// pipeline of large frames is not to take Redis longer than its patience.
const PUBLISH_BATCH_BYTES: usize = 1024 * 1024;

/// How long the listener waits before subscribing again after a loss.
const AGAIN_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Sends what the bus queued, in order, pipelined, on a connection of its own; a node that
/// nobody listens for any more is gone, and a failure cuts every tunnel.
pub async fn publish(
    redis: Redis,
    mut publications: Publications,
    bus: Arc<Bus>,
    mut quit: watch::Receiver<bool>,
) {
    loop {
        let first = tokio::select! {
            // What is queued still goes out after the node has left.
            biased;
            first = publications.queue.recv() => first,
            _ = quit.wait_for(|quit| *quit) => None,
        };
        let Some(first) = first else {
            return;
        };
        let mut bytes = first.payload.len();
        let mut batch = vec![first];
        while batch.len() < PUBLISH_BATCH && bytes < PUBLISH_BATCH_BYTES {
            let Ok(next) = publications.queue.try_recv() else {
                break;
            };
            bytes += next.payload.len();
            batch.push(next);
        }
        let mut pipeline = redis::pipe();
        for outgoing in &batch {
            pipeline
                .cmd("PUBLISH")
                .arg(channel(&outgoing.to))
                .arg(&outgoing.payload);
        }
        let sent = redis.pipeline::<Vec<i64>>(&pipeline).await;
        publications.sent(bytes);
        match sent {
            Ok(listeners) => {
                let unheard: HashSet<String> = batch
                    .into_iter()
                    .zip(listeners)
                    .filter(|(_, listeners)| *listeners == 0)
                    .map(|(outgoing, _)| outgoing.to)
                    .collect();
                bus.unreachable(unheard);
            }
            Err(error) => {
                tracing::warn!(%error, "cannot publish to other nodes: tunnels closed");
                bus.cut();
            }
        }
    }
}

/// The node's subscription to its channel, as the upkeep checks it: which one it is, and
/// the word that it is gone.
#[derive(Default)]
pub struct Subscription {
    /// How many times it was made.
    made: AtomicU64,
    gone: Notify,
}

impl Subscription {
    /// Which one is up (or being made): what the upkeep checks it under.
    pub fn current(&self) -> u64 {
        self.made.load(Ordering::Acquire)
    }

    /// The subscription `current` was, when the upkeep asked, is gone: the listener makes
    /// it again, unless it made a new one since.
    pub fn lost(&self, current: u64) {
        if self.current() == current {
            self.gone.notify_one();
        }
    }
}

/// Listens on the node's channel, again after every loss, and whenever `subscription`
/// says it is gone though its stream did not end; a loss cuts every tunnel.
pub async fn listen(
    client: redis::Client,
    bus: Arc<Bus>,
    channel: String,
    subscription: Arc<Subscription>,
    mut quit: watch::Receiver<bool>,
) {
    loop {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            redis::RedisResult::Ok(pubsub)
        };
        if let Ok(Ok(pubsub)) = tokio::time::timeout(PATIENCE, subscribed).await {
            // A loss the upkeep saw while this was away is over now: subscribed again,
            // a word left from then would only end this subscription too, and so would
            // the answer to a check it sent before this one was made.
            subscription.made.fetch_add(1, Ordering::AcqRel);
            let _ = subscription.gone.notified().now_or_never();
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
                    () = subscription.gone.notified() => break,
                    _ = quit.wait_for(|quit| *quit) => return,
                }
            }
            bus.cut();
        }
        tokio::select! {
            () = tokio::time::sleep(AGAIN_AFTER) => {}
            _ = quit.wait_for(|quit| *quit) => return,
        }
    }
}
