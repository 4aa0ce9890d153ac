//! The server's call registry: signals of a call pass only between its two members, and
//! every one of them carries the call's id.

mod common;

use common::TestServer;
use serde_json::json;

#[tokio::test]
async fn negotiation_outside_an_accepted_call_is_refused_and_never_reaches_anyone() {
    let server = TestServer::start().await;
    let (mut alice, alice_id, _) = server.login("alice").await;
    let (mut bob, bob_id, _) = server.login("bob").await;
    alice.expect("peer-joined").await;
    let negotiation = [
        json!({"type": "offer", "to": bob_id, "sdp": "v=0\r\n"}),
        json!({"type": "answer", "to": bob_id, "sdp": "v=0\r\n"}),
        json!({"type": "candidate", "to": bob_id, "candidate": null}),
        json!({"type": "restart-ice", "to": bob_id}),
        json!({"type": "accept", "to": bob_id}),
        json!({"type": "hangup", "to": bob_id}),
    ];
    // Nobody rang: nothing of a call passes.
    for frame in &negotiation {
        alice.send(frame.clone()).await;
        let refusal = alice.expect_error("not-in-call").await;
        assert_eq!(refusal["to"], bob_id);
        // The signal named no call, and neither does its refusal.
        assert_eq!(refusal.get("call"), None, "{refusal}");
    }
    // Ringing is not accepted yet: still nothing but the ring and its answer.
    alice.send(json!({"type": "ring", "to": bob_id})).await;
    let call = bob.expect("ring").await["call"].clone();
    for frame in &negotiation[..4] {
        alice.send(frame.clone()).await;
        alice.expect_error("not-in-call").await;
    }
    // The caller cannot accept its own call.
    alice
        .send(json!({"type": "accept", "to": bob_id, "call": call}))
        .await;
    alice.expect_error("not-in-call").await;
    // Accepted: the offer goes through; hung up: nothing more does.
    bob.send(json!({"type": "accept", "to": alice_id, "call": call}))
        .await;
    alice.expect("accept").await;
    alice.send(negotiation[0].clone()).await;
    assert_eq!(bob.expect("offer").await["call"], call);
    bob.send(json!({"type": "hangup", "to": alice_id})).await;
    assert_eq!(alice.expect("hangup").await["call"], call);
    alice.send(negotiation[2].clone()).await;
    alice.expect_error("not-in-call").await;
    // Bob saw only the ring, the offer: its next frame is this marker.
    alice.send(json!({"type": "ring", "to": bob_id})).await;
    assert_ne!(bob.expect("ring").await["call"], call);
    server.stop().await;
}

#[tokio::test]
async fn a_third_user_cannot_push_offers_into_someone_elses_call() {
    let server = TestServer::start().await;
    let (mut alice, alice_id, _) = server.login("alice").await;
    let (mut bob, bob_id, _) = server.login("bob").await;
    let (mut mallory, _, _) = server.login("mallory").await;
    alice.expect("peer-joined").await;
    alice.expect("peer-joined").await;
    bob.expect("peer-joined").await;
    let call = alice.call(&alice_id, &mut bob, &bob_id).await;
    // Knowing the call's id is not enough.
    for frame in [
        json!({"type": "offer", "to": bob_id, "call": call, "sdp": "v=0\r\n"}),
        json!({"type": "candidate", "to": bob_id, "call": call, "candidate": null}),
        json!({"type": "hangup", "to": bob_id, "call": call}),
        json!({"type": "accept", "to": bob_id, "call": call}),
    ] {
        mallory.send(frame).await;
        mallory.expect_error("not-in-call").await;
    }
    // A call id in use cannot be rung again.
    mallory
        .send(json!({"type": "ring", "to": bob_id, "call": call}))
        .await;
    mallory.expect_error("bad-request").await;
    alice
        .send(json!({"type": "offer", "to": bob_id, "call": call, "sdp": "v=0\r\n"}))
        .await;
    let offer = bob.recv().await;
    assert_eq!(
        (offer["type"].as_str(), offer["from"].as_str()),
        (Some("offer"), Some(alice_id.as_str()))
    );
    server.stop().await;
}

#[tokio::test]
async fn a_late_answer_of_an_earlier_call_does_not_touch_the_current_one() {
    let server = TestServer::start().await;
    let (mut alice, alice_id, _) = server.login("alice").await;
    let (mut bob, bob_id, _) = server.login("bob").await;
    alice.expect("peer-joined").await;
    // Alice rings, cancels and rings again before bob's accept of the first reaches her.
    alice
        .send(json!({"type": "ring", "to": bob_id, "call": "first"}))
        .await;
    alice
        .send(json!({"type": "hangup", "to": bob_id, "call": "first"}))
        .await;
    alice
        .send(json!({"type": "ring", "to": bob_id, "call": "second"}))
        .await;
    assert_eq!(bob.expect("ring").await["call"], "first");
    assert_eq!(bob.expect("hangup").await["call"], "first");
    assert_eq!(bob.expect("ring").await["call"], "second");
    // Bob's answer to the first ring comes too late. Its refusal names the call, so that
    // bob tells it from a refusal of the second.
    bob.send(json!({"type": "accept", "to": alice_id, "call": "first"}))
        .await;
    let refusal = bob.expect_error("not-in-call").await;
    assert_eq!(
        (&refusal["to"], &refusal["call"]),
        (&json!(alice_id), &json!("first"))
    );
    // The second call is ringing still: the late accept did not make it live.
    alice
        .send(json!({"type": "offer", "to": bob_id, "call": "second", "sdp": "v=0\r\n"}))
        .await;
    alice.expect_error("not-in-call").await;
    bob.send(json!({"type": "accept", "to": alice_id, "call": "second"}))
        .await;
    assert_eq!(alice.expect("accept").await["call"], "second");
    server.stop().await;
}

