//! Delivery of call signals: numbered per session, kept until acknowledged, replayed after
//! a resume, bounded in bytes for each recipient and each sender.

mod common;

use common::{Client, TestServer};
use serde_json::{Value, json};

/// Logs `name` in as a client that acknowledges (its login carries `ack`); returns the
/// client, its id and its resume token.
async fn login(server: &TestServer, name: &str) -> (Client, String, String) {
    let mut client = server.client().await;
    let (welcome, _) = client
        .login_with(json!({"type": "login", "name": name, "ack": 0}))
        .await;
    let token = welcome["resume"].as_str().unwrap().to_owned();
    (client, welcome["id"].as_str().unwrap().to_owned(), token)
}

/// Logs `name` in again with `token`, having handled up to `ack`.
async fn resume(server: &TestServer, name: &str, token: &str, ack: u64) -> Client {
    let mut client = server.client().await;
    client
        .login_with(json!({"type": "login", "name": name, "resume": token, "ack": ack}))
        .await;
    client
}

fn offer(to: &str, call: &str, sdp: &str) -> Value {
    json!({"type": "offer", "to": to, "call": call, "sdp": sdp})
}

#[tokio::test]
async fn what_was_not_acknowledged_is_replayed_after_a_resume_and_only_that() {
    let server = TestServer::start_with(|c| c.resume_grace_ms = 10_000).await;
    let (mut alice, alice_id, token) = login(&server, "alice").await;
    let (mut bob, bob_id, _) = login(&server, "bob").await;
    alice.expect("peer-joined").await;
    let call = bob.call(&bob_id, &mut alice, &alice_id).await;
    // Alice handled the ring (seq 1) and says so; two offers reach her socket, but she
    // acknowledges only the first before it dies unnoticed.
    alice.send(json!({"type": "ack", "seq": 1})).await;
    bob.send(offer(&alice_id, &call, "one")).await;
    assert_eq!(alice.expect("offer").await["seq"], 2);
    bob.send(offer(&alice_id, &call, "two")).await;
    assert_eq!(alice.expect("offer").await["seq"], 3);
    alice.send(json!({"type": "ack", "seq": 2})).await;
    alice.send(json!({"type": "ping"})).await;
    alice.expect("pong").await;
    drop(alice);
    // While she is away another comes.
    bob.send(offer(&alice_id, &call, "three")).await;

    // Back, having handled up to 2 (the ack of 3 never left): 3 and 4, in order.
    let mut alice = resume(&server, "alice", &token, 2).await;
    let replayed: Vec<(Value, Value)> = [alice.expect("offer").await, alice.expect("offer").await]
        .into_iter()
        .map(|frame| (frame["seq"].clone(), frame["sdp"].clone()))
        .collect();
    assert_eq!(
        replayed,
        vec![(json!(3), json!("two")), (json!(4), json!("three"))]
    );
    // Acknowledged now: a second resume replays nothing, and numbers go on.
    alice.send(json!({"type": "ack", "seq": 4})).await;
    alice.send(json!({"type": "ping"})).await;
    alice.expect("pong").await;
    drop(alice);
    let mut alice = resume(&server, "alice", &token, 4).await;
    bob.send(offer(&alice_id, &call, "five")).await;
    let next = alice.expect("offer").await;
    assert_eq!(
        (next["seq"].clone(), next["sdp"].clone()),
        (json!(5), json!("five"))
    );
    server.stop().await;
}

#[tokio::test]
async fn an_away_user_gets_its_call_signals_but_no_stale_presence() {
    let server = TestServer::start_with(|c| c.resume_grace_ms = 10_000).await;
    let (alice, alice_id, token) = login(&server, "alice").await;
    let (mut bob, bob_id, _) = login(&server, "bob").await;
    drop(alice);
    // Carol comes and goes while alice is away; bob rings her.
    let (carol, _, _) = server.login("carol").await;
    bob.expect("peer-joined").await;
    carol.close().await;
    bob.expect("peer-left").await;
    bob.send(json!({"type": "ring", "to": alice_id})).await;
    bob.send(json!({"type": "ping"})).await;
    bob.expect("pong").await;

    let mut client = server.client().await;
    let (_, peers) = client
        .login_with(json!({"type": "login", "name": "alice", "resume": token, "ack": 0}))
        .await;
    // The fresh list says who is here; the ring follows at once, and nothing of carol.
    assert_eq!(peers, vec![json!({"id": bob_id, "name": "bob"})]);
    assert_eq!(client.expect("ring").await["from"], bob_id);
    client.send(json!({"type": "ping"})).await;
    client.expect("pong").await;
    server.stop().await;
}

