//! Relayed call signals reach only their `to`, stamped by the server.

mod common;

use common::TestServer;
use serde_json::{Value, json};

/// A whole call, signal by signal: who sends it (alice: true) and what (minus `to`).
fn a_call() -> Vec<(bool, Value)> {
    vec![
        (true, json!({"type": "ring", "call": "call-1"})),
        (false, json!({"type": "accept", "call": "call-1"})),
        (
            true,
            json!({"type": "offer", "call": "call-1", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}),
        ),
        (
            false,
            json!({"type": "answer", "call": "call-1", "sdp": "v=0\r\n"}),
        ),
        (
            true,
            json!({"type": "candidate", "call": "call-1", "candidate": {
            "candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
            "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "abcd"}}),
        ),
        (
            false,
            json!({"type": "candidate", "call": "call-1", "candidate": null}),
        ),
        (false, json!({"type": "restart-ice", "call": "call-1"})),
        (
            true,
            json!({"type": "hangup", "call": "call-1", "reason": "no-answer"}),
        ),
        (false, json!({"type": "ring", "call": "call-2"})),
        (
            true,
            json!({"type": "decline", "call": "call-2", "reason": "busy"}),
        ),
        (true, json!({"type": "ring", "call": "call-3"})),
        (
            false,
            json!({"type": "decline", "call": "call-3", "reason": "declined"}),
        ),
        (false, json!({"type": "ring", "call": "call-4"})),
        (false, json!({"type": "hangup", "call": "call-4"})),
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

    let mut seqs = (0, 0);
    for (sent_seq, (by_alice, signal)) in (100..).zip(a_call()) {
        let (from, from_id, from_name, to, to_id, seq) = if by_alice {
            (
                &mut alice,
                &alice_id,
                "alice",
                &mut bob,
                &bob_id,
                &mut seqs.1,
            )
        } else {
            (&mut bob, &bob_id, "bob", &mut alice, &alice_id, &mut seqs.0)
        };
        let mut sent = signal.clone();
        sent["to"] = json!(to_id);
        // A forged sender and name must not survive, and the sender's own numbering is
        // its own: the recipient's numbers are the recipient's.
        sent["from"] = json!(carol_id);
        sent["name"] = json!("carol");
        sent["seq"] = json!(sent_seq);
        from.send(sent).await;

        *seq += 1;
        let mut expected = signal;
        expected["from"] = json!(from_id);
        expected["name"] = json!(from_name);
        expected["seq"] = json!(*seq);
        assert_eq!(to.recv().await, expected);
    }

    // Nothing above went to carol or back to its sender: the first thing each of them
    // gets now is the marker sent after all of it through the same sockets.
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
    let (mut alice, alice_id, _) = server.login("alice").await;
    let (mut bob, bob_id, _) = server.login("bob").await;
    alice.expect("peer-joined").await;
    let call = alice.call(&alice_id, &mut bob, &bob_id).await;
    let empty = json!({"type": "offer", "to": bob_id, "call": call, "sdp": ""}).to_string();
    let sdp = "a".repeat(64 * 1024 - empty.len());
    let frame = json!({"type": "offer", "to": bob_id, "call": call, "sdp": sdp}).to_string();
    assert_eq!(frame.len(), 64 * 1024);
    alice.send_text(&frame).await;
    assert_eq!(
        bob.expect("offer").await["sdp"].as_str().unwrap().len(),
        sdp.len()
    );
    server.stop().await;
}