#[tokio::test]
async fn crossed_rings_become_one_call() {
    let server = TestServer::start().await;
    let (mut alice, alice_id, _) = server.login("alice").await;
    let (mut bob, bob_id, _) = server.login("bob").await;
    alice.expect("peer-joined").await;
    alice
        .send(json!({"type": "ring", "to": bob_id, "call": "from-alice"}))
        .await;
    bob.send(json!({"type": "ring", "to": alice_id, "call": "from-bob"}))
        .await;
    bob.expect("ring").await;
    alice.expect("ring").await;
    // One side yields and takes the other's call.
    alice
        .send(json!({"type": "accept", "to": bob_id, "call": "from-bob"}))
        .await;
    bob.expect("accept").await;
    // The other ring is over: it cannot be accepted any more.
    bob.send(json!({"type": "accept", "to": alice_id, "call": "from-alice"}))
        .await;
    assert_eq!(bob.expect_error("not-in-call").await["call"], "from-alice");
    bob.send(json!({"type": "offer", "to": alice_id, "call": "from-bob", "sdp": "v=0\r\n"}))
        .await;
    assert_eq!(alice.expect("offer").await["call"], "from-bob");
    server.stop().await;
}

#[tokio::test]
async fn leaving_ends_ones_calls() {
    let server = TestServer::start().await;
    let (mut alice, alice_id, _) = server.login("alice").await;
    let (mut bob, bob_id, _) = server.login("bob").await;
    alice.expect("peer-joined").await;
    let call = alice.call(&alice_id, &mut bob, &bob_id).await;
    bob.close().await;
    alice.expect("peer-left").await;
    let (mut bob, bob_id, _) = server.login("bob").await;
    alice.expect("peer-joined").await;
    alice
        .send(json!({"type": "offer", "to": bob_id, "call": call, "sdp": "v=0\r\n"}))
        .await;
    alice.expect_error("not-in-call").await;
    bob.send(json!({"type": "ping"})).await;
    bob.expect("pong").await;
    server.stop().await;
}

#[tokio::test]
async fn late_candidates_of_an_ended_call_are_refused_without_closing_the_socket() {
    let server = TestServer::start().await;
    let (mut alice, alice_id, _) = server.login("alice").await;
    let (mut bob, bob_id, _) = server.login("bob").await;
    alice.expect("peer-joined").await;
    let call = alice.call(&alice_id, &mut bob, &bob_id).await;
    bob.send(json!({"type": "hangup", "to": alice_id, "call": call}))
        .await;
    alice.expect("hangup").await;
    // A browser trickles on for a moment after a call ends, and in a room call whose
    // members come and go that adds up: far more than the refusals that close a socket.
    for _ in 0..100 {
        alice
            .send(json!({"type": "candidate", "to": bob_id, "call": call, "candidate": null}))
            .await;
        alice.expect_error("not-in-call").await;
    }
    alice.send(json!({"type": "ping"})).await;
    alice.expect("pong").await;
    server.stop().await;
}

#[tokio::test]
async fn a_ring_past_the_four_a_caller_may_have_ends_the_oldest_at_its_callee() {
    let server = TestServer::start().await;
    let (mut alice, alice_id, _) = server.login("alice").await;
    let mut callees = Vec::new();
    for name in ["bob", "carol", "dave", "erin", "frank"] {
        let (callee, id, _) = server.login(name).await;
        alice.expect("peer-joined").await;
        for (earlier, _) in &mut callees {
            let earlier: &mut common::Client = earlier;
            earlier.expect("peer-joined").await;
        }
        callees.push((callee, id));
    }
    for (n, (callee, id)) in callees.iter_mut().enumerate() {
        let call = format!("call-{n}");
        alice
            .send(json!({"type": "ring", "to": id, "call": call}))
            .await;
        assert_eq!(callee.expect("ring").await["call"], call);
    }
    // The fifth ring ended the first: bob hears it end as if alice had cancelled it,
    // instead of ringing on for a call that can no longer be taken.
    let (bob, _) = &mut callees[0];
    let hangup = bob.expect("hangup").await;
    assert_eq!(
        (&hangup["from"], &hangup["call"]),
        (&json!(alice_id), &json!("call-0"))
    );
    bob.send(json!({"type": "accept", "to": alice_id, "call": "call-0"}))
        .await;
    bob.expect_error("not-in-call").await;
    // The other four ring on, told nothing: carol takes hers.
    for (callee, _) in &mut callees[1..] {
        callee.send(json!({"type": "ping"})).await;
        callee.expect("pong").await;
    }
    let (carol, _) = &mut callees[1];
    carol
        .send(json!({"type": "accept", "to": alice_id, "call": "call-1"}))
        .await;
    assert_eq!(alice.expect("accept").await["call"], "call-1");
    server.stop().await;
}
