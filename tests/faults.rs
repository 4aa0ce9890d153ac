//! Calls that survive real faults, injected for real: a killed and restarted server, one
//! user's socket cut, a server gone silent. The server runs behind `fault-proxy`.

#![cfg(target_arch = "wasm32")]

mod common;

use common::{Side, decodes_from_all, join, raw, small_media, unique};
use gloo_timers::future::TimeoutFuture;
use wasm_bindgen::{JsValue, prelude::wasm_bindgen};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const FAULTY_WS: &str = match option_env!("PEERCALL_FAULTS_WS") {
    Some(url) => url,
    None => "ws://127.0.0.1:8094/ws",
};
const CONTROL: &str = match option_env!("PEERCALL_FAULTS_CONTROL") {
    Some(url) => url,
    None => "http://127.0.0.1:8095",
};

const TURN: &str = match option_env!("PEERCALL_FAULTS_TURN") {
    Some(url) => url,
    None => "turn:127.0.0.1:3479",
};

#[wasm_bindgen]
extern "C" {
    fn fetch(url: &str) -> js_sys::Promise;
}

/// Gives the fault proxy an order and waits until it is carried out.
async fn fault(order: &str) {
    let response = JsFuture::from(fetch(&format!("{CONTROL}/{order}")))
        .await
        .expect("the fault proxy answers");
    let ok = js_sys::Reflect::get(&response, &"ok".into()).unwrap();
    assert_eq!(ok, true, "fault {order} carried out");
}

/// A user on the faulty server, its socket tagged with its name, pinging every 500 ms.
async fn online(prefix: &str) -> Side {
    online_with(prefix, &[]).await
}

/// The same, with more options.
async fn online_with(prefix: &str, more: &[(&str, JsValue)]) -> Side {
    let name = unique(prefix);
    let url = format!("{FAULTY_WS}?tag={name}");
    let mut extra = vec![
        ("url", JsValue::from(url)),
        ("heartbeatMs", JsValue::from(500)),
    ];
    extra.extend(more.iter().cloned());
    let mut side = Side::new(&name, common::options(&name, &extra));
    side.id = JsFuture::from(side.call.connect())
        .await
        .expect("connects")
        .as_string()
        .expect("an id");
    side
}

async fn connected_pair() -> (Side, Side) {
    let mut alice = online("alice").await;
    let mut bob = online("bob").await;
    alice.sees(&bob).await;
    alice.ring(&mut bob).await;
    bob.call.accept();
    alice.reach("connected").await;
    bob.reach("connected").await;
    (alice, bob)
}

