//! Dropped connections, resume tokens and heartbeats.

mod common;

use common::{Client, TestServer};
use serde_json::{Value, json};

/// Logs `name` in and returns the client, its id and its resume token.
async fn login(server: &TestServer, name: &str) -> (Client, String, String) {
    let mut client = server.client().await;
    let (welcome, _) = client
        .login_with(json!({"type": "login", "name": name}))
        .await;
    let token = welcome["resume"]
        .as_str()
        .expect("a resume token")
        .to_owned();
    (client, welcome["id"].as_str().unwrap().to_owned(), token)
}

async fn resume(server: &TestServer, name: &str, token: &str) -> (Client, Value, Vec<Value>) {
    let mut client = server.client().await;
    let (welcome, peers) = client
        .login_with(json!({"type": "login", "name": name, "resume": token}))
        .await;
    (client, welcome, peers)
}

#[tokio::test]
async fn a_dropped_user_resumes_with_its_id_and_nobody_sees_it_leave() {
    let server = TestServer::start_with(|c| c.resume_grace_ms = 10_000).await;
    let (alice, alice_id, token) = login(&server, "alice").await;
    let (mut bob, bob_id, _) = login(&server, "bob").await;
    drop(alice); // the connection just goes away, as on a network drop

    let (mut alice, welcome, peers) = resume(&server, "alice", &token).await;
    assert_eq!(welcome["id"], alice_id);
    // A client of the original contract hears nothing of numbered delivery.
    assert_eq!(welcome.get("received"), None);
    assert_eq!(peers, vec![json!({"id": bob_id, "name": "bob"})]);
    // Bob's next frame is alice's ring: no peer-left, no peer-joined in between.
    alice.send(json!({"type": "ring", "to": bob_id})).await;
    assert_eq!(bob.recv().await["type"], "ring");
    server.stop().await;
}

#[tokio::test]
async fn signals_for_an_away_user_wait_for_its_return() {
    let server = TestServer::start_with(|c| c.resume_grace_ms = 10_000).await;
    let (mut alice, alice_id, token) = login(&server, "alice").await;
    let (mut bob, bob_id, _) = login(&server, "bob").await;
    alice.expect("peer-joined").await;
    alice.call(&alice_id, &mut bob, &bob_id).await;
    drop(alice);
    // Bob hangs up while alice is away: no error for bob...
    bob.send(json!({"type": "hangup", "to": alice_id})).await;
    bob.send(json!({"type": "ping"})).await;
    assert_eq!(bob.recv().await["type"], "pong");
    // ...and alice gets it when she is back.
    let (mut alice, _, _) = resume(&server, "alice", &token).await;
    let hangup = alice.expect("hangup").await;
    assert_eq!(hangup["from"], bob_id);
    server.stop().await;
}

#[tokio::test]
async fn a_user_who_stays_away_leaves_when_the_grace_ends() {
    let server = TestServer::start().await; // 300 ms of grace
    let (alice, alice_id, _) = login(&server, "alice").await;
    let (mut bob, _, _) = login(&server, "bob").await;
    drop(alice);
    assert_eq!(bob.expect("peer-left").await["id"], alice_id);
    server.stop().await;
}

#[tokio::test]
async fn a_resume_takes_over_a_socket_that_is_not_yet_known_dead() {
    let server = TestServer::start().await;
    let (mut old, alice_id, token) = login(&server, "alice").await;
    let (mut bob, bob_id, _) = login(&server, "bob").await;
    old.expect("peer-joined").await; // bob
    let (mut alice, welcome, _) = resume(&server, "alice", &token).await;
    assert_eq!(welcome["id"], alice_id);
    // The old socket is closed, and its end does not log the new one out.
    old.expect_closed().await;
    alice.send(json!({"type": "ring", "to": bob_id})).await;
    assert_eq!(bob.recv().await["type"], "ring");
    bob.send(json!({"type": "accept", "to": alice_id})).await;
    assert_eq!(alice.expect("accept").await["from"], bob_id);
    server.stop().await;
}

#[tokio::test]
async fn a_restarted_server_with_the_same_secret_gives_ids_back() {
    let secret = |c: &mut peercall_server::Config| {
        c.resume_secret = Some("s3cret-s3cret-s3cret-s3cret-s3cret".into())
    };
    let first = TestServer::start_with(secret).await;
    let (_alice, alice_id, token) = login(&first, "alice").await;
    first.stop().await;

    let second = TestServer::start_with(secret).await;
    let (mut bob, _, _) = login(&second, "bob").await;
    let (_alice, welcome, _) = resume(&second, "alice", &token).await;
    assert_eq!(welcome["id"], alice_id);
    // Unknown to this server until now, so the others are told.
    assert_eq!(bob.expect("peer-joined").await["id"], alice_id);

    let third = TestServer::start_with(|c| {
        c.resume_secret = Some("other-other-other-other-other-other".into())
    })
    .await;
    let (_alice, welcome, _) = resume(&third, "alice", &token).await;
    assert_ne!(
        welcome["id"], alice_id,
        "a token from another secret is worthless"
    );
    second.stop().await;
    third.stop().await;
}

#[tokio::test]
async fn tokens_cannot_be_forged_or_lent_to_another_name() {
    let server = TestServer::start_with(|c| c.resume_grace_ms = 10_000).await;
    let (alice, alice_id, token) = login(&server, "alice").await;
    drop(alice);
    let (_mallory, welcome, _) = resume(&server, "mallory", &token).await;
    assert_ne!(welcome["id"], alice_id);
    let forged = format!("{alice_id}.{}", "0".repeat(64));
    let mut thief = server.client().await;
    thief
        .send(json!({"type": "login", "name": "alice", "resume": forged}))
        .await;
    // Alice's name is still reserved for her own token.
    thief.expect_error("name-taken").await;
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_answers_no_ping_is_dropped() {
    let server = TestServer::start_with(|c| c.ping_interval_ms = 100).await;
    let (mut silent, silent_id, _) = login(&server, "silent").await;
    let (mut bob, _, _) = login(&server, "bob").await;
    silent.expect("peer-joined").await;
    // `silent` stops reading, so the pings it gets are never answered; bob keeps reading.
    let left = bob.expect("peer-left").await;
    assert_eq!(left["id"], silent_id);
    drop(silent);
    server.stop().await;
}

#[tokio::test]
async fn ping_is_answered_before_and_after_login() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    client.send(json!({"type": "ping"})).await;
    assert_eq!(client.recv().await, json!({"type": "pong"}));
    client.login("alice").await;
    client.send(json!({"type": "ping"})).await;
    assert_eq!(client.recv().await, json!({"type": "pong"}));
    server.stop().await;
}

#[tokio::test]
async fn closing_with_4000_means_coming_back_not_leaving() {
    let server = TestServer::start_with(|c| c.resume_grace_ms = 10_000).await;
    let (alice, alice_id, token) = login(&server, "alice").await;
    let (mut bob, bob_id, _) = login(&server, "bob").await;
    alice.close_with(4000).await;
    let (mut alice, welcome, _) = resume(&server, "alice", &token).await;
    assert_eq!(welcome["id"], alice_id);
    alice.send(json!({"type": "ring", "to": bob_id})).await;
    assert_eq!(
        bob.recv().await["type"],
        "ring",
        "bob saw nothing else first"
    );
    server.stop().await;
}
