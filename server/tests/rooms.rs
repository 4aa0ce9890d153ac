//! Rooms: presence and relaying stay inside a room, rooms have a capacity, their names
//! follow rules, moderators lock them and remove people, and passwords keep them shut.

mod common;

use common::TestServer;
use serde_json::json;

#[tokio::test]
async fn rooms_keep_presence_and_signals_inside() {
    let server = TestServer::start().await;
    let (mut alice, alice_id, peers) = server.join("alice", "standup").await;
    assert!(peers.is_empty());
    let (mut carol, _, peers) = server.join("carol", "retro").await;
    assert!(peers.is_empty(), "nobody from another room: {peers:?}");
    let (mut dave, _, peers) = server.login("dave").await;
    assert!(peers.is_empty(), "the default room is a room of its own");
    let (mut bob, bob_id, peers) = server.join("bob", "standup").await;
    assert_eq!(peers, vec![json!({"id": alice_id, "name": "alice"})]);
    assert_eq!(alice.expect("peer-joined").await["id"], bob_id);

    // Names are unique per room, not per server.
    let (_other_alice, _, _) = server.join("alice", "retro").await;
    assert_eq!(carol.expect("peer-joined").await["name"], "alice");

    // Someone in another room cannot be rung, by id, from anywhere else.
    carol.send(json!({"type": "ring", "to": alice_id})).await;
    let refusal = carol.expect_error("peer-unavailable").await;
    assert_eq!(refusal["to"], alice_id);
    dave.send(json!({"type": "ring", "to": bob_id})).await;
    dave.expect_error("peer-unavailable").await;
    alice.send(json!({"type": "ring", "to": bob_id})).await;
    assert_eq!(bob.expect("ring").await["from"], alice_id);

    // Leaving is told inside the room only: carol's next frame is her own pong.
    bob.close().await;
    assert_eq!(alice.expect("peer-left").await["id"], bob_id);
    carol.send(json!({"type": "ping"})).await;
    carol.expect("pong").await;
    server.stop().await;
}

#[tokio::test]
async fn a_room_holds_its_capacity_and_no_more() {
    let server = TestServer::start_with(|c| {
        c.room_capacity = 2;
        c.default_room_capacity = Some(1);
    })
    .await;
    let (_alice, _, _) = server.join("alice", "small").await;
    let (_bob, _, _) = server.join("bob", "small").await;
    let mut carol = server.client().await;
    carol
        .send(json!({"type": "login", "name": "carol", "room": "small"}))
        .await;
    carol.expect_refusal("room-full", 4424).await;

    let (_dave, _, _) = server.login("dave").await;
    let mut erin = server.client().await;
    erin.send(json!({"type": "login", "name": "erin"})).await;
    erin.expect_refusal("room-full", 4424).await;
    server.stop().await;
}

#[tokio::test]
async fn room_names_follow_the_rules() {
    let server = TestServer::start().await;
    let long = "r".repeat(65);
    for room in [
        "",
        "../etc",
        "a/b",
        "a b",
        "caf\u{e9}",
        "a%2e",
        long.as_str(),
    ] {
        let mut client = server.client().await;
        client
            .send(json!({"type": "login", "name": "alice", "room": room}))
            .await;
        client.expect_refusal("bad-room", 4400).await;
    }
    server.stop().await;

    let server = TestServer::start_with(|c| c.no_default_room = true).await;
    let mut client = server.client().await;
    client.send(json!({"type": "login", "name": "alice"})).await;
    client.expect_refusal("bad-room", 4400).await;
    let (_alice, _, _) = server.join("alice", "somewhere").await;
    server.stop().await;
}