#[tokio::test]
async fn one_sender_cannot_fill_what_waits_for_someone_away() {
    // 32 KiB kept for each user, 8 KiB of it from any one sender; rates high enough that
    // only that bound refuses anything.
    let server = TestServer::start_with(|c| {
        c.resume_grace_ms = 10_000;
        c.backlog_bytes = 32 * 1024;
        c.rate_limit_factor = 100.0;
    })
    .await;
    let (victim, victim_id, token) = login(&server, "victim").await;
    let (mut mallory, _, _) = server.login("mallory").await;
    let (mut alice, alice_id, _) = server.login("alice").await;
    mallory.expect("peer-joined").await;
    drop(victim);
    let mut delivered = 0;
    let refusal = loop {
        mallory
            .send(json!({"type": "ring", "to": victim_id, "call": format!("junk-{delivered}")}))
            .await;
        mallory.send(json!({"type": "ping"})).await;
        let frame = mallory.recv().await;
        if frame["type"] == "error" {
            mallory.expect("pong").await;
            break frame;
        }
        assert_eq!(frame["type"], "pong");
        delivered += 1;
        assert!(delivered < 100, "mallory's rings are never refused");
    };
    assert_eq!(refusal["code"], "rate-limited");
    assert_eq!(refusal["to"], victim_id);
    // Alice's ring still finds room, and the victim gets everything on its return:
    // mallory's rings that were taken, then alice's.
    alice
        .send(json!({"type": "ring", "to": victim_id, "call": "real"}))
        .await;
    alice.send(json!({"type": "ping"})).await;
    alice.expect("pong").await;
    let mut victim = resume(&server, "victim", &token, 0).await;
    for _ in 0..delivered {
        assert_eq!(victim.expect("ring").await["name"], "mallory");
    }
    let real = victim.expect("ring").await;
    assert_eq!(
        (real["from"].as_str(), real["call"].as_str()),
        (Some(alice_id.as_str()), Some("real"))
    );
    server.stop().await;
}

#[tokio::test]
async fn a_sender_is_held_back_once_its_share_waits_unacknowledged() {
    // 256 KiB kept for each user, 64 KiB of it from any one sender.
    let server = TestServer::start_with(|c| {
        c.backlog_bytes = 256 * 1024;
        c.rate_limit_factor = 1_000.0;
    })
    .await;
    let (mut victim, victim_id, _) = login(&server, "victim").await;
    let (mut sender, sender_id, _) = login(&server, "sender").await;
    victim.expect("peer-joined").await;
    let call = sender.call(&sender_id, &mut victim, &victim_id).await;
    let sdp = "v".repeat(20_000);
    let mut taken = 0;
    let refusal = loop {
        sender.send(offer(&victim_id, &call, &sdp)).await;
        sender.send(json!({"type": "ping"})).await;
        let frame = sender.recv().await;
        if frame["type"] == "error" {
            sender.expect("pong").await;
            break frame;
        }
        taken += 1;
    };
    assert_eq!(taken, 3, "three offers of 20 KB fit in a share of 64 KiB");
    assert_eq!(
        (refusal["code"].as_str(), refusal["to"].as_str()),
        (Some("rate-limited"), Some(victim_id.as_str()))
    );
    // The victim reads them and acknowledges: the sender may go on.
    let mut last = 0;
    for _ in 0..taken {
        last = victim.expect("offer").await["seq"].as_u64().unwrap();
    }
    victim.send(json!({"type": "ack", "seq": last})).await;
    victim.send(json!({"type": "ping"})).await;
    victim.expect("pong").await;
    sender.send(offer(&victim_id, &call, "again")).await;
    assert_eq!(victim.expect("offer").await["sdp"], "again");
    server.stop().await;
}