/// Options that send all media through the fault proxy's TURN relay, so that killing the
/// relay breaks every path.
fn relay_only() -> [(&'static str, JsValue); 2] {
    let relay =
        format!(r#"[{{"urls":"{TURN}?transport=udp","username":"peer","credential":"call"}}]"#);
    [
        ("iceServers", js_sys::JSON::parse(&relay).unwrap()),
        ("iceTransportPolicy", JsValue::from("relay")),
    ]
}

/// Options for someone in `room`, with small media and `extra`.
fn in_room(room: &str, extra: &[(&'static str, JsValue)]) -> Vec<(&'static str, JsValue)> {
    let mut options = vec![("room", JsValue::from(room)), ("media", small_media())];
    options.extend(extra.iter().cloned());
    options
}

/// Ann and Ben in the room call of `room` on the faulty server, with `extra` options,
/// each decoding the other.
async fn meshed(room: &str, extra: &[(&'static str, JsValue)]) -> (Side, Side) {
    let ann = online_with("ann", &in_room(room, extra)).await;
    let ben = online_with("ben", &in_room(room, extra)).await;
    join(&ann).await;
    join(&ben).await;
    decodes_from_all(&ben, &[&ann]).await;
    decodes_from_all(&ann, &[&ben]).await;
    (ann, ben)
}

#[wasm_bindgen_test]
async fn a_call_outlives_a_server_restart() {
    let (mut alice, mut bob) = connected_pair().await;
    let (alice_id, bob_id) = (alice.id.clone(), bob.id.clone());
    let frames = (alice.received().await, bob.received().await);

    fault("kill").await;
    alice.reach("offline").await;
    bob.reach("offline").await;
    // Five seconds without a server: the media goes on.
    TimeoutFuture::new(5_000).await;
    assert_eq!(
        (alice.call.state(), bob.call.state()),
        ("offline".into(), "offline".into())
    );
    alice.media_flows_past(frames.0.0, frames.0.1).await;
    bob.media_flows_past(frames.1.0, frames.1.1).await;

    fault("start").await;
    let back = js_sys::Date::now();
    alice.reach("connected").await;
    bob.reach("connected").await;
    let took = js_sys::Date::now() - back;
    wasm_bindgen_test::console_log!("server restart to both calls connected again: {took} ms");
    // Firefox also holds back a WebSocket to a host whose connections failed a moment
    // ago (the WebSocket standard's delay after failed connections), on top of the
    // client's own backoff: seen up to 5.2 s there.
    let allowed = match common::Engine::here() {
        common::Engine::Chromium => 5_000.0,
        common::Engine::Firefox => 7_000.0,
    };
    assert!(took < allowed, "back within {allowed} ms");
    assert_eq!(alice.call.id().as_deref(), Some(alice_id.as_str()));
    assert_eq!(bob.call.id().as_deref(), Some(bob_id.as_str()));

    // The call can still be hung up, and a new one placed.
    bob.call.hangup();
    assert_eq!(bob.ended().await, "hangup");
    assert_eq!(alice.ended().await, "remote-hangup");
    alice.sees(&bob).await;
    alice.ring(&mut bob).await;
    bob.call.accept();
    alice.reach("connected").await;
    alice.call.hangup();
    bob.ended().await;
}

#[wasm_bindgen_test]
async fn one_cut_socket_comes_back_with_its_id_and_nobody_sees_it_leave() {
    let (mut alice, mut bob) = connected_pair().await;
    let mut carol = online("carol").await;
    carol.sees(&bob).await;
    let seen_before = carol.seen.borrow().len();

    fault(&format!("drop?tag={}", bob.name)).await;
    bob.reach("offline").await;
    // While the socket is down the page still knows bob by his id (what the others
    // know him by, and what his resume keeps).
    assert_eq!(bob.call.id().as_deref(), Some(bob.id.as_str()));
    bob.reach("connected").await;
    assert_eq!(
        bob.call.id().as_deref(),
        Some(bob.id.as_str()),
        "bob's states and errors: {:?}",
        bob.history()
    );
    assert_eq!(alice.call.state(), "connected");
    // Carol's list of who is online never lost bob.
    for (event, peers) in carol.seen.borrow().iter().skip(seen_before) {
        if event == "peers" {
            let listed = js_sys::Array::from(peers)
                .iter()
                .any(|p| common::field(&p, "id") == bob.id);
            assert!(listed, "carol saw bob leave");
        }
    }
    alice.call.hangup();
    assert_eq!(bob.ended().await, "remote-hangup");
    assert_eq!(alice.ended().await, "hangup");
}

#[wasm_bindgen_test]
async fn signals_lost_to_a_silent_cut_are_delivered_after_the_resume_and_the_call_connects() {
    let mut alice = online("alice").await;
    let mut bob = online("bob").await;
    alice.sees(&bob).await;
    let freeze_bob = format!("freeze?tag={}", bob.name);

    // Bob's socket goes silent: what the server writes to it goes nowhere, and neither
    // end knows yet. Alice's ring is written into it all the same.
    fault(&freeze_bob).await;
    JsFuture::from(alice.call.call(bob.id.clone()))
        .await
        .expect("the call is placed");
    // Bob's heartbeat notices, he resumes, and the server sends the ring again.
    bob.reach("offline").await;
    let incoming = bob.next("incoming").await;
    assert_eq!(common::field(&incoming, "from"), alice.id);

    // Silent again, the other way: bob's accept goes into the dead socket. He sends it
    // again once he is back, the offer follows, and the call connects.
    fault(&freeze_bob).await;
    bob.call.accept();
    alice.reach("connected").await;
    bob.reach("connected").await;
    alice.media_flows_past(0.0, 0.0).await;
    assert_eq!(bob.call.id().as_deref(), Some(bob.id.as_str()));
    // The call was never ended on either side on the way.
    for side in [&alice, &bob] {
        let ended = side.seen.borrow().iter().any(|(event, _)| event == "ended");
        assert!(!ended, "{:?}", side.history());
    }
    alice.call.hangup();
    assert_eq!(bob.ended().await, "remote-hangup");
}

#[wasm_bindgen_test]
async fn a_ringing_call_rings_on_through_a_silent_cut_on_either_side_and_connects() {
    let mut alice = online("alice").await;
    let mut bob = online("bob").await;
    alice.sees(&bob).await;
    alice.ring(&mut bob).await;

    // The caller's socket goes silent while it rings: she notices, resumes, and her call
    // still rings.
    fault(&format!("freeze?tag={}", alice.name)).await;
    alice.reach("offline").await;
    alice.reach("calling").await;
    // Then the callee's: he is still rung once he is back, and can answer.
    fault(&format!("freeze?tag={}", bob.name)).await;
    bob.reach("offline").await;
    bob.reach("ringing").await;
    bob.call.accept();
    alice.reach("connected").await;
    bob.reach("connected").await;
    alice.media_flows_past(0.0, 0.0).await;
    for side in [&alice, &bob] {
        let ended = side.seen.borrow().iter().any(|(event, _)| event == "ended");
        assert!(!ended, "{:?}", side.history());
    }
    bob.call.hangup();
    assert_eq!(alice.ended().await, "remote-hangup");
}

#[wasm_bindgen_test]
async fn a_ringing_call_ends_when_the_callee_left_while_the_caller_was_cut_off() {
    let mut alice = online("alice").await;
    // Bob: a bare client on the same server, which will leave without a word.
    let mut bob = gloo_net::websocket::futures::WebSocket::open(FAULTY_WS).unwrap();
    let login = format!(r#"{{"type":"login","name":"{}"}}"#, unique("bob"));
    raw::send(&mut bob, &raw::json(&login)).await;
    let bob_id = common::field(&raw::next_frame(&mut bob, "welcome").await, "id");
    alice.sees_id(&bob_id).await;
    JsFuture::from(alice.call.call(bob_id.clone()))
        .await
        .expect("the call is placed");
    raw::next_frame(&mut bob, "ring").await;

    // Alice's socket goes silent, and Bob closes his page meanwhile: the news that he left
    // goes into the dead socket. Back, Alice's list has no Bob, and her call ends.
    fault(&format!("freeze?tag={}", alice.name)).await;
    bob.close(Some(1000), Some("bye")).unwrap();
    alice.reach("offline").await;
    assert_eq!(alice.ended().await, "peer-left");
    alice.reach("idle").await;
}

#[wasm_bindgen_test]
async fn a_call_still_ringing_when_the_server_restarts_ends_as_failed_on_both_sides() {
    let mut alice = online("alice").await;
    let mut bob = online("bob").await;
    alice.sees(&bob).await;
    alice.ring(&mut bob).await;

    // The restarted server gives both their ids back, in sessions it starts afresh: it
    // never heard of the ring, and nobody could answer it.
    fault("kill").await;
    // Lists of who is online from here on are the restarted server's.
    let since = alice.seen.borrow().len();
    fault("start").await;
    assert_eq!(alice.ended().await, "failed");
    assert_eq!(bob.ended().await, "failed");
    alice.reach("idle").await;
    bob.reach("idle").await;
    assert_eq!(alice.call.id().as_deref(), Some(alice.id.as_str()));
    // A new call goes through, once Bob is back in Alice's list.
    let lists_bob = |peers: &JsValue| {
        js_sys::Array::from(peers)
            .iter()
            .any(|p| common::field(&p, "id") == bob.id)
    };
    alice.seen_where(since, "peers", lists_bob).await;
    alice.ring(&mut bob).await;
    bob.call.accept();
    alice.reach("connected").await;
    alice.call.hangup();
    bob.ended().await;
}

#[wasm_bindgen_test]
async fn a_silent_server_is_noticed_and_left_for_a_new_connection() {
    let mut alice = online("alice").await;
    let id = alice.id.clone();
    fault("freeze").await;
    let frozen = js_sys::Date::now();
    alice.reach("offline").await;
    // Two missed heartbeats of 500 ms, and one more for the timer's own slack.
    assert!(
        js_sys::Date::now() - frozen < 1_600.0,
        "noticed within the heartbeat bound"
    );
    alice.reach("idle").await;
    assert_eq!(alice.call.id().as_deref(), Some(id.as_str()));
}

#[wasm_bindgen_test]
async fn a_call_whose_network_path_breaks_restarts_ice_by_itself() {
    let mut alice = online_with("alice", &relay_only()).await;
    let mut bob = online_with("bob", &relay_only()).await;
    alice.sees(&bob).await;
    alice.ring(&mut bob).await;
    bob.call.accept();
    alice.reach("connected").await;
    bob.reach("connected").await;
    alice.media_flows_past(0.0, 0.0).await;

    fault("turn-kill").await;
    let broken = js_sys::Date::now();
    // The browser decides when a path is dead: Chromium after about 6 s, Firefox (its
    // ICE consent checks) after about 10 s.
    alice.reach_within("reconnecting", 20_000).await;
    wasm_bindgen_test::console_log!(
        "path broken: reconnecting after {} ms",
        js_sys::Date::now() - broken
    );
    fault("turn-start").await;
    let mended = js_sys::Date::now();
    alice.reach("connected").await;
    bob.reach("connected").await;
    wasm_bindgen_test::console_log!(
        "relay back: connected again after {} ms",
        js_sys::Date::now() - mended
    );
    let frames = alice.received().await;
    alice.media_flows_past(frames.0, frames.1).await;
    alice.call.hangup();
    bob.ended().await;
}

#[wasm_bindgen_test]
async fn a_room_call_member_whose_socket_goes_silent_keeps_its_media_and_meets_who_joined_meanwhile()
 {
    let room = unique("mesh");
    let (mut ann, mut ben) = meshed(&room, &[]).await;

    // Ben's socket goes silent. Cat joins meanwhile: the news that she came is written
    // into the dead socket.
    fault(&format!("freeze?tag={}", ben.name)).await;
    let cat = online_with("cat", &in_room(&room, &[])).await;
    let before = join(&cat).await;
    assert_eq!(before, [ann.id.clone(), ben.id.clone()]);
    ben.reach("offline").await;
    // Without signaling, the media between Ann and Ben goes on.
    let from_ann = ben.received_from(Some(&ann.id)).await;
    ben.media_from_past(Some(&ann.id), from_ann.0, from_ann.1)
        .await;

    // Ben resumes: the news of Cat is sent again, he offers to her, and they connect.
    ben.reach("connected").await;
    decodes_from_all(&ben, &[&cat]).await;
    decodes_from_all(&cat, &[&ben, &ann]).await;
    let from_ann = ben.received_from(Some(&ann.id)).await;
    ben.media_from_past(Some(&ann.id), from_ann.0, from_ann.1)
        .await;
    // Nobody saw anybody leave on the way.
    for side in [&ann, &ben, &cat] {
        let left = side
            .seen
            .borrow()
            .iter()
            .any(|(event, _)| event == "participant-left" || event == "ended");
        assert!(!left, "{}: {:?}", side.name, side.history());
    }
    for side in [&mut ann, &mut ben] {
        side.call.leave_call();
        side.ended().await;
    }
    cat.call.leave_call();
}

/// The ids and states of the `participants` list `side` was told last.
fn participants(side: &Side) -> Vec<(String, String)> {
    let seen = side.seen.borrow();
    let Some((_, list)) = seen.iter().rev().find(|(kind, _)| kind == "participants") else {
        return Vec::new();
    };
    js_sys::Array::from(list)
        .iter()
        .map(|p| (common::field(&p, "id"), common::field(&p, "state")))
        .collect()
}

/// How many `participant-stream` events from `id` `side` has seen.
fn streams_from(side: &Side, id: &str) -> usize {
    side.seen
        .borrow()
        .iter()
        .filter(|(kind, payload)| {
            kind == "participant-stream" && common::field(payload, "id") == id
        })
        .count()
}

#[wasm_bindgen_test]
async fn a_room_call_connection_that_fails_for_good_is_made_again_and_nobody_leaves() {
    let (mut ann, mut ben) = meshed(&unique("mend"), &relay_only()).await;
    let (ann_id, ben_id) = (ann.id.clone(), ben.id.clone());
    let streams = (streams_from(&ann, &ben_id), streams_from(&ben, &ann_id));

    fault("turn-kill").await;
    let broken = js_sys::Date::now();
    // The path is noticed dead (Chromium after about 6 s, Firefox after about 10 s), ICE
    // restarts for 15 s, and then the connection is made again: its offer and answer go
    // through signaling, so each side hears the other's media announced anew while the
    // relay is still down.
    for (side, other, before) in [
        (&mut ann, &ben_id, streams.0),
        (&mut ben, &ann_id, streams.1),
    ] {
        while streams_from(side, other) == before {
            side.next_within("participant-stream", 60_000).await;
        }
        assert_eq!(
            participants(side),
            [(other.clone(), "reconnecting".to_owned())],
            "{}: the participant stays, reconnecting",
            side.name
        );
    }
    wasm_bindgen_test::console_log!(
        "connection made again {} ms after the relay died",
        js_sys::Date::now() - broken
    );

    fault("turn-start").await;
    let mended = js_sys::Date::now();
    // A new connection whose relay was down while it started may need its own 30 s to
    // give up and be made once more.
    for (side, other) in [(&mut ann, &ben_id), (&mut ben, &ann_id)] {
        while participants(side) != [(other.clone(), "connected".to_owned())] {
            side.next_within("participants", 75_000).await;
        }
    }
    wasm_bindgen_test::console_log!(
        "connected again {} ms after the relay came back",
        js_sys::Date::now() - mended
    );
    decodes_from_all(&ben, &[&ann]).await;
    decodes_from_all(&ann, &[&ben]).await;
    for side in [&ann, &ben] {
        let seen = side.seen.borrow();
        // Nobody left, and no failure was reported: the connection was mended.
        let gone = seen
            .iter()
            .find(|(event, _)| ["participant-left", "ended", "error"].contains(&event.as_str()));
        assert!(gone.is_none(), "{}: {:?}", side.name, side.history());
    }
    for side in [&mut ann, &mut ben] {
        side.call.leave_call();
        side.ended().await;
    }
}

#[wasm_bindgen_test]
async fn a_join_lost_with_a_restarted_server_is_asked_again_and_settles() {
    let room = unique("rejoin");
    let mut ann = online_with("ann", &in_room(&room, &[])).await;
    // What ann sends from here on is held, and never reaches the server.
    fault(&format!("freeze?tag={}", ann.name)).await;
    let joined = JsFuture::from(ann.call.join_call());
    // Her devices are here: her join has gone out, into the held socket.
    ann.next("local-stream").await;
    // The restarted server gives her id back in a session it starts afresh, as if it had
    // had everything she sent: the join is asked again, and answered.
    fault("kill").await;
    fault("start").await;
    let before = joined.await.expect("the join settles, and is let in");
    assert_eq!(js_sys::Array::from(&before).length(), 0);
    ann.reach("connected").await;
    // Someone joining after her meets her in the call.
    let ben = online_with("ben", &in_room(&room, &[])).await;
    assert_eq!(join(&ben).await, vec![ann.id.clone()]);
    decodes_from_all(&ben, &[&ann]).await;
}

#[wasm_bindgen_test]
async fn a_room_call_is_joined_again_by_itself_after_the_server_restarts() {
    let room = unique("again");
    let (mut ann, mut ben) = meshed(&room, &[]).await;
    // The restarted server knows no room call: each member's client joins afresh, and
    // they connect again, the page told each one left and came back.
    fault("kill").await;
    fault("start").await;
    let (ann_id, ben_id) = (ann.id.clone(), ben.id.clone());
    for (side, other) in [(&mut ann, ben_id), (&mut ben, ann_id)] {
        let left = side.next("participant-left").await;
        assert_eq!(common::field(&left, "id"), other);
        let joined = side.next("participant-joined").await;
        assert_eq!(common::field(&joined, "id"), other);
    }
    decodes_from_all(&ann, &[&ben]).await;
    decodes_from_all(&ben, &[&ann]).await;
    assert_eq!(ann.call.state(), "connected");
    for side in [&mut ann, &mut ben] {
        side.call.leave_call();
        side.ended().await;
    }
}
