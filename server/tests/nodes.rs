//! Several nodes with one Redis: a room spans them, with the same presence, stamped
//! senders, access rules and call registry as on one node; a node that stops hands its
//! rooms over and its users resume elsewhere with their ids; Redis restarting drops no
//! call and presence comes back.

mod common;

use std::collections::HashSet;

use common::{Client, PATIENCE, TestServer, process::free_tcp_port, redis::Redis, until_health};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// The resume key every node shares.
const SECRET: &str = "one-key-for-every-node-of-the-cluster";

/// A node of the cluster on `redis`, in it once `/healthz` says so.
async fn node(redis: &str) -> TestServer {
    node_with(redis, |_| {}).await
}

/// As [`node`], with the configuration changed by `adjust`.
async fn node_with(redis: &str, adjust: impl FnOnce(&mut peercall_server::Config)) -> TestServer {
    let url = redis.to_owned();
    let server = TestServer::start_with(|config| {
        config.redis_url = Some(url);
        config.resume_secret = Some(SECRET.into());
        config.resume_grace_ms = 10_000;
        adjust(config);
    })
    .await;
    until_health(&server, "ok\n").await;
    server
}

/// Someone in room `team`, on whichever node they are connected to.
struct Person {
    name: &'static str,
    client: Client,
    id: String,
    token: String,
    /// Who they see in the room.
    sees: HashSet<String>,
    /// Whether they were ever told someone left.
    saw_someone_leave: bool,
    /// The call they are in, and with whom.
    call: Option<(String, String)>,
}

impl Person {
    fn saw(&mut self, peers: &[Value]) {
        self.sees = peers
            .iter()
            .map(|peer| peer["id"].as_str().unwrap().to_owned())
            .collect();
    }

    /// Logs in again on `server` with the resume token and the call it is in: the id
    /// must be the same.
    async fn resume(&mut self, server: &TestServer) {
        let mut login = json!({
            "type": "login", "name": self.name, "room": "team", "resume": self.token,
        });
        if let Some((call, with)) = &self.call {
            login["call"] = json!(call);
            login["with"] = json!(with);
        }
        let mut client = server.client().await;
        let (welcome, peers) = client.join_with(login).await;
        assert_eq!(
            welcome["id"],
            self.id.as_str(),
            "{} keeps its id",
            self.name
        );
        self.token = welcome["resume"].as_str().unwrap().to_owned();
        self.client = client;
        self.saw(&peers);
    }

    /// Reads one frame and keeps what it says of presence; `false` once the socket
    /// closed.
    async fn read(&mut self) -> bool {
        let Some(frame) = self.client.next_message().await else {
            return false;
        };
        let Message::Text(text) = frame else {
            return !matches!(frame, Message::Close(_));
        };
        let frame: Value = serde_json::from_str(&text).unwrap();
        match frame["type"].as_str() {
            Some("peer-joined") => {
                self.sees.insert(frame["id"].as_str().unwrap().to_owned());
            }
            Some("peer-left") => {
                self.saw_someone_leave = true;
                self.sees.remove(frame["id"].as_str().unwrap());
            }
            Some("resume-token") => self.token = frame["resume"].as_str().unwrap().to_owned(),
            _ => {}
        }
        true
    }
}

/// `name` in room `team` on `server`, with its resume token.
async fn person(server: &TestServer, name: &'static str) -> Person {
    let mut client = server.client().await;
    let (welcome, peers) = client
        .join_with(json!({"type": "login", "name": name, "room": "team"}))
        .await;
    let mut person = Person {
        name,
        client,
        id: welcome["id"].as_str().unwrap().to_owned(),
        token: welcome["resume"].as_str().unwrap().to_owned(),
        sees: HashSet::new(),
        saw_someone_leave: false,
        call: None,
    };
    person.saw(&peers);
    person
}

/// `bob` came in after `alice`: she reads until she has seen him come.
async fn meet(alice: &mut Person, bob: &Person) {
    while !alice.sees.contains(&bob.id) {
        assert!(alice.read().await, "{}'s socket stays open", alice.name);
    }
}

/// `caller` rings `callee`, who accepts; both note the call.
async fn call(caller: &mut Person, callee: &mut Person) {
    let id = caller
        .client
        .call(&caller.id, &mut callee.client, &callee.id)
        .await;
    caller.call = Some((id.clone(), callee.id.clone()));
    callee.call = Some((id, caller.id.clone()));
}

