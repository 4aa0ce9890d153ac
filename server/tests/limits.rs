//! What one client may hold: sockets per address (also behind an HTTP proxy or a TCP
//! balancer), time to log in, and a socket that stops reading gives its place up.

mod common;

use std::time::Duration;

use common::{Client, PATIENCE, TestServer};
use serde_json::json;

#[tokio::test]
async fn an_address_holds_only_its_share_of_sockets() {
    let server = TestServer::start_with(|c| c.max_connections_per_address = 3).await;
    let mut held = Vec::new();
    // Limits count per node: every socket goes to the same one.
    for name in ["a", "b", "c"] {
        let mut client = Client::connect(server.addr).await;
        client.login(name).await;
        held.push(client);
    }
    let mut fourth = Client::connect(server.addr).await;
    fourth.expect_refusal("too-many-connections", 4430).await;
    // One closes: its place is free again.
    held.pop().expect("a socket").close().await;
    let mut again = Client::connect(server.addr).await;
    again.login("d").await;
    server.stop().await;
}

#[tokio::test]
async fn sockets_refused_for_their_address_take_no_place_from_anyone_else() {
    let server = TestServer::start_with(|c| {
        c.max_connections = 2;
        c.max_connections_per_address = 1;
    })
    .await;
    let mut held = Client::connect(server.addr).await;
    held.login("held").await;
    // More from the same address: each is refused, and none answers its close, so the
    // server waits a moment on each before it lets go.
    let mut refused = Vec::new();
    for _ in 0..3 {
        refused.push(Client::connect(server.addr).await);
    }
    // Meanwhile someone at another address takes the server's last place.
    let elsewhere = std::net::IpAddr::from([127, 0, 0, 2]);
    let mut other = Client::connect_from_ip(server.addr, elsewhere).await;
    other.login("other").await;
    for mut client in refused {
        client.expect_refusal("too-many-connections", 4430).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_counts_apart() {
    let server = TestServer::start_with(|c| {
        c.max_connections_per_address = 1;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let forwarded = |client: &str| format!("198.51.100.7, {client}");
    let mut one =
        Client::connect_with(server.addr, "x-forwarded-for", &forwarded("192.0.2.1")).await;
    one.login("one").await;
    let mut two =
        Client::connect_with(server.addr, "x-forwarded-for", &forwarded("192.0.2.2")).await;
    two.login("two").await;
    let mut same =
        Client::connect_with(server.addr, "x-forwarded-for", &forwarded("192.0.2.2")).await;
    same.expect_refusal("too-many-connections", 4430).await;
    server.stop().await;

    // From anyone else, the header is the client's own word, and counts for nothing.
    let server = TestServer::start_with(|c| c.max_connections_per_address = 1).await;
    let mut one = Client::connect_with(server.addr, "x-forwarded-for", "192.0.2.1").await;
    one.login("one").await;
    let mut two = Client::connect_with(server.addr, "x-forwarded-for", "192.0.2.2").await;
    two.expect_refusal("too-many-connections", 4430).await;
    server.stop().await;
}

/// A PROXY protocol version 1 header for a client at `ip`.
fn proxy_v1(ip: &str) -> Vec<u8> {
    format!("PROXY TCP4 {ip} 127.0.0.1 40000 443\r\n").into_bytes()
}

/// A PROXY protocol version 2 header for a client at `ip`; `None`: the balancer's own
/// connection (`LOCAL`, a health check).
fn proxy_v2(ip: Option<[u8; 4]>) -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    match ip {
        Some(ip) => {
            header.extend([0x21, 0x11, 0, 12]);
            header.extend(ip);
            header.extend([127, 0, 0, 1]);
            header.extend(40_000u16.to_be_bytes());
            header.extend(443u16.to_be_bytes());
        }
        None => header.extend([0x20, 0x00, 0, 0]),
    }
    header
}

#[tokio::test]
async fn behind_a_tcp_balancer_each_client_of_its_proxy_headers_counts_apart() {
    let server = TestServer::start_with(|c| {
        c.max_connections_per_address = 1;
        c.proxy_protocol_from = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    // Two clients through the balancer, one header of each version: each has its place.
    let mut one = Client::after(server.addr, &proxy_v1("192.0.2.1"))
        .await
        .expect("upgraded");
    one.login("one").await;
    let mut two = Client::after(server.addr, &proxy_v2(Some([192, 0, 2, 2])))
        .await
        .expect("upgraded");
    two.login("two").await;
    // A second socket of one of them is refused, as any address's would be.
    let mut same = Client::after(server.addr, &proxy_v1("192.0.2.2"))
        .await
        .expect("upgraded");
    same.expect_refusal("too-many-connections", 4430).await;
    // The balancer's own connection (a health check) counts as the balancer.
    let mut own = Client::after(server.addr, &proxy_v2(None))
        .await
        .expect("upgraded");
    own.login("balancer").await;
    // From the balancer, a connection without a header is closed unanswered.
    assert!(Client::after(server.addr, b"").await.is_err());
    server.stop().await;

    // From anyone else a PROXY header is the client's own word: a bad request.
    let server = TestServer::start_with(|c| c.max_connections_per_address = 1).await;
    assert!(
        Client::after(server.addr, &proxy_v1("192.0.2.1"))
            .await
            .is_err()
    );
    server.stop().await;
}

#[tokio::test]
async fn behind_haproxy_sending_the_proxy_protocol_each_client_counts_apart() {
    // haproxy reaches the server from an address of its own, which the server trusts;
    // its clients come from two others.
    let balancer = "127.0.0.2".parse().unwrap();
    let server = TestServer::start_with(|c| {
        c.max_connections_per_address = 1;
        c.proxy_protocol_from = vec![balancer];
    })
    .await;
    let dir = std::env::temp_dir().join(format!("peercall-haproxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_haproxy, door) = common::process::haproxy(&dir, server.addr, balancer).await;
    let (ann, ben) = ("127.0.0.3".parse().unwrap(), "127.0.0.4".parse().unwrap());
    let mut one = Client::connect_from_ip(door, ann).await;
    one.login("ann").await;
    let mut two = Client::connect_from_ip(door, ben).await;
    two.login("ben").await;
    let mut again = Client::connect_from_ip(door, ben).await;
    again.expect_refusal("too-many-connections", 4430).await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_socket_that_never_logs_in_is_closed() {
    let server = TestServer::start_with(|c| c.login_timeout_ms = 300).await;
    let mut idle = server.client().await;
    let frame = idle.expect_close().await;
    assert_eq!(u16::from(frame.code), 1008);
    // One that logs in in time stays past the deadline.
    let (mut alice, _, _) = server.login("alice").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    alice.send(json!({"type": "ping"})).await;
    alice.expect("pong").await;
    server.stop().await;
}

/// A victim and a sender, logged in (without `ack`) and in a call the sender placed: the
/// victim, its id, and the sender.
async fn in_a_call(server: &TestServer) -> (Client, String, Client) {
    let (mut victim, victim_id, _) = server.login("victim").await;
    let (mut sender, sender_id, _) = server.login("sender").await;
    victim.expect("peer-joined").await;
    sender.call(&sender_id, &mut victim, &victim_id).await;
    (victim, victim_id, sender)
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_and_the_sender_goes_on() {
    let server = TestServer::start_with(|c| {
        c.write_timeout_ms = 300;
        // A queue long enough, and rates high enough, that only the write deadline can end
        // the victim.
        c.outbox_bytes = 1 << 30;
        c.rate_limit_factor = 1_000.0;
        c.resume_grace_ms = 60_000;
    })
    .await;
    let (mut victim, victim_id, mut sender) = in_a_call(&server).await;
    // The victim reads nothing from here on; 60 KB offers pile up in its socket buffers.
    let sdp = "v".repeat(60_000);
    let mut sent = 0;
    let closed = async {
        loop {
            sender
                .send(json!({"type": "offer", "to": victim_id, "sdp": sdp}))
                .await;
            sent += 1;
            // The sender is answered at once all along. Once the victim is dropped (and
            // away), what is kept for it fills, and the sender hears so.
            sender.send(json!({"type": "ping"})).await;
            loop {
                let frame = sender.recv().await;
                if frame["type"] == "pong" {
                    break;
                }
                assert_eq!(
                    (frame["code"].as_str(), frame["to"].as_str()),
                    (Some("rate-limited"), Some(victim_id.as_str())),
                    "{frame}"
                );
            }
            if sent % 50 == 0 && server.metric("peercall_sockets").await == Some(1.0) {
                return;
            }
        }
    };
    tokio::time::timeout(PATIENCE, closed)
        .await
        .expect("the victim's socket is closed within the patience");
    // The victim finds its socket closed once it reads again.
    victim.expect_closed().await;
    server.stop().await;
}

#[tokio::test]
async fn a_client_whose_queue_overflows_is_dropped_at_once_without_a_close_frame() {
    let server = TestServer::start_with(|c| {
        // A short queue, and a write deadline far off: only the queue can end the victim.
        // Five senders may each have a quarter of the backlog waiting in it: together more
        // than it holds.
        c.outbox_bytes = 16 * 1024;
        c.backlog_bytes = 256 * 1024;
        c.call_capacity = 6;
        c.write_timeout_ms = 600_000;
        c.rate_limit_factor = 1_000.0;
    })
    .await;
    // A client of the original contract (nothing is kept for it, all goes to its queue),
    // in a room call with five senders.
    let mut victim = server.client().await;
    let login = json!({"type": "login", "name": "victim", "room": "flood"});
    let (welcome, _) = victim.join_with(login).await;
    let victim_id = welcome["id"].as_str().expect("an id").to_owned();
    victim.send(json!({"type": "join-call"})).await;
    let call = victim.expect("call-joined").await["call"].clone();
    let mut senders = Vec::new();
    for name in ["s1", "s2", "s3", "s4", "s5"] {
        let (mut sender, _, _) = server.join(name, "flood").await;
        sender.send(json!({"type": "join-call"})).await;
        sender.expect("call-joined").await;
        senders.push(sender);
    }
    // The victim reads nothing from here on; 60 KB offers fill its socket, then its queue.
    let sdp = "v".repeat(60_000);
    let dropped = async {
        loop {
            for sender in &mut senders {
                let offer = json!({"type": "offer", "to": victim_id, "call": call, "sdp": sdp});
                sender.send(offer).await;
                sender.send(json!({"type": "ping"})).await;
                while sender.recv().await["type"] != "pong" {}
                if server.metric("peercall_sockets").await == Some(5.0) {
                    return;
                }
            }
        }
    };
    tokio::time::timeout(PATIENCE, dropped)
        .await
        .expect("the victim is dropped once its queue overflows");
    // What had reached its socket it may still read; then the connection ends, with no
    // close frame, as a lost one does (its user may resume).
    let mut closed_by_frame = false;
    while let Some(frame) = victim.next_message().await {
        closed_by_frame |= matches!(frame, tokio_tungstenite::tungstenite::Message::Close(_));
    }
    assert!(!closed_by_frame, "no close frame after a queue overflow");
    // Dropped, not gone: it resumes with its id, still in the call, and hears from it.
    let mut victim = server.client().await;
    let resume = json!({"type": "login", "name": "victim", "room": "flood",
        "resume": welcome["resume"]});
    let (resumed, _) = victim.join_with(resume).await;
    assert_eq!(resumed["id"], victim_id.as_str());
    let after = json!({"type": "offer", "to": victim_id, "call": call, "sdp": "after"});
    senders[0].send(after).await;
    while victim.recv().await["sdp"] != "after" {}
    server.stop().await;
}

#[tokio::test]
async fn one_sender_cannot_fill_the_queue_of_a_client_that_does_not_acknowledge() {
    let server = TestServer::start_with(|c| {
        // Rates and a write deadline that cannot end the flood: only the sender's part of
        // the victim's queue can.
        c.rate_limit_factor = 1_000.0;
        c.write_timeout_ms = 600_000;
    })
    .await;
    // A client of the original contract: nothing is kept for it, all goes to its queue.
    let (mut victim, victim_id, mut sender) = in_a_call(&server).await;
    let (mut carol, carol_id, _) = server.login("carol").await;
    // The victim reads nothing for now; 60 KB offers fill its socket, then its queue.
    let sdp = "v".repeat(60_000);
    let mut offers = 0;
    let refused = async {
        loop {
            sender
                .send(json!({"type": "offer", "to": victim_id, "sdp": sdp}))
                .await;
            sender.send(json!({"type": "ping"})).await;
            loop {
                let frame = sender.recv().await;
                match frame["type"].as_str() {
                    Some("pong") => break,
                    Some("error") => return frame,
                    _ => {}
                }
            }
            offers += 1;
            assert_eq!(
                server.metric("peercall_sockets").await,
                Some(3.0),
                "the victim was dropped after {offers} offers"
            );
        }
    };
    let refusal = tokio::time::timeout(PATIENCE, refused)
        .await
        .expect("the sender is refused within the patience");
    assert_eq!(refusal["code"], "rate-limited", "{refusal}");
    assert_eq!(refusal["to"], victim_id.as_str(), "{refusal}");
    // Someone else still reaches the victim, behind every offer let through.
    carol.send(json!({"type": "ring", "to": victim_id})).await;
    let mut delivered = 0;
    loop {
        let frame = victim.recv().await;
        match frame["type"].as_str() {
            Some("offer") => delivered += 1,
            Some("ring") => {
                assert_eq!(frame["from"], carol_id.as_str());
                break;
            }
            _ => {}
        }
    }
    assert_eq!(delivered, offers, "every offer let through arrives");
    assert_eq!(server.metric("peercall_sockets").await, Some(3.0));
    server.stop().await;
}

/// The refusals `client` has had so far: they come back in order with the rest, so a
/// ping's pong follows them all.
async fn refusals_so_far(client: &mut Client) -> Vec<serde_json::Value> {
    client.send(json!({"type": "ping"})).await;
    let mut refusals = Vec::new();
    loop {
        let frame = client.recv().await;
        match frame["type"].as_str() {
            Some("pong") => return refusals,
            Some("error") => refusals.push(frame),
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_ring_flood_is_rate_limited_and_others_still_get_through() {
    let server = TestServer::start().await;
    let (mut bob, bob_id, _) = server.login("bob").await;
    let (mut mallory, _, _) = server.login("mallory").await;
    let (mut carol, carol_id, _) = server.login("carol").await;
    bob.expect("peer-joined").await;
    bob.expect("peer-joined").await;
    for _ in 0..120 {
        mallory.send(json!({"type": "ring", "to": bob_id})).await;
    }
    let refusals = refusals_so_far(&mut mallory).await;
    for frame in &refusals {
        assert_eq!(frame["code"], "rate-limited", "{frame}");
        // It names the callee: the caller knows which call it concerns.
        assert_eq!(frame["to"], bob_id.as_str(), "{frame}");
    }
    let limited = refusals.len();
    assert!(
        (10..=20).contains(&limited),
        "{limited} of 120 rings refused"
    );
    // carol's ring reaches bob behind the ones that got through, and nothing more of
    // mallory's comes after it.
    carol.send(json!({"type": "ring", "to": bob_id})).await;
    let mut rings = 0;
    loop {
        let frame = bob.expect("ring").await;
        if frame["from"] == carol_id {
            break;
        }
        rings += 1;
    }
    assert_eq!(rings, 120 - limited, "every ring let through, no more");
    server.stop().await;
}

#[tokio::test]
async fn acknowledging_a_busy_call_takes_nothing_from_ones_own_signals() {
    let server = TestServer::start().await;
    let (mut bob, bob_id, _) = server.login("bob").await;
    let (mut alice, alice_id, _) = server.login("alice").await;
    bob.expect("peer-joined").await;
    let call = alice.call(&alice_id, &mut bob, &bob_id).await;
    // More acknowledgements than the call-signal rate's burst, as a member of a busy call
    // may send over a while: the client acknowledges each batch of signals it handled.
    for _ in 0..990 {
        bob.send(json!({"type": "ack", "seq": 1})).await;
    }
    bob.send(json!({"type": "candidate", "to": alice_id, "call": call, "candidate": null}))
        .await;
    let refusals = refusals_so_far(&mut bob).await;
    assert!(refusals.is_empty(), "bob was refused: {refusals:?}");
    assert_eq!(alice.expect("candidate").await["from"], bob_id.as_str());
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_keeps_being_refused_is_closed() {
    let server = TestServer::start().await;
    let (mut mallory, _, _) = server.login("mallory").await;
    let (mut alice, _, _) = server.login("alice").await;
    for _ in 0..200 {
        mallory.send_text("not json").await;
    }
    // Refused many times over, then closed as a policy violation.
    let frame = loop {
        if let Some(frame) = mallory.next_close().await {
            break frame;
        }
    };
    assert_eq!(u16::from(frame.code), 1008);
    // It left; alice is told, and carries on.
    assert_eq!(alice.expect("peer-left").await["type"], "peer-left");
    alice.send(json!({"type": "ping"})).await;
    alice.expect("pong").await;
    server.stop().await;
}

#[tokio::test]
async fn logging_in_over_and_over_on_fresh_sockets_is_refused_past_the_address_share() {
    // A share of 10 a minute: one more each 6 s, far slower than this loop.
    let server = TestServer::start_with(|c| c.logins_per_address = 10).await;
    let elsewhere = |last: u8| std::net::IpAddr::from([127, 0, 0, last]);
    let mut carol = Client::connect_from_ip(server.addr, elsewhere(2)).await;
    carol.login("carol").await;
    // From one address: connect, log in, leave, again and again, until refused.
    let mut logged_in = 0;
    loop {
        let mut client = Client::connect(server.addr).await;
        client
            .send(json!({"type": "login", "name": format!("churn-{logged_in}")}))
            .await;
        let answer = client.recv().await;
        if answer["type"] == "error" {
            assert_eq!(answer["code"], "rate-limited", "{answer}");
            assert!(
                answer["message"].as_str().unwrap().contains("address"),
                "{answer}"
            );
            // The socket has no use: it closes, saying to try again later.
            assert_eq!(u16::from(client.expect_close().await.code), 1013);
            break;
        }
        assert_eq!(answer["type"], "welcome", "{answer}");
        logged_in += 1;
        assert!(logged_in <= 50, "never refused");
        client.close().await;
    }
    assert!((10..=11).contains(&logged_in), "{logged_in} logins let in");
    // Someone at another address logs in as ever; carol heard of each login let in, and
    // of nothing refused, before that one.
    let mut dave = Client::connect_from_ip(server.addr, elsewhere(3)).await;
    dave.login("dave").await;
    let mut joined = 0;
    loop {
        let frame = carol.recv().await;
        if frame["type"] != "peer-joined" {
            continue;
        }
        if frame["name"] == "dave" {
            break;
        }
        joined += 1;
    }
    assert_eq!(joined, logged_in);
    server.stop().await;
}
