//! A node of a cluster: it announces itself in Redis with a heartbeat that lapses, says
//! on `/healthz` and `/metrics` when Redis is away while it goes on serving its users,
//! rejoins when Redis is back, and says goodbye when it stops.

mod common;

use std::time::{Duration, Instant};

use common::{
    PATIENCE, TestServer, fetch, process::free_tcp_port, redis::Redis, sample, until_health,
};
use serde_json::json;

/// Waits until Redis holds `count` node keys, each with a time to live.
async fn until_nodes(redis: &Redis, count: usize) -> Vec<(String, i64)> {
    let started = Instant::now();
    loop {
        let nodes = redis.keys("peercall:node:*").await;
        if nodes.len() == count {
            for (key, ttl) in &nodes {
                assert!((1..=4_000).contains(ttl), "{key} lapses: {ttl} ms left");
            }
            return nodes;
        }
        assert!(started.elapsed() < PATIENCE, "nodes in Redis: {nodes:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_node_keeps_serving_while_redis_is_away_and_rejoins_when_it_is_back() {
    let port = free_tcp_port();
    let redis = Redis::start(port);
    let url = redis.url();
    let server = TestServer::start_with(|config| config.redis_url = Some(url)).await;
    until_health(&server, "ok\n").await;
    let nodes = until_nodes(&redis, 1).await;
    let text = fetch(server.addr, "/metrics").await.body;
    assert_eq!(sample(&text, "peercall_redis_up"), Some(1.0));

    // Redis goes away: the node says so, and its users are served all the same.
    drop(redis);
    until_health(&server, "degraded: Redis is away\n").await;
    let text = fetch(server.addr, "/metrics").await.body;
    assert_eq!(sample(&text, "peercall_redis_up"), Some(0.0));
    let (mut alice, _, _) = server.login("alice").await;
    let (mut bob, bob_id, _) = server.login("bob").await;
    alice.expect("peer-joined").await;
    alice
        .send(json!({"type": "ring", "to": bob_id, "call": "c1"}))
        .await;
    let ring = bob.expect("ring").await;
    assert_eq!(ring["call"], "c1");

    // Redis is back on its port: the node rejoins by itself, under the same name.
    let redis = Redis::start(port);
    until_health(&server, "ok\n").await;
    let again = until_nodes(&redis, 1).await;
    assert_eq!(again[0].0, nodes[0].0, "the same node");

    // Stopped, the node says goodbye rather than wait for its key to lapse.
    server.stop().await;
    assert_eq!(redis.keys("peercall:node:*").await, Vec::new());
}

#[tokio::test]
async fn a_node_that_cannot_reach_redis_at_start_serves_alone_and_says_so() {
    let port = free_tcp_port();
    let url = format!("redis://127.0.0.1:{port}/");
    let server = TestServer::start_with(|config| config.redis_url = Some(url)).await;
    until_health(&server, "degraded: Redis is away\n").await;
    let (_alice, _, _) = server.login("alice").await;
    let redis = Redis::start(port);
    until_health(&server, "ok\n").await;
    until_nodes(&redis, 1).await;
}
