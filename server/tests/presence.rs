//! Login, names and presence, against the real server.

mod common;

use std::collections::BTreeSet;

use common::{Client, TestServer};
use serde_json::{Value, json};

#[tokio::test]
async fn login_gets_welcome_and_peers_and_announces_itself() {
    let server = TestServer::start().await;
    let (mut alice, alice_id, peers) = server.login("alice").await;
    assert!(peers.is_empty());
    assert!(alice_id.len() >= 11, "ids carry at least 64 random bits");
    assert!(
        alice_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );

    let mut bob = server.client().await;
    bob.send(json!({"type": "login", "name": "  bob  "})).await;
    let welcome = bob.expect("welcome").await;
    assert_eq!(welcome["name"], "bob", "names are trimmed");
    let bob_id = welcome["id"].as_str().unwrap();
    assert_ne!(bob_id, alice_id);
    let peers = bob.expect("peers").await;
    assert_eq!(peers["peers"], json!([{"id": alice_id, "name": "alice"}]));

    let joined = alice.expect("peer-joined").await;
    assert_eq!(
        joined,
        json!({"type": "peer-joined", "id": bob_id, "name": "bob"})
    );
    server.stop().await;
}

#[tokio::test]
async fn invalid_names_are_refused_and_the_socket_can_try_again() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for name in ["", "   ", &"x".repeat(33), "ali\u{1}ce", "bo\nb"] {
        client.send(json!({"type": "login", "name": name})).await;
        client.expect_error("invalid-name").await;
    }
    // Exactly 32 characters is fine.
    let (_, peers) = client.login(&"é".repeat(32)).await;
    assert!(peers.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn names_are_unique_regardless_of_case_until_their_owner_leaves() {
    let server = TestServer::start().await;
    let (alice, _, _) = server.login("Alice").await;
    let (mut bob, _, _) = server.login("bob").await;
    let mut other = server.client().await;
    for name in ["alice", "ALICE", " aLiCe "] {
        other.send(json!({"type": "login", "name": name})).await;
        other.expect_error("name-taken").await;
    }
    alice.close().await;
    bob.expect("peer-left").await;
    other.login("alice").await;
    server.stop().await;
}

#[tokio::test]
async fn a_closed_socket_is_announced_to_everyone() {
    let server = TestServer::start().await;
    let (alice, alice_id, _) = server.login("alice").await;
    let (mut bob, _, _) = server.login("bob").await;
    let (mut carol, _, _) = server.login("carol").await;
    bob.expect("peer-joined").await; // carol
    alice.close().await;
    for watcher in [&mut bob, &mut carol] {
        let left = watcher.expect("peer-left").await;
        assert_eq!(left, json!({"type": "peer-left", "id": alice_id}));
    }
    server.stop().await;
}

#[tokio::test]
async fn a_dropped_connection_is_announced_too() {
    let server = TestServer::start().await;
    let (alice, alice_id, _) = server.login("alice").await;
    let (mut bob, _, _) = server.login("bob").await;
    drop(alice); // no close handshake: the TCP connection just goes away
    let left = bob.expect("peer-left").await;
    assert_eq!(left["id"], alice_id);
    server.stop().await;
}

#[tokio::test]
async fn two_hundred_simultaneous_logins_agree_on_who_is_online() {
    const CLIENTS: usize = 200;
    // All of them come from this one machine: its share of sockets and of logins is
    // raised by their flags.
    let server = TestServer::start_with(|c| {
        c.max_connections_per_address = CLIENTS;
        c.logins_per_address = CLIENTS as u32;
    })
    .await;
    let addr = server.addr;
    let logins = (0..CLIENTS).map(|i| {
        tokio::spawn(async move {
            let mut client = Client::connect(addr).await;
            let (id, peers) = client.login(&format!("user-{i}")).await;
            let mut known: BTreeSet<String> = peers.iter().map(peer_id).collect();
            while known.len() < CLIENTS - 1 {
                let joined = client.expect("peer-joined").await;
                assert!(known.insert(peer_id(&joined)), "announced twice: {joined}");
            }
            known.insert(id);
            (client, known)
        })
    });
    let mut views = Vec::new();
    for login in logins.collect::<Vec<_>>() {
        views.push(login.await.unwrap());
    }
    let everyone = &views[0].1;
    assert_eq!(everyone.len(), CLIENTS);
    for (_, view) in &views {
        assert_eq!(view, everyone);
    }
    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_every_socket_with_going_away() {
    let server = TestServer::start().await;
    let (mut alice, _, _) = server.login("alice").await;
    let (mut bob, _, _) = server.login("bob").await;
    alice.expect("peer-joined").await;
    let mut anonymous = server.client().await;
    let stopping = tokio::spawn(server.stop());
    // Each gets its close frame and nothing before it: no `peer-left` for the others,
    // whose calls go on without the server.
    for client in [&mut alice, &mut bob, &mut anonymous] {
        let close = client.expect_close().await;
        assert_eq!(u16::from(close.code), 1001);
    }
    stopping.await.unwrap();
}

fn peer_id(peer: &Value) -> String {
    peer["id"].as_str().unwrap().to_owned()
}
