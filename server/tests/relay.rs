//! Relayed call signals reach only their `to`, stamped by the server.

mod common;

use common::TestServer;
use serde_json::{Value, json};

/// Each relayed type with its payload fields, as a client sends it (minus `to`).
fn signals() -> Vec<Value> {
    vec![
        json!({"type": "ring"}),
        json!({"type": "accept"}),
        json!({"type": "decline", "reason": "busy"}),
        json!({"type": "decline", "reason": "declined"}),
        json!({"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}),
        json!({"type": "answer", "sdp": "v=0\r\n"}),
        json!({"type": "candidate", "candidate": {
            "candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
            "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "abcd"}}),
        json!({"type": "candidate", "candidate": null}),
        json!({"type": "hangup"}),
        json!({"type": "hangup", "reason": "no-answer"}),
    ]
}

#[tokio::test]
async fn every_signal_reaches_only_its_recipient_stamped_with_the_sender() {
    let server = TestServer::start().await;
    let (mut alice, alice_id, _) = server.login("alice").await;
    let (mut bob, bob_id, _) = server.login("bob").await;
    let (mut carol, carol_id, _) = server.login("carol").await;
    alice.expect("peer-joined").await;
    alice.expect("peer-joined").await;
    bob.expect("peer-joined").await;

    for signal in signals() {
        let mut sent = signal.clone();
        sent["to"] = json!(bob_id);
        // A forged sender and name must not survive.
        sent["from"] = json!(carol_id);
        sent["name"] = json!("carol");
        alice.send(sent).await;

        let mut expected = signal;
        expected["from"] = json!(alice_id);
        expected["name"] = json!("alice");
        assert_eq!(bob.recv().await, expected);
    }

    // Nothing above went to carol or back to alice: the first thing each of them gets now
    // is the marker sent after all of it through the same sockets.
    bob.send(json!({"type": "ring", "to": carol_id})).await;
    assert_eq!(carol.expect("ring").await["from"], bob_id);
    bob.send(json!({"type": "ring", "to": alice_id})).await;
    assert_eq!(alice.expect("ring").await["from"], bob_id);
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_recipient_is_reported_with_its_id() {
    let server = TestServer::start().await;
    let (mut alice, _, _) = server.login("alice").await;
    alice.send(json!({"type": "hangup", "to": "nobody"})).await;
    let error = alice.expect_error("peer-unavailable").await;
    assert_eq!(error["to"], "nobody");
    server.stop().await;
}

#[tokio::test]
async fn a_recipient_who_left_is_unavailable() {
    let server = TestServer::start().await;
    let (mut alice, _, _) = server.login("alice").await;
    let (bob, bob_id, _) = server.login("bob").await;
    alice.expect("peer-joined").await;
    bob.close().await;
    alice.expect("peer-left").await;
    alice.send(json!({"type": "ring", "to": bob_id})).await;
    assert_eq!(alice.expect_error("peer-unavailable").await["to"], bob_id);
    server.stop().await;
}

#[tokio::test]
async fn a_frame_of_exactly_64_kib_is_relayed() {
    let server = TestServer::start().await;
    let (mut alice, _, _) = server.login("alice").await;
    let (mut bob, bob_id, _) = server.login("bob").await;
    let empty = json!({"type": "offer", "to": bob_id, "sdp": ""}).to_string();
    let sdp = "a".repeat(64 * 1024 - empty.len());
    let frame = json!({"type": "offer", "to": bob_id, "sdp": sdp}).to_string();
    assert_eq!(frame.len(), 64 * 1024);
    alice.send_text(&frame).await;
    assert_eq!(
        bob.expect("offer").await["sdp"].as_str().unwrap().len(),
        sdp.len()
    );
    server.stop().await;
}
