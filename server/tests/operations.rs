//! What an operator sees: `/healthz`, `/metrics`, on the main port or their own.

mod common;

use common::{TestServer, fetch, sample};
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
    let text = &metrics.body;
    assert_eq!(sample(text, "peercall_sockets"), Some(2.0), "{text}");
    assert_eq!(sample(text, "peercall_logins_total"), Some(2.0), "{text}");
    assert_eq!(sample(text, "peercall_relays_total"), Some(1.0), "{text}");
    assert_eq!(
        sample(text, "peercall_refusals_total{code=\"peer-unavailable\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(text, "peercall_turn_credentials_total"),
        Some(0.0),
        "no TURN: {text}"
    );
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