#[tokio::test]
async fn a_call_outlives_a_server_restart_once_both_sides_say_so() {
    let secret = |c: &mut peercall_server::Config| {
        c.resume_secret = Some("s3cret-s3cret-s3cret-s3cret-s3cret".into());
        c.resume_grace_ms = 10_000;
    };
    let first = TestServer::start_with(secret).await;
    let (mut alice, alice_id, alice_token) = login(&first, "alice").await;
    let (mut bob, bob_id, bob_token) = login(&first, "bob").await;
    let (_mallory, _, mallory_token) = login(&first, "mallory").await;
    alice.expect("peer-joined").await;
    alice.expect("peer-joined").await;
    bob.expect("peer-joined").await;
    let call = alice.call(&alice_id, &mut bob, &bob_id).await;
    first.stop().await;

    let second = TestServer::start_with(secret).await;
    let claim = |name: &str, token: &str, with: &str| json!({"type": "login", "name": name, "resume": token, "ack": 1, "call": call, "with": with});
    let mut alice = second.client().await;
    alice
        .login_with(claim("alice", &alice_token, &bob_id))
        .await;
    // Mallory claims a call with bob too, under the same id: bob never says so.
    let mut mallory = second.client().await;
    mallory
        .login_with(claim("mallory", &mallory_token, &bob_id))
        .await;
    alice.expect("peer-joined").await;
    let mut bob = second.client().await;
    bob.login_with(claim("bob", &bob_token, &alice_id)).await;
    alice.expect("peer-joined").await;
    alice.send(offer(&bob_id, &call, "restart")).await;
    assert_eq!(bob.expect("offer").await["sdp"], "restart");
    mallory.expect("peer-joined").await;
    mallory.send(offer(&bob_id, &call, "junk")).await;
    mallory.expect_error("not-in-call").await;
    second.stop().await;
}

#[tokio::test]
async fn what_the_client_sends_again_after_a_resume_is_taken_once() {
    let server = TestServer::start_with(|c| c.resume_grace_ms = 10_000).await;
    let (mut alice, alice_id, token) = login(&server, "alice").await;
    let (mut bob, bob_id, _) = login(&server, "bob").await;
    alice.expect("peer-joined").await;
    let call = alice.call(&alice_id, &mut bob, &bob_id).await;
    let numbered = |seq: u64, sdp: &str| json!({"type": "offer", "to": bob_id, "call": call, "seq": seq, "sdp": sdp});
    alice.send(numbered(1, "one")).await;
    alice.send(json!({"type": "ping"})).await;
    assert_eq!(alice.expect("pong").await["received"], 1);
    assert_eq!(bob.expect("offer").await["sdp"], "one");
    drop(alice);

    // Back, the server says what it has; a client that sends it again anyway is not
    // repeated to bob.
    let mut alice = server.client().await;
    let (welcome, _) = alice
        .login_with(json!({"type": "login", "name": "alice", "resume": token, "ack": 1}))
        .await;
    assert_eq!(welcome["received"], 1);
    // The server held her session: it says so, and her calls go on.
    assert_eq!(welcome["resumed"], true);
    alice.send(numbered(1, "one again")).await;
    alice.send(numbered(2, "two")).await;
    assert_eq!(bob.expect("offer").await["sdp"], "two");
    // A session the server starts afresh takes what its client says it sent as dealt
    // with: nothing of an earlier session is sent again into it.
    let (welcome, _) = server
        .client()
        .await
        .login_with(json!({"type": "login", "name": "carol", "ack": 0, "sent": 9}))
        .await;
    assert_eq!(welcome["received"], 9);
    assert_eq!(welcome.get("resumed"), None, "a fresh session is no resume");
    // A client of the original contract hears nothing of it.
    let (welcome, _) = server
        .client()
        .await
        .login_with(json!({"type": "login", "name": "dave"}))
        .await;
    assert_eq!(welcome.get("received"), None);
    server.stop().await;
}
