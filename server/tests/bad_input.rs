//! Bad input costs its sender an error, and nobody else anything.

mod common;

use common::TestServer;
use serde_json::json;

#[tokio::test]
async fn messages_before_login_are_refused() {
    let server = TestServer::start().await;
    let (_, bob_id, _) = server.login("bob").await;
    let mut client = server.client().await;
    client.send(json!({"type": "ring", "to": bob_id})).await;
    client.expect_error("not-logged-in").await;
    client.send(json!({"type": "hangup", "to": bob_id})).await;
    client.expect_error("not-logged-in").await;
    // Still welcome to log in afterwards.
    client.login("alice").await;
    server.stop().await;
}

#[tokio::test]
async fn malformed_frames_get_bad_request_and_the_socket_keeps_working() {
    let server = TestServer::start().await;
    let (mut alice, _, _) = server.login("alice").await;
    let (mut bob, bob_id, _) = server.login("bob").await;
    alice.expect("peer-joined").await;
    let bad_frames = [
        "this is not JSON".to_owned(),
        "[1, 2, 3]".to_owned(),
        json!({"to": bob_id}).to_string(),
        json!({"type": "teleport", "to": bob_id}).to_string(),
        json!({"type": "offer", "to": bob_id, "sdp": 42}).to_string(),
        json!({"type": "offer", "to": bob_id}).to_string(),
        json!({"type": "ring", "to": 7}).to_string(),
        json!({"type": "decline", "to": bob_id, "reason": "bored"}).to_string(),
        json!({"type": "candidate", "to": bob_id, "candidate": "a string"}).to_string(),
        json!({"type": "login", "name": "alice-again"}).to_string(),
        json!({"type": "ring", "to": bob_id, "call": "no spaces/or slashes"}).to_string(),
        json!({"type": "ring", "to": bob_id, "call": "c".repeat(65)}).to_string(),
        json!({"type": "hangup", "to": bob_id, "reason": "r".repeat(65)}).to_string(),
        json!({"type": "ack", "seq": -1}).to_string(),
        json!({"type": "ack", "seq": "7"}).to_string(),
    ];
    for frame in &bad_frames {
        alice.send_text(frame).await;
        alice.expect_error("bad-request").await;
    }
    alice.send_binary(b"{\"type\":\"ring\"}".to_vec()).await;
    alice.expect_error("bad-request").await;

    // The same connection still works, and bob saw none of it.
    alice.send(json!({"type": "ring", "to": bob_id})).await;
    assert_eq!(bob.expect("ring").await["name"], "alice");
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_frame_closes_only_that_socket_with_1009() {
    let server = TestServer::start().await;
    let (mut alice, alice_id, _) = server.login("alice").await;
    let (mut bob, bob_id, _) = server.login("bob").await;
    let (mut carol, carol_id, _) = server.login("carol").await;
    bob.expect("peer-joined").await; // carol
    alice.expect("peer-joined").await; // bob
    alice.expect("peer-joined").await; // carol

    alice.call(&alice_id, &mut bob, &bob_id).await;
    let sdp = "a".repeat(65 * 1024);
    alice
        .send(json!({"type": "offer", "to": bob_id, "sdp": sdp}))
        .await;
    let close = alice.expect_close().await;
    assert_eq!(u16::from(close.code), 1009);

    // Everyone else carries on, and sees alice leave.
    assert_eq!(bob.expect("peer-left").await["id"], alice_id);
    assert_eq!(carol.expect("peer-left").await["id"], alice_id);
    bob.send(json!({"type": "ring", "to": carol_id})).await;
    assert_eq!(carol.expect("ring").await["from"], bob_id);
    server.stop().await;
}

#[tokio::test]
async fn a_frame_past_the_hard_limit_is_refused_too() {
    let server = TestServer::start().await;
    let (mut alice, _, _) = server.login("alice").await;
    let (mut bob, bob_id, _) = server.login("bob").await;
    alice.send_text(&"x".repeat(1024 * 1024)).await;
    // The socket either says 1009 or drops: either way alice is gone and bob is fine.
    assert_eq!(bob.expect("peer-left").await["type"], "peer-left");
    let (_carol, _, peers) = server.login("carol").await;
    assert_eq!(peers, vec![json!({"id": bob_id, "name": "bob"})]);
    bob.expect("peer-joined").await; // carol
    bob.send(json!({"type": "hangup", "to": "gone"})).await;
    bob.expect_error("peer-unavailable").await;
    server.stop().await;
}