#[tokio::test]
async fn look_alike_names_cannot_share_a_room() {
    let server = TestServer::start().await;
    let (_alice, _, _) = server.join("alice", "lookalikes").await;
    let mut mallory = server.client().await;
    let attempts = [
        ("\u{430}lice", "name-taken"), // a Cyrillic а
        ("ALICE", "name-taken"),       // another case
        ("\u{ff41}\u{ff4c}\u{ff49}\u{ff43}\u{ff45}", "name-taken"), // fullwidth letters
        ("ali\u{200B}ce", "invalid-name"), // a zero-width space
        ("alice\u{200D}", "invalid-name"), // a zero-width joiner
        ("\u{202E}ecila", "invalid-name"), // a right-to-left override
        ("\u{2067}alice\u{2069}", "invalid-name"), // a bidi isolate
    ];
    for (name, code) in attempts {
        mallory
            .send(json!({"type": "login", "name": name, "room": "lookalikes"}))
            .await;
        let refusal = mallory.expect_error(code).await;
        assert!(refusal["message"].as_str().is_some(), "{name:?}");
    }
    // Not final: the same socket logs in under a name of its own.
    let (welcome, peers) = mallory
        .join_with(json!({"type": "login", "name": "mallory", "room": "lookalikes"}))
        .await;
    assert_eq!(welcome["name"], "mallory");
    assert_eq!(peers.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn names_are_normalized() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let (welcome, _) = client
        .join_with(json!({"type": "login", "name": "  \u{ff22}ob ", "room": "n"}))
        .await;
    assert_eq!(welcome["name"], "Bob");
    server.stop().await;
}

#[tokio::test]
async fn the_first_in_moderates_locks_and_removes() {
    let server = TestServer::start().await;
    let (mut alice, alice_id, _) = server.join("alice", "team").await;
    let mut bob = server.client().await;
    let (bob_welcome, _) = bob
        .join_with(json!({"type": "login", "name": "bob", "room": "team"}))
        .await;
    let bob_id = bob_welcome["id"].as_str().unwrap().to_owned();
    let bob_token = bob_welcome["resume"].clone();
    assert_eq!(
        bob_welcome["room"],
        json!({"type": "room", "room": "team", "locked": false, "moderator": false})
    );
    alice.expect("peer-joined").await;

    // Only a moderator may lock.
    bob.send(json!({"type": "lock-room"})).await;
    bob.expect_error("not-moderator").await;
    alice.send(json!({"type": "lock-room"})).await;
    assert_eq!(alice.expect("room").await["locked"], true);
    let locked = bob.expect("room").await;
    assert_eq!(
        (locked["locked"].clone(), locked["moderator"].clone()),
        (json!(true), json!(false))
    );

    let mut carol = server.client().await;
    carol
        .send(json!({"type": "login", "name": "carol", "room": "team"}))
        .await;
    carol.expect_refusal("room-locked", 4423).await;

    // Removal: bob is told and closed, alice sees him leave, and he cannot come back.
    bob.send(json!({"type": "remove-peer", "id": alice_id}))
        .await;
    bob.expect_error("not-moderator").await;
    alice.send(json!({"type": "unlock-room"})).await;
    alice.expect("room").await;
    bob.expect("room").await;
    alice
        .send(json!({"type": "remove-peer", "id": bob_id}))
        .await;
    bob.expect_refusal("removed", 4410).await;
    assert_eq!(alice.expect("peer-left").await["id"], bob_id);
    let mut again = server.client().await;
    again
        .send(json!({"type": "login", "name": "bob", "room": "team", "resume": bob_token}))
        .await;
    again.expect_refusal("removed", 4410).await;

    // The room is open again for others; when alice leaves, the next in takes over.
    let (mut dave, _, _) = server.join("dave", "team").await;
    alice.expect("peer-joined").await;
    let (mut erin, _, _) = server.join("erin", "team").await;
    alice.close().await;
    let mut dave_room = None;
    // dave hears erin join, alice leave, then that he moderates now.
    for _ in 0..3 {
        let frame = dave.recv().await;
        if frame["type"] == "room" {
            dave_room = Some(frame);
        }
    }
    assert_eq!(dave_room.expect("dave is told")["moderator"], true);
    assert_eq!(erin.expect("peer-left").await["id"], alice_id);
    server.stop().await;
}

#[tokio::test]
async fn a_room_password_keeps_others_out() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    alice
        .join_with(
            json!({"type": "login", "name": "alice", "room": "secret", "password": "open sesame"}),
        )
        .await;
    for password in [json!("open sesam"), json!(null), json!("")] {
        let mut bob = server.client().await;
        bob.send(json!({"type": "login", "name": "bob", "room": "secret", "password": password}))
            .await;
        bob.expect_refusal("room-password", 4402).await;
    }
    let mut bob = server.client().await;
    let (_, peers) = bob
        .join_with(
            json!({"type": "login", "name": "bob", "room": "secret", "password": "open sesame"}),
        )
        .await;
    assert_eq!(peers.len(), 1);
    assert_eq!(alice.expect("peer-joined").await["name"], "bob");

    // The default room belongs to nobody: a password there shuts nobody out.
    let mut first = server.client().await;
    first
        .login_with(json!({"type": "login", "name": "carol", "password": "mine"}))
        .await;
    let mut second = server.client().await;
    second
        .login_with(json!({"type": "login", "name": "dave", "password": "other"}))
        .await;
    server.stop().await;
}