/// `from` sends an offer in its call, and `to` gets it, stamped with `from`'s id.
async fn offer_arrives(from: &mut Person, to: &mut Person) {
    let (call, _) = from.call.clone().expect("in a call");
    from.client
        .send(json!({"type": "offer", "to": to.id, "call": call, "sdp": "v=0 offer"}))
        .await;
    let offer = to.client.expect("offer").await;
    assert_eq!(offer["from"], from.id.as_str());
    assert_eq!(offer["sdp"], "v=0 offer");
}

#[tokio::test]
async fn one_room_spans_two_nodes_with_the_same_rules_as_one() {
    let redis = Redis::start(free_tcp_port());
    let (a, b) = (node(&redis.url()).await, node(&redis.url()).await);
    let (mut alice, alice_id, peers) = a.join("alice", "team").await;
    assert!(peers.is_empty());
    let (mut bob, bob_id, peers) = b.join("bob", "team").await;
    assert_eq!(peers, [json!({"id": alice_id, "name": "alice"})]);
    assert_eq!(alice.expect("peer-joined").await["id"], bob_id.as_str());

    // Rooms stay apart across nodes, and a name is taken on every node.
    let (_carol, _, peers) = b.join("carol", "other").await;
    assert!(peers.is_empty(), "another room: {peers:?}");
    let mut impostor = b.client().await;
    impostor
        .send(json!({"type": "login", "name": "Alice", "room": "team"}))
        .await;
    impostor.expect_error("name-taken").await;

    // A call across nodes: the sender is stamped by the server, whatever it claims, and
    // negotiation passes only within the accepted call.
    bob.send(json!({"type": "offer", "to": alice_id, "sdp": "v=0 early"}))
        .await;
    bob.expect_error("not-in-call").await;
    bob.send(json!({"type": "ring", "to": alice_id, "from": "someone-else"}))
        .await;
    let ring = alice.expect("ring").await;
    assert_eq!(ring["from"], bob_id.as_str());
    assert_eq!(ring["name"], "bob");
    let call = ring["call"].as_str().unwrap().to_owned();
    alice
        .send(json!({"type": "accept", "to": bob_id, "call": call}))
        .await;
    assert_eq!(bob.expect("accept").await["from"], alice_id.as_str());
    bob.send(json!({"type": "offer", "to": alice_id, "call": call, "sdp": "v=0 bob"}))
        .await;
    let offer = alice.expect("offer").await;
    assert_eq!(
        (offer["from"].as_str(), offer["sdp"].as_str()),
        (Some(bob_id.as_str()), Some("v=0 bob"))
    );
    alice
        .send(json!({"type": "answer", "to": bob_id, "call": call, "sdp": "v=0 alice"}))
        .await;
    assert_eq!(bob.expect("answer").await["sdp"], "v=0 alice");

    // The room has one home; the other node counts what crossed.
    let homes = redis.keys("peercall:room:*").await;
    assert_eq!(homes.len(), 2, "team and other: {homes:?}");
    for (key, ttl) in &homes {
        // A dead home's lease lapses: a room nobody comes back to starts afresh.
        assert!((1..=15_000).contains(ttl), "{key} lapses: {ttl} ms left");
    }
    let sent = b
        .metric("peercall_cross_node_messages_total{direction=\"sent\"}")
        .await;
    assert!(sent.is_some_and(|count| count >= 4.0), "sent {sent:?}");

    // Leaving is seen across nodes.
    bob.close().await;
    assert_eq!(alice.expect("peer-left").await["id"], bob_id.as_str());
}

/// Two nodes of `redis`: alice in room `team` on a, its home, and bob reaching it through
/// b, in a call bob placed.
async fn across_two_nodes(redis: &Redis) -> (TestServer, TestServer, Person, Person) {
    let (a, b) = (node(&redis.url()).await, node(&redis.url()).await);
    let mut alice = person(&a, "alice").await;
    let mut bob = person(&b, "bob").await;
    meet(&mut alice, &bob).await;
    call(&mut bob, &mut alice).await;
    (a, b, alice, bob)
}

