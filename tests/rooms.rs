//! Rooms through the real client and server: who sees whom, calls inside a room, and
//! refusals that are final and say why.

#![cfg(target_arch = "wasm32")]

mod common;

use common::{Side, field, options, unique};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// A room name no other test uses.
fn room() -> String {
    unique("room")
}

/// Someone named after `prefix` online in `room`, with `extra` options.
async fn in_room(prefix: &str, room: &str, extra: &[(&str, JsValue)]) -> Side {
    let mut options = vec![("room", JsValue::from(room))];
    options.extend(extra.iter().cloned());
    Side::online_with(prefix, &options).await
}

/// What `connect()` rejects with, for someone named after `prefix` with `extra` options.
async fn refused(prefix: &str, extra: &[(&str, JsValue)]) -> (Side, String) {
    let name = unique(prefix);
    let side = Side::new(&name, options(&name, extra));
    let error = JsFuture::from(side.call.connect())
        .await
        .expect_err("the login is refused");
    (side, field(&error, "code"))
}

fn names(peers: &JsValue) -> Vec<String> {
    js_sys::Array::from(peers)
        .iter()
        .map(|peer| field(&peer, "name"))
        .collect()
}

#[wasm_bindgen_test]
async fn two_people_in_a_room_call_and_another_room_never_sees_them() {
    let (ours, theirs) = (room(), room());
    let mut alice = in_room("alice", &ours, &[]).await;
    let joined = alice.next("room").await;
    assert_eq!(field(&joined, "room"), ours);
    assert!(
        js_sys::Reflect::get(&joined, &"moderator".into())
            .unwrap()
            .is_truthy()
    );
    let mut carol = in_room("carol", &theirs, &[]).await;
    let mut bob = in_room("bob", &ours, &[]).await;
    let joined = bob.next("room").await;
    assert!(
        !js_sys::Reflect::get(&joined, &"moderator".into())
            .unwrap()
            .is_truthy()
    );
    alice.sees(&bob).await;
    alice.ring(&mut bob).await;
    bob.call.accept();
    alice.reach("connected").await;
    bob.reach("connected").await;
    bob.media_flows_past(0.0, 0.0).await;
    // carol was online all along, in her own room: she never heard of either.
    carol.call.close();
    carol.reach("offline").await;
    for (event, peers) in carol.seen.borrow().iter() {
        if event == "peers" {
            let listed = names(peers);
            assert!(
                !listed.contains(&alice.name) && !listed.contains(&bob.name),
                "{listed:?}"
            );
        }
    }
    alice.call.hangup();
    assert_eq!(bob.ended().await, "remote-hangup");
}

#[wasm_bindgen_test]
async fn a_wrong_room_password_is_refused_for_good() {
    let ours = room();
    let mut alice = in_room("alice", &ours, &[("password", "open sesame".into())]).await;
    let (mallory, code) = refused(
        "mallory",
        &[("room", ours.as_str().into()), ("password", "guess".into())],
    )
    .await;
    assert_eq!(code, "room-password");
    assert_eq!(mallory.call.state(), "offline", "{:?}", mallory.history());
    // The right password gets in, and the refused one never showed up.
    let bob = in_room("bob", &ours, &[("password", "open sesame".into())]).await;
    alice.sees(&bob).await;
    let seen = alice.seen.borrow();
    let everyone: Vec<String> = seen
        .iter()
        .filter(|(event, _)| event == "peers")
        .flat_map(|(_, peers)| names(peers))
        .collect();
    assert!(!everyone.contains(&mallory.name), "{everyone:?}");
    assert_eq!(mallory.call.state(), "offline", "no retrying");
}

#[wasm_bindgen_test]
async fn a_moderator_locks_the_room_and_removes_someone() {
    let ours = room();
    let mut alice = in_room("alice", &ours, &[]).await;
    alice.next("room").await;
    let mut bob = in_room("bob", &ours, &[]).await;
    bob.next("room").await;
    alice.sees(&bob).await;

    // bob may not lock; alice may.
    bob.call.lock_room();
    assert_eq!(field(&bob.next("error").await, "code"), "not-moderator");
    alice.call.lock_room();
    let locked = bob.next("room").await;
    assert!(
        js_sys::Reflect::get(&locked, &"locked".into())
            .unwrap()
            .is_truthy()
    );
    alice.next("room").await;
    let (_carol, code) = refused("carol", &[("room", ours.as_str().into())]).await;
    assert_eq!(code, "room-locked");

    alice.call.remove_peer(bob.id.clone());
    let error = bob.next("error").await;
    assert_eq!(field(&error, "code"), "removed");
    assert!(!field(&error, "message").is_empty());
    bob.reach("offline").await;
    // alice sees bob leave.
    loop {
        let peers = alice.next("peers").await;
        if !names(&peers).contains(&bob.name) {
            break;
        }
    }
    // bob does not come back by himself: alice unlocks, and a newcomer is the next she sees.
    alice.call.unlock_room();
    alice.next("room").await;
    let dave = in_room("dave", &ours, &[]).await;
    let peers = alice.next("peers").await;
    assert_eq!(names(&peers), vec![dave.name.clone()]);
    assert_eq!(bob.call.state(), "offline");
}

#[wasm_bindgen_test]
async fn a_bad_room_name_is_refused_by_the_server() {
    let (side, code) = refused("alice", &[("room", "../../etc".into())]).await;
    assert_eq!(code, "bad-room");
    assert_eq!(side.call.state(), "offline");
}

#[wasm_bindgen_test]
async fn a_ring_refused_for_going_too_fast_ends_the_call_at_once() {
    use futures::future::{Either, select};
    let ours = room();
    let mut alice = in_room("alice", &ours, &[]).await;
    let mut bob = in_room("bob", &ours, &[]).await;
    alice.sees(&bob).await;
    // Locking the room and ringing share one rate, 100 at once (docs/PROTOCOL.md,
    // "How peercall-server applies it"): 97 locks leave a few rings, then one is refused.
    for _ in 0..97 {
        alice.call.lock_room();
    }
    let mut rings = 0;
    let refusal = loop {
        if let Err(error) = JsFuture::from(alice.call.call(bob.id.clone())).await {
            panic!("the call is not placed: {error:?}");
        }
        let rang = Box::pin(bob.next("incoming"));
        let refused = Box::pin(alice.next("error"));
        if let Either::Right((refusal, _)) = select(rang, refused).await {
            break refusal;
        }
        alice.call.hangup();
        assert_eq!(bob.ended().await, "remote-hangup");
        assert_eq!(alice.ended().await, "hangup");
        rings += 1;
        assert!(rings < 40, "never refused");
    };
    assert_eq!(field(&refusal, "code"), "refused");
    assert!(
        field(&refusal, "message").contains("too many"),
        "{refusal:?}"
    );
    // The ring never reached bob: alice's call ends now, not when nobody answers.
    assert_eq!(alice.ended().await, "failed");
    assert_eq!(alice.call.state(), "idle");
}
