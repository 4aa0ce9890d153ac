//! What an operator sees: `/healthz`, `/metrics`, on the main port or their own.

mod common;

use common::{TestServer, fetch};
use serde_json::json;

#[tokio::test]
async fn health_and_metrics_count_what_happened() {
    let server = TestServer::start().await;
    let health = fetch(server.addr, "/healthz").await;
    assert_eq!((health.status, health.body.trim()), (200, "ok"));

    let (mut alice, _, _) = server.login("alice").await;
    let (_bob, bob_id, _) = server.login("bob").await;
    alice.expect("peer-joined").await;
    alice.send(json!({"type": "ring", "to": bob_id})).await;
    alice.send(json!({"type": "ring", "to": "nobody"})).await;
    alice.expect_error("peer-unavailable").await;

    let metrics = fetch(server.addr, "/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|kind| kind.starts_with("application/openmetrics-text")),
        "{:?}",
        metrics.header("content-type")
    );
    // Counted where each happened: summed over the nodes of a cluster.
    for (name, count) in [
        ("peercall_sockets", 2.0),
        ("peercall_logins_total", 2.0),
        ("peercall_relays_total", 1.0),
        ("peercall_refusals_total{code=\"peer-unavailable\"}", 1.0),
        ("peercall_turn_credentials_total", 0.0),
    ] {
        assert_eq!(server.metric(name).await, Some(count), "{name}");
    }
    server.stop().await;
}

#[tokio::test]
async fn metrics_can_live_on_their_own_address() {
    let metrics_addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let server = TestServer::start_with(|config| config.metrics_addr = Some(metrics_addr)).await;
    assert_eq!(fetch(metrics_addr, "/healthz").await.status, 200);
    assert_eq!(fetch(metrics_addr, "/metrics").await.status, 200);
    assert_eq!(
        fetch(server.addr, "/metrics").await.status,
        404,
        "not on the public port"
    );
    server.stop().await;
}