#[tokio::test]
async fn a_stopped_node_hands_its_rooms_over_and_everyone_keeps_their_id() {
    let redis = Redis::start(free_tcp_port());
    let (a, b, mut alice, mut bob) = across_two_nodes(&redis).await;
    recorded(&redis, 2).await;

    a.stop().await;
    alice.client.expect_closed().await;
    bob.client.expect_closed().await;
    // b takes the room over with everyone a recorded: bob is away until he is back.
    alice.resume(&b).await;
    assert!(alice.sees.contains(&bob.id), "alice still sees bob");
    bob.resume(&b).await;
    assert!(bob.sees.contains(&alice.id), "bob sees alice again");
    assert!(!alice.saw_someone_leave, "nobody left");
    // The call goes on: both claimed it.
    offer_arrives(&mut bob, &mut alice).await;
}

/// Waits until the home of room `team` has recorded its `count` members in Redis (beside
/// the room's own state).
async fn recorded(redis: &Redis, count: usize) {
    let started = std::time::Instant::now();
    while redis.fields("peercall:members:team").await != count + 1 {
        assert!(
            started.elapsed() < PATIENCE,
            "the room's members are recorded"
        );
        // The home records them once a second.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_record_redis_lost_is_written_again_and_the_room_outlives_its_home() {
    let redis = Redis::start(free_tcp_port());
    // Nobody is dropped for not answering pings meanwhile: nothing changes in the room.
    let quiet = |config: &mut peercall_server::Config| config.ping_interval_ms = 600_000;
    let a = node_with(&redis.url(), quiet).await;
    let mut alice = person(&a, "alice").await;
    let bob = person(&a, "bob").await;
    meet(&mut alice, &bob).await;
    recorded(&redis, 2).await;
    // Redis loses everything (flushed, or restarted without its data) while the node
    // stays connected to it, and nothing changes in the room: its home records it again
    // by itself.
    redis.flush().await;
    recorded(&redis, 2).await;
    // So a node that takes the room over knows everyone who was in it.
    let b = node(&redis.url()).await;
    a.stop().await;
    alice.client.expect_closed().await;
    alice.resume(&b).await;
    assert!(alice.sees.contains(&bob.id), "alice still sees bob");
}

#[tokio::test]
async fn someone_who_never_comes_back_from_a_dead_home_leaves_after_the_grace() {
    let redis = Redis::start(free_tcp_port());
    let short = |config: &mut peercall_server::Config| config.resume_grace_ms = 1_500;
    let (a, b) = (
        node_with(&redis.url(), short).await,
        node_with(&redis.url(), short).await,
    );
    let carol = person(&a, "carol").await;
    let carol_id = carol.id.clone();
    let mut alice = person(&b, "alice").await;
    recorded(&redis, 2).await;

    a.stop().await;
    drop(carol);
    alice.client.expect_closed().await;
    alice.resume(&b).await;
    assert!(alice.sees.contains(&carol_id), "carol is away, not gone");
    // carol never comes back: once the grace is over, she has left.
    let left = alice.client.expect("peer-left").await;
    assert_eq!(left["id"], carol_id.as_str());
}

#[tokio::test]
async fn users_of_a_stopped_edge_node_resume_at_the_home_and_nobody_sees_them_leave() {
    let redis = Redis::start(free_tcp_port());
    let (a, b) = (node(&redis.url()).await, node(&redis.url()).await);
    let mut alice = person(&a, "alice").await;
    let mut bob = person(&b, "bob").await;
    meet(&mut alice, &bob).await;
    call(&mut alice, &mut bob).await;

    b.stop().await;
    bob.client.expect_closed().await;
    bob.resume(&a).await;
    assert!(bob.sees.contains(&alice.id));
    // The first thing alice hears after that is bob's offer, not that he left.
    offer_arrives(&mut bob, &mut alice).await;
}

#[tokio::test]
async fn redis_restarting_mid_call_drops_no_call_and_presence_comes_back() {
    let port = free_tcp_port();
    let redis = Redis::start(port);
    let url = redis.url();
    let (a, b) = (node(&url).await, node(&url).await);
    let mut alice = person(&a, "alice").await;
    let mut bob = person(&b, "bob").await;
    meet(&mut alice, &bob).await;
    call(&mut alice, &mut bob).await;

    // Without Redis the tunnel is gone: bob comes back on b, which serves him alone.
    drop(redis);
    bob.client.expect_closed().await;
    until_health(&b, "degraded: Redis is away\n").await;
    bob.resume(&b).await;

    // Redis is back: one node keeps the room, the other hands its users over, and
    // they resume there.
    let _redis = Redis::start(port);
    let started = std::time::Instant::now();
    while !(alice.sees.contains(&bob.id) && bob.sees.contains(&alice.id)) {
        assert!(started.elapsed() < 3 * PATIENCE, "presence comes back");
        tokio::select! {
            open = alice.read() => if !open { alice.resume(&a).await },
            open = bob.read() => if !open { bob.resume(&a).await },
        }
    }
    assert!(
        !alice.saw_someone_leave && !bob.saw_someone_leave,
        "nobody left"
    );
    offer_arrives(&mut bob, &mut alice).await;
    offer_arrives(&mut alice, &mut bob).await;
}

/// Waits until every node's key in Redis has been renewed `times` times by its heartbeat.
async fn heartbeats(redis: &Redis, times: usize) {
    let started = std::time::Instant::now();
    let mut last: Vec<(String, i64)> = redis.keys("peercall:node:*").await;
    let mut renewed = vec![0; last.len()];
    while renewed.iter().any(|count| *count < times) {
        assert!(started.elapsed() < PATIENCE, "heartbeats: {renewed:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let now = redis.keys("peercall:node:*").await;
        for (at, (key, ttl)) in last.iter_mut().enumerate() {
            if let Some((_, fresh)) = now.iter().find(|(k, _)| k == key) {
                if fresh > ttl {
                    renewed[at] += 1;
                }
                *ttl = *fresh;
            }
        }
    }
}

#[tokio::test]
async fn a_lost_subscription_is_made_again_once_and_tunnels_through_it_stay_open() {
    let redis = Redis::start(free_tcp_port());
    let (_a, b, mut alice, mut bob) = across_two_nodes(&redis).await;

    // Redis drops both nodes' subscriptions (as it does to a subscriber too far behind):
    // the tunnel goes with them, and bob comes back through b once both listen again.
    assert_eq!(redis.kill_subscribers().await, 2);
    bob.client.expect_closed().await;
    let started = std::time::Instant::now();
    while redis.channels("peercall:bus:*").await < 2 {
        assert!(started.elapsed() < PATIENCE, "both nodes listen again");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    bob.resume(&b).await;
    // The subscriptions stay: a few heartbeats later the tunnel still carries the call.
    heartbeats(&redis, 3).await;
    assert_eq!(redis.channels("peercall:bus:*").await, 2);
    offer_arrives(&mut bob, &mut alice).await;
    offer_arrives(&mut alice, &mut bob).await;
}

#[tokio::test]
async fn logins_again_through_a_tunnel_count_against_the_address_as_on_one_node() {
    let redis = Redis::start(free_tcp_port());
    let a = node(&redis.url()).await;
    let b = node_with(&redis.url(), |config| config.logins_per_address = 3).await;
    // Alice's room lives on a; from b, one socket tries her name over and over (as a
    // client probing for names would): each try goes through to a, and counts.
    let _alice = person(&a, "alice").await;
    let mut prober = b.client().await;
    for _ in 0..3 {
        prober
            .send(json!({"type": "login", "name": "alice", "room": "team"}))
            .await;
        prober.expect_error("name-taken").await;
    }
    prober
        .send(json!({"type": "login", "name": "alice", "room": "team"}))
        .await;
    let refused = prober.expect_error("rate-limited").await;
    assert!(
        refused["message"].as_str().unwrap().contains("address"),
        "{refused}"
    );
    assert_eq!(u16::from(prober.expect_close().await.code), 1013);
}

#[tokio::test]
async fn one_client_cannot_fill_what_every_tunnel_of_its_node_shares() {
    let redis = Redis::start(free_tcp_port());
    // Rates high enough at b, the node mallory's socket reaches, that only what waits to
    // cross can hold the flood back. The home keeps its own: it does not count a
    // visitor's frames again when they cross at once after Redis's pause.
    let a = node(&redis.url()).await;
    let b = node_with(&redis.url(), |config| config.rate_limit_factor = 20.0).await;
    // The room lives on a; alice and mallory reach it through b.
    let mut bob = person(&a, "bob").await;
    let mut alice = person(&b, "alice").await;
    let mut mallory = person(&b, "mallory").await;
    meet(&mut bob, &alice).await;
    meet(&mut bob, &mallory).await;
    meet(&mut alice, &mallory).await;
    call(&mut alice, &mut bob).await;

    // Redis is slow for a moment, and mallory sends 36 MB meanwhile (more than b keeps
    // waiting for Redis for all its sockets), offers into no call of his, which the home
    // refuses without counting them against him...
    redis.pause(1_000).await;
    let sdp = "v".repeat(60_000);
    for _ in 0..600 {
        let offer = json!({"type": "offer", "to": bob.id, "call": "none", "sdp": sdp});
        mallory.client.send(offer).await;
    }
    // ... and 700 small ones: more refusals than a socket may earn before it is closed
    // as abusive, but waiting for a slow Redis is no abuse.
    for _ in 0..700 {
        let offer = json!({"type": "offer", "to": bob.id, "call": "none", "sdp": "v"});
        mallory.client.send(offer).await;
    }
    // Past mallory's own share, b refuses the rest to mallory...
    let refused = mallory.client.expect_error("rate-limited").await;
    assert!(
        refused["message"].as_str().unwrap().contains("on its way"),
        "{refused}"
    );
    // It names the offers' recipient, as every refused signal does.
    assert_eq!(refused["to"], bob.id.as_str(), "{refused}");
    // ... and alice's offer still crosses, once Redis answers again.
    offer_arrives(&mut alice, &mut bob).await;
    offer_arrives(&mut bob, &mut alice).await;
    // Mallory's session goes on: a ping crosses whatever waits, and is answered.
    mallory.client.send(json!({"type": "ping"})).await;
    while mallory.client.recv().await["type"] != "pong" {}
}

#[tokio::test]
async fn a_visitor_s_signals_are_counted_once_at_the_node_its_socket_reaches() {
    let redis = Redis::start(free_tcp_port());
    // The room's home keeps the default rates (500 call signals at once); b, which bob's
    // socket reaches, allows twice as many.
    let a = node(&redis.url()).await;
    let b = node_with(&redis.url(), |config| config.rate_limit_factor = 2.0).await;
    let mut alice = person(&a, "alice").await;
    let mut bob = person(&b, "bob").await;
    meet(&mut alice, &bob).await;
    call(&mut alice, &mut bob).await;
    let (call, _) = bob.call.clone().expect("in a call");
    // 800 candidates in a burst: within b's rates, over what the home would allow one
    // of its own sockets.
    for i in 0..800 {
        let candidate =
            json!({"candidate": format!("candidate:{i} 1 udp 1 127.0.0.1 {i} typ host")});
        let signal =
            json!({"type": "candidate", "to": alice.id, "call": call, "candidate": candidate});
        bob.client.send(signal).await;
    }
    bob.client.send(json!({"type": "ping"})).await;
    // Every one of them reaches alice, in order...
    for i in 0..800 {
        let candidate = alice.client.expect("candidate").await;
        assert_eq!(candidate["from"], bob.id.as_str());
        assert!(
            candidate["candidate"]["candidate"]
                .as_str()
                .is_some_and(|text| text.starts_with(&format!("candidate:{i} "))),
            "{candidate}"
        );
    }
    // ... and bob hears no refusal before the answer to his ping.
    bob.client.expect("pong").await;
}

#[tokio::test]
async fn a_user_who_left_cannot_come_back_with_their_token_through_another_node() {
    let redis = Redis::start(free_tcp_port());
    let (a, b) = (node(&redis.url()).await, node(&redis.url()).await);
    let alice = person(&a, "alice").await;
    let (id, token) = (alice.id.clone(), alice.token.clone());
    alice.client.close().await;
    // The node that saw her leave is gone too: only Redis remembers.
    a.stop().await;
    let mut client = b.client().await;
    let (welcome, _) = client
        .join_with(json!({"type": "login", "name": "alice", "room": "team", "resume": token}))
        .await;
    assert_ne!(
        welcome["id"],
        id.as_str(),
        "a fresh id, not the one that left"
    );
}

#[tokio::test]
async fn presence_is_the_same_on_every_node_after_two_hundred_logins() {
    let redis = Redis::start(free_tcp_port());
    // All 200 sockets come from this machine: the per-address limits (sockets and logins)
    // are raised by their flags, and so is the capacity of a named room.
    let raised = |config: &mut peercall_server::Config| {
        config.max_connections_per_address = 1_000;
        config.logins_per_address = 1_000;
        config.room_capacity = 200;
    };
    let nodes = [
        node_with(&redis.url(), raised).await,
        node_with(&redis.url(), raised).await,
        node_with(&redis.url(), raised).await,
    ];
    let mut people = Vec::new();
    for i in 0..200 {
        let (client, id, peers) = nodes[i % 3].join(&format!("user{i}"), "crowd").await;
        people.push((client, id, peers));
    }
    let everyone: HashSet<String> = people.iter().map(|(_, id, _)| id.clone()).collect();
    assert_eq!(everyone.len(), 200, "every id is unique");
    for (client, id, peers) in &mut people {
        let mut sees: HashSet<String> = peers
            .iter()
            .map(|peer| peer["id"].as_str().unwrap().to_owned())
            .collect();
        while sees.len() < 199 {
            let joined = client.expect("peer-joined").await;
            sees.insert(joined["id"].as_str().unwrap().to_owned());
        }
        sees.insert(id.clone());
        assert_eq!(sees, everyone, "{id} sees everyone else, once");
    }
}

#[tokio::test]
async fn a_room_call_outlives_the_node_that_held_it() {
    let redis = Redis::start(free_tcp_port());
    let (a, b) = (node(&redis.url()).await, node(&redis.url()).await);
    let mut alice = person(&a, "alice").await;
    let mut bob = person(&b, "bob").await;
    meet(&mut alice, &bob).await;
    alice.client.send(json!({"type": "join-call"})).await;
    let call = alice.client.expect("call-joined").await["call"].clone();
    bob.client.send(json!({"type": "join-call"})).await;
    assert_eq!(bob.client.expect("call-joined").await["call"], call);
    assert_eq!(
        alice.client.expect("participant-joined").await["id"],
        bob.id.as_str()
    );
    // The home records who is in the room's call.
    let started = std::time::Instant::now();
    while !redis
        .field("peercall:members:team", &bob.id)
        .await
        .is_some_and(|record| record.contains("room_call"))
    {
        assert!(started.elapsed() < PATIENCE, "the room call is recorded");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    a.stop().await;
    alice.client.expect_closed().await;
    bob.client.expect_closed().await;
    alice.resume(&b).await;
    bob.resume(&b).await;
    // Both are in the same room call still: the mesh's signals pass.
    bob.client
        .send(json!({"type": "offer", "to": alice.id, "call": call, "sdp": "v=0 mesh"}))
        .await;
    let offer = alice.client.expect("offer").await;
    assert_eq!((&offer["from"], &offer["call"]), (&json!(bob.id), &call));
}

#[tokio::test]
async fn a_room_keeps_its_password_when_its_home_dies() {
    let redis = Redis::start(free_tcp_port());
    let (a, b) = (node(&redis.url()).await, node(&redis.url()).await);
    let mut carol = a.client().await;
    carol
        .join_with(
            json!({"type": "login", "name": "carol", "room": "team", "password": "open sesame"}),
        )
        .await;
    let mut alice = b.client().await;
    let (welcome, _) = alice
        .join_with(
            json!({"type": "login", "name": "alice", "room": "team", "password": "open sesame"}),
        )
        .await;
    let token = welcome["resume"].as_str().unwrap().to_owned();
    recorded(&redis, 2).await;

    a.stop().await;
    alice.expect_closed().await;
    let mut alice = b.client().await;
    alice
        .join_with(json!({"type": "login", "name": "alice", "room": "team", "resume": token}))
        .await;
    // The node that took the room over knows its password.
    let mut eve = b.client().await;
    eve.send(json!({"type": "login", "name": "eve", "room": "team", "password": "guess"}))
        .await;
    eve.expect_refusal("room-password", 4402).await;
}

#[tokio::test]
async fn a_ring_waiting_for_someone_away_outlives_the_node_that_kept_it() {
    let redis = Redis::start(free_tcp_port());
    let (a, b) = (node(&redis.url()).await, node(&redis.url()).await);
    let mut alice = person(&a, "alice").await;
    let mut bob = person(&b, "bob").await;
    meet(&mut alice, &bob).await;
    // bob's socket drops without a word: he is away, and alice's ring waits for him.
    let dropped = std::mem::replace(&mut bob.client, b.client().await);
    drop(dropped);
    // Until the home has noticed, rings go to the dead socket: each has a call id of its
    // own (a newer ring replaces an older), and the last one rung is kept for bob.
    let started = std::time::Instant::now();
    let mut attempt = 0;
    let kept = |record: &str, call: &str| record.contains(&format!("{call}\\\""));
    let call = loop {
        attempt += 1;
        let call = format!("waiting-{attempt}");
        alice
            .client
            .send(json!({"type": "ring", "to": bob.id, "call": call}))
            .await;
        let record = redis.field("peercall:members:team", &bob.id).await;
        if record.is_some_and(|record| record.contains("waiting-")) {
            break call;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "a ring waiting for bob is recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    while !redis
        .field("peercall:members:team", &bob.id)
        .await
        .is_some_and(|record| kept(&record, &call))
    {
        assert!(
            started.elapsed() < PATIENCE,
            "the last ring waiting for bob is recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    a.stop().await;
    alice.client.expect_closed().await;
    bob.resume(&b).await;
    // What waited for him arrives, the recorded ring among it, and the call it opened
    // is known: his accept reaches alice.
    loop {
        let ring = bob.client.expect("ring").await;
        assert_eq!(ring["from"], alice.id.as_str());
        if ring["call"] == call.as_str() {
            break;
        }
    }
    alice.resume(&b).await;
    bob.client
        .send(json!({"type": "accept", "to": alice.id, "call": call}))
        .await;
    let accept = alice.client.expect("accept").await;
    assert_eq!(
        (&accept["from"], &accept["call"]),
        (&json!(bob.id), &json!(call))
    );
}

#[tokio::test]
async fn a_signal_handled_before_the_socket_died_is_not_delivered_again_by_the_node_that_takes_over()
 {
    let redis = Redis::start(free_tcp_port());
    let (a, b) = (node(&redis.url()).await, node(&redis.url()).await);
    let mut alice = person(&a, "alice").await;
    // Bob acknowledges what he handles: what he has not acknowledged is kept for him.
    let mut bob_client = b.client().await;
    let (welcome, _) = bob_client
        .join_with(json!({"type": "login", "name": "bob", "room": "team", "ack": 0}))
        .await;
    let bob_id = welcome["id"].as_str().unwrap().to_owned();
    let token = welcome["resume"].as_str().unwrap().to_owned();
    while !alice.sees.contains(&bob_id) {
        assert!(alice.read().await, "alice's socket stays open");
    }
    alice
        .client
        .send(json!({"type": "ring", "to": bob_id, "call": "handled"}))
        .await;
    let ring = bob_client.expect("ring").await;
    assert_eq!(ring["call"], "handled");
    let seq = ring["seq"].as_u64().expect("a numbered signal");
    // His socket dies before his acknowledgement goes out: the ring stays kept, and the
    // room's home records it as waiting for him.
    drop(bob_client);
    let started = std::time::Instant::now();
    while !redis
        .field("peercall:members:team", &bob_id)
        .await
        .is_some_and(|record| record.contains("handled"))
    {
        assert!(
            started.elapsed() < PATIENCE,
            "the ring waiting for bob is recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    a.stop().await;
    alice.client.expect_closed().await;
    // Bob comes back through the node that took the room over, saying he handled it.
    let mut bob_client = b.client().await;
    let (welcome, _) = bob_client
        .join_with(json!({
            "type": "login", "name": "bob", "room": "team", "resume": token, "ack": seq,
        }))
        .await;
    assert_eq!(welcome["id"], bob_id.as_str());
    alice.resume(&b).await;
    alice
        .client
        .send(json!({"type": "ring", "to": bob_id, "call": "after"}))
        .await;
    // The next ring he gets is the new one: the one he handled is not delivered again.
    let ring = bob_client.expect("ring").await;
    assert_eq!(ring["call"], "after");
    assert!(ring["seq"].as_u64() > Some(seq), "numbers go on: {ring}");
}
