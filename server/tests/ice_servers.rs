//! STUN and TURN for the clients: the servers in `welcome`, TURN credentials minted per
//! login in coturn's `use-auth-secret` form, and fresh ones before they expire.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::TestServer;
use serde_json::Value;

const SECRET: &str = "a-turn-secret-of-more-than-32-bytes!";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Checks the TURN entry of `servers` was minted for `id`, to expire about `ttl` from now.
fn check_turn(servers: &Value, id: &str, ttl: u64) -> u64 {
    let servers = servers.as_array().expect("iceServers is a list");
    assert_eq!(
        servers[0]["urls"],
        serde_json::json!(["stun:stun.peercall.test"])
    );
    assert!(servers[0].get("username").is_none());
    let turn = &servers[1];
    assert_eq!(
        turn["urls"],
        serde_json::json!([
            "turn:turn.peercall.test?transport=udp",
            "turns:turn.peercall.test"
        ])
    );
    let username = turn["username"].as_str().expect("a TURN user name");
    let (expiry, who) = username.split_once(':').expect("<expiry>:<id>");
    assert_eq!(who, id);
    let expiry: u64 = expiry.parse().expect("unix seconds");
    assert!(
        expiry.abs_diff(now() + ttl) <= 2,
        "expiry {expiry}, now {}",
        now()
    );
    assert_eq!(
        turn["credential"].as_str(),
        Some(peercall_server::turn_password(SECRET.as_bytes(), username).as_str())
    );
    expiry
}

#[tokio::test]
async fn welcome_carries_the_servers_and_fresh_credentials_follow_before_expiry() {
    let server = TestServer::start_with(|config| {
        config.stun_urls = vec!["stun:stun.peercall.test".into()];
        config.turn_urls = vec![
            "turn:turn.peercall.test?transport=udp".into(),
            "turns:turn.peercall.test".into(),
        ];
        config.turn_secret = Some(SECRET.into());
        config.turn_ttl = 4;
    })
    .await;
    let (mut alice, _, _) = server.login("alice").await;
    let mut bob = server.client().await;
    let (welcome, _) = bob
        .login_with(serde_json::json!({"type": "login", "name": "bob"}))
        .await;
    let bob_id = welcome["id"].as_str().unwrap();
    let first = check_turn(&welcome["iceServers"], bob_id, 4);

    // Three quarters into their life, fresh credentials arrive unasked.
    let refreshed = bob.expect("ice-servers").await;
    let second = check_turn(&refreshed["iceServers"], bob_id, 4);
    assert!(second > first, "later expiry: {first} then {second}");
    alice.expect("peer-joined").await;
    server.stop().await;
}

#[tokio::test]
async fn without_stun_or_turn_welcome_has_no_servers() {
    let server = TestServer::start().await;
    let mut alice = server.client().await;
    let (welcome, _) = alice
        .login_with(serde_json::json!({"type": "login", "name": "alice"}))
        .await;
    assert!(welcome.get("iceServers").is_none(), "{welcome}");
    server.stop().await;
}
